"""Take the README's screenshots: every page of a running app, light and dark.

    .venv/bin/python docs/take_screenshots.py [--url http://localhost:8501]

Without ``--url`` it starts the app on a temporary workspace (the sample, built with
``as_of_date`` 2024-03-01), waits for the first published build, and stops it after.
Needs Debian's Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.appserver import (  # noqa: E402 - after the path is set, for script runs
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    start_app,
    stop_app,
    wait_healthy,
)

OUT = ROOT / "docs" / "screenshots"
PAGES = ["", "data", "build", "lineage", "customers", "retention", "sql", "docs"]


def _start_app(port: int) -> tuple[subprocess.Popen[bytes], Path]:
    workspace = Path(tempfile.mkdtemp(prefix="screens-")) / "workspace"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mart",
            "--workspace",
            str(workspace),
            "build",
            "--var",
            "as_of_date=2024-03-01",
        ],
        cwd=ROOT,
        check=True,
    )
    server = start_app(workspace, port)
    if not wait_healthy(f"http://127.0.0.1:{port}", server, 60):
        stop_app(server)
        raise SystemExit("the app did not start")
    return server, workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url")
    parser.add_argument("--port", type=int, default=8765)
    options = parser.parse_args()
    server = None
    url = options.url
    if url is None:
        server, _ = _start_app(options.port)
        url = f"http://127.0.0.1:{options.port}"
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for theme in ("light", "dark"):
                context = browser.new_context(viewport=VIEWPORT, color_scheme=theme)
                page = context.new_page()
                for path in PAGES:
                    page.goto(f"{url}/{path}?embed_options={theme}_theme")
                    page.wait_for_selector("[data-testid='stSidebar']", timeout=60_000)
                    page.wait_for_timeout(4000)  # charts and the sidebar fragment settle
                    name = path or "overview"
                    page.screenshot(path=str(OUT / f"{name}-{theme}.png"), full_page=False)
                    print("saved", name, theme, flush=True)
                context.close()
            browser.close()
    finally:
        if server is not None:
            stop_app(server)


if __name__ == "__main__":
    main()

"""Time to rendered for the Lineage, Customers, Retention, SQL and Docs pages at 1M transactions.

Run: ``.venv/bin/python bench/bench_pages.py [--workspace DIR] [--transactions N] [--runs R]``.

It generates N transactions (default 1,000,000; customers N/4, events about 5 per
transaction) into a workspace, builds and publishes the mart (both skipped when the
workspace already has a published build), starts the app on it, and opens each page in
Chromium (Playwright). A page counts as rendered when its title is on screen, the charts of
the first screen are drawn (Streamlit mounts charts below the fold lazily) and the
status widget shows no running script, i.e. the server has run every query of the page. The
first visit of a page warms the per-build query cache; later visits are what a user
clicking around sees. Visits are sidebar clicks (in-app navigation, as a user moves
between pages); full reloads (a new browser session, plotly's bundle loaded again) are
timed too. Prints a table: first visit, median warm click, median full reload.
Target: ≤ 1.5 s per page. Timings only; no asserts (the test suite never times).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.appserver import (  # noqa: E402 - after the path is set, for script runs
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    free_port,
    start_app,
    stop_app,
    wait_healthy,
)

#: url path, page title, charts on the first screen (1400 x 1000) once rendered
PAGES: list[tuple[str, str, int]] = [
    ("lineage", "Lineage", 1),
    ("customers", "Customers", 2),
    ("retention", "Retention & behaviour", 1),
    ("sql", "SQL & analyses", 1),
    ("docs", "Docs", 0),
]


def prepare(root: Path, transactions: int) -> None:
    """Generate and build ``transactions`` into the workspace at ``root`` unless published."""
    from mart.builds import BuildManager
    from mart.generate import generate
    from mart.workspace import Workspace

    ws = Workspace(root)
    manager = BuildManager(ws, prewarm_after_build=False)
    try:
        if manager.published() is not None:
            print(f"workspace {root}: build #{manager.published().build_id} already published")
            return
        started = time.perf_counter()
        generate(ws, customers=max(1, transactions // 4), transactions=transactions, seed=42)
        print(f"generated {transactions:,} transactions in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        record = manager.request_build(vars={"as_of_date": "2025-01-01"})
        print(f"build #{record.build_id}: {record.status} in {time.perf_counter() - started:.1f} s")
        if record.status != "published":
            raise SystemExit(f"the build did not publish: {record.summary()}")
        # the docs site is generated after publishing; give it a moment for the docs page
        deadline = time.monotonic() + 120
        while not manager.get(record.build_id).docs_ready and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        manager.shutdown()


def _start_app(root: Path, port: int) -> subprocess.Popen[bytes]:
    """The app on ``root`` (no dbt worker warming in the background), once it answers."""
    app = start_app(root, port, env=dict(os.environ, MART_PREWARM="0"))
    if not wait_healthy(f"http://127.0.0.1:{port}", app, 60):
        stop_app(app)
        raise SystemExit("the app did not start within 60 s")
    return app


WAIT_RENDERED = """
([title, charts]) => {
    const h1 = [...document.querySelectorAll('h1')].some(h => h.textContent.includes(title));
    if (!h1) return false;
    if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
    if (document.querySelector('[data-testid="stSkeleton"]')) return false;
    // Streamlit mounts charts below the fold lazily: every mounted chart must be drawn,
    // and at least the ones on the first screen must be mounted.
    const mounted = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
    if (mounted.some(chart => !chart.querySelector('.main-svg'))) return false;
    return mounted.length >= charts;
}
"""


def _visit(page: object, port: int, url_path: str, title: str, charts: int, reload: bool) -> float:
    """Seconds from navigating to ``url_path`` until the page is rendered."""
    started = time.perf_counter()
    if reload:
        page.goto(f"http://127.0.0.1:{port}/{url_path}", wait_until="domcontentloaded")
    else:
        # in-app navigation (st.navigation): what a user clicking the sidebar gets
        page.locator(f'[data-testid="stSidebarNav"] a[href$="/{url_path}"]').click()
    page.wait_for_function(WAIT_RENDERED, arg=[title, charts], timeout=120_000)
    return time.perf_counter() - started


def measure(port: int, runs: int) -> list[tuple[str, float, float, float]]:
    """(page, first visit, median warm sidebar click, median full reload) in seconds."""
    from playwright.sync_api import sync_playwright

    first: dict[str, float] = {}
    clicks: dict[str, list[float]] = {url_path: [] for url_path, _, _ in PAGES}
    reloads: dict[str, list[float]] = {url_path: [] for url_path, _, _ in PAGES}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=60_000)
        page.wait_for_function(WAIT_RENDERED, arg=["", 0], timeout=120_000)
        for round_ in range(runs + 1):
            for url_path, title, charts in PAGES:
                seconds = _visit(page, port, url_path, title, charts, reload=False)
                if round_ == 0:
                    first[url_path] = seconds
                else:
                    clicks[url_path].append(seconds)
        for _ in range(runs):
            for url_path, title, charts in PAGES:
                page.goto("about:blank")
                reloads[url_path].append(_visit(page, port, url_path, title, charts, True))
        browser.close()
    return [
        (
            url_path,
            first[url_path],
            statistics.median(clicks[url_path]),
            statistics.median(reloads[url_path]),
        )
        for url_path, _, _ in PAGES
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="reuse or create this workspace")
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="warm visits per page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = (args.workspace or Path(tmp) / "workspace").resolve()
        root.mkdir(parents=True, exist_ok=True)
        prepare(root, args.transactions)
        port = free_port()
        app = _start_app(root, port)
        try:
            results = measure(port, args.runs)
        finally:
            stop_app(app)
    print()
    print(f"load average during the run: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    print(f"{'page':<11} {'first visit':>11} {'warm click':>11} {'full reload':>12}  all ≤ 1.5 s?")
    for url_path, first, warm, reload in results:
        slow = [
            name
            for name, value in (("first", first), ("click", warm), ("reload", reload))
            if value > 1.5
        ]
        flag = "ok" if not slow else "SLOW: " + ", ".join(slow)
        print(f"{url_path:<11} {first:>9.2f} s {warm:>9.2f} s {reload:>10.2f} s  {flag}")


if __name__ == "__main__":
    main()

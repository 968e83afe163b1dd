"""Browser fixtures: the real app under ``streamlit run``, driven by Debian's Chromium.

Session-wide: one app server on a free port with its own temporary ``MART_WORKSPACE``
(:func:`app_workspace`), started once and left to build the sample by itself; the
fixture waits until that first build is published (:func:`app_url`). Per test: a fresh
Playwright page at 1400×1000 on the app (:func:`page`), and :func:`shot` to save a
screenshot of the whole page under ``test-artifacts/screenshots/`` (git-ignored).

Other browser test modules reuse these fixture names: ``app_url``, ``page``, ``shot``,
``app_workspace``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("MART_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}
#: Seconds to wait for the server, and for the first build on a busy 2-core machine.
START_TIMEOUT = 60
FIRST_BUILD_TIMEOUT = 240
#: Default timeout of page actions and expectations, in milliseconds.
ACTION_TIMEOUT_MS = 30_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def published_build_id(root: Path) -> int | None:
    """The published build id of workspace ``root``, read from disk (None if none)."""
    try:
        text = (root / "builds" / "current").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


@pytest.fixture(scope="session")
def app_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MART_WORKSPACE of the app server (empty when the server starts)."""
    root = tmp_path_factory.mktemp("browser") / "workspace"
    root.mkdir()
    return root


@pytest.fixture(scope="session")
def _browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def app_url(app_workspace: Path, _browser: Browser) -> Iterator[str]:
    """URL of the running app; the first build (of the bundled sample) is published."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = app_workspace.parent / "streamlit.log"
    env = dict(os.environ, MART_WORKSPACE=str(app_workspace))
    env.pop("MART_AUTOBUILD", None)
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "streamlit_app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"streamlit did not start: {log_path.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.25)
        # The first session starts the first build of the empty workspace. It opens a
        # page other than "/" on purpose: the frame must run even then (the build is
        # started by the frame's sidebar, so no frame means no published build).
        context = _browser.new_context(viewport=VIEWPORT)
        first = context.new_page()
        first.goto(f"{url}/data")
        deadline = time.monotonic() + FIRST_BUILD_TIMEOUT
        while published_build_id(app_workspace) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the first build was not published in {FIRST_BUILD_TIMEOUT} s")
            time.sleep(0.5)
        context.close()
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


@pytest.fixture
def page(_browser: Browser, app_url: str) -> Iterator[Page]:
    """A fresh page (1400×1000, light theme) showing the app's Overview."""
    context = _browser.new_context(viewport=VIEWPORT, color_scheme="light")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    tab = context.new_page()
    tab.goto(app_url)
    tab.get_by_test_id("stSidebar").wait_for()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def shot(page: Page) -> Callable[[str], Path]:
    """``shot(name)`` saves the whole page (the main area is scrolled, not the window)."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        height = page.evaluate(
            "() => Math.max(window.innerHeight, "
            "(document.querySelector('[data-testid=stMain]') || document.body).scrollHeight)"
        )
        page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height), 6000)})
        page.wait_for_timeout(300)
        page.screenshot(path=str(path))
        page.set_viewport_size(VIEWPORT)
        return path

    return take

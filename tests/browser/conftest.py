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

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bench.appserver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    VIEWPORT,
    free_port,
    start_app,
    stop_app,
    wait_healthy,
)

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
#: Seconds to wait for the server, and for the first build on a busy 2-core machine.
START_TIMEOUT = 60
FIRST_BUILD_TIMEOUT = 240
#: Default timeout of page actions and expectations, in milliseconds.
ACTION_TIMEOUT_MS = 30_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)


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
    env = dict(os.environ)
    env.pop("MART_AUTOBUILD", None)
    with log_path.open("wb") as log:
        server = start_app(app_workspace, port, env=env, output=log)
    try:
        if not wait_healthy(url, server, START_TIMEOUT):
            raise RuntimeError(
                f"streamlit did not start: {log_path.read_text(errors='replace')[-2000:]}"
            )
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
        stop_app(server)


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

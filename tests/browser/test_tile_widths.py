"""KPI tiles show their widest values whole, on a projector and on a laptop.

A tile is 220 px wide, which held "$999,999.99" with no room to spare and cut a negative
six-figure amount to "-$999,999.9…". Tiles now widen for long values
(``ui.common.tile_width``); this renders the widest value each formatter can produce
(``tiles_page.py``) in Chromium and checks that nothing is cut."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from bench.appserver import free_port, start_app, stop_app, wait_healthy
from tests.browser.conftest import SCREENSHOTS, START_TIMEOUT

PAGE = str(Path(__file__).with_name("tiles_page.py"))


@pytest.fixture(scope="module")
def tiles_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("tiles")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "streamlit.log"
    with log_path.open("wb") as log:
        server = start_app(root, port, env=dict(os.environ), output=log, script=PAGE)
    try:
        if not wait_healthy(url, server, START_TIMEOUT):
            raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}")
        yield url
    finally:
        stop_app(server)


@pytest.mark.parametrize("width", [1024, 1400])
def test_the_widest_tile_values_are_not_cut(_browser: Browser, tiles_url: str, width: int) -> None:
    context = _browser.new_context(viewport={"width": width, "height": 768})
    try:
        tab = context.new_page()
        tab.goto(tiles_url)
        tiles = tab.get_by_test_id("stMetric")
        expect(tiles.nth(8)).to_be_visible()
        tab.wait_for_timeout(500)  # fonts
        shown = tab.evaluate(
            """() => [...document.querySelectorAll('[data-testid="stMetricValue"]')]
                .map(el => el.textContent)"""
        )
        assert "-$999,999.99" in shown and "1,000,000,000" in shown, shown
        cut = tab.evaluate(
            """() => [...document.querySelectorAll(
                    '[data-testid="stMetricValue"], [data-testid="stMetricValue"] *,'
                    + '[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] *,'
                    + '[data-testid="stMetricDelta"], [data-testid="stMetricDelta"] *')]
                .filter(el => el.scrollWidth > el.clientWidth + 1)
                .map(el => el.textContent)"""
        )
        assert not cut, f"cut off at {width} px: {cut}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"tiles-{width}.png"), full_page=True)
    finally:
        context.close()

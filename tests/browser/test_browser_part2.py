"""The Lineage, Customers, Retention, SQL and Docs pages in a real browser.

Uses the session app of tests/browser/conftest.py (``app_url``, ``page``, ``shot``,
``app_workspace``). Expected values are read from the published mart, so the tests hold
whatever other modules did to the shared workspace's data before.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from mart import datasets, insights, money
from mart.builds import BuildManager
from mart.workspace import Workspace
from tests.browser.conftest import SCREENSHOTS, VIEWPORT, published_build_id

pytestmark = pytest.mark.browser

BUILD_TIMEOUT_S = 300
PAGES = {
    "lineage": "Lineage",
    "customers": "Customers",
    "retention": "Retention & behaviour",
    "sql": "SQL & analyses",
    "docs": "Docs",
}


def open_page(page: Page, app_url: str, path: str) -> None:
    """Go to ``path`` and wait until its script has finished and charts are drawn."""
    page.goto(f"{app_url}/{path}")
    expect(page.get_by_role("heading", name=PAGES[path], level=1)).to_be_visible()
    wait_idle(page)


def wait_idle(page: Page, timeout_ms: int = 60_000) -> None:
    """No script running, no skeletons, every mounted chart drawn."""
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
            && !document.querySelector('[data-testid="stSkeleton"]')
            && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                .every(chart => chart.querySelector('.main-svg'))""",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(300)


def no_errors(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text("Something went wrong")).to_have_count(0)


def published_db(root: Path) -> Path:
    build_id = published_build_id(root)
    assert build_id is not None
    return root / "builds" / str(build_id) / "mart.duckdb"


def wait_for_new_build(root: Path, before: int | None) -> int:
    """Block until a build newer than ``before`` is published; return its id."""
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while True:
        current = published_build_id(root)
        if current is not None and current != before:
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"no new build published within {BUILD_TIMEOUT_S} s")
        time.sleep(0.5)


def test_lineage_renders_and_inspector_opens(
    page: Page, app_url: str, shot: Callable[[str], Path]
) -> None:
    open_page(page, app_url, "lineage")
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart.locator(".scatterlayer .point").first).to_be_attached()
    expect(chart).to_contain_text("fct_customer_metrics")
    expect(page.get_by_role("heading", name="fct_customer_metrics", level=3)).to_be_visible()
    no_errors(page)
    shot("part2-lineage")
    # the inspector follows a downstream link
    page.get_by_role("button", name="dim_customers").first.click()
    expect(page.get_by_role("heading", name="dim_customers", level=3)).to_be_visible()
    wait_idle(page)
    page.get_by_role("tab", name="Data preview").click()
    expect(page.get_by_role("tabpanel", name="Data preview")).to_contain_text("main.dim_customers")
    # exports are there, one click each
    for label in ("Download SVG", "Download PNG", "Download DOT"):
        expect(page.get_by_role("button", name=label)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download SVG").click()
    assert download.value.suggested_filename == "techmart-lineage.svg"
    no_errors(page)
    # a click on a node opens it in the inspector (trace 0 holds the edges)
    heading = page.locator("h3").first
    shown = heading.inner_text()
    nodes = chart.locator(".scatterlayer .trace").nth(1).locator(".points path")
    for index in range(min(3, nodes.count())):
        box = nodes.nth(index).bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        wait_idle(page)
        if heading.inner_text() != shown:
            break
    assert heading.inner_text() != shown, "clicking a node did not open it"
    no_errors(page)
    shot("part2-lineage-inspector")


def test_new_thresholds_change_the_segment_split(
    page: Page, app_url: str, app_workspace: Path, shot: Callable[[str], Path]
) -> None:
    open_page(page, app_url, "customers")
    no_errors(page)
    before = published_build_id(app_workspace)
    high = page.get_by_label("High Value from ($)")
    medium = page.get_by_label("Medium Value from ($)")
    # invalid first: a clear message and no build
    high.fill("100")
    medium.fill("200")
    page.get_by_role("button", name="Rebuild with these thresholds").click()
    expect(page.get_by_text("must be greater than the medium threshold")).to_be_visible()
    assert published_build_id(app_workspace) == before
    # then valid: the mart is rebuilt with these vars and the split follows
    high.fill("300")
    medium.fill("100")
    page.get_by_role("button", name="Rebuild with these thresholds").click()
    new_build = wait_for_new_build(app_workspace, before)
    expect(page.get_by_text(f"Build #{new_build} published with")).to_be_visible(
        timeout=BUILD_TIMEOUT_S * 1000
    )
    wait_idle(page)
    record = BuildManager(Workspace(app_workspace)).get(new_build)
    assert record.vars["high_value_threshold"] == 300
    assert record.vars["medium_value_threshold"] == 100
    expect(page.get_by_text("(set for this build)")).to_be_visible()
    expect(page.get_by_text("High Value ≥ $300.00").first).to_be_visible()
    split = insights.segment_distribution(published_db(app_workspace))
    chart = page.get_by_test_id("stPlotlyChart").first
    for row in split.itertuples(index=False):
        # the table's share, to one place (rounded half away from zero, as the table)
        share = money.percent_text(row.share_of_customers)
        expect(chart).to_contain_text(f"{row.customer_count:,} ({share})")
    no_errors(page)
    shot("part2-customers-new-thresholds")


def pick_customer(page: Page, customer_id: str) -> None:
    """Search for ``customer_id`` and wait until the drill-down shows that customer."""
    search = page.get_by_label("Search customers by id")
    search.fill(customer_id)
    search.press("Enter")
    expect(page.get_by_role("heading", name=customer_id, level=4)).to_be_visible()
    wait_idle(page)


def test_the_customer_box_shows_the_customer_whose_profile_is_shown(
    page: Page, app_url: str
) -> None:
    """A new search changes the picked customer: the box must show that customer, not
    keep the label of the one picked before over the new one's profile."""
    open_page(page, app_url, "customers")
    picker = page.get_by_test_id("stSelectbox").filter(has_text="Customer (")
    expect(picker).to_contain_text("most valuable first")

    def shown() -> str:
        """The customer the box shows (its combobox's value, as a screen reader reads it)."""
        snapshot = picker.aria_snapshot()
        return snapshot.split('first)": ', 1)[-1].split(" · ")[0].strip()

    def box_shows(customer_id: str) -> None:
        deadline = time.monotonic() + 10
        while shown() != customer_id and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert shown() == customer_id, picker.aria_snapshot()

    top = shown()  # the most valuable customer
    assert top.startswith("C"), picker.aria_snapshot()

    for customer_id in [c for c in ("C004", "C002", "C005") if c != top][:2]:
        pick_customer(page, customer_id)
        box_shows(customer_id)
    # Search cleared: the last pick is among the options again and stays picked, in the
    # box and in the profile alike.
    search = page.get_by_label("Search customers by id")
    search.fill("")
    search.press("Enter")
    expect(picker).to_contain_text("most valuable first")
    box_shows(customer_id)
    expect(page.get_by_role("heading", name=customer_id, level=4)).to_be_visible()
    no_errors(page)


def _history_versions(page: Page) -> int:
    label = page.locator("p", has_text="Segment history (SCD2)").first
    expect(label).to_contain_text("version")
    text = label.inner_text()
    return int(text.split("—")[1].split("version")[0].strip())


def test_scd2_history_grows_after_an_edit_and_a_rebuild(
    page: Page, app_url: str, app_workspace: Path, shot: Callable[[str], Path]
) -> None:
    ws = Workspace(app_workspace)
    open_page(page, app_url, "customers")
    pick_customer(page, "C001")
    before_versions = _history_versions(page)
    # an edit: C001 buys once more, so its transaction count and value change
    head = datasets.head(ws, "transactions")
    datasets.apply_edits(
        ws,
        "transactions",
        head.id,
        inserts=[
            {
                "transaction_id": f"TB{uuid.uuid4().hex[:8].upper()}",
                "customer_id": "C001",
                "transaction_date": "2024-02-25",
                "amount": Decimal("10.00"),
                "product_category": "Audio",
            }
        ],
        message="browser test: one more purchase for C001",
    )
    before = published_build_id(app_workspace)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Rebuild mart").click()
    wait_for_new_build(app_workspace, before)
    open_page(page, app_url, "customers")
    pick_customer(page, "C001")
    assert _history_versions(page) == before_versions + 1
    no_errors(page)
    shot("part2-customers-scd2-history")


def test_sql_console_refuses_a_file_read(
    page: Page, app_url: str, shot: Callable[[str], Path]
) -> None:
    open_page(page, app_url, "sql")
    no_errors(page)
    editor = page.get_by_label("SQL", exact=True)
    editor.fill("select * from read_csv('/etc/passwd')")
    page.get_by_role("button", name="Run query").click()
    alert = page.get_by_test_id("stAlert").filter(has_text="file")
    expect(alert.first).to_be_visible()
    no_errors(page)
    editor.fill("select 41 + 1 as answer")
    page.get_by_role("button", name="Run query").click()
    expect(page.get_by_text("1 row(s)")).to_be_visible()
    shot("part2-sql")


def test_docs_site_embedded_and_opens_in_a_new_tab(
    page: Page, app_url: str, app_workspace: Path, shot: Callable[[str], Path]
) -> None:
    open_page(page, app_url, "docs")
    expect(page.get_by_role("heading", name="dim_customers", level=3)).to_be_visible()
    page.get_by_text("dbt docs site", exact=True).click()
    wait_idle(page)
    deadline = time.monotonic() + 180  # docs are generated after publishing
    while page.get_by_role("button", name="Check again").count():
        assert time.monotonic() < deadline, "the docs site was never generated"
        page.wait_for_timeout(2000)
        page.get_by_role("button", name="Check again").click()
        wait_idle(page)
    expect(page.get_by_role("button", name="Download the docs site", exact=False)).to_be_visible()
    outer = page.frame_locator('iframe[title="st.iframe"], iframe').first
    expect(
        outer.frame_locator("#docs-site").get_by_text("TechMart Customer Analytics Mart").first
    ).to_be_visible()
    # Narrower than the site's layout (its body is at least 960 px): drawn scaled down to
    # the frame's width; the right of its pages was cut off at 1280 px with the sidebar.
    page.set_viewport_size({"width": 1024, "height": 900})
    page.wait_for_timeout(500)
    site_width, box_width = outer.locator("#docs-box").evaluate(
        "box => [document.getElementById('docs-site').getBoundingClientRect().width,"
        " box.clientWidth]"
    )
    assert box_width < 960 and site_width <= box_width + 1, (site_width, box_width)
    with page.context.expect_page() as opened:
        outer.get_by_text("Open in a new tab").click()
    new_tab = opened.value
    new_tab.wait_for_load_state()
    expect(new_tab).to_have_title("dbt Docs")
    no_errors(page)
    shot("part2-docs-site")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_renders_in_both_themes(_browser: Browser, app_url: str, theme: str) -> None:
    """Each page without an error; full-page screenshots kept for a human look."""
    context = _browser.new_context(viewport=VIEWPORT, color_scheme=theme)
    try:
        page = context.new_page()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for path in PAGES:
            open_page(page, app_url, path)
            no_errors(page)
            height = page.evaluate(
                "() => Math.max(window.innerHeight, (document.querySelector("
                "'[data-testid=stMain]') || document.body).scrollHeight)"
            )
            page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height), 6000)})
            wait_idle(page)
            page.screenshot(path=str(SCREENSHOTS / f"part2-{path}-{theme}.png"))
            page.set_viewport_size(VIEWPORT)
    finally:
        context.close()


@pytest.mark.parametrize("path", ["", "retention"])
def test_four_kpi_tiles_share_a_line_at_1280_px(_browser: Browser, app_url: str, path: str) -> None:
    """1280 px (a WXGA projector) leaves 820 px beside the sidebar: 220 px tiles put the
    fourth on a line of its own. They are 190 px unless a value needs more."""
    context = _browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        if path:
            open_page(tab, app_url, path)
        else:
            tab.goto(app_url)
            wait_idle(tab)
        tiles = tab.get_by_test_id("stMetric")
        expect(tiles.nth(3)).to_be_visible()
        no_errors(tab)
        tops = tab.evaluate(
            """() => [...document.querySelectorAll('[data-testid="stMetric"]')]
                .slice(0, 4).map(e => Math.round(e.getBoundingClientRect().top))"""
        )
        assert len(set(tops)) == 1, f"the first four tiles are on lines at {tops}"
    finally:
        context.close()


def test_the_lineage_graph_scrolls_instead_of_squeezing_on_a_projector(
    _browser: Browser, app_url: str
) -> None:
    """At 1024 px with the sidebar open the page is 564 px wide: the graph was squeezed
    into it and its labels ran into each other. It keeps a readable width (90 px a
    column) and scrolls sideways; at 1400 px it fits. "Show tests" was cut to "Sh…"."""
    from mart import lineage

    for width, scrolls in ((1024, True), (1400, False)):
        context = _browser.new_context(viewport={"width": width, "height": 900})
        try:
            tab = context.new_page()
            open_page(tab, app_url, "lineage")
            chart = tab.locator(".st-key-lineage_chart")
            expect(chart.locator(".main-svg").first).to_be_visible()
            no_errors(tab)
            columns = len(
                tab.evaluate(
                    """() => [...document.querySelectorAll(
                        '.st-key-lineage_chart .annotation-text')].map(e => e.textContent)"""
                )
            )
            assert columns >= 6  # the layer headers
            shown, full, svg = tab.evaluate(
                """() => { const el = document.querySelector('.st-key-lineage_chart');
                    return [el.clientWidth, el.scrollWidth,
                            Number(el.querySelector('.main-svg').getAttribute('width'))]; }"""
            )
            assert svg >= lineage.MARGIN_PX + lineage.COLUMN_MIN_PX * 6, (width, svg)
            assert (full > shown + 1) is scrolls, (width, shown, full)
            toggle = tab.get_by_test_id("stWidgetLabel").filter(has_text="Show tests")
            cut = toggle.evaluate(
                "el => [...el.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1)"
            )
            assert not cut, "the Show tests label is cut"
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SCREENSHOTS / f"lineage-{width}.png"))
        finally:
            context.close()


@pytest.mark.parametrize("path", ["", "customers", "retention"])
def test_kpi_tiles_are_not_cut_off_on_a_projector(
    _browser: Browser, app_url: str, path: str
) -> None:
    """At 1024×768, a common projector size, every tile's label and value shows whole:
    tiles in columns were cut to ``$1,6…`` there (Customers had six in a row)."""
    context = _browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        tab = context.new_page()
        if path:
            open_page(tab, app_url, path)
        else:
            tab.goto(app_url)
            expect(tab.get_by_role("heading", name="Key figures", exact=False)).to_be_visible()
            wait_idle(tab)
        no_errors(tab)
        tiles = tab.get_by_test_id("stMetric")
        expect(tiles.first).to_be_visible()
        cut = tab.evaluate(
            """() => [...document.querySelectorAll(
                    '[data-testid="stMetricValue"], [data-testid="stMetricValue"] *,'
                    + '[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] *')]
                .filter(el => el.scrollWidth > el.clientWidth + 1)
                .map(el => el.textContent)"""
        )
        assert tiles.count() >= 4
        assert not cut, f"cut off at 1024 px: {cut}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"{path or 'overview'}-1024.png"), full_page=True)
    finally:
        context.close()


def test_typed_query_and_search_outlive_a_visit_to_another_page(page: Page, app_url: str) -> None:
    """The SQL run in the console and the Lineage search are still there after a look
    at the Overview, with the sidebar's polling fragment running meanwhile (its runs
    cleared a kept widget value that AppTest, which runs no fragments, never sees)."""
    open_page(page, app_url, "sql")
    editor = page.get_by_label("SQL", exact=True)
    editor.fill("select 6 * 7 as answer")
    page.get_by_role("button", name="Run query").click()
    expect(page.get_by_text("1 row(s)")).to_be_visible()
    nav = page.get_by_test_id("stSidebarNavItems")
    nav.get_by_role("link", name="Lineage").click()
    search = page.get_by_placeholder("name contains…")
    search.fill("dim_")
    search.press("Enter")
    page.wait_for_timeout(2_000)  # the rerun Enter starts (wait_idle can come before it)
    wait_idle(page)
    nav.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Key figures", exact=False)).to_be_visible()
    page.wait_for_timeout(3_000)  # the sidebar fragment runs every second meanwhile
    nav.get_by_role("link", name="SQL console").click()
    editor = page.get_by_label("SQL", exact=True)
    expect(editor).to_have_value("select 6 * 7 as answer")
    # A query being typed, not run yet, outlives a rerun of the page (here: an analysis
    # clicked); putting the kept value back on every run had overwritten it.
    editor.fill("select 'draft' as not_run_yet")
    page.get_by_role("button", name="Segment distribution").click()
    page.wait_for_timeout(2_000)
    wait_idle(page)
    expect(editor).to_have_value("select 'draft' as not_run_yet")
    nav.get_by_role("link", name="Lineage").click()
    expect(page.get_by_placeholder("name contains…")).to_have_value("dim_")
    no_errors(page)


@pytest.mark.parametrize("width", [800, 1280])
def test_the_layer_boxes_hold_their_table_names(
    _browser: Browser, app_url: str, width: int
) -> None:
    """At 800 px with the sidebar open, the Overview's layer picture (then a Plotly
    figure with fixed 20-character lines) let ``fct_customer_metrics`` run out of its
    box. Every line of every box now ends inside it."""
    context = _browser.new_context(viewport={"width": width, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(app_url)
        expect(tab.get_by_role("heading", name="Key figures", exact=False)).to_be_visible()
        wait_idle(tab)
        no_errors(tab)
        boxes = tab.locator(".mart-layer")
        expect(boxes).to_have_count(4)
        outside = tab.evaluate(
            """() => [...document.querySelectorAll('.mart-layer')].flatMap(box => {
                const edge = box.getBoundingClientRect();
                return [...box.querySelectorAll('div')]
                    .filter(line => {
                        const r = line.getBoundingClientRect();
                        return r.left < edge.left - 0.5 || r.right > edge.right + 0.5
                            || line.scrollWidth > line.clientWidth + 1;
                    })
                    .map(line => line.textContent);
            })"""
        )
        listed = tab.evaluate(
            "() => document.querySelector('.mart-layer[data-layer=\"marts\"]').textContent"
        )
        assert "dim_customers" in listed
        assert not outside, f"out of their boxes at {width} px: {outside}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"overview-layers-{width}.png"))
    finally:
        context.close()

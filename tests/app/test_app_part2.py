"""AppTest of the Lineage, Customers, Retention, SQL and Docs pages.

Empty workspace: each page explains that nothing is published, without an exception.
Built workspace (the sample, build #1): each page renders its key elements; the lineage
inspector follows a downstream link; the SQL console refuses a file read; new segment
thresholds rebuild the mart with those vars and change the split (last: it publishes a
new build).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import TIMEOUT, app_manager, app_test, wait_for_builds

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "pages/lineage.py",
    "pages/customers.py",
    "pages/retention.py",
    "pages/sql.py",
    "pages/docs.py",
]


def texts(at: AppTest) -> str:
    """Every markdown, caption, text, metric label and alert of the last run."""
    parts: list[str] = []
    for kind in (
        "title",
        "subheader",
        "markdown",
        "caption",
        "text",
        "success",
        "info",
        "warning",
        "error",
    ):
        parts += [str(element.value) for element in getattr(at, kind)]
    parts += [str(metric.label) for metric in at.metric]
    return "\n".join(parts)


def frame_with(at: AppTest, *columns: str, index: int = 0):  # noqa: ANN201 - a DataFrame
    """The ``index``-th dataframe on the page that has all of ``columns``."""
    found = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert len(found) > index, f"no dataframe with {columns}"
    return found[index]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    # show_error's catch-all must not have fired either
    assert not [e.value for e in at.error if "Something went wrong" in str(e.value)]


def page_test(page: str) -> AppTest:
    """One page run on its own (no frame, so no automatic first build)."""
    return AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)


@pytest.mark.parametrize("page", PAGES)
def test_empty_workspace_explains(workspace: Path, page: str) -> None:
    at = page_test(page)
    at.run()
    assert_clean(at)
    assert "No mart has been published yet" in texts(at)


def open_page(page: str) -> AppTest:
    at = app_test()
    at.switch_page(page)
    at.run()
    assert_clean(at)
    return at


def test_lineage_renders_and_inspector_follows_links(built_workspace: Path) -> None:
    at = open_page("pages/lineage.py")
    assert at.title[0].value == "Lineage"
    assert at.get("plotly_chart"), "no lineage chart"
    node = at.selectbox(key="lineage_node")
    assert node.value.endswith("fct_customer_metrics")
    assert "fct_customer_metrics" in texts(at)
    assert [b for b in at.button if b.key and b.key.startswith("down_")]
    downstream = next(b for b in at.button if b.key and b.key.endswith("dim_customers"))
    downstream.click().run()
    assert_clean(at)
    assert at.selectbox(key="lineage_node").value.endswith("dim_customers")
    # focus ±1 hop and search narrow the graph without errors
    at.selectbox(key="lineage_focus").set_value(node.value).run()
    assert_clean(at)
    at.text_input(key="lineage_search").set_value("no such node").run()
    assert_clean(at)
    assert "No node matches" in texts(at)
    at.text_input(key="lineage_search").set_value("").run()
    at.toggle(key="lineage_tests").set_value(True).run()
    assert_clean(at)
    # A search that hides the inspected node moves the inspector to what it shows.
    at.selectbox(key="lineage_focus").set_value("").run()
    at.text_input(key="lineage_search").set_value("stg_events").run()
    assert_clean(at)
    assert at.selectbox(key="lineage_node").value.endswith(".stg_events")


def test_lineage_data_preview_shows_cents_and_dates(built_workspace: Path) -> None:
    """The preview showed amounts 150 and 75.5 and dates with 00:00:00, where the
    failing rows on Build & Tests showed 150.00 and 2024-01-15."""
    at = open_page("pages/lineage.py")
    shown = at.selectbox(key="lineage_node").value  # model.<project>.fct_customer_metrics
    node = shown.rsplit(".", 1)[0] + ".stg_transactions"
    at.selectbox(key="lineage_node").set_value(node).run()
    assert_clean(at)
    preview = frame_with(at, "transaction_id", "amount", "transaction_date")
    first = preview[preview.transaction_id == "T002"].iloc[0]
    assert (first.amount, str(first.transaction_date)) == ("75.50", "2024-01-20")


def test_customers_page(built_workspace: Path) -> None:
    at = open_page("pages/customers.py")
    labels = [metric.label for metric in at.metric]
    assert {"Buying customers", "Revenue", "Avg order value"} <= set(labels)
    revenue = next(metric for metric in at.metric if metric.label == "Revenue")
    assert revenue.value == "$1,635.48"
    # tiles go compact above a million (tile_money); the exact amount is in the help
    order = next(metric for metric in at.metric if metric.label == "Avg order value")
    assert order.value == "$204.44" and "Exactly $204.44" in str(order.help)
    assert "project defaults" in texts(at)
    segments = frame_with(at, "customer_segment", "share_of_customers")
    assert segments["customer_count"].tolist() == [1, 3, 0]
    # drill-down: search then pick
    at.text_input(key="customer_search").set_value("C001").run()
    assert_clean(at)
    assert at.selectbox(key="customer_pick").value == "C001"
    history = frame_with(at, "valid_from", "is_current")
    assert len(history) == 1 and bool(history["is_current"].iloc[0])
    assert history["valid_to"].tolist() == ["current"]  # not an empty cell reading None
    shares = frame_with(at, "customer_segment", "share_of_customers")
    assert shares["share_of_customers"].tolist() == [25.0, 75.0, 0.0]  # shown as 25.0%
    transactions = frame_with(at, "transaction_id", "amount")
    assert transactions["transaction_id"].tolist() == ["T001", "T002", "T004", "T007"]
    # C005 only browsed: Low Value in dim_customers, not in the buyers' segment counts.
    assert "The 1 customer(s) who only browsed" in texts(at)
    at.text_input(key="customer_search").set_value("C005").run()
    assert_clean(at)
    assert "This customer only browsed" in texts(at)
    at.text_input(key="customer_search").set_value("nobody").run()
    assert_clean(at)
    assert "No customer id contains" in texts(at)


def test_invalid_thresholds_are_refused_without_a_build(built_workspace: Path) -> None:
    at = open_page("pages/customers.py")
    before = len(app_manager(built_workspace).history())
    at.number_input(key="threshold_high").set_value(100.0)
    at.number_input(key="threshold_medium").set_value(200.0)
    submit = next(b for b in at.button if "Rebuild with these thresholds" in str(b.label))
    submit.click().run()
    assert not at.exception
    assert any("must be greater than" in str(e.value) for e in at.error)
    assert len(app_manager(built_workspace).history()) == before


def test_retention_page(built_workspace: Path) -> None:
    at = open_page("pages/retention.py")
    rate = next(metric for metric in at.metric if metric.label == "Repeat rate")
    assert rate.value == "50.0%"
    charts = at.get("plotly_chart")
    assert len(charts) >= 4
    # The caption names the "*" of the month still running only when the heatmap's
    # cells carry labels (past 12 month columns they do not, and no "*" is drawn).
    import json

    [heatmap] = [
        json.loads(chart.proto.spec)
        for chart in charts
        if "Cohort retention" in chart.proto.spec and '"heatmap"' in chart.proto.spec
    ]
    labelled = heatmap["data"][0].get("texttemplate") == "%{text}"
    caption = next(str(c.value) for c in at.caption if "Each row is the month" in str(c.value))
    assert ("\\*" in caption) == (labelled and "still running" in caption)
    if not labelled:
        assert "*" not in caption
    behaviour = frame_with(at, "customer_segment", "avg_categories_per_customer")
    assert behaviour["customer_segment"].tolist() == ["High Value", "Medium Value", "Low Value"]


def test_sql_page_analyses_and_console(built_workspace: Path) -> None:
    at = open_page("pages/sql.py")
    result = frame_with(at, "customer_id")
    assert result["customer_id"].tolist()[0] == "C003"
    at.button(key="analysis_segment_distribution").click().run()
    assert_clean(at)
    assert frame_with(at, "customer_segment", "customer_count")["customer_count"].tolist() == [
        1,
        3,
        0,
    ]
    # DECIMAL columns get their scale: money to the cent, the shares (DECIMAL(.., 4)) to
    # four places. A share named "..._revenue" used to be rounded to cents like money.
    import json

    table = next(d for d in at.dataframe if "share_of_revenue" in d.value.columns)
    config = json.loads(table.proto.columns)
    assert config["total_revenue"]["type_config"]["format"] == "%.2f"
    assert config["share_of_revenue"]["type_config"]["format"] == "%.4f"
    assert config["share_of_customers"]["type_config"]["format"] == "%.4f"
    # an example query, then a refused file read with the sandbox's message
    at.selectbox(key="sql_example").set_value("Monthly revenue").run()
    assert "fct_transactions" in at.text_area(key="sql_text").value
    at.text_area(key="sql_text").set_value("select * from read_csv('/etc/passwd')")
    run = next(b for b in at.button if "Run query" in str(b.label))
    run.click().run()
    assert not at.exception
    errors = [str(e.value) for e in at.error]
    assert errors and any("file" in e.lower() for e in errors), errors
    at.text_area(key="sql_text").set_value("select 41 + 1 as answer")
    next(b for b in at.button if "Run query" in str(b.label)).click().run()
    assert_clean(at)
    assert frame_with(at, "answer")["answer"].tolist() == [42]
    # A memory bomb runs in the console's own process: a sentence, and the app goes on.
    at.text_area(key="sql_text").set_value("select range(1000000000) as l")
    next(b for b in at.button if "Run query" in str(b.label)).click().run()
    assert not at.exception
    errors = [str(e.value) for e in at.error]
    assert any("more memory" in e for e in errors), errors
    at.text_area(key="sql_text").set_value("select 6 * 7 as answer")
    next(b for b in at.button if "Run query" in str(b.label)).click().run()
    assert_clean(at)
    assert frame_with(at, "answer")["answer"].tolist() == [42]


def test_docs_page(built_workspace: Path) -> None:
    at = open_page("pages/docs.py")
    assert at.selectbox(key="docs_model").value.endswith("dim_customers")
    # what a reader sees: column names may wrap after underscores (zero-width spaces)
    assert "`customer_\u200bsegment`" in texts(at)
    at.selectbox(key="docs_model").set_value("model.techmart.fct_customer_metrics").run()
    assert_clean(at)
    assert "`lifetime_value`" in texts(at).replace("\u200b", "")
    at.session_state["docs_view"] = "dbt docs site"
    at.run()
    assert_clean(at)


def test_new_thresholds_rebuild_with_those_vars(built_workspace: Path) -> None:
    """Last in the module: publishes build #2 with thresholds 300 / 100. The high one is
    typed with a third decimal: the field shows 300.00, and 300.00 is what is used (it
    was refused as "more than 2 decimals" under a field reading 300.00)."""
    at = open_page("pages/customers.py")
    at.number_input(key="threshold_high").set_value(300.004)
    at.number_input(key="threshold_medium").set_value(100.0)
    submit = next(b for b in at.button if "Rebuild with these thresholds" in str(b.label))
    submit.click().run(timeout=300)
    wait_for_builds(built_workspace)
    assert_clean(at)
    record = app_manager(built_workspace).published()
    assert record is not None and record.build_id >= 2
    assert record.vars["high_value_threshold"] == 300
    assert record.vars["medium_value_threshold"] == 100
    at.run()
    assert_clean(at)
    assert "set for this build" in texts(at)
    segments = frame_with(at, "customer_segment", "share_of_customers")
    assert segments["customer_count"].tolist() == [4, 0, 0]


@pytest.mark.parametrize(
    "page",
    [
        "pages/lineage.py",
        "pages/customers.py",
        "pages/retention.py",
        "pages/sql.py",
        "pages/build.py",
        "pages/data.py:Edit",
        "pages/data.py:History",
    ],
)
def test_every_grid_says_what_a_missing_value_is(built_workspace: Path, page: str) -> None:
    """No grid falls back to Streamlit's grey "None" (a Python word) for a missing value:
    each one sets its placeholder (NULL for query results, an empty cell in the edit
    grid, a dash in summary tables)."""
    page, _, tab = page.partition(":")
    at = app_test()
    at.switch_page(page)
    if tab:
        at.session_state["data_tab"] = tab
    at.run()
    if page == "pages/sql.py":  # the console's result grid, with a NULL in it
        at.text_area(key="sql_text").set_value("select null as nothing, 1 as one")
        next(b for b in at.button if "Run query" in str(b.label)).click().run()
        assert frame_with(at, "nothing", "one")["nothing"].isna().all()
    assert_clean(at)
    grids = [element.proto for element in at.dataframe]  # data_editor included
    assert grids, f"{page}: no grid shown"
    unset = [proto.id or "(no key)" for proto in grids if not proto.HasField("placeholder")]
    assert not unset, f"{page}: grids without a placeholder: {unset}"
    if page == "pages/sql.py":
        assert any(proto.placeholder == "NULL" for proto in grids)
    if tab == "Edit":  # the edit grid: an empty cell, as in a spreadsheet
        editors = [proto for proto in grids if proto.editing_mode]
        assert editors and all(proto.placeholder == "" for proto in editors)


def test_typed_values_survive_a_visit_to_another_page(built_workspace: Path) -> None:
    """Streamlit drops a widget's value when its page is not shown: the SQL typed in the
    console, the customer searched for and picked, the lineage search and the Data tab
    came back reset after a look at another page. They are kept now."""
    at = open_page("pages/sql.py")
    at.text_area(key="sql_text").set_value("select 7 as seven")
    next(b for b in at.button if "Run query" in str(b.label)).click().run()  # (in a form)
    at.switch_page("pages/customers.py")
    at.run()
    at.text_input(key="customer_search").set_value("C00").run()
    options = at.selectbox(key="customer_pick").options
    assert len(options) > 1
    picked = at.selectbox(key="customer_pick").options[-1].split(" · ")[0]  # the id
    at.selectbox(key="customer_pick").set_value(picked).run()
    at.switch_page("pages/lineage.py")
    at.run()
    at.text_input(key="lineage_search").set_value("dim_").run()
    at.switch_page("pages/data.py")
    at.session_state["data_tab"] = "History"
    at.run()
    assert_clean(at)

    at.switch_page("pages/overview.py")
    at.run()
    at.switch_page("pages/sql.py")
    at.run()
    assert at.text_area(key="sql_text").value == "select 7 as seven"
    at.switch_page("pages/customers.py")
    at.run()
    assert at.text_input(key="customer_search").value == "C00"
    assert at.selectbox(key="customer_pick").value == picked
    # a kept pick that a new search leaves out gives way to the new search's first match
    at.text_input(key="customer_search").set_value("C001").run()
    assert_clean(at)
    assert at.selectbox(key="customer_pick").value == "C001"
    at.switch_page("pages/lineage.py")
    at.run()
    assert at.text_input(key="lineage_search").value == "dim_"
    at.switch_page("pages/data.py")
    at.run()
    assert_clean(at)
    assert at.session_state["data_tab"] == "History"

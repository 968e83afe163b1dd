"""Fixes from a review: data and user text shown literally, never as Markdown.

One workspace: the sample plus two transactions whose customer id and category are
Markdown (a link, bold, a colour directive), built and published once for the module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mart import datasets
from mart.builds import BuildManager
from mart.workspace import Workspace
from tests.app.conftest import app_test, published_workspace

MARKDOWN_ROWS = (
    "transaction_id,customer_id,transaction_date,amount,product_category\n"
    "M1,**BOLD**,2024-01-21,10.00,:red[Boom]\n"
    "M2,[x](http://e.vil),2024-01-22,11.00,Books\n"
)


@pytest.fixture(scope="module")
def markdown_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("review_fixes")
    source = base / "markdown.csv"
    source.write_text(MARKDOWN_ROWS, encoding="utf-8")

    def append(ws: Workspace) -> None:
        datasets.load_file(ws, "transactions", source, mode="append")

    with published_workspace(
        base / "workspace", vars={"as_of_date": "2024-03-01"}, prepare=append
    ) as root:
        yield root


def open_page(page: str) -> AppTest:
    at = app_test()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_sources(at: AppTest) -> str:
    return "\n".join(str(element.value) for element in at.markdown)


def test_drill_down_shows_a_markdown_customer_id_literally(markdown_workspace: Path) -> None:
    at = open_page("pages/customers.py")
    at.text_input(key="customer_search").set_value("e.vil").run()
    assert not at.exception
    assert at.selectbox(key="customer_pick").value == "[x](http://e.vil)"
    sources = markdown_sources(at)
    # the heading escapes the id: no link to http://e.vil
    assert "[x](http://e.vil)" not in sources
    assert r"\[x\]\(http\://e\.vil\)" in sources


def test_drill_down_shows_markdown_category_and_bold_id_literally(
    markdown_workspace: Path,
) -> None:
    at = open_page("pages/customers.py")
    at.text_input(key="customer_search").set_value("BOLD").run()
    assert not at.exception
    assert at.selectbox(key="customer_pick").value == "**BOLD**"
    sources = markdown_sources(at)
    assert "#### **BOLD**" not in sources
    assert r"\*\*BOLD\*\*" in sources
    assert ":red[Boom]" not in sources
    assert r"\:red\[Boom\]" in sources


def test_no_match_message_shows_the_search_text_literally(markdown_workspace: Path) -> None:
    at = open_page("pages/customers.py")
    at.text_input(key="customer_search").set_value("**zz**").run()
    assert not at.exception
    infos = [str(element.value) for element in at.info]
    assert any(r"\*\*zz\*\*" in text for text in infos), infos


def test_sql_error_keeps_the_users_sql_literal_and_the_caret_aligned(
    markdown_workspace: Path,
) -> None:
    at = open_page("pages/sql.py")
    at.text_area(key="sql_text").set_value("select * fro fct_customer_metrics where a*b*c")
    next(b for b in at.button if "Run query" in str(b.label)).click().run()
    assert not at.exception
    errors = [str(element.value) for element in at.error]
    assert errors and "Parser Error" in errors[0], errors
    # the LINE 1 / caret part is code (monospace, literal), not Markdown in the alert
    assert "LINE 1" not in errors[0]
    codes = [str(element.value) for element in at.code]
    assert any("where a*b*c" in code and "^" in code for code in codes), codes


def test_overview_segment_caption_names_the_published_thresholds(
    markdown_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui import common

    at = open_page("pages/overview.py")
    captions = "\n".join(str(element.value) for element in at.caption)
    assert "500\\.00" in captions and "project defaults" in captions, captions
    # a published build with other thresholds: the caption says those, not 500/200
    monkeypatch.setattr(
        common,
        "rebuild_vars",
        lambda: {"high_value_threshold": 1000, "medium_value_threshold": 300},
    )
    at.run()
    assert not at.exception
    captions = "\n".join(str(element.value) for element in at.caption)
    assert "1,000\\.00" in captions and "300\\.00" in captions, captions
    assert "High ≥ 500" not in captions


def test_lineage_no_match_message_shows_the_search_text_literally(
    markdown_workspace: Path,
) -> None:
    at = open_page("pages/lineage.py")
    at.text_input(key="lineage_search").set_value("*zz*").run()
    assert not at.exception
    infos = [str(element.value) for element in at.info]
    assert any(r"\*zz\*" in text for text in infos), infos


def test_sql_console_says_when_its_result_is_from_an_older_build(
    markdown_workspace: Path,
) -> None:
    at = open_page("pages/sql.py")
    at.text_area(key="sql_text").set_value("select count(*) as n from fct_transactions")
    next(b for b in at.button if "Run query" in str(b.label)).click().run()
    assert not at.exception
    assert not [i for i in at.info if "Run the query again" in str(i.value)]
    manager = BuildManager(Workspace(markdown_workspace), prewarm_after_build=False)
    record = manager.request_build(vars={"as_of_date": "2024-03-01"})
    manager.shutdown()
    assert record.status == "published", record.summary()
    at.run()
    assert not at.exception
    infos = [str(i.value) for i in at.info]
    assert any(
        f"build #{record.build_id} is published now" in text and "Run the query again" in text
        for text in infos
    ), infos


def test_drill_down_counts_one_session_in_the_singular(markdown_workspace: Path) -> None:
    at = open_page("pages/customers.py")
    at.text_input(key="customer_search").set_value("C004").run()
    assert not at.exception
    sources = markdown_sources(at)
    assert "(1 session, 3 events)" in sources, sources


def test_reset_to_the_sample_succeeds_and_unticks_the_confirmation(
    markdown_workspace: Path,
) -> None:
    """Last in the module: it changes the datasets."""
    at = app_test()
    at.switch_page("pages/data.py")
    at.session_state["data_tab"] = "History"
    at.run()
    assert not at.exception
    at.checkbox(key="history_reset_confirm").check()
    at.run()
    at.button(key="history_reset").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [str(element.value) for element in at.error]
    assert not [e for e in errors if "Something went wrong" in e], errors
    assert any("Reset:" in str(element.value) for element in at.success)
    assert at.checkbox(key="history_reset_confirm").value is False
    assert datasets.head(Workspace(markdown_workspace), "transactions").row_count == 8
    # Undoing half of the reset says the other half is still HEAD (a mismatched pair
    # for the next rebuild otherwise went unsaid).
    events = datasets.head(Workspace(markdown_workspace), "events")
    at.button(key="history_undo_transactions").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    said = [str(element.value).replace("\\", "") for element in at.success]
    assert any(
        "transactions: HEAD is v" in text
        and f"events v{events.id} came from the same Reset and is still HEAD" in text
        for text in said
    ), said


@pytest.fixture(scope="module")
def duplicate_published_anyway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sample built, then with a second T001 (same values) built and published anyway."""
    base = tmp_path_factory.mktemp("duplicate")
    source = base / "duplicate.csv"
    source.write_text(
        "transaction_id,customer_id,transaction_date,amount,product_category\n"
        "T001,C001,2024-01-15,150.00,Electronics\n",
        encoding="utf-8",
    )
    with published_workspace(base / "workspace", vars={"as_of_date": "2024-03-01"}) as root:
        ws = Workspace(root)
        # The second build puts both records of the repeated id in the incremental fact.
        datasets.load_file(ws, "transactions", source, mode="append")
        manager = BuildManager(ws, prewarm_after_build=False)
        record = manager.request_build(
            vars={"as_of_date": "2024-03-01"}, publish_on_test_failure=True
        )
        manager.shutdown()
        assert record.status == "published" and record.published_anyway, record.summary()
        yield root


def test_drill_down_lists_a_duplicate_published_anyway_as_the_metrics_count_it(
    duplicate_published_anyway: Path,
) -> None:
    """The fact holds both records of the repeated id, as staging does (with a merge it
    held one, and a note explained 5 counted against 4 listed)."""
    at = open_page("pages/customers.py")
    at.text_input(key="customer_search").set_value("C001").run()
    assert not at.exception
    # the drill-down's tile (the page's KPI tiles have one too, first: 9 in all)
    counted = [metric for metric in at.metric if metric.label == "Transactions"][-1]
    assert counted.value == "5"  # staging has T001 twice
    listed = [frame.value for frame in at.dataframe if "transaction_id" in frame.value.columns]
    assert listed and list(listed[-1]["transaction_id"]).count("T001") == 2
    assert "The metrics count" not in " ".join(str(element.value) for element in at.warning)


def test_transactions_note_only_when_the_counts_differ() -> None:
    from mart import insights

    assert insights.transactions_note(4, 4) is None
    assert insights.transactions_note(0, 0) is None
    capped = insights.transactions_note(7_000, insights.MAX_CUSTOMER_ROWS)
    assert capped == "The first 5,000 of 7,000 transactions are shown."
    assert "holds 4" in (insights.transactions_note(5, 4) or "")


def test_sql_console_shows_and_downloads_large_decimals_exactly(
    markdown_workspace: Path,
) -> None:
    """A browser grid holds numbers as floats: 99999999999999.99 would show as
    100000000000000.00. The console shows such a column as its exact text."""
    at = open_page("pages/sql.py")
    at.text_area(key="sql_text").set_value(
        "select 99999999999999.99::decimal(18, 2) as money, 12.5::decimal(18, 2) as small"
    )
    next(b for b in at.button if "Run query" in str(b.label)).click().run()
    assert not at.exception
    shown = next(frame.value for frame in at.dataframe if "money" in frame.value.columns)
    assert list(shown["money"]) == ["99999999999999.99"]
    assert float(shown["small"].iloc[0]) == 12.5


def test_sql_console_shows_nan_apart_from_null(markdown_workspace: Path) -> None:
    """`select 'nan'::double` showed NULL, as a NULL does; the CSV had both empty."""
    at = open_page("pages/sql.py")
    at.text_area(key="sql_text").set_value(
        "select * from (values ('nan'::double, 1), (null, 2), ('inf'::double, 3)) t(x, k) "
        "order by k"
    )
    next(b for b in at.button if "Run query" in str(b.label)).click().run()
    assert not at.exception
    shown = next(frame.value for frame in at.dataframe if "x" in frame.value.columns)
    assert [None if pd.isna(v) else v for v in shown["x"]] == ["nan", None, "inf"]


def test_sql_console_shows_dates_as_dates(markdown_workspace: Path) -> None:
    """A DATE came to the grid as a timestamp at midnight (2024-01-15 00:00:00); its
    column is now configured as a date, and the money beside it to the cent."""
    at = open_page("pages/sql.py")
    at.text_area(key="sql_text").set_value(
        "select date '2024-01-15' as day, 12.5::decimal(18, 2) as amount"
    )
    next(b for b in at.button if "Run query" in str(b.label)).click().run()
    assert not at.exception
    grid = next(frame for frame in at.dataframe if "day" in frame.value.columns)
    config = json.loads(grid.proto.columns)
    assert config["day"]["type_config"] == {"type": "date", "format": "YYYY-MM-DD"}
    assert config["amount"]["type_config"]["format"] == "%.2f"


def test_the_sidebar_says_what_a_build_worked_around(tmp_path: Path) -> None:
    """A build that could not start from the published file (cut short) starts from an
    older build's file and says so: the sidebar shows that note."""
    import os

    from mart import db

    with published_workspace(tmp_path / "ws") as root:
        manager = BuildManager(Workspace(root), prewarm_after_build=False)
        try:
            second = manager.request_build()
            db.close_path(Path(second.db_path))
            os.truncate(second.db_path, 1_000_000)
            third = manager.request_build()
        finally:
            manager.shutdown()
        assert third.notes
        at = app_test()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        warnings = " ".join(str(w.value) for w in at.sidebar.warning)
        assert f"The published build {second.build_id}'s file" in warnings
        assert "starts from build 1's file" in warnings

"""AppTest of the frame, the sidebar and the Overview, Data and Build & Tests pages.

What AppTest cannot do (edit data_editor cells, see charts) is in tests/browser/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mart import datasets
from mart.workspace import Workspace
from tests.app.conftest import app_manager, app_test, stop_app_builds, wait_for_builds

PAGES = ["pages/overview.py", "pages/data.py", "pages/build.py"]
DATA_TABS = ["Upload", "Edit", "Generate", "History", "Break it"]


def texts(at) -> str:  # noqa: ANN001 - an AppTest
    """Every markdown, caption, text and alert of the last run, one per line."""
    parts = []
    for kind in ("markdown", "caption", "text", "success", "info", "warning", "error"):
        parts += [str(element.value) for element in getattr(at, kind)]
    return "\n".join(parts)


def assert_clean(at) -> None:  # noqa: ANN001
    assert not at.exception, [e.value for e in at.exception]


def run_page(at, page: str, tab: str | None = None):  # noqa: ANN001, ANN201
    at.switch_page(page)
    if tab is not None:
        at.session_state["data_tab"] = tab
    at.run()
    assert_clean(at)
    return at


# -- an empty workspace ----------------------------------------------------------------------


def test_empty_workspace_starts_the_first_build_and_no_page_fails(workspace: Path) -> None:
    at = app_test()
    at.run()
    assert_clean(at)
    try:
        sidebar = texts(at)
        # The first start builds the sample by itself, and the sidebar shows it.
        assert "Build #1 running" in sidebar or "Published build #1" in sidebar, sidebar
        assert "transactions" in sidebar and "v1" in sidebar
        for page in PAGES:
            run_page(at, page)
        for tab in DATA_TABS:
            run_page(at, "pages/data.py", tab)
    finally:
        stop_app_builds(workspace)


def test_upload_through_file_uploader_with_other_column_names(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MART_AUTOBUILD", "0")
    at = app_test()
    at.run()
    run_page(at, "pages/data.py", "Upload")
    csv = (
        b"Client,When,Total,Kind\n"
        b"X1,2024-03-01,12.50,Audio\n"
        b'X2,2024-03-02,"1,200.00",Gaming\n'
        b"<script>alert(1)</script>,2024-03-03,5,Audio\n"
    )
    at.file_uploader(key="upload_file").set_value(("shop.csv", csv, "text/csv"))
    at.run()
    assert_clean(at)
    # Suggested: Client -> customer_id, Total -> amount; "When" is not a known synonym.
    assert at.selectbox(key="upload_map_transactions_customer_id").value == "Client"
    assert at.selectbox(key="upload_map_transactions_amount").value == "Total"
    assert at.error, "a required field without a column must be reported"
    assert at.button(key="upload_save").disabled

    at.selectbox(key="upload_map_transactions_transaction_date").set_value("When")
    at.selectbox(key="upload_map_transactions_product_category").set_value("Kind")
    at.run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    assert not at.button(key="upload_save").disabled
    at.button(key="upload_save").click()
    at.run()
    assert_clean(at)
    assert any("Saved transactions v2" in s.value for s in at.success), texts(at)

    frame = datasets.read_records(Workspace(workspace), "transactions")
    assert list(frame["customer_id"]) == ["X1", "X2", "<script>alert(1)</script>"]
    assert list(frame["amount"]) == ["12.50", "1200.00", "5.00"]
    assert list(frame["product_category"]) == ["Audio", "Gaming", "Audio"]

    # Saved: no second Save of the same file (it would save it again), and the page
    # keeps saying what was saved on its next runs.
    assert not [b for b in at.button if b.key == "upload_save"]
    assert any("Saving this one again would" in str(c.value) for c in at.caption)
    at.run()
    assert any("Saved transactions v2" in s.value for s in at.success), texts(at)
    # Appending the same file: the ids already in the dataset are said before the save.
    at.radio(key="upload_mode").set_value("append").run()
    assert_clean(at)
    save = at.button(key="upload_save")
    assert not save.disabled
    warned = " ".join(str(w.value) for w in at.warning)
    assert "ids already in the dataset (3)" in warned, warned
    save.click().run()
    assert_clean(at)
    assert any("Saved transactions v3" in s.value for s in at.success), texts(at)
    assert any("3 appended rows have an id that was already" in str(w.value) for w in at.warning)
    assert not [b for b in at.button if b.key == "upload_save"]
    assert len(datasets.read_records(Workspace(workspace), "transactions")) == 6


def test_upload_shows_how_values_are_read_and_takes_spreadsheet_date_letters(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = (
        b"id,customer,date,amount\n"
        b'1,C1,03/04/2024,"$1,250.00"\n'
        b"2,C2,05/04/2024,(12.50)\n"
        b"3,C3,06/04/2024,7.5\n"
    )
    at = _uploaded(monkeypatch, "messy.csv", csv)
    # No day above 12: the order is asked for, once in full, then "same reason".
    [problems] = [table.value for table in at.table if "problem" in table.value.columns]
    assert "day/month order is ambiguous" in problems.loc["row 1", "problem"]
    assert problems.loc["row 2", "problem"] == "cannot read as a date (same reason as row 1)"
    assert at.button(key="upload_save").disabled
    at.text_input(key="upload_date_format").set_value("dd/mm/yyyy").run()
    assert_clean(at)
    assert "Date format 'dd/mm/yyyy' read as %d/%m/%Y." in texts(at)
    readings = next(d.value for d in at.dataframe if "loads as" in d.value.columns)
    shown = list(zip(readings["field"], readings["in the file"], readings["loads as"], strict=True))
    assert shown == [
        ("transaction_date", "03/04/2024", "2024-04-03"),
        ("amount", "$1,250.00", "1250.00"),
        ("amount", "(12.50)", "-12.50"),
    ]
    assert list(readings["values like it"]) == [3, 1, 1]
    at.button(key="upload_save").click().run()
    assert_clean(at)
    frame = datasets.read_records(Workspace(workspace), "transactions")
    assert list(frame["transaction_date"]) == ["2024-04-03", "2024-04-05", "2024-04-06"]
    assert list(frame["amount"]) == ["1250.00", "-12.50", "7.50"]


def _uploaded(monkeypatch: pytest.MonkeyPatch, name: str, data: bytes) -> AppTest:
    """Upload ``data`` as ``name`` on an empty workspace (no first build) and return the app."""
    monkeypatch.setenv("MART_AUTOBUILD", "0")
    at = app_test()
    at.run()
    run_page(at, "pages/data.py", "Upload")
    at.file_uploader(key="upload_file").set_value((name, data, "text/csv"))
    at.run()
    assert_clean(at)
    return at


def test_the_decimal_mark_question_is_answered_on_the_page(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A German export with whole-euro amounts (1.249, 2.500): the load asks whether the
    point groups thousands; the page's decimal mark answers it."""
    csv = (
        b"Buchungs-ID;Kunde;Datum;Betrag;Kategorie\n"
        b"1;K1;15.01.2024;1.249;Audio\n"
        b"2;K2;16.01.2024;2.500;Gaming\n"
        b"3;K3;17.01.2024;315;Audio\n"
    )
    at = _uploaded(monkeypatch, "buchungen.csv", csv)
    for field, column in (
        ("transaction_id", "Buchungs-ID"),
        ("customer_id", "Kunde"),
        ("transaction_date", "Datum"),
        ("amount", "Betrag"),
        ("product_category", "Kategorie"),
    ):
        at.selectbox(key=f"upload_map_transactions_{field}").set_value(column)
    at.text_input(key="upload_date_format").set_value("%d.%m.%Y")
    at.run()
    assert_clean(at)
    [problems] = [table.value for table in at.table if "problem" in table.value.columns]
    said = " ".join(problems["problem"].astype(str))
    assert "decimal mark or a thousands separator" in said, said
    # The page points to its own choice (the problem's text names the CLI flag first).
    assert any("Decimal mark of the amounts" in str(i.value) for i in at.info), texts(at)
    assert at.button(key="upload_save").disabled
    at.selectbox(key="upload_decimal_mark").set_value("comma").run()
    assert_clean(at)
    at.button(key="upload_save").click().run()
    assert_clean(at)
    assert any("Saved transactions v2" in s.value for s in at.success), texts(at)
    frame = datasets.read_records(Workspace(workspace), "transactions")
    assert list(frame["amount"]) == ["1249.00", "2500.00", "315.00"]


def test_warnings_that_change_the_money_are_shown_open(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mixed currencies and unpaid payments were said only inside a closed "Warnings by
    row"; the banner said "These rows load as they are", and Save was one click away."""
    csv = (
        b"id,Created,Amount,Currency,Status,Customer ID\n"
        b"ch_1,2024-01-15,100.00,eur,Paid,cus_1\n"
        b"ch_2,2024-01-16,100.00,usd,Refunded,cus_2\n"
    )
    at = _uploaded(monkeypatch, "stripe.csv", csv)
    shown = texts(at)
    assert "Check these before saving" in shown and "mixed currencies" in shown, shown
    [expander] = [e for e in at.expander if e.label == "Warnings by row"]
    assert expander.proto.expanded
    # A file whose warnings do not touch the money keeps the list closed.
    at.file_uploader(key="upload_file").set_value(
        ("dates.csv", b"id,customer,date,amount\n1,C1,16/01/2024,1.00\n", "text/csv")
    )
    at.run()
    assert_clean(at)
    [expander] = [e for e in at.expander if e.label == "Warnings by row"]
    assert not expander.proto.expanded and "Check these before saving" not in texts(at)


def test_upload_warnings_are_counted_by_kind_and_listed_in_file_order(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The banner said "4 warning(s)" (rows counted) above a list of other lines, and the
    list ran kind by kind: row 4, row 3, row 2, row 5."""
    csv = (
        b"id,customer,date,amount\n1,C1,2024-01-15,10.00\n2,C2,2031-01-16,20.00\n"
        b"3,C3,2024-01-17,-5.00\n4,C4,16/01/2024,5.00\n5,C4,2032-01-18,5.00\n"
    )
    at = _uploaded(monkeypatch, "mixed.csv", csv)
    [banner] = [w.value for w in at.warning if "future dates" in w.value]
    assert "future dates (2)" in banner and "negative amounts (1)" in banner, banner
    assert "warning(s)" not in banner
    [listed] = [table.value for table in at.table if "problem" in table.value.columns]
    assert list(listed.index) == ["row 2", "row 3", "row 4", "row 5"]


def test_an_unreadable_upload_is_refused_with_a_sentence(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _uploaded(monkeypatch, "broken.csv", b"\x00\x01\x02PK")
    assert at.error
    assert datasets.head(Workspace(workspace), "transactions").id == 1


def test_file_level_problems_say_whole_file_not_none(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _uploaded(monkeypatch, "empty.csv", b"")
    [problems] = [table.value for table in at.table if "problem" in table.value.columns]
    assert list(problems.index) == ["whole file"]
    assert "None" not in problems.astype(str).to_numpy().ravel().tolist()


# -- a built workspace (module-scoped; tests run in order) ---------------------------------------


def test_every_page_on_a_built_workspace(built_workspace: Path) -> None:
    at = app_test()
    at.run()
    assert_clean(at)
    assert "Published build #1" in texts(at)
    for page in PAGES:
        run_page(at, page)
    for tab in DATA_TABS:
        run_page(at, "pages/data.py", tab)
    run_page(at, "pages/overview.py")
    # the layers picture lists the published build's tables with their rows
    [layers] = [
        element.proto.body for element in at.get("html") if "mart-layers" in element.proto.body
    ]
    assert "raw_<wbr>transactions<wbr> ·\u00a08" in layers and 'data-layer="marts"' in layers
    metrics = {metric.label: metric.value for metric in at.metric}
    # The exercise's sample: 4 buyers + 1 browser, $1,635.48 over 8 transactions.
    # buyers, as on the Customers page (C005 only browsed; the help text counts it)
    assert metrics["Buying customers"] == "4"
    assert metrics["Revenue"] == "$1,635.48"
    assert metrics["Avg lifetime value"] == "$408.87"
    assert metrics["Repeat rate"] == "50.0%"  # as on Customers and Retention


def test_rebuild_flow_publishes_the_next_build(built_workspace: Path) -> None:
    at = app_test()
    at.run()
    at.button(key="sidebar_rebuild").click()
    at.run()
    assert_clean(at)
    wait_for_builds(built_workspace)
    at.run()
    assert_clean(at)
    assert "Published build #2" in texts(at), texts(at)
    # Nothing changed: build #2 reused every node of build #1, and the Build page says so.
    run_page(at, "pages/build.py")
    assert (
        "did not run again: their data, SQL and vars are as in build 1, whose results they "
        "keep." in texts(at)
    )
    tests_table = next(
        frame.value for frame in at.dataframe if "ran_in" in getattr(frame.value, "columns", ())
    )
    assert set(tests_table["ran_in"].dropna()) <= {"#1", "#2"}
    assert "#1" in set(tests_table["ran_in"])
    run_page(at, "pages/overview.py")
    assert "compared with build #1" in texts(at)
    # A rollback: build #1 published again compares with #2, the build live before it.
    app_manager(built_workspace).publish(1)
    run_page(at, "pages/overview.py")
    assert "Build #1 compared with build #2, the build that was live before it" in texts(at)


def test_cancel_stops_a_running_build_and_keeps_the_published_one(
    built_workspace: Path,
) -> None:
    manager = app_manager(built_workspace)
    published = manager.published()
    at = app_test()
    at.run()
    # Rebuild everything: every node runs (a Rebuild with nothing changed reuses them
    # all and is over before a click could cancel it).
    run_page(at, "pages/build.py")
    at.button(key="build_rebuild_everything").click()
    at.run()
    assert_clean(at)
    running = manager.running_build() or manager.current_build()
    assert running is not None and running.reuse == {"enabled": False}
    assert at.button(key="sidebar_rebuild").disabled  # one build at a time
    at.button(key="sidebar_cancel").click()
    at.run()
    assert_clean(at)
    wait_for_builds(built_workspace)
    at.run()
    latest = manager.current_build()
    assert latest is not None and latest.status == "cancelled", latest
    assert f"Build #{latest.build_id} was cancelled" in texts(at)
    assert manager.published().build_id == published.build_id


def test_break_it_scenario_fails_the_build_and_build_page_shows_the_test(
    built_workspace: Path,
) -> None:
    at = app_test()
    at.run()
    run_page(at, "pages/data.py", "Break it")
    at.button(key="break_build_duplicate_transaction_id").click()
    at.run()
    assert_clean(at)
    assert "unique_stg_transactions_transaction_id" in texts(at)
    wait_for_builds(built_workspace)
    # The build's end reruns the page: the notice stays while the broken version is HEAD.
    run_page(at, "pages/data.py", "Break it")
    notices = [str(success.value) for success in at.success]
    assert any("The next build should fail" in notice for notice in notices), notices

    run_page(at, "pages/build.py")
    failed = app_manager(built_workspace).current_build()
    assert failed is not None and failed.status == "failed", failed
    labels = [expander.label for expander in at.expander]
    assert any("unique_stg_transactions_transaction_id" in label for label in labels), labels
    # dbt skipped the marts after the failing test; the engine built them anyway.
    infos = [info.value for info in at.info]
    assert any("built and ran them anyway" in text for text in infos), infos
    sidebar = texts(at)
    assert f"Build #{failed.build_id} failed" in sidebar
    assert "is still serving" in sidebar
    # The sidebar lists the failing test by name, breakable after its underscores (a
    # narrow column otherwise wraps it in the middle of a word).
    [error] = [e for e in at.sidebar.error if f"Build #{failed.build_id} failed" in e.value]
    assert "- unique\\_\u200bstg\\_\u200btransactions" in error.value
    listed = error.value.replace("\u200b", "").replace("\\", "")
    assert "- unique_stg_transactions_transaction_id" in listed
    # What to do about failing rows is said on Build & Tests, not in the narrow sidebar
    # of every page (it was a long block there).
    assert "Duplicate ids count a record twice" not in listed
    assert any("Duplicate ids count a record twice" in e.value for e in at.main.error)

    # Publish anyway sits behind a confirmation.
    publish = at.button(key="build_publish_anyway")
    assert publish.disabled
    at.checkbox(key=f"build_page_publish_confirm_{failed.build_id}").check()
    at.run()
    # While another build runs, the click is refused rather than queued: that build
    # would publish first and this click would then replace it.
    from mart.builds import BuildLock

    lock = BuildLock(Workspace(built_workspace).lock_path)
    assert lock.acquire(wait=False)
    try:
        at.button(key="build_publish_anyway").click()
        at.run()
    finally:
        lock.release()
    assert any("A build is running" in warning.value for warning in at.warning)
    assert app_manager(built_workspace).published().build_id != failed.build_id
    at.button(key="build_publish_anyway").click()
    at.run()
    assert_clean(at)
    assert app_manager(built_workspace).published().build_id == failed.build_id
    # The picker and the summary say what it is now, not what it was.
    [picker] = [box for box in at.selectbox if box.key.startswith("build_page_build_")]
    assert picker.format_func(failed.build_id) == f"#{failed.build_id} · published"
    assert not any("previous build stays published" in error.value for error in at.error)
    # The pages that show the mart say it failed its tests.
    for page in ("pages/overview.py", "pages/customers.py"):
        run_page(at, page)
        assert_clean(at)
        assert any(
            f"Build #{failed.build_id} was published anyway" in warning.value
            and "unique_stg_transactions_transaction_id" in warning.value.replace("\\", "")
            for warning in at.warning
        ), page
    run_page(at, "pages/build.py")
    sidebar = texts(at)
    assert "all tests passed" not in sidebar
    assert f"Build #{failed.build_id} was published anyway with" in sidebar
    # the summary says it once ("published (published anyway)" before), and the
    # failed build's advice to publish it anyway is gone from its error
    assert f"Build #{failed.build_id} **published anyway**" in sidebar
    assert "**published** (published anyway)" not in sidebar
    assert "publish this build anyway" not in sidebar

    # Undo repairs the data (a new HEAD back at the parent version).
    run_page(at, "pages/data.py", "History")
    at.button(key="history_undo_transactions").click()
    at.run()
    assert_clean(at)
    ws = Workspace(built_workspace)
    assert datasets.head(ws, "transactions").id == 1


def test_generate_tab_saves_new_versions_with_progress(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MART_AUTOBUILD", "0")
    at = app_test()
    at.run()
    run_page(at, "pages/data.py", "Generate")
    at.number_input(key="gen_c").set_value(50)
    at.number_input(key="gen_t").set_value(200)
    at.number_input(key="gen_e").set_value(1000)
    at.number_input(key="gen_seed").set_value(7)
    at.button(key="gen_go").click()
    at.run()
    assert_clean(at)
    saved = [s.value for s in at.success]
    assert any("transactions v2: 200 rows" in text for text in saved), saved
    assert any("events v2: 1,000 rows" in text for text in saved), saved
    ws = Workspace(workspace)
    assert datasets.head(ws, "transactions").row_count == 200
    assert "seed 7" in datasets.head(ws, "transactions").message

    # Events left empty: about 5 per transaction. A fixed default of 25,000 fell below
    # 100,000 transactions and the error named command-line flags.
    at.number_input(key="gen_t").set_value(6_000)
    at.number_input(key="gen_e").set_value(None)
    at.button(key="gen_go").click()
    at.run()
    assert_clean(at)
    assert datasets.head(ws, "events").row_count >= 5 * 6_000
    at.number_input(key="gen_e").set_value(100)
    at.button(key="gen_go").click()
    at.run()
    [error] = at.error
    assert error.value.startswith(
        "The number of events (100) must be at least the number of transactions (6,000)"
    )
    assert "--" not in error.value and not at.exception


def test_uploads_are_pruned_to_the_newest(workspace: Path) -> None:
    """Every uploaded file stayed in workspace/uploads/ forever."""
    import os

    from ui import common

    paths = []
    for number in range(common.KEEP_UPLOADS + 5):
        path = common.save_upload(f"f{number}.csv", f"a,b\n{number},1\n".encode())
        os.utime(path, (1_000_000 + number, 1_000_000 + number))
        paths.append(path)
    common.save_upload("f0.csv", b"a,b\n0,1\n")  # in use again: kept
    common.save_upload("new.csv", b"a,b\nnew,1\n")
    left = set((Path(workspace) / "uploads").iterdir())
    assert len(left) == common.KEEP_UPLOADS
    assert paths[0] in left and paths[-1] in left and paths[1] not in left


def _events_upload_tab(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The Data page's Upload tab with the events dataset picked (no autobuild)."""
    monkeypatch.setenv("MART_AUTOBUILD", "0")
    at = app_test()
    at.run()
    run_page(at, "pages/data.py", "Upload")
    at.radio(key="upload_dataset").set_value("events").run()
    return at


def test_upload_of_nested_json_events_maps_keys_inside_objects(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Mixpanel-style export: the customer, time and category sit inside
    `properties`, the time in Unix seconds. The keys' columns are offered and suggested,
    and the date format `unix` reads the times."""
    at = _events_upload_tab(monkeypatch)
    records = [
        {
            "event": ["page_view", "purchase"][i % 2],
            "properties": {
                "distinct_id": f"U{i % 2}",
                "time": 1705312800 + 60 * i,
                "$insert_id": f"ins-{i}",
                "category": "Audio",
            },
        }
        for i in range(4)
    ]
    data = "".join(json.dumps(record) + "\n" for record in records).encode()
    at.file_uploader(key="upload_file").set_value(("mixpanel.jsonl", data, "application/json"))
    at.run()
    assert_clean(at)
    assert at.selectbox(key="upload_map_events_customer_id").value == "properties.distinct_id"
    assert at.selectbox(key="upload_map_events_event_timestamp").value == "properties.time"
    assert at.button(key="upload_save").disabled  # Unix times are not read unasked
    at.text_input(key="upload_date_format").set_value("unix").run()
    assert_clean(at)
    assert not at.button(key="upload_save").disabled, texts(at)
    at.button(key="upload_save").click().run()
    assert_clean(at)
    frame = datasets.read_records(Workspace(workspace), "events")
    assert list(frame["customer_id"]) == ["U0", "U1", "U0", "U1"]
    assert list(frame["event_timestamp"])[:2] == ["2024-01-15T10:00:00", "2024-01-15T10:01:00"]
    assert list(frame["event_id"])[:1] == ["ins-0"]


def test_upload_of_events_with_a_date_and_a_time_column_suggests_them_joined(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _events_upload_tab(monkeypatch)
    data = b"Date,Time,User ID,Event\n2024-01-15,10:00,C1,page_view\n2024-01-15,10:05,C1,purchase\n"
    at.file_uploader(key="upload_file").set_value(("split.csv", data, "text/csv"))
    at.run()
    assert_clean(at)
    assert at.selectbox(key="upload_map_events_event_timestamp").value == "Date + Time"
    assert not at.button(key="upload_save").disabled, texts(at)
    at.button(key="upload_save").click().run()
    assert_clean(at)
    frame = datasets.read_records(Workspace(workspace), "events")
    assert list(frame["event_timestamp"]) == ["2024-01-15T10:00:00", "2024-01-15T10:05:00"]


def test_upload_of_transactions_with_a_time_column_offers_no_joined_column(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction needs only its date: the Date + Time column made for events was
    offered in the transactions mapping too."""
    monkeypatch.setenv("MART_AUTOBUILD", "0")
    at = app_test()
    at.run()
    run_page(at, "pages/data.py", "Upload")
    data = b"Date,Time,Customer,Amount\n2024-01-15,10:00,C1,5.00\n"
    at.file_uploader(key="upload_file").set_value(("sales.csv", data, "text/csv"))
    at.run()
    assert_clean(at)
    options = at.selectbox(key="upload_map_transactions_transaction_date").options
    assert "Date" in options and "Date + Time" not in options
    assert at.selectbox(key="upload_map_transactions_transaction_date").value == "Date"

"""mart.overview, mart.scenarios and mart.timeline on real builds of one workspace.

The module builds a workspace a few times with the build engine (as the app does):
#1 the exercise's sample, #2 after an edit that adds a customer and moves one between
segments, then the break-it scenarios — those that break staging together in one
build, and those caught in bronze (which skip everything downstream) in another.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from mart import datasets, db, overview, scenarios, timeline
from mart.builds import BuildManager, BuildRecord
from mart.errors import NotFoundError
from mart.workspace import Workspace

STAGING_SCENARIOS = [
    "duplicate_transaction_id",
    "negative_amount",
    "future_date",
    "missing_customer_id",
    "unknown_event_type",
    "duplicate_event_id",
]
BRONZE_SCENARIOS = ["unreadable_amount", "unreadable_date"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("overview") / "workspace"
    root.mkdir()
    return Workspace(root)


@pytest.fixture(scope="module")
def manager(ws: Workspace) -> Iterator[BuildManager]:
    build_manager = BuildManager(ws, prewarm_after_build=False)
    yield build_manager
    build_manager.shutdown()
    db.close_all()


@pytest.fixture(scope="module")
def builds(ws: Workspace, manager: BuildManager) -> tuple[BuildRecord, BuildRecord]:
    """Build #1 (the sample) and #2 (C002's T006 raised to 225.00, new customer C999)."""
    first = manager.request_build()
    assert first.status == "published", first.summary()
    frame = datasets.read_records(ws, "transactions")
    t006 = int(frame.loc[frame["transaction_id"] == "T006", "record_number"].iloc[0])
    head = datasets.head(ws, "transactions")
    datasets.apply_edits(
        ws,
        "transactions",
        head.id,
        updates={t006: {"amount": "225.00"}},
        inserts=[
            {
                "transaction_id": "T100",
                "customer_id": "C999",
                "transaction_date": "2024-02-25",
                "amount": "20.00",
                "product_category": "Audio",
            }
        ],
    )
    second = manager.request_build()
    assert second.status == "published", second.summary()
    return first, second


# -- overview --------------------------------------------------------------------------------


def test_kpis_of_the_sample(builds: tuple[BuildRecord, BuildRecord]) -> None:
    first, _ = builds
    kpis = overview.kpis(first.db_path)
    assert kpis.customers == 5  # four buyers and one visitor who only browsed
    assert kpis.buyers == 4
    assert kpis.revenue == Decimal("1635.48")
    assert kpis.avg_lifetime_value == Decimal("408.87")  # 408.87 exactly: 1635.48 / 4
    assert kpis.transactions == 8
    assert kpis.repeat_customers == 2
    assert kpis.repeat_rate == 0.5
    assert kpis.segments == {"High Value": 1, "Medium Value": 3, "Low Value": 0}


def test_divide_money_rounds_half_away_from_zero() -> None:
    assert overview.divide_money(Decimal("1.00"), 8) == Decimal("0.13")  # 0.125
    assert overview.divide_money(Decimal("-1.00"), 8) == Decimal("-0.13")
    assert overview.divide_money(Decimal("10"), 0) == Decimal("0.00")


def test_what_changed_between_two_builds(builds: tuple[BuildRecord, BuildRecord]) -> None:
    first, second = builds
    changes = overview.what_changed(second.db_path, first.db_path, first.build_id)
    assert changes.before_build == first.build_id
    assert (changes.added, changes.removed, changes.moved) == (1, 0, 1)
    assert changes.unchanged == 4
    assert changes.added_examples == ["C999"] and changes.removed_examples == []
    # the other way round, the customer is removed, and named (only added ones were)
    back = overview.what_changed(first.db_path, second.db_path, second.build_id)
    assert (back.added, back.removed, back.removed_examples) == (0, 1, ["C999"])
    moves = changes.moves.to_dict("records")
    assert moves == [{"from_segment": "Medium Value", "to_segment": "High Value", "customers": 1}]
    assert changes.revenue_before == Decimal("1635.48")
    assert changes.revenue_change == Decimal("120.00")


def test_previous_published_skips_failed_and_missing_builds(
    manager: BuildManager, builds: tuple[BuildRecord, BuildRecord]
) -> None:
    first, second = builds
    history = manager.history()
    assert overview.previous_published(history, second.build_id) == (
        first.build_id,
        first.db_path,
    )
    assert overview.previous_published(history, first.build_id) is None


def test_layer_tables_and_figures(builds: tuple[BuildRecord, BuildRecord]) -> None:
    first, _ = builds
    tables = overview.layer_tables(first.db_path)
    layers = dict(zip(tables["table"], tables["layer"], strict=True))
    assert layers["raw_transactions"] == "bronze"
    assert layers["stg_transactions"] == "staging"
    assert layers["int_customer_transactions"] == "intermediate"
    assert layers["dim_customers"] == "marts"
    rows = dict(zip(tables["table"], tables["rows"], strict=True))
    assert rows["raw_transactions"] == 8 and rows["dim_customers"] == 5
    picture = overview.layers_html(tables)
    boxes = re.findall(r'<div class="mart-layer" data-layer="(\w+)"', picture)
    assert boxes == ["bronze", "staging", "intermediate", "marts"]
    assert picture.count("→") == 3
    # names break after an underscore and keep their count with its dot (a Plotly
    # figure with fixed 20-character lines ran out of its boxes at 800 px)
    assert "stg_<wbr>transactions<wbr> ·\u00a08" in picture
    assert "dim_<wbr>customer_<wbr>segment_<wbr>history<wbr> ·\u00a05" in picture
    assert "… and 4 more" in picture  # 9 marts, 5 listed
    assert "raw JSON records, as loaded" in picture
    bare = overview.layers_html(None)
    assert "Marts" in bare and "<wbr>" not in bare
    hostile = pd.DataFrame([{"layer": "marts", "table": "dim_<b>x</b>", "rows": 1}])
    assert "<b>x" not in overview.layers_html(hostile)
    bars = overview.segments_figure({"High Value": 1, "Medium Value": 3, "Low Value": 0})
    assert list(bars.data[0].y) == ["High Value", "Medium Value", "Low Value"]
    # whole customers on the axis: no "0.5 customers" ticks, thousands separated
    assert (bars.layout.xaxis.tickformat, bars.layout.xaxis.dtick) == (",d", 1)
    big = overview.segments_figure({"High Value": 1763, "Medium Value": 1476, "Low Value": 4761})
    assert big.layout.xaxis.tickformat == ",d" and big.layout.xaxis.dtick is None


# -- timeline ----------------------------------------------------------------------------------


def test_timeline_of_a_real_build(
    manager: BuildManager, builds: tuple[BuildRecord, BuildRecord]
) -> None:
    first, _ = builds
    frame = timeline.timeline_frame(manager.events(first.build_id))
    phases = frame[frame["kind"] == "phase"]
    assert "engine: dbt build" in set(phases["name"])
    nodes = frame[frame["kind"] == "node"]
    assert {"stg_transactions", "dim_customers"} <= set(nodes["name"])
    assert (nodes["start_s"] >= 0).all() and (nodes["duration_s"] >= 0).all()
    assert set(nodes["status"]) <= {"success", "pass", "no-op"}  # no-op: the exposure
    stg = nodes[nodes["name"] == "stg_transactions"].iloc[0]
    dim = nodes[nodes["name"] == "dim_customers"].iloc[0]
    assert stg["start_s"] < dim["start_s"]  # staging runs before the marts
    figure = timeline.timeline_figure(frame, show_tests=False)
    shown = {name for trace in figure.data for name in trace.y}
    assert "dim_customers" in shown
    assert not any(name.startswith("not_null_") for name in shown)
    assert len({name for trace in timeline.timeline_figure(frame).data for name in trace.y}) > len(
        shown
    )


def test_timeline_frame_from_synthetic_events() -> None:
    events = [
        {"seq": 0, "ts": "2026-01-01T10:00:00.000+00:00", "type": "build_started"},
        {"seq": 1, "ts": "2026-01-01T10:00:01.000+00:00", "type": "phase", "phase": "copy"},
        {"seq": 2, "ts": "2026-01-01T10:00:01.500+00:00", "type": "phase", "phase": "dbt"},
        {
            "seq": 3,
            "ts": "2026-01-01T10:00:02.000+00:00",
            "type": "node_started",
            "unique_id": "model.a",
            "name": "a",
            "resource_type": "model",
        },
        {
            "seq": 4,
            "ts": "2026-01-01T10:00:02.000+00:00",
            "type": "node_started",
            "unique_id": "test.b",
            "name": "b",
            "resource_type": "test",
        },
        {
            "seq": 5,
            "ts": "2026-01-01T10:00:03.250+00:00",
            "type": "node_finished",
            "unique_id": "model.a",
            "name": "a",
            "resource_type": "model",
            "status": "success",
        },
        {"seq": 6, "ts": "broken", "type": "node_finished", "unique_id": "x"},
        {"seq": 7, "ts": "2026-01-01T10:00:04.000+00:00", "type": "build_finished"},
    ]
    frame = timeline.timeline_frame(events)
    by_name = frame.set_index("name")
    assert by_name.loc["engine: wait for the dbt worker", "duration_s"] == pytest.approx(1.0)
    assert by_name.loc["engine: copy the published mart", "duration_s"] == pytest.approx(0.5)
    assert by_name.loc["engine: dbt build", "duration_s"] == pytest.approx(2.5)
    assert by_name.loc["a", "start_s"] == pytest.approx(2.0)
    assert by_name.loc["a", "duration_s"] == pytest.approx(1.25)
    # b never finished, and the build did: it is not running any more.
    assert by_name.loc["b", "status"] == "not finished"
    assert by_name.loc["b", "duration_s"] == pytest.approx(2.0)  # to the build's end
    assert timeline.status_group(None) == "running"
    assert timeline.timeline_frame([]).empty
    # While the build runs (no build_finished yet), b is running.
    running = timeline.timeline_frame(events[:-1]).set_index("name")
    assert pd.isna(running.loc["b", "status"])
    assert timeline.status_group(running.loc["b", "status"]) == "running"


def _cut_off_build_events(finished_status: str | None) -> list[dict]:
    """A build where one model finished and one was still running when it ended."""
    events = [
        {"ts": "2026-01-01T10:00:00+00:00", "type": "build_started"},
        {"ts": "2026-01-01T10:00:00+00:00", "type": "phase", "phase": "dbt"},
        {
            "ts": "2026-01-01T10:00:01+00:00",
            "type": "node_started",
            "unique_id": "model.p.stg_transactions",
            "name": "stg_transactions",
            "resource_type": "model",
        },
        {
            "ts": "2026-01-01T10:00:02+00:00",
            "type": "node_finished",
            "unique_id": "model.p.stg_transactions",
            "name": "stg_transactions",
            "resource_type": "model",
            "status": "success",
        },
        {
            "ts": "2026-01-01T10:00:02+00:00",
            "type": "node_started",
            "unique_id": "model.p.int_customer_category_spend",
            "name": "int_customer_category_spend",
            "resource_type": "model",
        },
    ]
    if finished_status is not None:
        events.append(
            {"ts": "2026-01-01T10:00:05+00:00", "type": "build_finished", "status": finished_status}
        )
    return events


@pytest.mark.parametrize(
    ("finished_status", "record_status", "expected"),
    [
        ("cancelled", "cancelled", "cancelled"),
        ("failed", "failed", "not finished"),
        # Killed before it logged build_finished: the record says how it ended.
        (None, "failed", "not finished"),
        (None, "cancelled", "cancelled"),
    ],
)
def test_timeline_cut_off_node_of_an_ended_build_is_not_running(
    finished_status: str | None, record_status: str, expected: str
) -> None:
    events = _cut_off_build_events(finished_status)
    frame = timeline.timeline_frame(events, build_status=record_status).set_index("name")
    assert frame.loc["int_customer_category_spend", "status"] == expected
    assert frame.loc["stg_transactions", "status"] == "success"
    figure = timeline.timeline_figure(frame.reset_index())
    legend = {trace.name for trace in figure.data}
    assert "running" not in legend
    assert expected in legend
    [cut_off] = [trace for trace in figure.data if trace.name == expected]
    assert list(cut_off.y) == ["int_customer_category_spend"]
    assert cut_off.marker.color != timeline.STATUS_COLORS["running"]


def test_timeline_running_build_still_shows_running_nodes() -> None:
    events = _cut_off_build_events(None)
    frame = timeline.timeline_frame(events, build_status="running")
    legend = {trace.name for trace in timeline.timeline_figure(frame).data}
    assert "running" in legend
    assert not legend & {"cancelled", "not finished"}


def test_history_and_tests_frames(
    manager: BuildManager, builds: tuple[BuildRecord, BuildRecord]
) -> None:
    history = timeline.history_frame(manager.history())
    assert list(history["build"])[:2] == [builds[1].build_id, builds[0].build_id]
    assert history.iloc[0]["pass"] > 0 and history.iloc[0]["fail"] == 0
    assert "transactions v2" in history.iloc[0]["data"]
    assert history.iloc[0]["vars"] == "defaults"
    assert "background-color" in timeline.status_style("fail")
    assert timeline.status_style("published (live)") != timeline.status_style("failed")


def test_history_frame_shows_each_builds_vars() -> None:
    record = BuildRecord(
        build_id=3,
        status="published",
        started_at="2026-11-26T05:00:00+00:00",
        duration_s=1.0,
        tests={"pass": 5},
        datasets={"transactions": {"version": 4}, "events": {"version": 1}},
        vars={"high_value_threshold": 600, "as_of_date": "2024-03-01"},
        published_anyway=True,
        is_current=True,
    )
    [row] = timeline.history_frame([record]).to_dict("records")
    assert row["vars"] == "as_of_date=2024-03-01, high_value_threshold=600"
    assert row["data"] == "events v1, transactions v4"
    assert row["status"] == "published anyway (live)"
    # Amber, not green: live, but its tests failed.
    assert timeline.status_style(row["status"]) == timeline.status_style("cancelled")
    assert timeline.status_style(row["status"]) != timeline.status_style("published (live)")


def test_history_note_of_a_failed_build_names_its_error_and_its_reused_nodes() -> None:
    nodes = [
        {"unique_id": "model.p.a", "reused_from": 2},
        {"unique_id": "model.p.b", "reused_from": 2},
        {"unique_id": "model.p.c", "reused_from": None},
    ]
    failed = BuildRecord(
        build_id=4,
        status="failed",
        started_at="2026-11-27T05:00:00+00:00",
        error="2 tests failed",
        nodes=nodes,
        tests={"fail": 2},
    )
    published = BuildRecord(
        build_id=5, status="published", started_at="2026-11-27T05:01:00+00:00", nodes=nodes
    )
    plain = BuildRecord(build_id=6, status="published", started_at="2026-11-27T05:02:00+00:00")
    notes = [
        row["note"] for row in timeline.history_frame([failed, published, plain]).to_dict("records")
    ]
    assert notes == ["2 tests failed; 2 unchanged nodes reused", "2 unchanged nodes reused", ""]


# -- scenarios ---------------------------------------------------------------------------------


def _failed_tests(record: BuildRecord) -> dict[str, str]:
    return {test["name"]: test["status"] for test in record.failing_tests}


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(NotFoundError, match="Known scenarios"):
        scenarios.get("set_fire_to_it")


def test_staging_scenarios_each_fail_their_named_test(
    ws: Workspace, manager: BuildManager, builds: tuple[BuildRecord, BuildRecord]
) -> None:
    published = manager.published()
    assert published is not None
    heads = {name: datasets.head(ws, name).id for name in ("transactions", "events")}
    applied = [scenarios.apply(ws, key) for key in STAGING_SCENARIOS]
    for item in applied:
        assert item.version.message.startswith("Break it:")
        assert item.scenario.test in item.version.message
    record = manager.request_build()
    assert record.status == "failed" and record.failure == "tests", record.summary()
    failed = _failed_tests(record)
    for item in applied:
        found = scenarios.failing_tests_for(item.scenario, list(failed))
        assert found, f"{item.scenario.key}: {item.scenario.test} not among {sorted(failed)}"
        expected = "warn" if item.scenario.severity == "warn" else "fail"
        assert {failed[name] for name in found} == {expected}
    # The last good mart stays published.
    assert manager.published().build_id == published.build_id

    # Undo repairs it: one undo per scenario, back to the versions before.
    for item in reversed(applied):
        datasets.undo(ws, item.scenario.dataset)
    assert {name: datasets.head(ws, name).id for name in heads} == heads


def test_bronze_scenarios_fail_the_readability_test(
    ws: Workspace, manager: BuildManager, builds: tuple[BuildRecord, BuildRecord]
) -> None:
    applied = [scenarios.apply(ws, key) for key in BRONZE_SCENARIOS]
    frame = datasets.read_records(ws, "transactions")
    assert "twelve" in set(frame["amount"]) and "31/02/2024" in set(frame["transaction_date"])
    record = manager.request_build()
    assert record.status == "failed", record.summary()
    # The readability test names the bronze rows. dbt skips staging after it; the
    # engine builds staging anyway, where those values are null, so the not_null
    # tests (which plain dbt build would have skipped) fail as well.
    assert _failed_tests(record) == {
        "raw_transactions_fields_are_readable": "fail",
        "not_null_stg_transactions_amount": "fail",
        "not_null_stg_transactions_transaction_date": "fail",
    }
    for item in reversed(applied):
        datasets.undo(ws, item.scenario.dataset)


def test_future_date_scenario_dates_after_today(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "workspace")
    applied = scenarios.apply(ws, "future_date")
    assert applied.scenario.test == "not_after_as_of_date_stg_transactions_transaction_date"
    frame = datasets.read_records(ws, "transactions", applied.version.id)
    added = frame[frame["transaction_id"].str.startswith(scenarios.SCENARIO_PREFIX)]
    assert len(added) == 1
    assert date.fromisoformat(added.iloc[0]["transaction_date"]) > date.today()
    assert applied.version.parent == 1 and applied.version.kind == "edit"


def test_every_scenario_names_a_test_of_the_project() -> None:
    yml = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (Path(__file__).resolve().parents[2] / "dbt_project" / "models").rglob("*.yml")
    )
    for scenario in scenarios.SCENARIOS:
        if scenario.test.startswith("raw_"):
            assert scenario.test in yml  # a named source test
        else:
            assert scenario.test.split("_stg_")[0] in yml  # the generic test it comes from


def _fake_test(
    name: str, status: str | None, kind: str = "generic", reused_from: int | None = None
) -> SimpleNamespace:
    """A stand-in for ``mart.artifacts.TestResult`` with what ``tests_frame`` reads."""
    return SimpleNamespace(
        status=status,
        name=name,
        kind=kind,
        model_name="m",
        column_name=None,
        failures=0,
        severity="ERROR",
        message=None,
        reused_from=reused_from,
    )


def test_tests_frame_says_which_build_ran_each_test() -> None:
    test = _fake_test
    frame = timeline.tests_frame(
        [test("ran", "pass"), test("kept", "pass", reused_from=3), test("skipped", None)],
        build_id=5,
    )
    ran_in = dict(zip(frame["name"], frame["ran_in"], strict=True))
    assert ran_in["ran"] == "#5" and ran_in["kept"] == "#3"
    assert pd.isna(ran_in["skipped"])  # no build ran it: the grid shows a dash
    assert list(frame.columns[:3]) == ["status", "ran_in", "name"]


def test_tests_frame_shows_unit_tests_left_out_as_passed_where_they_ran() -> None:
    """A build that did not re-run the unit tests shows them passed in the build that ran
    them, as its note says, not as "not run"; a data test that did not run stays so."""
    tests = [_fake_test("unit_a", None, kind="unit"), _fake_test("data_b", None)]
    frame = timeline.tests_frame(tests, build_id=7, unit_tests_passed_in=2)
    rows = {row["name"]: (row["status"], row["ran_in"]) for _, row in frame.iterrows()}
    assert rows["unit_a"] == ("pass", "#2")
    assert rows["data_b"][0] == "not run" and pd.isna(rows["data_b"][1])
    # a build that ran them (or has no record of them) keeps "not run"
    frame = timeline.tests_frame(tests, build_id=7)
    assert set(frame["status"]) == {"not run"}

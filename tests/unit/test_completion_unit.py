"""Completing a build after failing tests: what is held back, how it is shown.

The real builds are in tests/build (test_lifecycle, test_warm_worker_and_cli); these
cover the pieces on made-up results and events.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mart import timeline
from mart.builds import BuildRecord, failure_advice
from mart.worker import held_back


def _result(kind: str, name: str, status: str) -> SimpleNamespace:
    node = SimpleNamespace(resource_type=kind, name=name, unique_id=f"{kind}.p.{name}")
    return SimpleNamespace(node=node, status=status)


def _execution(*results: SimpleNamespace) -> SimpleNamespace:
    return SimpleNamespace(results=list(results))


def test_held_back_lists_what_failing_tests_skipped_as_selectors() -> None:
    execution = _execution(
        _result("model", "stg_transactions", "success"),
        _result("test", "unique_stg_transactions_transaction_id", "fail"),
        _result("test", "not_null_stg_transactions_customer_id", "pass"),
        _result("model", "fct_customer_metrics", "skipped"),
        _result("unit_test", "test_segment_boundaries", "skipped"),
        _result("snapshot", "customers_snapshot", "skipped"),
        _result("test", "unique_dim_customers_customer_id", "skipped"),
        _result("exposure", "mart_explorer_app", "skipped"),
        _result("operation", "hook", "success"),
    )
    held = held_back(execution)
    assert held == {
        "nodes": ["fct_customer_metrics", "customers_snapshot", "exposure:mart_explorer_app"],
        "tests": ["test_segment_boundaries", "unique_dim_customers_customer_id"],
        "ids": [
            "model.p.fct_customer_metrics",
            "unit_test.p.test_segment_boundaries",
            "snapshot.p.customers_snapshot",
            "test.p.unique_dim_customers_customer_id",
            "exposure.p.mart_explorer_app",
        ],
    }


@pytest.mark.parametrize(
    "results",
    [
        # everything passed
        [("model", "a", "success"), ("test", "t", "pass")],
        # a warning does not skip anything
        [("model", "a", "success"), ("test", "t", "warn"), ("model", "b", "success")],
        # a model failed: what depends on it cannot be built, tests or not
        [("test", "t", "fail"), ("model", "a", "error"), ("model", "b", "skipped")],
        # a test could not even run
        [("test", "t", "error"), ("model", "b", "skipped")],
        # a test failed but nothing was downstream of it
        [("model", "a", "success"), ("test", "t", "fail")],
        # no results at all
        [],
    ],
)
def test_nothing_is_held_back_unless_failing_tests_skipped_nodes(
    results: list[tuple[str, str, str]],
) -> None:
    assert held_back(_execution(*(_result(*item) for item in results))) is None
    assert held_back(None) is None


def _record(status: str, **extra: Any) -> BuildRecord:
    nodes = [
        {"unique_id": "model.p.stg", "resource_type": "model", "status": "success"},
        {"unique_id": "test.p.unique_stg", "resource_type": "test", "status": "fail"},
        {"unique_id": "model.p.dim", "resource_type": "model", "status": "success"},
        {"unique_id": "snapshot.p.snap", "resource_type": "snapshot", "status": "success"},
        {"unique_id": "test.p.dim_a", "resource_type": "test", "status": "pass"},
        {"unique_id": "test.p.dim_b", "resource_type": "test", "status": "fail"},
        {"unique_id": "exposure.p.app", "resource_type": "exposure", "status": "no-op"},
    ]
    completed = ["model.p.dim", "snapshot.p.snap", "test.p.dim_a", "test.p.dim_b"]
    completed.append("exposure.p.app")
    return BuildRecord(
        build_id=4, status=status, started_at="", nodes=nodes, completed=completed, **extra
    )


def test_completion_note_counts_what_ran_anyway_and_what_failed() -> None:
    failed = _record("failed", failure="tests").completion_note()
    assert failed is not None
    assert "skipped 2 models and snapshots downstream and 2 of their tests" in failed
    assert (
        "not published" in failed
        and "Of the 2 tests run anyway, 1 fails; it is counted in the failing tests listed."
        in failed
    )
    published = _record("published", failure="tests", published_anyway=True).completion_note()
    assert published is not None and "this published mart" in published
    assert BuildRecord(build_id=1, status="published", started_at="").completion_note() is None
    # Stored and read back like every other field of the record.
    again = BuildRecord.from_dict(_record("failed").to_dict())
    assert again.completed == _record("failed").completed


def test_completion_note_names_a_model_that_failed_to_build() -> None:
    """A model that errors while the engine builds what tests held back is said, with
    dbt's reason (not its "Runtime Error in model" heading), and is not counted as a
    failing test."""
    record = _record("failed", failure="tests")
    for node in record.nodes:
        if node["unique_id"] == "model.p.dim":
            node.update(
                name="dim",
                status="error",
                message="Runtime Error in model dim (models/dim.sql)\n  Conversion Error: "
                "Failed to cast decimal value 9999999999999999990 to type INT64\n  \n  LINE 9",
            )
        if node["unique_id"] == "snapshot.p.snap":
            node["status"] = "skipped"
        if node["unique_id"].startswith("test.p.dim_"):
            node["status"] = "error"
    note = record.completion_note()
    assert note is not None
    assert (
        "But model dim failed to build (Conversion Error: Failed to cast decimal value "
        "9999999999999999990 to type INT64), so what depends on it was not built"
    ) in note, note
    # the two tests, not the model
    assert "Of the 2 tests run anyway, 2 fail; they are counted in the failing tests" in note


def _event(seq: int, second: float, kind: str, **fields: Any) -> dict[str, Any]:
    return {"seq": seq, "ts": f"2026-01-01T10:00:{second:06.3f}+00:00", "type": kind, **fields}


def test_the_timeline_shows_the_run_that_followed_a_skip() -> None:
    dim = {"unique_id": "model.p.dim", "name": "dim", "resource_type": "model"}
    events = [
        _event(1, 0.0, "phase", phase="dbt"),
        _event(2, 0.5, "node_started", **dim),
        _event(3, 0.5, "node_finished", status="skipped", **dim),
        _event(4, 1.0, "phase", phase="complete", total=1),
        _event(5, 1.25, "node_started", **dim),
        _event(6, 1.75, "node_finished", status="success", **dim),
        _event(7, 2.0, "build_finished"),
    ]
    frame = timeline.timeline_frame(events)
    rows = frame[frame["name"] == "dim"]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["status"] == "success"
    assert row["start_s"] == pytest.approx(1.25) and row["duration_s"] == pytest.approx(0.5)
    phase = frame.set_index("name").loc["engine: build what failing tests held back"]
    assert phase["duration_s"] == pytest.approx(1.0)


def test_the_sidebar_progress_moves_forward_through_the_completion() -> None:
    from ui.sidebar import _progress

    def node(seq: int, kind: str, uid: str, status: str | None = None) -> dict[str, Any]:
        return _event(seq, 1.0, kind, unique_id=uid, name=uid, status=status)

    events = [
        {"type": "plan", "total": 4},
        node(1, "node_finished", "a", "success"),
        node(2, "node_finished", "t", "fail"),
        node(3, "node_finished", "b", "skipped"),
        node(4, "node_finished", "c", "skipped"),
    ]
    # The skipped nodes are not done yet: half of the bar.
    assert _progress(events)[:2] == (pytest.approx(0.5), "Starting: 2 of 4 nodes")
    events += [
        {"type": "phase", "phase": "complete", "total": 2},
        node(5, "node_started", "b"),
        node(6, "node_finished", "b", "success"),
        node(7, "node_started", "c"),
    ]
    fraction, text, lines = _progress(events)
    assert fraction == pytest.approx(0.75)
    assert text == "Tests failed; building what they held back: 3 of 4 nodes"
    assert lines[0].endswith(" c")  # running now
    # Reused nodes are not in the plan's total; the text says how many there were.
    reused = [{"type": "reused", "count": 76, "from_build": 3}, {"type": "plan", "total": 2}]
    reused.append(node(1, "node_finished", "a", "success"))
    assert _progress(reused)[:2] == (
        pytest.approx(0.5),
        "Starting: 1 of 2 nodes (76 unchanged, reused)",
    )


def test_kept_vars_are_the_published_ones_changed_by_the_given_ones() -> None:
    from mart.builds import _merge_vars

    published = BuildRecord(
        build_id=7,
        status="published",
        started_at="",
        vars={"as_of_date": "2024-03-01", "high_value_threshold": 300, "promo_level": 2},
    )
    declared = {"as_of_date", "high_value_threshold", "medium_value_threshold"}
    merged, origin = _merge_vars({"high_value_threshold": 450}, published, declared)
    assert merged == {"as_of_date": "2024-03-01", "high_value_threshold": 450}
    assert origin == {"from_build": 7, "kept": ["as_of_date"], "dropped": ["promo_level"]}
    # Nothing published, or not keeping: only the given vars, no origin.
    assert _merge_vars({"high_value_threshold": 450}, None, declared) == (
        {"high_value_threshold": 450},
        {},
    )
    # The run date is the default: asking for it drops a kept as_of_date.
    for word in (None, "", " Today ", "null", "none"):
        merged, origin = _merge_vars({"as_of_date": word}, published, declared)
        assert merged == {"high_value_threshold": 300}, word
        assert origin["kept"] == ["high_value_threshold"]
    # A project whose vars cannot be read keeps everything.
    merged, origin = _merge_vars({}, published, None)
    assert merged == published.vars and origin["dropped"] == []


def test_a_stopped_builds_record_counts_what_finished_from_its_events() -> None:
    from mart.builds import _nodes_from_events

    def finished(uid: str, kind: str, status: str) -> dict[str, Any]:
        event = {"type": "node_finished", "unique_id": uid, "name": uid, "resource_type": kind}
        return event | {"status": status, "duration_s": 0.1}

    events = [
        {"type": "phase", "phase": "dbt"},
        finished("model.p.stg", "model", "success"),
        finished("test.p.a", "test", "pass"),
        finished("test.p.b", "test", "fail"),
        finished("unit_test.p.u", "unit_test", "pass"),
        {"type": "node_started", "unique_id": "model.p.dim"},  # cancelled while running
    ]
    nodes, tests = _nodes_from_events(events)
    assert [node["unique_id"] for node in nodes] == [
        "model.p.stg",
        "test.p.a",
        "test.p.b",
        "unit_test.p.u",
    ]
    assert tests == {"pass": 2, "fail": 1, "warn": 0, "error": 0, "skipped": 0}
    assert _nodes_from_events([]) == ([], tests | {"pass": 0, "fail": 0})


def test_the_sidebar_keeps_quiet_about_a_failure_an_older_publish_came_after() -> None:
    """#24 failed, then #22 (older) was published anyway: "#24 failed … #22 is still
    serving" named the wrong build as the one that had been serving."""
    from ui.sidebar import _published_since

    failed = BuildRecord(
        build_id=24, status="failed", started_at="", finished_at="2026-01-01T10:00:00+00:00"
    )
    older = BuildRecord(
        build_id=22,
        status="published",
        started_at="",
        published_at="2026-01-01T10:05:00+00:00",
        published_anyway=True,
        replaced=23,
    )
    assert _published_since(older, failed)
    earlier = BuildRecord(
        build_id=23, status="published", started_at="", published_at="2026-01-01T09:00:00+00:00"
    )
    assert not _published_since(earlier, failed)  # the failure is news: say it
    assert not _published_since(None, failed)


def test_failure_advice_says_what_to_do_beside_the_as_of_hint() -> None:
    """A failed build said what to do only for not_after_as_of_date failures (the as-of
    hint); a negative amount or a duplicate id got no advice."""
    assert failure_advice([]) is None
    assert failure_advice(["not_after_as_of_date_stg_transactions_transaction_date"]) is None
    negative = failure_advice(["not_negative_stg_transactions_amount"])
    assert negative is not None and negative.startswith("A negative amount is a refund")
    assert "Undo the version" in negative and "--publish-on-test-failure" in negative
    both = failure_advice(
        ["not_after_as_of_date_stg_events_event_at", "unique_stg_transactions_transaction_id"]
    )
    assert both is not None and both.startswith("Duplicate ids count a record twice.")
    assert "negative" not in both
    plain = failure_advice(["not_null_stg_events_customer_id"])
    assert plain is not None and plain.startswith("The failing rows are listed")

"""The build's fast paths change nothing but the time.

* a warm worker's throwaway warm-up build leaves no trace and the real build is right;
* unit tests are not re-run when an earlier build passed them on the same project files
  and vars, and are re-run when either changes, or when asked;
* bronze tables already holding the HEAD versions are kept, and reloaded when not;
* failing rows are stored for failing tests only, and a stale relation is dropped.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mart import artifacts, timeline
from mart.builds import FAILED, PUBLISHED, BuildManager
from mart.workspace import Workspace
from tests.build.conftest import commit_records, copy_project, sample_records

UNIQUE = "unique_stg_transactions_transaction_id"


def _audit_relations(db_path: str) -> set[str]:
    con = duckdb.connect(db_path, read_only=True)
    try:
        rows = con.execute(
            "select view_name from duckdb_views() where schema_name = 'main_dbt_test__audit' "
            "union all select table_name from duckdb_tables() "
            "where schema_name = 'main_dbt_test__audit'"
        ).fetchall()
    finally:
        con.close()
    return {name for (name,) in rows}


def _unit_test_nodes(record) -> list[dict]:  # noqa: ANN001
    return [node for node in record.nodes if node["resource_type"] == "unit_test"]


@pytest.fixture
def fast_manager(workspace: Path):
    manager = BuildManager(Workspace.from_env(workspace), docs=False, warmup_build=True)
    yield manager
    manager.shutdown()


def test_warmup_build_then_real_builds(fast_manager: BuildManager, workspace: Path) -> None:
    manager = fast_manager
    ws = manager.ws
    manager.prewarm()
    assert manager.wait_warm(180)
    worker = manager._warm
    assert worker is not None
    assert worker.ready_info["warmup_s"] > 0  # it did run the throwaway build
    assert not (worker.work_dir / "warmup").exists()  # and cleaned up after itself

    first = manager.request_build()
    assert first.status == PUBLISHED, first.error
    # The first build runs the unit tests and records that they passed.
    assert first.unit_tests["ran"] and first.unit_tests["passed"]
    assert first.unit_tests["count"] == len(_unit_test_nodes(first)) > 0
    assert first.tests["pass"] == len([n for n in first.nodes if "test" in n["resource_type"]])
    assert sorted(first.bronze["rows"]) == ["raw_events", "raw_transactions"]
    assert first.bronze["reused"] == []  # an empty first file: bronze was loaded
    # Passing tests leave no stored-failures relation behind.
    assert _audit_relations(first.db_path) == set()
    con = duckdb.connect(first.db_path, read_only=True)
    try:
        customers = con.execute("select count(*) from main.fct_customer_metrics").fetchone()
    finally:
        con.close()
    assert customers == (4,)

    # Same project, same vars, same data: unit tests are not re-run, bronze is kept.
    second = manager.request_build()
    assert second.status == PUBLISHED, second.error
    assert not second.unit_tests["ran"]
    assert second.unit_tests["passed_in_build"] == first.build_id
    assert _unit_test_nodes(second) == []
    assert "passed in build" in (second.unit_tests_note() or "")
    assert second.unit_tests_not_rerun == first.unit_tests["count"] == 6
    assert "6 unit tests not re-run" in second.summary()
    assert sorted(second.bronze["reused"]) == ["raw_events", "raw_transactions"]
    assert second.bronze["rows"] == first.bronze["rows"]
    # The skipped unit tests show as "not run" in the build's artifacts.
    second_artifacts = artifacts.load(second.build_dir / "target")
    units = [test for test in second_artifacts.tests.values() if test.kind == "unit"]
    assert units and all(test.status is None for test in units)
    # ... and the Build & Tests table shows them passed in the build that ran them.
    assert second.unit_tests_passed_in == first.build_id
    frame = timeline.tests_frame(
        second_artifacts.tests.values(), second.build_id, second.unit_tests_passed_in
    )
    unit_rows = frame[frame["kind"] == "unit"]
    assert len(unit_rows) == len(units)
    assert set(unit_rows["status"]) == {"pass"}
    assert set(unit_rows["ran_in"]) == {f"#{first.build_id}"}
    assert first.unit_tests_passed_in is None  # it ran them itself

    # Other vars: the unit tests run again (their outcome may depend on vars).
    third = manager.request_build(vars={"high_value_threshold": 300})
    assert third.status == PUBLISHED, third.error
    assert third.unit_tests["ran"] and third.unit_tests["passed"]
    # Asked for explicitly: they run even though nothing changed.
    fourth = manager.request_build(vars={"high_value_threshold": 300}, unit_tests=True)
    assert fourth.unit_tests["ran"] and len(_unit_test_nodes(fourth)) == first.unit_tests["count"]
    # The note names the latest build that passed them with these vars, not the first.
    fifth = manager.request_build(vars={"high_value_threshold": 300})
    assert not fifth.unit_tests["ran"]
    assert fifth.unit_tests["passed_in_build"] == fourth.build_id

    # New data: the changed table is reloaded, the other one kept.
    records = sample_records("transactions")
    records.append({**records[0], "amount": 1.0})  # a duplicate transaction id
    commit_records(ws, "transactions", records, "dup")
    failed = manager.request_build(vars={"high_value_threshold": 300})
    assert failed.status == FAILED and failed.failure == "tests"
    assert failed.bronze["reused"] == ["raw_events"]
    assert failed.bronze["rows"]["raw_transactions"] == len(records)
    # The failing tests stored their rows; the unique test's are the duplicate's.
    # The fact holds both records as staging does (the engine built what the failing
    # test held back), so its own unique test fails too; passing tests stored nothing.
    assert _audit_relations(failed.db_path) == {UNIQUE, "unique_fct_transactions_transaction_id"}
    failing = artifacts.load(failed.build_dir / "target").test(UNIQUE)
    assert failing.stored_failures_relation == f"main_dbt_test__audit.{UNIQUE}"
    rows = artifacts.failing_rows(failed.db_path, failing)
    assert list(rows["unique_field"]) == [records[0]["transaction_id"]]
    passing = artifacts.load(failed.build_dir / "target").test(
        "not_null_stg_transactions_customer_id"
    )
    assert passing.stored_failures_relation is None
    assert artifacts.failing_rows(failed.db_path, passing).empty

    # Published anyway, then fixed: the next build starts from the file with the stale
    # relation and drops it, because the test passes again.
    manager.publish(failed.build_id)
    commit_records(ws, "transactions", sample_records("transactions"), "fixed")
    fixed = manager.request_build(vars={"high_value_threshold": 300})
    assert fixed.status == PUBLISHED, fixed.error
    assert _audit_relations(fixed.db_path) == set()


def test_an_edited_project_reruns_the_unit_tests(tmp_path: Path, workspace: Path) -> None:
    project = copy_project(tmp_path)
    manager = BuildManager(Workspace.from_env(workspace), project_dir=project, docs=False)
    try:
        first = manager.request_build()
        assert first.status == PUBLISHED and first.unit_tests["ran"]
        assert not manager.request_build().unit_tests["ran"]
        model = project / "models" / "marts" / "fct_retention_summary.sql"
        model.write_text(model.read_text() + "\n-- an edit\n")
        edited = manager.request_build()
        assert edited.status == PUBLISHED, edited.error
        assert edited.unit_tests["ran"] and edited.unit_tests["passed"]
    finally:
        manager.shutdown()


def test_a_click_during_the_warm_up_skips_the_warm_up_build(workspace: Path) -> None:
    manager = BuildManager(
        Workspace.from_env(workspace), docs=False, warmup_build=True, prewarm_after_build=False
    )
    try:
        manager.prewarm()
        worker = manager._warm
        assert worker is not None
        # Requested while the worker still imports dbt and parses (several seconds):
        # the job is waiting on its stdin when the parse ends, so no warm-up build.
        record = manager.request_build()
        assert record.status == PUBLISHED, record.error
        assert worker.ready_info["warmup_s"] == 0.0
        assert record.worker_pid == worker.pid
    finally:
        manager.shutdown()

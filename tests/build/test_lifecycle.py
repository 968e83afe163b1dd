"""A sequence of real builds in one workspace: publish, state across builds, vars, failure.

Builds are slow, so one module-scoped fixture runs them all in order and the tests
read what each left behind:

1. the bundled sample                                  → published
2. C002 buys again (segment Medium → High)             → published (SCD2, incremental)
3. var high_value_threshold=300 (C004 → High Value)     → published
4. a duplicate transaction id                          → failed, build 3 stays published
   then ``publish(4)`` ("publish anyway")              → build 4 is live
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mart.builds import FAILED, PUBLISHED, BuildManager, BuildRecord
from mart.errors import InputError
from mart.workspace import Workspace
from tests.build.conftest import commit_records, sample_records


@dataclass
class Run:
    manager: BuildManager
    records: dict[int, BuildRecord] = field(default_factory=dict)
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    current_after_failure: int | None = None
    versions: dict[int, int] = field(default_factory=dict)


def query(path: str | Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def run(module_ws: Workspace) -> Iterator[Run]:
    manager = BuildManager(module_ws, keep=3)
    manager.prewarm()
    state = Run(manager)

    def build(number: int, **options: Any) -> None:
        seen: list[dict[str, Any]] = []
        record = manager.request_build(on_event=seen.append, **options)
        assert record.build_id == number
        state.records[number] = record
        state.events[number] = seen

    try:
        build(1)
        transactions = sample_records("transactions")
        transactions.append(
            {
                "transaction_id": "T009",
                "customer_id": "C002",
                "transaction_date": "2024-02-25",
                "amount": 300.00,
                "product_category": "Audio",
            }
        )
        state.versions[2] = commit_records(module_ws, "transactions", transactions, "C002 buys")
        build(2)
        build(3, vars={"high_value_threshold": 300})
        duplicate = [*transactions, dict(transactions[0])]
        state.versions[4] = commit_records(module_ws, "transactions", duplicate, "dup T001")
        build(4, vars={"high_value_threshold": 300})
        state.current_after_failure = manager.published().build_id  # type: ignore[union-attr]
        state.records[4] = manager.get(4)
        yield state
    finally:
        manager.shutdown()


def test_first_build_is_published_with_its_record_and_events(run: Run) -> None:
    record = run.records[1]
    assert record.status == PUBLISHED, record.error
    assert record.tests["fail"] == 0 and record.tests["error"] == 0
    assert record.tests["pass"] > 10
    assert record.duration_s and record.finished_at and record.started_at
    assert record.datasets["transactions"]["rows"] == 8
    assert {node["resource_type"] for node in record.nodes} >= {"model", "test", "snapshot"}
    events = run.manager.events(1)
    kinds = [event["type"] for event in events]
    assert kinds[0] == "build_started" and kinds[-1] == "build_finished"
    finished = [event for event in events if event["type"] == "node_finished"]
    started = [event for event in events if event["type"] == "node_started"]
    assert len(finished) == len(started) == len(record.nodes)
    plan = next(event for event in events if event["type"] == "plan")
    assert plan["total"] == len(finished)
    stg = next(event for event in finished if event["name"] == "stg_transactions")
    assert stg["status"] == "success" and stg["rows"] == 8 and stg["duration_s"] >= 0
    assert [event["seq"] for event in events] == list(range(len(events)))
    # The in-process callback saw the same events the file holds.
    assert [event["seq"] for event in run.events[1]] == [event["seq"] for event in events]


def test_bronze_has_exactly_the_declared_columns(run: Run) -> None:
    path = run.records[2].db_path
    columns = query(
        path,
        "select column_name from information_schema.columns "
        "where table_schema = 'bronze' and table_name = 'raw_transactions' "
        "order by ordinal_position",
    )
    assert [name for (name,) in columns] == [
        "raw_data",
        "_loaded_at",
        "_batch_id",
        "_source_file",
        "_record_number",
    ]
    batch = query(path, "select distinct _batch_id from bronze.raw_transactions")
    assert batch == [(f"transactions@v{run.versions[2]}",)]
    assert query(path, "select count(*) from bronze.raw_transactions") == [(9,)]


def test_snapshot_keeps_history_across_builds(run: Run) -> None:
    path = run.records[2].db_path
    (schema,) = query(
        path,
        "select table_schema from information_schema.tables "
        "where table_name = 'customers_snapshot'",
    )[0]
    rows = query(
        path,
        f"select dbt_valid_to is null from {schema}.customers_snapshot "
        "where customer_id = 'C002' order by dbt_valid_from",
    )
    assert rows == [(False,), (True,)]
    history = query(
        path,
        "select customer_segment, valid_to is null, is_current "
        "from main.dim_customer_segment_history where customer_id = 'C002' order by valid_from",
    )
    assert history == [("Medium Value", False, False), ("High Value", True, True)]


def test_incremental_fact_equals_staging_after_an_incremental_build(run: Run) -> None:
    path = run.records[2].db_path
    fact = query(path, "select transaction_id, amount from main.fct_transactions order by 1")
    staging = query(path, "select transaction_id, amount from main.stg_transactions order by 1")
    assert fact == staging and len(fact) == 9


def test_a_changed_var_is_honoured_by_the_warm_worker(run: Run) -> None:
    assert run.records[3].status == PUBLISHED
    assert run.records[3].vars == {"high_value_threshold": 300}
    segment = "select customer_segment from main.fct_customer_metrics where customer_id = 'C004'"
    assert query(run.records[2].db_path, segment) == [("Medium Value",)]
    assert query(run.records[3].db_path, segment) == [("High Value",)]
    phases = [event.get("phase") for event in run.manager.events(3) if event["type"] == "phase"]
    assert "parse" in phases  # the warm worker had parsed with other vars


def test_failing_tests_keep_the_previous_build_published(run: Run) -> None:
    record = run.records[4]
    assert run.current_after_failure == 3
    assert record.failure == "tests"
    assert record.tests["fail"] >= 1
    names = [test["name"] for test in record.failing_tests]
    assert "unique_stg_transactions_transaction_id" in names
    failing = next(t for t in record.failing_tests if t["name"] == names[0])
    assert failing["failures"] >= 1 and failing["severity"] == "error"
    assert "previous build stays published" in (record.error or "")


def test_failing_tests_do_not_stop_the_rest_of_the_failed_build(run: Run) -> None:
    """dbt skips what is downstream of a failing test; the engine builds it anyway."""
    record = run.records[4]
    assert record.tests["skipped"] == 0, record.tests
    built = {
        node["name"]: node["status"]
        for node in record.nodes
        if node["resource_type"] in ("model", "snapshot")
    }
    assert set(built.values()) == {"success"}, built
    assert {"dim_customers", "customers_snapshot", "fct_customer_metrics"} <= set(built)
    assert record.not_rebuilt == [] and record.stale_note() is None
    kinds = {node["unique_id"]: node["resource_type"] for node in record.nodes}
    assert "model.techmart.dim_customers" in record.completed
    assert {kinds[uid] for uid in record.completed} >= {"model", "snapshot", "test"}
    note = record.completion_note()
    assert note and "not published" in note
    # The events: dbt's skip first, then the completion phase and the real run.
    events = run.events[4]
    phase = next(e for e in events if e["type"] == "phase" and e["phase"] == "complete")
    assert phase["models"] >= 3 and phase["tests"] >= 10
    assert phase["total"] == len(record.completed)
    dim = [
        event.get("status")
        for event in events
        if event.get("name") == "dim_customers" and event["type"] == "node_finished"
    ]
    assert dim == ["skipped", "success"]
    # The tables show what the duplicate does: its customer has one more transaction.
    customer = sample_records("transactions")[0]["customer_id"]
    count = f"select transaction_count from dim_customers where customer_id = '{customer}'"
    before = query(run.records[3].db_path, count)[0][0]
    assert query(run.records[4].db_path, count) == [(before + 1,)]


def test_publish_anyway_makes_the_failed_build_live(run: Run) -> None:
    manager = run.manager
    assert manager.get(4).status == FAILED
    published = manager.publish(4)
    assert published.status == PUBLISHED and published.published_anyway and published.is_current
    # the failed build's advice ("… or publish this build anyway") is done with
    assert published.error is not None and published.error.endswith(" Published anyway.")
    assert "publish this build anyway" not in published.error, published.error
    assert published.replaced == 3  # the build that was live when it was published
    assert manager.get(3).replaced == 2
    assert manager.published_db_path() == Path(published.db_path)
    assert manager.published().build_id == 4  # type: ignore[union-attr]
    # Its docs are generated in a background worker.
    import time

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not manager.get(4).docs_ready:
        time.sleep(0.5)
    assert manager.get(4).docs_ready


def test_a_docs_job_survives_its_closed_stdin(run: Run, tmp_path: Path) -> None:
    """The manager sends a docs job and closes stdin at once; the worker must not take
    that for its manager going away. It did, and exited (75) before the docs began.
    (A race: without the fix this failed about one run in three.)"""
    import json
    import subprocess
    import sys

    from mart.workspace import DBT_PROJECT_DIR, PROJECT_ROOT

    record = run.manager.get(2)
    (record.build_dir / "docs.json").unlink(missing_ok=True)
    (record.build_dir / "target" / "static_index.html").unlink(missing_ok=True)
    job = {
        "kind": "docs",
        "build_id": 2,
        "build_dir": str(record.build_dir),
        "vars": {"bronze_autoload": False},
        "project_dir": str(DBT_PROJECT_DIR),
        "profiles_dir": str(DBT_PROJECT_DIR),
    }
    done = subprocess.run(
        [sys.executable, "-m", "mart.worker", "--work-dir", str(tmp_path / "worker")]
        + ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        + ["--no-parse"],
        input=json.dumps(job) + "\n",  # stdin is closed right after the job
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((record.build_dir / "docs.json").read_text())["status"] == "ready"
    assert (record.build_dir / "target" / "static_index.html").exists()


def test_history_keeps_every_record_and_prunes_old_files(run: Run) -> None:
    manager = run.manager
    history = manager.history()
    assert [record.build_id for record in history] == [4, 3, 2, 1]
    oldest = manager.get(1)
    assert oldest.files_pruned and not Path(oldest.db_path).exists()
    assert all(Path(manager.get(n).db_path).exists() for n in (2, 3, 4))
    with pytest.raises(InputError, match="pruned"):
        manager.publish(1)
    status = manager.status()
    assert status["last_build"]["build_id"] == 4
    assert status["datasets"]["transactions"]["rows"] == 10


def test_docs_are_generated_for_published_builds(run: Run) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not run.manager.get(3).docs_ready:
        time.sleep(0.5)
    assert run.manager.get(3).docs_ready
    assert (run.manager.get(3).build_dir / "target" / "static_index.html").exists()


def test_publishing_an_older_build_again_compares_it_with_the_one_it_replaced(run: Run) -> None:
    """A rollback: the Overview's "what changed" compares with the build live before it
    (newer), not with an older published build (here pruned, so there was none)."""
    from mart import overview

    manager = run.manager
    live = manager.published()
    assert live is not None and live.build_id == 4
    rolled_back = manager.publish(2)
    assert rolled_back.is_current and rolled_back.replaced == 4
    assert overview.previous_published(manager.history(), 2) == (4, manager.get(4).db_path)
    again = manager.publish(2)  # publishing the live build again changes nothing it compares
    assert again.replaced == 4
    back = manager.publish(4)
    assert back.replaced == 2
    assert overview.previous_published(manager.history(), 4) == (2, manager.get(2).db_path)

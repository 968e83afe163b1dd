"""Reusing unchanged nodes (mart.reuse) in real builds of the sample.

The rule under test: a node is left out only when running it could not change its table
or its result. Checked against dbt itself: every node whose compiled SQL differs after
a var change ran again; a reused build's tables equal a build that ran every node; a new
dataset version or an edited model runs exactly its downstream.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mart import artifacts
from mart.builds import FAILED, PUBLISHED, BuildManager
from mart.workspace import Workspace
from tests.build.conftest import commit_records, copy_project, mart_contents, sample_records

AS_OF = "2024-07-01"


def data_nodes(record) -> dict[str, dict]:
    """The record's models, snapshots and data tests by unique id (what reuse covers)."""
    return {
        node["unique_id"]: node
        for node in record.nodes
        if node["resource_type"] in ("model", "snapshot", "seed", "test")
    }


def reused_ids(record) -> set[str]:
    return {node["unique_id"] for node in record.reused_nodes}


def ran_ids(record) -> set[str]:
    return set(data_nodes(record)) - reused_ids(record)


def compiled(record) -> dict[str, str]:
    """unique id → compiled SQL, from the build's run_results.json."""
    results = json.loads((record.build_dir / "target" / "run_results.json").read_text())
    return {
        item["unique_id"]: item["compiled_code"]
        for item in results["results"]
        if item.get("compiled_code")
    }


@pytest.fixture(scope="module")
def first(manager: BuildManager) -> int:
    record = manager.request_build(vars={"as_of_date": AS_OF})
    assert record.status == PUBLISHED, record.error
    assert not record.reused_nodes  # nothing to reuse from
    return record.build_id


def test_an_unchanged_rebuild_reuses_every_node_and_keeps_its_results(
    manager: BuildManager, first: int
) -> None:
    before = manager.get(first)
    record = manager.request_build(keep_published_vars=True)
    assert record.status == PUBLISHED, record.error
    assert record.reuse.get("from_build") == first
    assert ran_ids(record) == set()
    assert reused_ids(record) == set(data_nodes(before))
    assert {node["reused_from"] for node in record.reused_nodes} == {first}
    # The results are the earlier build's: statuses and the test summary.
    assert {uid: node["status"] for uid, node in data_nodes(record).items()} == {
        uid: node["status"] for uid, node in data_nodes(before).items()
    }
    assert record.tests["pass"] == sum(
        1 for node in data_nodes(before).values() if node["resource_type"] == "test"
    )
    note = record.reuse_note()
    assert note is not None and f"are as in build {first}, whose results they keep" in note
    assert "0 models, snapshots and tests ran" in note
    # run_results.json and the artifacts carry the reused nodes with their compiled SQL.
    assert compiled(record).keys() >= set(data_nodes(before))
    loaded = artifacts.load(record.build_dir / "target")
    stg = next(node for node in loaded.graph.nodes.values() if node.name == "stg_transactions")
    assert stg.status == "success" and stg.reused_from == first and stg.execution_time is None
    test = next(iter(loaded.tests.values()))
    assert test.reused_from == first and test.compiled_sql
    # A reused node reused again still names the build that ran it.
    again = manager.request_build(keep_published_vars=True)
    assert {node["reused_from"] for node in again.reused_nodes} == {first}


def test_a_var_change_runs_every_node_whose_compiled_sql_changes(
    manager: BuildManager, first: int
) -> None:
    full = manager.request_build(vars={"high_value_threshold": 650}, keep_published_vars=True)
    assert full.status == PUBLISHED, full.error
    # as_of_date too: a different date.
    moved = manager.request_build(vars={"as_of_date": "2024-08-01"}, keep_published_vars=True)
    assert moved.status == PUBLISHED, moved.error
    for earlier, later in ((manager.get(first), full), (full, moved)):
        before, after = compiled(earlier), compiled(later)
        differs = {
            uid
            for uid in data_nodes(later)
            if uid in after and uid in before and before[uid] != after[uid]
        }
        assert differs, "the var should change some node's SQL"
        assert differs <= ran_ids(later), differs - ran_ids(later)
        assert reused_ids(later), "nothing was reused"
        # Nothing reused reads a node that ran; the unit tests all ran (the var
        # changed), those of reused models in a dbt test of their own.
        graph = artifacts.load(later.build_dir / "target").graph
        for uid in reused_ids(later):
            read = set(graph.nodes[uid].depends_on) & ran_ids(later)
            assert not read, (uid, read)
        units = [node for node in later.nodes if node["resource_type"] == "unit_test"]
        assert later.unit_tests["ran"] and len(units) == 6
        assert all(node["status"] == "pass" for node in units)
    # The staging models read no var: reused through both changes.
    stg = next(node for node in moved.nodes if node["name"] == "stg_transactions")
    assert stg.get("reused_from") == first
    metrics = next(node for node in moved.nodes if node["name"] == "fct_customer_metrics")
    assert metrics.get("reused_from") is None  # ages and recency read as_of_date


def test_reused_tables_equal_a_build_that_runs_every_node(
    manager: BuildManager, first: int
) -> None:
    reused = manager.request_build(vars={"medium_value_threshold": 150}, keep_published_vars=True)
    assert reused.status == PUBLISHED, reused.error
    assert reused.reused_nodes and ran_ids(reused)
    everything = manager.request_build(keep_published_vars=True, reuse=False)
    assert everything.status == PUBLISHED, everything.error
    assert not everything.reused_nodes
    assert everything.reuse == {"enabled": False}
    assert ran_ids(everything) == set(data_nodes(reused))
    assert mart_contents(reused.db_path) == mart_contents(everything.db_path)
    assert {uid: n["status"] for uid, n in data_nodes(reused).items()} == {
        uid: n["status"] for uid, n in data_nodes(everything).items()
    }
    # Both ran the unit tests: the first for its new var, the second as every node.
    assert reused.unit_tests["ran"] and everything.unit_tests["ran"]
    assert reused.tests == everything.tests


def test_a_new_events_version_runs_only_what_reads_events(
    manager: BuildManager, module_ws: Workspace, first: int
) -> None:
    base = manager.request_build(keep_published_vars=True)
    assert base.status == PUBLISHED
    events = sample_records("events")
    events[0] = {**events[0], "event_type": "product_view"}
    commit_records(module_ws, "events", events, "one event changed")
    record = manager.request_build(keep_published_vars=True)
    assert record.status == PUBLISHED, record.error
    graph = artifacts.load(record.build_dir / "target").graph
    downstream = {"source.techmart.bronze.raw_events"}
    # Everything downstream of raw_events ran; everything else was reused.
    changed = True
    while changed:
        changed = False
        for uid, node in graph.nodes.items():
            if uid not in downstream and set(node.depends_on) & downstream:
                downstream.add(uid)
                changed = True
    expected = {uid for uid in data_nodes(record) if uid in downstream}
    assert ran_ids(record) == expected
    names = {graph.nodes[uid].name for uid in ran_ids(record)}
    assert {"stg_events", "int_customer_events", "dim_customers"} <= names
    assert "stg_transactions" not in names and "fct_transactions" not in names


def test_a_failing_test_is_reused_as_failing_and_the_build_fails_again(
    manager: BuildManager, module_ws: Workspace, first: int
) -> None:
    transactions = sample_records("transactions")
    transactions[0] = {**transactions[0], "amount": -5}
    commit_records(module_ws, "transactions", transactions, "a negative amount")
    failed = manager.request_build(keep_published_vars=True, publish_on_test_failure=True)
    assert failed.status == PUBLISHED and failed.published_anyway
    again = manager.request_build(keep_published_vars=True)
    assert again.status == FAILED and again.failure == "tests"
    # What to do is said, in the record and in its error line (sidebar, CLI).
    assert again.hint is not None and "A negative amount is a refund" in again.hint
    assert "publish this build anyway" in again.hint and again.hint in (again.error or "")
    failing = {test["name"]: test for test in again.failing_tests}
    assert "not_negative_stg_transactions_amount" in failing
    assert failing["not_negative_stg_transactions_amount"].get("reused_from") == failed.build_id
    assert again.tests == failed.tests
    # The failing rows are still stored (the view came with the copied file).
    loaded = artifacts.load(again.build_dir / "target")
    test = next(
        t for t in loaded.tests.values() if t.name == "not_negative_stg_transactions_amount"
    )
    rows = artifacts.failing_rows(again.db_path, test, limit=10)
    assert len(rows) == 1
    commit_records(module_ws, "transactions", sample_records("transactions"), "fixed")


def test_an_edited_model_runs_itself_and_its_downstream_only(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("reuse_edit")
    project = copy_project(tmp_path)
    manager = BuildManager(Workspace.from_env(root), project_dir=project, docs=False)
    manager.prewarm()
    try:
        assert manager.request_build(vars={"as_of_date": AS_OF}).status == PUBLISHED
        model = project / "models" / "intermediate" / "int_customer_events.sql"
        model.write_text(model.read_text() + "\n-- an edit that changes nothing but the text\n")
        record = manager.request_build(keep_published_vars=True)
        assert record.status == PUBLISHED, record.error
        names = {node["name"] for node in record.nodes if node.get("reused_from") is None}
        assert "int_customer_events" in names and "dim_customers" in names
        assert not names & {"stg_events", "stg_transactions", "int_customer_transactions"}
        # The edit makes the unit tests run: all of them, reused models' too.
        assert record.unit_tests["ran"] and record.unit_tests["passed"]
        assert record.unit_tests["count"] == 6
        # A macro edit counts for every node (which macros a node calls is known only
        # in part before it compiles).
        macro = project / "macros" / "money.sql"
        text = macro.read_text()
        assert "{%- endmacro %}" in text
        # Inside the macro (text between macros is no macro's SQL and changes nothing).
        macro.write_text(text.replace("{%- endmacro %}", "{#- edited -#}{%- endmacro %}", 1))
        record = manager.request_build(keep_published_vars=True)
        assert record.status == PUBLISHED, record.error
        assert not record.reused_nodes
    finally:
        manager.shutdown()

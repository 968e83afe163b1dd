"""Builds with mart.dbt_speedups give the same mart, results and failing rows as without.

Two workspaces get the same three builds: the sample; the sample with a negative
amount and an unknown event type (an error-severity test fails, a warn-severity one
warns, so the build is not published); the repaired data again. One workspace's
workers run with ``MART_DBT_SPEEDUPS=0`` (dbt untouched), the other's with every
speed-up. Then every table, every test result and every stored failing row must be
the same in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from mart import datasets, scenarios
from mart.builds import FAILED, PUBLISHED, BuildManager
from mart.workspace import Workspace

# Set from the clock at build time: they differ between any two builds. (Load and
# refresh stamps are the TIMESTAMP WITH TIME ZONE columns, left out by type.)
CLOCK_COLUMNS = {
    "dbt_valid_from",
    "dbt_valid_to",
    "dbt_updated_at",
    "dbt_scd_id",
    "valid_from",  # dim_customer_segment_history: the snapshot's columns renamed
    "valid_to",
    "history_id",
}
SCHEMAS = ("main", "main_dbt_test__audit", "bronze")


def _contents(db_path: str) -> dict[str, list[tuple]]:
    con = duckdb.connect(db_path, read_only=True)
    try:
        relations = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "union all select schema_name, view_name from duckdb_views() where not internal "
            "order by 1, 2"
        ).fetchall()
        out: dict[str, list[tuple]] = {}
        for schema, name in relations:
            if schema not in SCHEMAS:
                continue
            columns = [
                column
                for (column, data_type) in con.execute(
                    "select column_name, data_type from duckdb_columns() "
                    "where schema_name = ? and table_name = ? order by column_index",
                    [schema, name],
                ).fetchall()
                if column not in CLOCK_COLUMNS and data_type != "TIMESTAMP WITH TIME ZONE"
            ]
            select = ", ".join(f'"{column}"' for column in columns)
            rows = con.execute(f'select {select} from "{schema}"."{name}" order by all').fetchall()
            out[f"{schema}.{name}"] = [tuple(map(repr, row)) for row in rows]
        return out
    finally:
        con.close()


def _results(record) -> dict[str, tuple]:  # noqa: ANN001
    return {
        node["unique_id"]: (node["status"], node.get("failures"), node.get("rows"))
        for node in record.nodes
    }


def _three_builds(root: Path, speedups: str, monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setenv("MART_WORKSPACE", str(root))
    monkeypatch.setenv("MART_DBT_SPEEDUPS", speedups)
    ws = Workspace.from_env(root)
    manager = BuildManager(ws, docs=False)
    records = []
    # Every node runs (reuse=False): the third build's data equals the first's, and a
    # reusing build would run nothing to compare.
    try:
        records.append(manager.request_build(reuse=False))
        scenarios.apply(ws, "negative_amount")
        scenarios.apply(ws, "unknown_event_type")
        records.append(manager.request_build(reuse=False))
        datasets.undo(ws, "transactions")
        datasets.undo(ws, "events")
        records.append(manager.request_build(reuse=False))
    finally:
        manager.shutdown()
    return records


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list]]:
    patch = pytest.MonkeyPatch()
    try:
        yield {
            mode: _three_builds(tmp_path_factory.mktemp(f"speedups-{mode}"), flag, patch)
            for mode, flag in (("off", "0"), ("on", "1"))
        }
    finally:
        patch.undo()


def test_the_builds_ran_as_intended(both: dict[str, list]) -> None:
    for mode, records in both.items():
        assert [record.status for record in records] == [PUBLISHED, FAILED, PUBLISHED], mode
        assert records[1].failure == "tests", mode
    assert both["off"][0].dbt_speedups == []
    assert "quiet_events" in both["on"][0].dbt_speedups
    assert "macro_namespace" in both["on"][0].dbt_speedups


def test_same_test_results_and_node_statuses(both: dict[str, list]) -> None:
    for off, on in zip(both["off"], both["on"], strict=True):
        assert on.tests == off.tests
        assert _results(on) == _results(off)
        # (in completion order, which two dbt threads do not fix)
        assert sorted((t["name"], t["status"]) for t in on.failing_tests) == sorted(
            (t["name"], t["status"]) for t in off.failing_tests
        )
    failing = {t["name"]: t["status"] for t in both["on"][1].failing_tests}
    assert failing["not_negative_stg_transactions_amount"] == "fail"
    assert any(
        name.startswith("accepted_values_stg_events_event_type") and status == "warn"
        for name, status in failing.items()
    )


def test_same_tables_and_stored_failing_rows(both: dict[str, list]) -> None:
    for off, on in zip(both["off"], both["on"], strict=True):
        expected = _contents(off.db_path)
        got = _contents(on.db_path)
        assert sorted(got) == sorted(expected)
        for name in expected:
            assert got[name] == expected[name], name
    audit = [name for name in _contents(both["on"][1].db_path) if "dbt_test__audit" in name]
    assert any("not_negative" in name for name in audit)  # failing rows were stored


def _sql_files(record) -> dict[str, int]:  # noqa: ANN001
    target = Path(record.db_path).parent / "target"
    return {
        str(path.relative_to(target)): len(path.read_text(encoding="utf-8").splitlines())
        for folder in ("compiled", "run")
        for path in sorted((target / folder).rglob("*.sql"))
    }


def test_same_compiled_and_run_sql_files(both: dict[str, list]) -> None:
    """The worker writes them after the result instead of during the build: same files."""
    for off, on in zip(both["off"], both["on"], strict=True):
        expected, got = _sql_files(off), _sql_files(on)
        assert len(expected) > 40  # fewer in the failed build: its skipped nodes
        assert sorted(got) == sorted(expected)
        # Two unit tests of one model write the same file; with two dbt threads either
        # may finish last, with or without the speed-ups. Every other file must match.
        for path, lines in expected.items():
            if "unit_tests.yml" not in path:
                assert got[path] == lines, path

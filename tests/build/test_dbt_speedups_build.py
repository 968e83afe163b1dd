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

import pytest

from mart import datasets, scenarios
from mart.builds import FAILED, PUBLISHED, BuildManager
from mart.workspace import Workspace
from tests.build.conftest import mart_contents


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
    # reusing build would run nothing to compare. One as-of date for all six builds: by
    # default it is today, and the two workspaces' builds crossed midnight once (days
    # since the last purchase differed by one).
    as_of = {"as_of_date": "2024-03-01"}
    try:
        records.append(manager.request_build(vars=as_of, reuse=False))
        scenarios.apply(ws, "negative_amount")
        scenarios.apply(ws, "unknown_event_type")
        records.append(manager.request_build(vars=as_of, reuse=False))
        datasets.undo(ws, "transactions")
        datasets.undo(ws, "events")
        records.append(manager.request_build(vars=as_of, reuse=False))
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
        expected = mart_contents(off.db_path)
        got = mart_contents(on.db_path)
        assert sorted(got) == sorted(expected)
        for name in expected:
            assert got[name] == expected[name], name
    audit = [name for name in mart_contents(both["on"][1].db_path) if "dbt_test__audit" in name]
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

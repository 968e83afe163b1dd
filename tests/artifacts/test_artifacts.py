"""mart.artifacts on real dbt artifacts: a passing build and a build with a failing test."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from mart.artifacts import (
    BuildArtifacts,
    compiled_analysis_sql,
    failing_rows,
    render_refs,
)
from mart.errors import InputError, NotFoundError

FAILING_TEST = "unique_stg_transactions_transaction_id"


def _manifest(target: Path) -> dict:
    return json.loads((target / "manifest.json").read_text())


def test_node_counts_match_the_manifest(builds, good_artifacts: BuildArtifacts) -> None:
    manifest = _manifest(builds.good.target_dir)
    expected: dict[str, int] = {}
    for section in ("nodes", "sources", "exposures", "unit_tests"):
        for node in manifest[section].values():
            if node["resource_type"] != "operation":
                expected[node["resource_type"]] = expected.get(node["resource_type"], 0) + 1
    counts = good_artifacts.graph.count_by_type()
    assert counts == expected
    # The project has every kind the lineage knows about.
    for kind in ("source", "model", "snapshot", "test", "unit_test", "exposure", "analysis"):
        assert counts.get(kind, 0) >= 1, kind
    kinds = {test.kind for test in good_artifacts.tests.values()}
    assert kinds == {"generic", "singular", "unit"}


def test_edges_run_from_sources_through_layers(good_artifacts: BuildArtifacts) -> None:
    graph = good_artifacts.graph
    edges = set(graph.edges)
    ids = {node.label: node.unique_id for node in graph.nodes.values() if not node.is_test}
    chain = [
        "bronze.raw_transactions",
        "stg_transactions",
        "int_customer_transactions",
        "fct_customer_metrics",
        "dim_customers",
        "customers_snapshot",
        "dim_customer_segment_history",
    ]
    for parent, child in zip(chain, chain[1:], strict=False):
        assert (ids[parent], ids[child]) in edges, (parent, child)
    assert (ids["fct_customer_metrics"], ids["mart_explorer_app"]) in edges
    assert (ids["fct_customer_metrics"], ids["top_customers"]) in edges
    layers = {label: graph.nodes[node_id].layer for label, node_id in ids.items()}
    assert layers["bronze.raw_transactions"] == "sources"
    assert layers["stg_transactions"] == "staging"
    assert layers["int_customer_transactions"] == "intermediate"
    assert layers["fct_customer_metrics"] == "marts"
    assert layers["customers_snapshot"] == "snapshots"
    assert layers["mart_explorer_app"] == "exposures"
    assert layers["top_customers"] == "analyses"
    assert all(node.layer == "tests" for node in graph.nodes.values() if node.is_test)


def test_statuses_times_and_row_counts(good_artifacts: BuildArtifacts) -> None:
    assert good_artifacts.run_command == "build"
    models = [n for n in good_artifacts.graph.nodes.values() if n.resource_type == "model"]
    assert models and all(node.status == "success" for node in models)
    assert all(node.execution_time is not None and node.execution_time >= 0 for node in models)
    assert all(node.materialization in {"table", "incremental", "view"} for node in models)
    summary = good_artifacts.test_summary()
    assert summary == {
        "pass": len(good_artifacts.tests),
        "fail": 0,
        "warn": 0,
        "error": 0,
        "skipped": 0,
    }
    graph = good_artifacts.graph
    assert graph.find("stg_transactions").row_count == 8
    assert graph.find("fct_customer_metrics").row_count == 4
    assert graph.find("bronze.raw_transactions").row_count == 8
    assert graph.find("customers_snapshot").row_count == 5
    metrics = graph.find("fct_customer_metrics")
    assert metrics.test_count >= 5 and metrics.worst_test_status == "pass"
    assert metrics.relation == "main.fct_customer_metrics"


def test_row_counter_callable_is_used(builds) -> None:
    asked: list[str] = []

    def counter(relations):  # noqa: ANN001, ANN202
        asked.extend(relations)
        return dict.fromkeys(relations, 42)

    artifacts = BuildArtifacts.load(builds.good.target_dir, row_counter=counter)
    assert "main.stg_transactions" in asked
    assert artifacts.graph.find("stg_transactions").row_count == 42
    no_counts = BuildArtifacts.load(builds.good.target_dir)
    assert no_counts.graph.find("stg_transactions").row_count is None


def test_model_details(good_artifacts: BuildArtifacts) -> None:
    details = good_artifacts.model("fct_customer_metrics")
    assert details.description.startswith("Customer-level metrics")
    assert details.relation == "main.fct_customer_metrics"
    columns = {column.name: column for column in details.columns}
    assert columns["lifetime_value"].data_type == "DECIMAL(38,2)"  # from the catalog
    assert columns["customer_id"].data_type == "VARCHAR"
    assert columns["customer_id"].description
    tests = {test.test_name: test for test in columns["customer_id"].tests}
    assert {"unique", "not_null", "relationships"} <= set(tests)
    assert tests["relationships"].args == {"to": "ref('dim_customers')", "field": "customer_id"}
    segment_tests = {test.test_name: test for test in columns["customer_segment"].tests}
    assert segment_tests["accepted_values"].args["values"] == [
        "High Value",
        "Medium Value",
        "Low Value",
    ]
    assert "{{ ref(" in details.raw_sql
    assert details.compiled_sql and "{{" not in details.compiled_sql
    assert '"main"."int_customer_transactions"' in details.compiled_sql
    assert "model.techmart.int_customer_transactions" in details.depends_on
    assert "model.techmart.dim_customers" in details.referenced_by
    assert good_artifacts.has_catalog


def test_without_catalog_and_compiled_files(builds, tmp_path: Path) -> None:
    """Types fall back to the YAML; compiled SQL falls back to target/compiled files."""
    target = tmp_path / "target"
    target.mkdir()
    manifest = _manifest(builds.good.target_dir)
    for node in manifest["nodes"].values():
        node.pop("compiled_code", None)
    (target / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(builds.good.target_dir / "run_results.json", target / "run_results.json")
    shutil.copytree(builds.good.target_dir / "compiled", target / "compiled")
    artifacts = BuildArtifacts.load(target)
    assert not artifacts.has_catalog
    details = artifacts.model("fct_customer_metrics")
    assert all(column.data_type is None for column in details.columns)
    assert details.compiled_sql and "{{" not in details.compiled_sql
    test = artifacts.test("not_null_fct_customer_metrics_customer_id")
    assert test.compiled_sql and "customer_id is null" in test.compiled_sql


def test_run_results_of_docs_generate_are_not_statuses(builds, tmp_path: Path) -> None:
    """`dbt docs generate` (with compile) overwrites run_results with compile results."""
    target = tmp_path / "target"
    target.mkdir()
    shutil.copy(builds.good.target_dir / "manifest.json", target / "manifest.json")
    results = json.loads((builds.good.target_dir / "run_results.json").read_text())
    results["args"]["which"] = "generate"
    (target / "run_results.json").write_text(json.dumps(results))
    artifacts = BuildArtifacts.load(target)
    assert all(node.status is None for node in artifacts.graph.nodes.values())
    assert artifacts.test_summary()["pass"] == 0


def test_missing_target_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="manifest.json"):
        BuildArtifacts.load(tmp_path)


def test_failing_build(builds, failing_artifacts: BuildArtifacts) -> None:
    summary = failing_artifacts.test_summary()
    assert summary["fail"] == 1 and summary["error"] == 0
    assert summary["skipped"] > 0
    assert sum(summary.values()) == len(failing_artifacts.tests)
    test = failing_artifacts.test(FAILING_TEST)
    assert test.status == "fail" and test.failed
    assert test.failures == 1
    assert "Got 1 result" in (test.message or "")
    assert test.model_name == "stg_transactions" and test.column_name == "transaction_id"
    assert test.test_name == "unique" and test.kind == "generic"
    assert test.severity == "ERROR"
    assert test.stored_failures_relation == f"main_dbt_test__audit.{FAILING_TEST}"
    assert test.compiled_sql and "transaction_id" in test.compiled_sql
    assert [t.name for t in failing_artifacts.failing_tests()] == [FAILING_TEST]

    rows = failing_rows(builds.failing.db_path, test)
    assert list(rows["unique_field"]) == ["T001"]
    assert list(rows["n_records"]) == [2]
    by_name = failing_rows(builds.failing.db_path, FAILING_TEST, artifacts=failing_artifacts)
    assert len(by_name) == 1

    graph = failing_artifacts.graph
    staging = graph.find("stg_transactions")
    assert staging.status == "success" and staging.worst_test_status == "fail"
    metrics = graph.find("fct_customer_metrics")
    assert metrics.status == "skipped"
    # Its table in the file is the previous build's: no row count is shown for it.
    assert metrics.row_count is None and metrics.execution_time is None
    assert graph.find("stg_transactions").row_count == 9


def test_failing_rows_of_a_passing_test_and_refusals(builds, good_artifacts) -> None:
    passing = good_artifacts.test("unique_fct_customer_metrics_customer_id")
    assert failing_rows(builds.good.db_path, passing).empty
    unit = next(test for test in good_artifacts.tests.values() if test.kind == "unit")
    with pytest.raises(InputError, match="unit test"):
        failing_rows(builds.good.db_path, unit)
    with pytest.raises(InputError):
        failing_rows(builds.good.db_path, passing, limit=-1)


def test_analyses(good_artifacts: BuildArtifacts) -> None:
    assert set(good_artifacts.analyses) == {
        "favorite_category",
        "retention_rate",
        "segment_distribution",
        "top_customers",
    }
    top = good_artifacts.analysis("top_customers")
    assert top.summary.startswith("Business question 1: who are our most valuable customers?")
    assert "\n" not in top.summary
    assert "{{ ref('fct_customer_metrics') }}" in top.raw_sql
    sql = compiled_analysis_sql(good_artifacts, "top_customers")
    assert '"main"."fct_customer_metrics"' in sql and "{{" not in sql
    with pytest.raises(NotFoundError, match="top_customers"):
        good_artifacts.analysis("nope")


def test_render_refs() -> None:
    relations = {"a": "main.a", "src.t": "bronze.t"}
    assert render_refs("select * from {{ ref('a') }}", relations) == 'select * from "main"."a"'
    assert render_refs('from {{ref("a")}}', relations) == 'from "main"."a"'
    assert render_refs("from {{ ref('pkg', 'a') }}", relations) == 'from "main"."a"'
    assert render_refs("from {{ source('src', 't') }}", relations) == 'from "bronze"."t"'
    with pytest.raises(NotFoundError, match="ref\\('b'\\)"):
        render_refs("from {{ ref('b') }}", relations)
    with pytest.raises(InputError, match="Jinja"):
        render_refs("{% if true %}select 1{% endif %}", relations)
    with pytest.raises(InputError, match="Jinja"):
        render_refs("select {{ var('x') }} from {{ ref('a') }}", relations)


def test_load_time_is_reported(builds) -> None:
    started = time.perf_counter()
    artifacts = BuildArtifacts.load(builds.good.target_dir, builds.good.db_path)
    total_ms = (time.perf_counter() - started) * 1000
    assert artifacts.load_ms > 0 and artifacts.count_ms > 0
    print(
        f"parse {artifacts.load_ms:.1f} ms, counts {artifacts.count_ms:.1f} ms, {total_ms:.1f} ms"
    )


def test_columns_markdown_escapes_and_marks_tests():
    from mart.artifacts import Column, ColumnTest, columns_markdown

    test = ColumnTest(unique_id="t", test_name="not_negative", args={}, status="fail")
    column = Column(
        name="amount", data_type="DECIMAL(18,2)", description="a | b\n  c", tests=(test,)
    )
    table = columns_markdown([column, Column(name="note", data_type=None)])
    assert table.splitlines()[2] == (
        "| `amount` | DECIMAL(18,2) | a \\| b c | not_\u200bnegative ✗ |"
    )
    assert table.splitlines()[3] == "| `note` |   |   |   |"
    # long names may wrap after their underscores (a 1024 px screen)
    wide = columns_markdown([Column(name="days_since_last_purchase", data_type="INTEGER")])
    assert "`days_\u200bsince_\u200blast_\u200bpurchase`" in wide


def test_failing_rows_keep_dates_as_dates(tmp_path) -> None:
    """pandas has no date type: a DATE column came back as timestamps at midnight."""
    from datetime import date
    from types import SimpleNamespace

    import duckdb

    path = tmp_path / "mart.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema audit")
        con.execute(
            "create view audit.future as select 'T9' as transaction_id, "
            "date '2099-01-01' as transaction_date, timestamp '2099-01-01 10:30' as event_at, "
            "0.10::decimal(18, 2) as amount, 99999999999999.99::decimal(18, 2) as big, "
            "null::decimal(18, 2) as missing"
        )
    test = SimpleNamespace(
        kind="generic",
        name="future",
        stored_failures_relation="audit.future",
        status="fail",
        failures=1,
    )
    rows = failing_rows(path, test)
    assert rows["transaction_date"].tolist() == [date(2099, 1, 1)]
    assert str(rows["event_at"].iloc[0]) == "2099-01-01 10:30:00"  # timestamps stay
    # DECIMALs are exact (a float showed 0.10 as 0.1 and 99999999999999.99 as 1e14)
    from decimal import Decimal

    assert rows["amount"].tolist() == [Decimal("0.10")] and rows["missing"].tolist() == [None]
    assert rows["big"].tolist() == [Decimal("99999999999999.99")]
    from mart import money

    shown = money.exact_text(rows)
    assert shown["amount"].tolist() == ["0.10"] and shown["big"].tolist() == ["99999999999999.99"]
    assert shown["transaction_id"].tolist() == ["T9"]

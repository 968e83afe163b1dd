"""Every model, snapshot-derived model and source is described, and so is every column
the model actually produces (compared with the built tables, not only the YAML)."""

from __future__ import annotations

import json
import re

import duckdb


def test_every_model_and_column_is_described(sample_build):
    db_path, target, _ = sample_build
    manifest = json.loads((target / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) >= 10
    problems = []
    with duckdb.connect(str(db_path), read_only=True) as connection:
        for node in models:
            if not node["description"].strip():
                problems.append(f"{node['name']}: no description")
            built = {
                row[0]
                for row in connection.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ?",
                    [node["schema"], node["alias"]],
                ).fetchall()
            }
            assert built, f"{node['name']} was not built"
            documented = {
                name for name, column in node["columns"].items() if column["description"].strip()
            }
            missing = sorted(built - documented)
            if missing:
                problems.append(f"{node['name']}: undocumented columns {missing}")
    for source in manifest["sources"].values():
        if not source["description"].strip():
            problems.append(f"source {source['name']}: no description")
    assert not problems, "\n".join(problems)


def test_exposure_ends_the_lineage_at_the_app(sample_build):
    manifest = json.loads((sample_build[1] / "manifest.json").read_text())
    exposures = list(manifest["exposures"].values())
    assert [exposure["name"] for exposure in exposures] == ["mart_explorer_app"]
    depends = set(exposures[0]["depends_on"]["nodes"])
    assert "model.techmart.fct_customer_metrics" in depends
    assert "model.techmart.fct_cohort_retention" in depends


def test_overview_names_the_money_types_the_mart_has(sample_build):
    """The overview said "Money is DECIMAL(18,2) from staging to the marts", but sums
    (lifetime_value) are DECIMAL(38,2): each type it gives is that of the columns it
    names, in every built table that has them, and every money column is named."""
    db_path, target, _ = sample_build
    manifest = json.loads((target / "manifest.json").read_text())
    [overview] = [
        doc["block_contents"]
        for doc in manifest["docs"].values()
        if doc["name"] == "__overview__" and doc["package_name"] == "techmart"
    ]
    text = " ".join(overview.split())
    claims = {
        column.strip(" `"): kind
        for columns, kind in re.findall(r"\(([^)]*)\) (?:is|are) (DECIMAL\(\d+,\d+\))", text)
        for column in columns.split(",")
    }
    assert "lifetime_value" in claims, text
    with duckdb.connect(str(db_path), read_only=True) as connection:
        built = connection.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where data_type like 'DECIMAL(%,2)'"
        ).fetchall()
    wrong = [
        f"{table}.{column} is {kind}, the overview says {claims[column]}"
        for table, column, kind in built
        if column in claims and claims[column] != kind
    ]
    assert not wrong, "\n".join(wrong)
    # Money columns (scale 2, not a count's average) the overview does not name.
    unnamed = {
        column
        for _, column, _ in built
        if column not in claims and not column.startswith(("avg_categories", "avg_transactions"))
    }
    assert not unnamed, sorted(unnamed)

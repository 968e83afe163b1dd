"""Every model, snapshot-derived model and source is described, and so is every column
the model actually produces (compared with the built tables, not only the YAML)."""

from __future__ import annotations

import json

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

"""Fixtures for the build engine tests: real dbt builds in temporary workspaces."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mart import datasets
from mart.builds import BuildManager
from mart.workspace import DBT_PROJECT_DIR, SAMPLE_DATA_DIR, Workspace


def sample_records(dataset: str) -> list[dict]:
    """The bundled sample records of ``dataset``."""
    text = (SAMPLE_DATA_DIR / f"{dataset}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def commit_records(ws: Workspace, dataset: str, records: list[dict], message: str) -> int:
    """Save ``records`` as the new HEAD version of ``dataset``; return its id."""
    lines = [json.dumps(record) for record in records]

    def write(path: Path) -> None:
        table = pa.table(
            {
                "record_number": pa.array(range(1, len(lines) + 1), pa.int64()),
                "raw_data": pa.array(lines, pa.string()),
            }
        )
        pq.write_table(table, path)

    return datasets.create_version(ws, dataset, write, message=message, kind="test").id


def copy_project(tmp_path: Path) -> Path:
    """A private copy of the dbt project (without build outputs), safe to edit."""
    project = tmp_path / "project"
    shutil.copytree(
        DBT_PROJECT_DIR,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", "*.duckdb.wal"),
    )
    return project


@pytest.fixture(scope="module")
def module_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace shared by the tests of one module (builds are slow; share them)."""
    root = tmp_path_factory.mktemp("workspace")
    patch = pytest.MonkeyPatch()
    patch.setenv("MART_WORKSPACE", str(root))
    try:
        yield Workspace.from_env(root)
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def manager(module_ws: Workspace) -> Iterator[BuildManager]:
    """A build manager with a warm worker, shut down after the module.

    Docs generation is off here (it is tested in test_lifecycle): it would only compete
    for the CPU with the next build.
    """
    built = BuildManager(module_ws, docs=False)
    built.prewarm()
    try:
        yield built
    finally:
        built.shutdown()


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


def mart_contents(db_path: str) -> dict[str, list[tuple]]:
    """Every table and view of a build's file (main, failing rows, bronze), sorted rows,
    without the columns a clock sets: what two builds of the same data must share."""
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

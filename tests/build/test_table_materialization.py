"""The project's one-statement table materialization, and what it hands to dbt-duckdb's.

* a table model is rebuilt in place, and a model that was a view becomes a table;
* a model with an enforced contract goes to dbt-duckdb's materialization (its column
  types and constraints apply, and a contract violation fails the build);
* no `__dbt_tmp` or `__dbt_backup` relation is ever left behind.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from mart.builds import FAILED, PUBLISHED, BuildManager
from mart.workspace import Workspace
from tests.build.conftest import copy_project

CONTRACT_YML = """
version: 2
models:
  - name: contract_segments
    config:
      contract:
        enforced: true
    columns:
      - name: customer_segment
        data_type: varchar
        constraints:
          - type: not_null
      - name: customers
        data_type: bigint
"""


def _relations(db_path: str) -> dict[str, str]:
    con = duckdb.connect(db_path, read_only=True)
    try:
        rows = con.execute(
            "select table_name, 'table' from duckdb_tables() where schema_name = 'main' "
            "union all select view_name, 'view' from duckdb_views() "
            "where schema_name = 'main' and not internal"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def _constraints(db_path: str, table: str) -> list[str]:
    con = duckdb.connect(db_path, read_only=True)
    try:
        return [
            row[0]
            for row in con.execute(
                "select constraint_type from duckdb_constraints() where table_name = ?",
                [table],
            ).fetchall()
        ]
    finally:
        con.close()


def test_views_tables_and_contracts(workspace: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    models = project / "models" / "marts"
    (models / "segment_counts.sql").write_text(
        "{{ config(materialized='view') }}\n"
        "select customer_segment, count(*) as customers\n"
        "from {{ ref('fct_customer_metrics') }} group by 1\n"
    )
    (models / "contract_segments.sql").write_text(
        "select customer_segment, count(*) as customers\n"
        "from {{ ref('fct_customer_metrics') }} group by 1\n"
    )
    (models / "contract_segments.yml").write_text(CONTRACT_YML)
    manager = BuildManager(Workspace.from_env(workspace), project_dir=project, docs=False)
    try:
        first = manager.request_build()
        assert first.status == PUBLISHED, first.error
        relations = _relations(first.db_path)
        assert relations["segment_counts"] == "view"
        assert relations["contract_segments"] == "table"
        assert relations["fct_customer_metrics"] == "table"
        # dbt-duckdb's path created the contract's columns with their constraint
        assert "NOT NULL" in _constraints(first.db_path, "contract_segments")

        # the view becomes a table (on a copy of the file that holds the view)
        view = models / "segment_counts.sql"
        view.write_text(view.read_text().replace("'view'", "'table'"))
        second = manager.request_build()
        assert second.status == PUBLISHED, second.error
        relations = _relations(second.db_path)
        assert relations["segment_counts"] == "table"
        assert not [name for name in relations if "__dbt_tmp" in name or "__dbt_backup" in name]
        con = duckdb.connect(second.db_path, read_only=True)
        try:
            total = con.execute("select sum(customers) from segment_counts").fetchone()[0]
            expected = con.execute("select count(*) from fct_customer_metrics").fetchone()[0]
        finally:
            con.close()
        assert total == expected

        # a contract the SQL breaks fails the build, as with dbt-duckdb's own
        (models / "contract_segments.sql").write_text(
            "select customer_segment, count(*)::varchar as customers\n"
            "from {{ ref('fct_customer_metrics') }} group by 1\n"
        )
        broken = manager.request_build()
        assert broken.status == FAILED
        assert "contract" in (broken.error or "").lower()
    finally:
        manager.shutdown()

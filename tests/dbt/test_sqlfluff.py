"""The dbt project passes sqlfluff (dbt templater, duckdb dialect; dbt_project/.sqlfluff)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mart.workspace import DBT_PROJECT_DIR


def test_models_pass_sqlfluff(tmp_path: Path) -> None:
    env = dict(os.environ, MART_DUCKDB_PATH=str(tmp_path / "lint.duckdb"))
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    paths = [
        "models",
        "analyses",
        *sorted(
            str(p.relative_to(DBT_PROJECT_DIR)) for p in (DBT_PROJECT_DIR / "tests").glob("*.sql")
        ),
    ]
    result = subprocess.run(
        [str(sqlfluff), "lint", "--disable-progress-bar", *paths],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "All Finished" in result.stdout

"""Fixtures that build the dbt project with the plain dbt CLI into temporary DuckDB files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from mart.workspace import DBT_PROJECT_DIR

DBT = [sys.executable, "-c", "from dbt.cli.main import cli; cli()"]
AS_OF = "2024-03-01"


def run_dbt(
    args: list[str],
    db_path: Path,
    target_path: Path,
    *,
    variables: dict | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the dbt CLI in dbt_project/ (its own profiles.yml) against ``db_path``."""
    env = dict(os.environ, MART_DUCKDB_PATH=str(db_path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    command = [
        *DBT,
        *args,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
        "--vars",
        json.dumps({"as_of_date": AS_OF, **(variables or {})}),
    ]
    result = subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        output = result.stdout[-4000:] + result.stderr
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{output}")
    return result


@pytest.fixture(scope="session")
def dbt() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The run_dbt helper, as a fixture."""
    return run_dbt


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The sample built once: (duckdb path, target dir, dbt stdout)."""
    root = tmp_path_factory.mktemp("sample_build")
    db_path = root / "mart.duckdb"
    target = root / "target"
    result = run_dbt(["build"], db_path, target)
    run_dbt(["compile", "--select", "resource_type:analysis"], db_path, target)
    return db_path, target, result.stdout


@pytest.fixture
def query(sample_build: tuple[Path, Path, str]) -> Callable[[str], list[tuple]]:
    db_path = sample_build[0]

    def _query(sql: str) -> list[tuple]:
        with duckdb.connect(str(db_path), read_only=True) as connection:
            return connection.sql(sql).fetchall()

    return _query


@pytest.fixture
def build_copy(sample_build: tuple[Path, Path, str], tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the sample build's DuckDB file, to change and rebuild."""
    db_path = tmp_path / "mart.duckdb"
    shutil.copy(sample_build[0], db_path)
    return db_path, tmp_path / "target"

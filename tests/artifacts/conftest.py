"""One real dbt build per test session, shared by the artifacts, lineage and CLI tests.

``good``: a hand-made workspace whose build 1 is published (``builds/1/mart.duckdb``,
``builds/1/target`` with catalog.json from ``docs generate --no-compile``), built on the
bundled sample data with as_of_date 2024-03-01. ``failing``: a copy of that file with
one raw transaction duplicated, rebuilt with bronze_autoload false, so
``unique_stg_transactions_transaction_id`` fails and everything downstream is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from mart.workspace import DBT_PROJECT_DIR

DBT = str(Path(sys.executable).with_name("dbt"))
AS_OF = "2024-03-01"


@dataclass(frozen=True)
class Build:
    """One dbt build on disk."""

    db_path: Path
    target_dir: Path
    returncode: int


@dataclass(frozen=True)
class Builds:
    workspace: Path
    good: Build
    failing: Build


def _dbt(args: list[str], db_path: Path, logs: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "MART_DUCKDB_PATH": str(db_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "0"}
    return subprocess.Popen(
        [DBT, *args, "--log-path", str(logs), "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> int:
    output, _ = process.communicate(timeout=300)
    process.output = output  # type: ignore[attr-defined]
    return process.returncode


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    root = tmp_path_factory.mktemp("artifacts")
    workspace = root / "workspace"
    build_dir = workspace / "builds" / "1"
    build_dir.mkdir(parents=True)
    good = Build(build_dir / "mart.duckdb", build_dir / "target", 0)
    process = _dbt(
        [
            "build",
            "--target-path",
            str(good.target_dir),
            "--vars",
            json.dumps({"as_of_date": AS_OF}),
        ],
        good.db_path,
        root / "logs-good",
    )
    code = _finish(process)
    assert code == 0, process.output  # type: ignore[attr-defined]

    # The failing build starts from a copy of the good one with a duplicate transaction.
    fail_dir = root / "failing"
    fail_dir.mkdir()
    failing_db = fail_dir / "mart.duckdb"
    shutil.copy(good.db_path, failing_db)
    con = duckdb.connect(str(failing_db))
    try:
        con.execute(
            "insert into bronze.raw_transactions select * from bronze.raw_transactions "
            "where raw_data->>'transaction_id' = 'T001'"
        )
    finally:
        con.close()
    failing_proc = _dbt(
        [
            "build",
            "--target-path",
            str(fail_dir / "target"),
            "--vars",
            json.dumps({"as_of_date": AS_OF, "bronze_autoload": False}),
        ],
        failing_db,
        root / "logs-failing",
    )
    docs_proc = _dbt(
        [
            "docs",
            "generate",
            "--no-compile",
            "--target-path",
            str(good.target_dir),
            "--vars",
            json.dumps({"as_of_date": AS_OF}),
        ],
        good.db_path,
        root / "logs-docs",
    )
    failing_code = _finish(failing_proc)
    docs_code = _finish(docs_proc)
    assert docs_code == 0, docs_proc.output  # type: ignore[attr-defined]
    assert failing_code == 1, failing_proc.output  # type: ignore[attr-defined]
    (workspace / "builds" / "current").write_text("1\n", encoding="utf-8")
    return Builds(
        workspace=workspace,
        good=good,
        failing=Build(failing_db, fail_dir / "target", failing_code),
    )


@pytest.fixture(scope="session")
def good_artifacts(builds: Builds):  # noqa: ANN201
    from mart.artifacts import BuildArtifacts

    return BuildArtifacts.load(builds.good.target_dir, builds.good.db_path)


@pytest.fixture(scope="session")
def failing_artifacts(builds: Builds):  # noqa: ANN201
    from mart.artifacts import BuildArtifacts

    return BuildArtifacts.load(builds.failing.target_dir, builds.failing.db_path)

"""A warm worker sees edited dbt files; the CLI's exit codes and status JSON."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from mart import datasets
from mart.builds import PUBLISHED, BuildManager
from mart.workspace import PROJECT_ROOT, Workspace
from tests.build.conftest import commit_records, copy_project, sample_records


def test_an_edited_model_is_seen_by_a_warm_worker(tmp_path: Path, workspace: Path) -> None:
    project = copy_project(tmp_path)
    manager = BuildManager(Workspace.from_env(workspace), project_dir=project, docs=False)
    manager.prewarm()
    try:
        assert manager.wait_warm(120)  # parsed the unedited project
        model = project / "models" / "marts" / "fct_retention_summary.sql"
        text = model.read_text()
        assert "select * from final" in text
        edited = text.replace("select * from final", "select *, 42 as engine_probe from final")
        model.write_text(edited)
        record = manager.request_build()
        assert record.status == PUBLISHED, record.error
        phases = [event.get("phase") for event in manager.events(record.build_id)]
        assert "parse" in phases
        con = duckdb.connect(record.db_path, read_only=True)
        try:
            probe = con.execute("select distinct engine_probe from main.fct_retention_summary")
            assert probe.fetchall() == [(42,)]
        finally:
            con.close()
    finally:
        manager.shutdown()


def run_cli(*args: str, workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mart", "--workspace", str(workspace), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_exit_codes_and_status_json(workspace: Path) -> None:
    status = run_cli("status", "--json", workspace=workspace)
    assert status.returncode == 0, status.stderr
    empty = json.loads(status.stdout)
    assert empty["published"] is None and empty["last_build"] is None
    assert empty["datasets"]["transactions"] == {"version": 1, "rows": 8}

    records = sample_records("transactions")
    records.append({**records[0], "amount": 1.0})  # a duplicate transaction id
    commit_records(Workspace.from_env(workspace), "transactions", records, "dup")

    failed = run_cli("build", "--var", "high_value_threshold=400", workspace=workspace)
    assert failed.returncode == 1, failed.stderr
    assert "unique_stg_transactions_transaction_id" in failed.stderr
    assert "[" in failed.stderr and "PASS" in failed.stderr  # per-node progress lines
    assert "vars: high_value_threshold=400" in failed.stderr
    assert "the failing rows are in this build's file" in failed.stderr

    forced = run_cli("build", "--publish-on-test-failure", workspace=workspace)
    assert forced.returncode == 0, forced.stderr
    # dbt skipped what depends on the failing staging test; the engine built it anyway,
    # so the mart published anyway has every table, built from this data.
    output = forced.stdout + forced.stderr
    assert "tests failed: building the" in forced.stderr  # the progress says so
    assert "built and ran them anyway" in output and "this published mart" in output
    assert "were not rebuilt" not in output
    with duckdb.connect(
        str(Path(workspace) / "builds" / "2" / "mart.duckdb"), read_only=True
    ) as con:
        # the duplicate's customer: its transactions, the duplicate counted again
        customer = records[0]["customer_id"]
        expected = sum(1 for record in records if record["customer_id"] == customer)
        assert con.execute(
            "select transaction_count from dim_customers where customer_id = ?", [customer]
        ).fetchall() == [(expected,)]

    status = json.loads(run_cli("status", "--json", workspace=workspace).stdout)
    assert status["datasets"]["transactions"] == {"version": 2, "rows": 9}
    assert status["published"]["build_id"] == 2
    assert status["published"]["path"].endswith("builds/2/mart.duckdb")
    assert status["published"]["tests"]["fail"] >= 1
    assert set(status["published"]["tests"]) == {"pass", "fail", "warn", "error", "skipped"}
    assert status["published"]["vars"] == {} and status["published"]["published_anyway"]
    assert status["published"]["published_at"] >= status["published"]["finished_at"]
    assert status["last_build"]["build_id"] == 2
    assert status["last_build"]["status"] == "published"
    assert status["last_build"]["duration_s"] > 0
    text = run_cli("status", workspace=workspace)
    assert text.returncode == 0 and "published: build 2" in text.stdout
    assert "(published anyway at " in text.stdout and "vars: defaults" in text.stdout
    history = BuildManager(Workspace.from_env(workspace)).get(1)
    assert history.vars == {"high_value_threshold": 400} and history.failure == "tests"

    # Nothing changed since build 2: every node is reused (its failing test fails again),
    # and --no-reuse runs them all.
    again = run_cli("build", workspace=workspace)
    assert again.returncode == 1, again.stderr
    assert "reusing 81 unchanged nodes from build 2" in again.stderr
    assert "13 models, 1 snapshot and 67 tests did not run again" in again.stderr
    assert "0 models, snapshots and tests ran. --no-reuse runs every node." in again.stderr
    assert "unchanged nodes reused" in again.stdout
    everything = run_cli("build", "--no-reuse", workspace=workspace)
    assert everything.returncode == 1, everything.stderr
    assert "reusing" not in everything.stderr and "did not run again" not in everything.stderr
    assert "PASS" in everything.stderr and "FAIL" in everything.stderr


def test_cli_build_keeps_the_published_vars_like_the_app(workspace: Path) -> None:
    """``build`` keeps the published build's vars; --var changes one, --default-vars
    drops them. The first build ever has nothing to keep."""
    first = run_cli("build", "--var", "as_of_date=2024-03-01", workspace=workspace)
    assert first.returncode == 0, first.stderr
    assert "vars: as_of_date=2024-03-01\n" in first.stderr  # nothing was kept

    second = run_cli("build", "--var", "high_value_threshold=450", workspace=workspace)
    assert second.returncode == 0, second.stderr
    assert (
        "vars: as_of_date=2024-03-01, high_value_threshold=450 (as_of_date kept from "
        "published build 1; --default-vars drops them)"
    ) in second.stderr
    manager = BuildManager(Workspace.from_env(workspace))
    assert manager.get(2).vars == {"as_of_date": "2024-03-01", "high_value_threshold": 450}

    # New data past the kept date: said before the build, and why it failed after.
    later = workspace.parent / "june.csv"
    later.write_text(
        "transaction_id,customer_id,transaction_date,amount,product_category\n"
        "T900,C001,2024-06-10,12.00,Audio\n",
        encoding="utf-8",
    )
    datasets.load_file(Workspace.from_env(workspace), "transactions", later, mode="append")
    behind = run_cli("build", workspace=workspace)
    assert behind.returncode == 1, behind.stderr
    assert (
        "warning: the data now runs to 2024-06-10, after the as-of date 2024-03-01 this "
        "build keeps from build 2"
    ) in behind.stderr
    assert "--var as_of_date=2024-07-01" in behind.stderr
    assert "kept from build #2" in behind.stdout  # the failure's hint, in the summary
    assert "note: the last build" not in behind.stderr  # build 1 published

    # A retry after a build that failed with another as-of date keeps the published
    # build's date, not the one just tried: said before it runs.
    tried = run_cli("build", "--var", "as_of_date=2024-05-01", workspace=workspace)
    assert tried.returncode == 1, tried.stderr
    retry = run_cli("build", workspace=workspace)
    assert retry.returncode == 1, retry.stderr
    assert (
        "note: the last build, 4, failed with as_of_date=2024-05-01; this build uses the "
        "vars of published build 2 (as_of_date=2024-03-01). Add --var as_of_date=2024-05-01"
    ) in retry.stderr

    third = run_cli("build", "--default-vars", workspace=workspace)
    assert third.returncode == 0, third.stderr
    assert "vars: defaults\n" in third.stderr
    assert manager.get(6).vars == {}


def _interrupt_when(process: subprocess.Popen[str], ready: Callable[[], bool]) -> None:
    """Ctrl-C, as a terminal sends it (to the whole process group), once ``ready``."""
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "never got ready"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)


def test_ctrl_c_cancels_a_cli_build(workspace: Path) -> None:
    """Ctrl-C used to leave the record "running" until the next start found its process
    gone; now the build is cancelled on the spot and the published one stays."""
    assert run_cli("build", workspace=workspace).returncode == 0
    manager = BuildManager(Workspace.from_env(workspace))
    process = subprocess.Popen(
        [sys.executable, "-m", "mart", "--workspace", str(workspace), "build", "--no-reuse"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _interrupt_when(
        process,
        lambda: any(event["type"] == "node_started" for event in manager.events(2)),
    )
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2, err
    assert "interrupted: cancelling build 2" in err and "Traceback" not in err
    assert "cancelled" in out
    assert manager.get(2).status == "cancelled"
    assert manager.published().build_id == 1  # type: ignore[union-attr]


def test_a_build_in_a_copied_or_moved_workspace_uses_its_own_files(
    workspace: Path, tmp_path: Path
) -> None:
    """Records kept absolute paths: a build in a copy pruned the original's files, and a
    moved workspace started from an empty file (the snapshot's history lost)."""
    assert run_cli("build", workspace=workspace).returncode == 0
    assert (
        run_cli("build", "--var", "high_value_threshold=300", workspace=workspace).returncode == 0
    )
    original_files = sorted(p.name for p in (workspace / "builds" / "1").iterdir())
    assert "mart.duckdb" in original_files
    copy = tmp_path / "copy"
    shutil.copytree(workspace, copy, symlinks=True)
    env = {**os.environ, "MART_KEEP_BUILDS": "1"}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "mart", "--workspace", str(copy), "build", "--no-reuse"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (workspace / "builds" / "1").iterdir()) == original_files
    assert not (copy / "builds" / "1" / "mart.duckdb").exists()  # the copy's own, pruned

    def snapshot_rows(root: Path) -> int:
        build_id = int((root / "builds" / "current").read_text())
        with duckdb.connect(
            str(root / "builds" / str(build_id) / "mart.duckdb"), read_only=True
        ) as con:
            return con.execute("select count(*) from main.customers_snapshot").fetchone()[0]

    before = snapshot_rows(copy)
    moved = tmp_path / "moved"
    copy.rename(moved)
    done = run_cli("build", "--var", "high_value_threshold=250", workspace=moved)
    assert done.returncode == 0, done.stderr
    record = BuildManager(Workspace.from_env(moved)).published()
    assert record is not None and record.timings.get("based_on_build") == 4
    # the history went on from the copied file (an empty start holds one row a customer)
    assert snapshot_rows(moved) >= before > 4

"""The dataset commands of ``python -m mart``, run as a user would (subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mart import datasets
from mart.workspace import PROJECT_ROOT, Workspace


@pytest.fixture
def mart(workspace: Path):
    """Run ``python -m mart ARGS`` with MART_WORKSPACE set to the test's workspace."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MART_WORKSPACE": str(workspace)}
        return subprocess.run(
            [sys.executable, "-m", "mart", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_load_history_diff_undo_restore(mart, workspace, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "Customer ID,Order Date,Total ($),Colour\nC1,2024-01-01,$5.00,red\n,2024-01-02,7,\n"
    )
    done = mart("load", "transactions", str(path), "--mode", "append", "--message", "two more")
    assert done.returncode == 0, done.stderr
    assert "new HEAD v2 (10 rows) two more" in done.stdout
    assert "customer_id        <- 'Customer ID'" in done.stdout
    assert "empty in 1 row(s): 2" in done.stdout
    history = mart("history", "transactions")
    assert history.returncode == 0
    assert "* v2" in history.stdout and "two more" in history.stdout
    diff = mart("diff", "transactions", "1", "v2")
    assert "added 2, removed 0, changed 0, unchanged 8" in diff.stdout
    undo = mart("undo", "transactions")
    assert undo.returncode == 0 and "HEAD v2 -> v1" in undo.stdout
    restore = mart("restore", "transactions", "2")
    assert restore.returncode == 0 and "new HEAD v3 (10 rows)" in restore.stdout
    assert datasets.head(Workspace.from_env(workspace), "transactions").id == 3


def test_refused_load_exits_1_lists_problems_and_changes_nothing(mart, workspace, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,date,amount\nC1,2024-01-01,1\nC2,yesterday,2\nC3,2024-01-03,x\n")
    done = mart("load", "transactions", str(path))
    assert done.returncode == 1
    assert done.stdout == ""
    assert "row 2, column 'date' (transaction_date): cannot read as a date" in done.stderr
    assert "row 3, column 'amount' (amount): cannot read as an amount" in done.stderr
    assert "Traceback" not in done.stderr
    assert datasets.head(Workspace.from_env(workspace), "transactions").id == 1


def test_map_default_and_date_format_options(mart, workspace, tmp_path):
    path = tmp_path / "uk.csv"
    path.write_text("who;when;net;gross\nC1;05/01/2024;1,50;2,00\n")  # 5 Jan or May 1
    ambiguous = mart(
        "load",
        "transactions",
        str(path),
        "--map",
        "customer_id=who",
        "--map",
        "transaction_date=when",
        "--map",
        "amount=gross",
    )
    assert ambiguous.returncode == 1 and "ambiguous" in ambiguous.stderr
    done = mart(
        "load",
        "transactions",
        str(path),
        "--map",
        "customer_id=who",
        "--map",
        "transaction_date=when",
        "--map",
        "amount=gross",
        "--date-format",
        "%d/%m/%Y",
        "--default",
        "product_category=Audio",
    )
    assert done.returncode == 0, done.stderr
    frame = datasets.read_records(Workspace.from_env(workspace), "transactions")
    row = frame.iloc[0]
    assert (row["transaction_date"], row["amount"], row["product_category"], row["net"]) == (
        "2024-01-05",
        "2.00",
        "Audio",
        "1,50",
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("load", "transactions", "/no/such/file.csv"), "does not exist"),
        (("load", "orders", "x.csv"), "invalid choice"),
        (("load", "transactions", "x.csv", "--map", "nonsense"), "not FIELD=VALUE"),
        (("restore", "events", "42"), "no version 42"),
        (("restore", "events", "latest"), "not a version number"),
        (("undo", "events"), "Nothing to undo"),
        (("generate", "--customers", "5", "--transactions", "10", "--events", "3"), "at least"),
        (("generate", "--customers", "-5", "--transactions", "10"), "must not be negative"),
        (("diff", "transactions", "1"), "required"),
    ],
)
def test_user_mistakes_exit_1_without_traceback(mart, args, words):
    done = mart(*args)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_generate_and_reset(mart, workspace):
    done = mart("generate", "--customers", "20", "--transactions", "60", "--seed", "5")
    assert done.returncode == 0, done.stderr
    assert "transactions: v2 (60 rows)" in done.stdout
    ws = Workspace.from_env(workspace)
    assert datasets.head(ws, "events").row_count >= 60
    reset = mart("reset")
    assert reset.returncode == 0
    assert "transactions: v3 (8 rows)" in reset.stdout
    assert "events: v3 (32 rows)" in reset.stdout


def test_every_command_has_help(mart):
    for command in ("reset", "load", "generate", "history", "undo", "restore", "diff"):
        done = mart(command, "--help")
        assert done.returncode == 0
        assert "usage:" in done.stdout and len(done.stdout.splitlines()) > 3


def test_workspace_option_overrides_the_environment(mart, tmp_path):
    other = tmp_path / "other"
    done = mart("--workspace", str(other), "reset")
    assert done.returncode == 0
    assert (other / "datasets" / "transactions" / "HEAD").read_text().strip() == "2"


def test_appends_at_the_same_time_all_land(workspace, tmp_path):
    """Six `load --mode append` at once: five were refused with the grid's wording
    ("your change was based on version 94 ... reload the data"). An append has no
    opened state to lose, so each goes on top of whatever HEAD is when it saves."""
    ws = Workspace.from_env(workspace)
    before = datasets.head(ws, "transactions")
    env = {**os.environ, "MART_WORKSPACE": str(workspace)}
    runs = []
    for index in range(6):
        path = tmp_path / f"part{index}.csv"
        path.write_text(
            "transaction_id,customer_id,transaction_date,amount,product_category\n"
            + "".join(f"P{index}-{n},C{n},2024-01-15,1.00,Books\n" for n in range(50))
        )
        runs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mart",
                    "load",
                    "transactions",
                    str(path),
                    "--mode",
                    "append",
                ],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = [(run.wait(timeout=180), run.stderr.read()) for run in runs]
    assert all(code == 0 for code, _ in results), results
    after = datasets.head(ws, "transactions")
    assert after.row_count == before.row_count + 6 * 50
    records = datasets.read_records(ws, "transactions", after.id, limit=None)
    added = [tid for tid in records["transaction_id"] if tid.startswith("P")]
    assert sorted(added) == sorted(f"P{i}-{n}" for i in range(6) for n in range(50))
    assert records["record_number"].tolist() == list(range(1, after.row_count + 1))

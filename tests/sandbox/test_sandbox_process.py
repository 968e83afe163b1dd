"""The SQL console's queries in child processes: a query that will not stop, or whose
process dies, ends that process and leaves the caller (the app) running."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mart import sandbox_process
from mart.errors import NotFoundError, SandboxError
from mart.sandbox_process import IsolatedSandbox


@pytest.fixture
def box() -> Iterator[IsolatedSandbox]:
    isolated = IsolatedSandbox()
    yield isolated
    isolated.close()


def test_results_and_refusals_come_back_as_in_process(box: IsolatedSandbox, mart_db: Path) -> None:
    result = box.run_sql(mart_db, "select customer_id, lifetime_value from fct_customer_metrics")
    assert result.row_count == 3 and result.decimal_places == {"lifetime_value": 2}
    assert str(result.dataframe.lifetime_value.iloc[0]) in ("1200.5", "1200.50")
    with pytest.raises(SandboxError, match="file"):
        box.run_sql(mart_db, "select * from read_csv('/etc/passwd')")
    with pytest.raises(NotFoundError):
        box.run_sql(mart_db.parent / "missing.duckdb", "select 1")
    # the same child answers again after a refusal
    assert len(box._all) == 1
    assert box.run_sql(mart_db, "select 41 + 1 as answer").dataframe.answer.tolist() == [42]
    assert len(box._all) == 1


def test_a_query_that_ignores_the_time_limit_is_killed(
    box: IsolatedSandbox, mart_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """range() building one huge list cannot be interrupted: DuckDB runs it to the end
    (40 s and 7.8 GB for 10^8 values in the app's own process, before)."""
    monkeypatch.setattr(sandbox_process, "GRACE_S", 0.3)
    box.run_sql(mart_db, "select 1")  # the child started (its start is not the query's time)
    started = time.perf_counter()
    with pytest.raises(SandboxError, match="did not stop at the 0.2 s time limit"):
        box.run_sql(mart_db, "select len(range(100000000)) as n", timeout_s=0.2)
    assert time.perf_counter() - started < 2.5
    assert box._all == []  # killed and forgotten
    assert box.run_sql(mart_db, "select 7 as seven").dataframe.seven.tolist() == [7]


def _slow_children(tmp_path: Path, seconds: float) -> Path:
    """A folder for PYTHONPATH whose sitecustomize makes each console child start
    ``seconds`` late (as on a loaded machine); other processes are not slowed."""
    folder = tmp_path / f"slow_{seconds:g}"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import time\n"
        "with open('/proc/self/cmdline', 'rb') as f:\n"
        "    if b'mart.sandbox_process' in f.read():\n"
        f"        time.sleep({seconds})\n"
    )
    return folder


def test_the_time_limit_counts_from_when_a_slow_starting_child_takes_the_query(
    box: IsolatedSandbox, mart_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a loaded machine a cold child took seconds to start; the limit counted from the
    request, so a `select 1` with a 0.5 s limit was "killed at the time limit"."""
    monkeypatch.setenv("PYTHONPATH", str(_slow_children(tmp_path, 2.0)))
    monkeypatch.setattr(sandbox_process, "GRACE_S", 0.2)
    started = time.perf_counter()
    result = box.run_sql(mart_db, "select 1 as one", timeout_s=0.5)
    assert result.dataframe.one.tolist() == [1]
    assert time.perf_counter() - started >= 2.0  # the child did start slowly


def test_a_child_that_never_takes_the_query_is_said_plainly(
    box: IsolatedSandbox, mart_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(_slow_children(tmp_path, 30)))
    monkeypatch.setattr(sandbox_process, "START_TIMEOUT_S", 0.5)
    with pytest.raises(SandboxError, match="did not start within 0.5 s"):
        box.run_sql(mart_db, "select 1")
    assert box._all == []  # stopped and forgotten
    monkeypatch.delenv("PYTHONPATH")
    monkeypatch.setattr(sandbox_process, "START_TIMEOUT_S", 120.0)
    assert box.run_sql(mart_db, "select 2 as two").dataframe.two.tolist() == [2]


def test_a_child_that_dies_is_said_and_replaced(box: IsolatedSandbox, mart_db: Path) -> None:
    box.run_sql(mart_db, "select 1")
    [child] = box._all
    threading.Timer(0.5, child.process.kill).start()  # as the kernel's OOM killer would
    with pytest.raises(SandboxError, match="needed more memory than the console gives"):
        box.run_sql(mart_db, "select count(*) from range(100000000000)", timeout_s=30)
    assert child not in box._all
    assert box.run_sql(mart_db, "select 8 as eight").dataframe.eight.tolist() == [8]


def test_a_memory_bomb_stays_in_its_process(box: IsolatedSandbox, mart_db: Path) -> None:
    """10^9 values in one list: past the child's address-space cap, DuckDB's allocation
    fails and the sandbox says so; the caller's memory does not grow."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SandboxError, match="more memory"):
        box.run_sql(mart_db, "select range(1000000000) as l")
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 200
    assert box.run_sql(mart_db, "select 9 as nine").dataframe.nine.tolist() == [9]


def test_two_queries_at_once_use_two_children(box: IsolatedSandbox, mart_db: Path) -> None:
    results: list[float] = []
    # The quick query starts a second child (1 s, 3 s on a loaded machine, its imports
    # competing with the slow query's DuckDB threads): the slow query must outlast that
    # start by far, or "the quick one waited" and "it came after the slow one ended"
    # look the same (a 1 s limit left 0.5 s to spare under load). The slow query runs
    # in a child that has started already: a child's start counts in the parent's wait
    # (limit + GRACE_S), so a slow start read as "did not stop at the time limit".
    box.run_sql(mart_db, "select 1")

    def slow() -> None:
        started = time.perf_counter()
        with pytest.raises(SandboxError, match="longer than 8 s"):
            box.run_sql(mart_db, "select count(*) from range(100000000000)", timeout_s=8)
        results.append(time.perf_counter() - started)

    worker = threading.Thread(target=slow)
    worker.start()
    deadline = time.monotonic() + 30
    while not box._idle.empty():  # the slow query has the started child (not the quick one)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)
    quick = box.run_sql(mart_db, "select 3 as three")  # not behind the slow one
    assert quick.dataframe.three.tolist() == [3]
    assert worker.is_alive(), "the quick query waited for the slow one"
    worker.join()
    assert results and len(box._all) == 2

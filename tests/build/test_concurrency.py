"""Builds under pressure: readers during a build, two builds, cancel, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mart.builds import CANCELLED, FAILED, INTERRUPTED, PUBLISHED, BuildManager
from mart.errors import BuildBusyError
from mart.workspace import PROJECT_ROOT, Workspace


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def first_node_started(manager: BuildManager, build_id: int) -> bool:
    return any(event["type"] == "node_started" for event in manager.events(build_id))


@pytest.fixture(scope="module")
def published(manager: BuildManager) -> int:
    """Build 1, published: the baseline every test below must leave intact."""
    record = manager.request_build()
    assert record.status == PUBLISHED, record.error
    return record.build_id


def test_reads_work_and_a_second_build_waits_while_a_build_runs(
    manager: BuildManager, published: int, module_ws: Workspace
) -> None:
    published_path = manager.published_db_path()
    assert published_path is not None
    manager.wait_warm()
    build_id = manager.start_build(reuse=False)  # every node runs
    wait_for(lambda: first_node_started(manager, build_id))
    # The checks below need the build running to their end; it runs 1.5 to 4 s, the
    # checks start a CLI (1 s, several on a loaded machine: the CLI then started a
    # build of its own). So the build's worker is paused mid-build until they are done.
    worker_pid = manager.get(build_id).worker_pid
    assert worker_pid
    os.killpg(worker_pid, signal.SIGSTOP)
    other = BuildManager(module_ws, prewarm_after_build=False)
    seen: list[dict[str, Any]] = []
    outcome: dict[str, Any] = {}
    try:
        assert manager.running_build().build_id == build_id  # type: ignore[union-attr]

        # A reader of the published file is not disturbed by the build.
        con = duckdb.connect(str(published_path), read_only=True)
        try:
            assert con.execute("select count(*) from main.fct_customer_metrics").fetchone() == (4,)
        finally:
            con.close()

        # Another manager (as another process would) is refused without waiting …
        with pytest.raises(BuildBusyError, match=f"build {build_id}"):
            other.start_build(wait=False)
        # … and the CLI's --no-wait exits 2.
        cli = subprocess.run(
            [sys.executable, "-m", "mart", "build", "--no-wait"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 2, cli.stderr
        assert "already running" in cli.stderr

        # … and with waiting, it says whom it waits for and runs afterwards.
        waiter = threading.Thread(
            target=lambda: outcome.setdefault("record", other.request_build(on_event=seen.append))
        )
        waiter.start()
        wait_for(lambda: any(event["type"] == "waiting" for event in seen))
        waiting = next(event for event in seen if event["type"] == "waiting")
        assert f"build {build_id}" in waiting["message"]
        assert outcome == {}  # it waits: it has not built
    finally:
        os.killpg(worker_pid, signal.SIGCONT)  # the build goes on
    first = manager.wait(build_id)
    assert first.status == PUBLISHED
    waiter.join(timeout=180)
    assert outcome["record"].status == PUBLISHED
    assert outcome["record"].build_id == build_id + 1


def test_cancel_stops_a_build_quickly_and_publishes_nothing(manager: BuildManager) -> None:
    before = manager.published()
    manager.wait_warm()
    build_id = manager.start_build(reuse=False)  # every node runs: long enough to cancel
    wait_for(lambda: first_node_started(manager, build_id))
    asked = time.monotonic()
    assert manager.cancel(build_id)
    record = manager.wait(build_id, timeout=10)
    assert time.monotonic() - asked < 2.0
    assert record.status == CANCELLED
    assert manager.published().build_id == before.build_id  # type: ignore[union-attr]
    assert record.build_dir.is_dir()
    assert not manager.cancel(build_id)  # no longer running
    assert manager.events(build_id)[-1]["status"] == CANCELLED
    # The record keeps what finished before the cancel (its progress events).
    finished = {e["unique_id"] for e in manager.events(build_id) if e["type"] == "node_finished"}
    assert {node["unique_id"] for node in record.nodes} == finished
    tests = [node for node in record.nodes if node["resource_type"] in ("test", "unit_test")]
    assert sum(record.tests.values()) == len(tests)


def test_a_killed_worker_fails_the_build_as_interrupted_and_the_next_build_works(
    manager: BuildManager,
) -> None:
    before = manager.published()
    manager.wait_warm()
    build_id = manager.start_build(reuse=False)  # every node runs: long enough to kill
    wait_for(lambda: first_node_started(manager, build_id))
    worker_pid = manager.get(build_id).worker_pid
    assert worker_pid
    os.kill(worker_pid, signal.SIGKILL)
    record = manager.wait(build_id, timeout=30)
    assert (record.status, record.failure) == (FAILED, INTERRUPTED)
    assert manager.published().build_id == before.build_id  # type: ignore[union-attr]
    again = manager.request_build()
    assert again.status == PUBLISHED, again.error


def process_ended(pid: int) -> bool:
    """``pid`` has exited: gone, or a zombie nobody reaped yet (the worker is reparented
    when its builder is killed; in a container whose PID 1 does not reap, it stays a
    zombie, and ``/proc/<pid>`` still exists)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state follows the command in parentheses, which may itself contain ")".
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))


def test_a_killed_build_process_is_recovered_by_the_next_build(
    manager: BuildManager, module_ws: Workspace
) -> None:
    """kill -9 of the whole building process (like a power cut of the CLI)."""
    before = manager.published()
    child = subprocess.Popen(
        [sys.executable, "-m", "mart", "build", "--no-reuse"],  # long enough to kill
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MART_WORKSPACE": str(module_ws.root)},
    )
    try:
        killed_id = wait_for(
            lambda: next(
                (
                    record.build_id
                    for record in manager.history()
                    if record.status == "running" and record.pid == child.pid
                ),
                None,
            ),
            timeout=120,
        )
        wait_for(lambda: first_node_started(manager, killed_id), timeout=120)
        worker_pid = manager.get(killed_id).worker_pid
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    # Its worker notices that its manager is gone and exits by itself.
    wait_for(lambda: process_ended(worker_pid), timeout=30)
    assert manager.published().build_id == before.build_id  # type: ignore[union-attr]
    record = manager.request_build()
    assert record.status == PUBLISHED, record.error
    killed = manager.get(killed_id)
    assert (killed.status, killed.failure) == (FAILED, INTERRUPTED)
    assert "Interrupted" in (killed.error or "")
    # What finished before the kill is kept, from the build's progress events.
    finished = [e for e in manager.events(killed_id) if e["type"] == "node_finished"]
    assert {node["unique_id"] for node in killed.nodes} == {e["unique_id"] for e in finished}

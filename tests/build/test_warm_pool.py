"""Two warm workers (the app's pool): a Rebuild clicked right after a build ended takes
the second warm worker instead of waiting for a new one to warm up.

* the workers after the first warm one at a time, and the pool refills after a build;
* a build takes a ready worker, and the one it leaves is ready for the next click;
* shutdown lets every idle worker go; a worker that dies at start is not respawned in
  a loop;
* a worker's throwaway warm-up build runs at a low CPU priority, its parse does not.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from mart import worker as worker_module
from mart.builds import PUBLISHED, BuildManager, WorkerProcess
from mart.workspace import Workspace


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [pid for pid in pids if _alive(pid)]
        if not left:
            return []
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


def _record_spawns(manager: BuildManager) -> list[WorkerProcess]:
    """The workers ``manager`` starts from now on, in order."""
    spawned: list[WorkerProcess] = []
    original = manager._spawn_worker

    def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        worker = original(*args, **kwargs)
        spawned.append(worker)
        return worker

    manager._spawn_worker = recording  # type: ignore[method-assign]
    return spawned


def test_a_second_click_takes_the_second_warm_worker(workspace: Path) -> None:
    manager = BuildManager(Workspace.from_env(workspace), docs=False, warm_workers=2)
    spawned = _record_spawns(manager)
    try:
        manager.prewarm()
        assert len(spawned) == 1  # the second starts only once the first is warm
        assert not spawned[0].ready.is_set()
        assert manager.wait_warm(240, all_workers=True)
        first_pool = [worker.pid for worker in manager._pool]
        assert len(set(first_pool)) == 2 and len(spawned) == 2

        first = manager.request_build()
        assert first.status == PUBLISHED, first.error
        assert first.worker_pid == first_pool[0]
        # Right after the build: the other worker is warm and waiting.
        spare = manager._warm
        assert spare is not None and spare.pid == first_pool[1]
        assert spare.ready.is_set() and spare.alive

        second = manager.request_build(vars={"high_value_threshold": 450})
        assert second.status == PUBLISHED, second.error
        assert second.worker_pid == first_pool[1]
        assert second.vars["high_value_threshold"] == 450

        # The pool refills to two, neither of them a worker that already built.
        assert manager.wait_warm(240, all_workers=True)
        refilled = [worker.pid for worker in manager._pool]
        assert len(refilled) == 2 and not set(refilled) & set(first_pool)
    finally:
        manager.shutdown()
    assert manager._pool == []
    assert _wait_gone(refilled) == []


def test_shutdown_stops_the_pending_top_up(workspace: Path) -> None:
    manager = BuildManager(
        Workspace.from_env(workspace), docs=False, warm_workers=2, prewarm_after_build=False
    )
    spawned = _record_spawns(manager)
    manager.prewarm()
    first = spawned[0]
    # A click while the first worker still warms takes it (it stays alive to build);
    # then the manager shuts down: when that worker is warm, its top-up must not
    # start another one.
    build_id = manager.start_build()
    deadline = time.monotonic() + 30
    while manager._pool and time.monotonic() < deadline:  # the build's thread takes it
        time.sleep(0.01)
    assert not first.ready.is_set()  # still warming when the manager shuts down
    manager.shutdown()
    record = manager.wait(build_id, timeout=240)
    assert record.status == PUBLISHED, record.error
    assert record.worker_pid == first.pid
    time.sleep(1.0)
    assert len(spawned) == 1
    assert manager._pool == []


def test_a_worker_that_dies_at_start_is_not_respawned_in_a_loop(
    workspace: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    manager = BuildManager(
        Workspace.from_env(workspace), docs=False, warm_workers=2, python=str(broken)
    )
    spawned = _record_spawns(manager)
    try:
        manager.prewarm()
        assert spawned[0].exited.wait(10)
        time.sleep(1.0)
        assert len(spawned) == 1
        assert not manager.wait_warm(1)
    finally:
        manager.shutdown()


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no thread niceness here")
def test_the_warm_up_build_runs_at_a_low_priority_and_the_parse_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The throwaway build runs niced, in a thread of its own; the parse runs in the
    caller's thread at its priority (niced, it made the worker's later builds slower)."""
    seen: dict[str, int] = {}

    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    monkeypatch.setattr(
        worker_module.Worker, "parse", lambda self: seen.setdefault("parse", priority())
    )
    monkeypatch.setattr(
        worker_module.Worker, "warmup_build", lambda self: seen.setdefault("warmup", priority())
    )
    monkeypatch.setattr(worker_module, "_job_waiting", lambda: False)
    monkeypatch.setattr(worker_module.dbt_speedups, "freeze_heap", lambda: None)
    monkeypatch.setattr(worker_module.dbt_speedups, "apply", dict)  # no dbt patches here
    worker = worker_module.Worker.__new__(worker_module.Worker)
    worker.import_s = worker.parse_s = worker.warmup_s = 0.0
    before = priority()
    worker.warm(parse=True, warmup_build=True)
    assert seen == {"parse": before, "warmup": max(before, worker_module.LOW_PRIORITY)}
    assert priority() == before  # the caller's thread untouched


def test_the_app_keeps_two_warm_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import common

    monkeypatch.delenv("MART_WARM_WORKERS", raising=False)
    assert common.app_warm_workers() == 2
    monkeypatch.setenv("MART_WARM_WORKERS", "1")
    assert common.app_warm_workers() == 1
    monkeypatch.setenv("MART_WARM_WORKERS", "lots")
    assert common.app_warm_workers() == 2

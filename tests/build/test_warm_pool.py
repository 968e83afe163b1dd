"""Two warm workers (the app's pool): a Rebuild clicked right after a build ended takes
the second warm worker instead of waiting for a new one to warm up.

* the workers after the first warm one at a time, and the pool refills after a build;
* a build takes a ready worker, and the one it leaves is ready for the next click;
* shutdown lets every idle worker go; a worker that dies at start is not respawned in
  a loop;
* a worker's throwaway warm-up build runs at a low CPU priority, its parse does not;
* a waiting worker parses ahead for new vars (after a build that changed them, or when
  the app asks, as for a picked as-of date): the click that follows does not re-parse,
  and the build has the new vars.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import duckdb
import pytest

from mart import worker as worker_module
from mart.builds import ENGINE_VARS, PUBLISHED, BuildManager, WorkerProcess
from mart.errors import InputError
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


def _wait_prepared(worker: WorkerProcess, variables: dict, timeout: float = 120.0) -> None:
    """Until ``worker`` said ready again after parsing for ``variables``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = worker.ready_info
        if info.get("prepared") is not None and info.get("vars") == variables:
            return
        time.sleep(0.05)
    raise AssertionError(f"worker {worker.pid} did not prepare: {worker.ready_info}")


def _phases(manager: BuildManager, build_id: int) -> list:
    return [event.get("phase") for event in manager.events(build_id)]


def _high_value_floor(record) -> object:  # noqa: ANN001
    with duckdb.connect(record.db_path, read_only=True) as con:
        return con.execute(
            "select min(lifetime_value) from main.fct_customer_metrics "
            "where customer_segment = 'High Value'"
        ).fetchone()[0]


def test_after_a_build_with_new_vars_the_spare_parses_for_them(workspace: Path) -> None:
    manager = BuildManager(Workspace.from_env(workspace), docs=False, warm_workers=2)
    try:
        manager.prewarm()
        assert manager.wait_warm(240, all_workers=True)
        spare = manager._pool[1]
        assert spare.vars == ENGINE_VARS  # parsed with the project's defaults

        changed = manager.request_build(vars={"high_value_threshold": 300})
        assert changed.status == PUBLISHED, changed.error
        assert "parse" in _phases(manager, changed.build_id)  # the vars were new to it
        wanted = {**ENGINE_VARS, "high_value_threshold": 300}
        _wait_prepared(spare, wanted)
        assert spare.ready_info["prepared"] is True
        assert spare.alive and not spare.assigned

        # The next click (the published vars kept, as the app's Rebuild) takes the spare,
        # which needs no parse, and its build has the new threshold.
        again = manager.request_build(keep_published_vars=True)
        assert again.status == PUBLISHED, again.error
        assert again.worker_pid == spare.pid
        assert again.vars["high_value_threshold"] == 300
        assert "parse" not in _phases(manager, again.build_id)
        assert _high_value_floor(again) >= 300
        assert _high_value_floor(again) < 500  # the default would give none below 500
    finally:
        manager.shutdown()


def test_the_app_asks_a_waiting_worker_to_parse_for_a_picked_as_of_date(
    workspace: Path,
) -> None:
    manager = BuildManager(Workspace.from_env(workspace), docs=False, warm_workers=2)
    try:
        first = manager.request_build(vars={"high_value_threshold": 300})
        assert first.status == PUBLISHED, first.error
        assert manager.wait_warm(240, all_workers=True)
        pool = list(manager._pool)
        assert all(w.vars == {**ENGINE_VARS, "high_value_threshold": 300} for w in pool)

        # The published vars are kept, as start_build(keep_published_vars=True) does.
        assert manager.prepare({"as_of_date": "2030-01-01"}) is True
        wanted = {**ENGINE_VARS, "high_value_threshold": 300, "as_of_date": "2030-01-01"}
        _wait_prepared(pool[-1], wanted)  # the last one; the first keeps its vars
        assert pool[0].vars == {**ENGINE_VARS, "high_value_threshold": 300}
        assert manager.prepare({"as_of_date": "2030-01-01"}) is False  # one has them
        with pytest.raises(InputError):
            manager.prepare({"no_such_var": 1})

        picked = manager.request_build(vars={"as_of_date": "2030-01-01"}, keep_published_vars=True)
        assert picked.status == PUBLISHED, picked.error
        assert picked.worker_pid == pool[-1].pid
        assert "parse" not in _phases(manager, picked.build_id)
        with duckdb.connect(picked.db_path, read_only=True) as con:
            as_of = con.execute("select max(as_of_date) from main.fct_retention_summary")
            assert str(as_of.fetchone()[0]) == "2030-01-01"
        assert _high_value_floor(picked) >= 300
    finally:
        manager.shutdown()


def test_a_prepare_that_cannot_parse_leaves_the_job_to_report_it(
    tmp_path: Path, workspace: Path
) -> None:
    from tests.build.conftest import copy_project

    project = copy_project(tmp_path)
    manager = BuildManager(
        Workspace.from_env(workspace), project_dir=project, docs=False, prewarm_after_build=False
    )
    try:
        manager.prewarm()
        assert manager.wait_warm(240)
        worker = manager._warm
        model = project / "models" / "marts" / "fct_retention_summary.sql"
        text = model.read_text()
        model.write_text(text + "\n{{ this is not jinja }}\n")
        assert manager.prepare({"high_value_threshold": 300}, keep_published_vars=False)
        _wait_prepared(worker, {**ENGINE_VARS, "high_value_threshold": 300})
        assert worker.ready_info["prepared"] is False and worker.alive
        model.write_text(text)  # mended before the click: the job parses it again
        record = manager.request_build(vars={"high_value_threshold": 300})
        assert record.status == PUBLISHED, record.error
        assert record.worker_pid == worker.pid
        assert "parse" in _phases(manager, record.build_id)
    finally:
        manager.shutdown()

"""Fast checks of the engine's parts that need no dbt run."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mart.builds import (
    FAILED,
    INTERRUPTED,
    PUBLISHED,
    RUNNING,
    BuildLock,
    BuildManager,
    BuildRecord,
    describe_holder,
)
from mart.cli_build import parse_var
from mart.errors import BuildBusyError, InputError
from mart.worker import EventEmitter, EventLog, project_fingerprint, read_events
from mart.workspace import Workspace, atomic_write_json


def test_parse_var_reads_json_values_and_keeps_strings() -> None:
    assert parse_var("high_value_threshold=300") == ("high_value_threshold", 300)
    assert parse_var("as_of_date=2024-03-01") == ("as_of_date", "2024-03-01")
    assert parse_var("flag=true") == ("flag", True)
    # a whole number written as a float is the whole number (echoed as 1000, not 1000.0)
    assert parse_var("high_value_threshold=1e3") == ("high_value_threshold", 1000)
    assert parse_var("high_value_threshold=1000.0") == ("high_value_threshold", 1000)
    assert parse_var("high_value_threshold=199.99") == ("high_value_threshold", 199.99)
    with pytest.raises(InputError):
        parse_var("no-equals-sign")


def test_lock_excludes_a_second_holder_and_says_who(workspace: Path) -> None:
    ws = Workspace.from_env(workspace)
    first, second = BuildLock(ws.lock_path), BuildLock(ws.lock_path)
    assert first.try_acquire()
    first.describe({"pid": os.getpid(), "host": "here", "build_id": 7})
    assert not second.try_acquire()
    holder = BuildLock.holder(ws.lock_path)
    assert holder and holder["build_id"] == 7
    assert "build 7" in describe_holder(holder)
    first.release()
    assert second.try_acquire()
    second.release()


def test_no_wait_build_is_refused_while_the_lock_is_held(workspace: Path) -> None:
    ws = Workspace.from_env(workspace)
    lock = BuildLock(ws.lock_path)
    assert lock.try_acquire()
    lock.describe({"pid": 4242, "host": "elsewhere", "build_id": 3})
    try:
        with pytest.raises(BuildBusyError, match="build 3"):
            BuildManager(ws).start_build(wait=False)
    finally:
        lock.release()


def test_lock_dies_with_its_process(workspace: Path) -> None:
    ws = Workspace.from_env(workspace)
    code = (
        "import sys, time; from pathlib import Path; from mart.builds import BuildLock;"
        f"lock = BuildLock(Path({str(ws.lock_path)!r})); assert lock.try_acquire();"
        "print('held', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        assert not BuildLock(ws.lock_path).try_acquire()
    finally:
        child.kill()
        child.wait()
    lock = BuildLock(ws.lock_path)
    assert lock.try_acquire()
    lock.release()


def test_recover_marks_a_running_record_of_a_dead_process_interrupted(workspace: Path) -> None:
    ws = Workspace.from_env(workspace)
    build_dir = ws.build_dir(1)
    build_dir.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = BuildRecord(
        build_id=1,
        status=RUNNING,
        started_at="2024-01-01T00:00:00+00:00",
        db_path=str(build_dir / "mart.duckdb"),
        pid=dead.pid,
        host="irrelevant",
    )
    atomic_write_json(build_dir / "build.json", record.to_dict())
    manager = BuildManager(ws)
    assert manager.recover() == [1]
    recovered = manager.get(1)
    assert (recovered.status, recovered.failure) == (FAILED, INTERRUPTED)
    assert "Interrupted" in (recovered.error or "")
    assert manager.events(1)[-1]["type"] == "build_finished"
    assert manager.published() is None
    assert manager.running_build() is None


def _dead_pid() -> int:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


def _write_record(ws: Workspace, **fields: object) -> BuildRecord:
    record = BuildRecord(started_at="2024-01-01T00:00:00+00:00", host="irrelevant", **fields)  # type: ignore[arg-type]
    ws.build_dir(record.build_id).mkdir(parents=True, exist_ok=True)
    atomic_write_json(ws.build_dir(record.build_id) / "build.json", record.to_dict())
    return record


def test_recover_keeps_what_a_killed_build_finished_from_its_events(workspace: Path) -> None:
    ws = Workspace.from_env(workspace)
    _write_record(ws, build_id=1, status=RUNNING, pid=_dead_pid())
    log = EventLog(ws.build_dir(1) / "events.jsonl", 1)
    log.append(
        "node_finished", unique_id="model.p.a", name="a", resource_type="model", status="success"
    )
    log.append("node_finished", unique_id="test.p.t", name="t", resource_type="test", status="pass")
    log.append("node_finished", unique_id="test.p.u", name="u", resource_type="test", status="fail")
    manager = BuildManager(ws)
    assert manager.recover() == [1]
    record = manager.get(1)
    assert (record.status, record.failure) == (FAILED, INTERRUPTED)
    assert {node["unique_id"] for node in record.nodes} == {"model.p.a", "test.p.t", "test.p.u"}
    assert (record.tests["pass"], record.tests["fail"]) == (1, 1)
    last = manager.status()["last_build"]
    assert (last["status"], last["failure"]) == ("failed", "interrupted")


def test_recover_publishes_a_build_killed_after_the_pointer_named_it(workspace: Path) -> None:
    """Publishing saves the record (still running), then the pointer, then the record as
    published: killed between the last two, the pointer is the truth."""
    ws = Workspace.from_env(workspace)
    _write_record(ws, build_id=1, status=PUBLISHED, published_at="2024-01-01T00:00:05+00:00")
    _write_record(
        ws, build_id=2, status=RUNNING, pid=_dead_pid(), published_at="2024-01-01T00:01:00+00:00"
    )
    _write_record(ws, build_id=3, status=RUNNING, pid=_dead_pid())
    manager = BuildManager(ws)
    manager.current_pointer.write_text("2\n")
    assert sorted(manager.recover()) == [2, 3]
    assert manager.get(2).status == PUBLISHED and manager.published().build_id == 2  # type: ignore[union-attr]
    assert manager.get(3).status == FAILED  # never named by the pointer: not published


def test_recover_finishes_a_publish_anyway_killed_after_the_pointer(workspace: Path) -> None:
    ws = Workspace.from_env(workspace)
    _write_record(ws, build_id=1, status=PUBLISHED, published_at="2024-01-01T00:01:00+00:00")
    _write_record(
        ws,
        build_id=2,
        status=FAILED,
        failure="tests",
        error="1 test failed. The previous build stays published.",
    )
    manager = BuildManager(ws)
    manager.current_pointer.write_text("2\n")
    assert manager.recover() == [2]
    record = manager.get(2)
    assert (record.status, record.published_anyway) == (PUBLISHED, True)
    # finished as publish() does: its time, the build it replaced, no stale sentence
    assert record.published_at is not None and record.published_at > "2024-01-01T00:01"
    assert record.replaced == 1
    assert record.error == "1 test failed. Published anyway."


def test_a_record_names_the_files_of_its_own_workspace(workspace: Path, tmp_path: Path) -> None:
    """A copied or moved workspace keeps the old absolute path in its records; the files
    are looked for (and pruned) in the workspace the record is read from."""
    ws = Workspace.from_env(workspace)
    elsewhere = tmp_path / "original" / "builds" / "1" / "mart.duckdb"
    _write_record(ws, build_id=1, status=PUBLISHED, db_path=str(elsewhere))
    manager = BuildManager(ws)
    record = manager.get(1)
    assert record.db_path == str(ws.build_dir(1) / "mart.duckdb")
    assert record.build_dir == ws.build_dir(1)


def test_fingerprint_changes_when_a_model_changes(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "a.sql"
    model.write_text("select 1 as x\n")
    before = project_fingerprint(tmp_path)
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text("{}")
    assert project_fingerprint(tmp_path) == before  # outputs are not inputs
    model.write_text("select 2 as x\n")
    assert project_fingerprint(tmp_path) != before


def test_event_log_numbers_events_and_readers_skip_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path, 5)
    log.append("phase", phase="dbt")
    log.append("node_started", unique_id="model.x")
    assert [event["seq"] for event in read_events(path)] == [0, 1]
    assert EventLog(path, 5).append("node_finished")["seq"] == 2  # a second writer continues
    with path.open("a") as handle:
        handle.write(json.dumps({"seq": 3})[:5])  # a line being written right now
    assert [event["seq"] for event in read_events(path, since=1)] == [1, 2]


def test_events_reach_the_manager_in_seq_order_from_many_threads(tmp_path: Path) -> None:
    """dbt's threads emit at once; the channel must still see seq 0, 1, 2 … in order."""
    sent: list[int] = []
    chaos = random.Random(7)

    class SlowChannel:  # a send that sometimes stalls, as a pipe write can
        def send(self, message: dict) -> None:
            time.sleep(chaos.choice([0, 0, 0.001]))
            sent.append(message["event"]["seq"])

    emit = EventEmitter(EventLog(tmp_path / "events.jsonl", 1, keep_open=True), SlowChannel())

    def node(index: int) -> None:
        for step in range(40):
            emit("node_finished", name=f"n{index}", step=step)

    threads = [threading.Thread(target=node, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sent == list(range(240))
    assert [event["seq"] for event in read_events(tmp_path / "events.jsonl")] == sent


def test_kept_builds_come_from_mart_keep_builds(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.from_env(workspace)
    monkeypatch.delenv("MART_KEEP_BUILDS", raising=False)
    assert BuildManager(ws).keep == 5
    monkeypatch.setenv("MART_KEEP_BUILDS", "2")
    assert BuildManager(ws).keep == 2
    assert BuildManager(ws, keep=7).keep == 7  # the argument wins
    for bad in ("0", "-3", "two", "2.5"):
        monkeypatch.setenv("MART_KEEP_BUILDS", bad)
        assert BuildManager(ws).keep == 5


def test_current_build_marks_a_dead_processes_running_record_interrupted(
    workspace: Path,
) -> None:
    """A command-line build killed while the app was open: the Build page (which reads
    current_build and the history) showed it running until the app restarted."""
    ws = Workspace.from_env(workspace)
    build_dir = ws.build_dir(1)
    build_dir.mkdir(parents=True)
    record = BuildRecord(
        build_id=1,
        status=RUNNING,
        started_at="2024-01-01T00:00:00+00:00",
        db_path=str(build_dir / "mart.duckdb"),
        pid=_dead_pid(),
        host=socket.gethostname(),
    )
    atomic_write_json(build_dir / "build.json", record.to_dict())
    manager = BuildManager(ws)
    current = manager.current_build()
    assert current is not None and (current.status, current.failure) == (FAILED, INTERRUPTED)
    assert manager.get(1).status == FAILED
    # a running record of this very process is left alone (its build counts as active
    # only after it saved the record)
    record.build_id, record.pid = 2, os.getpid()
    record.db_path = str(ws.build_dir(2) / "mart.duckdb")
    ws.build_dir(2).mkdir(parents=True)
    atomic_write_json(ws.build_dir(2) / "build.json", record.to_dict())
    assert manager.current_build().status == RUNNING


def test_a_waiting_build_is_told_when_another_holder_takes_the_lock(tmp_path: Path) -> None:
    """A third build waiting behind two kept saying it waited for the first after the
    second had taken the lock. (The hand-over is played by rewriting who holds it.)"""
    path = tmp_path / "build.lock"
    holder, waiter = BuildLock(path), BuildLock(path)
    assert holder.try_acquire()
    holder.describe({"build_id": 1, "pid": 11})
    told: list[object] = []

    def hand_over() -> None:
        time.sleep(0.3)
        holder.describe({})  # the moment between two holders: an empty file
        time.sleep(0.3)
        holder.describe({"build_id": 2, "pid": 22})
        time.sleep(0.6)
        holder.release()

    thread = threading.Thread(target=hand_over)
    thread.start()
    assert waiter.acquire(wait=True, on_wait=told.append, poll_s=0.01)
    thread.join()
    waiter.release()
    assert [item["build_id"] for item in told] == [1, 2]  # type: ignore[index]

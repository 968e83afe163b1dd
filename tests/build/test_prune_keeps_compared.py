"""Pruning keeps the build the published one replaced: the Overview compares with it.

With ``keep=1`` and failed builds after a published one, the previous published build
used to lose its file, and "what changed" had nothing to compare with.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mart import overview
from mart.builds import BuildManager
from mart.workspace import Workspace
from tests.build.conftest import commit_records, sample_records


def test_prune_keeps_the_build_the_published_one_replaced(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "workspace")
    manager = BuildManager(ws, keep=1, prewarm_after_build=False)
    try:
        first = manager.request_build()
        second = manager.request_build()
        assert (first.status, second.status) == ("published", "published")
        assert second.replaced == first.build_id
        records = sample_records("transactions")
        commit_records(ws, "transactions", records + [records[0]], "duplicate T001")
        failed = manager.request_build()
        assert failed.status == "failed"
        # keep=1 keeps the failed build; the published one and the one it replaced stay.
        assert not manager.get(first.build_id).files_pruned
        assert Path(manager.get(first.build_id).db_path).exists()
        assert overview.previous_published(manager.history(), second.build_id) == (
            first.build_id,
            first.db_path,
        )
        commit_records(ws, "transactions", records, "the sample again")
        third = manager.request_build()
        assert third.status == "published" and third.replaced == second.build_id
        # Now the first build is neither the last, the published, nor the compared one.
        assert manager.get(first.build_id).files_pruned
        assert manager.get(failed.build_id).files_pruned
        assert not manager.get(second.build_id).files_pruned
    finally:
        manager.shutdown()


def test_prune_waits_for_the_build_lock(tmp_path: Path) -> None:
    """Pruning ran after the build lock was released: a "publish anyway" landing between
    its read of the pointer and its deletions lost the file it had just published. It
    now prunes under the lock, and not at all while another holder has it."""
    from mart.builds import BuildLock

    ws = Workspace(tmp_path / "workspace")
    manager = BuildManager(ws, keep=5, prewarm_after_build=False)
    try:
        builds = [manager.request_build() for _ in range(3)]
        assert [b.status for b in builds] == ["published"] * 3
        manager.keep = 1
        holder = BuildLock(ws.lock_path)
        assert holder.try_acquire()
        try:
            assert manager.prune() == []
            assert Path(manager.get(builds[0].build_id).db_path).exists()
        finally:
            holder.release()
        assert manager.prune() == [builds[0].build_id]
        assert not Path(manager.get(builds[0].build_id).db_path).exists()
    finally:
        manager.shutdown()


def test_a_damaged_build_record_is_named_and_blocks_nothing(tmp_path: Path) -> None:
    """One truncated build.json made status, every build and the app's pages fail with
    only "Expecting ',' delimiter"; the record now stands in as failed, naming its file,
    and a damaged record of the published build keeps it published."""
    ws = Workspace(tmp_path / "workspace")
    manager = BuildManager(ws, prewarm_after_build=False)
    try:
        first = manager.request_build()
        second = manager.request_build()
        record_path = ws.build_dir(first.build_id) / "build.json"
        record_path.write_text(record_path.read_text()[:100], encoding="utf-8")
        damaged = manager.get(first.build_id)
        assert damaged.status == "failed" and str(record_path) in (damaged.error or "")
        assert "cannot be read (JSONDecodeError" in (damaged.error or "")
        assert [r.build_id for r in manager.history()] == [second.build_id, first.build_id]
        assert manager.status()["published"]["build_id"] == second.build_id
        third = manager.request_build()
        assert third.status == "published"
        # the published build's own record, emptied: still published, its file still read
        live = ws.build_dir(third.build_id) / "build.json"
        live.write_text("", encoding="utf-8")
        assert manager.published().build_id == third.build_id
        assert manager.published_db_path() == Path(third.db_path)
        assert manager.request_build().status == "published"
    finally:
        manager.shutdown()


def test_a_full_disk_while_publishing_fails_the_build_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing the pointer on a full disk killed the build's thread with a traceback;
    the record said "running" and a later recovery called it "interrupted". The build
    now fails with the system's reason, the published build stays, and the failed
    build's own file is deleted to give the space back."""
    import errno
    import threading

    from mart import builds

    ws = Workspace(tmp_path / "workspace")
    manager = BuildManager(ws, prewarm_after_build=False)
    crashed: list[object] = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)
    try:
        first = manager.request_build()
        real = builds.atomic_write_text

        def full(path: Path, text: str) -> None:
            if path.name == "current":
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            real(path, text)

        monkeypatch.setattr(builds, "atomic_write_text", full)
        second = manager.request_build(reuse=False)
        assert second.status == "failed" and second.failure == "error"
        assert f"No space left on device: {ws.builds_dir / 'current'}" in (second.error or "")
        assert "The previous build stays published." in (second.error or "")
        assert not Path(second.db_path).exists()
        assert manager.published().build_id == first.build_id
        assert not crashed
        monkeypatch.setattr(builds, "atomic_write_text", real)
        assert manager.request_build().status == "published"
    finally:
        manager.shutdown()


def test_a_damaged_published_file_is_not_built_on(tmp_path: Path) -> None:
    """A published file cut short (a half-copied workspace) still opened and counted
    its rows: the next build copied it, reused its unchanged nodes and was published
    as passing with unreadable tables, and every build after that failed. The next
    build now starts from the latest published build whose file is whole, and says so;
    with none, from an empty file."""
    import os

    from mart import db
    from mart.builds import damaged_file

    ws = Workspace(tmp_path / "workspace")
    manager = BuildManager(ws, prewarm_after_build=False)
    try:
        first = manager.request_build()
        second = manager.request_build()
        assert damaged_file(Path(second.db_path)) is None
        db.close_path(Path(second.db_path))
        os.truncate(second.db_path, 1_000_000)
        assert "is cut short: 1,000,000 bytes" in (damaged_file(Path(second.db_path)) or "")
        third = manager.request_build()
        assert third.status == "published"
        assert third.timings["based_on_build"] == first.build_id
        assert third.notes[0].startswith(f"The published build {second.build_id}'s file (")
        assert f"starts from build {first.build_id}'s file" in third.notes[1]
        [(customers,)] = db.query_df(
            Path(third.db_path), "select count(*) from dim_customers"
        ).values
        assert customers == 5
        assert (
            db.query_df(Path(third.db_path), "select * from dim_customers")["customer_id"].size == 5
        )
        # the published file gone, and no whole one left: from an empty file
        for build in (first, third):
            db.close_path(Path(build.db_path))
            Path(build.db_path).unlink()
        fourth = manager.request_build()
        assert fourth.status == "published" and "based_on_build" not in fourth.timings
        assert "is missing" in fourth.notes[0] and "from an empty file" in fourth.notes[-1]
        # a pointer that names no build: read as nothing published, said so
        manager.current_pointer.write_text("garbage\n", encoding="utf-8")
        fifth = manager.request_build()
        assert fifth.status == "published" and fifth.timings["based_on_build"] == fourth.build_id
        assert "names no build: it was read as nothing published" in fifth.notes[0]
    finally:
        manager.shutdown()

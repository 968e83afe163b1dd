"""The pre-warmed dbt build worker: a child process that runs exactly one job.

Started by :class:`mart.builds.BuildManager` as ``python -m mart.worker``. It imports
dbt and parses the project *before* a build is requested, so a click pays only for
the build itself; then it reads one JSON job from stdin, runs it and exits. A fresh
worker is warmed for the next build, so no dbt global state, open DuckDB handle or
lock ever leaks from one build into the next, and cancel is simply a kill of the
worker's process group.

Protocol (all messages are one JSON object per line):

* worker → manager, on the worker's original stdout (dbt's own console output is
  redirected to stderr so it can never corrupt the channel):

  - ``{"type": "ready", "pid", "parse_s", "import_s", "fingerprint", "vars"}`` once warm;
  - ``{"type": "event", "event": {...}}`` for each progress event (also appended to
    ``builds/<N>/events.jsonl``, see :class:`EventLog`);
  - ``{"type": "result", "result": {...}}`` when the build is over and the worker has
    closed every DuckDB handle on ``builds/<N>/mart.duckdb`` (safe to publish);
  - ``{"type": "docs", "ready": bool, "error": str|None}`` after docs generation;
  - ``{"type": "error", "message": str}`` if the job could not run at all.

* manager → worker, on stdin: one line, the job::

      {"kind": "build", "build_id": 7, "build_dir": "...", "source_db": "...|null",
       "inputs": [{"table": "raw_transactions", "dataset": "transactions",
                   "version": "3", "path": ".../000003.parquet", "source_file": "..."}],
       "vars": {...}, "project_dir": "...", "profiles_dir": "...", "docs": true}

  or ``{"kind": "docs", "build_id", "build_dir", "vars", "project_dir", "profiles_dir"}``.
  Before its job, a waiting worker may get any number of
  ``{"kind": "prepare", "vars", "project_dir", "profiles_dir"}`` lines: it re-parses
  for those vars if they or the project files changed, and says ``ready`` again (with
  ``"prepared": bool``), so the job that follows needs no parse.

  If stdin reaches EOF before the build result is sent (the manager died), the worker
  exits at once: an orphaned build must not outlive its manager. After the result
  is sent the worker is detached and finishes docs generation on its own.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import select
import shutil
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from mart import dbt_speedups, reuse  # no dbt import at module level: cheap
from mart.reuse import REUSED_FROM

#: The niceness of a worker's warm-up and of its work after the result (docs).
LOW_PRIORITY = 15

DB_FILE_NAME = "mart.duckdb"
# Directories inside a dbt project that are outputs, not inputs, of a parse.
_IGNORED_DIRS = {"target", "logs", "__pycache__", ".git", ".venv"}
_IGNORED_SUFFIXES = (".duckdb", ".duckdb.wal", ".pyc", ".tmp")
_IGNORED_FILES = {".user.yml"}
# Node kinds whose row count is worth reporting (views would have to run to count).
_COUNTED_MATERIALIZATIONS = {"table", "incremental", "snapshot", "seed"}
_TEST_TYPES = {"test", "unit_test"}


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string with a ``Z``-free offset."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def project_fingerprint(project_dir: Path, profiles_dir: Path | None = None) -> str:
    """A hash of every input file of the dbt project (and its profiles.yml).

    Content-based rather than mtime-based, so an edit is seen even when it lands in
    the same filesystem clock tick as the parse; a project has few small files, so
    hashing them all costs about a millisecond.
    """
    digest = hashlib.sha256()
    roots = [project_dir]
    if profiles_dir is not None and Path(profiles_dir).resolve() != Path(project_dir).resolve():
        roots.append(profiles_dir)
    for root in roots:
        root = Path(root)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_DIRS)
            if root != project_dir and Path(dirpath) == root:
                filenames = [name for name in filenames if name == "profiles.yml"]
            for name in sorted(filenames):
                if name in _IGNORED_FILES or name.endswith(_IGNORED_SUFFIXES):
                    continue
                path = Path(dirpath) / name
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                digest.update(str(path.relative_to(root)).encode())
                digest.update(b"\0")
                digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def vars_key(variables: dict[str, Any] | None) -> str:
    """A canonical string for a vars mapping, to compare parse-time and build-time vars."""
    return json.dumps(variables or {}, sort_keys=True, default=str)


class EventLog:
    """Append-only progress log of one build: ``builds/<N>/events.jsonl``.

    One JSON object per line, each with ``seq`` (0, 1, 2 … = its line number), ``ts``
    (ISO time), ``build_id`` and ``type``. Only one process writes at a time (the
    manager before and after the worker, the worker while it runs), and every line is
    written and flushed whole, so any number of readers can tail the file.
    """

    def __init__(self, path: Path, build_id: int, keep_open: bool = False) -> None:
        self.path = path
        self.build_id = build_id
        # keep_open: one file handle for all appends (the worker, ~170 lines a build)
        # instead of an open per line; close() lets it go.
        self.keep_open = keep_open
        self._handle: TextIO | None = None
        self._lock = threading.Lock()
        try:
            with path.open("rb") as handle:
                self._seq = sum(1 for _ in handle)
        except FileNotFoundError:
            self._seq = 0

    def append(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Write one event and return it (with its ``seq``)."""
        with self._lock:
            event = {
                "seq": self._seq,
                "ts": now_iso(),
                "build_id": self.build_id,
                "type": event_type,
                **fields,
            }
            line = json.dumps(event, default=str) + "\n"
            if self.keep_open:
                if self._handle is None:
                    self._handle = self.path.open("a", encoding="utf-8")
                self._handle.write(line)
                self._handle.flush()
            else:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
                    handle.flush()
            self._seq += 1
            return event

    def close(self) -> None:
        """Close the kept-open handle (a later append opens it again)."""
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def read_events(path: Path, since: int = 0) -> list[dict[str, Any]]:
    """The events of a log from ``seq`` ``since`` on; a torn last line is skipped."""
    events: list[dict[str, Any]] = []
    try:
        with path.open("r", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if index < since:
                    continue
                if not line.endswith("\n"):
                    break  # being written right now; the next poll gets it whole
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    break
    except FileNotFoundError:
        pass
    return events


def _sql_string(value: str) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _input_key(item: dict[str, Any]) -> str:
    """What identifies one bronze load: dataset version, parquet file (size, mtime)."""
    path = Path(item["path"])
    stat = path.stat()
    return json.dumps(
        {
            "batch_id": f"{item['dataset']}@v{item['version']}",
            "file": str(path),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "source_file": item.get("source_file") or path.name,
        },
        sort_keys=True,
    )


def load_bronze(db_path: Path, inputs: list[dict[str, Any]]) -> tuple[dict[str, int], list[str]]:
    """Create the bronze tables in ``db_path`` from the dataset versions' parquet files.

    A build starts from a copy of the published file, whose bronze tables usually
    hold the very same dataset versions (a rebuild after a threshold change, say).
    Each loaded table carries a comment naming what it was loaded from (version,
    file, size, mtime) and its row count; a table whose comment matches its input
    and whose row count still agrees is kept as it is, which saves re-reading a
    million rows of Parquet. Versions are immutable, so equal keys mean equal rows.

    The connection is closed before returning, so dbt can open the file next.
    Returns ``({table: rows}, [tables kept as they were])``.
    """
    import duckdb

    counts: dict[str, int] = {}
    reused: list[str] = []
    con = duckdb.connect(str(db_path))
    try:
        con.execute("create schema if not exists bronze")
        for item in inputs:
            table = item["table"]
            key = _input_key(item)
            row = con.execute(
                "select comment from duckdb_tables() "
                "where database_name = current_database() and schema_name = 'bronze' "
                "and table_name = ?",
                [table],
            ).fetchone()
            stored = json.loads(row[0]) if row and row[0] and row[0].startswith("{") else {}
            if stored.get("key") == key:
                rows = con.execute(f"select count(*) from bronze.{table}").fetchone()
                if rows and int(rows[0]) == stored.get("rows"):
                    counts[table] = int(rows[0])
                    reused.append(table)
                    continue
            batch_id = f"{item['dataset']}@v{item['version']}"
            con.execute(
                f"create or replace table bronze.{table} as select "
                "cast(raw_data as json) as raw_data, "
                "current_timestamp as _loaded_at, "
                f"{_sql_string(batch_id)} as _batch_id, "
                f"{_sql_string(item.get('source_file') or Path(item['path']).name)} "
                "as _source_file, "
                "record_number as _record_number "
                f"from read_parquet({_sql_string(item['path'])})"
            )
            rows = con.execute(f"select count(*) from bronze.{table}").fetchone()
            counts[table] = int(rows[0]) if rows else 0
            comment = json.dumps({"key": key, "rows": counts[table]})
            con.execute(f"comment on table bronze.{table} is {_sql_string(comment)}")
    finally:
        con.close()
    return counts, reused


class _Channel:
    """The worker's message channel to the manager (the original stdout)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.broken = False

    def send(self, message: dict[str, Any]) -> None:
        if self.broken:
            return
        with self._lock:
            try:
                self._stream.write(json.dumps(message, default=str) + "\n")
                self._stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.broken = True  # the manager is gone; keep going quietly


class EventEmitter:
    """Writes a build's events to its log and sends them to the manager, in seq order.

    dbt's threads emit concurrently. Numbering (the log) and sending (the channel) under
    one lock keeps the manager's callback in seq order: otherwise two threads could
    number 9 and 10 and send 10 first.
    """

    def __init__(self, log: EventLog, channel: Any) -> None:
        self._log = log
        self._channel = channel
        self._lock = threading.Lock()

    def __call__(self, event_type: str, **fields: Any) -> None:
        with self._lock:
            event = self._log.append(event_type, **fields)
            self._channel.send({"type": "event", "event": event})


class Worker:
    """One warm dbt process: holds the parsed manifest and runs one job with it."""

    def __init__(
        self,
        work_dir: Path,
        project_dir: Path,
        profiles_dir: Path,
        variables: dict[str, Any],
        channel: _Channel,
    ) -> None:
        self.work_dir = work_dir
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.vars = variables
        self.channel = channel
        self.manifest: Any = None
        self.fingerprint = ""
        self.import_s = 0.0
        self.parse_s = 0.0
        self.warmup_s = 0.0
        self.speedups: dict[str, str] = {}

    # -- warm-up -------------------------------------------------------------------

    def warm(self, parse: bool = True, warmup_build: bool = False) -> None:
        """Import dbt and parse the project (the slow part, done before any click).

        With ``warmup_build``, also run the throwaway warm-up build, two passes (see
        :meth:`warmup_build`).

        The import and the parse run in the main thread at the normal priority: run at
        a low one (in a thread of their own) they made every later build of this
        worker slower, 0.81-0.83 s against 1.08 s (median of 7 sample builds, two
        paired runs), though no Python thread they start outlives them.
        """
        started = time.perf_counter()
        from dbt.cli.main import dbtRunner  # noqa: F401  (the import is the point)

        self.speedups = dbt_speedups.apply()
        self.import_s = time.perf_counter() - started
        if parse:
            self.parse()
            if warmup_build and not _job_waiting():
                started = time.perf_counter()
                # In its own thread at a low CPU priority (Linux niceness is per thread
                # and inherited by the threads dbt starts): the warm-up runs while the
                # app redraws its pages for the build that just finished, or while the
                # next build runs in another worker, and must not slow those down. The
                # real build later runs from this thread, at the normal priority, in
                # threads dbt creates anew.
                thread = threading.Thread(target=self._warmup_low_priority, name="warmup")
                thread.start()
                thread.join()
                self.warmup_s = time.perf_counter() - started
        if parse:
            dbt_speedups.freeze_heap()

    def _warmup_low_priority(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # not Linux: normal priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOW_PRIORITY)
        self.warmup_build()

    def warmup_build(self) -> None:
        """A throwaway ``dbt build`` on empty bronze tables in a scratch file.

        A process's first dbt build is 0.3-0.9 s slower than its second: dbt compiles
        the Jinja of every materialization and test macro on first use, builds its
        adapter and agate machinery, and so on. Running the build on empty tables
        while the worker waits for a click means the click gets a fast one. It runs
        twice, so that the rebuild paths (incremental merge, snapshot update) are
        compiled too. The scratch file is deleted; nothing outside the worker's
        directory is touched.
        """
        import duckdb
        from dbt.cli.main import dbtRunner

        scratch = self.work_dir / "warmup"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        db_path = scratch / DB_FILE_NAME
        try:
            con = duckdb.connect(str(db_path))
            try:
                for source in self.manifest.sources.values():
                    con.execute(f"create schema if not exists {source.schema}")
                    con.execute(
                        f"create table if not exists {source.schema}.{source.identifier} as "
                        "select cast(null as json) as raw_data, current_timestamp as _loaded_at, "
                        "'' as _batch_id, '' as _source_file, 0::bigint as _record_number "
                        "limit 0"
                    )
            finally:
                con.close()
            os.environ["MART_DUCKDB_PATH"] = str(db_path)

            def ignore(msg: Any) -> None:
                return None

            # The same events as a real build's callback (mart.dbt_speedups).
            ignore.mart_wanted_events = dbt_speedups.WANTED_EVENTS  # type: ignore[attr-defined]
            # Twice: the first pass creates the tables; the second takes the paths a
            # rebuild takes (the incremental merge, the snapshot's update), whose
            # macros dbt would otherwise compile during the click's build. A click
            # that came in during the first pass does not wait for the second.
            for attempt in range(2):
                if attempt and _job_waiting():
                    break
                dbtRunner(manifest=self.manifest, callbacks=[ignore]).invoke(
                    self._dbt_args(
                        "build",
                        {"vars": self.vars, "threads": 2, "log_level_file": "none"},
                        scratch,
                    )
                )
        except Exception as exc:  # a warm-up only: the real build reports real errors
            print(f"warm-up build failed: {exc}", file=sys.stderr)
        finally:
            close_duckdb()
            shutil.rmtree(scratch, ignore_errors=True)

    def _common_args(self, target_path: Path, log_path: Path, variables: dict[str, Any]) -> list:
        return [
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.profiles_dir),
            "--target-path",
            str(target_path),
            "--log-path",
            str(log_path),
            "--vars",
            vars_key(variables),
        ]

    def parse(self, variables: dict[str, Any] | None = None) -> None:
        """Parse the project into the worker's own target dir (partial parsing applies)."""
        from dbt.cli.main import dbtRunner

        if variables is not None:
            self.vars = variables
        started = time.perf_counter()
        # The manifest records each node's database, which dbt-duckdb derives from the
        # file's stem, so the placeholder has the same name as every build's file.
        os.environ["MART_DUCKDB_PATH"] = str(self.work_dir / DB_FILE_NAME)
        fingerprint = project_fingerprint(self.project_dir, self.profiles_dir)
        result = dbtRunner().invoke(
            [
                "--log-level",
                "none",
                "--no-send-anonymous-usage-stats",
                "--no-version-check",
                "parse",
                *self._common_args(self.work_dir / "target", self.work_dir / "logs", self.vars),
                "--log-level-file",
                "none",
            ]
        )
        if not result.success or result.result is None:
            raise RuntimeError(f"dbt could not parse the project: {result.exception}")
        self.manifest = result.result
        self.fingerprint = fingerprint
        self.parse_s = time.perf_counter() - started

    def ensure_current(self, project_dir: Path, profiles_dir: Path, variables: dict) -> bool:
        """Re-parse if the project files, the project or the vars changed since warm-up.

        Returns whether a parse was needed.
        """
        if Path(project_dir) != self.project_dir or Path(profiles_dir) != self.profiles_dir:
            self.project_dir = Path(project_dir)
            self.profiles_dir = Path(profiles_dir)
            self.fingerprint = ""
        current = project_fingerprint(self.project_dir, self.profiles_dir)
        if current == self.fingerprint and vars_key(variables) == vars_key(self.vars):
            return False
        self.parse(variables)
        return True

    def prepare(self, job: dict[str, Any]) -> bool:
        """A ``prepare`` message: parse now for the vars the next job will likely have.

        The manager sends it to an idle warm worker when the vars change (a build with
        new vars ended, or the user picked a new as-of date), so the click that follows
        finds the manifest current instead of re-parsing (0.5-1.8 s). Returns whether
        it parsed. The heap is frozen again, after a full collection that frees the
        manifest it replaced (frozen objects are never collected).
        """
        parsed = self.ensure_current(
            Path(job["project_dir"]), Path(job["profiles_dir"]), job.get("vars") or {}
        )
        if parsed and dbt_speedups.unfreeze_heap():
            dbt_speedups.freeze_heap()
        return parsed

    # -- the build -------------------------------------------------------------------

    def planned_nodes(self, unit_tests: bool = True) -> int:
        """How many nodes ``dbt build`` will run: the progress bar's 100 %."""
        if self.manifest is None:
            return 0
        total = 0
        for node in self.manifest.nodes.values():
            kind = str(node.resource_type)
            if kind not in {"model", "seed", "snapshot", "test"}:
                continue
            config = getattr(node, "config", None)
            if config is not None and not getattr(config, "enabled", True):
                continue
            if kind == "model" and getattr(config, "materialized", "") == "ephemeral":
                continue
            total += 1
        # dbt build also visits exposures (as no-ops) and runs unit tests.
        extra = len(getattr(self.manifest, "unit_tests", {}) or {}) if unit_tests else 0
        extra += len(getattr(self.manifest, "exposures", {}) or {})
        return total + extra

    def build(self, job: dict[str, Any]) -> None:
        """Run one build job: copy, bronze, dbt build, close, report, then docs."""
        build_dir = Path(job["build_dir"])
        db_path = build_dir / DB_FILE_NAME
        log = EventLog(build_dir / "events.jsonl", int(job["build_id"]), keep_open=True)
        timings: dict[str, float] = {}

        emit = EventEmitter(log, self.channel)

        gc_paused = dbt_speedups.pause_gc()  # until the result is out
        sql_files = dbt_speedups.deferred_sql_files().start()  # written after the result
        result: dict[str, Any] = {
            "ok": False,
            "error": None,
            "timings": timings,
            "dbt_speedups": sorted(k for k, v in self.speedups.items() if v == "applied"),
        }
        try:
            started = time.perf_counter()
            emit("phase", phase="copy")
            source = job.get("source_db")
            if source:
                shutil.copyfile(source, db_path)
            timings["copy_s"] = time.perf_counter() - started

            started = time.perf_counter()
            emit("phase", phase="bronze")
            loaded, reused = load_bronze(db_path, job["inputs"])
            timings["bronze_s"] = time.perf_counter() - started
            result["bronze_rows"] = loaded
            result["bronze_reused"] = reused

            started = time.perf_counter()
            reparsed = self.ensure_current(
                Path(job["project_dir"]), Path(job["profiles_dir"]), job.get("vars") or {}
            )
            timings["parse_s"] = time.perf_counter() - started
            result["reparsed"] = reparsed
            if reparsed:
                emit("phase", phase="parse", duration_s=round(timings["parse_s"], 3))

            started = time.perf_counter()
            prints, base_id, reused = self._reuse_plan(job)
            timings["reuse_s"] = time.perf_counter() - started
            planned = self.planned_nodes(not job.get("skip_unit_tests")) - len(reused)
            if reused:
                emit("reused", count=len(reused), from_build=base_id)
            emit("plan", total=planned)
            emit("phase", phase="dbt")
            started = time.perf_counter()
            run = self._run_dbt(job, build_dir, db_path, emit, reused)
            timings["dbt_s"] = time.perf_counter() - started
            if "complete_s" in run:  # part of dbt_s
                timings["complete_s"] = run.pop("complete_s")
            states = run.pop("reuse_states", {})
            result.update(run)
            if reused:
                result["reused"] = {"from_build": base_id}
            if result["ok"]:
                reuse.write_state(
                    build_dir,
                    int(job["build_id"]),
                    {
                        uid: {**state, "fingerprint": prints[uid]}
                        for uid, state in states.items()
                        if uid in prints
                    },
                )
        except Exception as exc:  # reported to the manager, which marks the build failed
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            started = time.perf_counter()
            close_duckdb()
            timings["close_s"] = time.perf_counter() - started

        self.channel.send({"type": "result", "result": result})
        detach()
        # What is left (SQL files, the manifest, docs) must not slow the pages the app
        # now redraws, nor the next build in another worker.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOW_PRIORITY)
        # After detach: the first allocation may now set off a long collection, and
        # the manager may close stdin meanwhile (the stdin watcher then must not exit).
        dbt_speedups.resume_gc(gc_paused)
        log.close()
        with contextlib.suppress(Exception):
            sql_files.flush()  # target/compiled and target/run
        if result["ok"]:
            # The full manifest (with compiled SQL) replaces the parse-time copy; writing
            # it takes a few hundred ms, so it happens after the result, not before.
            with contextlib.suppress(Exception):
                target = build_dir / "target"
                tmp = target / ".manifest.json.tmp"
                self.manifest.write(str(tmp))
                os.replace(tmp, target / "manifest.json")

        will_publish = (
            result["ok"]
            and not result.get("errored_nodes")
            and (not result.get("tests_failed") or job.get("publish_on_test_failure"))
        )
        if job.get("docs") and will_publish:
            self.docs({**job, "manifest_in_memory": True})

    def _reuse_plan(
        self, job: dict[str, Any]
    ) -> tuple[dict[str, str], int | None, dict[str, dict[str, Any]]]:
        """(fingerprints of this build's nodes, the base build, the nodes to reuse).

        The base is the build whose file this build starts from (the published one);
        nothing is reused without one, or when the job says ``reuse: False``.
        """
        if self.manifest is None:
            return {}, None, {}
        sources = {item["table"]: _input_key(item) for item in job.get("inputs") or []}
        variables = reuse.effective_vars(job.get("vars") or {})
        key = reuse.global_key(self.project_dir, self.manifest, self.profiles_dir)
        prints = reuse.fingerprints(self.manifest, variables, sources, key)
        source = job.get("source_db")
        if not source or job.get("reuse") is False:
            return prints, None, {}
        base = reuse.read_state(Path(source).parent)
        if not base:
            return prints, None, {}
        reused = reuse.plan(self.manifest, prints, base)
        return prints, base.get("build_id"), reused

    def _run_dbt(
        self,
        job: dict[str, Any],
        build_dir: Path,
        db_path: Path,
        emit: Callable[..., None],
        reused: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Invoke ``dbt build`` with the warm manifest; summarise its results.

        ``reused`` nodes (``mart.reuse``) are left out of the run; their results from
        the build that ran them are added to this build's, marked with its number.
        """
        from dbt.cli.main import dbtRunner

        os.environ["MART_DUCKDB_PATH"] = str(db_path)
        index = {"started": 0, "finished": 0}
        index_lock = threading.Lock()

        def on_event(msg: Any) -> None:
            name = msg.info.name
            if name == "NodeStart":
                info = msg.data.node_info
                with index_lock:
                    index["started"] += 1
                    position = index["started"]
                emit(
                    "node_started",
                    unique_id=info.unique_id,
                    name=info.node_name,
                    resource_type=info.resource_type,
                    index=position,
                )
            elif name == "NodeFinished":
                info = msg.data.node_info
                run_result = msg.data.run_result
                status = str(run_result.status)
                rows: int | None
                if info.resource_type in _TEST_TYPES:
                    rows = int(run_result.num_failures or 0)
                elif status == "success" and info.materialized in _COUNTED_MATERIALIZATIONS:
                    rows = count_rows(info.node_relation)
                else:
                    rows = None
                with index_lock:
                    index["finished"] += 1
                    position = index["finished"]
                emit(
                    "node_finished",
                    unique_id=info.unique_id,
                    name=info.node_name,
                    resource_type=info.resource_type,
                    materialized=info.materialized,
                    status=status,
                    rows=rows,
                    failures=int(run_result.num_failures or 0)
                    if info.resource_type in _TEST_TYPES
                    else None,
                    duration_s=round(float(run_result.execution_time or 0.0), 4),
                    message=run_result.message or None,
                    index=position,
                )

        # Only these reach the callback (mart.dbt_speedups drops what no one reads).
        on_event.mart_wanted_events = dbt_speedups.WANTED_EVENTS  # type: ignore[attr-defined]

        args = self._dbt_args("build", job, build_dir)
        if job.get("skip_unit_tests"):
            args += ["--exclude-resource-type", "unit_test"]
        reused = reused or {}
        if reused:
            # Everything downstream of a node that runs runs too (mart.reuse), so dbt's
            # indirect selection of tests adds nothing reused; it adds the unit tests of
            # the models that run.
            args += ["--select", *self._selection(reused)]
        target = build_dir / "target"
        target.mkdir(parents=True, exist_ok=True)
        parsed_manifest = self.work_dir / "target" / "manifest.json"
        if parsed_manifest.exists():
            shutil.copyfile(parsed_manifest, target / "manifest.json")
        runner = dbtRunner(manifest=self.manifest, callbacks=[on_event])
        outcome = runner.invoke(args)
        completed: set[str] = set()
        complete_s: float | None = None
        if outcome.exception is None and outcome.result is not None:
            held = held_back(outcome.result)
            if held is not None:
                with index_lock:
                    index["started"] = index["finished"] = 0
                started = time.perf_counter()
                completed = self._complete(job, build_dir, runner, outcome.result, held, emit)
                complete_s = time.perf_counter() - started
        if outcome.exception is None and outcome.result is not None and reused:
            if not job.get("skip_unit_tests"):
                outcome.result.results = list(outcome.result.results) + self._unit_tests_apart(
                    job, build_dir, runner, reused
                )
            ran = {result.node.unique_id for result in outcome.result.results if result.node}
            outcome.result.results = list(outcome.result.results) + self._reused_results(
                {uid: entry for uid, entry in reused.items() if uid not in ran}
            )
        if outcome.result is not None and hasattr(outcome.result, "write"):
            with contextlib.suppress(Exception):
                outcome.result.write(str(target / "run_results.json"))
        summary = summarise(outcome.result)
        summary["reuse_states"] = reuse_states(outcome.result, int(job["build_id"]))
        # A node that failed while completing was skipped by the build itself: the
        # build still failed its tests (publishable anyway), not with an error. Its
        # status stays in the nodes (BuildRecord.not_rebuilt names it).
        summary["errored_nodes"] = [
            node for node in summary["errored_nodes"] if node["unique_id"] not in completed
        ]
        summary["completed"] = sorted(completed)
        if complete_s is not None:
            summary["complete_s"] = complete_s
        summary["success"] = bool(outcome.success)
        if outcome.exception is not None:
            summary["ok"] = False
            summary["error"] = f"{type(outcome.exception).__name__}: {outcome.exception}"
        elif outcome.result is None:
            summary["ok"] = False
            summary["error"] = "dbt build returned no results"
        else:
            summary["ok"] = True
            if summary["errored_nodes"]:
                first = summary["errored_nodes"][0]
                summary["error"] = f"{first['resource_type']} {first['name']} failed: " + (
                    first.get("message") or "error"
                )
        return summary

    def _selection(self, reused: dict[str, dict[str, Any]]) -> list[str]:
        """dbt selectors for every node of the build except the reused ones."""
        assert self.manifest is not None
        names = []
        for unique_id, node in self.manifest.nodes.items():
            if unique_id in reused or str(node.resource_type) not in reuse.REUSABLE_KINDS:
                continue
            config = getattr(node, "config", None)
            if config is not None and not getattr(config, "enabled", True):
                continue
            names.append(node.name)
        names += [f"exposure:{item.name}" for item in self.manifest.exposures.values()]
        return sorted(set(names))

    def _unit_tests_apart(
        self, job: dict[str, Any], build_dir: Path, runner: Any, reused: dict[str, Any]
    ) -> list[Any]:
        """Run the unit tests of reused models (``dbt test``); return their results.

        dbt build runs a model's unit tests just before the model, so it leaves out those
        of a model it does not run. They test the model's SQL on fixture rows and read
        only the column types of its parents, which the build's file holds.
        """
        assert self.manifest is not None
        names = [
            f"unit_test:{unit_test.name}"
            for unit_test in (getattr(self.manifest, "unit_tests", None) or {}).values()
            if any(model in reused for model in unit_test.depends_on.nodes or [])
        ]
        if not names:
            return []
        outcome = runner.invoke(self._dbt_args("test", job, build_dir) + ["--select", *names])
        return [
            result
            for result in getattr(outcome.result, "results", None) or []
            if result.node is not None and str(result.node.resource_type) == "unit_test"
        ]

    def _reused_results(self, reused: dict[str, dict[str, Any]]) -> list[Any]:
        """dbt RunResults for the reused nodes, as recorded by the build that ran them.

        Each node gets its compiled SQL back, so run_results.json and the manifest
        written after the build hold it as if the node had run.
        """
        from dbt.artifacts.schemas.results import RunStatus, TestStatus
        from dbt.artifacts.schemas.run import RunResult

        assert self.manifest is not None
        results = []
        for unique_id, entry in reused.items():
            node = self.manifest.nodes.get(unique_id)
            if node is None:
                continue
            kind = str(node.resource_type)
            status = TestStatus(entry["status"]) if kind == "test" else RunStatus(entry["status"])
            if entry.get("compiled_code") is not None:
                node.compiled_code = entry["compiled_code"]
                node.compiled = True
            results.append(
                RunResult(
                    status=status,
                    timing=[],
                    thread_id="reused",
                    execution_time=0.0,
                    message=entry.get("message"),
                    node=node,
                    adapter_response={
                        **(entry.get("adapter_response") or {}),
                        REUSED_FROM: entry["ran_in"],
                    },
                    failures=entry.get("failures"),
                    batch_results=None,
                )
            )
        return results

    def _dbt_args(self, command: str, job: dict[str, Any], build_dir: Path) -> list[str]:
        """The arguments of a build's dbt invocation (``build`` or ``test``)."""
        args = [
            # Not --quiet: that still formats every event for the console logger and
            # drops it afterwards; "none" adds no console logger at all (results and
            # errors reach the app through the callback and the run results).
            "--log-level",
            "none",
            "--no-send-anonymous-usage-stats",
            "--no-version-check",
            command,
            *self._common_args(build_dir / "target", build_dir / "logs", job.get("vars") or {}),
            "--store-failures",
            # dbt would write manifest.json (slow: it is large) and run_results.json at
            # the end of the run; instead the parse-time manifest is copied in before,
            # run_results written after, and the full manifest after the result was
            # reported.
            "--no-write-json",
        ]
        if job.get("threads"):
            args += ["--threads", str(int(job["threads"]))]
        if job.get("log_level_file"):
            args += ["--log-level-file", str(job["log_level_file"])]
        return args

    def _complete(
        self,
        job: dict[str, Any],
        build_dir: Path,
        runner: Any,
        execution: Any,
        held: dict[str, list[str]],
        emit: Callable[..., None],
    ) -> set[str]:
        """Build what failing tests held back, then run the tests they skipped.

        ``dbt build`` skips everything downstream of a failing test. Each build works
        on its own copy of the mart and publishes only after the audit, so building
        the rest does no harm. It lets the user see what the failing data does to
        every mart, and publish that anyway. Results replace the skipped ones in
        ``execution``; returns the unique ids that ran again.
        """
        emit(
            "phase",
            phase="complete",
            total=len(held["nodes"]) + len(held["tests"]),
            models=sum(1 for name in held["nodes"] if not name.startswith("exposure:")),
            tests=len(held["tests"]),
        )
        results: dict[str, Any] = {}
        steps = []
        if held["nodes"]:
            steps.append(
                self._dbt_args("build", job, build_dir)
                + ["--select", *held["nodes"]]
                + ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
            )
        if held["tests"]:
            steps.append(self._dbt_args("test", job, build_dir) + ["--select", *held["tests"]])
        wanted = set(held["ids"])  # not the on-run-start hooks, which run each time
        for args in steps:
            outcome = runner.invoke(args)
            for result in getattr(outcome.result, "results", None) or []:
                if result.node is not None and result.node.unique_id in wanted:
                    results[result.node.unique_id] = result
        ran = set(results)
        merged = [results.pop(result.node.unique_id, result) for result in execution.results]
        execution.results = merged + list(results.values())
        return ran

    # -- docs ------------------------------------------------------------------------

    def docs(self, job: dict[str, Any]) -> None:
        """``dbt docs generate --static`` for a finished build, off the critical path.

        The catalog is read from a private copy of the build's file, because readers
        may already have the published file open and DuckDB allows readers or one
        writer, never both. Output lands in ``builds/<N>/target``; ``static_index.html``
        is moved in last, so its presence means the docs are ready.
        """
        from dbt.cli.main import dbtRunner

        build_dir = Path(job["build_dir"])
        status_path = build_dir / "docs.json"
        scratch = build_dir / ".docs"
        _write_json(status_path, {"status": "running", "pid": os.getpid(), "started_at": now_iso()})
        try:
            shutil.rmtree(scratch, ignore_errors=True)
            (scratch / "target").mkdir(parents=True)
            shutil.copyfile(build_dir / DB_FILE_NAME, scratch / DB_FILE_NAME)
            shutil.copyfile(
                build_dir / "target" / "manifest.json", scratch / "target" / "manifest.json"
            )
            manifest = self.manifest if job.get("manifest_in_memory") else None
            if manifest is None:
                manifest = _load_manifest(build_dir / "target" / "manifest.json")
            os.environ["MART_DUCKDB_PATH"] = str(scratch / DB_FILE_NAME)
            outcome = dbtRunner(manifest=manifest).invoke(
                [
                    "--log-level",
                    "none",
                    "--no-send-anonymous-usage-stats",
                    "--no-version-check",
                    "docs",
                    "generate",
                    "--static",
                    "--no-compile",
                    *self._common_args(
                        scratch / "target", build_dir / "logs", job.get("vars") or {}
                    ),
                ]
            )
            close_duckdb()
            if not outcome.success:
                raise RuntimeError(str(outcome.exception or "dbt docs generate failed"))
            target = build_dir / "target"
            for name in ("catalog.json", "index.html", "static_index.html"):
                os.replace(scratch / "target" / name, target / name)
            _write_json(status_path, {"status": "ready", "finished_at": now_iso()})
            self.channel.send({"type": "docs", "ready": True, "error": None})
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            _write_json(status_path, {"status": "failed", "error": message})
            self.channel.send({"type": "docs", "ready": False, "error": message})
        finally:
            close_duckdb()
            shutil.rmtree(scratch, ignore_errors=True)


def _load_manifest(path: Path) -> Any:
    """A Manifest object from a ``manifest.json`` written by an earlier build."""
    from dbt.contracts.graph.manifest import Manifest, WritableManifest

    return Manifest.from_writable_manifest(WritableManifest.read_and_check_versions(str(path)))


def _write_json(path: Path, data: Any) -> None:
    from mart.workspace import atomic_write_json

    atomic_write_json(path, data)


def count_rows(relation: Any) -> int | None:
    """Row count of a just-built relation, on a separate cursor of dbt's own connection."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        env = DuckDBConnectionManager._ENV
        conn = getattr(env, "conn", None)
        if conn is None or not relation.relation_name:
            return None
        cursor = conn.cursor()
        try:
            row = cursor.execute(f"select count(*) from {relation.relation_name}").fetchone()
        finally:
            cursor.close()
        return int(row[0]) if row else None
    except Exception:
        return None


def close_duckdb() -> None:
    """Close dbt-duckdb's kept-open database, so the file is free for readers."""
    try:
        from dbt.adapters.factory import cleanup_connections

        cleanup_connections()
    except Exception:
        pass
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        with DuckDBConnectionManager._LOCK:
            env = DuckDBConnectionManager._ENV
            if env is not None:
                env.close()
            DuckDBConnectionManager._ENV = None
    except Exception:
        pass


def held_back(execution: Any) -> dict[str, list[str]] | None:
    """What a build's failing tests held back, as dbt selectors; None if nothing was.

    Only when tests failed and nothing errored: a model that failed to build leaves
    its downstream unbuildable anyway. ``nodes`` are the skipped models, snapshots
    and exposures, ``tests`` the skipped data and unit tests, ``ids`` their unique ids.
    """
    results = [r for r in getattr(execution, "results", None) or [] if r.node is not None]
    statuses = {str(result.status) for result in results}
    if "error" in statuses or not statuses & {"fail"}:
        return None
    skipped = [result.node for result in results if str(result.status) == "skipped"]
    if not skipped:
        return None
    nodes, tests = [], []
    for node in skipped:
        kind = str(node.resource_type)
        if kind in ("model", "snapshot", "seed"):
            nodes.append(node.name)
        elif kind == "exposure":
            nodes.append(f"exposure:{node.name}")
        elif kind in _TEST_TYPES:
            tests.append(node.name)
    if not nodes and not tests:
        return None
    return {"nodes": nodes, "tests": tests, "ids": [node.unique_id for node in skipped]}


def reuse_states(execution: Any, build_id: int) -> dict[str, dict[str, Any]]:
    """What the next build needs to reuse this build's nodes: per node that finished
    with a complete result, its result and the build it ran in (``mart.reuse``)."""
    states: dict[str, dict[str, Any]] = {}
    for result in getattr(execution, "results", None) or []:
        node = result.node
        status = str(result.status)
        if node is None or status not in reuse.REUSABLE_STATUSES:
            continue
        response = dict(result.adapter_response or {})
        ran_in = response.pop(REUSED_FROM, build_id)
        states[node.unique_id] = {
            "status": status,
            "message": result.message,
            "failures": result.failures,
            "adapter_response": response,
            "compiled_code": getattr(node, "compiled_code", None),
            "ran_in": ran_in,
        }
    return states


def tests_key(status: str) -> str:
    """The test summary's key (pass, fail, warn, error, skipped) for a test's status."""
    if status in ("pass", "fail", "warn", "error", "skipped"):
        return status
    return "pass" if status == "success" else "error"


def summarise(execution: Any) -> dict[str, Any]:
    """Node results, test summary and failures from dbt's RunExecutionResult."""
    nodes: list[dict[str, Any]] = []
    tests = {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skipped": 0}
    failing: list[dict[str, Any]] = []
    errored: list[dict[str, Any]] = []
    tests_failed = False
    for result in getattr(execution, "results", None) or []:
        node = result.node
        kind = str(node.resource_type)
        if kind == "operation":
            continue  # on-run-start/end hooks: not nodes of the graph
        status = str(result.status)
        config = getattr(node, "config", None)
        severity = str(getattr(config, "severity", "") or "").lower() or None
        reused_from = (result.adapter_response or {}).get(REUSED_FROM)
        entry: dict[str, Any] = {
            "unique_id": node.unique_id,
            "name": node.name,
            "resource_type": kind,
            "status": status,
            "duration_s": round(float(result.execution_time or 0.0), 4),
            "message": result.message,
            "failures": result.failures,
            "relation": getattr(node, "relation_name", None),
        }
        if reused_from is not None:
            entry["reused_from"] = reused_from
        if kind in _TEST_TYPES:
            entry["severity"] = severity or ("error" if kind == "unit_test" else None)
            tests[tests_key(status)] += 1
            if status in {"fail", "error", "warn"}:
                failing.append(entry)
            if status in {"fail", "error"}:
                tests_failed = True
        elif status == "error":
            errored.append(entry)
        nodes.append(entry)
    return {
        "nodes": nodes,
        "tests": tests,
        "failing_tests": failing,
        "errored_nodes": errored,
        "tests_failed": tests_failed,
    }


_DETACHED = threading.Event()


def detach() -> None:
    """From now on the worker outlives its manager (it only finishes docs)."""
    _DETACHED.set()


def _job_waiting() -> bool:
    """Whether a job (or EOF) is already waiting on stdin: then skip the warm-up build,
    which would only delay a click that came in while the worker was parsing."""
    try:
        ready, _, _ = select.select([0], [], [], 0)
    except (OSError, ValueError):
        return False
    return bool(ready)


def _watch_stdin() -> None:
    """Exit at once if the manager goes away before the result was sent."""
    # os.read, not sys.stdin: a daemon thread blocked inside the buffered reader
    # would hold its lock at interpreter shutdown.
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    if not _DETACHED.is_set():
        os._exit(75)


def _send_ready(channel: _Channel, worker: Worker, prepared: bool | None = None) -> None:
    """Tell the manager the worker waits for a job (again, after a prepare)."""
    message = {
        "type": "ready",
        "pid": os.getpid(),
        "import_s": round(worker.import_s, 3),
        "parse_s": round(worker.parse_s, 3),
        "warmup_s": round(worker.warmup_s, 3),
        "speedups": worker.speedups,
        "fingerprint": worker.fingerprint,
        "vars": worker.vars,
    }
    if prepared is not None:
        message["prepared"] = prepared
    channel.send(message)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mart.worker``."""
    parser = argparse.ArgumentParser(prog="python -m mart.worker")
    parser.add_argument("--work-dir", required=True, help="this worker's scratch directory")
    parser.add_argument("--project-dir", required=True)
    parser.add_argument("--profiles-dir", required=True)
    parser.add_argument("--vars", default="{}", help="vars (JSON) to parse with")
    parser.add_argument("--no-parse", action="store_true", help="only import dbt (for docs jobs)")
    parser.add_argument(
        "--warmup-build",
        action="store_true",
        help="after parsing, run one throwaway build on empty tables (a warmer first build)",
    )
    args = parser.parse_args(argv)

    # The protocol owns the original stdout; dbt's console output goes to stderr.
    channel = _Channel(os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1))
    os.dup2(2, 1)

    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    worker = Worker(
        work_dir,
        Path(args.project_dir),
        Path(args.profiles_dir),
        json.loads(args.vars),
        channel,
    )
    try:
        try:
            worker.warm(parse=not args.no_parse, warmup_build=args.warmup_build)
        except Exception as exc:  # the job can still re-parse; report and go on
            worker.manifest = None
            channel.send({"type": "warn", "message": f"warm-up parse failed: {exc}"})
        _send_ready(channel, worker)
        while True:
            line = sys.stdin.readline()
            if not line.strip():
                return 0
            job = json.loads(line)
            if job.get("kind") != "prepare":
                break
            try:
                prepared = worker.prepare(job)
            except Exception as exc:  # the job re-parses and reports the error itself
                worker.manifest = None
                worker.fingerprint = ""
                channel.send({"type": "warn", "message": f"prepare parse failed: {exc}"})
                prepared = False
            _send_ready(channel, worker, prepared=prepared)
        if job.get("kind") == "docs":
            # Before the watcher starts: the manager closes stdin right after sending a
            # docs job, and the watcher must not take that for the manager going away.
            detach()
        threading.Thread(target=_watch_stdin, name="stdin-watch", daemon=True).start()
        try:
            if job.get("kind") == "docs":
                worker.docs(job)
            else:
                worker.build(job)
        except Exception as exc:
            channel.send({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
            return 2
        return 0
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    # Skip interpreter teardown: dbt's thread pools and the stdin watcher are daemons.
    os._exit(code)

"""Builds of the mart: one at a time, each in its own directory, published atomically.

A build ``N`` lives in ``workspace/builds/<N>/``::

    build.json      its record (:class:`BuildRecord`), rewritten atomically on each change
    events.jsonl    per-node progress, one JSON object a line (see :class:`mart.worker.EventLog`)
    mart.duckdb     the mart it built: a copy of the published file, plus this build's work
    target/         dbt artifacts (manifest.json, run_results.json; docs when generated)
    logs/           dbt's log
    docs.json       docs generation status (``running`` | ``ready`` | ``failed``)
    cancel          present when someone asked to cancel the build

``builds/current`` names the published build; publishing is one atomic rewrite of that
file, so a reader sees the old or the new mart, never a half-built one. One build runs
at a time across processes: the builder holds ``fcntl.flock`` on ``build.lock`` (the
kernel releases it when the process dies, so a crash never leaves a stale lock), and the
file holds JSON saying who holds it. The dbt work itself happens in a pre-warmed worker
process (:mod:`mart.worker`), so the caller pays only for the build, not for importing
dbt and parsing the project.

This module imports neither dbt nor Streamlit: the app's server process holds one
:class:`BuildManager` and every browser session polls it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import itertools
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mart.errors import BuildBusyError, InputError, MartError, NotFoundError
from mart.worker import (
    DB_FILE_NAME,
    EventLog,
    now_iso,
    project_fingerprint,
    read_events,
    tests_key,
    vars_key,
)
from mart.workspace import (
    DBT_PROJECT_DIR,
    PROJECT_ROOT,
    Workspace,
    atomic_write_json,
    atomic_write_text,
    project_vars,
    read_json,
)

RUNNING = "running"
PUBLISHED = "published"
FAILED = "failed"
CANCELLED = "cancelled"
# A build whose process died is ``failed`` with this ``failure`` (records written before
# 2026-11-27 have it as their status).
INTERRUPTED = "interrupted"
STATUSES = (RUNNING, PUBLISHED, FAILED, CANCELLED)

#: The datasets a build loads, and the bronze table each one fills.
BRONZE_TABLES = {"transactions": "raw_transactions", "events": "raw_events"}
#: Vars every build passes: the engine loads bronze itself (see dbt_project.yml).
ENGINE_VARS: dict[str, Any] = {"bronze_autoload": False}


def vars_text(values: dict[str, Any] | None) -> str:
    """A build's dbt vars in one line: ``as_of_date=2024-03-01, …`` or ``defaults``."""
    if not values:
        return "defaults"
    return ", ".join(f"{name}={value}" for name, value in sorted(values.items()))


def project_var_names(project_dir: Path) -> set[str] | None:
    """The vars ``dbt_project.yml`` declares (None when it cannot be read)."""
    declared = project_vars(project_dir)
    return None if declared is None else set(declared)


def check_var_names(variables: dict[str, Any], project_dir: Path) -> None:
    """Refuse vars the build engine owns and, when the project declares its vars, names
    it does not declare: a typo (``high_valu_threshold``) would otherwise build with
    the default and look like it worked."""
    owned = sorted(set(variables) & set(ENGINE_VARS))
    if owned:
        raise InputError(f"--var {owned[0]} is set by the build engine itself and cannot be given.")
    declared = project_var_names(project_dir)
    if declared is None:
        return
    unknown = sorted(set(variables) - declared)
    if unknown:
        known = ", ".join(sorted(declared - set(ENGINE_VARS)))
        raise InputError(f"Unknown var {unknown[0]!r}: the project's vars are {known}.")


RUN_DATE_WORDS = ("", "none", "null", "today")


def _nodes_from_events(
    events: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Node results and the test summary of a build that stopped before its result
    (cancelled, or its worker died), from the ``node_finished`` events it logged."""
    finished: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("type") == "node_finished":
            finished[str(event.get("unique_id"))] = {
                key: event.get(key)
                for key in ("unique_id", "name", "resource_type", "status", "duration_s")
            } | {"message": event.get("message"), "failures": event.get("failures")}
    tests = _empty_tests()
    for node in finished.values():
        if node["resource_type"] in ("test", "unit_test"):
            tests[tests_key(str(node["status"]))] += 1
    return list(finished.values()), tests


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _merge_vars(
    given: dict[str, Any], published: BuildRecord | None, declared: set[str] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The build's vars: ``published``'s (if any) changed by ``given``; and their origin.

    An ``as_of_date`` meaning the run date (None, "", "today") is left out: the
    project's default already is the run date.
    """
    origin: dict[str, Any] = {}
    kept: dict[str, Any] = {}
    if published is not None:
        earlier = {k: v for k, v in (published.vars or {}).items() if k not in given}
        kept = {k: v for k, v in earlier.items() if declared is None or k in declared}
        origin = {
            "from_build": published.build_id,
            "kept": sorted(kept),
            "dropped": sorted(set(earlier) - set(kept)),
        }
    merged = {**kept, **given}
    run_date = merged.get("as_of_date", "x")
    if run_date is None or str(run_date).strip().lower() in RUN_DATE_WORDS:
        merged.pop("as_of_date")
    return merged, origin


def failure_advice(names: list[str]) -> str | None:
    """What to do about error-severity test failures other than not_after_as_of_date
    (the as-of hint covers those): where the rows are and the ways out. None when
    there are no others."""
    others = [name for name in names if not name.startswith("not_after_as_of_date")]
    if not others:
        return None
    parts = []
    if any(name.startswith("not_negative") for name in others):
        parts.append(
            "A negative amount is a refund, or a sale keyed in with a minus sign; the "
            "not_negative test stops both."
        )
    if any(name.startswith("unique") for name in others):
        parts.append("Duplicate ids count a record twice.")
    parts.append(
        "The failing rows are listed with each test (Build & Tests). Correct them on "
        "Data (Edit, or Undo the version that brought them) and rebuild; or, if they "
        "belong in the mart, publish this build anyway (Build & Tests; command line: "
        "build --publish-on-test-failure)."
    )
    return " ".join(parts)


def as_of_behind(
    ws: Workspace,
    build_vars: dict[str, Any],
    versions: dict[str, int] | None = None,
    today: Any = None,
) -> tuple[str, Any] | None:
    """(as_of_date, the data's latest date) when the ``as_of_date`` var is before the
    latest date in the dataset versions (default HEAD): a build with these vars fails
    the not_after_as_of_date tests, and a later date fits (:func:`as_of_that_fits`).
    None when the var is not set, the data is not past it, or the data runs past ``today`` (default:
    the date now): records in the future are bad data, not data past a kept date.
    """
    from datetime import date

    from mart import datasets

    as_of = str(build_vars.get("as_of_date") or "")
    try:
        as_of_day = date.fromisoformat(as_of[:10])
        latest = datasets.latest_activity(ws, versions)
    except Exception:  # noqa: BLE001 - advice only: an unreadable version says nothing
        return None
    if latest is None or latest <= as_of_day or latest > (today or date.today()):
        return None
    return as_of, latest


def as_of_that_fits(latest: Any, today: Any = None) -> Any:
    """The as-of date to offer for data whose latest activity is ``latest``: the first
    day of the next month, so the data's last month is complete (the day after it, the
    offer before, left every cohort's month 1 still running: the sample's retention
    showed one dash and two greyed cells), but not past ``today`` (default: the date
    now) unless the day after ``latest`` already is."""
    from datetime import date, timedelta

    next_month = (latest.replace(day=1) + timedelta(days=32)).replace(day=1)
    return max(latest + timedelta(days=1), min(next_month, today or date.today()))


def _mark_published_anyway(record: BuildRecord) -> None:
    """``record``, a build whose tests failed, as published anyway: the advice (correct
    the rows, or publish anyway) and "The previous build stays published." are done
    with now."""
    record.status = PUBLISHED
    record.published_anyway = True
    error = record.error or ""
    if record.hint:
        error = error.replace(f" {record.hint}", "")
    record.error = error.replace(STAYS_PUBLISHED, " Published anyway.").replace(
        NONE_PUBLISHED, " Published anyway."
    )


#: DuckDB's file starts with three 4 KiB headers (the main one, then two database
#: headers, the one with the higher iteration current), then its blocks.
_DUCKDB_HEADER = 4096


def damaged_file(path: Path) -> str | None:
    """Why the DuckDB file at ``path`` cannot be built on ("is missing", "is cut short:
    …"), or None when it looks whole: a DuckDB file is its three headers and then whole
    blocks, so a copy cut off mid-way (a half-copied workspace, a full disk) ends
    inside a block. (A truncated file still opens and counts its rows; reading them
    fails.) The header's block count is no lower bound: DuckDB cuts free blocks off the
    end of the file and keeps counting them. The header is read as bytes: a DuckDB
    connection here would hold the file in this process with a configuration other
    readers of it may not share."""
    import struct

    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(3 * _DUCKDB_HEADER)
    except FileNotFoundError:
        return f"({path}) is missing"
    except OSError as exc:
        return f"({path}) cannot be read ({exc.strerror or exc})"
    if len(head) < 3 * _DUCKDB_HEADER or head[8:12] != b"DUCK":
        return f"({path}) is not a whole DuckDB file ({size:,} bytes)"
    # each database header: checksum, iteration, meta block, free list, block count,
    # block size (little-endian 64-bit)
    headers = [struct.unpack_from("<QQqqQQ", head, offset) for offset in (4096, 8192)]
    _, _, _, _, blocks, block_size = max(headers, key=lambda header: header[1])
    if not 4096 <= block_size <= 1 << 30:
        return None  # a layout this check does not know: not called damaged
    body = size - 3 * _DUCKDB_HEADER
    if body % block_size or (blocks and not body):
        whole = body // block_size
        return (
            f"({path}) is cut short: {size:,} bytes, which ends inside block {whole + 1} "
            f"of {block_size:,} bytes (a copy that did not finish, or a full disk)"
            if body % block_size
            else f"({path}) is cut short: it has no blocks where its header counts {blocks}"
        )
    return None


DEFAULT_KEEP = 5
KEEP_ENV = "MART_KEEP_BUILDS"


def keep_from_env() -> int:
    """How many recent builds keep their files: ``MART_KEEP_BUILDS`` (a whole number, at
    least 1; anything else is ignored, as ``MART_WARM_WORKERS`` is), else
    :data:`DEFAULT_KEEP`. The published build keeps its files anyway."""
    text = os.environ.get(KEEP_ENV, "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else DEFAULT_KEEP


# The end of a failed build's error (replaced when it is published anyway).
STAYS_PUBLISHED = " The previous build stays published."
NONE_PUBLISHED = " Nothing is published yet: fix the data and build again, or publish anyway."

EventCallback = Callable[[dict[str, Any]], None]


def _first_error_line(message: str, limit: int = 200) -> str:
    """The line of a dbt node error that says what went wrong (not the "Runtime Error
    in model x (path)" heading), cut at ``limit`` characters."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if not re.match(r"^\w+ Error in \w+ ", line):
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return lines[0][:limit] if lines else ""


def _empty_tests() -> dict[str, int]:
    return {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skipped": 0}


@dataclass(frozen=True)
class DatasetInput:
    """One dataset version a build loads into bronze."""

    dataset: str
    table: str
    version: int | str
    path: Path
    rows: int | None = None
    source_file: str | None = None


@dataclass
class BuildRecord:
    """Everything known about one build; ``builds/<N>/build.json`` on disk.

    ``status`` is one of ``running``, ``published`` (it passed, or was published
    anyway, and was the live mart at some point — :attr:`is_current` says whether it
    still is), ``failed`` or ``cancelled``.
    ``failure`` says why a build failed: ``"tests"`` (error-severity tests failed; the
    mart was built and can still be published with :meth:`BuildManager.publish`),
    ``"error"`` (dbt or a model failed) or ``"interrupted"`` (its process died: killed,
    crashed, powered off).
    """

    build_id: int
    status: str
    started_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    publish_on_test_failure: bool = False
    nodes: list[dict[str, Any]] = field(default_factory=list)
    tests: dict[str, int] = field(default_factory=_empty_tests)
    failing_tests: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    failure: str | None = None
    published_at: str | None = None
    published_anyway: bool = False
    # The build that was live when this one was (last) published: what the Overview's
    # "what changed" compares with, also after publishing an older build again.
    replaced: int | None = None
    db_path: str = ""
    pid: int | None = None
    host: str | None = None
    worker_pid: int | None = None
    files_pruned: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    # Whether the dbt unit tests ran: {"key": project+vars hash, "ran": bool,
    # "passed": bool|None, "count": n, "passed_in_build": N (when not re-run)}.
    unit_tests: dict[str, Any] = field(default_factory=dict)
    # Bronze rows per table, and the tables kept from the copied file because they
    # already held these dataset versions: {"rows": {...}, "reused": [...]}.
    bronze: dict[str, Any] = field(default_factory=dict)
    # Nodes left out because they were unchanged (mart.reuse): {"enabled": bool,
    # "from_build": N (the published build it started from)}; each such node says
    # "reused_from" (the build that ran it) in ``nodes``.
    reuse: dict[str, Any] = field(default_factory=dict)
    # The mart.dbt_speedups patches that were active in the worker (names).
    dbt_speedups: list[str] = field(default_factory=list)
    # Where the vars came from when the build kept the published build's vars:
    # {"from_build": N, "kept": [names], "dropped": [names no longer declared]}.
    vars_origin: dict[str, Any] = field(default_factory=dict)
    # Unique ids of the nodes dbt build skipped after failing tests and the engine
    # then built (models, snapshots) or ran (tests) anyway, in this build's own copy.
    completed: list[str] = field(default_factory=list)
    # What to do about a failure, when the engine can tell (an as-of date before the
    # data: see as_of_hint); also at the end of ``error``.
    hint: str | None = None
    # What the build had to work around before it started (a published file that is
    # damaged or gone, so it started from an older build's file or from empty).
    notes: list[str] = field(default_factory=list)
    # Filled in when read, not stored:
    is_current: bool = False
    docs_ready: bool = False

    _DERIVED = ("is_current", "docs_ready")

    def to_dict(self) -> dict[str, Any]:
        """The stored form (without the derived fields)."""
        data = asdict(self)
        for name in self._DERIVED:
            data.pop(name, None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildRecord:
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def build_dir(self) -> Path:
        return Path(self.db_path).parent

    @property
    def tests_failed(self) -> bool:
        """Whether error-severity tests failed (the mart itself was built)."""
        return self.failure == "tests" or bool(self.tests.get("fail") or self.tests.get("error"))

    @property
    def finished(self) -> bool:
        return self.status != RUNNING

    @property
    def not_rebuilt(self) -> list[str]:
        """Models and snapshots dbt skipped or failed in this build (after failing tests)."""
        return [
            str(node.get("name"))
            for node in self.nodes
            if node.get("resource_type") in ("model", "snapshot")
            and node.get("status") in ("skipped", "error")
        ]

    def versions_text(self) -> str:
        """``events v1, transactions v2``: the dataset versions the build used."""
        return ", ".join(
            f"{name} v{info.get('version')}" for name, info in sorted(self.datasets.items())
        )

    def completion_note(self) -> str | None:
        """For a build whose failing tests made dbt skip nodes: that they were run anyway."""
        if not self.completed:
            return None
        kinds = {str(node.get("unique_id")): node.get("resource_type") for node in self.nodes}
        done = set(self.completed)
        built = sum(1 for uid in done if kinds.get(uid) in ("model", "snapshot", "seed"))
        tested = sum(1 for uid in done if kinds.get(uid) in ("test", "unit_test"))
        failing = sum(
            1
            for node in self.nodes
            if node.get("unique_id") in done
            and kinds.get(str(node.get("unique_id"))) in ("test", "unit_test")
            and node.get("status") in ("fail", "error")
        )
        broken = [
            node
            for node in self.nodes
            if node.get("unique_id") in done
            and node.get("resource_type") in ("model", "snapshot", "seed")
            and node.get("status") == "error"
        ]
        where = (
            "so every table of this published mart shows what its data does"
            if self.status == PUBLISHED
            else "in this build's own copy of the mart, which is not published, so every "
            "table of it shows what this data would do"
        )
        # Said of the tests run anyway, which the failing tests listed before include:
        # "1 of those tests fails too" read like one more failure.
        if not failing:
            outcome = "All of them pass."
        elif tested == 1:
            outcome = "The test run anyway fails; it is counted in the failing tests listed."
        elif failing == 1:
            outcome = (
                f"Of the {tested} tests run anyway, 1 fails; it is counted in the failing "
                "tests listed."
            )
        else:
            outcome = (
                f"Of the {tested} tests run anyway, {failing} fail; they are counted in the "
                "failing tests listed."
            )
        if broken:
            first = broken[0]
            reason = _first_error_line(str(first.get("message") or ""))
            others = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
            outcome = (
                f"But {first.get('resource_type')} {first.get('name')}{others} failed to build"
                + (f" ({reason})" if reason else "")
                + ", so what depends on it was not built and its tests could not run. "
                + outcome
            )
        return (
            f"Tests failed, so dbt skipped {built} models and snapshots downstream and "
            f"{tested} of their tests. The engine built and ran them anyway, {where}. " + outcome
        )

    def stale_note(self) -> str | None:
        """For a build published anyway: which tables were not rebuilt, and so are older."""
        names = self.not_rebuilt
        if not (self.published_anyway and names):
            return None
        based_on = self.timings.get("based_on_build")
        origin = (
            f"still those of build {int(based_on)}"
            if based_on
            else "missing (no earlier build had them)"
        )
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        return (
            f"Published anyway, but {len(names)} of its models and snapshots were not rebuilt "
            f"after the failing tests, so their tables are {origin}: {shown}."
        )

    @property
    def unit_tests_passed_in(self) -> int | None:
        """The build where the unit tests passed, when this build did not re-run them."""
        done = self.unit_tests or {}
        if done.get("ran") or not done.get("passed_in_build"):
            return None
        return int(done["passed_in_build"])

    @property
    def unit_tests_not_rerun(self) -> int:
        """How many unit tests this build left out because they passed before (else 0)."""
        done = self.unit_tests or {}
        if done.get("ran") or not done.get("passed_in_build"):
            return 0
        return int(done.get("count") or 0)

    def unit_tests_note(self) -> str | None:
        """A sentence when this build did not re-run the unit tests, saying where they passed."""
        done = self.unit_tests or {}
        if done.get("ran") or not done.get("passed_in_build"):
            return None
        count = self.unit_tests_not_rerun
        what = f"The {count} unit tests were" if count else "Unit tests were"
        return (
            f"{what} not re-run: they passed in build {done['passed_in_build']} on the "
            "same project files and vars, and they test the SQL, not the data."
        )

    @property
    def reused_nodes(self) -> list[dict[str, Any]]:
        """The nodes this build left out because they were unchanged (``mart.reuse``)."""
        return [node for node in self.nodes if node.get("reused_from") is not None]

    def reuse_note(self) -> str | None:
        """A sentence when this build reused unchanged nodes: how many, since which build."""
        reused = self.reused_nodes
        if not reused:
            return None
        tests = sum(1 for node in reused if node.get("resource_type") == "test")
        models = len(reused) - tests
        kinds = [
            str(node.get("resource_type")) for node in reused if node.get("resource_type") != "test"
        ]
        snapshots = kinds.count("snapshot")
        # the models and snapshots by name when they are few
        names = [
            str(node.get("name"))
            for node in reused
            if node.get("resource_type") != "test" and node.get("name")
        ]
        parts = [_count(models - snapshots, "model", "models")]
        if snapshots:
            parts.append(_count(snapshots, "snapshot", "snapshots"))
        if 0 < len(names) <= 4:
            parts[-1] += f" ({', '.join(names)})"
        parts.append(_count(tests, "test", "tests"))
        what = ", ".join(parts[:-1]) + " and " + parts[-1]
        ran = sum(
            1
            for node in self.nodes
            if node.get("reused_from") is None
            and node.get("resource_type") in ("model", "snapshot", "seed", "test")
        )
        base = (self.reuse or {}).get("from_build")
        # The builds that really ran them: a base build that reused everything itself
        # is not one of them.
        ran_in = sorted({int(node["reused_from"]) for node in reused}, reverse=True)
        if base and ran_in == [base]:
            kept = f"as in build {base}, whose results they keep"
        else:
            where = (
                f"the builds where they last ran ({', '.join(f'#{b}' for b in ran_in)})"
                if len(ran_in) > 1
                else f"build {ran_in[0]}, where they last ran"
            )
            kept = (f"as in build {base}; " if base else "unchanged; ") + (
                f"they keep the results of {where}"
            )
        return (
            f"{what} did not run again: their data, SQL and vars "
            f"are {kept}. "
            f"{_count(ran, 'model, snapshot or test', 'models, snapshots and tests')} ran."
        )

    def summary(self) -> str:
        """One line for people: ``build 3 published in 0.91 s — tests 31 pass, 0 fail``."""
        tests = self.tests
        text = f"build {self.build_id} {self.status}"
        if self.duration_s is not None:
            text += f" in {self.duration_s:.2f} s"
        text += (
            f" — tests {tests.get('pass', 0)} pass, {tests.get('fail', 0)} fail, "
            f"{tests.get('warn', 0)} warn, {tests.get('error', 0)} error, "
            f"{tests.get('skipped', 0)} skipped"
        )
        if self.unit_tests_not_rerun:
            text += f", {self.unit_tests_not_rerun} unit tests not re-run"
        if self.reused_nodes:
            text += f"; {len(self.reused_nodes)} unchanged nodes reused"
        if self.error:
            text += f" — {self.error}"
        stale = self.stale_note()
        if stale:
            text += f" — {stale}"
        return text


# -- the cross-process lock ------------------------------------------------------------


class BuildLock:
    """``fcntl.flock`` on ``workspace/build.lock``; the file says who holds it.

    flock belongs to the open file, not the process, so two threads of one process
    exclude each other too; the kernel drops it when the holder dies, so a lock is
    never stale — only the JSON in the file can be, and it is overwritten on acquire.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never blocks."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def acquire(
        self,
        wait: bool = True,
        on_wait: Callable[[dict[str, Any] | None], None] | None = None,
        poll_s: float = 0.05,
    ) -> bool:
        """Take the lock, waiting if ``wait``; ``on_wait(holder)`` is told whom for, once
        per holder (a third build waiting behind two kept saying it waited for the first
        after the second had taken the lock)."""
        told: tuple[Any, Any] | None = None
        polls = 0
        while not self.try_acquire():
            if not wait:
                return False
            if on_wait is not None and (told is None or polls % 20 == 0):
                holder = self.holder(self.path)
                who = (holder or {}).get("build_id"), (holder or {}).get("pid")
                # (between two holders the file is empty for a moment: not a new one)
                if told is None or (holder and who != told):
                    on_wait(holder)
                    told = who
            polls += 1
            time.sleep(poll_s)
        return True

    def describe(self, info: dict[str, Any]) -> None:
        """Say who holds the lock (pid, host, build id, started_at)."""
        if self._fd is None:
            raise RuntimeError("describe() needs the lock held")
        data = json.dumps(info, default=str).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @staticmethod
    def holder(path: Path) -> dict[str, Any] | None:
        """Who holds (or last held) the lock, from the file; None if unknown."""
        try:
            text = path.read_text(encoding="utf-8").strip()
            return json.loads(text) if text else None
        except (OSError, json.JSONDecodeError):
            return None


def describe_holder(holder: dict[str, Any] | None) -> str:
    """``build 4 (pid 123 on laptop, started 12:01:02)`` or ``another build``."""
    if not holder:
        return "another build"
    text = f"build {holder.get('build_id', '?')}"
    text += f" (pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
    if holder.get("started_at"):
        text += f", started {holder['started_at']}"
    return text + ")"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child is dead for our purposes.
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
        if status == "Z":
            return False
    return True


def _is_our_worker(pid: int | None) -> bool:
    """Whether ``pid`` is (still) a ``mart.worker`` process, so killing it is safe."""
    if not _pid_alive(pid):
        return False
    try:
        return b"mart.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# -- the worker process, seen from the manager ------------------------------------------


class WorkerProcess:
    """A ``python -m mart.worker`` child: warming up, waiting for a job, or running one."""

    _counter = itertools.count(1)

    def __init__(
        self,
        ws: Workspace,
        project_dir: Path,
        profiles_dir: Path,
        variables: dict[str, Any],
        python: str,
        parse: bool = True,
        warmup_build: bool = False,
    ) -> None:
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.vars = dict(variables)
        name = f"{os.getpid()}-{next(self._counter)}"
        workers_dir = ws.root / "workers"
        workers_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir = workers_dir / name
        self.log_path = workers_dir / f"{name}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        args = [
            python,
            "-m",
            "mart.worker",
            "--work-dir",
            str(self.work_dir),
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(profiles_dir),
            "--vars",
            vars_key(variables),
        ]
        if not parse:
            args.append("--no-parse")
        elif warmup_build:
            args.append("--warmup-build")
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=str(PROJECT_ROOT),
                env=env,
                start_new_session=True,  # its own process group: cancel kills all of it
            )
        self.pid = self.popen.pid
        self.ready = threading.Event()
        self.ready_info: dict[str, Any] = {}
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.exited = threading.Event()
        self.assigned = False
        threading.Thread(target=self._read, name=f"worker-{self.pid}", daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            try:
                message = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if message.get("type") == "ready":
                self.ready_info = message
                self.ready.set()
            else:
                self.messages.put(message)
        self.popen.wait()
        self.exited.set()
        self.ready.set()
        self.messages.put(None)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def matches(self, project_dir: Path, profiles_dir: Path) -> bool:
        return self.project_dir == project_dir and self.profiles_dir == profiles_dir

    def prepare(self, variables: dict[str, Any]) -> None:
        """Have the waiting worker parse for ``variables`` now (see ``mart.worker``);
        the caller checked that it is warm and not given a build. A job sent while it
        parses waits for the parse, then needs none."""
        assert self.popen.stdin is not None
        message = {
            "kind": "prepare",
            "vars": variables,
            "project_dir": str(self.project_dir),
            "profiles_dir": str(self.profiles_dir),
        }
        self.vars = dict(variables)
        with contextlib.suppress(OSError, ValueError):  # it died: the pool drops it
            self.popen.stdin.write((json.dumps(message, default=str) + "\n").encode())
            self.popen.stdin.flush()

    def send(self, job: dict[str, Any]) -> None:
        """Hand the worker its one job."""
        assert self.popen.stdin is not None
        self.assigned = True
        self.popen.stdin.write((json.dumps(job, default=str) + "\n").encode())
        self.popen.stdin.flush()

    def close_stdin(self) -> None:
        """Let go of the worker: an unassigned worker exits, a detached one carries on."""
        with contextlib.suppress(OSError, ValueError):
            if self.popen.stdin is not None:
                self.popen.stdin.close()

    def kill(self) -> None:
        """Kill the worker's whole process group at once."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - limit))
                return handle.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def dispose_log(self, build_dir: Path | None) -> None:
        """Keep the worker's stderr with its build (or drop it if it never built)."""
        with contextlib.suppress(OSError):
            if build_dir is not None and build_dir.is_dir():
                os.replace(self.log_path, build_dir / "worker.log")
            else:
                self.log_path.unlink(missing_ok=True)


# -- dataset inputs ------------------------------------------------------------------------


# Below this many bronze rows a build is bound by dbt's per-node Python, which holds
# the GIL. Two dbt threads let one node's SQL (DuckDB releases the GIL) overlap the
# next node's Python; more only queue on the GIL. Measured on the sample, 2 cores,
# median of 7 warm builds, paired runs: 1 thread 1.35 and 1.60 s against 2 threads
# 1.18 and 1.29 s; 2 threads 1.01 and 1.12 s against 4 threads 1.12 and 1.38 s.
# Above it, SQL dominates, and the profile's threads (4) let independent nodes
# overlap.
SMALL_BUILD_ROWS = 200_000
SMALL_BUILD_THREADS = 2


def unit_tests_key(project_dir: Path, profiles_dir: Path, variables: dict[str, Any]) -> str:
    """What a unit test's outcome depends on: every project file and the vars."""
    digest = hashlib.sha256(project_fingerprint(project_dir, profiles_dir).encode())
    digest.update(vars_key(variables).encode())
    return digest.hexdigest()[:32]


def _auto_threads(inputs: list[DatasetInput]) -> int | None:
    """dbt threads for a build of ``inputs``: 2 when small, else the profile's."""
    rows = sum(int(item.rows or 0) for item in inputs)
    unknown = any(item.rows is None for item in inputs)
    return SMALL_BUILD_THREADS if rows < SMALL_BUILD_ROWS and not unknown else None


def head_inputs(ws: Workspace) -> list[DatasetInput]:
    """The HEAD version of each dataset, as bronze inputs (via :mod:`mart.datasets`)."""
    try:
        from mart import datasets
    except ModuleNotFoundError as exc:
        if exc.name != "mart.datasets":
            raise
        return _layout_head_inputs(ws)
    inputs = []
    for dataset, table in BRONZE_TABLES.items():
        try:
            version = datasets.head(ws, dataset)
        except NotFoundError:
            version = None
        if version is None:
            raise InputError(
                f"Dataset '{dataset}' has no version to build from yet: load data first "
                "(python -m mart reset loads the bundled sample)."
            )
        path = Path(datasets.version_path(ws, dataset, version.id))
        source = next(
            (
                getattr(version, name)
                for name in ("source_file", "source_name", "filename", "source")
                if isinstance(getattr(version, name, None), str) and getattr(version, name)
            ),
            None,
        )
        inputs.append(
            DatasetInput(
                dataset=dataset,
                table=table,
                version=version.id,
                path=path,
                rows=getattr(version, "row_count", None),
                source_file=source or path.name,
            )
        )
    return inputs


def _layout_head_inputs(ws: Workspace) -> list[DatasetInput]:
    """HEAD inputs read straight from the workspace layout (``datasets/<d>/HEAD``)."""
    inputs = []
    for dataset, table in BRONZE_TABLES.items():
        head = ws.dataset_dir(dataset) / "HEAD"
        try:
            version = head.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            version = ""
        if not version:
            raise InputError(
                f"Dataset '{dataset}' has no version to build from yet: load data first."
            )
        stem = f"{int(version):06d}" if version.isdigit() else version
        version_id: int | str = int(version) if version.isdigit() else version
        path = ws.dataset_dir(dataset) / "versions" / f"{stem}.parquet"
        meta = read_json(path.with_suffix(".json"), default={}) or {}
        inputs.append(
            DatasetInput(
                dataset=dataset,
                table=table,
                version=version_id,
                path=path,
                rows=meta.get("row_count"),
                source_file=meta.get("source_file") or path.name,
            )
        )
    return inputs


# -- the manager ---------------------------------------------------------------------------


@dataclass
class _ActiveBuild:
    build_id: int
    build_dir: Path
    record: BuildRecord
    lock: BuildLock
    log: EventLog
    run_vars: dict[str, Any]
    inputs: list[DatasetInput]
    source_db: Path | None
    on_event: EventCallback | None
    started: float
    cancel_requested: bool = False
    worker: WorkerProcess | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class BuildManager:
    """Starts, tracks, cancels, publishes and prunes builds of one workspace.

    Thread-safe; one instance per process is enough (the app keeps it in
    ``st.cache_resource``). Every method reads the shared state from disk, so builds
    started by other processes (the CLI) are seen too.
    """

    def __init__(
        self,
        ws: Workspace | None = None,
        *,
        project_dir: Path | None = None,
        profiles_dir: Path | None = None,
        keep: int | None = None,
        inputs: Callable[[Workspace], list[DatasetInput]] | None = None,
        prewarm_after_build: bool = True,
        python: str | None = None,
        threads: int | None = None,
        log_level_file: str | None = "none",
        docs: bool = True,
        warmup_build: bool | None = None,
        warm_workers: int = 1,
    ) -> None:
        """``keep``: how many recent builds keep their files (the published one always);
        default ``MART_KEEP_BUILDS``, else 5 (:func:`keep_from_env`).

        ``inputs`` resolves the dataset versions to load (default: each dataset's HEAD).
        ``prewarm_after_build``: warm the next worker as soon as a build ends (the app
        wants it; a one-shot CLI process does not). ``threads`` overrides dbt's
        threads (default: 2 for a small build, else the profile's).
        ``log_level_file``: dbt's log file level. The default, none, writes no
        ``logs/dbt.log``: progress and results are in ``events.jsonl`` and the build
        record, and dbt formats every event for a file logger even when its level
        drops the line (~15% of a sample build). Pass "debug" to get the file.
        ``docs``: generate static docs for each published build (in the background).
        ``warmup_build``: a warm worker also runs one throwaway build on empty tables
        before it reports ready, so the click gets a process's faster second build
        (default: on, unless the environment sets ``MART_WARMUP_BUILD=0``).
        ``warm_workers``: how many warm workers to keep waiting. A worker runs one build
        and exits, and warming the next takes 4-6 s on two cores, so with one a click
        that comes within seconds of the last build waits for it. With two (the app's
        choice), such a click takes the second; the workers after the first are
        started one at a time, each once the one before is warm, so a start-up warms
        the first worker as fast as with one.
        """
        self.ws = ws or Workspace.from_env()
        self.project_dir = Path(project_dir or DBT_PROJECT_DIR).resolve()
        self.profiles_dir = Path(profiles_dir or self.project_dir).resolve()
        self.keep = max(1, int(keep if keep is not None else keep_from_env()))
        self._inputs = inputs or head_inputs
        self.prewarm_after_build = prewarm_after_build
        self.python = python or sys.executable
        self.threads = threads
        self.log_level_file = log_level_file
        self.docs = docs
        if warmup_build is None:
            warmup_build = os.environ.get("MART_WARMUP_BUILD", "1").strip() not in {"0", ""}
        self.warmup_build = warmup_build
        self.host = socket.gethostname()
        self._state = threading.RLock()
        self._active: dict[int, _ActiveBuild] = {}
        self.warm_workers = max(1, int(warm_workers))
        self._pool: list[WorkerProcess] = []  # warming or warm, not yet given a build
        self._pool_generation = 0  # bumped by shutdown(): pending top-ups then stop
        self.ws.builds_dir.mkdir(parents=True, exist_ok=True)

    # -- paths -----------------------------------------------------------------------

    @property
    def current_pointer(self) -> Path:
        return self.ws.builds_dir / "current"

    def _record_path(self, build_id: int) -> Path:
        return self.ws.build_dir(build_id) / "build.json"

    # -- warm workers ----------------------------------------------------------------

    @property
    def _warm(self) -> WorkerProcess | None:
        """The worker the next build takes (the first of the pool), if any."""
        with self._state:
            return self._pool[0] if self._pool else None

    def prewarm(self, vars: dict[str, Any] | None = None, prepare: bool = True) -> None:
        """Start warming workers in the background (import dbt, parse), up to
        ``warm_workers``, one at a time; returns at once.

        ``vars``: the user vars the next build will likely use (default: the last
        build's), so the worker parses with them and the build needs no re-parse.
        With ``prepare``, a worker already waiting that parsed with other vars is
        asked to parse for these (:meth:`prepare`): after a build that changed the
        vars, the spare has the new ones by the time of the next click.
        """
        with self._state:
            self._pool = [worker for worker in self._pool if worker.alive]
            if len(self._pool) >= self.warm_workers or any(
                not worker.ready.is_set() for worker in self._pool
            ):
                # Full, or the top-up thread of the one warming starts the next.
                if vars is not None and prepare:
                    self._prepare_locked({**ENGINE_VARS, **vars})
                return
            if vars is None:
                last = self._latest_record()
                vars = last.vars if last else {}
            if prepare:  # before the spawn, which would count as having the vars
                self._prepare_locked({**ENGINE_VARS, **vars})
            worker = self._spawn_worker({**ENGINE_VARS, **vars}, warmup_build=self.warmup_build)
            self._pool.append(worker)
            if self.warm_workers > 1:  # when it is warm, the pool may be short again
                threading.Thread(
                    target=self._top_up,
                    args=(worker, self._pool_generation, vars),
                    name=f"top-up-{worker.pid}",
                    daemon=True,
                ).start()

    def prepare(self, vars: dict[str, Any] | None = None, keep_published_vars: bool = True) -> bool:
        """Have a warm, idle worker parse now for the vars the next build will likely use
        (as :meth:`start_build` merges them: ``keep_published_vars`` keeps the published
        build's others), so that build needs no re-parse. The app calls it when the
        user picks a new as-of date, before the Rebuild click. Returns whether a worker
        was asked to (False: one has these vars already, or none is warm and idle).
        Unknown var names raise, as in :meth:`start_build`.
        """
        user_vars = dict(vars or {})
        check_var_names(user_vars, self.project_dir)
        user_vars, _ = _merge_vars(
            user_vars,
            self.published() if keep_published_vars else None,
            project_var_names(self.project_dir),
        )
        with self._state:
            return self._prepare_locked({**ENGINE_VARS, **user_vars})

    def _prepare_locked(self, run_vars: dict[str, Any]) -> bool:
        """Ask one waiting worker to parse for ``run_vars``, unless one has them (or is
        warming with them). The last such worker of the pool is asked, so the first,
        which a build takes when none has its vars, keeps the vars it had."""
        pool = [worker for worker in self._pool if worker.alive and not worker.assigned]
        if not pool or any(worker.vars == run_vars for worker in pool):
            return False
        waiting = [worker for worker in pool if worker.ready.is_set()]
        if not waiting:
            return False
        waiting[-1].prepare(run_vars)
        return True

    def _top_up(self, worker: WorkerProcess, generation: int, vars: dict[str, Any]) -> None:
        """Once ``worker`` is warm, warm the next one (unless shut down meanwhile)."""
        worker.ready.wait()
        if not worker.alive:
            return  # it failed to start: no loop of workers that die at once
        with self._state:
            if generation != self._pool_generation:
                return
        # Not prepare: these vars may be older than a build's that ended meanwhile.
        self.prewarm(vars, prepare=False)

    def wait_warm(self, timeout: float = 60.0, all_workers: bool = False) -> bool:
        """Block until the worker the next build takes is ready, or with ``all_workers``
        until ``warm_workers`` are (for benchmarks and tests)."""
        if not all_workers:
            worker = self._warm
            return worker is not None and worker.ready.wait(timeout) and worker.alive
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._state:
                pool = [worker for worker in self._pool if worker.alive]
            if len(pool) >= self.warm_workers and all(w.ready.is_set() for w in pool):
                return True
            time.sleep(0.05)
        return False

    def shutdown(self) -> None:
        """Let the idle warm workers go (they exit); running builds are not touched."""
        with self._state:
            pool, self._pool = self._pool, []
            self._pool_generation += 1
        for worker in pool:
            if not worker.assigned:
                worker.close_stdin()
                worker.kill()
        for worker in pool:
            if not worker.assigned:
                worker.exited.wait(5)
                worker.dispose_log(None)
                shutil.rmtree(worker.work_dir, ignore_errors=True)

    def _spawn_worker(
        self, variables: dict[str, Any], parse: bool = True, warmup_build: bool = False
    ) -> WorkerProcess:
        # Only a worker warmed ahead of a click does the warm-up build: one spawned
        # for a build already requested goes straight to it.
        return WorkerProcess(
            self.ws,
            self.project_dir,
            self.profiles_dir,
            variables,
            self.python,
            parse=parse,
            warmup_build=warmup_build,
        )

    def _take_worker(self, run_vars: dict[str, Any]) -> WorkerProcess:
        """A worker for a build: a warm one if there is one (one that parsed with the
        build's vars first), else the one warming the longest, else a new one."""
        with self._state:
            usable: list[WorkerProcess] = []
            for worker in self._pool:
                if worker.alive and worker.matches(self.project_dir, self.profiles_dir):
                    usable.append(worker)
                else:
                    self._discard(worker)
            chosen = None
            if usable:
                ready = [worker for worker in usable if worker.ready.is_set()]
                same_vars = [worker for worker in ready if worker.vars == run_vars]
                chosen = (same_vars or ready or usable)[0]
                usable.remove(chosen)
            self._pool = usable
        # A worker re-parses by itself if the vars or files changed since it parsed.
        return chosen if chosen is not None else self._spawn_worker(run_vars)

    @staticmethod
    def _discard(worker: WorkerProcess) -> None:
        worker.kill()
        worker.dispose_log(None)
        shutil.rmtree(worker.work_dir, ignore_errors=True)

    # -- starting builds -------------------------------------------------------------

    def start_build(
        self,
        vars: dict[str, Any] | None = None,
        publish_on_test_failure: bool = False,
        wait: bool = True,
        on_event: EventCallback | None = None,
        unit_tests: bool | None = None,
        keep_published_vars: bool = False,
        reuse: bool = True,
    ) -> int:
        """Start a build in the background and return its id.

        ``keep_published_vars``: start from the vars of the build that is published
        when this one starts (after any wait), with ``vars`` changing or adding some,
        as the app's Rebuild does. Vars the project no longer declares are dropped;
        the record's ``vars_origin`` says what was kept and dropped. An ``as_of_date``
        of ``None``, ``""`` or ``"today"`` means the run date: it is not stored.

        ``unit_tests``: True runs dbt's unit tests, False leaves them out, None (the
        default) runs them unless an earlier build of this workspace ran them, all
        passing, on the same project files and vars. Unit tests check the models'
        SQL against fixed fixture rows, not the data, so their outcome depends only on
        the project and the vars (dbt recommends not re-running them in production
        builds); the record's ``unit_tests`` says which build they passed in.

        ``reuse``: leave out the models, snapshots and tests whose inputs, SQL and vars
        are the same as when the published build made them (``mart.reuse``); their
        results are carried over, marked with the build that ran them. False runs
        every node (``--no-reuse``), the unit tests too unless ``unit_tests`` is False.

        With ``wait`` it first waits for any other build to finish (``on_event`` gets
        a ``{"type": "waiting", "holder": …, "message": …}`` event saying whose);
        without, it raises :class:`BuildBusyError` at once. Progress goes to
        ``on_event`` (called from a background thread) and to the build's events file.
        """
        user_vars = dict(vars or {})
        check_var_names(user_vars, self.project_dir)
        if not reuse and unit_tests is None:
            unit_tests = True  # every node, as dbt build runs them
        lock = BuildLock(self.ws.lock_path)

        def told_to_wait(holder: dict[str, Any] | None) -> None:
            if on_event is not None:
                on_event(
                    {
                        "type": "waiting",
                        "holder": holder,
                        "message": f"waiting for {describe_holder(holder)} to finish",
                    }
                )

        if not lock.acquire(wait=wait, on_wait=told_to_wait):
            raise BuildBusyError(
                f"A build is already running: {describe_holder(BuildLock.holder(lock.path))}. "
                "Wait for it to finish, or cancel it."
            )
        try:
            self._recover_locked()
            inputs = self._inputs(self.ws)
            build_id = self._next_build_id()
            build_dir = self.ws.build_dir(build_id)
            build_dir.mkdir(parents=True)
            started_at = now_iso()
            lock.describe(
                {
                    "pid": os.getpid(),
                    "host": self.host,
                    "build_id": build_id,
                    "started_at": started_at,
                }
            )
            published = self.published()
            user_vars, vars_origin = _merge_vars(
                user_vars,
                published if keep_published_vars else None,
                project_var_names(self.project_dir),
            )
            base, notes = self._base_build(published)
            source_db = Path(base.db_path) if base is not None else None
            record = BuildRecord(
                build_id=build_id,
                status=RUNNING,
                started_at=started_at,
                datasets={
                    item.dataset: {
                        "version": item.version,
                        "rows": item.rows,
                        "path": str(item.path),
                        "source_file": item.source_file,
                    }
                    for item in inputs
                },
                vars=user_vars,
                vars_origin=vars_origin,
                publish_on_test_failure=publish_on_test_failure,
                db_path=str(build_dir / DB_FILE_NAME),
                pid=os.getpid(),
                host=self.host,
            )
            record.notes = notes
            if base is not None:
                record.timings["based_on_build"] = base.build_id
            key = unit_tests_key(self.project_dir, self.profiles_dir, {**ENGINE_VARS, **user_vars})
            passed_in = None if unit_tests else self._unit_tests_passed_in(key)
            record.reuse = {"enabled": bool(reuse)}
            record.unit_tests = {"key": key, "ran": unit_tests is not False and passed_in is None}
            if passed_in is not None:
                record.unit_tests["passed_in_build"] = passed_in.build_id
                record.unit_tests["count"] = passed_in.unit_tests.get("count", 0)
            self._save(record)
            log = EventLog(build_dir / "events.jsonl", build_id)
            first = log.append(
                "build_started",
                datasets=record.datasets,
                vars=user_vars,
                based_on=base.build_id if base is not None else None,
                notes=notes,
            )
        except BaseException:
            lock.release()
            raise
        active = _ActiveBuild(
            build_id=build_id,
            build_dir=build_dir,
            record=record,
            lock=lock,
            log=log,
            run_vars={**ENGINE_VARS, **user_vars},
            inputs=inputs,
            source_db=source_db,
            on_event=on_event,
            started=time.perf_counter(),
        )
        with self._state:
            self._active[build_id] = active
        self._notify(active, first)
        threading.Thread(
            target=self._run, args=(active,), name=f"build-{build_id}", daemon=True
        ).start()
        return build_id

    def request_build(
        self,
        vars: dict[str, Any] | None = None,
        publish_on_test_failure: bool = False,
        wait: bool = True,
        on_event: EventCallback | None = None,
        unit_tests: bool | None = None,
        keep_published_vars: bool = False,
        reuse: bool = True,
    ) -> BuildRecord:
        """Run a build to the end and return its record (see :meth:`start_build`).

        The record's status is ``published``, ``failed`` (``failure`` says whether
        tests failed, dbt did, or the build's process died) or ``cancelled``.
        """
        build_id = self.start_build(
            vars, publish_on_test_failure, wait, on_event, unit_tests, keep_published_vars, reuse
        )
        self.wait(build_id)
        return self.get(build_id)

    def wait(self, build_id: int, timeout: float | None = None) -> BuildRecord:
        """Block until a build of this process has finished; return its record."""
        with self._state:
            active = self._active.get(build_id)
        if active is not None:
            active.done.wait(timeout)
        return self.get(build_id)

    # -- the build thread ------------------------------------------------------------

    def _notify(self, active: _ActiveBuild, event: dict[str, Any]) -> None:
        if active.on_event is not None:
            with contextlib.suppress(Exception):  # a UI callback must not break a build
                active.on_event(event)

    def _run(self, active: _ActiveBuild) -> None:
        result: dict[str, Any] | None = None
        error: str | None = None
        worker: WorkerProcess | None = None
        try:
            worker = self._take_worker(active.run_vars)
            active.worker = worker
            active.record.worker_pid = worker.pid
            self._save(active.record)
            if active.cancel_requested:
                worker.kill()
            else:
                worker.send(self._job(active))
            while True:
                message = worker.messages.get()
                if message is None:
                    break
                kind = message.get("type")
                if kind == "event":
                    self._notify(active, message["event"])
                elif kind == "result":
                    result = message["result"]
                    break
                elif kind == "error":
                    error = message.get("message")
        except Exception as exc:  # the manager's own failure: record it, never hang
            error = f"{type(exc).__name__}: {exc}"
        try:
            try:
                self._finish(active, result, error, worker)
            except Exception as exc:  # a full disk while publishing: say so, free space
                self._finish_failed(active, exc)
        finally:
            # under the build lock: a "publish anyway" landing between a prune's read of
            # the pointer and its deletions lost the file it had just published
            with contextlib.suppress(Exception):
                self.prune(locked=True)
            active.finished.set()
            active.lock.release()
            with self._state:
                self._active.pop(active.build_id, None)
            if worker is not None:
                worker.close_stdin()  # detached: it finishes the docs on its own
                self._reap_later(worker, active.build_dir)
            active.done.set()
            if self.prewarm_after_build:
                with contextlib.suppress(Exception):
                    self.prewarm(active.record.vars)

    def _job(self, active: _ActiveBuild) -> dict[str, Any]:
        return {
            "kind": "build",
            "build_id": active.build_id,
            "build_dir": str(active.build_dir),
            "source_db": str(active.source_db) if active.source_db else None,
            "inputs": [
                {
                    "table": item.table,
                    "dataset": item.dataset,
                    "version": item.version,
                    "path": str(item.path),
                    "source_file": item.source_file,
                }
                for item in active.inputs
            ],
            "vars": active.run_vars,
            "project_dir": str(self.project_dir),
            "profiles_dir": str(self.profiles_dir),
            "publish_on_test_failure": active.record.publish_on_test_failure,
            "docs": self.docs,
            "threads": self.threads or _auto_threads(active.inputs),
            "skip_unit_tests": not active.record.unit_tests.get("ran", True),
            "reuse": active.record.reuse.get("enabled", True),
            "log_level_file": self.log_level_file,
        }

    def _reap_later(self, worker: WorkerProcess, build_dir: Path) -> None:
        def reap() -> None:
            worker.exited.wait()
            worker.dispose_log(build_dir)

        threading.Thread(target=reap, name=f"reap-{worker.pid}", daemon=True).start()

    def _finish(
        self,
        active: _ActiveBuild,
        result: dict[str, Any] | None,
        error: str | None,
        worker: WorkerProcess | None,
    ) -> None:
        """Decide the outcome, publish if it passed, write the record and last event."""
        record = active.record
        cancelled = active.cancel_requested or (active.build_dir / "cancel").exists()
        if result is None:
            # What finished before the build stopped, from its progress events.
            record.nodes, record.tests = _nodes_from_events(
                read_events(active.build_dir / "events.jsonl")
            )
            if cancelled:
                record.status, record.error = CANCELLED, "Cancelled by the user."
            else:
                detail = error
                if worker is not None and not detail:
                    worker.exited.wait(5)
                    code = worker.popen.returncode
                    tail = worker.stderr_tail(600)
                    detail = f"the build worker stopped unexpectedly (exit code {code})"
                    if tail:
                        detail += f": …{tail[-400:]}"
                record.status = FAILED
                record.failure = INTERRUPTED if error is None else "error"
                record.error = detail or "the build stopped unexpectedly"
        else:
            record.nodes = result.get("nodes") or []
            record.tests = result.get("tests") or _empty_tests()
            record.failing_tests = result.get("failing_tests") or []
            record.timings.update(
                {key: round(value, 4) for key, value in (result.get("timings") or {}).items()}
            )
            record.dbt_speedups = list(result.get("dbt_speedups") or [])
            record.completed = list(result.get("completed") or [])
            if result.get("reused"):
                record.reuse.update(result["reused"])
            if result.get("bronze_rows") is not None:
                record.bronze = {
                    "rows": result.get("bronze_rows") or {},
                    "reused": result.get("bronze_reused") or [],
                }
            if record.unit_tests.get("ran"):
                units = [node for node in record.nodes if node.get("resource_type") == "unit_test"]
                record.unit_tests["count"] = len(units)
                record.unit_tests["passed"] = bool(units) and all(
                    node.get("status") == "pass" for node in units
                )
            if not result.get("ok") or result.get("errored_nodes"):
                record.status, record.failure = FAILED, "error"
                record.error = result.get("error") or "dbt build failed"
            elif result.get("tests_failed") and not record.publish_on_test_failure:
                record.status, record.failure = FAILED, "tests"
                names = [item["name"] for item in record.failing_tests if item["status"] != "warn"]
                hints = [self._as_of_hint(record), failure_advice(names)]
                record.hint = " ".join(hint for hint in hints if hint) or None
                record.error = (
                    f"{len(names)} error-severity test(s) failed: {', '.join(names[:5])}"
                    + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                    + "."
                    + (f" {record.hint}" if record.hint else "")
                    # with no build published yet there is no previous one to keep
                    + (STAYS_PUBLISHED if self.published_db_path() is not None else NONE_PUBLISHED)
                )
            else:
                if result.get("tests_failed"):
                    record.failure = "tests"
                    record.published_anyway = True
                record.status = PUBLISHED
        record.finished_at = now_iso()
        record.duration_s = round(time.perf_counter() - active.started, 3)
        if record.status == PUBLISHED:
            record.published_at = record.finished_at
            record.replaced = self._current_id()
            # The record first, still "running": a published pointer always has a
            # record, and a record never says published when the pointer does not name
            # it (killed between the two writes, recovery looks at the pointer).
            self._save(dataclasses.replace(record, status=RUNNING))
            atomic_write_text(self.current_pointer, f"{record.build_id}\n")
            self._save(record)
        else:
            self._save(record)
        self._log_finished(active)

    def _log_finished(self, active: _ActiveBuild) -> None:
        """The build's last event, from its record, to the log and the listener."""
        record = active.record
        # A fresh log object: the worker appended since ours counted the lines.
        event = EventLog(active.build_dir / "events.jsonl", active.build_id).append(
            "build_finished",
            status=record.status,
            duration_s=record.duration_s,
            tests=record.tests,
            failure=record.failure,
            error=record.error,
            published=record.status == PUBLISHED,
        )
        self._notify(active, event)

    def _finish_failed(self, active: _ActiveBuild, exc: Exception) -> None:
        """The build's end could not be written (a full disk, a read-only folder): the
        build is failed with the system's reason, and its own mart file, which nothing
        can use now, is deleted to give the space back. (The thread died with a
        traceback, the record said "running", and a later recovery called it
        "interrupted".) A build the pointer already names stays published."""
        record = active.record
        if isinstance(exc, OSError):
            reason = (exc.strerror or str(exc)) + (f": {exc.filename}" if exc.filename else "")
        else:
            reason = f"{type(exc).__name__}: {exc}"
        if self._current_id() == record.build_id:
            record.status = PUBLISHED
        else:
            for name in (DB_FILE_NAME, DB_FILE_NAME + ".wal"):
                with contextlib.suppress(OSError):
                    (active.build_dir / name).unlink(missing_ok=True)
            record.status, record.failure = FAILED, "error"
            record.error = f"The build could not be finished ({reason})." + (
                STAYS_PUBLISHED
                if self.published_db_path() is not None
                else " Nothing is published yet."
            )
            record.files_pruned = True
        record.finished_at = record.finished_at or now_iso()
        record.duration_s = round(time.perf_counter() - active.started, 3)
        with contextlib.suppress(Exception):
            self._save(record)
        with contextlib.suppress(Exception):
            self._log_finished(active)

    def _as_of_hint(self, record: BuildRecord) -> str | None:
        """When not_after_as_of_date tests failed because the as_of_date var is before
        the data (typically kept from the published build after new data came in): say
        so, with the date to rebuild as of. None for other failures, or when the as-of
        date is the run date (the data then has dates in the future)."""
        names = [item["name"] for item in record.failing_tests if item.get("status") != "warn"]
        if not any(name.startswith("not_after_as_of_date") for name in names):
            return None
        from datetime import date

        from mart import datasets

        versions = {
            name: int(item["version"])
            for name, item in record.datasets.items()
            if item and item.get("version")
        }
        try:
            run_day = date.fromisoformat(record.started_at[:10])
            latest = datasets.latest_activity(self.ws, versions)
        except (ValueError, MartError):  # a hint is optional; the failure stands
            return None
        if latest is not None and latest > run_day:
            # Not a date left behind: records dated after the day the build ran.
            return (
                f"The data has records dated after the day the build ran ({run_day}), up "
                f"to {latest}: dates in the future, which the not_after_as_of_date tests "
                "are there to catch. Correct or remove those records (the failing rows "
                "are listed with the tests); a later as-of date would only hide them."
            )
        behind = as_of_behind(self.ws, record.vars, versions, today=run_day)
        if behind is None:
            return None
        as_of, latest = behind
        source = record.vars_origin.get("from_build")
        kept = source is not None and "as_of_date" in (record.vars_origin.get("kept") or [])
        where = f"kept from build #{source}" if kept else "set for this build"
        fits = as_of_that_fits(latest, run_day).isoformat()
        return (
            f"The as-of date {as_of} ({where}) is before the data's latest activity, "
            f"{latest.isoformat()}. Rebuild as of {fits} or later (Overview: Change the "
            f"as-of date; command line: build --var as_of_date={fits}), or as of the day "
            "the build runs (--var as_of_date=today)."
        )

    # -- cancel ----------------------------------------------------------------------

    def cancel(self, build_id: int) -> bool:
        """Stop a running build now (kill its worker); it ends ``cancelled``.

        Works for builds started by other processes on this machine too. Returns
        False if the build is not running (any more).
        """
        with self._state:
            active = self._active.get(build_id)
        if active is not None:
            if active.finished.is_set():
                return False
            active.cancel_requested = True
            (active.build_dir / "cancel").touch()
            if active.worker is not None:
                active.worker.kill()
            return True
        record = self._load(build_id)
        if record is None or record.status != RUNNING or record.host != self.host:
            return False
        (self.ws.build_dir(build_id) / "cancel").touch()
        if _is_our_worker(record.worker_pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(record.worker_pid or 0), signal.SIGKILL)
            return True
        return False

    # -- publishing ------------------------------------------------------------------

    def publish(self, build_id: int, wait: bool = True) -> BuildRecord:
        """Publish an existing build (e.g. "publish anyway" after failed tests).

        Only a build whose mart was built (status ``published``, or ``failed`` because
        tests failed) whose files were not pruned can be published. Docs are generated
        in the background if that build has none yet.
        """
        lock = BuildLock(self.ws.lock_path)
        if not lock.acquire(wait=wait):
            raise BuildBusyError(
                f"A build is running: {describe_holder(BuildLock.holder(lock.path))}. "
                "Publish when it has finished."
            )
        try:
            record = self.get(build_id)
            if record.status not in (PUBLISHED, FAILED) or (
                record.status == FAILED and record.failure != "tests"
            ):
                raise InputError(
                    f"Build {build_id} is {record.status}"
                    + (" (dbt failed)" if record.failure == "error" else "")
                    + ": only a build whose models were all built can be published."
                )
            if record.files_pruned or not Path(record.db_path).exists():
                raise InputError(
                    f"Build {build_id}'s files were pruned; rebuild instead of publishing it."
                )
            if record.status == FAILED:
                _mark_published_anyway(record)
            live = self._current_id()
            if live != build_id:
                record.replaced = live
            record.published_at = now_iso()
            # The pointer first: killed between the two writes, the pointer names a
            # build whose tests failed, and recovery finishes the publish from there.
            atomic_write_text(self.current_pointer, f"{build_id}\n")
            self._save(record)
            EventLog(record.build_dir / "events.jsonl", build_id).append(
                "published", anyway=record.published_anyway
            )
        finally:
            lock.release()
        if self.docs and not self._docs_ready(record.build_dir):
            self.generate_docs(build_id)
        return self.get(build_id)

    def generate_docs(self, build_id: int) -> None:
        """Generate the static docs of a build in a background worker process."""
        record = self.get(build_id)
        status = read_json(record.build_dir / "docs.json", default={}) or {}
        if status.get("status") == "running" and _pid_alive(status.get("pid")):
            return
        worker = self._spawn_worker({**ENGINE_VARS, **record.vars}, parse=False)
        worker.send(
            {
                "kind": "docs",
                "build_id": build_id,
                "build_dir": str(record.build_dir),
                "vars": {**ENGINE_VARS, **record.vars},
                "project_dir": str(self.project_dir),
                "profiles_dir": str(self.profiles_dir),
            }
        )
        worker.close_stdin()
        self._reap_later(worker, record.build_dir)

    # -- reading state -----------------------------------------------------------------

    def _unit_tests_passed_in(self, key: str) -> BuildRecord | None:
        """The latest build whose unit tests ran and all passed with ``key``, if any."""
        for record in self.history():  # newest first
            done = record.unit_tests
            if done.get("key") == key and done.get("ran") and done.get("passed"):
                return record
        return None

    def _load(self, build_id: int) -> BuildRecord | None:
        path = self._record_path(build_id)
        try:
            data = read_json(path)
            if data is not None and not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
            if not data:
                return None
            record = BuildRecord.from_dict(data)
            if not isinstance(record.build_id, int) or record.status not in (
                *STATUSES,
                INTERRUPTED,
            ):
                raise ValueError(f"build_id {record.build_id!r}, status {record.status!r}")
        except (OSError, ValueError, TypeError) as exc:
            # one damaged record (a half-copied workspace, a full disk) made status,
            # every build and the app's pages fail with only "Expecting ',' delimiter"
            record = self._damaged_record(build_id, path, exc)
        # The file's place is this workspace's, whatever the record says: a workspace
        # copied or moved keeps the old absolute path in its records, and a build in the
        # copy would have started from, and pruned, the original's files.
        record.db_path = str(self.ws.build_dir(build_id) / DB_FILE_NAME)
        record.is_current = self._current_id() == build_id
        record.docs_ready = self._docs_ready(record.build_dir)
        return record

    def _base_build(self, published: BuildRecord | None) -> tuple[BuildRecord | None, list[str]]:
        """The build whose file the next build starts from, and notes on why it is not
        the published one: the published build unless its file is gone or damaged (cut
        short: a half-copied workspace, a full disk), else the latest earlier build that
        was published and whose file is whole (keeping its snapshot history), else none.
        A damaged file was copied, its unchanged nodes reused, and the build published
        as passing with unreadable tables; every build after it failed."""
        notes: list[str] = []
        if published is not None:
            problem = damaged_file(Path(published.db_path))
            if problem is None:
                return published, notes
            notes.append(f"The published build {published.build_id}'s file {problem}.")
        earlier = [
            record
            for record in self.history()
            if record.status == PUBLISHED
            and not record.files_pruned
            and (published is None or record.build_id != published.build_id)
        ]
        if published is None:
            if not earlier:
                return None, notes  # the first build: nothing to start from
            pointer, named = self.current_pointer, self._current_id()
            notes.append(
                f"{pointer} is missing"
                if not pointer.exists()
                else f"{pointer} names no build"
                if named is None
                else f"{pointer} names build {named}, which has no record"
            )
            notes[-1] += ": it was read as nothing published."
        for record in earlier:
            if damaged_file(Path(record.db_path)) is None:
                notes.append(
                    f"This build starts from build {record.build_id}'s file, the latest "
                    "published one that is whole."
                )
                return record, notes
        notes.append("This build starts from an empty file: snapshot history starts again.")
        return None, notes

    def _damaged_record(self, build_id: int, path: Path, exc: Exception) -> BuildRecord:
        """A stand-in for a record that cannot be read: published if the pointer names
        the build (its file may be fine), else failed; its error names the file."""
        try:
            when = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(path.stat().st_mtime))
        except OSError:
            when = now_iso()
        published = self._current_id() == build_id
        return BuildRecord(
            build_id=build_id,
            status=PUBLISHED if published else FAILED,
            started_at=when,
            finished_at=when,
            failure=None if published else "error",
            error=(
                f"The record of build {build_id} ({path}) cannot be read "
                f"({type(exc).__name__}: {exc}): its details (vars, dataset versions, test "
                "results) are lost."
            ),
        )

    def _save(self, record: BuildRecord) -> None:
        atomic_write_json(self._record_path(record.build_id), record.to_dict())

    @staticmethod
    def _docs_ready(build_dir: Path) -> bool:
        return (build_dir / "target" / "static_index.html").exists()

    def _current_id(self) -> int | None:
        try:
            text = self.current_pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def _build_ids(self) -> list[int]:
        if not self.ws.builds_dir.is_dir():
            return []
        return sorted(
            int(entry.name)
            for entry in self.ws.builds_dir.iterdir()
            if entry.name.isdigit() and entry.is_dir()
        )

    def _next_build_id(self) -> int:
        ids = self._build_ids()
        return (ids[-1] + 1) if ids else 1

    def _latest_record(self) -> BuildRecord | None:
        for build_id in reversed(self._build_ids()):
            record = self._load(build_id)
            if record is not None:
                return record
        return None

    def get(self, build_id: int) -> BuildRecord:
        """The record of build ``build_id``; NotFoundError if there is none."""
        record = self._load(int(build_id))
        if record is None:
            raise NotFoundError(f"There is no build {build_id}.")
        return record

    def history(self) -> list[BuildRecord]:
        """Every build's record, newest first."""
        records = (self._load(build_id) for build_id in reversed(self._build_ids()))
        return [record for record in records if record is not None]

    def published(self) -> BuildRecord | None:
        """The published build, or None before the first successful build."""
        build_id = self._current_id()
        return self._load(build_id) if build_id is not None else None

    def published_db_path(self) -> Path | None:
        """The DuckDB file readers should open (read-only), or None if none is published."""
        record = self.published()
        if record is None:
            return None
        path = Path(record.db_path)
        return path if path.exists() else None

    def running_build(self) -> BuildRecord | None:
        """The build running now (in any process), or None."""
        with self._state:
            active_ids = sorted(self._active)
        if active_ids:
            return self._load(active_ids[-1])
        for build_id in reversed(self._build_ids()[-3:]):
            record = self._load(build_id)
            if record is not None and record.status == RUNNING and self._alive_elsewhere(record):
                return record
        return None

    def current_build(self) -> BuildRecord | None:
        """The build a UI should show now: the running one, else the latest one.

        A latest record still saying *running* whose process is gone (a command-line
        build killed while the app was open) is marked interrupted first: the Build
        page showed it running until the app restarted, while the sidebar did not."""
        running = self.running_build()
        if running is not None:
            return running
        latest = self._latest_record()
        # (not a record of this process: one of its builds saves its record before it
        # counts as active, and must not be called interrupted in between)
        if latest is not None and latest.status == RUNNING and latest.pid != os.getpid():
            with contextlib.suppress(OSError):  # a read-only workspace: leave it
                if self.recover():
                    latest = self._latest_record()
        return latest

    def events(self, build_id: int, since: int = 0) -> list[dict[str, Any]]:
        """The build's progress events from ``seq`` ``since`` on (poll with the last seq+1)."""
        return read_events(self.ws.build_dir(int(build_id)) / "events.jsonl", since)

    def status(self) -> dict[str, Any]:
        """The workspace summary behind ``python -m mart status --json``."""
        datasets: dict[str, Any] = {}
        try:
            inputs = {item.dataset: item for item in self._inputs(self.ws)}
        except MartError:
            inputs = {}
        except Exception:
            inputs = {}
        for dataset in BRONZE_TABLES:
            item = inputs.get(dataset)
            datasets[dataset] = (
                {"version": item.version, "rows": item.rows} if item is not None else None
            )
        published = self.published()
        latest = self.current_build()
        return {
            "datasets": datasets,
            "published": None
            if published is None
            else {
                "build_id": published.build_id,
                "path": published.db_path,
                "finished_at": published.finished_at,
                "published_at": published.published_at,
                "tests": published.tests,
                "vars": published.vars,
                "published_anyway": published.published_anyway,
                "reused_nodes": len(published.reused_nodes),
            },
            "last_build": None
            if latest is None
            else {
                "build_id": latest.build_id,
                "status": latest.status,
                # why a failed build failed: "tests", "error" or "interrupted"
                "failure": latest.failure,
                "duration_s": latest.duration_s,
                "tests": latest.tests,
                "vars": latest.vars,
                "reused_nodes": len(latest.reused_nodes),
            },
        }

    # -- recovery and pruning ------------------------------------------------------------

    def _alive_elsewhere(self, record: BuildRecord) -> bool:
        """Whether the process that runs ``record`` may still be alive."""
        if record.host and record.host != self.host:
            return True  # cannot tell; the lock decides
        if record.pid == os.getpid():
            with self._state:
                return record.build_id in self._active
        return _pid_alive(record.pid)

    def recover(self) -> list[int]:
        """Mark builds left ``running`` by a dead process as failed (``interrupted``).

        What finished before the process died is kept, from the build's progress
        events; a build killed after the pointer named it (while publishing) is
        published.

        Call it at app start (builds call it too). If no one holds the build lock,
        every ``running`` record is stale; otherwise only those whose process is gone.
        Also clears the stale holder info and leftovers of dead workers. Returns the
        ids it marked.
        """
        lock = BuildLock(self.ws.lock_path)
        got = lock.try_acquire()
        try:
            return self._recover_locked(all_stale=got)
        finally:
            if got:
                lock.release()

    def _recover_locked(self, all_stale: bool = True) -> list[int]:
        marked = []
        with self._state:
            active = set(self._active)
        live = self._current_id()
        if all_stale and live is not None:
            record = self._load(live)
            if record is not None and record.status == FAILED and record.failure == "tests":
                # Killed while publishing it anyway, between the pointer and the record:
                # finished as publish() would have (its time, the build it replaced, no
                # "The previous build stays published." left in its error)
                _mark_published_anyway(record)
                try:
                    moved = self.current_pointer.stat().st_mtime
                    record.published_at = time.strftime(
                        "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(moved)
                    )
                except OSError:
                    record.published_at = now_iso()
                before = [
                    other
                    for other in self.history()
                    if other.build_id != live
                    and other.published_at
                    and other.published_at <= record.published_at
                ]
                if before:
                    latest = max(before, key=lambda other: other.published_at or "")
                    record.replaced = latest.build_id
                self._save(record)
                marked.append(live)
        for build_id in self._build_ids():
            if build_id in active:
                continue
            record = self._load(build_id)
            if record is None:
                # A directory without a record: a crash between mkdir and the first
                # write. Give it a record so the id is never reused ambiguously.
                if all_stale:
                    self._save(
                        BuildRecord(
                            build_id=build_id,
                            status=FAILED,
                            started_at=now_iso(),
                            finished_at=now_iso(),
                            error="Interrupted before it started.",
                            failure=INTERRUPTED,
                            db_path=str(self.ws.build_dir(build_id) / DB_FILE_NAME),
                        )
                    )
                    marked.append(build_id)
                continue
            self._recover_docs(record)
            if record.status != RUNNING:
                continue
            if not all_stale and self._alive_elsewhere(record):
                continue
            if _is_our_worker(record.worker_pid):  # an orphan: it must not write on
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(record.worker_pid or 0), signal.SIGKILL)
            if self._current_id() == build_id and record.published_at:
                # Killed between naming it live and saving the record: it is published.
                record.status = PUBLISHED
                self._save(record)
                marked.append(build_id)
                continue
            if not record.nodes:
                record.nodes, record.tests = _nodes_from_events(
                    read_events(record.build_dir / "events.jsonl")
                )
            cancelled = (record.build_dir / "cancel").exists()
            record.status = CANCELLED if cancelled else FAILED
            record.failure = None if cancelled else INTERRUPTED
            record.error = (
                "Cancelled by the user."
                if cancelled
                else "Interrupted: the build's process stopped before it finished "
                "(killed, crashed or powered off). The published mart is unchanged."
            )
            record.finished_at = record.finished_at or now_iso()
            self._save(record)
            with contextlib.suppress(OSError):
                EventLog(record.build_dir / "events.jsonl", build_id).append(
                    "build_finished",
                    status=record.status,
                    duration_s=None,
                    tests=record.tests,
                    failure=record.failure,
                    error=record.error,
                    published=False,
                )
            marked.append(build_id)
        self._clean_workers()
        return marked

    def _recover_docs(self, record: BuildRecord) -> None:
        path = record.build_dir / "docs.json"
        status = read_json(path, default=None)
        if status and status.get("status") == "running" and not _pid_alive(status.get("pid")):
            atomic_write_json(path, {"status": "failed", "error": "interrupted"})
            shutil.rmtree(record.build_dir / ".docs", ignore_errors=True)

    def _clean_workers(self) -> None:
        """Remove scratch dirs and logs of workers whose manager process is gone."""
        workers = self.ws.root / "workers"
        if not workers.is_dir():
            return
        for entry in workers.iterdir():
            owner = entry.name.split("-", 1)[0]
            if owner.isdigit() and not _pid_alive(int(owner)):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def prune(self, locked: bool = False) -> list[int]:
        """Delete the files of all but the last ``keep`` builds (never the published one,
        nor the build the Overview compares it with: the one it replaced).

        Records and events stay; ``files_pruned`` is set. Returns the pruned ids. Runs
        under the build lock, which publishing takes too (``locked``: the caller holds
        it); when another process holds it, nothing is pruned now (its build prunes when
        it ends).
        """
        if not locked:
            lock = BuildLock(self.ws.lock_path)
            if not lock.try_acquire():
                return []
            try:
                return self.prune(locked=True)
            finally:
                lock.release()
        ids = self._build_ids()
        keep = set(ids[-self.keep :])
        current = self._current_id()
        if current is not None:
            keep.add(current)
            live = self._load(current)
            before = live.replaced if live is not None else None
            if before is None:  # a record from before `replaced` was stored
                before = next(
                    (
                        build_id
                        for build_id in reversed(ids)
                        if build_id < current
                        and (earlier := self._load(build_id)) is not None
                        and earlier.status == PUBLISHED
                    ),
                    None,
                )
            if before is not None:
                keep.add(before)
        with self._state:
            keep |= set(self._active)
        pruned = []
        for build_id in ids:
            if build_id in keep:
                continue
            record = self._load(build_id)
            if record is None or record.status == RUNNING or record.files_pruned:
                continue
            build_dir = record.build_dir
            # The app may hold a cached read connection (mart.db) to this file.
            from mart import db

            db.close_path(build_dir / DB_FILE_NAME)
            for name in (DB_FILE_NAME, DB_FILE_NAME + ".wal"):
                (build_dir / name).unlink(missing_ok=True)
            for name in ("target", "logs", ".docs"):
                shutil.rmtree(build_dir / name, ignore_errors=True)
            record.files_pruned = True
            self._save(record)
            pruned.append(build_id)
        return pruned

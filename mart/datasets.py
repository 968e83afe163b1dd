"""Dataset versions: immutable raw-record versions of ``transactions`` and ``events``.

Each dataset is an ordered list of versions plus a HEAD (``mart.workspace`` has the
layout). Nothing is ever overwritten: loading a file, editing rows, generating data,
resetting to the sample and restoring an old version each write a new version; undo
moves HEAD back to its parent (the undone version stays listed and restorable). Every
HEAD move is also appended to ``datasets/<dataset>/log.jsonl``.

Stored record format (a contract the build engine depends on): each
``versions/<NNNNNN>.parquet`` has exactly two columns, ``record_number BIGINT``
(1-based; a record keeps its number across versions, so edits of a filtered subset
are keyed by it; new rows get numbers after the largest) and ``raw_data VARCHAR``, one
JSON object per record with the canonical fields (``mart.loading`` documents them)
plus any extra columns. Ids, customer_id, product_category and event_type are JSON
strings; ``transaction_date`` is "YYYY-MM-DD"; ``event_timestamp`` is
"YYYY-MM-DDTHH:MM:SS[.ffffff]"; ``amount`` is a JSON number with its exact decimal
text; a missing value is JSON null.

Concurrency: a version's file is written under a private temporary name; its id is
chosen, and HEAD changed, under a per-dataset lock file, so two processes never write
the same id and ids follow the order versions became HEAD; and an edit or append
based on a version that is no longer HEAD is refused with ``ConflictError`` instead of
silently dropping the other change.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mart.errors import ConflictError, InputError, NotFoundError
from mart.loading import (
    ACCOUNTING_ZERO,
    CONTROL_CHARS,
    DATASETS,
    DIRECTION_CONTROLS_RE,
    FIELDS,
    ID_FIELD,
    ID_FIELDS,
    ID_PREFIX,
    ID_VARIANTS,
    NULL_WORDS,
    REQUIRED,
    TIME_FIELD,
    LoadRefusedError,
    Problem,
    ValidationReport,
    check_dataset,
    connect,
    validate_file,
)
from mart.workspace import SAMPLE_DATA_DIR, Workspace, atomic_write_json, atomic_write_text

__all__ = [
    "DATASETS",
    "Version",
    "VersionDiff",
    "LoadResult",
    "head",
    "get_version",
    "version_path",
    "list_versions",
    "create_version",
    "undo",
    "restore",
    "diff",
    "reset_to_sample",
    "load_file",
    "check_file",
    "apply_edits",
    "read_records",
    "count_records",
    "latest_activity",
    "existing_records",
    "Rebased",
    "rebase_edits",
]

ID_WIDTH = 6
SAMPLE_FILES = {name: SAMPLE_DATA_DIR / f"{name}.jsonl" for name in DATASETS}


@dataclass(frozen=True)
class Version:
    """One immutable version of a dataset, as its metadata file describes it."""

    dataset: str
    id: int
    created_at: str
    message: str
    row_count: int
    parent: int | None
    kind: str
    source: str | None = None
    restored_from: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.dataset} v{self.id}"


@dataclass(frozen=True)
class VersionDiff:
    """How version ``b`` differs from version ``a``, matching records by their id."""

    dataset: str
    a: int
    b: int
    key: str
    added: int
    removed: int
    changed: int
    unchanged: int
    added_keys: list[str]
    removed_keys: list[str]
    changed_keys: list[str]
    #: added records whose id version ``a`` already has (an append of rows already in
    #: the dataset), and removed ones whose id version ``b`` still has (a duplicate gone)
    added_repeats: int = 0
    removed_repeats: int = 0

    def counts_text(self) -> str:
        """``added 5 (5 with an id v2 already has), removed 0, changed 1, unchanged 8``."""

        def repeats(count: int, version: int, verb: str) -> str:
            return f" ({count:,} with an id v{version} {verb})" if count else ""

        return (
            f"added {self.added:,}{repeats(self.added_repeats, self.a, 'already has')}, "
            f"removed {self.removed:,}{repeats(self.removed_repeats, self.b, 'still has')}, "
            f"changed {self.changed:,}, unchanged {self.unchanged:,}"
        )

    def examples(self) -> list[tuple[str, list[str], int]]:
        """(what, example ids, how many in all) for added, removed and changed records
        that have examples."""
        return [
            (what, keys, total)
            for what, keys, total in (
                ("added", self.added_keys, self.added),
                ("removed", self.removed_keys, self.removed),
                ("changed", self.changed_keys, self.changed),
            )
            if keys
        ]

    def to_text(self) -> str:
        lines = [
            f"{self.dataset}: v{self.a} -> v{self.b} (matched by {self.key})",
            f"  {self.counts_text()}",
        ]
        for what, keys, total in self.examples():
            more = f", ... ({total - len(keys)} more)" if total > len(keys) else ""
            lines.append(f"  {what}: {', '.join(keys)}{more}")
        return "\n".join(lines)


@dataclass(frozen=True)
class LoadResult:
    """The version a load created and the validation report of its file."""

    version: Version
    report: ValidationReport


# --------------------------------------------------------------------------- paths


def _versions_dir(ws: Workspace, dataset: str) -> Path:
    return ws.dataset_dir(dataset) / "versions"


def version_path(ws: Workspace, dataset: str, version_id: int) -> Path:
    """The parquet file of a version (whether or not it exists)."""
    check_dataset(dataset)
    return _versions_dir(ws, dataset) / f"{int(version_id):0{ID_WIDTH}d}.parquet"


def _meta_path(ws: Workspace, dataset: str, version_id: int) -> Path:
    return _versions_dir(ws, dataset) / f"{int(version_id):0{ID_WIDTH}d}.json"


def _head_path(ws: Workspace, dataset: str) -> Path:
    return ws.dataset_dir(dataset) / "HEAD"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- locking


@contextlib.contextmanager
def _dataset_lock(ws: Workspace, dataset: str, timeout: float = 60.0) -> Iterator[None]:
    """Hold the dataset's lock file (across processes) while HEAD is read and changed."""
    path = ws.dataset_dir(dataset) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: an exclusive-create lock file with a stale timeout
        fcntl = None  # type: ignore[assignment]
    if fcntl is not None:
        with path.open("a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise InputError(
                            f"The {dataset} dataset is busy (another change is being saved);"
                            " try again in a moment."
                        ) from None
                    time.sleep(0.02)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return
    marker = path.with_suffix(".lockfile")
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - marker.stat().st_mtime > timeout:
                    marker.unlink()
                    continue
            if time.monotonic() > deadline:
                raise InputError(f"The {dataset} dataset is busy; try again.") from None
            time.sleep(0.02)
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


# --------------------------------------------------------------------------- metadata


def _version_ids(ws: Workspace, dataset: str) -> list[int]:
    """Ids of complete versions (those with a metadata file), ascending."""
    directory = _versions_dir(ws, dataset)
    if not directory.is_dir():
        return []
    return sorted(int(p.stem) for p in directory.glob("*.json") if re.fullmatch(r"\d+", p.stem))


def _read_meta(ws: Workspace, dataset: str, version_id: int) -> Version:
    path = _meta_path(ws, dataset, version_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(str(i) for i in _version_ids(ws, dataset)) or "none"
        raise NotFoundError(f"{dataset} has no version {version_id} (versions: {known}).") from None
    return Version(
        dataset=dataset,
        id=int(data["id"]),
        created_at=data["created_at"],
        message=data.get("message", ""),
        row_count=int(data["row_count"]),
        parent=data.get("parent"),
        kind=data.get("kind", ""),
        source=data.get("source"),
        restored_from=data.get("restored_from"),
        summary=data.get("summary") or {},
    )


def _read_head_id(ws: Workspace, dataset: str) -> int | None:
    try:
        text = _head_path(ws, dataset).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _set_head(ws: Workspace, dataset: str, version_id: int, action: str) -> None:
    """Point HEAD at ``version_id`` and log the move (caller holds the lock)."""
    previous = _read_head_id(ws, dataset)
    atomic_write_text(_head_path(ws, dataset), f"{version_id}\n")
    entry = {"at": _now(), "action": action, "from": previous, "to": version_id}
    with (ws.dataset_dir(dataset) / "log.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def _next_id(ws: Workspace, dataset: str) -> int:
    """The next version id: one more than any id on disk. Call it under the dataset lock.

    Claim files (``N.claim``) of older releases, which a crashed process may have left,
    count as taken.
    """
    directory = _versions_dir(ws, dataset)
    taken = [
        int(match.group(1))
        for p in directory.iterdir()
        if (match := re.fullmatch(r"(\d+)\.(json|parquet|claim)", p.name))
    ]
    return max(taken, default=0) + 1


def create_version(
    ws: Workspace,
    dataset: str,
    write: Callable[[Path], None],
    *,
    message: str,
    kind: str,
    source: str | None = None,
    expected_head: int | None = None,
    restored_from: int | None = None,
    summary: Mapping[str, Any] | None = None,
) -> Version:
    """Write a new version with ``write(path)`` and make it HEAD.

    ``write`` must create a parquet file at ``path`` with ``record_number`` and
    ``raw_data``. With ``expected_head``, the version is only committed if HEAD is still
    that version; otherwise ``ConflictError`` and nothing changes.
    """
    check_dataset(dataset)
    directory = _versions_dir(ws, dataset)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".new-{os.getpid()}-{uuid.uuid4().hex}.parquet.tmp"
    try:
        write(tmp)
        row_count = pq.ParquetFile(tmp).metadata.num_rows
        with _dataset_lock(ws, dataset):
            current = _read_head_id(ws, dataset)
            if expected_head is not None and current != expected_head:
                raise _conflict(ws, dataset, expected_head, current)
            # The id is chosen here, under the lock, so ids follow the order in which
            # versions became HEAD: the newest version is always the highest id.
            version_id = _next_id(ws, dataset)
            os.replace(tmp, version_path(ws, dataset, version_id))
            meta = {
                "id": version_id,
                "dataset": dataset,
                "created_at": _now(),
                "message": message,
                "row_count": row_count,
                "parent": current,
                "kind": kind,
                "source": source,
                "restored_from": restored_from,
                "summary": dict(summary or {}),
            }
            atomic_write_json(_meta_path(ws, dataset, version_id), meta)
            _set_head(ws, dataset, version_id, kind)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_meta(ws, dataset, version_id)


def _conflict(ws: Workspace, dataset: str, base: int, current: int | None) -> ConflictError:
    now = f"version {current}" if current is not None else "missing"
    detail = ""
    if current is not None:
        with contextlib.suppress(NotFoundError):
            meta = _read_meta(ws, dataset, current)
            detail = f" ({meta.message!r}, {meta.created_at})"
    return ConflictError(
        f"{dataset} changed since you opened it: your change was based on version {base}, "
        f"but HEAD is now {now}{detail}. Nothing was saved; reload the data and apply "
        "your change again."
    )


# --------------------------------------------------------------------------- seeding


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    table = pa.table(
        {
            "record_number": pa.array(range(1, len(lines) + 1), pa.int64()),
            "raw_data": pa.array(lines, pa.string()),
        }
    )
    pq.write_table(table, path)


def _sample_lines(dataset: str) -> list[str]:
    text = SAMPLE_FILES[dataset].read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _ensure_seeded(ws: Workspace, dataset: str) -> int:
    """HEAD's id, seeding version 1 from the bundled sample on first use."""
    check_dataset(dataset)
    current = _read_head_id(ws, dataset)
    if current is not None:
        return current
    with _dataset_lock(ws, dataset):
        current = _read_head_id(ws, dataset)
        if current is not None:
            return current
        existing = _version_ids(ws, dataset)
        if existing:  # HEAD lost (crash between writes): the newest version is HEAD
            _set_head(ws, dataset, existing[-1], "recover")
            return existing[-1]
    lines = _sample_lines(dataset)
    version = create_version(
        ws,
        dataset,
        lambda path: _write_lines(path, lines),
        message="Bundled sample data",
        kind="seed",
        source=SAMPLE_FILES[dataset].name,
    )
    # Two first uses at once may both seed: the later one is a second, equal version.
    return _read_head_id(ws, dataset) or version.id


# --------------------------------------------------------------------------- history


def head(ws: Workspace, dataset: str) -> Version:
    """The current version of ``dataset`` (version 1 is seeded from data/ on first use)."""
    return _read_meta(ws, dataset, _ensure_seeded(ws, dataset))


def get_version(ws: Workspace, dataset: str, version_id: int) -> Version:
    """One version's metadata; ``NotFoundError`` when it does not exist."""
    _ensure_seeded(ws, dataset)
    return _read_meta(ws, dataset, int(version_id))


def list_versions(ws: Workspace, dataset: str) -> list[Version]:
    """Every version of ``dataset``, oldest first."""
    _ensure_seeded(ws, dataset)
    return [_read_meta(ws, dataset, i) for i in _version_ids(ws, dataset)]


def undo(ws: Workspace, dataset: str) -> Version:
    """Move HEAD back to its parent and return the new HEAD (nothing is deleted)."""
    _ensure_seeded(ws, dataset)
    with _dataset_lock(ws, dataset):
        current = _read_meta(ws, dataset, _read_head_id(ws, dataset))
        if current.parent is None:
            raise InputError(f"Nothing to undo: {dataset} v{current.id} is the first version.")
        _set_head(ws, dataset, current.parent, "undo")
        return _read_meta(ws, dataset, current.parent)


#: Version kinds written to both datasets by one action (Generate, Reset to the sample).
PAIRED_KINDS = ("generate", "reset")


def paired_head(ws: Workspace, dataset: str, undone: Version) -> Version | None:
    """After undoing ``undone`` (a version of ``dataset``): the other dataset's HEAD, when
    it came from the same Generate or Reset (same kind and message, saved within a
    minute) and so still holds that action's data; else None."""
    if undone.kind not in PAIRED_KINDS:
        return None
    other = next(name for name in DATASETS if name != dataset)
    try:
        current = head(ws, other)
    except NotFoundError:
        return None
    if current.kind != undone.kind or current.message != undone.message:
        return None
    try:
        apart = abs(
            datetime.fromisoformat(current.created_at) - datetime.fromisoformat(undone.created_at)
        )
    except ValueError:
        return None
    return current if apart.total_seconds() <= 60 else None


def pairing_note(ws: Workspace, dataset: str, undone: Version) -> str | None:
    """The sentence saying the other half of a Generate or Reset is still HEAD, if so."""
    other = paired_head(ws, dataset, undone)
    if other is None:
        return None
    action = "Generate" if undone.kind == "generate" else "Reset"
    return (
        f"{other.label} came from the same {action} and is still HEAD: undo "
        f"{other.dataset} too to go back to the data before it."
    )


def restore(ws: Workspace, dataset: str, version_id: int, message: str | None = None) -> Version:
    """A new HEAD version with the records of ``version_id``; history is untouched."""
    source = get_version(ws, dataset, version_id)
    if _read_head_id(ws, dataset) == source.id:
        raise InputError(f"{dataset} v{source.id} is already HEAD; nothing to restore.")
    original = version_path(ws, dataset, source.id)

    def write(path: Path) -> None:
        try:
            os.link(original, path)  # immutable files: a hard link is a free copy
        except OSError:
            shutil.copyfile(original, path)

    return create_version(
        ws,
        dataset,
        write,
        message=message or f"Restore v{source.id}: {source.message}",
        kind="restore",
        source=source.source,
        restored_from=source.id,
    )


def _records_of(ws: Workspace, dataset: str, version_id: int) -> int:
    """The version whose records ``version_id`` holds: a restore's source, followed back
    to a version that is not a restore (restores copy their source's file)."""
    seen: set[int] = set()
    while version_id not in seen:
        seen.add(version_id)
        try:
            source = _read_meta(ws, dataset, version_id).restored_from
        except NotFoundError:
            break
        if source is None:
            break
        version_id = int(source)
    return version_id


#: After a data change that the published mart does not have yet.
REBUILD_HINT = "Click **Rebuild mart** in the sidebar to build the mart from this version."


def rebuild_hint(ws: Workspace, built: Mapping[str, Any] | None) -> str:
    """The sentence after a data change: rebuild, unless the published mart already has it.

    ``built`` is the published build's ``datasets`` (``{name: {"version": N, ...}}``,
    :attr:`mart.builds.BuildRecord.datasets`), None before the first build. When every
    dataset's HEAD is the version that build used (after an undo, say), or a restore of
    it (the same records under a new number), no rebuild is needed and this says so.
    """
    if not built:
        return REBUILD_HINT
    heads = {name: head(ws, name) for name in DATASETS}
    used: dict[str, int] = {}
    for name in DATASETS:
        try:
            used[name] = int((built.get(name) or {}).get("version"))
        except (TypeError, ValueError):
            return REBUILD_HINT
    renumbered = [name for name in DATASETS if heads[name].id != used[name]]
    if not renumbered:
        versions = ", ".join(heads[name].label for name in DATASETS)
        return (
            f"The published mart was already built from these versions ({versions}): "
            "no rebuild is needed."
        )
    if all(
        _records_of(ws, name, heads[name].id) == _records_of(ws, name, used[name])
        for name in renumbered
    ):
        pairs = ", ".join(
            f"{heads[name].label} has the records of v{used[name]}" for name in renumbered
        )
        return (
            f"The published mart already uses this data ({pairs}, which it was built "
            "from): no rebuild is needed; one would only record the new version number."
        )
    return REBUILD_HINT


def reset_to_sample(ws: Workspace, message: str | None = None) -> dict[str, Version]:
    """A new version of each dataset equal to the bundled sample data."""
    result = {}
    for dataset in DATASETS:
        _ensure_seeded(ws, dataset)
        lines = _sample_lines(dataset)
        result[dataset] = create_version(
            ws,
            dataset,
            lambda path, lines=lines: _write_lines(path, lines),
            message=message or "Reset to the bundled sample",
            kind="reset",
            source=SAMPLE_FILES[dataset].name,
        )
    return result


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _key_sql(dataset: str) -> str:
    return f"json_extract_string(raw_data, '$.{ID_FIELD[dataset]}')"


def diff(ws: Workspace, dataset: str, a: int, b: int, examples: int = 10) -> VersionDiff:
    """Rows added, removed and changed from version ``a`` to version ``b``.

    Records are matched by transaction_id / event_id (the n-th record with an id
    matches the n-th with the same id in the other version); a record whose JSON
    differs is changed. An added record whose id the older version already has (an
    append of rows already loaded) is counted in ``added_repeats`` too.
    """
    va, vb = get_version(ws, dataset, a), get_version(ws, dataset, b)
    key = _key_sql(dataset)

    def side(version: Version) -> str:
        return (
            f"select coalesce({key}, '(no id)') as k, "
            f"row_number() over (partition by {key} order by record_number) as n, "
            f"json(raw_data)::VARCHAR as j from read_parquet("
            f"{_sql_path(version_path(ws, dataset, version.id))})"
        )

    with connect() as con:
        con.execute(
            f"create temp table d as select a.k as ka, b.k as kb, a.n as na, b.n as nb, "
            f"a.j as ja, b.j as jb from ({side(va)}) a full outer join ({side(vb)}) b "
            f"on a.k = b.k and a.n = b.n"
        )
        counts = con.execute(
            "select count(*) filter (where ka is null), count(*) filter (where kb is null), "
            "count(*) filter (where ka is not null and kb is not null and ja <> jb), "
            "count(*) filter (where ka is not null and kb is not null and ja = jb), "
            # nb > 1: a second record with its id, na > 1 likewise ('(no id)' is no id)
            "count(*) filter (where ka is null and nb > 1 and kb <> '(no id)' and kb in "
            "(select ka from d where ka is not null)), "
            "count(*) filter (where kb is null and na > 1 and ka <> '(no id)' and ka in "
            "(select kb from d where kb is not null)) from d"
        ).fetchall()[0]

        def keys(where: str, column: str) -> list[str]:
            return [
                r[0]
                for r in con.execute(
                    f"select {column} from d where {where} order by {column} limit ?", [examples]
                ).fetchall()
            ]

        return VersionDiff(
            dataset=dataset,
            a=va.id,
            b=vb.id,
            key=ID_FIELD[dataset],
            added=int(counts[0]),
            removed=int(counts[1]),
            changed=int(counts[2]),
            unchanged=int(counts[3]),
            added_keys=keys("ka is null", "kb"),
            removed_keys=keys("kb is null", "ka"),
            changed_keys=keys("ka is not null and kb is not null and ja <> jb", "ka"),
            added_repeats=int(counts[4]),
            removed_repeats=int(counts[5]),
        )


# --------------------------------------------------------------------------- loading


#: How often an append is retried on top of a newer HEAD when other saves keep landing.
APPEND_ATTEMPTS = 20


def load_file(
    ws: Workspace,
    dataset: str,
    path: str | os.PathLike[str],
    *,
    mode: str = "replace",
    mapping: Mapping[str, str | None] | None = None,
    date_format: str | None = None,
    defaults: Mapping[str, str] | None = None,
    message: str | None = None,
    source_name: str | None = None,
    decimal_mark: str | None = None,
) -> LoadResult:
    """Validate ``path`` and save it as a new HEAD version of ``dataset``.

    ``mode`` is ``replace`` (the version holds only the file's rows) or ``append``
    (HEAD's rows, then the file's). ``mapping``, ``date_format``, ``defaults`` and
    ``decimal_mark`` are described in ``mart.loading``. Raises ``LoadRefusedError``
    (an ``InputError`` carrying ``.report``) and changes nothing when the file has
    structural problems.
    """
    if mode not in ("replace", "append"):
        raise InputError(f"Unknown mode {mode!r}: use replace or append.")
    base = head(ws, dataset)
    name = source_name or Path(path).name
    with connect() as con:
        report = validate_file(
            dataset,
            path,
            mapping=mapping,
            date_format=date_format,
            defaults=defaults,
            source_name=name,
            con=con,
            decimal_mark=decimal_mark,
        )
        if not report.ok:
            raise LoadRefusedError(report)
        validated = copy.deepcopy(report)
        for attempt in range(APPEND_ATTEMPTS):
            if mode == "append":
                report = copy.deepcopy(validated)
                base_path = version_path(ws, dataset, base.id)
                _warn_ids_already_in(con, report, dataset, base, base_path)
                query = (
                    f"select record_number, raw_data from read_parquet({_sql_path(base_path)}) "
                    f"union all select (select coalesce(max(record_number), 0) from "
                    f"read_parquet({_sql_path(base_path)})) + _row, raw_data from records "
                    f"order by record_number"
                )
            else:
                query = "select _row as record_number, raw_data from records order by _row"

            def write(target: Path, query: str = query) -> None:
                con.execute(
                    f"copy ({query}) to {_sql_path(target)} (format parquet, compression zstd)"
                )

            summary = {
                "file_rows": report.row_count,
                "mode": mode,
                "warnings": report.warning_count,
                "mapping": report.mapping,
            }
            notes = [f"{report.row_count} rows"]
            if left := report.warning_summary.get("totals rows left out"):
                notes.append(f"{left} totals row(s) left out")
            if left := report.left_out_line_items:
                notes.append(f"{left} line item row(s) left out")
            if report.decimal_mark:
                # what the question was answered with, for whoever reads the history
                summary["decimal_mark"] = report.decimal_mark
                notes.append(f"decimal {report.decimal_mark}")
            try:
                version = create_version(
                    ws,
                    dataset,
                    write,
                    message=message or f"{mode.capitalize()} from {name} ({', '.join(notes)})",
                    kind=f"load-{mode}",
                    source=name,
                    expected_head=base.id if mode == "append" else None,
                    summary=summary,
                )
            except ConflictError:
                # Another append (or any save) landed while this file was validated:
                # the file's rows go on top of the new HEAD instead. An append has no
                # "opened" state to lose, unlike an edit in the grid.
                if attempt + 1 == APPEND_ATTEMPTS:
                    raise
                base = head(ws, dataset)
                continue
            break
    return LoadResult(version=version, report=report)


def check_file(
    ws: Workspace,
    dataset: str,
    path: str | os.PathLike[str],
    *,
    mode: str = "replace",
    base_version: int | None = None,
    mapping: Mapping[str, str | None] | None = None,
    date_format: str | None = None,
    defaults: Mapping[str, str] | None = None,
    source_name: str | None = None,
    decimal_mark: str | None = None,
) -> ValidationReport:
    """The report :func:`load_file` would give for these arguments, saving nothing:
    the file's own problems and, for an append, the ids already in the version it goes
    on (``base_version``, default HEAD), said before the save and not only after it.
    Errors are in the report, not raised."""
    if mode not in ("replace", "append"):
        raise InputError(f"Unknown mode {mode!r}: use replace or append.")
    with connect() as con:
        report = validate_file(
            dataset,
            path,
            mapping=mapping,
            date_format=date_format,
            defaults=defaults,
            source_name=source_name,
            con=con,
            decimal_mark=decimal_mark,
        )
        if report.ok and mode == "append":
            base = (
                head(ws, dataset)
                if base_version is None
                else get_version(ws, dataset, base_version)
            )
            _warn_ids_already_in(con, report, dataset, base, version_path(ws, dataset, base.id))
    return report


def _warn_customer_case_against(
    con: Any, report: ValidationReport, base: Version, base_path: Path
) -> None:
    """Warn about appended customer ids that differ only in letter case (``c003`` beside
    ``C003``) or in leading zeros (``123`` beside ``00123``) from one in ``base``: the
    file alone was checked for such pairs, and an append of ``" c003 "`` made a new
    customer without a word."""
    column = "json_extract_string(raw_data, '$.customer_id')"
    for summary, words, key_sql in ID_VARIANTS:
        new_key, old_key = key_sql.format(v="new.id"), key_sql.format(v="old.id")
        old = f"(select distinct {column} as id from read_parquet({_sql_path(base_path)}))"
        found = con.execute(
            f"select new.id, min(new._row), min(old.id) from "
            f"(select _row, {column} as id from records where {column} is not null) as new "
            f"join {old} as old on {new_key} = {old_key} and new.id <> old.id "
            f"where new.id not in (select id from {old} where id is not null) "
            "group by new.id order by min(new._row)"
        ).fetchall()
        for value, row, known in found[:5]:
            report.add_warning(
                Problem(
                    f"customer_id differs only in {words} from {known!r} in {base.label}: "
                    "they are different customers in the mart; if they are one, write them "
                    "the same way",
                    row=int(row),
                    field="customer_id",
                    value=str(value),
                ),
                summary,
            )
        if len(found) > 5:
            report.warning_count += len(found) - 5
            report.warning_summary[summary] += len(found) - 5


def _warn_ids_already_in(
    con: Any, report: ValidationReport, dataset: str, base: Version, base_path: Path
) -> None:
    """Appending rows whose id is already in HEAD is let in (the unique test catches it),
    but the report says so, as it does for duplicates inside the file. So are appended
    customer ids that differ only in letter case from one already there."""
    _warn_customer_case_against(con, report, base, base_path)
    id_field = ID_FIELD[dataset]
    key = f"json_extract_string(raw_data, '$.{id_field}')"
    overlap = (
        f"select _row, {key} as id from records where {key} in "
        f"(select {key} from read_parquet({_sql_path(base_path)}) where {key} is not null)"
    )
    total = con.execute(f"select count(*) from ({overlap})").fetchone()[0]
    if not total:
        return
    for row, value in con.execute(f"{overlap} order by _row limit 5").fetchall():
        report.add_warning(
            Problem(
                f"{id_field} is already in {base.label}: appending makes it a duplicate",
                row=int(row),
                field=id_field,
                value=str(value),
            ),
            "ids already in the dataset",
            0,
        )
    report.warning_count += int(total)
    report.warning_summary["ids already in the dataset"] = int(total)


# --------------------------------------------------------------------------- reading


def _filter_sql(
    dataset: str,
    customer_id: str | None,
    date_from: date | str | None,
    date_to: date | str | None,
    text: str | None,
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if customer_id:
        clauses.append("json_extract_string(raw_data, '$.customer_id') = ?")
        params.append(str(customer_id))
    when = f"try_cast(left(json_extract_string(raw_data, '$.{TIME_FIELD[dataset]}'), 10) as DATE)"
    if date_from:
        clauses.append(f"{when} >= ?::DATE")
        params.append(str(date_from))
    if date_to:
        clauses.append(f"{when} <= ?::DATE")
        params.append(str(date_to))
    if text:
        # Search the values, not the keys: drop every '"key":' before matching.
        clauses.append("""regexp_replace(raw_data, '"[^"]*"\\s*:', '', 'g') ilike ?""")
        params.append(
            "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        clauses[-1] += " escape '\\'"
    return (" where " + " and ".join(clauses)) if clauses else "", params


def _amount_text(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return value


def count_records(
    ws: Workspace,
    dataset: str,
    version_id: int | None = None,
    *,
    customer_id: str | None = None,
    date_from: date | str | None = None,
    date_to: date | str | None = None,
    text: str | None = None,
) -> int:
    """How many records of a version (default HEAD) match the filters of ``read_records``."""
    vid = version_id if version_id is not None else head(ws, dataset).id
    get_version(ws, dataset, vid)
    where, params = _filter_sql(dataset, customer_id, date_from, date_to, text)
    with connect() as con:
        return int(
            con.execute(
                f"select count(*) from read_parquet({_sql_path(version_path(ws, dataset, vid))})"
                f"{where}",
                params,
            ).fetchall()[0][0]
        )


def existing_records(
    ws: Workspace, dataset: str, version_id: int, numbers: Iterable[int]
) -> set[int]:
    """Which of the record ``numbers`` version ``version_id`` of ``dataset`` holds."""
    wanted = sorted({int(number) for number in numbers})
    if not wanted:
        return set()
    get_version(ws, dataset, version_id)
    with connect() as con:
        con.register("wanted", pa.table({"n": pa.array(wanted, pa.int64())}))
        rows = con.execute(
            "select record_number from "
            f"read_parquet({_sql_path(version_path(ws, dataset, version_id))}) "
            "where record_number in (select n from wanted)"
        ).fetchall()
    return {int(number) for (number,) in rows}


@dataclass(frozen=True)
class Rebased:
    """Grid edits made to an older version, carried over to a newer one."""

    updates: dict[int, Mapping[str, Any]]
    inserts: list[Mapping[str, Any]]
    deletes: list[int]
    dropped: list[int]  # records the newer version no longer has: their edits left out

    @property
    def empty(self) -> bool:
        return not (self.updates or self.inserts or self.deletes)

    def dropped_note(self, version_id: int, shown: int = 10) -> str | None:
        """``v7 deleted row(s) #3, #9: your edits to them were dropped.`` (None: none)."""
        if not self.dropped:
            return None
        more = len(self.dropped) - shown
        return (
            f"v{version_id} deleted row(s) "
            + ", ".join(f"#{number}" for number in self.dropped[:shown])
            + (f" and {more:,} more" if more > 0 else "")
            + ": your edits to them were dropped."
        )


def rebase_edits(
    ws: Workspace,
    dataset: str,
    version_id: int,
    *,
    updates: Mapping[int, Mapping[str, Any]] | None = None,
    inserts: Sequence[Mapping[str, Any]] = (),
    deletes: Iterable[int] = (),
) -> Rebased:
    """Edits made to an older version of ``dataset``, for saving onto ``version_id``
    after someone else saved it (``apply_edits`` raised ``ConflictError``).

    Updates and deletes of records that ``version_id`` no longer has (the other save
    deleted them) are left out and named in ``dropped``, instead of refusing the whole
    save again and again; rows the other save changed get these edits' values; inserts
    are kept as they are.
    """
    updates = {int(number): fields for number, fields in (updates or {}).items()}
    delete_list = [int(number) for number in deletes]
    touched = set(updates) | set(delete_list)
    gone = touched - existing_records(ws, dataset, version_id, touched)
    return Rebased(
        updates={number: fields for number, fields in updates.items() if number not in gone},
        inserts=list(inserts),
        deletes=[number for number in delete_list if number not in gone],
        dropped=sorted(gone),
    )


_ACTIVITY: dict[tuple[tuple[str, str, int, int], ...], date | None] = {}


def latest_activity(ws: Workspace, versions: Mapping[str, int] | None = None) -> date | None:
    """The latest transaction date or event date in the given versions (default HEAD).

    An as-of date before it fails the ``not_after_as_of_date`` tests. Versions are
    immutable, so the answer is kept per file (path, size, mtime): one read of each new
    version, about 0.3 s at a million records.
    """
    files: list[tuple[str, str, int, int]] = []
    for name in DATASETS:
        version = (versions or {}).get(name)
        path = version_path(ws, name, int(version) if version else head(ws, name).id)
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        files.append((name, str(path), stat.st_size, stat.st_mtime_ns))
    key = tuple(files)
    if key in _ACTIVITY:
        return _ACTIVITY[key]
    latest: date | None = None
    with connect() as con:
        for name, path, _, _ in files:
            field = TIME_FIELD[name]
            value = con.execute(
                "select max(try_cast(json_extract_string(raw_data, ?) as TIMESTAMP)) "
                f"from read_parquet({_sql_path(Path(path))})",
                [f"$.{field}"],
            ).fetchall()[0][0]
            if value is not None and (latest is None or value.date() > latest):
                latest = value.date()
    _ACTIVITY[key] = latest
    return latest


def read_records(
    ws: Workspace,
    dataset: str,
    version_id: int | None = None,
    *,
    customer_id: str | None = None,
    date_from: date | str | None = None,
    date_to: date | str | None = None,
    text: str | None = None,
    limit: int | None = 1000,
    offset: int = 0,
) -> pd.DataFrame:
    """A version's records (default HEAD) as a flat DataFrame, filtered in DuckDB.

    Columns: ``record_number``, the canonical fields in schema order, then extra keys
    in order of first appearance. Values are strings exactly as stored (amounts as
    their decimal text, dates as ISO text), ``None`` when missing. Filters: an exact
    customer id, an inclusive date range on transaction_date / event_timestamp, and a
    case-insensitive text searched in every value. ``df.attrs`` holds ``version_id``.
    """
    vid = version_id if version_id is not None else head(ws, dataset).id
    get_version(ws, dataset, vid)
    where, params = _filter_sql(dataset, customer_id, date_from, date_to, text)
    limit_sql = ""
    if limit is not None:
        limit_sql = " limit ? offset ?"
        params += [int(limit), int(offset)]
    path = version_path(ws, dataset, vid)
    with connect() as con:
        con.execute(
            f"create temp table picked as select record_number, raw_data "
            f"from read_parquet({_sql_path(path)}){where} order by record_number{limit_sql}",
            params,
        )
        keys = [
            k
            for (k,) in con.execute(
                "select key from (select unnest(json_keys(raw_data)) as key, record_number "
                "from picked) group by key order by min(record_number)"
            ).fetchall()
        ]
        columns = list(FIELDS[dataset]) + [k for k in keys if k not in FIELDS[dataset]]
        columns = [c for c in columns if c != "record_number"]
        paths = ", ".join(
            "'" + ('$."' + c.replace('"', '\\"') + '"').replace("'", "''") + "'" for c in columns
        )
        rows = con.execute(
            f"select record_number, json_extract_string(raw_data, [{paths}]) "
            f"from picked order by record_number"
        ).fetchall()
    if "amount" in columns:
        # JSON numbers come back through a double ("150.0"); show them as cents.
        at = columns.index("amount")
        for _, values in rows:
            values[at] = _amount_text(values[at])
    frame = pd.DataFrame(
        [[number, *values] for number, values in rows],
        columns=["record_number", *columns],
        dtype=object,
    )
    frame["record_number"] = frame["record_number"].astype("int64")
    frame.attrs["version_id"] = vid
    frame.attrs["dataset"] = dataset
    return frame


# --------------------------------------------------------------------------- editing


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _edit_value(dataset: str, name: str, value: Any) -> Any:
    """A grid cell as the canonical JSON value of field ``name``; InputError if unreadable."""
    if _is_missing(value):
        return None
    if isinstance(value, str) and name in FIELDS[dataset]:
        # as a loaded file's values: direction controls removed, NULL / N/A … empty
        value = DIRECTION_CONTROLS_RE.sub("", value)
        if value.strip().lower() in NULL_WORDS or not value.strip():
            return None
    if name == "amount":
        return _edit_amount(value)
    if name in ("transaction_date", "event_timestamp"):
        return _edit_time(name, value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (bool, int, str, Decimal)) and name not in FIELDS[dataset]:
        return value.strip() if isinstance(value, str) else value
    text = str(value).strip()
    if name in ID_FIELDS and (control := re.search(CONTROL_CHARS, text)):
        # as a loaded file's ids (mart.loading._refuse_id_controls)
        raise InputError(
            f"{text!r} holds the control character U+{ord(control.group()):04X}, which "
            "does not show: this id would differ from the one it looks like."
        )
    return text


def _edit_amount(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise InputError(f"{value!r} is not an amount.")
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip().replace("\u2212", "-")
    if re.fullmatch(ACCOUNTING_ZERO, text):
        return Decimal("0.00")  # "$ -", pasted from a sheet in accounting format
    text = re.sub(r"[\s$€£¥\u00a0\u202f\u2009]", "", text)
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", text):
        text = text.replace(",", "")
    elif re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d+|[+-]?\d+,\d{1,2}", text):
        text = text.replace(".", "").replace(",", ".")  # a decimal comma: 1.234,56 / 12,50
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", text):
        raise InputError(f"{value!r} is not an amount (use e.g. 12.50).")
    try:
        exact = Decimal(text)
        amount = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise InputError(f"{value!r} is not an amount (use e.g. 12.50).") from None
    if amount != exact:
        # An edit is typed by hand: a third decimal is a slip, not something to round.
        raise InputError(
            f"{value!r} has more than two decimals: amounts are kept to the cent "
            f"(did you mean {amount}?)."
        )
    if abs(amount) >= Decimal(10) ** 16:
        raise InputError(f"{value!r} is too large for an amount.")
    return -amount if negative else amount


_EDIT_TIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%Y%m%d",
)


_ISO_DAY = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})([ T].*)?")
_NUMERIC_DAY = re.compile(r"\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\s*")


def _numeric_date(name: str, text: str) -> datetime | None:
    """A typed date the ISO formats did not read: 15/01/2024 when one number can only be
    the day; InputError saying why for a day that does not exist or an order that
    nothing settles; None for anything else (the caller's message)."""
    iso = _ISO_DAY.fullmatch(text)
    if iso:
        year, month, day = int(iso[1]), int(iso[2]), int(iso[3])
        if not 1 <= month <= 12:
            raise InputError(f"{text!r} is not a date for {name}: there is no month {month}.")
        try:
            datetime(year, month, day)
        except ValueError:
            raise InputError(
                f"{text!r} is not a date for {name}: there is no day {day} in month {month} "
                f"of {year}."
            ) from None
        return None  # the day exists: the time part is what did not read
    numeric = _NUMERIC_DAY.fullmatch(text)
    if not numeric:
        return None
    first, second, year = int(numeric[1]), int(numeric[2]), int(numeric[3])
    if first <= 12 and second <= 12:
        raise InputError(
            f"{text!r} is not a date for {name}: day/month order is ambiguous, use YYYY-MM-DD."
        )
    day, month = (first, second) if first > 12 else (second, first)
    if month > 12:
        raise InputError(f"{text!r} is not a date for {name}: neither number is a month.")
    try:
        return datetime(year, month, day)
    except ValueError:
        raise InputError(
            f"{text!r} is not a date for {name}: there is no day {day} in month {month} of {year}."
        ) from None


def _edit_time(name: str, value: Any) -> str:
    moment: datetime | None = None
    if isinstance(value, pd.Timestamp):
        moment = value.to_pydatetime()
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        for fmt in _EDIT_TIME_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if moment is None:
            moment = _numeric_date(name, text)
        if moment is None:
            raise InputError(
                f"{text!r} is not a date for {name}: use YYYY-MM-DD"
                + (" or YYYY-MM-DDTHH:MM:SS." if name == "event_timestamp" else ".")
            )
    if name == "transaction_date":
        return moment.strftime("%Y-%m-%d")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if moment.microsecond else "%Y-%m-%dT%H:%M:%S"
    return moment.strftime(fmt)


def dump_record(record: Mapping[str, Any]) -> str:
    """One raw record as JSON text; Decimal values are written as exact JSON numbers."""
    parts = []
    for key, value in record.items():
        if isinstance(value, Decimal):
            text = format(value, "f")
        else:
            text = json.dumps(value, ensure_ascii=False)
        parts.append(json.dumps(str(key), ensure_ascii=False) + ": " + text)
    return "{" + ", ".join(parts) + "}"


def _edited_record(
    dataset: str,
    original: Mapping[str, Any],
    changes: Mapping[str, Any],
    where: str,
    problems: list[str] | None = None,
) -> dict[str, Any]:
    """``original`` with ``changes`` applied. An unreadable value raises InputError, or,
    with ``problems``, is added to it (so one save can name every bad cell)."""
    record = dict(original)
    for key, value in changes.items():
        if key == "record_number":
            continue
        try:
            record[str(key)] = _edit_value(dataset, str(key), value)
        except InputError as exc:
            if problems is None:
                raise InputError(f"{where}, {key}: {exc}") from None
            problems.append(f"{where}, {key}: {exc}")
    return record


MAX_EDIT_PROBLEMS = 10


def apply_edits(
    ws: Workspace,
    dataset: str,
    base_version: int,
    *,
    updates: Mapping[int, Mapping[str, Any]] | None = None,
    inserts: Sequence[Mapping[str, Any]] = (),
    deletes: Iterable[int] = (),
    message: str | None = None,
) -> Version:
    """Save grid edits to ``base_version`` as a new HEAD version.

    ``updates`` maps a record_number to the fields it changes (other fields are kept
    as stored; an empty cell becomes null); ``inserts`` are new records (canonical
    fields and extras; a missing id is generated); ``deletes`` are record_numbers.
    When HEAD is no longer ``base_version``, raises ``ConflictError`` and saves
    nothing; unreadable values (a bad date or amount) raise ``InputError``.
    """
    updates = {int(k): v for k, v in (updates or {}).items()}
    delete_set = {int(n) for n in deletes}
    current = head(ws, dataset)
    if current.id != int(base_version):
        raise _keep_edits(
            ws,
            dataset,
            int(base_version),
            updates,
            inserts,
            delete_set,
            _conflict(ws, dataset, int(base_version), current.id),
        )
    if not updates and not inserts and not delete_set:
        raise InputError("There are no edits to save.")
    path = version_path(ws, dataset, current.id)
    wanted = sorted(set(updates) | delete_set)
    with connect() as con:
        found: dict[int, str] = {}
        if wanted:
            con.register("wanted", pa.table({"n": pa.array(wanted, pa.int64())}))
            found = dict(
                con.execute(
                    f"select record_number, raw_data from read_parquet({_sql_path(path)}) "
                    "where record_number in (select n from wanted)"
                ).fetchall()
            )
        missing = [n for n in wanted if n not in found]
        if missing:
            raise InputError(
                f"{dataset} v{current.id} has no record number(s) "
                + ", ".join(map(str, missing[:20]))
                + "; reload the data and try again."
            )
        max_number = int(
            con.execute(
                f"select coalesce(max(record_number), 0) from read_parquet({_sql_path(path)})"
            ).fetchall()[0][0]
        )
        numbers: list[int] = []
        texts: list[str] = []
        problems: list[str] = []
        notes: list[str] = []
        warned_values = 0
        for number, changes in sorted(updates.items()):
            if number in delete_set:
                continue
            original = json.loads(found[number], parse_float=Decimal)
            record = _edited_record(dataset, original, changes, f"record {number}", problems)
            found_notes, found_values = _edit_notes(dataset, record, f"record {number}")
            notes += found_notes
            warned_values += found_values
            numbers.append(number)
            texts.append(dump_record(record))
        id_field = ID_FIELD[dataset]
        stamp = f"{time.time_ns():x}"
        generated: list[str] = []  # ids made up for new rows without one
        defaulted = 0  # new transactions whose empty product_category was saved as Unknown
        for index, values in enumerate(inserts, start=1):
            template: dict[str, Any] = dict.fromkeys(FIELDS[dataset])
            record = _edited_record(dataset, template, values, f"new row {index}", problems)
            if dataset == "transactions" and record.get("product_category") is None:
                record["product_category"] = "Unknown"  # as staging reads an empty one
                defaulted += 1
            if record.get(id_field) is None:
                record[id_field] = f"{ID_PREFIX[dataset]}{stamp}-{index}"
                generated.append(record[id_field])
            found_notes, found_values = _edit_notes(dataset, record, f"new row {index}")
            notes += found_notes
            warned_values += found_values
            numbers.append(max_number + index)
            texts.append(dump_record(record))
        if problems:
            shown = problems[:MAX_EDIT_PROBLEMS]
            more = len(problems) - len(shown)
            raise InputError(
                f"Not saved: {len(problems)} value(s) cannot be read. "
                + " ".join(shown)
                + (f" … and {more} more." if more else "")
            )
        con.register(
            "changed",
            pa.table(
                {
                    "record_number": pa.array(numbers, pa.int64()),
                    "raw_data": pa.array(texts, pa.string()),
                }
            ),
        )
        con.register("deleted", pa.table({"n": pa.array(sorted(delete_set), pa.int64())}))
        query = (
            f"select base.record_number, coalesce(changed.raw_data, base.raw_data) as raw_data "
            f"from read_parquet({_sql_path(path)}) as base "
            f"left join changed using (record_number) "
            f"where base.record_number not in (select n from deleted) "
            f"union all select record_number, raw_data from changed "
            f"where record_number > {max_number} order by record_number"
        )
        parts = []
        if updates:
            parts.append(f"{len(numbers) - len(inserts)} changed")
        if inserts:
            parts.append(f"{len(inserts)} added")
        if delete_set:
            parts.append(f"{len(delete_set)} deleted")

        def write(target: Path) -> None:
            con.execute(f"copy ({query}) to {_sql_path(target)} (format parquet, compression zstd)")

        try:
            return create_version(
                ws,
                dataset,
                write,
                message=message or "Edit: " + ", ".join(parts),
                kind="edit",
                expected_head=current.id,
                summary={
                    "changed": len(numbers) - len(inserts),
                    "added": len(inserts),
                    "deleted": len(delete_set),
                    # let in on purpose, as a file load lets them in: said at save time
                    "warnings": notes,
                    "warned_values": warned_values,
                    # filled in on save, said too (edit_fill_note)
                    "generated_ids": len(generated),
                    "generated_id_examples": generated[:1] + generated[1:][-1:],
                    "defaulted_categories": defaulted,
                },
            )
        except ConflictError as exc:
            raise _keep_edits(ws, dataset, current.id, updates, inserts, delete_set, exc) from None


def _edit_notes(dataset: str, record: Mapping[str, Any], where: str) -> tuple[list[str], int]:
    """What a saved record will make a dbt test fail on, said when it is saved: empty
    required fields, a negative amount, a date after today (a file load warns the same).
    (the notes, how many values they name: each empty field counts)."""
    notes = []
    values = 0
    empty = [name for name in REQUIRED[dataset] if record.get(name) in (None, "")]
    if empty:
        notes.append(f"{where}: {', '.join(empty)} empty")
        values += len(empty)
    amount = record.get("amount")
    if isinstance(amount, Decimal) and amount < 0:
        notes.append(f"{where}: negative amount {amount} (a refund?)")
        values += 1
    moment = record.get(TIME_FIELD[dataset])
    today = datetime.now(UTC).date().isoformat()
    if isinstance(moment, str) and moment[:10] > today:
        notes.append(f"{where}: {TIME_FIELD[dataset]} {moment[:10]} is after today ({today})")
        values += 1
    return notes, values


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def edit_warnings(version: Version, limit: int = MAX_EDIT_PROBLEMS) -> str | None:
    """The save-time warnings of an edit version as one sentence, or None.

    Counts the values the notes name (three empty fields of one row are three) and the
    rows they are in, so the count matches the list."""
    notes = list(version.summary.get("warnings") or [])
    if not notes:
        return None
    shown = "; ".join(notes[:limit]) + (
        f"; … and {len(notes) - limit} more" if len(notes) > limit else ""
    )
    rows = _count(len({note.split(": ", 1)[0] for note in notes}), "row")
    values = version.summary.get("warned_values")
    counted = (
        f"{_count(int(values), 'value')} in {rows}"
        if values
        else f"values in {rows}"  # a version saved before the values were counted
    )
    return (
        f"Saved, but {counted} will fail a dbt test in the next build: {shown}. "
        "They are let in on purpose (the build names them and the last good mart stays "
        "published); edit them again or undo this version to take them back."
    )


def edit_fill_note(version: Version) -> str | None:
    """What saving an edit version filled in for new rows, or None: the ids it generated
    (for rows without one) and the empty product categories it saved as Unknown."""
    parts = []
    generated = int(version.summary.get("generated_ids") or 0)
    if generated:
        id_name = ID_FIELD[version.dataset]
        examples = list(version.summary.get("generated_id_examples") or [])
        shown = (
            f" ({examples[0]})"
            if generated == 1 and examples
            else f" ({examples[0]} … {examples[-1]})"
            if len(examples) > 1
            else ""
        )
        parts.append(
            f"{_count(generated, 'new row')} had no {id_name}: "
            f"{'one was' if generated == 1 else 'ids were'} generated{shown}"
        )
    defaulted = int(version.summary.get("defaulted_categories") or 0)
    if defaulted:
        parts.append(f"{_count(defaulted, 'new row')} had no product_category: saved as Unknown")
    return ("Filled in: " + "; ".join(parts) + ".") if parts else None


def _keep_edits(
    ws: Workspace,
    dataset: str,
    base: int,
    updates: Mapping[int, Mapping[str, Any]],
    inserts: Sequence[Mapping[str, Any]],
    deletes: set[int],
    error: ConflictError,
) -> ConflictError:
    """Save refused edits under ``datasets/<dataset>/conflicts/`` and say where."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = ws.dataset_dir(dataset) / "conflicts" / f"{stamp}-base{base}.json"
    atomic_write_json(
        path,
        {
            "dataset": dataset,
            "base_version": base,
            "updates": {str(k): dict(v) for k, v in updates.items()},
            "inserts": [dict(row) for row in inserts],
            "deletes": sorted(deletes),
        },
    )
    kept = ConflictError(f"{error} Your edits were kept in {path}.")
    kept.saved_edits_path = path  # type: ignore[attr-defined]
    return kept


def version_as_dict(version: Version) -> dict[str, Any]:
    """A version's metadata as a plain dict (for JSON output)."""
    return asdict(version)


__all__ += ["LoadRefusedError", "dump_record", "version_as_dict"]

"""The one way this product opens a published DuckDB file: read-only, sandboxed, cached.

DuckDB allows one writer process or many readers, and in one process it refuses a
second connection to the same file with a different configuration. So every read in
the app process goes through :func:`connect_readonly` (or the cached connections of
:func:`query_df`), which always use :data:`READ_CONFIG`.

What the configuration blocks (each verified against duckdb 2.0.1 in
``tests/sandbox/test_db.py``):

- ``enable_external_access=False`` — no file system from SQL: ``read_csv``,
  ``read_text``, ``read_blob``, ``read_parquet``, ``read_json``, ``glob``,
  ``sniff_csv``, ``parquet_metadata``, ``COPY … TO/FROM``, ``EXPORT DATABASE``,
  ``ATTACH`` of another file, ``INSTALL``/``LOAD``, persistent secrets; ``getenv``
  does not exist. DuckDB itself allow-lists only the opened database file, its WAL
  and its ``.tmp/`` spill directory (``allowed_paths``/``allowed_directories``
  cannot be set at start-up in 2.0.1, and cannot be widened once locked).
- ``autoinstall_known_extensions=False`` / ``autoload_known_extensions=False`` — a
  query that mentions an extension's function never downloads or loads it.
- ``allow_community_extensions=False``, ``allow_extension_repositories='forbidden'``,
  ``allow_persistent_secrets=False`` — belt and braces for extensions and secrets.
- ``python_enable_replacements=False`` — ``FROM some_name`` never scans a pandas
  DataFrame that happens to live in a Python frame of this process.
- ``lock_configuration=True`` — every later ``SET``/``RESET``/``PRAGMA x=…`` of a
  configuration option fails, including ``SET lock_configuration=false`` and
  ``SET allowed_directories=…``.
- ``memory_limit='2GB'``, ``max_temp_directory_size='4GB'`` — a console query that
  needs more (a huge sort or cross join) fails with an out-of-memory message instead
  of taking the machine's memory or disk within its time limit.
- ``allowed_configs=['enable_progress_bar']`` — the one exception to the lock. The
  progress bar is a per-connection option (it cannot be set at start-up) that DuckDB
  prints to *stdout* for queries over 2 s, which would corrupt ``python -m mart
  query`` output; every connection switches it off right after connecting.

Open cost measured on a 2-core machine, small file (13 tables): a cold
``duckdb.connect`` + first query + close is about 13 + 2 + 3 ms; a cursor on an
already open database is about 0.2 ms. Pages run several queries per rerun, so
:func:`query_df` keeps one connection per published file (see :func:`close_all`).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from mart.errors import InputError, NotFoundError

READ_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_extension_repositories": "forbidden",
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
    "allowed_configs": ["enable_progress_bar"],
    # A console query may not take the machine: at most 2 GB of memory per open file
    # (DuckDB's default is 80% of RAM), then spilling to the file's .tmp/ directory up
    # to 4 GB (default: 90% of the free disk), then an out-of-memory error.
    "memory_limit": "2GB",
    "max_temp_directory_size": "4GB",
    "lock_configuration": True,
}
"""The configuration of every read connection in the app process (never vary it)."""

MAX_CACHED_FILES = 2
"""Open files kept by the cache: the published build and the one before it."""

_cache_lock = threading.Lock()


class _Entry:
    """A cached connection and how many cursors are open on it right now."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.users = 0
        self.evicted = False

    def release(self) -> None:
        """Close the connection once it is evicted and no cursor uses it (lock held)."""
        self.evicted = True
        if self.users == 0:
            self.con.close()


# (resolved path, inode, mtime_ns) -> entry. A new published build is a new path, and
# a file replaced in place is a new inode, so either gets a new connection.
_cache: OrderedDict[tuple[str, int, int], _Entry] = OrderedDict()


def _resolve(path: str | os.PathLike[str]) -> Path:
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise NotFoundError(f"No published mart at {resolved}: build the mart first.")
    return resolved


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Switch off the progress bar, which DuckDB would print to stdout."""
    con.execute("SET enable_progress_bar = false")
    return con


def connect_readonly(path: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """Open ``path`` read-only with :data:`READ_CONFIG`; the caller closes it.

    Raises :class:`NotFoundError` when the file does not exist.
    """
    resolved = _resolve(path)
    con = duckdb.connect(str(resolved), read_only=True, config=dict(READ_CONFIG))
    try:
        return _quiet(con)
    except BaseException:
        con.close()
        raise


def _acquire(path: str | os.PathLike[str]) -> tuple[_Entry, duckdb.DuckDBPyConnection]:
    """A new cursor on the cached connection for the file now at ``path``."""
    resolved = _resolve(path)
    stat = resolved.stat()
    key = (str(resolved), stat.st_ino, stat.st_mtime_ns)
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
        else:
            # A changed file at the same path: drop the stale connection first, else
            # DuckDB's instance cache would hand back the old database.
            for stale in [k for k in _cache if k[0] == key[0]]:
                _cache.pop(stale).release()
            entry = _Entry(connect_readonly(resolved))
            _cache[key] = entry
            while len(_cache) > MAX_CACHED_FILES:
                _cache.popitem(last=False)[1].release()
        cursor = entry.con.cursor()
        entry.users += 1
        return entry, cursor


@contextmanager
def cached_cursor(path: str | os.PathLike[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh cursor (own session, same configuration) on the cached connection.

    Each cursor has its own transaction, temp schema and settings, so threads (one
    per Streamlit session) never share state; it is closed on exit. An evicted
    connection is closed only when its last cursor is done.
    """
    entry, cursor = _acquire(path)
    try:
        yield _quiet(cursor)
    finally:
        cursor.close()
        with _cache_lock:
            entry.users -= 1
            if entry.evicted and entry.users == 0:
                entry.con.close()


def close_all() -> None:
    """Close every cached connection (tests; before deleting build directories)."""
    with _cache_lock:
        while _cache:
            _cache.popitem()[1].release()


def close_path(path: str | os.PathLike[str]) -> None:
    """Close the cached connection of one file, if any (before removing that build)."""
    resolved = str(Path(path).expanduser().resolve())
    with _cache_lock:
        for key in [k for k in _cache if k[0] == resolved]:
            _cache.pop(key).release()


def cached_paths() -> list[str]:
    """The files that have a cached connection now, oldest first (for tests/status)."""
    with _cache_lock:
        return [key[0] for key in _cache]


def query_df(
    path: str | os.PathLike[str],
    sql: str,
    params: Sequence[Any] | dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Run a trusted app query (with ``?`` or ``$name`` parameters) and return a frame."""
    with cached_cursor(path) as cursor:
        return cursor.execute(sql, params).df() if params is not None else cursor.sql(sql).df()


def typed_frame(relation: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """A small relation's rows with their SQL types kept where pandas would change
    them: DATE values as dates (pandas has no date type: they came back as timestamps
    at midnight, shown ``2024-01-15 00:00:00``) and DECIMAL values as exact Decimal
    objects (they came back as floats: 0.10 shown as 0.1, large amounts off by cents).
    The DECIMAL columns are read a second time, so keep ``relation`` to preview size."""
    kinds = [str(kind) for kind in relation.types]
    frame = relation.df()
    for position, kind in enumerate(kinds):
        if kind == "DATE":
            frame.isetitem(
                position,
                pd.Series(
                    [
                        None if pd.isna(v) else pd.Timestamp(v).date()
                        for v in frame.iloc[:, position]
                    ],
                    index=frame.index,
                    dtype=object,
                ),
            )
    decimal_at = [i for i, kind in enumerate(kinds) if kind.startswith("DECIMAL")]
    if decimal_at and len(frame):
        exact = relation.fetchall()
        for position in decimal_at:
            frame.isetitem(
                position,
                pd.Series([row[position] for row in exact], index=frame.index, dtype=object),
            )
    return frame


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_relation(relation: str | Sequence[str]) -> str:
    """``schema.table`` (or ``table``, or the parts as a sequence) safely quoted.

    A string is split on dots; pass a sequence for a name that itself holds a dot.
    """
    parts = relation.split(".") if isinstance(relation, str) else list(relation)
    if not 1 <= len(parts) <= 3 or any(not part for part in parts):
        raise InputError(f"Not a table name: {relation!r}. Use schema.table or table.")
    return ".".join(quote_identifier(part) for part in parts)


def table_preview(
    path: str | os.PathLike[str], relation: str | Sequence[str], limit: int = 100
) -> pd.DataFrame:
    """The first ``limit`` rows of a table or view, e.g. ``"main.fct_customer_metrics"``,
    dates as dates and decimals exact (:func:`typed_frame`)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InputError(f"The preview limit must be a whole number of rows, not {limit!r}.")
    quoted = quote_relation(relation)
    try:
        with cached_cursor(path) as cursor:
            return typed_frame(cursor.sql(f"select * from {quoted} limit {limit}"))
    except duckdb.CatalogException as exc:
        raise NotFoundError(f"No table or view {quoted} in the published mart.") from exc

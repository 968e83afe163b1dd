"""The ``query`` and ``analyses`` commands: read the published mart from the shell.

``python -m mart query "select ..." [--format table|csv|json]`` and
``python -m mart query --analysis top_customers`` run one statement on the published
build through the SQL sandbox (:func:`mart.sandbox.run_sql`: read-only, one statement,
row and time limits). ``python -m mart analyses`` lists the dbt analyses.

Output: results on stdout, everything else (row count, the "rows were cut" notice,
errors) on stderr, so ``--format csv > file.csv`` holds only the data.

Values are printed exactly:

- DECIMAL values keep their scale: ``500.00`` prints as ``500.00`` in all formats,
  and in JSON as a *number* written with that exact text (``"lifetime_value": 500.00``),
  so no cent is lost or invented by a float round trip. (The sandbox returns a pandas
  frame whose DECIMAL columns are floats; the column types are read with a
  ``DESCRIBE`` of the same statement and each value is rounded back to its declared
  scale, which is exact for values below 10^13 at 2 decimals. Larger values,
  and 64- and 128-bit integers beyond 2^53, come from the sandbox as exact Decimal and
  int objects, see :func:`mart.sandbox._frame`.)
- DATE values print as ``2024-01-15``; timestamps as ISO 8601.
- NULL is ``null`` in JSON, empty in CSV and ``NULL`` in the table. A FLOAT/DOUBLE NaN
  or infinity in a column of its own is ``nan``/``inf``/``-inf`` in the table and CSV,
  and ``null`` in JSON (which has no such numbers); inside a list or a struct it is
  ``nan`` in the table and CSV (``[1.5, nan, null]``) and ``null`` in JSON.

The values themselves are :mod:`mart.values`', shared with the SQL console.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mart.cli import terminal_safe
from mart.errors import InputError, NotFoundError
from mart.values import DECIMAL_TYPE, csv_text, json_value, normalise
from mart.workspace import DBT_PROJECT_DIR, Workspace

MSG_NOTHING_PUBLISHED = "No published build yet: run `python -m mart build` first."
FORMATS = ("table", "csv", "json")
MAX_CELL = 60  # characters per table cell before it is cut with "…"


# -- the published build -----------------------------------------------------------------


@dataclass(frozen=True)
class PublishedBuild:
    """Where the published build's DuckDB file and dbt artifacts are."""

    build_id: int
    db_path: Path
    target_dir: Path


def _pointer_build(ws: Workspace) -> PublishedBuild | None:
    """The build named by ``builds/current``, read directly."""
    try:
        text = (ws.builds_dir / "current").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        return None
    build_id = int(text)
    db_path = ws.build_dir(build_id) / "mart.duckdb"
    if not db_path.is_file():
        return None
    return PublishedBuild(build_id, db_path, ws.build_dir(build_id) / "target")


def published_build(ws: Workspace) -> PublishedBuild | None:
    """The published build of ``ws``, or None when nothing is published.

    Asks :class:`mart.builds.BuildManager` (imported lazily, it is another module's);
    when that module is missing or knows no record for the published build (a
    workspace assembled by hand), reads the ``builds/current`` pointer itself.
    """
    try:
        from mart.builds import BuildManager
    except ModuleNotFoundError as exc:
        if exc.name != "mart.builds":
            raise
        return _pointer_build(ws)
    manager = BuildManager(ws, prewarm_after_build=False)
    record = manager.published()
    db_path = manager.published_db_path()
    if record is None or db_path is None:
        return _pointer_build(ws)
    build_id = int(getattr(record, "build_id", None) or record.id)  # type: ignore[attr-defined]
    return PublishedBuild(build_id, Path(db_path), ws.build_dir(build_id) / "target")


def require_published(ws: Workspace) -> PublishedBuild:
    """The published build, or a NotFoundError telling the user to build first."""
    build = published_build(ws)
    if build is None:
        raise NotFoundError(MSG_NOTHING_PUBLISHED)
    return build


# -- analyses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalysisInfo:
    """Name and one-line description of an analysis, for the listing."""

    name: str
    summary: str


def _project_analyses(project_dir: Path = DBT_PROJECT_DIR) -> list[AnalysisInfo]:
    """Analyses read straight from the dbt project's files (before any build)."""
    from mart.artifacts import leading_comment

    folder = project_dir / "analyses"
    return [
        AnalysisInfo(path.stem, leading_comment(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob("*.sql"))
    ]


def list_analyses(ws: Workspace) -> list[AnalysisInfo]:
    """The published build's analyses; the project's own files if nothing is published."""
    from mart.artifacts import BuildArtifacts

    build = published_build(ws)
    if build is not None and (build.target_dir / "manifest.json").is_file():
        artifacts = BuildArtifacts.load(build.target_dir)
        return [AnalysisInfo(a.name, a.summary) for a in artifacts.analyses.values()]
    return _project_analyses()


def analysis_sql(build: PublishedBuild, name: str) -> str:
    """Runnable SQL of analysis ``name`` for the published build."""
    from mart.artifacts import BuildArtifacts, compiled_analysis_sql

    if not (build.target_dir / "manifest.json").is_file():
        raise NotFoundError(
            f"The published build {build.build_id} has no dbt artifacts "
            f"({build.target_dir / 'manifest.json'} is missing): rebuild the mart."
        )
    return compiled_analysis_sql(BuildArtifacts.load(build.target_dir), name)


# -- values ------------------------------------------------------------------------------


def _column_values(column: pd.Series, kind: str | None) -> list[Any]:
    """A column's values as :func:`normalise` gives them, whole columns at a time where
    the type allows: value by value, 10,000 rows of 300 columns took 20 s of a 22 s
    ``query``. Integers and booleans without NULLs (a NULL makes pandas use floats or
    objects), DOUBLEs (whose NaN is a value: NULL comes as None in an object column)
    and plain text are already plain Python values; anything else goes value by value.
    """
    name = (kind or "").upper()
    # NumPy's own dtypes only: pandas' nullable Int64 is of kind "i" too, with <NA> in it
    plain = isinstance(column.dtype, np.dtype)
    if plain and column.dtype.kind in "iub" and not DECIMAL_TYPE.fullmatch(name):
        return column.tolist()
    if plain and column.dtype.kind == "f" and name == "DOUBLE":
        return column.tolist()
    values = column.tolist() if column.dtype == object else list(column)
    if all(type(value) is str for value in values):
        return values
    return [normalise(value, kind) for value in values]


def result_rows(frame: pd.DataFrame, types: Sequence[str | None] | None = None) -> list[list[Any]]:
    """The frame's rows as lists of :func:`normalise`\\ d values."""
    kinds = list(types) if types is not None else []
    kinds += [None] * (frame.shape[1] - len(kinds))
    columns = [
        _column_values(frame.iloc[:, index], kinds[index]) for index in range(frame.shape[1])
    ]
    return (
        [list(row) for row in zip(*columns, strict=True)]
        if columns
        else [[] for _ in range(len(frame))]
    )


def _unique_names(columns: Sequence[str]) -> list[str]:
    """Column names made unique for JSON keys (``a``, ``a_2``)."""
    seen: dict[str, int] = {}
    names = []
    for column in columns:
        count = seen.get(column, 0) + 1
        seen[column] = count
        names.append(column if count == 1 else f"{column}_{count}")
    return names


def format_json(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An array of row objects, one row per line; decimals as numbers with exact text."""
    keys = [json.dumps(name, ensure_ascii=False) for name in _unique_names(columns)]
    lines = [
        "  {"
        + ", ".join(f"{key}: {json_value(value)}" for key, value in zip(keys, row, strict=True))
        + "}"
        for row in rows
    ]
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, dict)):
        return json_value(value, strict=False)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV with a header row (pandas' writer); NULL is an empty field."""
    frame = pd.DataFrame(
        [[_text(value) if value is not None else None for value in row] for row in rows],
        columns=list(columns),
        dtype=object,
    )
    return csv_text(frame)


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide (CJK, most emoji) characters take two,
    combining marks none."""
    if text.isascii():  # most cells: 18 of the 45 s a 300-column table took to print
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _pad(text: str, width: int, right: bool) -> str:
    """``text`` padded with spaces to ``width`` terminal columns."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def _cell(value: Any) -> str:
    """A table cell's text: NULL, or the value escaped for the terminal, on one line and
    cut at :data:`MAX_CELL` terminal columns with an ellipsis."""
    if value is None:
        return "NULL"
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        # digits, a sign, a point, an exponent: nothing to escape, always one column a
        # character (most cells of a wide numeric result)
        raw = str(value) if kind is int else repr(value)
        if len(raw) <= MAX_CELL:
            return raw
    raw = _text(value)
    if raw.isascii() and len(raw) <= MAX_CELL and raw.isprintable():
        return raw  # nothing to escape, and no line breaks
    # Only the start of a long value is looked at: escaping and measuring all of a
    # 200 MB value took 30 s to print its first 60 characters. (An escape is at most
    # 4 characters, and a character takes at most 2 columns, often 1.)
    longer = len(raw) > 4 * MAX_CELL
    text = terminal_safe(raw[: 4 * MAX_CELL].replace("\n", " "))
    if not longer and display_width(text) <= MAX_CELL:
        return text
    cut, width = [], 0
    for char in text:
        step = display_width(char)
        if width + step > MAX_CELL - 1:
            break
        cut.append(char)
        width += step
    return "".join(cut) + "…"


def _is_number(value: Any) -> bool:
    return value is None or (
        isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    )


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A fixed-width table: numbers right-aligned, long cells cut with an ellipsis.
    Widths count terminal columns, so wide characters (日本, emoji) stay aligned.

    Built a column at a time, each cell's text and width found once: 10,000 rows of 1,000
    columns took 146 s cell by cell (Python's garbage collector walking the millions of
    cells made so far, again and again, was half of it)."""
    names = [terminal_safe(str(name)) for name in columns]
    texts: list[list[str]] = []
    for index, name in enumerate(names):
        values = [row[index] for row in rows]
        cells = [_cell(value) for value in values]
        widths = [len(text) if text.isascii() else display_width(text) for text in cells]
        width = max([display_width(name), *widths])
        right = bool(values) and all(_is_number(value) for value in values)
        texts.append(
            [_pad(name, width, right), "-" * width]
            + [
                " " * (width - used) + text if right else text + " " * (width - used)
                for text, used in zip(cells, widths, strict=True)
            ]
        )
    if not texts:
        return "\n" * (len(rows) + 2)
    return "\n".join("  ".join(line).rstrip() for line in zip(*texts, strict=True)) + "\n"


FORMATTERS = {"table": format_table, "csv": format_csv, "json": format_json}


# -- running -----------------------------------------------------------------------------


def column_types(
    db_path: Path, sql: str, count: int, runner: Any = None
) -> list[str | None] | None:
    """DuckDB's type of each result column of ``sql`` (a DESCRIBE through the sandbox).

    ``runner``: what runs it (an :class:`~mart.sandbox_process.IsolatedSandbox`, so a
    DESCRIBE that evaluates a constant expression, ``list_reverse_sort(range(10^8))``,
    runs in its child with the query's limits, not 29 s and 4.9 GB in this process);
    default :mod:`mart.sandbox` itself. None when the statement cannot be described
    (SHOW, PRAGMA, EXPLAIN, ...): values are then printed from what pandas holds.
    """
    from mart.errors import SandboxError
    from mart.sandbox import run_sql

    run = runner.run_sql if runner is not None else run_sql
    try:
        described = run(db_path, f"describe {sql}", row_limit=max(count, 1) + 10)
    except SandboxError:
        return None
    frame = described.dataframe
    if "column_type" not in frame.columns or len(frame) != count:
        return None
    return [str(kind) for kind in frame["column_type"]]


def _write(text: str) -> None:
    """Write to stdout; a closed pipe (``| head``) is not an error."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again at exit while flushing; point stdout at devnull.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _cmd_query(args: argparse.Namespace) -> int:
    if (args.sql is None) == (args.analysis is None):
        raise InputError("Give either a SQL statement or --analysis NAME (one of them).")
    from mart.sandbox_process import IsolatedSandbox

    # The query runs in a child process, as the app's console does: a query that
    # ignores the time limit (range() building a huge list) is killed a few seconds
    # past it, and one that needs more memory than the cap ends the child, not a
    # laptop's session. The child starts now, while the published build is looked up.
    isolated = IsolatedSandbox(max_children=1)
    isolated.warm_up()
    try:
        return _query(args, isolated)
    finally:
        isolated.close()


def _query(args: argparse.Namespace, isolated: Any) -> int:
    sql = args.sql
    if sql == "-":
        sql = sys.stdin.read()
    ws = Workspace.from_env(getattr(args, "workspace", None))
    build = require_published(ws)
    if args.analysis is not None:
        sql = analysis_sql(build, args.analysis)
    result = isolated.run_sql(build.db_path, sql, row_limit=args.max_rows, timeout_s=args.timeout)
    columns = [str(column) for column in result.columns]
    # the types the query itself gave; a DESCRIBE of the text (a second run) only when
    # it gave none (a DESCRIBE of ";select …" failed, and 12.50 printed as 12.5)
    types: list[str | None] | None = (
        list(result.column_types) if len(result.column_types) == len(columns) else None
    )
    if types is None and columns:
        types = column_types(build.db_path, sql, len(columns), runner=isolated)
    rows = result_rows(result.dataframe, types)
    _write(FORMATTERS[args.format](columns, rows))
    if result.notice:
        print(result.notice, file=sys.stderr)
    plural = "" if result.row_count == 1 else "s"
    print(
        f"({result.row_count:,} row{plural} in {result.elapsed_s:.2f} s, build {build.build_id})",
        file=sys.stderr,
    )
    return 0


def _cmd_analyses(args: argparse.Namespace) -> int:
    ws = Workspace.from_env(getattr(args, "workspace", None))
    if args.name:
        _write(analysis_sql(require_published(ws), args.name).rstrip() + "\n")
        return 0
    analyses = list_analyses(ws)
    if not analyses:
        print("The dbt project has no analyses.", file=sys.stderr)
        return 0
    width = max(len(item.name) for item in analyses)
    _write("".join(f"{item.name.ljust(width)}  {item.summary}\n" for item in analyses))
    return 0


def _positive_int(text: str) -> int:
    from mart.sandbox import MAX_ROW_LIMIT

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    if value > MAX_ROW_LIMIT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_ROW_LIMIT:,}, not {value:,}")
    return value


def _positive_float(text: str) -> float:
    from mart.sandbox import MAX_TIMEOUT_S

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    if not value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_TIMEOUT_S:,.0f} seconds (a day), not {text}"
        )
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``query`` and ``analyses`` to the ``python -m mart`` command line."""
    from mart.sandbox import DEFAULT_ROW_LIMIT, DEFAULT_TIMEOUT_S

    query = subparsers.add_parser(
        "query",
        help="run one read-only SQL statement (or a dbt analysis) on the published mart",
        description=(
            "Run one read-only statement on the published mart through the SQL sandbox. "
            "Results go to stdout; the row count and notices to stderr. "
            "Exit 1 when the statement is refused or fails."
        ),
    )
    query.add_argument("sql", nargs="?", help="the SQL statement ('-' reads it from stdin)")
    query.add_argument("--analysis", metavar="NAME", help="run a dbt analysis instead")
    query.add_argument("--format", choices=FORMATS, default="table", help="output format")
    query.add_argument(
        "--max-rows",
        type=_positive_int,
        default=DEFAULT_ROW_LIMIT,
        help=f"rows to return at most (default {DEFAULT_ROW_LIMIT:,})",
    )
    query.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds before the query is stopped (default {DEFAULT_TIMEOUT_S:g})",
    )
    query.set_defaults(func=_cmd_query)

    analyses = subparsers.add_parser(
        "analyses",
        help="list the dbt analyses (or print one's SQL)",
        description="List the dbt analyses with a one-line description; "
        "with NAME, print that analysis' runnable SQL for the published build.",
    )
    analyses.add_argument("name", nargs="?", help="an analysis to print the SQL of")
    analyses.set_defaults(func=_cmd_analyses)

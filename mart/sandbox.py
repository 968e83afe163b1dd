"""The SQL console: one read-only statement against the published mart, bounded.

Two layers, so that either alone keeps the mart and the machine safe:

1. **What is accepted** (:func:`check_sql`, before anything runs). Exactly one
   statement, and only a read:

   - ``SELECT`` in all its forms: ``WITH … SELECT``, ``FROM t``, ``VALUES``, set
     operations, and the read-only shorthands DuckDB parses as a SELECT
     (``SHOW``, ``SHOW TABLES``, ``DESCRIBE t``, ``SUMMARIZE t``);
   - ``EXPLAIN`` / ``EXPLAIN ANALYZE`` of such a SELECT;
   - ``PRAGMA`` only from :data:`READ_PRAGMAS` (table lists, table info, version).

   Everything else is refused with a plain message: writes and DDL, ``COPY``,
   ``EXPORT``, ``ATTACH``/``DETACH``, ``INSTALL``/``LOAD``, ``SET``/``RESET``/``USE``
   and ``PRAGMA x = …``, ``CALL``, transactions, ``PREPARE``/``EXECUTE``,
   ``CHECKPOINT``/``VACUUM``, ``IMPORT DATABASE``, and a ``PIVOT`` without its
   ``IN (…)`` list (DuckDB runs that as two statements; with the list it is a read).
   A SELECT that calls a file-reading table function (``read_csv``, ``read_text``,
   ``glob``, …), scans a path (``FROM '/etc/passwd'``), calls a function with a side
   effect (:data:`SIDE_EFFECT_FUNCTIONS`: checkpoints, logging, profiling, Python
   object scans) or hides SQL text in ``query('…')`` is refused too.

2. **How it runs** (:mod:`mart.db`). A cursor on a read-only connection with external
   access off and the configuration locked, so a statement that slips past layer 1
   still cannot read or write files, load extensions or loosen a setting; DuckDB's
   errors for those are translated into the same plain messages.

Bounds: at most ``row_limit`` rows come back, and fewer from a result so wide that
they would be more than :data:`MAX_CELLS` values (the query is wrapped in a LIMIT of
one row more, so a huge result is never materialised; the extra row only tells that
rows were cut), and a timer interrupts the query after ``timeout_s`` seconds.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from mart import money
from mart.db import cached_cursor, query_df
from mart.errors import SandboxError
from mart.values import csv_text, nested_as_text, normalise

DEFAULT_ROW_LIMIT = 10_000
DEFAULT_TIMEOUT_S = 10.0
#: The most rows and seconds a caller may ask for (the command line's --max-rows and
#: --timeout): a larger LIMIT overflows DuckDB's BIGINT, a longer timer Python's clock.
MAX_ROW_LIMIT = 1_000_000_000
MAX_TIMEOUT_S = 86_400.0
#: The longest SQL text accepted. DuckDB plans a statement without checking for an
#: interrupt, and planning grows faster than the text: a chain of 20,000 UNION ALLs
#: (380 KB) took 82 s and 10.7 GB before the time limit could stop it; 3,300 (64 KB)
#: take about 1.5 s.
MAX_SQL_CHARS = 65_536
#: The most list, struct and map values (in Arrow bytes) a result may hold. DuckDB
#: hands them to Python as objects, outside its memory limit and time limit: one
#: ``list(range(100000000))`` took over 8 GB, and 10 million values took 29 s to print.
MAX_NESTED_BYTES = 16_000_000
#: In the console (``max_bytes`` set), text longer than this is cut for the grid: one
#: 100 MB value crashed the browser tab.
MAX_CELL_CHARS = 10_000
#: The most values (rows × columns) a result brings back: fewer rows come back from a
#: wide one. 10,000 rows of a 6,000-column PIVOT are 60 million Python values (several
#: GB) and took minutes to print; 2 million print in about 3 s.
MAX_CELLS = 2_000_000

READ_PRAGMAS = frozenset(
    {
        "database_size",
        "show_databases",
        "show_tables",
        "show_tables_expanded",
        "table_info",
        "storage_info",
        "version",
        "platform",
        "functions",
        "metadata_info",
        "collations",
        "database_list",
        "user_agent",
    }
)
"""PRAGMAs that only read; every other PRAGMA is refused."""

# Table functions that read files (DuckDB's own and common extensions'). Any name
# starting with one of FILE_PREFIXES or ending with ``_scan`` is treated the same way
# (parquet_full_metadata and parquet_page_index were missing from the list: the
# connection refused them, with DuckDB's words, but they opened the mart's own file).
FILE_PREFIXES = ("read_", "parquet_", "iceberg_", "delta_", "st_read")
FILE_FUNCTIONS = frozenset(
    {
        "glob",
        "sniff_csv",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "parquet_bloom_probe",
        "iceberg_metadata",
        "iceberg_snapshots",
        "st_read",
        "st_read_meta",
        "load_aws_credentials",
    }
)

# Table functions that take a table's name as a string, which may also be a file's
# path (query_table('/tmp/x.csv')); refused as query() is: write the name itself.
TABLE_NAME_FUNCTIONS = frozenset({"query_table", "histogram", "histogram_values"})

# Functions callable from a SELECT that change state or run serialized plans. The locked
# configuration already stops most of them (logging, profiling, grammar extensions);
# refusing them here gives a plain message and covers the rest (checkpoints, log
# truncation, Python object scans, which need pointers SQL cannot make anyway).
SIDE_EFFECT_FUNCTIONS = frozenset(
    {
        "checkpoint",
        "force_checkpoint",
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "write_log",
        "enable_profiling",
        "disable_profiling",
        "add_grammar_extension",
        "remove_grammar_extension",
        "create_external_resource",
        "register_external_resource",
        "register_external_resource_type",
        "deregister_external_resource",
        "destroy_external_resource",
        "json_execute_serialized_sql",
        "arrow_scan",
        "arrow_scan_dumb",
        "python_arrow_scan",
        "pandas_scan",
        "python_map_function",
        "setval",
        "nextval",
    }
)

MSG_EMPTY = "Enter a SQL query: the text holds no statement (only blanks, comments or ';')."
MSG_MANY = "Only one statement at a time: the text holds {count} statements. Run them one by one."
MSG_WRITE = (
    "Writes are not allowed: the console reads the published mart only "
    "({keyword} refused). Use SELECT."
)
MSG_FILES = (
    "Reading files is not allowed in the console ({what} refused). "
    "Query the mart's tables instead (see the list of tables)."
)
MSG_ADMIN = (
    "ATTACH/INSTALL/LOAD/SET/COPY are not allowed in the console ({keyword} refused): "
    "it reads the published mart with fixed settings."
)
MSG_OTHER = "Only reads are allowed in the console ({keyword} refused). Use SELECT."
MSG_PIVOT = (
    "A PIVOT must list its values in the console: without IN (...), DuckDB first creates "
    "a type from the column's values, a second statement. Write e.g. PIVOT t ON col "
    "IN ('a', 'b') USING count(*)."
)
MSG_DEEP = (
    "The query nests its expressions too deeply to be checked (hundreds of calls inside "
    "one another). Write it with fewer levels, e.g. with a CTE for the inner part."
)
MSG_NESTED = (
    "query() is not allowed in the console: it runs SQL text that cannot be checked "
    "first. Write that query directly instead."
)
MSG_NESTED_OVER = (
    "The result holds more than the {limit:,.0f} MB of list, struct or map values the "
    "console handles. Unnest or aggregate them, or select fewer rows."
)
MSG_TABLE_NAME = (
    "{name}() is not allowed in the console: it takes a table's name as text, which may "
    "be a file's path. Write the table's name in the query itself instead."
)
MSG_MEMORY = (
    "The query needs more memory than the console gives a query (2 GB, and 4 GB more "
    "spilled to disk), so it was stopped. Filter, aggregate or LIMIT before a large sort "
    "or join, and build smaller lists and strings."
)
MSG_NOT_UTF8 = (
    "The SQL is not UTF-8 text: {shown} on line {line} cannot be read (a file saved as "
    "Latin-1 or Windows-1252?). Save it as UTF-8 and run it again."
)
MSG_TOO_LONG = (
    "The query is {length:,} characters long; the console takes up to {limit:,}. "
    "Shorten it: for a long list of values, select them from a table or use a range."
)
MSG_NESTED_TOO_BIG = (
    "The result holds about {size:,.0f} MB of list, struct or map values, more than the "
    "{limit:,.0f} MB the console handles. Unnest or aggregate them, or select fewer rows."
)
MSG_TIMEOUT = (
    "The query took longer than {seconds:g} s and was stopped. "
    "Add a WHERE or a LIMIT, or aggregate before joining."
)

_WRITE_TYPES = {
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "CREATE_FUNC",
    "DROP",
    "ALTER",
    "MERGE_INTO",
    "COPY_DATABASE",
}
_ADMIN_TYPES = {"COPY", "EXPORT", "ATTACH", "DETACH", "LOAD", "SET", "VARIABLE_SET"}

_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]+")
# EXPLAIN, and its ANALYZE or its options in parentheses ((format json), (analyze)),
# with comments between them
_EXPLAIN = re.compile(
    r"explain\b(?:(?:\s|/\*.*?\*/|--[^\n]*(?:\n|$))*(?:analy[sz]e\b|\([^()]*\)))?",
    re.IGNORECASE | re.DOTALL,
)
#: A string literal ('it''s', E'…', $tag$…$tag$): zero-width spaces inside are kept.
#: Comments and quoted names are matched too, so an apostrophe inside one (-- don't)
#: does not open a literal; zero-width spaces in them are dropped like any others.
_LITERAL = re.compile(
    r"(--[^\n]*|/\*.*?(?:\*/|$)|\"(?:[^\"]|\"\")*\"?)"
    r"|'(?:[^']|'')*'?|\$([A-Za-z_]*)\$.*?(?:\$\2\$|$)",
    re.DOTALL,
)
_PRAGMA = re.compile(r"pragma\s+(\w+)", re.IGNORECASE)
_PIVOT_WORD = re.compile(r"\bpivot\b", re.IGNORECASE)
_PATH_LIKE = re.compile(r"[/\\.:~]")


@dataclass(frozen=True)
class QueryResult:
    """What one console query returned."""

    columns: list[str]
    dataframe: pd.DataFrame
    row_count: int
    truncated: bool
    elapsed_s: float
    notice: str | None = None
    # DECIMAL columns and their scale (digits after the point): the dataframe holds
    # them as floats, and a page shows and writes them with exactly that many digits.
    decimal_places: dict[str, int] = field(default_factory=dict)
    # Columns whose values a float cannot hold exactly (a DECIMAL above about 10^13 at
    # two places, a HUGEINT): the dataframe holds them as exact Decimal and int objects.
    exact_columns: tuple[str, ...] = ()
    # DATE columns: the dataframe holds them as timestamps at midnight (pandas has no
    # date type), and a page shows them as dates (2024-01-15, not 2024-01-15 00:00:00).
    date_columns: tuple[str, ...] = ()
    # FLOAT/DOUBLE columns holding NaN or an infinity: a grid would show NaN as NULL
    # and an infinity as an empty cell, so a page shows these columns as text.
    non_finite_columns: tuple[str, ...] = ()
    # DuckDB's type of each column, as the query itself gave them (empty when the
    # statement gave no relation).
    column_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class RelationInfo:
    """A table or view of the mart, for the console's sidebar."""

    schema: str
    name: str
    type: str  # "table" or "view"
    row_count: int | None  # DuckDB's estimate for tables; None for views


def _leading_keyword(text: str) -> str:
    """The first word of ``text`` after comments and blanks, upper-cased (for messages)."""
    rest = text[_LEADING_NOISE.match(text).end() :]  # type: ignore[union-attr]
    word = _WORD.match(rest)
    return word.group(0).upper() if word else "this statement"


def _strip_leading_noise(text: str) -> str:
    return text[_LEADING_NOISE.match(text).end() :]  # type: ignore[union-attr]


def _parse(sql: str) -> list[Any]:
    """DuckDB's statements of ``sql``; a syntax error becomes a :class:`SandboxError`."""
    try:
        return list(duckdb.extract_statements(sql))
    except duckdb.Error as exc:
        raise SandboxError(_plain(exc)) from None


def _refusal_in(node: Any) -> str | None:
    """Why a serialized SELECT is refused (a file read or a side effect), if it is."""
    if isinstance(node, dict):
        name = ""
        if node.get("type") == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
        elif node.get("class") == "FUNCTION":
            name = str(node.get("function_name", "")).lower()
        if name in SIDE_EFFECT_FUNCTIONS:
            return MSG_OTHER.format(keyword=f"{name}()")
        if name == "query":
            return MSG_NESTED
        if name in TABLE_NAME_FUNCTIONS:
            # a table named by a string, which may be a file's path: query_table opened
            # the mart's own file and listed the spill folder before DuckDB's lock said no
            return MSG_TABLE_NAME.format(name=name)
        if name in FILE_FUNCTIONS or name.startswith(FILE_PREFIXES) or name.endswith("_scan"):
            return MSG_FILES.format(what=f"{name}()")
        if node.get("type") == "BASE_TABLE":
            table = str(node.get("table_name", ""))
            if _PATH_LIKE.search(table):
                return MSG_FILES.format(what=f"FROM '{table}'")
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _refusal_in(child)
        if found:
            return found
    return None


_parser_lock = threading.Lock()
_parser_connection: duckdb.DuckDBPyConnection | None = None


@contextlib.contextmanager
def _parser_cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on one in-memory database used only to parse (opening one costs ~15 ms)."""
    global _parser_connection
    with _parser_lock:
        if _parser_connection is None:
            _parser_connection = duckdb.connect(
                ":memory:", config={"enable_external_access": False}
            )
        cursor = _parser_connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def _check_select(text: str) -> None:
    """Refuse a SELECT that reads files; the connection would refuse it too."""
    with _parser_cursor() as scratch:
        (serialized,) = scratch.execute("select json_serialize_sql(?)", [text]).fetchone()
    try:
        tree = json.loads(serialized)
        if tree.get("error"):
            # Shorthands such as SHOW/DESCRIBE may not serialize; they read the catalog only.
            return
        refusal = _refusal_in(tree.get("statements", []))
    except RecursionError:
        # 400 nested calls: Python's JSON reader (and the walk) stop at about 1,000 levels
        raise SandboxError(MSG_DEEP) from None
    if refusal:
        raise SandboxError(refusal)


def _kind(statement: Any, text: str) -> str:
    """The statement's type name; one this duckdb build cannot name is refused."""
    try:
        return str(statement.type.name)
    except ValueError:  # e.g. UPDATE EXTENSIONS: type 29 has no name in the enum
        raise SandboxError(MSG_OTHER.format(keyword=_leading_keyword(text))) from None


def _trim_end(text: str) -> str:
    """``text`` without trailing comments and semicolons.

    DuckDB drops a final ``;`` itself, but not ``; -- a comment``, and a statement that
    ends in either cannot be wrapped in a LIMIT. The tokenizer knows what is a comment
    and what is inside a string, so only real trailing ones are cut.
    """
    # The tokenizer gives byte offsets into the UTF-8 text, not character indexes:
    # with 'é日本' in the statement, indexing the str went past its end (IndexError).
    data = text.encode("utf-8")
    cut = len(data)
    for position, token_type in reversed(duckdb.tokenize(text)):
        is_comment = token_type == duckdb.token_type.comment
        is_semicolon = (
            token_type == duckdb.token_type.operator and data[position : position + 1] == b";"
        )
        if not (is_comment or is_semicolon):
            break
        cut = position
    return data[:cut].decode("utf-8", errors="replace").rstrip()


_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)", re.IGNORECASE)


def _decimal_places(relation: duckdb.DuckDBPyRelation) -> dict[str, int]:
    """{column: scale} of the relation's DECIMAL columns."""
    places = {}
    for name, kind in zip(relation.columns, relation.types, strict=True):
        match = _DECIMAL.fullmatch(str(kind))
        if match:
            places[str(name)] = int(match.group(2))
    return places


def _date_columns(relation: duckdb.DuckDBPyRelation) -> tuple[str, ...]:
    """The relation's DATE columns."""
    return tuple(
        dict.fromkeys(
            str(name)
            for name, kind in zip(relation.columns, relation.types, strict=True)
            if str(kind) == "DATE"
        )
    )


def _row_bytes(frame: pd.DataFrame) -> pd.Series:
    """About how many bytes each row's values take (text by its length, else 8)."""
    total = pd.Series(0, index=frame.index, dtype="int64")
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            total += 8
        else:
            total += values.map(lambda value: 8 if value is None else len(str(value))).astype(
                "int64"
            )
    return total


# Integers up to 2^53 survive a float; DuckDB hands wide numbers to pandas as floats.
_FLOAT_EXACT = 2**53
_WIDE_INTEGERS = {"BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT"}


def _float_limits(relation: duckdb.DuckDBPyRelation) -> dict[int, float]:
    """{column position: the magnitude from which a float may change its value} for the
    columns pandas may hold as floats with lost digits: DECIMALs wider than 15 digits
    (a float keeps 15 significant digits: at two places, below 10^13) and 64- and
    128-bit integers (below 2^53)."""
    limits = {}
    for position, kind in enumerate(relation.types):
        text = str(kind).upper()
        match = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", text)
        if match and int(match.group(1)) > 15:
            limits[position] = float(10 ** (15 - int(match.group(2))))
        elif text in _WIDE_INTEGERS:
            limits[position] = float(_FLOAT_EXACT)
    return limits


#: DuckDB's types whose values pandas holds as floats, NaN and infinities included.
FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE"})


def _non_finite(values: pd.Series) -> bool:
    """Whether ``values`` (a FLOAT/DOUBLE column of a _frame, NULL as None) hold NaN or
    an infinity."""
    return any(
        isinstance(v, (float, np.floating)) and not math.isfinite(v)
        for v in values
        if v is not None
    )


def non_finite_text(value: Any) -> Any:
    """A FLOAT/DOUBLE value as a grid or a CSV shows it when its column holds NaN or an
    infinity: None (NULL) stays None, numbers become their text (nan, inf, 1.5)."""
    if value is None:
        return None
    if isinstance(value, np.floating):
        return str(value)  # the shortest text of its own precision: float32 1.1 is 1.1
    return repr(float(value))


def _frame(relation: duckdb.DuckDBPyRelation) -> tuple[pd.DataFrame, list[int]]:
    """The relation's rows, and the positions of the columns that hold exact Python
    objects (Decimal, int) because a float would change their values.

    Types NumPy cannot hold (UHUGEINT, …) come as Python objects. A DECIMAL or a wide
    integer that pandas got as floats is fetched again, exactly, when one of its values
    is too large for a float (only then: it runs the query a second time)."""
    # pandas holds NULL in a FLOAT/DOUBLE column as NaN, like NaN itself (`select
    # 'nan'::double` showed NULL): the same run also says which values are NULL, and a
    # column holding one becomes objects, None for NULL, so NaN stays NaN.
    floats = [i for i, kind in enumerate(relation.types) if str(kind) in FLOAT_TYPES]
    # An INTERVAL reaches pandas as a Timedelta, months turned into 30 days each
    # (`interval 5 year` printed as "1800 days"): DuckDB's own text is fetched instead.
    # A BIT reaches Python as DuckDB's inner bytes ('101'::bit printed as \x05fd): its
    # text (101) is fetched the same way.
    intervals = [i for i, kind in enumerate(relation.types) if str(kind) in ("INTERVAL", "BIT")]
    width = len(relation.columns)
    # Types NumPy cannot hold (UHUGEINT, BIGNUM, also inside a list), and lists or maps
    # of DECIMALs or HUGEINTs, which reach pandas as floats ([33.41, 136.9], [1e+16]):
    # fetched in the same run as JSON text, read back exactly (Decimal, int). A second
    # run pasted beside the first paired values with other rows when the order of rows
    # differed between runs (a GROUP BY without ORDER BY).
    exact_json = [
        i
        for i, kind in enumerate(relation.types)
        if re.search(r"UHUGEINT|BIGNUM|VARINT", str(kind))
        or (
            getattr(kind, "id", "") in ("list", "array", "map")
            and re.search(r"DECIMAL|HUGEINT", str(kind))
        )
    ]

    def fetch_frame() -> pd.DataFrame:
        tag = uuid.uuid4().hex
        own = [
            # (an interval's, a BIT's, an exact column's value comes as text below)
            f'NULL as "_mart_{tag}_u{i}"' if i in exact_json or i in intervals else f"#{i + 1}"
            for i in range(width)
        ]
        if not (floats or intervals or exact_json):
            return relation.df()
        fetched = relation.project(
            ", ".join(
                own
                + [f'#{i + 1} is null as "_mart_{tag}_{i}"' for i in floats]
                + [f'cast(#{i + 1} as varchar) as "_mart_{tag}_t{i}"' for i in intervals]
                + [f'to_json(#{i + 1})::varchar as "_mart_{tag}_j{i}"' for i in exact_json]
            )
        ).df()
        fetched.columns = [*relation.columns, *fetched.columns[width:]]
        return fetched

    try:
        frame = fetch_frame()
    except duckdb.ConversionException:
        # an infinite DATE ('infinity'::date) has no NumPy time: DATE columns as text
        intervals += [
            i for i, kind in enumerate(relation.types) if str(kind) == "DATE" and i not in intervals
        ]
        frame = fetch_frame()
    except duckdb.NotImplementedException:
        # another type NumPy cannot hold: every value as a Python object, from one run
        return pd.DataFrame(relation.fetchall(), columns=relation.columns, dtype=object), list(
            range(width)
        )
    if floats or intervals or exact_json:
        nulls = frame.iloc[:, width : width + len(floats)].to_numpy(dtype=bool)
        texts = frame.iloc[:, width + len(floats) : width + len(floats) + len(intervals)]
        jsons = frame.iloc[:, width + len(floats) + len(intervals) :]
        frame = frame.iloc[:, :width].copy()
        for k, position in enumerate(intervals):
            frame.isetitem(
                position,
                pd.Series(
                    [None if pd.isna(v) else str(v) for v in texts.iloc[:, k]],
                    index=frame.index,
                    dtype=object,
                ),
            )
        for k, position in enumerate(exact_json):
            frame.isetitem(
                position,
                pd.Series(
                    [
                        None if pd.isna(v) else json.loads(str(v), parse_float=Decimal)
                        for v in jsons.iloc[:, k]
                    ],
                    index=frame.index,
                    dtype=object,
                ),
            )
        for k, position in enumerate(floats):
            if nulls[:, k].any():
                # objects of the column's own type: FLOAT's float32 1.1 stays 1.1 (as
                # a Python float it is 1.100000023841858)
                values = pd.Series(
                    list(frame.iloc[:, position].to_numpy()), index=frame.index, dtype=object
                )
                values[nulls[:, k]] = None
                frame.isetitem(position, values)
    lossy = list(exact_json)
    refetch = []
    for position, limit in _float_limits(relation).items():
        values = frame.iloc[:, position]
        if pd.api.types.is_float_dtype(values) and bool((values.abs() >= limit).any()):
            refetch.append(position)
    if refetch:
        rows = relation.fetchall()
        for position in refetch:
            frame.isetitem(
                position,
                pd.Series([row[position] for row in rows], index=frame.index, dtype=object),
            )
    return frame, lossy + refetch


_NESTED_IDS = frozenset({"list", "array", "struct", "map", "union"})


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bytes_sql(expr: str, kind: Any, depth: int = 0) -> str:
    """SQL for about how many bytes the value ``expr`` of DuckDB type ``kind`` takes
    (8 per number or offset, text by its length), computed inside DuckDB."""
    kind_id = getattr(kind, "id", "")
    if kind_id in ("varchar", "blob", "bit"):
        # strlen counts a string's bytes; a cast to BLOB, which did too, refused any
        # text with a non-ASCII character or a backslash (['café'] failed the query)
        return (
            f"coalesce(strlen({expr}), 0)"
            if kind_id == "varchar"
            else (f"coalesce(octet_length({expr}), 0)")
        )
    if kind_id in ("list", "array"):
        child = kind.children[0][1]
        items = f"8 * coalesce(len({expr}), 0)"
        if getattr(child, "id", "") not in _NESTED_IDS | {"varchar", "blob", "bit"}:
            return items
        name = f"v{depth}"
        inner = _bytes_sql(name, child, depth + 1)
        return f"{items} + coalesce(list_sum(list_transform({expr}, lambda {name}: {inner})), 0)"
    if kind_id == "struct":
        parts = [
            _bytes_sql(
                f"struct_extract({expr}, '{field.replace(chr(39), chr(39) * 2)}')", sub, depth + 1
            )
            for field, sub in kind.children
        ]
        return " + ".join(parts) or "0"
    if kind_id == "union":
        # one member holds the value; the others are NULL and count nothing (union
        # values counted 8 bytes, and a 26 MB list inside one went through)
        parts = [
            _bytes_sql(
                f"union_extract({expr}, '{tag.replace(chr(39), chr(39) * 2)}')", sub, depth + 1
            )
            for tag, sub in kind.children
            if tag  # the union's own tag
        ]
        return " + ".join(parts) or "0"
    if kind_id == "map":
        (_, key), (_, value) = kind.children
        keys = duckdb.list_type(key)
        values = duckdb.list_type(value)
        return (
            f"({_bytes_sql(f'map_keys({expr})', keys, depth + 1)}) + "
            f"({_bytes_sql(f'map_values({expr})', values, depth + 1)})"
        )
    return "8"


def _check_nested_size(relation: duckdb.DuckDBPyRelation) -> None:
    """Refuse a result whose list, struct or map values are too large to hand to Python
    (:data:`MAX_NESTED_BYTES`). Their size is summed inside DuckDB, under its memory
    and time limits, before any of it is fetched: Python gets nothing of a result that
    is too large (``list(range(100000000))`` took over 7 GB as Arrow and Python objects,
    past the time limit, when it was measured after fetching)."""
    sizes = [
        _bytes_sql(_quote(str(name)), kind)
        for name, kind in zip(relation.columns, relation.types, strict=True)
        if getattr(kind, "id", "") in _NESTED_IDS
    ]
    if not sizes:
        return
    [(size,)] = relation.aggregate(f"coalesce(sum({' + '.join(sizes)}), 0)::DOUBLE").fetchall()
    if size > MAX_NESTED_BYTES:
        raise SandboxError(MSG_NESTED_TOO_BIG.format(size=size / 1e6, limit=MAX_NESTED_BYTES / 1e6))


def _holds_more(value: Any) -> bool:
    """A value a list or struct holds that counts more than its 8 bytes."""
    return isinstance(value, (str, bytes, bytearray, dict, list, tuple, np.ndarray))


def _fetched_nested_bytes(frame: pd.DataFrame, positions: list[int], budget: int) -> int:
    """About how many bytes the fetched values of the nested columns at ``positions``
    take, counted as :func:`_bytes_sql` counts them, stopping once past ``budget``.

    The count inside DuckDB runs before the fetch, as a query of its own: a query whose
    values differ between two runs (``random()``, ``current_query()``) passed it small
    and came back large; this count of what came back closes that gap."""
    total = 0
    stack: list[Any] = []
    for position in positions:
        stack.extend(frame.iloc[:, position].tolist())
        while stack:
            value = stack.pop()
            if isinstance(value, str):
                total += len(value.encode("utf-8", "surrogatepass"))
            elif isinstance(value, (bytes, bytearray)):
                total += len(value)
            elif isinstance(value, dict):
                # a struct: its fields' values (8 for a number), as _bytes_sql counts
                for item in value.values():
                    if _holds_more(item):
                        stack.append(item)
                    else:
                        total += 8
            elif isinstance(value, (list, tuple, np.ndarray)):
                # 8 per item, and what an item holds beyond that (text, lists)
                total += 8 * len(value)
                items = value.tolist() if isinstance(value, np.ndarray) else value
                if isinstance(value, np.ndarray) and value.dtype != object:
                    items = []
                stack.extend(item for item in items if _holds_more(item))
            else:
                total += 8
            if total > budget:
                return total
    return total


def _cut_long_text(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``frame`` with text longer than :data:`MAX_CELL_CHARS` cut (ending in …), and
    how many values were cut."""
    cut = 0
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        if values.map(lambda value: isinstance(value, (bytes, bytearray, memoryview))).any():
            # a BLOB as the text query prints (\x6162…), which the grid and the CSV can
            # show (they wrote bytearray(b'ab…')); a 250 MB one was never cut
            values = values.map(
                lambda value: (
                    normalise(bytes(value[: MAX_CELL_CHARS // 2 + 1]))
                    if isinstance(value, (bytes, bytearray, memoryview))
                    else value
                )
            )
            if cut == 0:
                frame = frame.copy()
            frame.isetitem(position, values)
        long = values.map(lambda value: isinstance(value, str) and len(value) > MAX_CELL_CHARS)
        count = int(long.sum())
        if count:
            if cut == 0:
                frame = frame.copy()
            frame.isetitem(
                position,
                values.where(~long, values[long].map(lambda v: v[:MAX_CELL_CHARS] + "…")),
            )
            cut += count
    return frame, cut


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def result_csv(result: QueryResult) -> bytes:
    """The console's CSV download of ``result``: safe for a spreadsheet, DECIMAL columns
    written with their scale (212.50, not 212.5), a FLOAT/DOUBLE NaN or infinity as
    ``nan`` or ``inf`` (they were empty, like a NULL, which stays an empty field), and
    lists, structs and maps as ``query`` prints them (``[1.5, nan, null]``)."""
    out = nested_as_text(spreadsheet_safe(result.dataframe))
    for column in result.non_finite_columns:
        if column in out.columns:
            out[column] = out[column].map(non_finite_text)
    for column, places in result.decimal_places.items():
        if column in out.columns:
            out[column] = out[column].map(
                lambda value, places=places: "" if pd.isna(value) else f"{value:.{places}f}"
            )
    return csv_text(out).encode("utf-8")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` for a CSV meant for a spreadsheet: text that starts with ``= + - @``
    (or a tab or carriage return) gets a leading ``'``, so ``=HYPERLINK(…)`` from the
    data is shown as text, not run as a formula (OWASP's CSV injection advice). Numbers
    stay numbers; only text cells change."""
    out = frame.copy()
    for position in range(out.shape[1]):
        values = out.iloc[:, position]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        risky = values.map(
            lambda value: isinstance(value, str) and value.lstrip(" ").startswith(_FORMULA_START)
        )
        if bool(risky.any()):
            out.isetitem(position, values.where(~risky, "'" + values[risky].astype(str)))
    out.columns = [
        "'" + str(name) if str(name).lstrip(" ").startswith(_FORMULA_START) else name
        for name in out.columns
    ]
    return out


def _check_text(sql: str) -> None:
    """Refuse SQL that is not Unicode text: bytes that are not UTF-8 reach here as lone
    surrogates (the command line's argument or stdin, a Latin-1 .sql file), which the
    SQL parser cannot take."""
    for position, char in enumerate(sql):
        if "\ud800" <= char <= "\udfff":
            code = ord(char)
            shown = f"byte 0x{code - 0xDC00:02X}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
            line = sql.count("\n", 0, position) + 1
            raise SandboxError(MSG_NOT_UTF8.format(shown=shown, line=line))


def _drop_zero_width(sql: str) -> str:
    """``sql`` without the zero-width spaces outside its string literals (a name copied
    from the app carries them); inside a literal they are the user's ('a\u200bb' = 'ab'
    was true)."""
    if "\u200b" not in sql:
        return sql
    out, end = [], 0
    for literal in _LITERAL.finditer(sql):
        out.append(sql[end : literal.start()].replace("\u200b", ""))
        kept = literal.group(0)
        out.append(kept.replace("\u200b", "") if literal.group(1) else kept)
        end = literal.end()
    out.append(sql[end:].replace("\u200b", ""))
    return "".join(out)


def _accept(sql: str) -> tuple[str, str]:
    """The kind and the text of the one read-only statement in ``sql``; else refuse.

    Zero-width spaces are removed first: the app puts them after the underscores of
    long names so they wrap (the sidebar's failing tests, the Docs tables), and a name
    copied from there into the console gave "syntax error at or near stg_"."""
    sql = _drop_zero_width(sql or "")
    if not sql or not sql.strip():
        raise SandboxError(MSG_EMPTY)
    if len(sql) > MAX_SQL_CHARS:
        raise SandboxError(MSG_TOO_LONG.format(length=len(sql), limit=MAX_SQL_CHARS))
    _check_text(sql)
    statements = _parse(sql)
    if not statements:
        raise SandboxError(MSG_EMPTY)
    if len(statements) > 1:
        raise SandboxError(MSG_MANY.format(count=len(statements)))
    text = _trim_end(statements[0].query)
    kind = _kind(statements[0], text)
    keyword = _leading_keyword(text)
    if kind == "SELECT":
        _check_select(text)
        return "SELECT", text
    if kind == "EXPLAIN":
        body = _strip_leading_noise(text)
        explained = _EXPLAIN.match(body)
        inner = _parse(body[explained.end() :]) if explained else []
        if len(inner) != 1 or _kind(inner[0], text) != "SELECT":
            raise SandboxError(MSG_OTHER.format(keyword="EXPLAIN of anything but SELECT"))
        _check_select(inner[0].query)
        return "EXPLAIN", text
    if kind == "PRAGMA":
        pragma = _PRAGMA.match(_strip_leading_noise(text))
        if not pragma:  # IMPORT DATABASE is a PRAGMA inside DuckDB
            raise SandboxError(MSG_ADMIN.format(keyword=keyword))
        name = pragma.group(1).lower()
        if name in READ_PRAGMAS:
            return "PRAGMA", text
        raise SandboxError(MSG_OTHER.format(keyword=f"PRAGMA {name}"))
    if kind in _WRITE_TYPES:
        # "WITH x AS (…) INSERT …": name the write, not the WITH in front of it
        raise SandboxError(MSG_WRITE.format(keyword=kind if keyword == "WITH" else keyword))
    if kind in _ADMIN_TYPES:
        raise SandboxError(MSG_ADMIN.format(keyword=keyword))
    if _PIVOT_WORD.search(text):
        raise SandboxError(MSG_PIVOT)
    raise SandboxError(MSG_OTHER.format(keyword=keyword))


def check_sql(sql: str) -> str:
    """Accept one read-only statement or raise :class:`SandboxError` saying why not.

    Returns the kind accepted: ``"SELECT"``, ``"EXPLAIN"`` or ``"PRAGMA"``.
    """
    return _accept(sql)[0]


def _plain(exc: BaseException) -> str:
    """DuckDB's message for ``exc``, with the parts that only make sense to us replaced."""
    message = str(exc).strip()
    if isinstance(exc, duckdb.PermissionException) or "disabled by configuration" in message:
        return MSG_FILES.format(what="file access")
    if isinstance(exc, duckdb.OutOfMemoryException) or message.startswith("Out of Memory"):
        return MSG_MEMORY
    if "configuration has been locked" in message:
        return MSG_ADMIN.format(keyword="SET")
    if "attached in read-only mode" in message or "read-only mode" in message:
        return MSG_WRITE.format(keyword="a write")
    # DuckDB's advice to change a setting cannot be taken here: SET is refused.
    advice = re.search(r'\s*Use "?SET [^"]*"? to [^.]*\.?', message)
    if advice:
        message = (
            message[: advice.start()]
            + " Settings cannot be changed in the console: simplify the query instead."
            + message[advice.end() :]
        )
    return message or type(exc).__name__


def run_sql(
    db_path: str | os.PathLike[str],
    sql: str,
    *,
    row_limit: int = DEFAULT_ROW_LIMIT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int | None = None,
) -> QueryResult:
    """Run one read-only statement on the mart at ``db_path``, bounded in rows and time.

    ``max_bytes`` also cuts the rows at about that much text (the app's console: a
    browser takes seconds to draw 100 MB of 10,000 long strings); None: no such cut.

    Raises :class:`SandboxError` for a refused statement, a SQL error (DuckDB's own
    message) or a query stopped at the time limit; :class:`NotFoundError` when there
    is no file at ``db_path``.
    """
    if (
        isinstance(row_limit, bool)
        or not isinstance(row_limit, int)
        or not 1 <= row_limit <= MAX_ROW_LIMIT
    ):
        raise SandboxError(
            f"The row limit must be a whole number from 1 to {MAX_ROW_LIMIT:,}, not {row_limit!r}."
        )
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise SandboxError(
            f"The time limit must be more than 0 and at most {MAX_TIMEOUT_S:,.0f} s, "
            f"not {timeout_s!r} s."
        )
    _, statement = _accept(sql)
    started = time.perf_counter()
    with cached_cursor(db_path) as cursor:
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            # The query may have finished and the cursor closed meanwhile.
            with contextlib.suppress(duckdb.Error):
                cursor.interrupt()

        timer = threading.Timer(timeout_s, stop)
        timer.daemon = True
        timer.start()
        wrapped = False
        try:
            relation = cursor.sql(statement)
            wrapped = relation is not None
            rows_fit = (
                row_limit
                if relation is None
                else min(row_limit, max(1, MAX_CELLS // max(1, len(relation.columns))))
            )
            limited = None if relation is None else relation.limit(rows_fit + 1)
            if limited is not None:
                _check_nested_size(limited)
            frame, exact = (pd.DataFrame(), []) if limited is None else _frame(limited)
            if limited is not None:
                nested = [
                    i
                    for i, kind in enumerate(limited.types)
                    if getattr(kind, "id", "") in _NESTED_IDS
                ]
                if nested:
                    size = _fetched_nested_bytes(frame, nested, MAX_NESTED_BYTES)
                    if size > MAX_NESTED_BYTES:
                        raise SandboxError(MSG_NESTED_OVER.format(limit=MAX_NESTED_BYTES / 1e6))
            decimals = {} if limited is None else _decimal_places(limited)
            dates = () if limited is None else _date_columns(limited)
            # an infinite DATE made its column text (see _frame): not shown as a date
            dates = tuple(
                column
                for column in dates
                if column in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[column])
            )
            float_positions = (
                []
                if limited is None
                else [i for i, kind in enumerate(limited.types) if str(kind) in FLOAT_TYPES]
            )
            kinds = () if limited is None else tuple(str(kind) for kind in limited.types)
        except duckdb.Error as exc:
            if timed_out.is_set() or isinstance(exc, duckdb.InterruptException):
                raise SandboxError(MSG_TIMEOUT.format(seconds=timeout_s)) from None
            message = _plain(exc)
            raise SandboxError(
                _user_line_numbers(message, statement) if wrapped else message
            ) from None
        finally:
            timer.cancel()
            timer.join()
    elapsed = time.perf_counter() - started
    truncated = len(frame) > rows_fit
    if truncated:
        frame = frame.iloc[:rows_fit]
    notice = None
    if truncated and rows_fit < row_limit:
        notice = (
            f"Showing the first {rows_fit:,} rows: the result has more, and with "
            f"{frame.shape[1]:,} columns at most {MAX_CELLS:,} values come back at once. "
            "Select fewer columns, or add a WHERE or a LIMIT."
        )
    elif truncated:
        notice = (
            f"Showing the first {row_limit:,} rows: the result has more and the rest were "
            "cut. Add a WHERE, a LIMIT or an aggregate to see what you need."
        )
    if max_bytes is not None and len(frame):
        frame, cut = _cut_long_text(frame)
        cut_note = (
            f"Values longer than {MAX_CELL_CHARS:,} characters are cut here, marked … "
            f"({cut:,} in the result; the CSV download holds them cut too); "
            "`python -m mart query` shows them whole."
            if cut
            else None
        )
        sizes = _row_bytes(frame).cumsum()
        if int(sizes.iloc[-1]) > max_bytes:
            keep = max(1, int((sizes <= max_bytes).sum()))
            frame = frame.iloc[:keep]
            truncated = True
            notice = (
                f"Showing the first {keep:,} rows: the result holds about "
                f"{int(sizes.iloc[-1]) / 1e6:,.0f} MB of values"
                + (" after cutting long ones" if cut else "")
                + f", more than the {max_bytes / 1e6:,.0f} MB the console shows (its CSV "
                "download holds the same rows; `python -m mart query --format csv` has no "
                "size limit). Select fewer or shorter columns, or fewer rows."
            )
        # Both notices when both happened: rows cut, and long values cut.
        notice = " ".join(filter(None, [notice, cut_note])) or None
    return QueryResult(
        columns=[str(column) for column in frame.columns],
        dataframe=frame,
        row_count=len(frame),
        truncated=truncated,
        elapsed_s=elapsed,
        notice=notice,
        decimal_places=decimals,
        exact_columns=tuple(dict.fromkeys(str(frame.columns[position]) for position in exact)),
        date_columns=dates,
        column_types=kinds,
        non_finite_columns=tuple(
            dict.fromkeys(
                str(frame.columns[position])
                for position in float_positions
                if position < frame.shape[1] and _non_finite(frame.iloc[:, position])
            )
        ),
    )


def display_frame(result: QueryResult) -> pd.DataFrame:
    """The result for a browser grid, which holds numbers as floats: the exact columns
    become their exact text (DECIMALs with their scale), so no digit changes on screen.
    Lists, structs and maps are shown as the text ``query`` prints (``[1.5, nan, null]``):
    the grid drew a list's NULL as 0 (NumPy's masked filler), its NaN and -inf as empty
    pills, and a struct of them as ``{}``; and Arrow, which carries the grid's data,
    takes only text map keys (``map {1: 2}`` went to the log as a traceback)."""
    frame = money.exact_text(result.dataframe) if result.exact_columns else result.dataframe
    if result.non_finite_columns:
        frame = frame.copy()
        for position in range(frame.shape[1]):
            if str(frame.columns[position]) in result.non_finite_columns:
                frame.isetitem(position, frame.iloc[:, position].map(non_finite_text))
    return nested_as_text(frame)


_LINE = re.compile(r"\bLINE (\d+):")


def _user_line_numbers(message: str, statement: str) -> str:
    """Line numbers of an error raised while the LIMIT-wrapped query ran, as lines of
    the user's statement.

    DuckDB runs ``relation.limit(n)`` as ``WITH … AS (\nSELECT * FROM (\n<query>…``,
    where <query> starts at its first non-blank character: a conversion error on the
    user's line 1 says LINE 3, and blank lines before the query are not counted.
    Errors found while parsing or binding (before the wrapper) are left as they are.
    """
    leading = statement[: len(statement) - len(statement.lstrip())].count("\n")

    def shift(match: re.Match[str]) -> str:
        line = int(match.group(1)) - 2 + leading
        return f"LINE {line}:" if line >= 1 else match.group(0)

    return _LINE.sub(shift, message)


def list_relations(db_path: str | os.PathLike[str]) -> list[RelationInfo]:
    """The mart's tables and views (not DuckDB's internal ones), by schema then name."""
    frame = query_df(
        db_path,
        """
        select schema_name, table_name as name, 'table' as type, estimated_size as row_count
        from duckdb_tables()
        where not internal and not temporary and database_name = current_database()
        union all
        select schema_name, view_name, 'view', null
        from duckdb_views()
        where not internal and not temporary and database_name = current_database()
        order by schema_name = 'main' desc, schema_name, name
        """,
    )
    return [
        RelationInfo(
            schema=str(row.schema_name),
            name=str(row.name),
            type=str(row.type),
            row_count=None if pd.isna(row.row_count) else int(row.row_count),
        )
        for row in frame.itertuples(index=False)
    ]


EXAMPLE_QUERIES: dict[str, str] = {
    "Top 10 customers by lifetime value": """\
select
    customer_id,
    customer_segment,
    favorite_category,
    transaction_count,
    lifetime_value,
    avg_order_value,
    days_since_last_purchase
from main.fct_customer_metrics
order by lifetime_value desc, customer_id
limit 10""",
    "Customers and revenue by segment": """\
-- The mart's segment table. DuckDB's avg() of a DECIMAL is a DOUBLE, and rounding
-- it can miss a cent (150.015 -> 150.01): the mart computes averages exactly.
select
    customer_segment,
    customer_count as customers,
    total_revenue as revenue,
    avg_lifetime_value,
    avg_order_value
from main.fct_segment_behaviour
order by segment_order""",
    "Monthly revenue": """\
select
    transaction_month,
    count(*) as transactions,
    count(distinct customer_id) as customers,
    sum(amount) as revenue
from main.fct_transactions
group by transaction_month
order by transaction_month""",
    "Cohort retention": """\
select
    cohort_month,
    months_since_first_purchase,
    cohort_size,
    active_customers,
    retention_rate
from main.fct_cohort_retention
order by cohort_month, months_since_first_purchase""",
    "Revenue by category": """\
select
    product_category,
    count(*) as transactions,
    sum(amount) as revenue
from main.fct_transactions
group by product_category
order by revenue desc""",
    "Tables in the mart": "show all tables",
}
"""Read queries against the mart for the console's examples menu, by title."""

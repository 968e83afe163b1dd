"""Query results' values as plain Python values and as text, for every place that
shows a result: ``query``'s table, CSV and JSON (:mod:`mart.cli_query`) and the SQL
console's grid and CSV download (:mod:`mart.sandbox`).

- DECIMAL values keep their scale; DATE values print as ``2024-01-15``, timestamps as
  ISO 8601 (DuckDB's infinite ones as ``infinity``).
- A FLOAT/DOUBLE NaN in a column of its own, and any NaN inside a list, struct or map,
  is NaN itself; NULL is None.
- Lists, structs and maps are written as one line of JSON-like text, with ``nan``,
  ``inf`` and ``-inf`` where JSON would need ``null`` (:func:`nested_text`).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

FLOAT_KINDS = ("FLOAT", "DOUBLE")  # DuckDB's types whose NaN is a value, not a NULL

DECIMAL_TYPE = re.compile(r"DECIMAL\(\s*\d+\s*,\s*(\d+)\s*\)", re.IGNORECASE)
_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


#: DuckDB's infinity and -infinity timestamps, in microseconds: pandas holds them as the
#: years 294247 and -290308, which were printed as such.
_INFINITE_MICROS = {np.iinfo(np.int64).max: "infinity", -np.iinfo(np.int64).max: "-infinity"}


def _timestamp_text(value: pd.Timestamp, date_only: bool) -> str:
    """ISO text of a timestamp (its date for a DATE column), ``infinity`` for DuckDB's
    infinite ones, and for years Python's datetime cannot hold (294247-01-10 raised
    NotImplementedError) text built from its parts."""
    micros = int(value.asm8.astype("datetime64[us]").astype(np.int64))
    if micros in _INFINITE_MICROS:
        return _INFINITE_MICROS[micros]
    try:
        return value.date().isoformat() if date_only else value.isoformat()
    except (NotImplementedError, ValueError, OverflowError):
        text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        if date_only:
            return text
        text += f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
        return text + (f".{value.microsecond:06d}" if value.microsecond else "")


def normalise(value: Any, column_type: str | None = None, nested: bool = False) -> Any:
    """A cell as a plain Python value: None, bool, int, float, Decimal, str, list, dict.

    ``column_type`` is DuckDB's type of the column when known; it restores a DECIMAL's
    scale and tells a DATE from a TIMESTAMP. ``nested``: a value inside a list, struct
    or map, where a NULL comes masked or as None, so a NaN is NaN itself.
    """
    if value is np.ma.masked:
        return None
    if isinstance(value, np.ma.MaskedArray):  # a list with a NULL in it: [1, NULL]
        mask = np.ma.getmaskarray(value)
        return [
            None if gone else normalise(item, nested=True)
            for item, gone in zip(value.data, mask, strict=True)
        ]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [normalise(item, nested=True) for item in list(value)]
    if isinstance(value, dict):
        return {str(key): normalise(item, nested=True) for key, item in value.items()}
    kind = (column_type or "").upper()
    if (
        isinstance(value, (float, np.floating))
        and math.isnan(value)
        and (nested or kind in FLOAT_KINDS)
    ):
        # the sandbox gives NULL in such a column as None, and a list's NULL comes
        # masked: this is NaN itself ([1.5, nan] printed as [1.5, null])
        return float(value)
    if _is_missing(value):
        return None
    # inside a list, pandas leaves NumPy's own times; a timedelta64 is a NumPy integer,
    # and `[interval 1 month]` ended in "internal error" as one
    if isinstance(value, np.timedelta64):
        value = pd.Timedelta(value)
    elif isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    decimal = DECIMAL_TYPE.fullmatch(kind)
    if isinstance(value, Decimal):
        return value
    if decimal and isinstance(value, (int, float, np.integer, np.floating)):
        scale = int(decimal.group(1))
        return Decimal(f"{float(value):.{scale}f}")
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if kind in _INTEGER_TYPES and float(value).is_integer():
            return int(value)
        if kind == "FLOAT":  # float32's shortest text: 1.1, not 1.100000023841858
            return float(str(np.float32(value)))
        return float(value)
    if isinstance(value, pd.Timestamp):
        return _timestamp_text(value, kind == "DATE")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, str) else str(value)


def json_value(value: Any, strict: bool = True) -> str:
    """``value`` as JSON text; ``strict=False`` (a list or struct in a table or CSV cell)
    writes a NaN or infinity as ``nan``, ``inf``, ``-inf`` instead of JSON's ``null``,
    which is how the cell itself shows one."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else "null"
    if isinstance(value, float):
        if math.isfinite(value):
            return json.dumps(value)
        return "null" if strict else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(json_value(item, strict) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{json.dumps(key, ensure_ascii=False)}: {json_value(item, strict)}"
                for key, item in value.items()
            )
            + "}"
        )
    return json.dumps(str(value), ensure_ascii=False)


def nested_text(value: Any) -> str:
    """A list, struct or map as one line of text, as ``query`` prints it in a table or
    CSV cell: ``[1.5, nan, null]``, ``{"a": 1}`` (the console's CSV download wrote
    NumPy's ``[1.5 nan --]`` and Python's ``{'a': None}``)."""
    return json_value(normalise(value), strict=False)


def is_nested(value: Any) -> bool:
    """A LIST, ARRAY, STRUCT or MAP value as a result frame holds it."""
    return isinstance(value, (list, tuple, dict, np.ndarray))


def nested_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every list, struct and map written as :func:`nested_text` (other
    values unchanged); the frame itself when it holds none."""
    positions = [
        position
        for position in range(frame.shape[1])
        if frame.iloc[:, position].dtype == object and frame.iloc[:, position].map(is_nested).any()
    ]
    if not positions:
        return frame
    out = frame.copy()
    for position in positions:
        out.isetitem(
            position,
            out.iloc[:, position].map(lambda v: nested_text(v) if is_nested(v) else v),
        )
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV with a header row, lines ended by LF; by CRLF when a value holds
    a carriage return, so that value is quoted (pandas quotes a field holding its line
    ending only: ``a\rb`` went out bare and read back as two lines)."""
    has_cr = any(
        frame.iloc[:, position].map(lambda v: isinstance(v, str) and "\r" in v).any()
        for position in range(frame.shape[1])
        if not pd.api.types.is_numeric_dtype(frame.iloc[:, position])
    ) or any("\r" in str(column) for column in frame.columns)
    return frame.to_csv(index=False, lineterminator="\r\n" if has_cr else "\n")

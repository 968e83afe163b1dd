"""Reading user files into canonical raw records, with a validation report.

Canonical schema (what every stored record holds; see ``mart.datasets`` for the
stored format)::

    transactions                          events
    ------------                          ------
    transaction_id    string (generated)  event_id          string (generated)
    customer_id       string  REQUIRED    customer_id       string    REQUIRED
    transaction_date  "YYYY-MM-DD" REQ.   session_id        string
    amount            decimal(18,2) REQ.  event_type        string    REQUIRED
    product_category  string ("Unknown")  event_timestamp   "YYYY-MM-DDTHH:MM:SS" REQUIRED
                                          product_category  string

A field with no column is generated (the id: ``T-``/``E-`` plus a hash of the source
row's content, plus ``-<n>`` for the n-th identical row, so loading the same file again
gives the same ids), defaulted (``product_category`` of a transaction is "Unknown";
``--default FIELD=VALUE`` gives any other constant) or null. Every other column of the
file is kept in the raw record under its own name (``source_<name>`` when the name is
a canonical field that was mapped from another column).

Formats: CSV/TSV (delimiter sniffed among ``, ; TAB |``; double-quote quoting; UTF-8
with or without BOM, UTF-16 with BOM, else cp1252/latin-1), JSON (an array of objects
or one object per line) and Parquet. Files are read by DuckDB with every column as
VARCHAR, so ``"00042"`` stays ``"00042"``; a million-row file loads in seconds.

Values:

* dates and timestamps: ISO (``2024-01-15``, ``2024-01-15 10:00:00``,
  ``2024-01-15T10:00:00``) and the unambiguous ``2024/01/15``, ``20240115``,
  ``15 Jan 2024``, ``Jan 15, 2024`` are detected, and ISO's basic ``20240115T234012Z``,
  JavaScript's ``Mon Jan 15 2024 23:40:12 GMT+0100 (…)`` and long dates with a weekday
  (``Monday, 15 January 2024``, checked against the date) through ISO text.
  ``15/01/2024`` could be day/month or month/day, so such values need a date format
  (strptime syntax as DuckDB uses it, e.g. ``%d/%m/%Y``, or spreadsheet letters,
  ``dd/mm/yyyy``) unless a day above 12 in
  the column settles the order. A date field also accepts a timestamp (its date is
  kept). The report lists, per kind of text, one value and how it was read.
* amounts: ``1234.56``, ``1,234.56``, ``$12.00``, ``€5``, ``USD 5``, ``(12.00)``
  (negative), ``-3``, the European ``1.234,56`` / ``12,50``, and ``$ -`` (a
  spreadsheet's accounting-format zero: 0.00; a dash without a currency is refused,
  as it may mean no value); kept exact as
  DECIMAL(18,2) (values with more decimals are rounded half away from zero, with a
  warning), never through a float.

Validation happens before anything is saved (DESIGN invariant 10). Structural
problems refuse the load: an unreadable/binary/empty/header-only file, broken CSV
rows or truncated JSON, a required field with no column, a non-empty value that
cannot be read in a mapped column (unless a default is given). Empty values, duplicate
ids, negative amounts and future dates are let in with warnings: the dbt tests are
the place that catches them. Rows are numbered from the first data row (row 1 is
the line after a CSV header; CSV syntax errors are reported by file line).
"""

from __future__ import annotations

import calendar
import codecs
import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from mart.errors import InputError

DATASETS = ("transactions", "events")

FIELDS: dict[str, tuple[str, ...]] = {
    "transactions": (
        "transaction_id",
        "customer_id",
        "transaction_date",
        "amount",
        "product_category",
    ),
    "events": (
        "event_id",
        "customer_id",
        "session_id",
        "event_type",
        "event_timestamp",
        "product_category",
    ),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "transaction_date", "amount"),
    "events": ("customer_id", "event_type", "event_timestamp"),
}
ID_FIELD = {"transactions": "transaction_id", "events": "event_id"}
# Warning kinds a dbt test reports again after the build (the others are the loader's
# own: it read the value one way and says so).
DBT_TESTED_WARNINGS = (
    "empty values",
    "duplicate ids",
    "ids already in the dataset",  # an append's: the unique test names them
    "negative amounts",
    "future dates",
    "unknown event types",
)
TIME_FIELD = {"transactions": "transaction_date", "events": "event_timestamp"}
ID_PREFIX = {"transactions": "T-", "events": "E-"}
FIELD_KINDS = {
    "transaction_date": "date",
    "event_timestamp": "timestamp",
    "amount": "amount",
}
UNMAPPED_DEFAULTS = {("transactions", "product_category"): "Unknown"}

MAX_PROBLEMS = 50
#: The longest id, category or event type accepted. A 200,000-character customer id
#: froze the browser on the Customers page (its picker and charts); a real one is short.
MAX_TEXT_CHARS = 500
DELIMITERS = (",", ";", "\t", "|")
MAX_LINE_SIZE = 1 << 30
SAMPLE_BYTES = 1 << 20

# Unambiguous formats tried after ISO; a day/month order is never guessed.
AUTO_DATE_FORMATS = (
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    # 12-hour clocks, as spreadsheets write them: 2024-01-15 10:00 PM
    "%Y-%m-%d %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p",
    "%Y/%m/%d %I:%M:%S %p",
    "%Y/%m/%d %I:%M %p",
    # 20240115 is read by mart_date_parts (only 8 digits, years COMPACT_YEARS)
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    # 15-Jan-2024 (spreadsheets and Oracle exports); %y first: %Y reads 24 as the year 24
    "%d-%b-%y",
    "%d-%b-%Y",
    # 2024.01.15: the year first, as in 2024/01/15
    "%Y.%m.%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    # eBay's Jan-15-24 (%y first, as above), SQL Server's Jan 15 2024 11:40PM
    "%b-%d-%y",
    "%b-%d-%Y",
    "%b %d %Y %I:%M%p",
    "%b %d %Y %I:%M %p",
)
# Dates with a weekday (Monday, January 15, 2024; an HTTP date, Mon, 15 Jan 2024
# 10:00:00 GMT; RFC 2822's Mon, 15 Jan 2024 10:00:00 +0000; JavaScript's Date.toString())
# are read by mart_date_parts, which checks the weekday: strptime ignores it, and read
# "Tuesday, January 15, 2024" as the Monday it is not.
# Formats with an offset (%z), read apart (strptime then gives a moment, converted to
# UTC): RFC 2822 mail and RSS dates (Mon, 15 Jan 2024 10:00:00 +0000), 12-hour clocks.
AUTO_ZONED_DATE_FORMATS = (
    "%d %b %Y %H:%M:%S %z",
    "%Y-%m-%d %I:%M:%S %p %z",
    "%Y-%m-%d %I:%M %p %z",
)

# Layouts read once rewritten as ISO text, by the macro mart_date_parts: each gives its
# weekday, if any, and its date and time in ISO form, which the readings above then
# read (so an offset or zone is converted to UTC and warned about as any ISO value's).
WEEKDAY_NAME = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)"
)
MONTH_NAME = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
#: The years a date written as 8 digits alone (20240115) may have: a column of such
#: numbers may as well hold ids, and 10230405 is no year 1023.
COMPACT_YEARS = (1900, 2100)
#: ISO 8601's basic format: 20240115T234012Z, 20240115T2340+0100, 20240115T234012,5.
BASIC_ISO = (
    r"(?i)^\s*(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?([.,]\d+)?\s*"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
#: JavaScript's Date.toString(): Mon Jan 15 2024 23:40:12 GMT+0100 (Central European
#: Standard Time); the zone's name in brackets says nothing the offset does not.
JS_DATE = (
    rf"(?i)^\s*({WEEKDAY_NAME})\s+({MONTH_NAME})\s+(\d{{1,2}})\s+(\d{{4}})\s+"
    r"(\d{1,2}:\d{2}:\d{2})\s+GMT([+-]\d{2})(\d{2})(?:\s+\([^()]*\))?\s*$"
)
# A time after a long date (", 10:00", " at 10:00 PM", " 10:00:00 +0000"): kept as it is
# written, after the ISO date, for the readings to read.
_LONG_TIME = r"(?:(?:\s*,\s*|\s+)(?:at\s+)?(\d{1,2}:\d{2}.*?))?\s*$"
#: Monday, 15 January 2024; 15 January 2024 10:00; Mon, 15 Jan 2024 10:00:00 GMT.
LONG_DAY_FIRST = (
    rf"(?i)^\s*(?:({WEEKDAY_NAME})\.?,?\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\.?\s+"
    rf"({MONTH_NAME})\.?,?\s+(\d{{4}}){_LONG_TIME}"
)
#: Monday, January 15, 2024; January 15, 2024 at 10:00 PM; Mon, Jan 15, 2024.
LONG_MONTH_FIRST = (
    rf"(?i)^\s*(?:({WEEKDAY_NAME})\.?,?\s+)?({MONTH_NAME})\.?\s+(\d{{1,2}})"
    rf"(?:st|nd|rd|th)?,?\s+(\d{{4}}){_LONG_TIME}"
)


def _date_macros() -> str:
    """SQL of the macro mart_date_parts(v): [weekday, ISO text] for a value in one of
    the layouts above, NULL for any other (a first test leaves ISO values alone at
    once), and mart_weekday_agrees(parts): whether its weekday, if any, is its date's."""
    q = _sql_str
    months = ", ".join(q(name[:3].lower()) for name in MONTHS)
    month = f"lpad(list_position([{months}], lower(left(p.m, 3)))::VARCHAR, 2, '0')"
    day = "lpad(p.d, 2, '0')"
    time = "case when p.t <> '' then ' ' || p.t else '' end"
    long_names = "['w', 'd', 'm', 'y', 't']"
    return f"""
create or replace temp macro mart_date_parts(v) as case
  when not regexp_matches(v, '^\\s*([0-9]{{8}}|[0-9]{{1,2}}[^0-9:/.\\-]|[A-Za-z])') then null
  when regexp_full_match(v, '\\s*[0-9]{{8}}\\s*') then mart_let(trim(v), lambda c:
      case when c[1:4]::INT between {COMPACT_YEARS[0]} and {COMPACT_YEARS[1]}
      then ['', c[1:4] || '-' || c[5:6] || '-' || c[7:8]] end)
  when regexp_matches(v, {q(BASIC_ISO)}) then mart_let(
      regexp_extract(v, {q(BASIC_ISO)}, ['y', 'm', 'd', 'h', 'n', 's', 'f', 'z']), lambda p:
      ['', p.y || '-' || p.m || '-' || p.d || 'T' || p.h || ':' || p.n || ':'
       || coalesce(nullif(p.s, ''), '00') || replace(p.f, ',', '.') || upper(p.z)])
  when regexp_matches(v, {q(JS_DATE)}) then mart_let(
      regexp_extract(v, {q(JS_DATE)}, ['w', 'm', 'd', 'y', 't', 'oh', 'om']), lambda p:
      [p.w, p.y || '-' || {month} || '-' || {day} || 'T' || p.t || p.oh || ':' || p.om])
  when regexp_matches(v, {q(LONG_DAY_FIRST)}) then mart_let(
      regexp_extract(v, {q(LONG_DAY_FIRST)}, {long_names}), lambda p:
      [p.w, p.y || '-' || {month} || '-' || {day} || {time}])
  when regexp_matches(v, {q(LONG_MONTH_FIRST)}) then mart_let(
      regexp_extract(v, {q(LONG_MONTH_FIRST)}, ['w', 'm', 'd', 'y', 't']), lambda p:
      [p.w, p.y || '-' || {month} || '-' || {day} || {time}])
  end;
create or replace temp macro mart_weekday_agrees(parts) as parts[1] = '' or
    lower(left(parts[1], 3)) = lower(left(dayname(try_cast(left(parts[2], 10) as DATE)), 3));
"""


# The event types the project knows (stg_events' accepted_values test, lower-cased there).
EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "purchase")
#: Other tools' names of the funnel's steps (compared with letters and digits only,
#: lower-cased): GA4's view_item, Segment's "Product Viewed", "Product Added" and
#: "Order Completed", Shopify's pixel events, Mixpanel's $mp_web_page_view, PostHog's
#: $pageview, Universal Analytics' transaction. They are read as the funnel's types.
EVENT_TYPE_ALIASES = {
    "page_view": ("pageview", "pageviewed", "mpwebpageview", "viewpage"),
    "product_view": (
        "productview", "productviewed", "viewitem", "viewproduct", "productdetailview",
        "viewproductdetails", "viewitemdetails", "detailview",
    ),
    "add_to_cart": (
        "addtocart", "productadded", "productaddedtocart", "addedtocart", "addtobasket",
        "addtobag", "cartadd",
    ),
    "purchase": (
        "ordercompleted", "checkoutcompleted", "orderplaced", "completedorder",
        "purchased", "transaction", "purchasecompleted",
    ),
}  # fmt: skip

# The years a date may have (see _time_expr).
MIN_YEAR, MAX_YEAR = 1000, 9999
AMBIGUOUS_DATE = r"\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}([ T].*)?"

# Name synonyms, compared after lower-casing and removing everything but a-z0-9.
# Earlier entries win; a column is suggested for one field only.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "transaction_id": (
        "transactionid",
        "txnid",
        "txid",
        "transid",
        "transactionno",
        "transactionnumber",
        "invoiceno",
        "invoicenumber",
        "invoiceid",
        "invoice",
        "orderid",
        "orderno",
        "ordernumber",
        "order",
        "receiptid",
        "saleid",
        # German, Spanish, French exports
        "bestellnummer",
        "rechnungsnummer",
        "belegnummer",
        "transaktionsid",
        "numerodepedido",
        "numerodecommande",
        "id",
    ),
    # Amplitude's uuid and $insert_id, Segment's messageId: unique per event
    "event_id": (
        "eventid",
        "eventno",
        "eventnumber",
        "hitid",
        "eventuuid",
        "messageid",
        "insertid",
        "uuid",
        "id",
    ),
    "customer_id": (
        "customerid",
        "custid",
        "customerno",
        "customernumber",
        "customer",
        "clientid",
        "client",
        "clientno",
        "userid",
        "distinctid",  # Mixpanel's and PostHog's
        "user",
        "buyerid",
        "accountid",
        "memberid",
        "shopperid",
        "customeremail",
        "email",
        "useremail",
        "kundennummer",
        "kundennr",
        "kundenid",
        "kunde",
        "idcliente",
        "cliente",
        "numeroclient",
    ),
    "session_id": ("sessionid", "session", "visitid", "visit", "sessionkey"),
    "event_type": ("eventtype", "eventname", "event", "action", "activity", "type"),
    "transaction_date": (
        "transactiondate",
        "orderdate",
        "invoicedate",
        "purchasedate",
        "saledate",
        "salesdate",
        "transactiontime",
        "transactiondatetime",
        "orderdatetime",
        "date",
        "createdat",
        "created",
        "paidat",
        "processedat",
        "datetime",
        "timestamp",
        "time",
        "datum",
        "bestelldatum",
        "rechnungsdatum",
        "buchungsdatum",
        "fecha",
        "data",  # Portuguese and Italian (last: an English "data" column is rarely a date)
    ),
    "event_timestamp": (
        "eventtimestamp",
        "eventtime",
        "eventdatetime",
        "timestamp",
        "ts",
        "occurredat",
        "datetime",
        "time",
        "eventdate",
        "createdat",
        "created",
        "date",
    ),
    "amount": (
        "amount",
        "transactionamount",
        "totalamount",
        "amountusd",
        "dollarvalue",
        "dollaramount",
        "total",
        "ordertotal",
        "grandtotal",
        "totalprice",
        "linetotal",
        "lineamount",
        "extendedprice",
        "extendedamount",
        "sales",
        "salesamount",
        "revenue",
        "value",
        "price",
        "subtotal",
        "lineitemprice",
        "unitprice",
        "betrag",
        "gesamtbetrag",
        "umsatz",
        "summe",
        "preis",
        "importe",
        "montant",
        "valor",
        "monto",
    ),
    "product_category": (
        "productcategory",
        "category",
        "categoryname",
        "productcategoryname",
        "producttype",
        "productline",
        "department",
        "productgroup",
        "itemcategory",
        "lineitemcategory",
        "kategorie",
        "produktkategorie",
        "warengruppe",
        "categoria",
        "categorie",
    ),
}


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Reading:
    """How values of one shape in a field were read: ``example`` (the file's text, first
    of its shape) loads as ``loaded``; ``rows`` values have that shape."""

    field: str
    column: str
    example: str
    loaded: str
    rows: int
    first_row: int


@dataclass(frozen=True)
class Problem:
    """One finding of a validation: where (row, column, field), what, and the value."""

    problem: str
    row: int | None = None
    column: str | None = None
    field: str | None = None
    value: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        elif self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}" + (f" ({self.field})" if self.field else ""))
        elif self.field is not None:
            where.append(f"field {self.field}")
        shown = ""
        if self.value is not None:
            value = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            shown = f" [value {value!r}]"
        return (", ".join(where) + ": " if where else "") + self.problem + shown


@dataclass
class ValidationReport:
    """What a file holds and what is wrong with it; ``ok`` when nothing refuses it."""

    dataset: str
    source_name: str
    file_format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    row_count: int = 0
    columns: list[str] = field(default_factory=list)
    mapping: dict[str, str | None] = field(default_factory=dict)
    generated: dict[str, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    error_count: int = 0
    warnings: list[Problem] = field(default_factory=list)
    warning_count: int = 0
    warning_summary: dict[str, int] = field(default_factory=dict)
    # A JSON file that is one object with a list of records under a key: (key, count).
    wrapped_records: tuple[str, int] | None = None
    # Parquet columns of a number type, and the type: their text has no thousands
    # separators or decimal commas to guess about.
    typed_numbers: dict[str, str] = field(default_factory=dict)
    # Columns holding JSON objects or arrays (a JSON or Parquet file's nested values):
    # {column: (rows with one, first such row, rows with a plain value, keys seen)}.
    nested_values: dict[str, tuple[int, int, int, tuple[str, ...]]] = field(default_factory=dict)
    # Columns made from the keys of a JSON column's objects ("user.id"): kept in the
    # stored record only when mapped (the object itself is kept whole).
    derived_columns: list[str] = field(default_factory=list)
    # Rows left out as an order's further line items (see _leave_out_line_item_rows).
    left_out_line_items: int = 0
    # A spreadsheet-style date format translated to strptime: "… read as %d/%m/%Y".
    date_format_note: str | None = None
    # The decimal mark given for the amounts ("point" or "comma"), None: detected.
    decimal_mark: str | None = None
    # How the file's values were read where the text is not already the stored form.
    readings: list[Reading] = field(default_factory=list)
    # {field: how many more kinds of text it has than the readings list}
    readings_more: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def asks_decimal_mark(self) -> bool:
        """Whether the load waits for the decimal mark (1.249 in a decimal-comma file):
        the Data page points to its Decimal mark choice."""
        return any(DECIMAL_MARK_QUESTION in problem.problem for problem in self.errors)

    @property
    def money_warnings(self) -> list[str]:
        """The kinds of warning, of those given, that change what the mart's money adds
        up to (currencies added unconverted, failed payments counted as sales …): the
        Data page opens its warnings for them rather than leave them in a closed list."""
        return [kind for kind in self.warning_summary if kind in MONEY_WARNING_KINDS]

    def add_error(self, problem: Problem, count: int = 1) -> None:
        self.error_count += count
        if len(self.errors) < MAX_PROBLEMS:
            self.errors.append(problem)

    def add_warning(self, problem: Problem, kind: str, count: int = 1) -> None:
        self.warning_count += count
        self.warning_summary[kind] = self.warning_summary.get(kind, 0) + count
        if len(self.warnings) < MAX_PROBLEMS:
            self.warnings.append(problem)

    def to_text(self) -> str:
        """The report as lines of text, for the command line and logs."""
        lines = [f"{self.dataset} from {self.source_name}"]
        if self.file_format:
            detail = [self.file_format]
            if self.encoding:
                detail.append(f"encoding {self.encoding}")
            if self.delimiter:
                detail.append(f"delimiter {self.delimiter!r}")
            lines.append(f"  format: {', '.join(detail)}; {self.row_count} data rows")
        if self.mapping:
            lines.append("  mapping:")
            for name, column in self.mapping.items():
                how = repr(column) if column else self.generated.get(name, "(none)")
                lines.append(f"    {name:<18} <- {how}")
        if self.extra_columns:
            lines.append("  kept as extra columns: " + ", ".join(self.extra_columns))
        if self.date_format_note:
            lines.append(f"  {self.date_format_note}")
        if self.readings:
            lines.append("  values read (one example of each kind of text):")
            for reading in self.readings:
                lines.append(
                    f"    {reading.field:<18} {reading.example!r} -> {reading.loaded}  "
                    f"({reading.rows} value(s) like it, first at row {reading.first_row})"
                )
            for name, more in self.readings_more.items():
                lines.append(f"    {name:<18} ... and {more} more kind(s) of text")
        if self.error_count:
            lines.append(f"  ERRORS ({self.error_count}, load refused):")
            lines += [f"    {problem}" for problem in self.errors]
            if self.error_count > len(self.errors):
                lines.append(f"    ... and {self.error_count - len(self.errors)} more")
        if self.warning_count:
            summary = ", ".join(f"{kind}: {n}" for kind, n in self.warning_summary.items())
            lines.append(f"  warnings ({self.warning_count}; {summary}):")
            lines += [f"    {problem}" for problem in self.warnings]
            if self.warning_count > len(self.warnings):
                # a line may stand for many rows ("empty in 40 row(s)"), and each kind
                # lists its first rows only: "and N more" named warnings that were not there
                lines.append(
                    f"    (the first rows of each kind; {self.warning_count} warnings in all)"
                )
        if not self.error_count and not self.warning_count:
            lines.append("  no problems found")
        return "\n".join(lines)


class LoadRefusedError(InputError):
    """A file was refused; ``report`` lists each problem with its row and column."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        shown = "\n".join(f"  {problem}" for problem in report.errors)
        more = report.error_count - len(report.errors)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{report.source_name} was not loaded into {report.dataset}: "
            f"{report.error_count} problem(s); nothing was changed.\n{shown}{tail}"
        )


def _refuse(report: ValidationReport, problem: Problem) -> LoadRefusedError:
    report.add_error(problem)
    return LoadRefusedError(report)


# --------------------------------------------------------------------------- mapping


def normalize_name(name: str) -> str:
    """A column name compared case-, space-, underscore-, punctuation- and
    accent-insensitively (``Categoría`` is ``categoria``)."""
    plain = unicodedata.normalize("NFKD", name.lower())
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in plain if not unicodedata.combining(c)))


# A unit after a column's name: "Total (EUR)", "Amount [$]", "Betrag in EUR".
_NAME_UNIT = re.compile(r"(\(.*\)|\[.*\]|\bin\s+[A-Za-z$€£¥]{1,3})$")


def _without_unit(name: str) -> str:
    """``name`` without a trailing unit: "Amount (EUR)", "Betrag [€]", "Total in USD" ->
    "Amount", "Betrag", "Total". Only the last 80 characters are searched, after the
    trailing blanks are cut: the pattern with blanks around it took 4 s on a header cell
    of 8,000 spaces (each start tried every blank after it)."""
    bare = name.rstrip()
    match = _NAME_UNIT.search(bare, max(0, len(bare) - 80))
    return (bare[: match.start()] if match else bare).rstrip()


def suggest_mapping(
    dataset: str,
    columns: list[str],
    filled: Mapping[str, tuple[int, int]] | None = None,
    joined: tuple[str, str, str] | None = None,
    funnel: Mapping[str, float] | None = None,
) -> dict[str, str | None]:
    """A column for each canonical field of ``dataset``, guessed from the names.

    Returns every field as a key, ``None`` where no column fits. A column is used for
    one field at most; exact names win over synonyms, and earlier synonyms over later.
    ``filled``: {column: (values, distinct values)} of the columns named like the id
    (see :func:`id_fill`); an id column with more distinct values and at least twice the
    values is then preferred to the one the names chose, which is mostly empty then
    (Stripe's "Invoice ID" to its "id"). ``joined`` and ``funnel`` (see
    :class:`FileInfo`) let an event's moment come from a date and a time column joined,
    and its type from the column whose values name the funnel's steps.
    """
    check_dataset(dataset)
    normalized: dict[str, str] = {}
    for column in columns:
        normalized.setdefault(normalize_name(column), column)
    for column in columns:  # then without a unit: "Total (EUR)" is a total
        bare = _without_unit(column)
        if bare and bare != column:
            normalized.setdefault(normalize_name(bare), column)
    # Last, a key of a property bag by its own name (properties.category), for the
    # fields no whole name gave a column.
    inner: dict[str, str] = {}
    for column in columns:
        bag, _, key = column.rpartition(".")
        bag = bag.rpartition(".")[2]  # the object right above: context.traits.user_id
        # only in a property bag (not GA4's device.category); a bare id is no event's id
        if normalize_name(bag) in PROPERTY_BAGS and normalize_name(key) not in ("", "id"):
            inner.setdefault(normalize_name(key), column)
    mapping: dict[str, str | None] = dict.fromkeys(FIELDS[dataset])
    used: set[str] = set()
    # Rank 0 is the canonical name itself; then each synonym in order. Fields are
    # filled rank by rank so that a specific synonym beats a generic one elsewhere.
    max_rank = max(len(SYNONYMS[name]) for name in FIELDS[dataset]) + 1
    for names in (normalized, inner):
        for rank in range(max_rank):
            for name in FIELDS[dataset]:
                if mapping[name] is not None:
                    continue
                candidates = (normalize_name(name), *SYNONYMS[name])
                if rank >= len(candidates):
                    continue
                column = names.get(candidates[rank])
                if column is not None and column not in used:
                    mapping[name] = column
                    used.add(column)
    name = ID_FIELD[dataset]
    if filled and mapping[name] in filled:
        # the fullest of the id's columns no other field took, the names' order breaking ties
        others = [c for c in _named_like(name, columns) if c not in used and c in filled]
        best = max(others, key=lambda c: filled[c], default=None)
        values, distinct = filled[str(mapping[name])]
        if best is not None:
            more, unique = filled[best]
            # a mostly empty one (half the values or fewer) gives way: a transaction_id
            # missing in one row of four lost to a row number "id"
            fuller = more >= 2 * values and unique > distinct
            # so does one whose values repeat, beside one as full whose values are all
            # distinct: Amplitude's event_id counts per device, its $insert_id is unique
            # (events only, and never for a bare "id": in transactions a repeated id
            # is a real duplicate, which the unique test is there to catch)
            repeats = (
                dataset == "events"
                and normalize_name(best) != "id"
                and 2 * distinct <= values  # a counter repeating, not one duplicate
                and unique == more >= values
            )
            if fuller or repeats:
                mapping[name] = best
    # the event type from the column whose values name the funnel's steps, when the
    # column its name gave names none of them (see _funnel_columns)
    if funnel and dataset == "events":
        best = max(funnel, key=lambda c: funnel[c])
        taken = set(mapping.values()) - {mapping["event_type"]}
        if funnel[best] >= 0.5 and not funnel.get(str(mapping["event_type"])) and best not in taken:
            mapping["event_type"] = best
    # an event's moment from a date column and a time column joined (see read_source);
    # a transaction needs only the date
    moment = mapping.get("event_timestamp", "")
    if joined and dataset == "events" and joined[0] in columns and moment in (None, *joined[1:]):
        mapping["event_timestamp"] = joined[0]
    return mapping


def _named_like(name: str, columns: Sequence[str]) -> list[str]:
    """The columns whose name (or name without a unit) is one of field ``name``'s, in
    the order of its synonyms."""
    names = (normalize_name(name), *SYNONYMS[name])
    found = [
        (names.index(key), index, column)
        for index, column in enumerate(columns)
        for key in {normalize_name(column), normalize_name(_without_unit(column) or column)}
        if key in names
    ]
    return list(dict.fromkeys(column for _, _, column in sorted(found)))


def id_fill(con: duckdb.DuckDBPyConnection, columns: Sequence[str]) -> dict[str, tuple[int, int]]:
    """{column: (non-empty values, distinct values)} of the columns named like an id
    (transaction or event), when a file has more than one such column: what
    :func:`suggest_mapping` needs to prefer a full id column to a mostly empty one.
    Empty (nothing counted) for a file with one id column at most."""
    named = [c for name in ID_FIELD.values() for c in _named_like(name, columns)]
    named = list(dict.fromkeys(named))
    if len(named) < 2:
        return {}
    counts = con.execute(
        "select "
        + ", ".join(
            f"count(nullif(trim({_ident(c)}), '')), count(distinct nullif(trim({_ident(c)}), ''))"
            for c in named
        )
        + " from source"
    ).fetchall()[0]
    return {c: (int(counts[2 * i]), int(counts[2 * i + 1])) for i, c in enumerate(named)}


def _say_fuller_id(
    dataset: str,
    info: FileInfo,
    chosen: Mapping[str, str | None],
    mapping: Mapping[str, str | None],
    report: ValidationReport,
) -> None:
    """Say when the id's suggested column is not the one its name matched best, as a
    fuller one was preferred (not when the id is mapped by hand)."""
    name = ID_FIELD[dataset]
    by_name = suggest_mapping(dataset, info.columns)[name]
    if name in mapping or by_name is None or chosen[name] == by_name:
        return
    values, distinct = info.filled[by_name]
    why = (
        f"holds a value in {values:,} of {info.row_count:,} rows only; {chosen[name]!r} "
        "holds more values and more distinct ones"
        if info.filled[str(chosen[name])][0] >= 2 * values
        else f"repeats its values ({distinct:,} distinct in {values:,} rows); "
        f"{chosen[name]!r} has a different value in every row"
    )
    report.add_warning(
        Problem(
            f"column {by_name!r} is named like a {name} but {why}, so it is used (to use "
            f"{by_name!r}, map it by hand: Data page mapping; --map {name}=COLUMN)",
            column=str(chosen[name]),
            field=name,
        ),
        "fuller id column used",
    )


def check_dataset(dataset: str) -> None:
    """Refuse a dataset name that is not one of ``DATASETS``."""
    if dataset not in FIELDS:
        raise InputError(f"Unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}.")


def parse_assignments(items: list[str] | None, what: str) -> dict[str, str]:
    """``["field=value", ...]`` (the CLI's --map and --default) as a dict."""
    result: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"{what} {item!r} is not FIELD=VALUE (e.g. customer_id=CustomerID).")
        result[name.strip()] = value
    return result


# --------------------------------------------------------------------------- reading


@dataclass
class FileInfo:
    """How a file was read: its format, encoding, delimiter, columns and row count."""

    name: str
    file_format: str
    encoding: str | None = None
    delimiter: str | None = None
    columns: list[str] = field(default_factory=list)
    row_count: int = 0
    # {id-like column: (values, distinct values)}, for suggest_mapping (see id_fill)
    filled: dict[str, tuple[int, int]] = field(default_factory=dict)
    # A date column and a time-of-day column read together: (the joined column made,
    # the date's, the time's); see _join_date_and_time.
    joined: tuple[str, str, str] | None = None
    # {column: the share of its values naming a funnel step, where above 0}; see
    # _funnel_columns

    funnel: dict[str, float] = field(default_factory=dict)


#: Words in the decimal-mark question's problem (see _choose_decimal_mark).
DECIMAL_MARK_QUESTION = "--decimal-mark"
#: Warning kinds that change what the amounts add up to.
MONEY_WARNING_KINDS = frozenset(
    [
        "mixed currencies",
        "failed or refunded payments?",
        "refunded amounts",
        "placeholder customer id",
        "inexact amounts",
        "point or thousands?",
        "subtotal rows kept?",
    ]
)


def refusal_advice(report: ValidationReport) -> str:
    """What the user can change to fix a refused load: the mapping when a mapped field
    has a problem, the date format when a date or time field does, else the file."""
    date_fields = set(TIME_FIELD.values())
    on_dates = any(problem.field in date_fields for problem in report.errors)
    # the question whether 1.249 is thousands is answered by the decimal mark
    on_mark = report.asks_decimal_mark
    on_fields = any(
        problem.field
        and problem.field not in date_fields
        and DECIMAL_MARK_QUESTION not in problem.problem
        for problem in report.errors
    )
    choices = [
        text
        for text, wanted in (
            ("the mapping", on_fields),
            ("the date format", on_dates),
            ("the decimal mark", on_mark),
        )
        if wanted
    ]
    if not choices:
        return "Fix the file itself and upload it again."
    said = ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]
    return f"Fix {said}, or the file itself."


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` for UTF-16 text without a byte-order mark (some
    Windows exports): mostly ASCII, so every other byte is NUL; else None."""
    sample = head[:4096]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 8:
        return None
    pairs = [(sample[i], sample[i + 1]) for i in range(0, len(sample), 2)]
    for encoding, (text, zero) in (("utf-16-le", (0, 1)), ("utf-16-be", (1, 0))):
        ascii_pairs = sum(
            1
            for pair in pairs
            if pair[zero] == 0 and (32 <= pair[text] < 127 or pair[text] in b"\t\r\n")
        )
        if ascii_pairs >= 0.9 * len(pairs):
            try:
                sample.decode(encoding)
            except UnicodeDecodeError:
                continue
            return encoding
    return None


def _binary_reason(head: bytes) -> str | None:
    """Why the first bytes look like a non-text file, or None when they look like text."""
    if head.startswith(b"PK\x03\x04"):
        return "is a ZIP archive or an Excel workbook; save it as CSV and load that"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return (
            "is an Excel 97-2003 workbook (.xls) or another old Office file; save it as CSV "
            "and load that"
        )
    if head.startswith(b"\x1f\x8b"):
        return "is gzip-compressed; decompress it first"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 text with a BOM
    if _utf16_without_bom(head):
        return None
    # A few NULs in otherwise plain text (a corrupt cell in an export) are left to
    # _refuse_control_bytes, which says on which row; a binary file has many.
    if head.count(0) > len(head) // 100:
        return "is a binary file, not CSV, JSON or Parquet"
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13, 12))
    if head and controls / len(head) > 0.05:
        return "is a binary file, not CSV, JSON or Parquet"
    return None


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode the bytes UTF-8 rejects as cp1252 (see MIXED_UTF8)."""
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("cp1252", errors="replace"), error.end


codecs.register_error("mart_cp1252_fallback", _cp1252_fallback)

# A UTF-8 file with a few stray cp1252 bytes (a hand-edited export): read as UTF-8, the
# stray bytes as cp1252, so neither "Café" nor "Naïve" comes out garbled.
MIXED_UTF8 = "utf-8 with some cp1252 bytes"
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")


def _utf8_counts(path: Path) -> tuple[int, int, int | None, int | None]:
    """(valid UTF-8 multibyte characters, bytes UTF-8 rejects, the first line of each)."""
    valid = invalid = 0
    first_valid = first_invalid = None
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.isascii():
                continue
            bad = line.decode("utf-8", errors="replace").count("\ufffd")
            good = len(_UTF8_MULTIBYTE.findall(line))
            if bad and first_invalid is None:
                first_invalid = number
            if good and first_valid is None:
                first_valid = number
            valid, invalid = valid + good, invalid + bad
    return valid, invalid, first_valid, first_invalid


def _has_utf8_multibyte(path: Path) -> bool:
    """Whether the file holds a valid UTF-8 multibyte character, read in chunks."""
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            if _UTF8_MULTIBYTE.search(tail + chunk):
                return True
            tail = chunk[-2:]
    return False


def mixed_encoding_problem(path: Path) -> Problem:
    """The warning for a file read as :data:`MIXED_UTF8`: how much of each, and where."""
    valid, invalid, first_valid, first_invalid = _utf8_counts(path)
    return Problem(
        f"the file mixes UTF-8 text ({valid:,} character(s), first on line {first_valid}) "
        f"with Windows-1252 bytes ({invalid:,}, first on line {first_invalid}): each was "
        "read in its own encoding. Check accented text, and save the file as UTF-8 to be "
        "sure",
    )


#: Excel for Mac's "CSV (Macintosh)": Mac Roman, lines ended by CR alone.
MAC_ROMAN = "mac_roman"
DOS_LATIN = "cp850"


def _misread_letters(text: str) -> int:
    """How many non-ASCII characters in ``text`` look like a wrong decoding: a symbol
    inside a word (S¿ren) or a capital after a small letter or before one (CafŽ, JŸrgen).
    Mac Roman read as cp1252 gives many, and cp1252 read as Mac Roman too (CafÈ)."""
    count = 0
    for before, char, after in zip(text, text[1:], text[2:] + " ", strict=False):
        if char.isascii() or not before.isalpha():
            continue
        if (not char.isalpha() and after.isalpha()) or (
            char.isupper() and (before.islower() or after.islower())
        ):
            count += 1
    return count


def _letters_in_words(text: str) -> int:
    """How many non-ASCII characters in ``text`` read as they would be written: a letter
    beside a letter (ü in Björk, É in Éric or CAFÉ), not a lowercase one inside capitals,
    nor a modifier letter or a ligature; or a currency sign beside no letter (€ 10).
    What decides between Mac Roman and cp1252 when neither has letters out of place:
    cp1252's Björk, Éric and CAFÉ are Bjˆrk, …ric and CAF… in Mac Roman, € 10 is Ä 10."""
    count = 0
    padded = f" {text} "
    for before, char, after in zip(padded, padded[1:], padded[2:], strict=False):
        if char.isascii() or unicodedata.normalize("NFKC", char) != char:
            continue
        kind = unicodedata.category(char)
        if kind in ("Lu", "Ll"):
            inside_capitals = char.islower() and before.isupper() and after.isupper()
            if (before.isalpha() or after.isalpha()) and not inside_capitals:
                count += 1
        elif kind == "Sc" and not before.isalpha() and not after.isalpha():
            count += 1
    return count


def _detect_encoding(path: Path, head: bytes) -> str:
    """``utf-8``, ``utf-8-sig``, ``utf-16``, MIXED_UTF8 or, when not UTF-8, cp1252/latin-1,
    or MAC_ROMAN for a file whose lines end with CR alone that reads better so."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    bomless = _utf16_without_bom(head)
    if bomless:
        return bomless
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        # Any valid UTF-8 character: read the file both ways, each byte sequence in its
        # own encoding (a majority vote garbled the minority: "Café" became "CafÃ©").
        # A pure cp1252 file rarely holds one by accident (an É before a »).
        if _has_utf8_multibyte(path):
            return MIXED_UTF8
        if b"\r" in head and b"\n" not in head:
            # Lines ended by CR alone: a classic Mac file, such as Excel for Mac's "CSV
            # (Macintosh)", in Mac Roman (read as cp1252, Jürgen was JŸrgen). Unless the
            # cp1252 reading has fewer letters out of place, or as many and more letters
            # that read as written (Björk, Éric, CAFÉ: Bjˆrk, …ric, CAF… in Mac Roman).
            windows = head.decode("cp1252", errors="replace")
            mac = head.decode(MAC_ROMAN)
            if (_misread_letters(mac), -_letters_in_words(mac)) <= (
                _misread_letters(windows),
                -_letters_in_words(windows),
            ):
                return MAC_ROMAN
        try:
            with path.open("rb") as handle:
                dec = codecs.getincrementaldecoder("cp1252")()
                while chunk := handle.read(1 << 22):
                    dec.decode(chunk)
            windows = "cp1252"
        except UnicodeDecodeError:
            windows = "latin-1"
        # Excel's "CSV (MS-DOS)" is in DOS code page 850: read as cp1252, Café and Bär
        # were Caf‚ and B„r, and Bücher (a byte cp1252 lacks) B\x81cher in Latin-1.
        # Taken only when the cp1252 (or Latin-1) reading shows code page 850's letters
        # misread (_dos_signs), and code page 850's reading has no letter out of place.
        # Typographic punctuation alone (O’Brien, “Deluxe”, Jan–Mar, wait…) is cp1252's.
        ours, dos = head.decode(windows, errors="replace"), head.decode(DOS_LATIN)
        if _dos_signs(ours) and not _misread_letters(dos):
            return DOS_LATIN
        return windows
    return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"


#: cp1252's reading of code page 850 letters that no cp1252 text has right after a
#: letter: ‚ (é) and „ (ä), low quotes that open a quotation. (Caf‚, B„r)
_DOS_AFTER_LETTER = "‚„"
#: ... and that no cp1252 text has between two letters: ” (ö), “ (ô), ‡ (ç), Š (è) …
#: (K”ln), not the apostrophes ’ ‘ nor the dashes – —, which cp1252 text has there.
_DOS_INSIDE_WORD = "“”‡†ˆ‰‹›ŠŒŽšœžŸƒ•™˜"


def _dos_signs(text: str) -> int:
    """How many characters of ``text`` (a cp1252 or Latin-1 reading) look like code page
    850's letters misread: a C1 control character, ‚ or „ right after a letter, or one of
    _DOS_INSIDE_WORD between two letters."""
    count = _c1_controls(text)
    for before, char, after in zip(text, text[1:], text[2:] + " ", strict=False):
        if before.isalpha() and (
            char in _DOS_AFTER_LETTER or (char in _DOS_INSIDE_WORD and after.isalpha())
        ):
            count += 1
    return count


def _c1_controls(text: str) -> int:
    """How many C1 control characters (U+0080–U+009F) ``text`` holds: no file means
    them; a byte that is a letter in another code page read as Latin-1 gives them."""
    return sum(1 for char in text if "\x80" <= char <= "\x9f")


#: The encodings a file that is not UTF-8 is read in, and how the warning names them.
GUESSED_ENCODINGS = {
    "cp1252": "Windows-1252 (cp1252), the encoding of Western European Windows exports",
    "latin-1": "Latin-1 (ISO-8859-1)",
    "cp850": "DOS code page 850, the encoding of Excel's 'CSV (MS-DOS)'",
}


def _guessed_letters_problem(path: Path, encoding: str) -> Problem | None:
    """The warning for a file read in a guessed encoding (GUESSED_ENCODINGS) whose
    reading gave letters beyond ASCII (Müller, Café): how many, and the first line and
    word, so the user can check them; None when it gave none (only a € or a dash), as
    then no name can have come out wrong. ``path``: the file as UTF-8 (transcoded)."""
    letters, first_line, word = 0, 0, ""
    with path.open(encoding="utf-8", errors="replace", newline=None) as handle:
        for number, line in enumerate(handle, start=1):
            if line.isascii():
                continue
            found = sum(1 for char in line if not char.isascii() and char.isalpha())
            if found and not first_line:
                first_line = number
                char = next(c for c in line if not c.isascii() and c.isalpha())
                word = next(w for w in re.split(r"[^\w'’-]+", line) if char in w)
                word = word if len(word) <= 40 else word[:39] + "…"  # a whole line at worst
            letters += found
    if not letters:
        return None
    return Problem(
        f"the file is not UTF-8, so its encoding was guessed: its {letters:,} accented "
        f"letter(s) (first on line {first_line}, in {word!r}) were read as "
        f"{GUESSED_ENCODINGS[encoding]}. Check them, and save the file as 'CSV UTF-8' to "
        "be sure"
    )


def _transcode(path: Path, encoding: str, target: Path) -> None:
    """Copy a text file as UTF-8, in chunks.

    A UTF-8 byte-order mark is dropped even when the rest is not UTF-8 (a UTF-8 export
    with one stray cp1252 byte): read as cp1252 it would become ``ï»¿`` in the header.
    """
    with path.open("rb") as raw:
        if raw.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            raw.seek(0)
        errors = "strict"
        if encoding == MIXED_UTF8:
            encoding, errors = "utf-8", "mart_cp1252_fallback"
        with (
            io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="") as src,
            target.open("w", encoding="utf-8", newline="") as dst,
        ):
            shutil.copyfileobj(src, dst, 1 << 22)


def _refuse_control_bytes(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], report: ValidationReport
) -> None:
    """Refuse text holding NUL bytes anywhere in the file.

    The binary sniff reads only the first 64 KB; a NUL further down (a corrupt export,
    a binary blob pasted into a cell) would otherwise be stored in the record.
    """
    text_columns = [
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where table_name = ? "
            "and data_type = 'VARCHAR' and column_name <> '_row'",
            [table],
        ).fetchall()
        if name in columns
    ]
    if not text_columns:
        return
    condition = " or ".join(f"contains({_ident(name)}, chr(0))" for name in text_columns)
    found = con.execute(
        f"select _row from {table} where {condition} order by _row limit 1"
    ).fetchall()
    if found:
        raise _refuse(
            report,
            Problem(
                "the file holds binary bytes (NUL characters): it is corrupt or not a text file",
                row=int(found[0][0]),
            ),
        )


def _cr_to_lf(path: Path, target: Path) -> None:
    """Copy ``path`` with each CR line ending (old Mac files: no LF at all) as LF."""
    with path.open("rb") as source, target.open("wb") as out:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            out.write(chunk.replace(b"\r", b"\n"))


def _mixed_line_endings(path: Path) -> bool:
    """Whether the file ends some lines with CRLF and others with a bare LF."""
    crlf = bare = False
    carry = b""  # a CR at the end of a chunk, whose LF may start the next
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            text = carry + chunk
            pairs = text.count(b"\r\n")
            crlf = crlf or pairs > 0
            bare = bare or text.count(b"\n") > pairs
            if crlf and bare:
                return True
            carry = b"\r" if text.endswith(b"\r") else b""
    return False


def _crlf_to_lf(path: Path, target: Path) -> None:
    """Copy ``path`` with each CRLF as LF (a CR at a chunk's end waits for the next)."""
    with path.open("rb") as source, target.open("wb") as out:
        carry = b""
        for chunk in iter(lambda: source.read(1 << 20), b""):
            text = carry + chunk
            carry = b"\r" if text.endswith(b"\r") else b""
            out.write(text[: len(text) - len(carry)].replace(b"\r\n", b"\n"))
        out.write(carry)


def _sniff_csv(sample: str) -> tuple[str, list[str]]:
    """The delimiter and header of a CSV sample (text of its first megabyte)."""
    lines = sample.splitlines(keepends=True)
    if len(sample.encode("utf-8", "ignore")) >= SAMPLE_BYTES - 8 and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off
    lines = [line for line in lines[:500] if line.strip()]
    text = "".join(lines)
    # Python's csv refuses fields above 128 KiB; a field the sample holds whole must not
    # make every delimiter fail (the file would then have "no header row").
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    best: tuple[tuple[float, int, int], str, list[str]] | None = None
    for priority, delimiter in enumerate(DELIMITERS):
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"'))
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        body = rows[1:]
        consistent = sum(1 for row in body if len(row) == width) / len(body) if body else 1.0
        score = (consistent if width > 1 else -1.0, width, -priority)
        if best is None or score > best[0]:
            best = (score, delimiter, rows[0])
    if best is None:
        return ",", []
    return best[1], best[2]


#: Columns a file may have. A 20,003-column file ran for more than 11 minutes (2,000
#: columns took 22 s): the checks run per column. Spreadsheet exports have dozens.
MAX_COLUMNS = 1000


def _clean_header(names: list[str], report: ValidationReport) -> list[str]:
    """Header names stripped, blanks named ``column_<n>``, duplicates suffixed ``_2``.

    Names compare case-insensitively (DuckDB's do). Each renamed duplicate gets a
    warning in ``report``: its values would otherwise hide under a name the file
    does not have. More than :data:`MAX_COLUMNS` names refuse the file.
    """
    if len(names) > MAX_COLUMNS:
        raise _refuse(
            report,
            Problem(
                f"the file has {len(names):,} columns, more than the {MAX_COLUMNS:,} a file "
                "may have: save only the columns the dataset needs (an id, a customer, a date "
                "or time, an amount or an event type …) and load that"
            ),
        )
    result: list[str] = []
    seen: dict[str, str] = {"_row": "_row"}
    for index, raw in enumerate(names, start=1):
        name = raw.strip().lstrip("\ufeff").strip() or f"column_{index}"
        candidate, suffix = name, 2
        while candidate.lower() in seen:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        if candidate != name:
            first = seen.get(name.lower(), name)
            report.add_warning(
                Problem(
                    f"the file has a column {first!r} already; this {name!r} is read as "
                    f"{candidate!r}",
                    column=candidate,
                ),
                "renamed columns",
            )
        seen[candidate.lower()] = candidate
        result.append(candidate)
    return result


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection for file work (no progress bar on stdout)."""
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    # A timestamp with a time zone (Parquet) becomes the same date on every machine.
    con.execute("set TimeZone = 'UTC'")
    return con


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duckdb_message(exc: Exception) -> str:
    """The first line of a DuckDB error without the error class prefix."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^[A-Za-z ]*Error: ", "", first)


def read_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    report: ValidationReport,
    table: str = "source",
) -> FileInfo:
    """Read ``path`` into table ``table`` of ``con``: ``_row`` plus one VARCHAR per column.

    Raises ``LoadRefusedError`` (with ``report`` filled in) when the file cannot be
    read: missing, empty, binary, header-only, broken CSV rows, malformed JSON.
    """
    path = Path(path)
    if not str(path).strip() or str(path) == ".":
        raise _refuse(report, Problem("no file was given"))
    if path.is_dir():
        raise _refuse(report, Problem(f"{str(path)!r} is a folder, not a file"))
    if path.exists() and not path.is_file():
        raise _refuse(report, Problem(f"{str(path)!r} is not a regular file (a pipe or device?)"))
    if not path.is_file():
        raise _refuse(report, Problem(f"file {str(path)!r} does not exist"))
    if path.stat().st_size == 0:
        raise _refuse(report, Problem("the file is empty"))
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    info = FileInfo(name=report.source_name, file_format="parquet")
    tmpdir = Path(tempfile.mkdtemp(prefix="mart-load-"))
    try:
        if head.startswith(b"PAR1"):
            _read_parquet(con, path, table, report)
        else:
            reason = _binary_reason(head[:65536])
            if reason:
                raise _refuse(report, Problem(f"the file {reason}"))
            encoding = _detect_encoding(path, head)
            info.encoding = encoding
            if encoding == MIXED_UTF8:
                report.add_warning(mixed_encoding_problem(path), "mixed encodings")
            if encoding == MAC_ROMAN:
                report.add_warning(
                    Problem(
                        "the file is not UTF-8 and its lines end with CR alone, as Excel for "
                        "Mac's 'CSV (Macintosh)' writes them: its accented letters were read "
                        "as Mac Roman. Check them, and save the file as 'CSV UTF-8' to be sure"
                    ),
                    "encoding guessed",
                )
            readable = path
            if encoding not in ("utf-8", "utf-8-sig"):
                readable = tmpdir / "utf8.txt"
                _transcode(path, encoding, readable)
                with readable.open("rb") as handle:
                    head = handle.read(SAMPLE_BYTES)
            if encoding in GUESSED_ENCODINGS:
                guessed = _guessed_letters_problem(readable, encoding)
                if guessed:
                    report.add_warning(guessed, "encoding guessed")
            if b"\r" in head and b"\n" not in head:  # old Mac line endings: CR only
                converted = tmpdir / "lf.txt"
                _cr_to_lf(readable, converted)
                readable = converted
                with readable.open("rb") as handle:
                    head = handle.read(SAMPLE_BYTES)
            elif _mixed_line_endings(readable):
                # CRLF and LF in one file (an edited or concatenated export): DuckDB's
                # reader stopped with "the CSV Parser state machine reached an invalid
                # state". Every CRLF becomes LF.
                converted = tmpdir / "lf.txt"
                _crlf_to_lf(readable, converted)
                readable = converted
                with readable.open("rb") as handle:
                    head = handle.read(SAMPLE_BYTES)
            text_head = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
            if not text_head.strip():
                raise _refuse(report, Problem("the file holds only blank lines"))
            if text_head.lstrip()[:1] in ("[", "{"):
                info.file_format = "json"
                if head.startswith(codecs.BOM_UTF8):
                    # DuckDB reads a BOM-led array as one value: "each record must be a
                    # JSON object". Windows tools write the BOM; read past it.
                    stripped = tmpdir / "nobom.json"
                    _copy_without_bom(readable, stripped)
                    readable = stripped
                _read_json(con, readable, table, report)
            elif path.suffix.lower() in {".json", ".jsonl", ".ndjson"}:
                start = text_head.lstrip()
                first = start.splitlines()[0][:40] if start else ""
                reason = (
                    "JSON does not allow comments; remove them"
                    if start.startswith(("//", "/*", "#"))
                    else "records must be JSON objects: an array of objects, or one object per line"
                )
                raise _refuse(
                    report,
                    Problem(f"the file is named {path.suffix} but starts with {first!r}: {reason}"),
                )
            else:
                info.file_format = "csv"
                # blank lines before the header are skipped, not read as the header
                lines = text_head.splitlines()
                leading = 0
                for line in lines:
                    if line.strip():
                        break
                    leading += 1
                # A report's notes above the header, under a ruler line (GA4's and
                # Universal Analytics' "# ----", Adobe's "#====="): skipped, with a warning
                sniffed = text_head
                if leading < len(lines) and re.fullmatch(COMMENT_RULER, lines[leading]):
                    notes = leading
                    while leading < len(lines) and (
                        not lines[leading].strip() or re.match(COMMENT_LINE, lines[leading])
                    ):
                        leading += 1
                    sniffed = "\n".join(lines[leading:])
                    lines_said = (
                        f"line {notes + 1} is"
                        if leading == notes + 1
                        else f"lines {notes + 1} to {leading} are"
                    )
                    report.add_warning(
                        Problem(
                            f"{lines_said} a report's notes above the header (they start "
                            "with #): skipped"
                        ),
                        "notes above the header",
                    )
                # Excel writes "sep=;" as a first line to name the delimiter
                named = SEP_LINE.fullmatch(lines[leading]) if leading < len(lines) else None
                if named:
                    delimiter = named.group(1)
                    leading += 1
                    while leading < len(lines) and not lines[leading].strip():
                        leading += 1
                    first = lines[leading] if leading < len(lines) else ""
                    header = next(csv.reader([first], delimiter=delimiter, quotechar='"'), [])
                else:
                    delimiter, header = _sniff_csv(sniffed)
                info.delimiter = delimiter
                _read_csv(
                    con,
                    readable,
                    table,
                    delimiter,
                    _clean_header(header, report),
                    report,
                    skip=leading,
                    unnamed_last=len(header) > 1 and not header[-1].strip("\ufeff \t"),
                )
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    info.columns = [
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where table_name = ? order by column_index",
            [table],
        ).fetchall()
        if name != "_row"
    ]
    _refuse_control_bytes(con, table, info.columns, report)
    info.joined = _join_date_and_time(con, table, info.columns, report)
    if info.joined:
        info.columns.append(info.joined[0])
    if report.dataset != "transactions":
        info.funnel = _funnel_columns(con, table, info.columns)
    info.row_count = int(con.execute(f"select count(*) from {table}").fetchall()[0][0])
    report.file_format, report.encoding, report.delimiter = (
        info.file_format,
        info.encoding,
        info.delimiter,
    )
    report.columns, report.row_count = list(info.columns), info.row_count
    if info.row_count == 0:
        raise _refuse(report, Problem("the file has a header but no data rows"))
    return info


#: A time of day alone (10:05, 10:05:12, 10:05:12.250, 3:05 PM), and a date alone in
#: digits (2024-01-15, 15/01/2024, 15.01.24): the two halves of a moment some exports
#: write in two columns.
TIME_OF_DAY_ONLY = r"\s*([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(\s*[AaPp][Mm])?\s*"
#: Words in the names of a time-of-day column and of a date column (normalized).
TIME_WORDS = ("time", "hour", "uhrzeit", "zeit", "hora", "heure", "ora", "tijd", "clock")
DATE_WORDS = ("date", "datum", "fecha", "data", "day", "tag", "jour", "giorno")
DATE_ONLY = (
    r"\s*([0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4})\s*"
)


def _join_date_and_time(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], report: ValidationReport
) -> tuple[str, str, str] | None:
    """A column "<date> + <time>" joining a column of dates alone and one of times of day
    alone (Date,Time,User ID,Event: the time column was taken for the event's moment
    and refused, and no mapping could give both). Made, for events, when the file has
    exactly one column named like a time holding times of day (hours 0-23) and one
    named like a date holding dates (of several, the one with "dat" or "fecha").
    Returns (the column made, the date column, the time column), or None."""
    if report.dataset == "transactions":
        return None  # a transaction needs only its date
    # by name first: a time named so (a duration, 00:03:12 or 24:38, is no time of day),
    # and dates named so; a wide file pays for the names only
    timed = [c for c in columns if any(word in normalize_name(c) for word in TIME_WORDS)]
    dated = [c for c in columns if any(word in normalize_name(c) for word in DATE_WORDS)]
    if not timed or not dated:
        return None
    columns = list(dict.fromkeys([*timed, *dated]))

    def kinds(names: Sequence[str], source: str) -> tuple[list[str], list[str]]:
        """The columns of ``names`` holding only times of day, and only dates."""
        if not names:
            return [], []
        checks = ", ".join(
            f"count(nullif(trim({_ident(c)}), '')), "
            f"count(*) filter (where regexp_full_match({_ident(c)}, "
            f"{_sql_str(TIME_OF_DAY_ONLY)})), "
            f"count(*) filter (where regexp_full_match({_ident(c)}, {_sql_str(DATE_ONLY)}))"
            for c in names
        )
        counts = con.execute(f"select {checks} from {source}").fetchall()[0]
        times, dates = [], []
        for index, column in enumerate(names):
            filled, clock, day = counts[3 * index : 3 * index + 3]
            if filled and clock == filled:
                times.append(column)
            elif filled and day == filled:
                dates.append(column)
        return times, dates

    # the first rows first: a 1M-row file with no time-of-day column pays for 1,000 rows
    times, dates = kinds(columns, f"(select * from {table} order by _row limit 1000)")
    if len(times) != 1 or not dates:
        return None
    times, dates = kinds([*times, *dates], table)
    if len(times) != 1 or not dates:
        return None
    if len(dates) > 1:
        dated = [c for c in dates if "dat" in normalize_name(c) or "fecha" in normalize_name(c)]
        if len(dated) != 1:
            return None
        dates = dated
    date_column, time_column = dates[0], times[0]
    joined = f"{date_column} + {time_column}"
    if joined in columns:
        return None
    con.execute(
        f"create or replace temp table {table} as select *, "
        f"case when nullif(trim({_ident(date_column)}), '') is not null "
        f"and nullif(trim({_ident(time_column)}), '') is not null "
        f"then trim({_ident(date_column)}) || ' ' || trim({_ident(time_column)}) end "
        f"as {_ident(joined)} from {table} order by _row"
    )
    report.derived_columns.append(joined)
    return joined, date_column, time_column


def _funnel_columns(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]
) -> dict[str, float]:
    """{column: the share of its non-empty values that name a funnel step, in the
    funnel's words or another tool's}, for the columns where it is above 0: what
    tells the event type's column when its name does not (Shopify's pixel events:
    `type` is "standard" on every row, the names sit in `name`)."""
    names = [*EVENT_TYPES, *(alias for aliases in EVENT_TYPE_ALIASES.values() for alias in aliases)]
    letters = sorted({re.sub(r"[^a-z0-9]", "", name.lower()) for name in names})
    listed = ", ".join(_sql_str(name) for name in letters)

    def shares(names: Sequence[str], source: str) -> dict[str, float]:
        if not names:
            return {}
        found = con.execute(
            "select "
            + ", ".join(
                f"count(*) filter (where lower(regexp_replace({_ident(c)}, '[^A-Za-z0-9]', '', "
                f"'g')) in ({listed})) / greatest(count(nullif(trim({_ident(c)}), '')), 1)"
                for c in names
            )
            + f" from {source}"
        ).fetchall()[0]
        return {column: float(share) for column, share in zip(names, found, strict=True)}

    # the columns named like an event type over the whole file (one with funnel values
    # only after row 1,000 keeps its place); the others over the first 1,000 rows, and
    # only in a file of at most 200 columns (a wide one paid seconds for the names)
    named = [c for c in columns if normalize_name(c) in ("eventtype", *SYNONYMS["event_type"])]
    found = shares(named, table)
    others = [c for c in columns if c not in named] if len(columns) <= 200 else []
    found |= shares(others, f"(select * from {table} order by _row limit 1000)")
    return {column: share for column, share in found.items() if share}


#: The first line of a report's notes above its header: # and a ruler of - = # * _ ~.
COMMENT_RULER = r"\ufeff?\s*#\s*[-=#*_~]{3,}\s*"
#: A line of those notes: # then a space, more of the ruler, or nothing ("#,Name" and
#: "#Order" are headers).
COMMENT_LINE = r"\s*#(\s|[-=#*_~]|$)"


def _copy_without_bom(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` without its leading UTF-8 byte-order mark."""
    with source.open("rb") as read, target.open("wb") as write:
        first = read.read(len(codecs.BOM_UTF8))
        if first != codecs.BOM_UTF8:
            write.write(first)
        shutil.copyfileobj(read, write, 1 << 20)


def _read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    delimiter: str,
    header: list[str],
    report: ValidationReport,
    skip: int = 0,
    unnamed_last: bool = False,
) -> None:
    """Read the CSV at ``path`` into ``table`` as text columns named ``header``.

    ``unnamed_last``: the header ends with a delimiter. Its last column must then be
    empty: a value there means the fields of that row moved one to the right, as an
    unquoted 1,234.56 does (1 as the amount, 234.56 as the category), so the load is
    refused instead of storing wrong amounts."""
    if not header:
        raise _refuse(report, Problem("no header row found"))
    columns = "{" + ", ".join(f"{_sql_str(name)}: 'VARCHAR'" for name in header) + "}"
    source = (
        f"read_csv({_sql_str(str(path))}, auto_detect=false, header=true, skip={int(skip)}, "
        f"delim={_sql_str(delimiter)}, quote='\"', escape='\"', columns={columns}, "
        f"max_line_size={MAX_LINE_SIZE}, store_rejects=true, "
        f"rejects_table='mart_rejects', rejects_scan='mart_rejects_scan')"
    )
    try:
        con.execute(f"create or replace temp table csv_raw as select * from {source}")
    except duckdb.Error as exc:
        problem = Problem(f"the file cannot be read as CSV: {_duckdb_message(exc)}")
        raise _refuse(report, problem) from None
    rejects = con.execute(
        "select line, column_name, error_type, csv_line, error_message from mart_rejects "
        "order by line"
    ).fetchall()
    if rejects:
        seen_lines: set[int] = set()
        for line, column, kind, text, message in rejects:
            if line in seen_lines:  # one problem per line: a short row reports each gap
                continue
            seen_lines.add(line)
            value = (text or "").strip("\r\n")
            if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
                fields = len(next(csv.reader([value], delimiter=delimiter, quotechar='"'), []))
                if len(header) == 1 and fields > 1:
                    # a title or notes above the header: the first line read (after
                    # blank lines and a report's # notes) was the header
                    where = "the first line" if not skip else f"line {int(skip) + 1}"
                    report.add_error(
                        Problem(
                            f"{where}, {header[0]!r}, was read as the header, with "
                            f"one column, and this line has {fields} fields: if the file "
                            "starts with a title or notes above the header, delete those "
                            "lines so that the header comes first",
                            line=int(line),
                            value=value,
                        )
                    )
                    break
                described = (
                    f"this line has {fields} field(s) where the header has {len(header)}: "
                    + (
                        "a line cut short, or a note below the records (a footer such as "
                        "'Report generated …'; delete it)"
                        if fields < len(header)
                        else f"a value holding the delimiter {delimiter!r} without quotes "
                        "around it, or a line of another file"
                    )
                )
                report.add_error(Problem(described, line=int(line), value=value))
                continue
            report.add_error(
                Problem(
                    message.rstrip("."),
                    line=int(line),
                    column=column or None,
                    value=value,
                )
            )
        raise LoadRefusedError(report)
    select = ", ".join(_ident(name) for name in header)
    con.execute(
        f"create or replace temp table {table} as "
        f"select (rowid + 1)::BIGINT as _row, {select} from csv_raw order by rowid"
    )
    con.execute("drop table csv_raw")
    if unnamed_last:
        _refuse_shifted_fields(con, table, header, delimiter, report)
    # Rows of delimiters only (";;;;", as spreadsheets export their empty rows) are
    # skipped like blank lines, with a warning saying how many.
    empty = " and ".join(f"nullif(trim({_ident(name)}), '') is null" for name in header)
    rows = [row for (row,) in con.execute(f"select _row from {table} where {empty}").fetchall()]
    if rows:
        con.execute(f"delete from {table} where {empty}")
        for row in rows[:5]:
            report.add_warning(
                Problem("every field is empty: skipped, as a blank line is", row=row),
                "empty rows skipped",
                0,
            )
        report.warning_count += len(rows)
        report.warning_summary["empty rows skipped"] = len(rows)


def _refuse_shifted_fields(
    con: duckdb.DuckDBPyConnection,
    table: str,
    header: list[str],
    delimiter: str,
    report: ValidationReport,
) -> None:
    """Refuse the file when its unnamed last column holds values (see :func:`_read_csv`)."""
    last = _ident(header[-1])
    where = f"nullif(trim({last}), '') is not null"
    found = con.execute(
        f"select _row, {last} from {table} where {where} order by _row limit ?", [MAX_PROBLEMS]
    ).fetchall()
    if not found:
        return
    total = int(con.execute(f"select count(*) from {table} where {where}").fetchall()[0][0])
    shown = "comma" if delimiter == "," else repr(delimiter)
    for row, value in found:
        report.add_error(
            Problem(
                "a value in the last column, which the header leaves without a name (it ends "
                f"with a {shown}): the fields of this row have likely moved one to the right, "
                f"as an unquoted {'1,234.56' if delimiter == ',' else 'delimiter'} in a value "
                "does. Quote such values or remove the thousands separators (or name the "
                "column), and load the file again",
                row=int(row),
                column=header[-1],
                value=str(value),
            )
        )
    report.error_count += total - len(found)
    raise LoadRefusedError(report)


def _nth_nonblank_line(path: Path, index: int) -> int | None:
    """The file line number of the ``index``-th (1-based) line that is not blank."""
    seen = 0
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    seen += 1
                    if seen == index:
                        return number
    except OSError:
        return None
    return None


# Above this size a JSON syntax error keeps DuckDB's record number without our own check.
UNCLOSED_ARRAY_CHECK_BYTES = 64 * 1024 * 1024


def _unclosed_array_problem(path: Path) -> Problem | None:
    """The problem of a JSON array whose records are all complete but never closed.

    DuckDB reports such a file at a record after the last one, which does not exist
    (a 2-record file "in record 3"). Here the records are read one by one: when each
    is whole and the file ends before the closing ``]`` (perhaps after a comma), that
    is the problem, at the last record. Anything else (a record that is itself
    broken, a closed array, a file too big to check here) gives None.
    """
    try:
        if path.stat().st_size > UNCLOSED_ARRAY_CHECK_BYTES:
            return None
        text = path.read_text(encoding="utf-8", errors="replace").lstrip("\ufeff")
    except OSError:
        return None
    decoder = json.JSONDecoder()
    blank = re.compile(r"\s*")
    position = blank.match(text).end()
    if text[position : position + 1] != "[":
        return None
    position += 1
    records = 0
    while True:
        position = blank.match(text, position).end()
        if position == len(text):
            break
        if text[position] == "]":
            return None
        if records:
            if text[position] != ",":
                return None
            position = blank.match(text, position + 1).end()
            if position == len(text):
                break
        try:
            _, position = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):  # JSONDecodeError, or nesting too deep
            return None
        records += 1
    if not records:
        return Problem("the file is not valid JSON: it starts a JSON array and ends at once")
    return Problem(
        "the file is not valid JSON: the JSON array is not closed (the file ends after "
        "this record without the closing ])",
        row=records,
    )


def _json_syntax_problem(message: str, path: Path) -> Problem:
    """A JSON syntax error from DuckDB as a Problem naming the bad line or record.

    DuckDB (2.0) numbers the record *after* the one it failed on, and counts only
    non-blank lines: a bad second line is reported "in line 3", and so is a bad fourth
    line after two blank ones. Both are corrected here: the record number minus one,
    mapped to the file's own line numbers for newline-delimited JSON. When the first
    line of a JSONL file is broken DuckDB cannot tell the format and says
    "record/value", which is treated as a line too. The message is ours, without
    DuckDB's path, byte offsets or hints.
    """
    reason = message.rsplit(":", 1)[-1].strip() if ":" in message else ""
    reason = re.split(r"\.\s+Try ", reason)[0].strip().rstrip(".")  # DuckDB's own hints
    if reason == "input length is 0":
        reason = "a record is empty (a comma after the last record?)"
    if not reason or reason.lower().startswith("try "):
        reason = "unreadable"
    text = f"the file is not valid JSON (truncated or malformed): {reason}"
    found = re.search(r"in (line|record/value) (\d+)", message)
    if not found:
        return Problem(text)
    index = max(1, int(found.group(2)) - 1)
    lines = found.group(1) == "line" or path.suffix.lower() in {".jsonl", ".ndjson"}
    if lines:
        return Problem(text, line=_nth_nonblank_line(path, index) or index)
    return _unclosed_array_problem(path) or Problem(text, row=index)


def _read_json(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, report: ValidationReport
) -> None:
    source = (
        f"read_json_objects({_sql_str(str(path))}, format='auto', "
        f"maximum_object_size={MAX_LINE_SIZE})"
    )
    try:
        con.execute(f"create or replace temp table json_raw as select json from {source}")
    except duckdb.Error as exc:
        raise _refuse(report, _json_syntax_problem(_duckdb_message(exc), path)) from None
    if not con.execute("select count(*) from json_raw").fetchall()[0][0]:
        raise _refuse(report, Problem("the JSON file holds no records"))
    # JSON Pointer paths (below): they reach every key, the empty one included.
    wrapped = con.execute(
        "select key, json_array_length(json, p) from ("
        "  select json, key, '/' || replace(replace(key, '~', '~0'), '/', '~1') as p"
        "  from (select json, unnest(json_keys(json)) as key from json_raw)) "
        "where (select count(*) from json_raw) = 1 and json_type(json, p) = 'ARRAY' "
        "and json_type(json, p || '/0') = 'OBJECT' limit 1"
    ).fetchall()
    if wrapped:  # said instead of "no column" if the object's fields do not map
        report.wrapped_records = (str(wrapped[0][0]), int(wrapped[0][1]))
    not_objects = con.execute(
        "select rowid + 1, left(json::VARCHAR, 80) from json_raw "
        "where json_type(json) <> 'OBJECT' order by rowid limit ?",
        [MAX_PROBLEMS],
    ).fetchall()
    if not_objects:
        count = con.execute(
            "select count(*) from json_raw where json_type(json) <> 'OBJECT'"
        ).fetchall()[0][0]
        for row, text in not_objects:
            report.add_error(Problem("each record must be a JSON object", row=row, value=text))
        report.error_count += count - len(not_objects)
        raise LoadRefusedError(report)
    _warn_repeated_keys(con, report)
    keys = [
        key
        for (key,) in con.execute(
            "select key from (select unnest(json_keys(json)) as key, "
            "generate_subscripts(json_keys(json), 1) as i, rowid as r from json_raw) "
            "group by key order by min(r), arg_min(i, r)"
        ).fetchall()
    ]
    if not keys:
        raise _refuse(report, Problem("the JSON records have no fields"))
    header = _clean_header(keys, report)
    columns = [([key], name) for key, name in zip(keys, header, strict=True)]
    _json_table(con, table, columns)
    report.nested_values = _json_nested_values(con, table, columns)
    derived = _object_keys(con, columns, report, {name.lower() for _, name in columns})
    level = 1
    while derived:
        # read again with the keys' columns: one parse of each record for all of them
        columns = columns + derived
        _json_table(con, table, columns)
        report.nested_values |= _json_nested_values(con, table, derived)
        report.derived_columns += [name for _, name in derived]
        level += 1
        if level > MAX_OBJECT_DEPTH:
            break
        # objects inside those objects: their keys one level further down
        derived = _object_keys(con, derived, report, {name.lower() for _, name in columns})
    con.execute("drop table json_raw")


def _json_pointer(path: Sequence[str]) -> str:
    """The JSON Pointer (RFC 6901) of ``path``: it reaches every key, the empty one too."""
    return "/" + "/".join(key.replace("~", "~0").replace("/", "~1") for key in path)


def _json_table(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[tuple[Sequence[str], str]]
) -> None:
    """Table ``table``: ``_row`` and, for each (path, name) of ``columns``, the text of
    the value at that path of each record of ``json_raw``, all read in one parse."""
    paths = "[" + ", ".join(_sql_str(_json_pointer(path)) for path, _ in columns) + "]"
    select = ", ".join(
        f"{_json_text(path, i + 1)} as {_ident(name)}" for i, (path, name) in enumerate(columns)
    )
    con.execute(
        f"create or replace temp table {table} as "
        f"select _row, {select} from ("
        f"  select (rowid + 1)::BIGINT as _row, json, json_extract_string(json, {paths}) as vals "
        f"  from json_raw) order by _row"
    )


#: How many keys of a column's objects become columns of their own, at most.
MAX_OBJECT_KEYS = 200
#: How far down objects' keys (a Parquet file's STRUCTs' fields) become columns:
#: ``user.id``, ``context.traits.user_id``, ``a.b.c.d``; deeper ones stay inside.
MAX_OBJECT_DEPTH = 3
#: Objects whose keys are looked up by the key alone too (properties.category is a
#: product category): the property bags of Segment, Mixpanel, Amplitude and PostHog.
#: GA4's device.category (desktop, mobile) is not one.
PROPERTY_BAGS = (
    "properties", "props", "eventproperties", "eventprops", "traits", "params",
    "eventparams", "attributes", "payload",
)  # fmt: skip


def _warn_repeated_keys(
    con: duckdb.DuckDBPyConnection,
    report: ValidationReport,
    path: Sequence[str] | None = None,
    name: str | None = None,
) -> None:
    """Warn where a record repeats a key, or (``path``) where the object of column
    ``name`` does (``"user": {"id": "C1", "id": "C9"}``): the first value is used."""
    if path is None:
        keys = "json_keys(json)"
        where = f"len({keys}) <> len(list_distinct({keys}))"
        inside = "this record"
    else:
        pointer = _sql_str(_json_pointer(path))
        keys = f"json_keys(json, {pointer})"
        where = (
            f"json_type(json, {pointer}) = 'OBJECT' and len({keys}) <> len(list_distinct({keys}))"
        )
        inside = f"this record's {name!r} object"
    repeated = con.execute(
        f"select rowid + 1, {keys} from json_raw where {where} order by rowid limit ?",
        [MAX_PROBLEMS],
    ).fetchall()
    if not repeated:
        return
    for row, names in repeated:
        twice = sorted({key for key in names if names.count(key) > 1}, key=names.index)
        report.add_warning(
            Problem(
                ("key " if len(twice) == 1 else "keys ")
                + ", ".join(repr(key) for key in twice)
                + (" appears" if len(twice) == 1 else " appear")
                + f" more than once in {inside}: the first value is used",
                row=row,
                column=name,
            ),
            "duplicate keys",
        )
    [(total,)] = con.execute(f"select count(*) from json_raw where {where}").fetchall()
    report.warning_count += total - len(repeated)
    report.warning_summary["duplicate keys"] += total - len(repeated)


def _object_keys(
    con: duckdb.DuckDBPyConnection,
    columns: Sequence[tuple[Sequence[str], str]],
    report: ValidationReport,
    taken: set[str],
) -> list[tuple[list[str], str]]:
    """Each key of a column holding JSON objects as a column of its own: (its path, its
    name ``column.key``: ``user.id``, ``properties.category``), one level down, in the
    order the keys first appear. Segment's, Mixpanel's and Shopify's events keep the
    customer, the category or the time inside an object, which could not be mapped.
    A name already taken in any case (``taken``: every column's name so far, lower-cased;
    the new ones are added) gets _2, _3 …, with a warning (DuckDB's names ignore case:
    user.ID beside user.id became user.ID_1 unasked)."""
    made: list[tuple[list[str], str]] = []
    for path, name in columns:
        found = report.nested_values.get(name)
        if not found or not found[3]:  # no object in the column (arrays only)
            continue
        inner = con.execute(
            "select k from (select unnest(json_keys(json, p)) as k, "
            "generate_subscripts(json_keys(json, p), 1) as i, rowid as r "
            f"from (select json, rowid, {_sql_str(_json_pointer(path))} as p from json_raw) "
            "where json_type(json, p) = 'OBJECT') group by k order by min(r), arg_min(i, r) "
            "limit ?",
            [MAX_OBJECT_KEYS + 1],
        ).fetchall()
        _warn_repeated_keys(con, report, path, name)
        for sub, column in _key_columns(name, [str(sub) for (sub,) in inner], taken, report):
            made.append(([*path, sub], column))
    return made


def _key_columns(
    name: str, keys: Sequence[str], taken: set[str], report: ValidationReport
) -> list[tuple[str, str]]:
    """(key, column name) for the keys of column ``name``'s objects or structs: at most
    :data:`MAX_OBJECT_KEYS` (warned), ``name.key``, or ``name.key_2`` … where that name
    is taken in any case (warned; ``taken`` holds the lower-cased names so far)."""
    if len(keys) > MAX_OBJECT_KEYS:
        report.add_warning(
            Problem(
                f"the objects of column {name!r} have more than {MAX_OBJECT_KEYS} keys: "
                f"the first {MAX_OBJECT_KEYS} (in the order they appear) are columns of "
                "their own; for another, move it out of the object in the file",
                column=name,
            ),
            "object keys left out",
        )
    made = []
    for sub in keys[:MAX_OBJECT_KEYS]:
        if not sub.strip():
            continue
        column = wanted = f"{name}.{sub}"
        number = 1
        while column.lower() in taken:
            number += 1
            column = f"{wanted}_{number}"
        if column != wanted:
            report.add_warning(
                Problem(
                    f"key {sub!r} of column {name!r} is column {column!r}: the name "
                    f"{wanted!r} is taken by another column (names ignore case)",
                    column=name,
                ),
                "columns renamed",
            )
        taken.add(column.lower())
        made.append((sub, column))
    return made


def _json_nested_values(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[tuple[Sequence[str], str]]
) -> dict[str, tuple[int, int, int, tuple[str, ...]]]:
    """The columns of a JSON file holding objects or arrays (see ``nested_values``).

    An object or array comes out as its JSON text, so one pass over the text finds the
    candidates (a value starting with { or [); the record itself (``json_raw``) then
    tells a real object from a string that only looks like one."""
    if not columns:
        return {}
    looks = [
        f"count(*) filter (where left({_ident(name)}, 1) in ('{{', '['))" for _, name in columns
    ]
    counts = con.execute(f"select {', '.join(looks)} from {table}").fetchall()[0]
    found: dict[str, tuple[int, int, int, tuple[str, ...]]] = {}
    for (path, name), candidates in zip(columns, counts, strict=True):
        if not candidates:
            continue
        pointer = _sql_str(_json_pointer(path))
        nested, first, plain, inner = con.execute(
            "select count(*) filter (where json_type(json, p) in ('OBJECT', 'ARRAY')), "
            "min(rowid + 1) filter (where json_type(json, p) in ('OBJECT', 'ARRAY')), "
            "count(*) filter (where json_type(json, p) not in ('OBJECT', 'ARRAY', 'NULL')), "
            "list_sort(list_distinct(flatten(list(json_keys(json, p)) filter ("
            "where json_type(json, p) = 'OBJECT'))))[:8] "
            f"from (select json, rowid, {pointer} as p from json_raw)"
        ).fetchall()[0]
        if nested:
            found[name] = (int(nested), int(first), int(plain), tuple(inner or ()))
    return found


_NESTED_TYPE = re.compile(r"^(STRUCT|MAP|UNION)\(|.*\]$", re.IGNORECASE)


def _json_text(path: Sequence[str], index: int) -> str:
    """SQL for the text of the value at ``path`` (``vals[index]``), exact for long
    numbers.

    DuckDB reads a JSON number as a DOUBLE when it extracts it as text: 16 digits or
    more come back changed (9007199254740993.01 as 9007199254740994.0), and so does a
    long fraction, whose DOUBLE's shortest text may round to another cent
    (2.674999999999999999 came back as 2.675, then 2.68). Those values (the DOUBLE's
    text long, or with three decimals or more) are read again as a
    DECIMAL, which DuckDB takes from the number's own text, and written without
    trailing zeros; one too large for DECIMAL(38,20) keeps the DOUBLE's text. A DOUBLE
    whose text has two decimals or fewer is the file's number to far less than a
    cent."""
    text = f"vals[{index}]"
    if not all(path):
        return text  # json_transform cannot name the empty key
    structure: Any = "DECIMAL(38,20)"
    for key in reversed(path):
        structure = {key: structure}
    value = f"json_transform(json, {_sql_str(json.dumps(structure))})"
    for key in path:
        value = f"struct_extract({value}, {_sql_str(key)})"
    exact = f"rtrim(rtrim(cast({value} as VARCHAR), '0'), '.')"
    # nested CASEs: the record is parsed again only for values that look like long
    # numbers (an AND would evaluate json_type on every value)
    return (
        f"case when regexp_full_match({text}, "
        "'-?[0-9]{16,}(\\.[0-9]*)?|-?[0-9.]{17,}|-?[0-9]*\\.[0-9]{3,}') "
        f"then case when json_type(json, {_sql_str(_json_pointer(path))}) = 'DOUBLE' "
        f"then coalesce({exact}, {text}) else {text} end else {text} end"
    )


def _read_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, report: ValidationReport
) -> None:
    source = f"read_parquet({_sql_str(str(path))})"
    try:
        described = con.execute(f"describe select * from {source}").fetchall()
        original = _parquet_names(path)
        if original is not None and len(original) == len(described):
            # DuckDB renames a repeated name itself (Amount -> Amount_1) before we see
            # it: name the columns from the file, so the repeat is said, as in a CSV.
            header = _clean_header(original, report)
        else:
            header = _clean_header([row[0] for row in described], report)
        zones = _parquet_time_zones(path)

        def text(column: str, kind: str, value: str | None = None) -> str:
            """SQL for the text of ``value`` (column ``column`` itself when None), of
            DuckDB type ``kind``."""
            value = value or _ident(column)
            if _NESTED_TYPE.match(kind):
                # a nested value is kept as JSON text ({"a": 1}), not DuckDB's {'a': 1}
                return f"to_json({value})::VARCHAR"
            zone = zones.get(column)
            if zone and _ZONED_TIMESTAMP_TYPE.match(kind):
                # The moment as the file's zone shows it ("2024-01-15 23:30:00
                # America/New_York"): read like a CSV's zoned time, converted to UTC
                # with a warning where that changes the date. DuckDB itself keeps only
                # the UTC moment, and the date changed without a word.
                offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", zone)
                # pandas' default unit, nanoseconds, is TIMESTAMPTZ_NS: as microseconds,
                # cut (DuckDB's cast rounds: 23:59:59.999999999 UTC was the next day's 0:00)
                moment = f"date_trunc('microseconds', {value})::TIMESTAMPTZ"
                local = (
                    # a fixed offset: the connection is in UTC, so this is the wall time
                    f"{moment}::TIMESTAMP {offset.group(1)} "
                    f"interval '{offset.group(2)}:{offset.group(3)}'"
                    if offset
                    else f"timezone({_sql_str(zone)}, {moment})"
                )
                return f"strftime({local}, '%Y-%m-%d %H:%M:%S.%f') || ' ' || {_sql_str(zone)}"
            if _FLOAT_TYPE.match(kind):
                # DuckDB writes a small double in scientific notation (1e-05, a float
                # sum's 5.551115123125783e-17), which the amount reader refuses as a
                # spreadsheet's: written out in full instead, to be rounded to the cent
                # like any long decimal. A large one (1e+20) stays as it is, too large.
                return (
                    f"case when contains({value}::VARCHAR, 'e') and abs({value}) < 1e15 "
                    f"then rtrim(rtrim(cast({value} as DECIMAL(38, 20))::VARCHAR, '0'), '.') "
                    f"else {value}::VARCHAR end"
                )
            return f"{value}::VARCHAR"

        # Each field of a STRUCT column is a column of its own (``user.id``), as a JSON
        # object's keys are: a warehouse's Parquet export keeps the customer or the
        # category inside one, which could not be mapped.
        types = con.sql(f"select * from {source}").types
        taken = {name.lower() for name in header}
        derived: list[tuple[str, str, str]] = []  # (SQL of the value, its type, name)
        fields_of: dict[str, tuple[str, ...]] = {}

        def split(name: str, kind: Any, value_sql: str, level: int) -> None:
            fields = {str(field): inner for field, inner in kind.children}
            fields_of[name] = tuple(sorted(fields)[:8])
            if level > MAX_OBJECT_DEPTH:  # named in the refusal, not split
                return
            for field, column in _key_columns(name, list(fields), taken, report):
                value = f"struct_extract({value_sql}, {_sql_str(field)})"
                derived.append((value, str(fields[field]), column))
                if getattr(fields[field], "id", "") == "struct":  # a struct in a struct
                    split(column, fields[field], value, level + 1)

        for row, name, kind in zip(described, header, types, strict=True):
            if getattr(kind, "id", "") == "struct":
                split(name, kind, _ident(row[0]), 1)
        columns = [
            (text(row[0], str(row[1])), str(row[1]), name)
            for row, name in zip(described, header, strict=True)
        ] + [(text("", kind, value), kind, column) for value, kind, column in derived]
        select = ", ".join(f"{sql} as {_ident(name)}" for sql, _, name in columns)
        report.typed_numbers = {
            name: kind.upper().split("(")[0]
            for _, kind, name in columns
            if _NUMBER_TYPE.match(kind)
        }
        con.execute(
            f"create or replace temp table {table} as "
            f"select row_number() over ()::BIGINT as _row, {select} from {source}"
        )
        for _, kind, name in columns:
            if _NESTED_TYPE.match(kind):
                nested, first = con.execute(
                    f"select count({_ident(name)}), min(_row) filter "
                    f"(where {_ident(name)} is not null) from {table}"
                ).fetchall()[0]
                if nested:
                    report.nested_values[name] = (
                        int(nested),
                        int(first),
                        0,
                        fields_of.get(name, ()),
                    )
        report.derived_columns = [name for _, _, name in derived]
    except duckdb.Error as exc:
        raise _refuse(
            report, Problem(f"the file cannot be read as Parquet: {_duckdb_message(exc)}")
        ) from None


_FLOAT_TYPE = re.compile(r"^(DOUBLE|FLOAT|REAL)\b", re.IGNORECASE)
#: DuckDB's types for a Parquet timestamp with a time zone, in each unit: TIMESTAMPTZ_NS
#: for nanoseconds (pandas' default), TIMESTAMP WITH TIME ZONE for milli- and microseconds.
_ZONED_TIMESTAMP_TYPE = re.compile(
    r"^(TIMESTAMP(_[A-Z]+)? WITH TIME ZONE|TIMESTAMPTZ(_[A-Z]+)?)$", re.IGNORECASE
)
_NUMBER_TYPE = re.compile(
    r"^(DECIMAL|NUMERIC|DOUBLE|FLOAT|REAL|U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?)\b", re.IGNORECASE
)
#: From this size a floating-point amount cannot hold every cent: doubles are exact
#: to 15-16 significant digits, so 1234567890123456.7 is really ...456.75.
FLOAT_EXACT_AMOUNT = 10**13
#: The same for a 32-bit float (pandas' float32, Spark's FloatType): from 2**17 its
#: steps are wider than a cent (1/64), so 1234567.89 is stored as 1234567.875.
FLOAT32_EXACT_AMOUNT = 2**17


def _parquet_names(path: Path) -> list[str] | None:
    """The file's own column names (pyarrow's schema), or None if it cannot say."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (OSError, pa.ArrowException):
        return None


def _parquet_time_zones(path: Path) -> dict[str, str]:
    """{column: time zone} of the file's timestamp columns that name a zone other than
    UTC (pyarrow's schema keeps the name; DuckDB's reader only the UTC moment)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return {}
    zones = {}
    for column in schema:
        kind = column.type
        zone = getattr(kind, "tz", None) if pa.types.is_timestamp(kind) else None
        if zone and zone.upper() not in {"UTC", "Z", "+00:00", "ETC/UTC"}:
            zones[column.name] = zone
    return zones


def preview_file(
    path: str | os.PathLike[str], limit: int = 20, dataset: str = "(preview)"
) -> tuple[FileInfo, pd.DataFrame]:
    """How ``path`` reads (format, encoding, columns, rows) and its first ``limit`` rows,
    for ``dataset`` when known (a transactions file gets no Date + Time column).

    Raises ``LoadRefusedError`` when the file cannot be read at all.
    """
    path = Path(path)
    report = ValidationReport(dataset=dataset, source_name=path.name)
    with connect() as con:
        info = read_source(con, path, report)
        info.filled = id_fill(con, info.columns)
        frame = con.execute(
            "select * exclude (_row) from source order by _row limit ?", [limit]
        ).df()
    return info, frame


# --------------------------------------------------------------------------- parsing


#: What a value is trimmed of at both ends, besides spaces: tabs and line breaks,
#: Unicode spaces (no-break, thin, ideographic, ...) and invisible marks (zero-width
#: space and joiners, word joiner, a byte-order mark inside a field). "C1", "C1\t",
#: "\ufeffC1" and "C1\u200b" all showed as C1 and were four customers.
TRIMMED_CHARS = (
    " \t\n\r\v\f\u00a0\u1680"
    + "".join(chr(code) for code in range(0x2000, 0x200E))
    + "\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)

# A macro is pasted in as text: mart_amount_s3(s) names s seven times, and s was the
# whole of mart_amount_s2(mart_amount_s1(v)), itself naming its argument five times, so
# where DuckDB does not share common expressions (a WHERE) an amount was parsed dozens of
# times (2.2 s for a 1M-row check instead of 0.3 s). mart_let(value, lambda x: …)
# computes the value once and names it x.
# mart_amount_s1 drops one currency symbol or code, the spaces beside a sign or a
# parenthesis, and the separators of digit groups (1 234,50; 1'234.50; no-break and thin
# spaces) only where every group has three digits: "5 10" or "$ 1 $ 2" used to lose their
# spaces and load as 510.00 and 12.00; now they cannot be read, and are named.
# mart_clean's first branch is the common case, printable ASCII with no space at either
# end, which trimming leaves as it is: trim() with the set of characters above took
# 0.5 s per million values, and a 1M-row file goes through it several times per column.
# mart_amount reads a dash beside a currency ("$ -", "- €") as 0.00: spreadsheets'
# accounting format shows a zero so, and the currency marks the format (the report
# lists it among the values read). A dash alone is not read: it as often means "no
# value" (the hint says so). It is coalesce's second argument, computed only for the
# values the first could not read (in the lambda, naming v cost every value more).
#: A spreadsheet's accounting-format zero: a dash beside a currency (also the Edit grid's).
ACCOUNTING_ZERO = r"(?i)\s*(([$€£¥]|USD|EUR|GBP|CAD|AUD)\s*-|-\s*([$€£¥]|USD|EUR|GBP|CAD|AUD))\s*"
#: The currency codes an amount may carry before or after its number (USD 10.00,
#: 1249.50 CHF, -USD 49.00), dropped as the currency symbols are: ISO 4217 codes of the
#: currencies most exports use.
CURRENCY_CODES = tuple(
    [
        "USD",
        "EUR",
        "GBP",
        "CAD",
        "AUD",
        "NZD",
        "CHF",
        "JPY",
        "CNY",
        "HKD",
        "SGD",
        "KRW",
        "TWD",
        "INR",
        "PKR",
        "IDR",
        "MYR",
        "PHP",
        "THB",
        "VND",
        "SEK",
        "NOK",
        "DKK",
        "ISK",
        "PLN",
        "CZK",
        "HUF",
        "RON",
        "BGN",
        "TRY",
        "RUB",
        "UAH",
        "ILS",
        "AED",
        "SAR",
        "EGP",
        "ZAR",
        "NGN",
        "KES",
        "BRL",
        "MXN",
        "ARS",
        "CLP",
        "COP",
        "PEN",
    ]
)
#: Currency signs of more than one character, or other than $ € £ ¥, and the currency
#: each names (kr is the Swedish, Norwegian, Danish or Icelandic crown).
CURRENCY_MARKS = {
    "R$": "BRL",
    "US$": "USD",
    "A$": "AUD",
    "C$": "CAD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "zł": "PLN",
    "kr": "kr (SEK, NOK, DKK or ISK)",
    "Kč": "CZK",
    "₹": "INR",
    "円": "JPY",
    "元": "CNY",
    "₩": "KRW",
    "₺": "TRY",
    "₽": "RUB",
    "₪": "ILS",
    "₱": "PHP",
    "฿": "THB",
}
#: One currency code or sign beside the number (regular expression, any case).
#: Longest first: KRW is not kr and a W.
CURRENCY_TEXT = "|".join(
    re.escape(text) for text in sorted([*CURRENCY_MARKS, *CURRENCY_CODES], key=len, reverse=True)
)
_MACROS = r"""
create or replace temp macro mart_let(value, body) as list_transform([value], body)[1];
create or replace temp macro mart_clean(v) as case
    when regexp_full_match(v, '[!-~]([ -~]*[!-~])?') then v
    else nullif(trim(v, mart_trimmed_chars()), '') end;
create or replace temp macro mart_null_word(v) as
    lower(mart_clean(v)) in ({null_words});
create or replace temp macro mart_unguard(v) as case
    when starts_with(v, '="') and ends_with(v, '"') and length(v) >= 3
    then replace(v[3:-2], '""', '"') else v end;
create or replace temp macro mart_value(v) as
    case when mart_null_word(mart_unguard(v)) then null
    else mart_clean(regexp_replace(mart_unguard(v), '{direction_controls}', '', 'g')) end;
create or replace temp macro mart_amount_s1(v) as case
    when regexp_full_match(v, '[0-9.,+-]+') then v else mart_let(
    regexp_replace(replace(trim(v), '−', '-'),
        '^([+(-]?)\s*(?:{currency_text})\s*|\s*(?:{currency_text})$', '\1', 'i'),
    lambda c: mart_let(
        trim(case when length(regexp_replace(c, '[^$€£¥]', '', 'g')) = 1
             then regexp_replace(c, '[$€£¥]', '') else c end),
        lambda d: mart_let(
            regexp_replace(regexp_replace(d, '^([+(-])\s+', '\1'), '\s+([)-])$', '\1'),
            lambda e: case
                when regexp_full_match(e,
                    '[+(-]?[0-9]{1,3}([\s''\x{00A0}\x{202F}\x{2009}\x{2019}][0-9]{3})+([.,][0-9]*)?[)-]?')
                    then regexp_replace(e, '[\s''\x{00A0}\x{202F}\x{2009}\x{2019}]', '', 'g')
                else e end))) end;
create or replace temp macro mart_amount_s2(s) as case
    when regexp_full_match(s, '\((.*)\)') then '-' || substr(s, 2, length(s) - 2)
    when regexp_full_match(s, '[0-9.,]+-') then '-' || rtrim(s, '-')
    else s end;
create or replace temp macro mart_amount_s3(s) as case
    when regexp_full_match(s, '[+-]?[0-9]{1,3}(\.[0-9]{3})+,[0-9]+')
      or regexp_full_match(s, '[+-]?[0-9]+,[0-9]{1,2}')
        then replace(replace(s, '.', ''), ',', '.')
    when regexp_full_match(s, '[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]*)?')
        then replace(s, ',', '')
    when regexp_full_match(s, '[+-]?[1-9][0-9]{0,2}(\.[0-9]{3}){2,}')
        then replace(s, '.', '')
    when regexp_full_match(s, '{indian}') then replace(s, ',', '')
    else s end;
create or replace temp macro mart_amount_comma_s3(s) as case
    when regexp_full_match(s, '[+-]?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]*)?')
        then replace(replace(s, '.', ''), ',', '.')
    when regexp_full_match(s, '[+-]?[0-9]*,[0-9]+') then replace(s, ',', '.')
    when s like '%.%' then null  -- a point that groups no thousands: 12.50 is refused
    else s end;
create or replace temp macro mart_amount_point_s3(s) as case
    when regexp_full_match(s, '[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]*)?')
      or regexp_full_match(s, '{indian}')
        then replace(s, ',', '')
    else s end;
create or replace temp macro mart_amount_text(v) as
    mart_let(mart_let(mart_amount_s1(v), lambda a: mart_amount_s2(a)), lambda b: mart_amount_s3(b));
create or replace temp macro mart_amount(v) as coalesce(
    mart_let(mart_amount_text(v), lambda t:
        case when regexp_full_match(t, '[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)')
             then try_cast(t as DECIMAL(18, 2)) end),
    case when regexp_full_match(v, '{accounting_zero}') then 0::DECIMAL(18, 2) end);
"""

# An amount that can only be written with a decimal comma (1.234,50 / 12,5 / 0,005 /
# 1249,750 / 3,4999, or 1.249.000 with points between thousands), or only with a
# decimal point (1,234.50 / 12.5 / 0.50 / 1249.750 / 3.4999 / 1,249,000), after
# currency and sign: no thousands separator has four digits before or after it, and a
# mark written twice in one amount separates thousands.
_DECIMAL_COMMA_ONLY = (
    r"[+-]?([0-9]{1,3}(\.[0-9]{3})+,[0-9]+|[0-9]+,[0-9]{1,2}|0,[0-9]+"
    r"|[0-9]{4,},[0-9]+|[0-9]+,[0-9]{4,}|[0-9]{1,3}(\.[0-9]{3}){2,})"
)
_DECIMAL_POINT_ONLY = (
    r"[+-]?([0-9]{1,3}(,[0-9]{3})+\.[0-9]+|[0-9]+\.[0-9]{1,2}|0\.[0-9]+"
    r"|[0-9]{4,}\.[0-9]+|[0-9]+\.[0-9]{4,}|[0-9]{1,3}(,[0-9]{3}){2,})"
)
# An amount a point can split either as decimals or as thousands: 1.000, 12.500, 250.000.
_POINT_OR_THOUSANDS = r"[+-]?[1-9][0-9]{0,2}\.[0-9]{3}"
# And a comma likewise: 1,234 is 1234 with a thousands comma, or 1.234 with a decimal one.
_COMMA_OR_THOUSANDS = r"[+-]?[1-9][0-9]{0,2},[0-9]{3}"
#: Indian digit grouping (lakh, crore): 1,24,900.00 is 124900.00. Two-digit groups
#: cannot be thousands, nor decimals (two commas), so it is read as it is.
INDIAN_GROUPING = r"[+-]?[1-9][0-9]?(,[0-9]{2})+,[0-9]{3}(\.[0-9]*)?"


DATE_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")


def _order_formats(order: str) -> tuple[str, ...]:
    """strptime formats for day-first ("dmy") or month-first ("mdy") numeric dates,
    with any separator / . -, a 4-digit year, and an optional time.

    Not a 2-digit year: that is not guessed (the hint gives %d/%m/%y). %y was here, but
    DuckDB's timestamp cast, tried first, read most such values as the year 1-31 and
    hid it, so "12/20/05" was read as 2005-12-20 and "12/10/05" beside it refused."""
    first, second = ("%d", "%m") if order == "dmy" else ("%m", "%d")
    plain = tuple(f"{first}{sep}{second}{sep}%Y{time}" for sep in "/.-" for time in DATE_TIMES)
    # with an offset: .NET's DateTimeOffset, 16/01/2024 00:40:12 +01:00
    return plain + tuple(f"{fmt}{space}%z" for fmt in plain if "%M" in fmt for space in (" ", ""))


def _choose_date_order(
    con: duckdb.DuckDBPyConnection, column: str, report: ValidationReport
) -> tuple[str, ...]:
    """Extra formats for a column of numeric dates such as 15/01/2024, when the column
    itself settles the order: a first number above 12 is a day (none second above 12),
    or a second number above 12 is a day (none first). Said with a warning naming a
    row that shows it. When every value reads either way, or values disagree, no
    order is guessed: those values stay unreadable and the hint asks for a format.
    """
    pattern = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}([ T].*)?$"
    text = f"mart_clean({_ident(column)})"
    first_big, second_big, first_row, second_row = con.execute(
        # 13/13/2024 (both above 12) is no date either way: it tells nothing, and it is
        # refused on its own (it made the whole column's order "ambiguous")
        "select count(*) filter (where a > 12 and b <= 12), "
        "count(*) filter (where b > 12 and a <= 12), "
        "min(_row) filter (where a > 12 and b <= 12), "
        "min(_row) filter (where b > 12 and a <= 12) from ("
        f"  select _row, try_cast(regexp_extract(t, {_sql_str(pattern)}, 1) as int) as a, "
        f"  try_cast(regexp_extract(t, {_sql_str(pattern)}, 2) as int) as b "
        f"  from (select _row, {text} as t from source) where regexp_full_match(t, "
        f"{_sql_str(pattern)}))"
    ).fetchall()[0]
    if bool(first_big) == bool(second_big):
        return ()
    order, row = ("dmy", first_row) if first_big else ("mdy", second_row)
    value = con.execute(f"select {text} from source where _row = ?", [row]).fetchall()[0][0]
    # The format in the words is the one this value has (15.01.2024: %d.%m.%Y), so it
    # can be copied into --date-format as it is.
    day_first, month_first = _numeric_date_formats(str(value)) or ("%d/%m/%Y", "%m/%d/%Y")
    report.add_warning(
        Problem(
            "day/month order read as "
            + (f"day first ({day_first})" if order == "dmy" else f"month first ({month_first})")
            + " for the whole column, as this value shows ("
            + (
                "its first number is above 12, so a day"
                if order == "dmy"
                else "its second number is above 12, so a day"
            )
            + ")",
            row=int(row),
            column=column,
            value=str(value),
        ),
        "date order inferred",
    )
    return _order_formats(order)


#: The decimal marks that can be given (--decimal-mark), and how each is written.
DECIMAL_MARKS = {"point": "point", ".": "point", "comma": "comma", ",": "comma"}
#: Column names (normalized) of exports written in German, French or Spanish, where the
#: comma is the decimal mark and the point groups thousands.
DECIMAL_COMMA_NAMES = frozenset(
    [
        "kundennummer",
        "kundennr",
        "kundenid",
        "kunde",
        "bestellnummer",
        "rechnungsnummer",
        "belegnummer",
        "transaktionsid",
        "datum",
        "bestelldatum",
        "rechnungsdatum",
        "buchungsdatum",
        "betrag",
        "gesamtbetrag",
        "umsatz",
        "summe",
        "preis",
        "brutto",
        "netto",
        "kategorie",
        "produktkategorie",
        "warengruppe",
        "wahrung",
        "waehrung",
        "idcliente",
        "cliente",
        "numeroclient",
        "numerodepedido",
        "numerodecommande",
        "fecha",
        "importe",
        "montant",
        "categoria",
        "categorie",
        "devise",
        "moneda",
    ]
)


def decimal_mark_option(text: str | None) -> str | None:
    """``point`` or ``comma`` for a given decimal mark (also ``.`` and ``,``); None for
    none (detected). Anything else is refused with the choices."""
    if text is None or not str(text).strip():
        return None
    mark = DECIMAL_MARKS.get(str(text).strip().lower())
    if mark is None:
        raise InputError(
            f"The decimal mark {text!r} is not one of point or comma (1.249,00 has a decimal "
            "comma, 1,249.00 a decimal point)."
        )
    return mark


def _decimal_comma_signs(
    con: duckdb.DuckDBPyConnection,
    columns: Sequence[str],
    time_column: str | None,
    report: ValidationReport,
) -> list[str]:
    """What in a file says it was written where the comma is the decimal mark: its
    semicolons, dates such as 15.01.2024, German, French or Spanish column names."""
    signs = []
    if report.delimiter == ";":
        signs.append("it is separated by semicolons")
    if time_column:
        dotted = con.execute(
            f"select arg_min(t, _row) from (select _row, mart_clean({_ident(time_column)}) as t "
            "from source) where regexp_full_match(t, '[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{2,4}( .*)?')"
        ).fetchall()[0][0]
        if dotted:
            signs.append(f"its dates are written as {dotted!r}")
    named = [c for c in columns if normalize_name(_without_unit(c) or c) in DECIMAL_COMMA_NAMES]
    if named:
        signs.append("its column names are " + ", ".join(repr(c) for c in named[:3]))
    return signs


def _choose_decimal_mark(
    con: duckdb.DuckDBPyConnection,
    column: str,
    report: ValidationReport,
    signs: Callable[[], list[str]] = list,
) -> bool:
    """Read a column's amounts with one decimal mark when its values show which.

    Values such as 1.234 or 2,345 read either way. When some value of the column can
    only be written with a decimal comma and none only with a point, the whole column
    uses the comma (1.234 is then 1234.00, 2,345 is 2.345), so one file never mixes the
    two readings. Otherwise each value is read on its own (a point is the decimal mark
    when it could be either), and a column showing both marks gets a warning. Returns
    whether the column is read with the decimal comma.

    A decimal mark given (``report.decimal_mark``) is used and nothing is detected.
    When every amount with a point has three digits after it (1.249, 2.500) and the file
    shows a decimal-comma locale (``signs()``: semicolons, 15.01.2024 dates, German
    headers), the point is more likely a thousands separator, but may be a decimal
    mark: the load is refused with the question, as ambiguous dates are.
    """
    if report.decimal_mark is not None:
        three = "comma" if report.decimal_mark == "comma" else "point"
        con.execute(
            "create or replace temp macro mart_amount_text(v) as mart_let(mart_let("
            f"mart_amount_s1(v), lambda a: mart_amount_s2(a)), lambda b: mart_amount_{three}_s3(b))"
        )
        return report.decimal_mark == "comma"
    text = f"mart_amount_s2(mart_amount_s1(mart_clean({_ident(column)})))"
    comma, point, first_comma, first_point, grouped, first_grouped, *extra = con.execute(
        f"select count(*) filter (where regexp_full_match(t, '{_DECIMAL_COMMA_ONLY}')), "
        f"count(*) filter (where regexp_full_match(t, '{_DECIMAL_POINT_ONLY}')), "
        f"min(_row) filter (where regexp_full_match(t, '{_DECIMAL_COMMA_ONLY}')), "
        f"min(_row) filter (where regexp_full_match(t, '{_DECIMAL_POINT_ONLY}')), "
        f"count(*) filter (where regexp_full_match(t, '{_POINT_OR_THOUSANDS}')), "
        f"min(_row) filter (where regexp_full_match(t, '{_POINT_OR_THOUSANDS}')), "
        f"count(*) filter (where regexp_full_match(t, '{_COMMA_OR_THOUSANDS}')), "
        f"min(_row) filter (where regexp_full_match(t, '{_COMMA_OR_THOUSANDS}')) "
        f"from (select _row, {text} as t from source)"
    ).fetchall()[0]
    comma_grouped, first_comma_grouped = extra

    def warn(count: int, first: int, problem: str, kind: str) -> None:
        value = con.execute(
            f"select {_ident(column)} from source where _row = ?", [first]
        ).fetchall()[0][0]
        report.add_warning(
            Problem(problem, row=int(first), column=column, field="amount", value=str(value)),
            kind,
            int(count),
        )

    if comma_grouped and not comma and not point:
        # 1,234 and 2,500 only: thousands written the English way, or amounts with three
        # decimals after a decimal comma. Read as thousands, and said.
        european = (
            " (the file is separated by semicolons, as European exports are, where the "
            "comma is the decimal mark)"
            if report.delimiter == ";"
            else ""
        )
        warn(
            comma_grouped,
            first_comma_grouped,
            f"{comma_grouped} amount(s) such as this one have exactly three digits after "
            "a comma and no amount in the column shows the decimal mark: they were read "
            "with the comma separating thousands (1,234 = 1234.00)"
            + european
            + ". If the comma is the decimal mark here (1,234 = 1.234), write the amounts "
            "with their thousands point (1.234,00 for one thousand) or round them to "
            "cents, and load the file again",
            "comma or thousands?",
        )
    european = signs() if grouped and not comma and not point else []
    if european:
        # 1.249 and 2.500 only, in a file written the German way: whole euros, most
        # likely, but nothing in the column says so. Not guessed: asked, as for dates.
        value = con.execute(
            f"select {_ident(column)} from source where _row = ?", [first_grouped]
        ).fetchall()[0][0]
        report.add_error(
            Problem(
                f"is the point a decimal mark or a thousands separator? {grouped} amount(s) "
                "such as this one have exactly three digits after a point and no amount in "
                "the column shows the decimal mark, and the file looks written where the "
                f"comma is the decimal mark ({'; '.join(european)}): {value.strip()} may be "
                "thousands or a decimal, and is not guessed. Give the decimal mark: "
                "--decimal-mark comma on the command line (the point then separates "
                "thousands: 1.249 = 1249.00) or --decimal-mark point (1.249 = 1.25, "
                "rounded); on the Data page, the Decimal mark choice",
                row=int(first_grouped),
                column=column,
                field="amount",
                value=str(value),
            )
        )
    elif grouped and not comma and not point:
        # 1.000 and 2.500 only: whole euros written the German way, or amounts with three
        # decimals. Nothing in the column tells; the point is read as the decimal mark.
        warn(
            grouped,
            first_grouped,
            f"{grouped} amount(s) such as this one have exactly three digits after a "
            "point and no amount in the column shows the decimal mark: they were read "
            "with the point as the decimal mark (1.000 = 1.00). If the point separates "
            "thousands here (1.000 = one thousand), write the amounts with their decimal "
            "comma (1.000,00) or without the point, and load the file again",
            "point or thousands?",
        )
    if comma and not point:
        con.execute(
            "create or replace temp macro mart_amount_text(v) as mart_let(mart_let("
            "mart_amount_s1(v), lambda a: mart_amount_s2(a)), lambda b: mart_amount_comma_s3(b))"
        )
        return True
    if comma and point:
        report.add_warning(
            Problem(
                f"the amounts use both decimal marks: {comma} value(s) only make sense with a "
                f"decimal comma (first at row {first_comma}) and {point} only with a decimal "
                f"point (first at row {first_point}); each value was read on its own, so check "
                "values such as 1.234 or 2,345",
                column=column,
                field="amount",
            ),
            "mixed decimal marks",
            1,
        )
    return False


# The currencies an amount may name, as the loader strips them (mart_amount_s1).
_CURRENCY_SYMBOLS = {
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    **{mark.upper(): code for mark, code in CURRENCY_MARKS.items()},
}
_CURRENCY_CODE = rf"(?i)^[\s+(-]*({CURRENCY_TEXT})|({CURRENCY_TEXT})\s*$"


def _check_currencies(
    con: duckdb.DuckDBPyConnection, column: str, report: ValidationReport
) -> None:
    """Warn when the amounts name more than one currency ($ 10.00, 10.00 EUR, ¥1000).

    The loader keeps the number and drops the currency, so the mart would add yen,
    euros and dollars as if they were one currency. Nothing is converted."""
    text = f"mart_clean({_ident(column)})"
    found = con.execute(
        "select currency, count(*), min(_row) from ("
        "  select _row, coalesce(nullif(upper(regexp_extract(t, ?, 1)), ''),"
        "    nullif(upper(regexp_extract(t, ?, 2)), ''),"
        "    nullif(regexp_extract(t, '[$€£¥]', 0), '')) as currency"
        f"  from (select _row, {text} as t from source)"
        ") where currency is not null group by all order by 3",
        [_CURRENCY_CODE, _CURRENCY_CODE],
    ).fetchall()
    named = {}
    for currency, count, row in found:
        code = _CURRENCY_SYMBOLS.get(currency.strip(), currency.strip().upper())
        total, first = named.get(code, (0, row))
        named[code] = (total + count, min(first, row))
    if len(named) == 1:
        [code] = named
        _say_one_currency(code, "the amounts name it", column, report)
    if len(named) < 2:
        return
    parts = [
        f"{code} ({count} value(s), first at row {row})" for code, (count, row) in named.items()
    ]
    report.add_warning(
        Problem(
            "the amounts name more than one currency: "
            + ", ".join(parts)
            + ". The currency is dropped and the numbers are added as they are; convert the "
            "amounts to one currency first",
            column=column,
            field="amount",
        ),
        "mixed currencies",
        1,
    )


#: Names (normalized, see normalize_name) of a column saying each row's currency:
#: Stripe/Shopify/PayPal "Currency", WooCommerce "order_currency", "currency_code",
#: PayPal's German "Währung", French "Devise", Spanish "Moneda", Italian "Valuta".
CURRENCY_COLUMN_NAMES = (
    "currency",
    "currencycode",
    "currencyiso",
    "isocurrency",
    "isocurrencycode",
    "ordercurrency",
    "paymentcurrency",
    "transactioncurrency",
    "chargecurrency",
    "presentmentcurrency",
    "waehrung",
    "wahrung",
    "wahrungscode",
    "devise",
    "moneda",
    "divisa",
    "valuta",
    "moeda",
)


def _say_one_currency(code: str, where: str, column: str, report: ValidationReport) -> None:
    """A file in one currency other than the dollar: its numbers load as they are, and
    the app writes money with $ (CHF 1249.50 read cleanly and showed as $1,249.50)."""
    if code in ("USD", "$"):
        return
    report.add_warning(
        Problem(
            f"the amounts are in {code} ({where}): the numbers load as they are and the "
            "app writes money with $; nothing is converted",
            column=column,
            field="amount",
        ),
        "one currency, not USD",
        1,
    )


def _check_currency_column(
    con: duckdb.DuckDBPyConnection,
    amount: str,
    unmapped: Sequence[str],
    report: ValidationReport,
) -> None:
    """Warn when an unmapped column naming each row's currency (Stripe's "Currency",
    WooCommerce's "order_currency", PayPal's "Währung") holds more than one: the amounts
    are added as they are, so 100 EUR, 100 USD and 15000 JPY loaded as 15200.00 with no
    word. As for currencies named inside the amounts (_check_currencies), nothing is
    converted. "Converted Currency" goes with "Converted Amount" (Stripe): it is the
    one read when that is the amount."""
    names = {normalize_name(_without_unit(c) or c): c for c in reversed(unmapped)}
    prefix = normalize_name(amount).removesuffix("amount")
    column = (names.get(prefix + "currency") if prefix else None) or next(
        (names[name] for name in CURRENCY_COLUMN_NAMES if name in names), None
    )
    if column is None:
        return
    found = con.execute(
        f"select upper(v), count(*), min(_row) from (select _row, mart_value({_ident(column)}) "
        "as v from source) where v is not null group by all order by 3 limit 21"
    ).fetchall()
    if len(found) == 1 and str(found[0][0]).strip():
        _say_one_currency(str(found[0][0]).strip(), f"column {column!r} says", amount, report)
    if len(found) < 2:
        return
    parts = [f"{code} ({count:,} row(s), first at row {row})" for code, count, row in found[:20]]
    more = f" and more ({len(found) - 20}+)" if len(found) > 20 else ""
    report.add_warning(
        Problem(
            f"the amounts are in more than one currency, as column {column!r} says: "
            + ", ".join(parts)
            + more
            + ". Nothing is converted: the numbers are added as they are; convert the "
            "amounts to one currency first (or load one currency's rows at a time)",
            column=amount,
            field="amount",
        ),
        "mixed currencies",
        1,
    )


#: Names (normalized) of a column saying a payment's or order's state: Stripe "Status",
#: Shopify "Financial Status", WooCommerce "status", PayPal "Status" / "État", Square
#: "Transaction Status".
STATUS_COLUMN_NAMES = (
    "status",
    "financialstatus",
    "paymentstatus",
    "orderstatus",
    "transactionstatus",
    "chargestatus",
    "etat",
    "statut",
    "estado",
    "zahlungsstatus",
    "bestellstatus",
)
#: A state (lower-cased, accents removed) in which the amount was not, or not all,
#: received: failed, declined, refunded, cancelled, voided, reversed, disputed, in
#: English, German, French and Spanish.
NOT_A_SALE = re.compile(
    r"fail|declin|refund|cancel|void|revers|denied|chargeback|disput|uncaptured|"
    # not paid yet: Shopify's pending and authorized (partially_paid is paid in part)
    r"pending|unpaid|authori[sz]ed|partially.?paid|"
    r"fehlgeschlag|abgelehnt|storn|erstatt|abgebrochen|"
    r"echou|refus|rembours|annul|"
    r"fallid|rechaz|reembols|devuel|cancelad|anulad"
)


#: Stripe's API objects, whose amounts are in the currency's smallest unit (cents).
MINOR_UNIT_OBJECTS = (
    "charge", "payment_intent", "invoice", "refund", "balance_transaction",
    "checkout.session", "payout", "invoiceitem", "subscription",
)  # fmt: skip
#: An amount column named so holds cents (``amount_cents``, ``price_in_cents``,
#: ``total_minor``).
MINOR_UNIT_NAME = re.compile(
    r"(^|[^a-z])(cents?|minor(\W*units?)?|pence|centimes)([^a-z]|$)", re.IGNORECASE
)
#: Currencies without minor units: a whole amount of yen is yen, not cents.
ZERO_DECIMAL_CURRENCIES = ("jpy", "krw", "vnd", "clp", "isk", "ugx", "xof", "xaf", "pyg")


def _warn_minor_units(
    con: duckdb.DuckDBPyConnection, amount: str, columns: Sequence[str], report: ValidationReport
) -> None:
    """Warn when the amounts look like cents, each a whole number: the amount column is
    named so (``amount_cents``), or the records are Stripe API objects (an ``object``
    column saying ``charge``), whose ``amount`` 1250 is $12.50. They were loaded as
    dollars, 100 times too much, with no word (a customer turned High Value)."""
    why = f"column {amount!r} is named as cents" if MINOR_UNIT_NAME.search(amount) else ""
    if not why:
        kinds = [c for c in columns if normalize_name(c) == "object"]
        currency = [c for c in columns if normalize_name(c) == "currency"]
        if currency:
            [(code,)] = con.execute(
                f"select lower(mode(mart_value({_ident(currency[0])}))) from source"
            ).fetchall()
            if code in ZERO_DECIMAL_CURRENCIES:
                kinds = []  # Stripe's yen are whole yen
        if kinds:
            [(kind, count)] = con.execute(
                f"select mode(v), count(v) from (select lower(mart_value({_ident(kinds[0])})) "
                "as v from source)"
            ).fetchall()
            if kind in MINOR_UNIT_OBJECTS and count:
                why = (
                    f"the records are Stripe {kind} objects (column {kinds[0]!r}), whose "
                    "amounts are in cents"
                )
    if not why:
        return
    value = f"mart_value({_ident(amount)})"
    whole, fractions, first = con.execute(
        f"select count(*) filter (where regexp_full_match({value}, '-?[0-9]+')), "
        f"count(*) filter (where {value} is not null "
        f"and not regexp_full_match({value}, '-?[0-9]+')), min(_row) filter "
        f"(where regexp_full_match({value}, '-?[0-9]+')) from source"
    ).fetchall()[0]
    if not whole or fractions:
        return
    report.add_warning(
        Problem(
            f"the amounts look like cents: {why}, and all {whole:,} are whole numbers. "
            "They are loaded as they are (1250 as 1,250.00, not 12.50); if they are "
            "cents, divide them by 100 in the file first",
            row=int(first),
            column=amount,
            field="amount",
        ),
        "amounts in cents",
    )


def _warn_not_sales(
    con: duckdb.DuckDBPyConnection, unmapped: Sequence[str], report: ValidationReport
) -> None:
    """Warn when an unmapped status column says some rows' payments failed or were
    refunded or cancelled (Stripe's Failed, Refunded; WooCommerce's cancelled), or a
    "Captured" column says false: each row is loaded as a sale of its full amount, as
    the loader reads no status. Said, not decided: what counts is the user's call."""
    names = {normalize_name(c): c for c in reversed(unmapped)}
    status = next((names[name] for name in STATUS_COLUMN_NAMES if name in names), None)
    captured = names.get("captured")
    found: list[tuple[str, int, int]] = []  # (what, rows, first row)
    conditions: list[str] = []
    matched: list[str] = []
    if status is not None:
        for value, count, row in con.execute(
            f"select v, count(*), min(_row) from (select _row, mart_value({_ident(status)}) "
            "as v from source) where v is not null group by all order by 3 limit 200"
        ).fetchall():
            plain = unicodedata.normalize("NFKD", str(value).lower())
            if NOT_A_SALE.search("".join(c for c in plain if not unicodedata.combining(c))):
                matched.append(str(value))
                found.append((f"{status} {value!r}", int(count), int(row)))
        if matched:
            conditions.append(f"mart_value({_ident(status)}) in (select unnest($1::VARCHAR[]))")
    if captured is not None:
        condition = f"lower(mart_value({_ident(captured)})) in ('false', 'no', '0')"
        count, row = con.execute(
            f"select count(*), min(_row) from source where {condition}"
        ).fetchall()[0]
        if count:
            found.append((f"{captured} 'false' (the payment was not taken)", int(count), int(row)))
            conditions.append(condition)
    if not found:
        return
    # a row said twice (Status Failed and Captured false) is counted once
    total = int(
        con.execute(
            f"select count(*) from source where {' or '.join(conditions)}",
            [matched] if matched else [],
        ).fetchall()[0][0]
    )
    report.add_warning(
        Problem(
            f"{total:,} row(s) look like payments that failed, were refunded or cancelled, "
            "or are not (all) paid yet: "
            + ", ".join(f"{what} ({n:,} row(s), first at row {row})" for what, n, row in found)
            + ". They are loaded as sales of their full amount (the loader reads no status); "
            "leave them out of the file, or subtract the refunds, if they should not count",
            # about the whole file (each part names its first row), in the column that says it
            column=status if matched else captured,
        ),
        "failed or refunded payments?",
        total,
    )


#: Names (normalized, without a unit) of a column saying how much of a payment was
#: refunded: Stripe's "Amount Refunded" (amount_refunded in its API, "Converted Amount
#: Refunded" beside "Converted Amount"), Shopify's "Refunded Amount". Not a bare
#: "Refunded": Stripe's is true or false, and 1 would read as 1.00.
REFUNDED_COLUMN_NAMES = (
    "amountrefunded",
    "refundedamount",
    "refundamount",
    "totalrefunded",
    "convertedamountrefunded",
)


def _warn_refunded_amounts(
    con: duckdb.DuckDBPyConnection, amount: str, unmapped: Sequence[str], report: ValidationReport
) -> None:
    """Warn when an unmapped refunded-amount column (REFUNDED_COLUMN_NAMES) holds amounts
    other than zero: each such row is loaded as a sale of its full amount, as the loader
    subtracts nothing. Names the column, the rows and the total refunded; the amounts
    themselves are left as they are (a status column is said by _warn_not_sales)."""
    names: dict[str, str] = {}
    for column in unmapped:
        for key in (normalize_name(column), normalize_name(_without_unit(column) or column)):
            names.setdefault(key, column)
    found = [names[name] for name in REFUNDED_COLUMN_NAMES if name in names]
    if not found:
        return
    # the refunds in the amount's own terms: Stripe's "Converted Amount Refunded" beside
    # its "Converted Amount", else the first by name
    converted = normalize_name(_without_unit(amount) or amount).startswith("converted")
    column = next(
        (c for c in found if normalize_name(c).startswith("converted") == converted), found[0]
    )
    refunded = f"mart_amount(mart_value({_ident(column)}))"
    rows, total, first = con.execute(
        f"select count(*), sum(abs(v)), min(_row) from (select _row, {refunded} as v from source "
        "where _row in (select _row from parsed)) where v <> 0"
    ).fetchall()[0]
    if not rows:
        return
    report.add_warning(
        Problem(
            f"{rows:,} row(s) have a refunded amount in column {column!r} ({total:,.2f} "
            f"refunded in all, first at row {first}): they are loaded as sales of their full "
            "amount, as the loader subtracts nothing; subtract the refunds from the amounts, "
            "or leave fully refunded rows out of the file, if they should not count",
            column=column,
        ),
        "refunded amounts",
        int(rows),
    )


# Excel's first line naming the delimiter: sep=;
SEP_LINE = re.compile(r'\s*"?sep=(.)"?\s*', re.IGNORECASE)

# "2024-01-15T10:00:00 +02:00": DuckDB reads the offset only without the space.
SPACED_OFFSET = r"\s+([+-][0-9]{2}(:?[0-9]{2})?)$"
#: UTC+05:30, UTC +0530, GMT +05:30, UTC-9:30 after a time: read as GMT+05:30 is
#: (DuckDB's cast of the UTC form keeps the hours and drops the minutes, and reads no
#: space before the offset).
UTC_OFFSET = r"(?i)\b(?:UTC|GMT|UT)\s*([+-][0-9]{1,2}(:?[0-9]{2})?)(:00)?\s*$"
# An ISO date and time followed by a word: a time zone, if anything.
ZONED_TIME = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([A-Za-z][\w/+-]*)"
)


# A time of day followed by an offset or a word (group 3): where a value gives its zone.
# (AM or PM between them, as .NET writes 1/16/2024 12:40:12 AM +01:00.)
ZONE_SUFFIX = (
    r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(?:\s*[AaPp][Mm]\b)?\s*"
    r"([+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z][A-Za-z0-9_/+-]*(:[0-9]{2})?)\s*$"
)
# A time of day: values with one and no zone are read as UTC.
TIME_OF_DAY = r"[0-9]{1,2}:[0-9]{2}"
# A time followed by a zone abbreviation (group 3). DuckDB reads them as old Java zone
# IDs: BST as Bangladesh (+06:00), not British Summer Time; IST as India; SST as the
# Solomon Islands; NST as New Zealand; CST and PST with their summer time. A value with
# one is not read (the hint asks for an offset or a zone name) unless it is one of
# ABBREVIATIONS_READ: the zones the tz database itself names so (CET, EST, ...) and
# JST, which mean one thing each (AM and PM are no zone at all).
ZONE_ABBREVIATION = r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*([A-Za-z]{2,5})\s*$"
ABBREVIATIONS_READ = (
    "UTC", "GMT", "UT", "CET", "EET", "WET", "MET", "EST", "MST", "HST", "JST", "AM", "PM"
)  # fmt: skip


# An offset no place has: an hour of 15 or more, or minutes of 60 or more. DuckDB reads
# them (+25:00 moved 2024-01-05 10:00 to the 4th); such a value is not read.
IMPOSSIBLE_OFFSET = (
    r"[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(\s*[AaPp][Mm])?\s*(?:(?i:utc|gmt|ut)\s*)?"
    r"[+-]((1[5-9]|[2-9][0-9])(:?[0-9]{2})?|[0-9]{2}:?[6-9][0-9])\s*$"
)
# A 24-hour time with an AM or PM that agrees with it (00:30 AM, 13:30 PM: .NET's
# "HH:mm tt"), which no 12-hour format reads: read without the AM or PM.
HOUR_24_AM = r"([ T]0?0:[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?)\s*[Aa][Mm]\b"
HOUR_24_PM = r"([ T](1[3-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?)\s*[Pp][Mm]\b"
#: A strptime format with a zone (%z +01:00, %Z a zone name): it reads a moment.
ZONED_FORMAT = re.compile(r"%[zZ]")


def _time_expr(value: str, kind: str, date_format: str | None, extra: Sequence[str] = ()) -> str:
    """SQL parsing ``value`` (VARCHAR) to a TIMESTAMP, NULL when it cannot be read.

    DuckDB also reads words ('epoch', 'infinity'), BC dates and years beyond 9999. None
    of them is a transaction's date, and a year outside 1-9999 cannot even be shown by
    Python (a published mart holding one breaks every query that returns it), so only
    a value with digits and a year from MIN_YEAR to MAX_YEAR counts as read.
    """
    # An offset or zone name (+02:00, Z, America/New_York) is converted to UTC, as
    # Parquet's time-zone timestamps are (the loader's connection is in UTC).
    # A zone DuckDB does not know makes the value unreadable: a plain TIMESTAMP
    # cast would drop any trailing text and keep the wall-clock time.
    read_as_is = ", ".join(_sql_str(word) for word in ("", *ABBREVIATIONS_READ))

    def iso(text: str) -> str:
        # UTC+05:30 as GMT+05:30: DuckDB reads the first with its minutes dropped (05:00
        # UTC for 10:00 UTC+05:30), the second right
        gmt = f"regexp_replace({text}, {_sql_str(UTC_OFFSET)}, 'GMT\\1')"
        spaced = f"regexp_replace({gmt}, {_sql_str(SPACED_OFFSET)}, '\\1')"
        abbreviation = f"upper(regexp_extract({text}, {_sql_str(ZONE_ABBREVIATION)}, 3))"
        return (
            f"case when {abbreviation} in ({read_as_is}) "
            f"and not regexp_matches({text}, {_sql_str(IMPOSSIBLE_OFFSET)}) then "
            f"try_cast(try_cast({spaced} as TIMESTAMPTZ) as TIMESTAMP) end"
        )

    in_range = f"isfinite(t) and year(t) between {MIN_YEAR} and {MAX_YEAR}"

    def read(parse: str) -> str:
        # a reading out of range counts as none, so the next one is tried (coalesce
        # computes a later argument only for the rows still without a value)
        return f"list_filter([{parse}], lambda t: {in_range})[1]"

    def unix(text: str) -> str:
        """A Unix time, asked for by the date format ``unix``: its unit told by its
        digits (up to 11 seconds, 12-14 milliseconds, 15-17 microseconds, 18-19
        nanoseconds; a fraction of a second is kept to the microsecond)."""
        # leading zeros are no digits of the number: 0001705312800 is in seconds
        digits = f"length(ltrim(regexp_extract({text}, '[0-9]+'), '0'))"
        # at most nine places, cut: a cast to DECIMAL(38, 9) rounded .9999999999 up to
        # the next second
        number = (
            f"try_cast(regexp_extract({text}, '^\\s*(-?[0-9]+(\\.[0-9]{{1,9}})?)', 1) "
            "as DECIMAL(38, 9))"
        )
        per_micro = (
            f"case when {digits} <= 11 then 1000000 when {digits} <= 14 then 1000 "
            f"when {digits} <= 17 then 1 else 0.001 end"
        )
        return (
            f"case when regexp_full_match({text}, '\\s*-?[0-9]{{1,19}}(\\.[0-9]+)?\\s*') "
            f"then try(make_timestamp(cast(floor({number} * {per_micro}) as BIGINT))) end"
        )

    def strptime(text: str, formats: Sequence[str]) -> list[str]:
        """try_strptime readings of ``formats``: those with a zone apart, as they read a
        moment (converted to UTC; an offset no place has is not read)."""
        plain = [fmt for fmt in formats if not ZONED_FORMAT.search(fmt)]
        zoned = [fmt for fmt in formats if ZONED_FORMAT.search(fmt)]
        found = []
        for group, cast in ((plain, ""), (zoned, "::TIMESTAMP")):
            if group:
                listed = "[" + ", ".join(_sql_str(fmt) for fmt in group) + "]"
                parse = f"try_strptime({text}, {listed}){cast}"
                if any("%Z" in fmt for fmt in group):
                    # %Z reads UTC+05:30 as the ISO cast does, without its minutes, and
                    # GMT+05:30 right; a format whose own text says UTC gets the value
                    # as it is when the rewritten one does not match it
                    gmt = f"regexp_replace({text}, {_sql_str(UTC_OFFSET)}, 'GMT\\1')"
                    parse = f"coalesce(try_strptime({gmt}, {listed}){cast}, {parse})"
                if cast:
                    parse = (
                        f"case when not regexp_matches({text}, {_sql_str(IMPOSSIBLE_OFFSET)}) "
                        f"then {parse} end"
                    )
                found.append(parse)
        return found

    def readings_of(text: str, date_format: str | None, extra: Sequence[str] = ()) -> list[str]:
        if date_format == UNIX_FORMAT:
            return [unix(text), iso(text)]
        if date_format:
            # The format first; the layouts that read one way only (ISO 2024-01-15,
            # 2024/02/15, 15-Feb-2024, Feb 15, 2024) still read beside it: a file mixing
            # them with 1/3/24 could not be loaded, the format given or not.
            return [
                *strptime(text, [date_format]),
                iso(text),
                *strptime(text, AUTO_DATE_FORMATS),
                *strptime(text, AUTO_ZONED_DATE_FORMATS),
            ]
        # The column's own day/month order (extra) before the other formats: a value
        # read by its first format costs far less than one that fails 17 first (a 1M-row
        # export: 15 s -> 10 s). Each reading is checked for its range on its own, so
        # one out of range (DuckDB's cast reads some short dates as the year 1 to 31)
        # does not hide the next.
        return [
            iso(text),
            *strptime(text, extra),
            *strptime(text, AUTO_DATE_FORMATS),
            *strptime(text, AUTO_ZONED_DATE_FORMATS),
        ]

    readings = [read(parse) for parse in readings_of(value, date_format, extra)]
    # 00:30 AM or 13:30 PM, last (only values nothing else read get here): read as the
    # 24-hour time it is, with the format's %I as %H and without its %p
    hour_24 = date_format and re.sub(r"\s*%p", "", date_format).replace("%I", "%H")
    for pattern in (HOUR_24_AM, HOUR_24_PM):
        text = f"regexp_replace({value}, {_sql_str(pattern)}, '\\1')"
        again = ", ".join(read(parse) for parse in readings_of(text, hour_24, extra))
        readings.append(
            f"case when regexp_matches({value}, {_sql_str(pattern)}) then coalesce({again}) end"
        )
    # Last, also beside a date format: the layouts mart_date_parts rewrites as ISO text
    # (20240115T234012Z, Monday, 15 January 2024, JavaScript's Date.toString()), read as
    # that text is, when the weekday they give, if any, is their date's.
    # Not 8 digits alone beside a date format: the format says their order (%d%m%Y), and
    # one it does not read (a typo) is not to be read as YYYYMMDD instead.
    parts = f"mart_date_parts({value})"
    if date_format:
        parts = (
            f"case when regexp_full_match({value}, '\\s*[0-9]{{8}}\\s*') then null else {parts} end"
        )
    again = ", ".join(read(parse) for parse in readings_of("mart_date_p[2]", None))
    readings.append(
        f"mart_let({parts}, lambda mart_date_p: case when mart_date_p is not "
        f"null and mart_weekday_agrees(mart_date_p) then coalesce({again}) end)"
    )
    return f"case when regexp_matches({value}, '[0-9]') then coalesce({', '.join(readings)}) end"


def _warn_time_zones(
    con: duckdb.DuckDBPyConnection,
    time_field: str,
    count: Callable[..., int],
    warn_rows: Callable[..., None],
) -> None:
    """Warn where a time zone changed what is stored, or could not say one moment.

    Offsets and zone names are converted to UTC. The warnings: the conversion changed
    the stored value (an event's time, a transaction's date); a local time that does
    not exist in its zone (the clocks skipped it) or that happens twice (the clocks went
    back), which the conversion had to guess; and times without a zone in a column where
    others have one (they are read as UTC, which may not be what the file meant).
    """
    kind = FIELD_KINDS[time_field]
    val = _ident(time_field + "__val")
    # a layout read once rewritten as ISO text (mart_date_parts) is looked at so too:
    # 20240115T234012+0100 and JavaScript's GMT+0100 give their offset as +0100 does
    text = _ident(time_field + "__raw")
    # UTC +05:30 as GMT+05:30, as it is read (see UTC_OFFSET): its zone is then found
    raw = (
        f"regexp_replace(coalesce(mart_date_parts({text})[2], {text}), "
        f"{_sql_str(UTC_OFFSET)}, 'GMT\\1')"
    )
    wall = f"try_cast({raw} as TIMESTAMP)"  # DuckDB drops the zone here
    # The wall time of a value with an offset, from the moment read: the cast above
    # reads ISO text only (not 16/01/2024 00:40:12 +01:00, read by a date format).
    minutes = (
        "(case when z.zone[1] = '-' then -1 else 1 end) * (60 * z.zone[2:3]::INT + coalesce("
        "nullif(regexp_extract(z.zone, '^[+-][0-9]{2}:?([0-9]{2})$', 1), '')::INT, 0))"
    )
    zone_wall = (
        f"case when z.zone ~ '^[+-]' then z.utc + to_minutes({minutes}) "
        "when lower(z.zone) = 'z' then z.utc "
        "else coalesce(z.wall, timezone(tz.name, z.utc::TIMESTAMPTZ)) end"
    )
    con.execute(
        "create or replace temp table time_zones as "
        f"select z._row, z.zone, tz.name as tz_name, {zone_wall} as wall, z.utc from ("
        f"  select _row, regexp_extract({raw}, {_sql_str(ZONE_SUFFIX)}, 3) as zone, "
        f"  {wall} as wall, {val} as utc from parsed where {val} is not null"
        ") as z left join (select distinct name, lower(name) as key from pg_timezone_names()) "
        "as tz on tz.key = lower(z.zone) "
        "where z.zone <> '' and (z.zone ~ '^[+-]' or lower(z.zone) = 'z' or tz.name is not null "
        "or regexp_full_match(lower(z.zone), '(gmt|utc)[+-][0-9]{1,2}(:?[0-9]{2})?'))"
    )
    try:
        local = "timezone(tz_name, utc::TIMESTAMPTZ)"
        gap = f"tz_name is not null and wall is not null and {local} <> wall"
        twice = (
            f"tz_name is not null and wall is not null and {local} = wall and ("
            "timezone(tz_name, utc::TIMESTAMPTZ - interval 1 hour) = wall "
            "or timezone(tz_name, utc::TIMESTAMPTZ + interval 1 hour) = wall)"
        )
        guessed = f"_row in (select _row from time_zones where ({gap}) or ({twice}))"
        for where, name, text in (
            (
                gap,
                "times that do not exist",
                "this local time does not exist in its time zone (the clocks skipped it)",
            ),
            (
                twice,
                "ambiguous times",
                "this local time happens twice in its time zone (the clocks went back)",
            ),
        ):
            total = count(f"select count(*) from time_zones where {where}")
            if total:
                warn_rows(
                    time_field,
                    f"_row in (select _row from time_zones where {where})",
                    name,
                    lambda moment, text=text: f"{text}: read as {moment:%Y-%m-%d %H:%M:%S} UTC",
                    total,
                )
        if kind == "date":
            stored_wall, converted = "cast(wall as DATE)", "cast(utc as DATE)"
        else:
            stored_wall, converted = "wall", "utc"
        zoned_where = (
            "_row in (select _row from time_zones where wall is not null and "
            f"{stored_wall} <> {converted}) and not ({guessed})"
        )
        zoned = count(f"select count(*) from parsed where {zoned_where}")
        if zoned:
            warn_rows(
                time_field,
                zoned_where,
                "time zones converted",
                lambda moment: (
                    "time zone converted to UTC: "
                    + (
                        f"the date is {moment:%Y-%m-%d}"
                        if kind == "date"
                        else f"{moment:%Y-%m-%d %H:%M:%S}"
                    )
                ),
                zoned,
            )
        with_zone = count("select count(*) from time_zones")
        if with_zone:
            unzoned_where = (
                f"{val} is not null and regexp_matches({raw}, {_sql_str(TIME_OF_DAY)}) "
                "and _row not in (select _row from time_zones)"
            )
            unzoned = count(f"select count(*) from parsed where {unzoned_where}")
            if unzoned:
                warn_rows(
                    time_field,
                    unzoned_where,
                    "times without a zone",
                    lambda moment: (
                        f"no time zone, read as UTC ({moment:%Y-%m-%d %H:%M:%S}), while "
                        f"{with_zone:,} other value(s) in this column give one"
                    ),
                    unzoned,
                )
    finally:
        con.execute("drop table if exists time_zones")


def _format_expr(parsed: str, kind: str) -> str:
    """SQL formatting a parsed value as the canonical JSON value."""
    if kind == "date":
        return f"strftime({parsed}, '%Y-%m-%d')"
    if kind == "timestamp":
        return (
            f"case when microsecond({parsed}) % 1000000 = 0 "
            f"then strftime({parsed}, '%Y-%m-%dT%H:%M:%S') "
            f"else strftime({parsed}, '%Y-%m-%dT%H:%M:%S.%f') end"
        )
    return parsed


def _parse_expr(value: str, kind: str, date_format: str | None, extra: Sequence[str] = ()) -> str:
    if kind == "amount":
        return f"mart_amount({value})"
    if kind in ("date", "timestamp"):
        return _time_expr(value, kind, date_format, extra)
    return value


#: A time whose second is 60: a leap second (23:59:60), which no reader here takes.
LEAP_SECOND = r"\d:[0-5]\d:60(?![0-9])"

#: Unix times by their number of digits (2001-2286 for ten digits of seconds): the
#: unit and how many of it make a second.
UNIX_TIME_UNITS = {10: ("seconds", 1), 13: ("milliseconds", 10**3)}
UNIX_TIME_UNITS |= {16: ("microseconds", 10**6), 19: ("nanoseconds", 10**9)}
#: The date format that reads Unix times (seconds, milliseconds, microseconds or
#: nanoseconds since 1970, told by their digits), and the words that ask for it.
UNIX_FORMAT = "unix"
UNIX_FORMAT_WORDS = ("unix", "epoch", "%s")
#: Unix times read before this date are warned about (a unit or a layout taken wrong).
UNIX_PLAUSIBLE_FROM = "1980-01-01"


MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _weekday_contradiction(value: str, parts: Sequence[str] | None) -> str:
    """The hint for a date ``value`` whose weekday is not its date's (``parts``, from
    mart_date_parts: the weekday as written, and the value as ISO text), or ""."""
    if not parts or not parts[0]:
        return ""
    try:
        day = date.fromisoformat(str(parts[1])[:10])
    except ValueError:
        return ""
    said = next(name for name in WEEKDAYS if name[:3].lower() == str(parts[0])[:3].lower())
    if said == WEEKDAYS[day.weekday()]:
        return ""
    return (
        f" ({value.strip()}: {day.day} {MONTHS[day.month - 1]} {day.year} was a "
        f"{WEEKDAYS[day.weekday()]}, not a {said}; the weekday and the date disagree, so "
        "neither is guessed: correct the one that is wrong in the file)"
    )


#: A date and time in digits alone, by their number: GA4's "Date + hour (YYYYMMDDHH)".
COMPACT_DATE_TIMES = {10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}


def _compact_date_time(value: str) -> str:
    """A hint for digits that read as a date and time without separators (2024011510:
    GA4's date and hour), naming the date format that reads them; "" when they do not.
    Ten of them were said to be a Unix time of 2034, and following that loaded dates
    ten years off."""
    found = re.fullmatch(r"\s*(\d{10}|\d{12}|\d{14})\s*", value)
    if not found:
        return ""
    digits = found.group(1)
    fmt = COMPACT_DATE_TIMES[len(digits)]
    try:
        moment = datetime.strptime(digits, fmt)
    except ValueError:
        return ""
    if not COMPACT_YEARS[0] <= moment.year <= COMPACT_YEARS[1]:
        return ""
    shown = f"{moment:%Y-%m-%d %H:%M:%S}"[: {10: 13, 12: 16, 14: 19}[len(digits)]]
    shown += ":00" if len(digits) == 10 else ""
    return (
        f" (looks like a date and time without separators: {digits} as {fmt} is {shown}; "
        f"give the date format {fmt} to read the column so, or unix if it holds Unix "
        "times)"
    )


def _unix_time(value: str) -> str:
    """A hint for a date value that looks like a Unix time (1704067200, pandas' and
    JavaScript's 1704067200000), naming the moment it would be; "" when it does not.
    It is not converted: a number in a date column may as well be something else."""
    found = re.fullmatch(r"\s*(\d{10}|\d{13}|\d{16}|\d{19})(\.\d+)?\s*", value)
    if not found:
        return ""
    unit, per_second = UNIX_TIME_UNITS[len(found.group(1))]
    seconds = int(found.group(1)) // per_second
    moment = datetime(1970, 1, 1) + timedelta(seconds=seconds)
    return (
        f" (looks like a Unix time in {unit}: {found.group(1)} is {moment:%Y-%m-%d %H:%M:%S} "
        "UTC; it is not converted unasked, as a number in a date column may be something "
        "else: if the column holds Unix times, give the date format unix (--date-format "
        "unix, or the Date format box on the Data page))"
    )


#: A time of day at the end of a value: seconds (2), a fraction (3), AM/PM with the
#: space before it (4, 5), an offset from UTC with the space before it (6, 7).
CLOCK = re.compile(
    r"[ T]\s*\d{1,2}:\d\d(:\d\d)?(\.\d+)?(?:(\s*)([AaPp][Mm]))?(\s*)([+-]\d{2}(:?\d{2})?)?\s*$"
)


def _clock_format(value: str) -> str:
    """The strptime part for the time of day ``value`` carries after its date (" %H:%M",
    " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p %z" …), "" when it has none."""
    found = CLOCK.search(value)
    if not found:
        return ""
    seconds, fraction, before_ampm, ampm, before_offset, offset = found.group(1, 2, 3, 4, 5, 6)
    # the date and the time as the value parts them: a space, or ISO's T (01/02/2024T10:00)
    part = ("T" if found.group(0).startswith("T") else " ") + ("%I" if ampm else "%H")
    part += ":%M" + (":%S" if seconds else "")
    if fraction:
        part += ".%f" if len(fraction) <= 7 else ".%n"
    if ampm:
        part += (" " if before_ampm else "") + "%p"
    if offset:
        part += (" " if before_offset else "") + "%z"
    return part


def _numeric_date_formats(value: str) -> tuple[str, str] | None:
    """The day-first and month-first formats of a numeric date as ``value`` writes it
    (05.01.2024 10:00 PM +01:00: %d.%m.%Y %I:%M %p %z, %m.%d.%Y %I:%M %p %z), or None."""
    shape = re.match(r"\s*\d{1,2}([/.\-])\d{1,2}[/.\-](\d{2,4})", value)
    if not shape:
        return None
    sep, year = shape.group(1), "%Y" if len(shape.group(2)) == 4 else "%y"
    clock = _clock_format(value)
    return f"%d{sep}%m{sep}{year}{clock}", f"%m{sep}%d{sep}{year}{clock}"


def _impossible_numeric_date(value: str, reads: Callable[[str, str], bool]) -> str:
    """A hint for a numeric date that is no date in either day/month order (31/02/2024,
    13/13/2024), or "". It was told its day/month order was ambiguous, in a column whose
    order was settled: no format could read it."""
    shape = re.match(r"\s*(\d{1,2})([/.\-])(\d{1,2})[/.\-](\d{2,4})(?![\d/.\-])", value)
    if not shape:
        return ""
    first, sep, second, year = shape.groups()
    written = shape.group(0).strip()
    formats = [f"%d{sep}%m{sep}%{'Y' if len(year) == 4 else 'y'}"]
    formats.append(formats[0].replace("%d", "%D").replace("%m", "%d").replace("%D", "%m"))
    if len(year) not in (2, 4) or any(reads(written, fmt) for fmt in formats):
        return ""
    if int(first) == int(second):
        either = f"(day {int(first)} of month {int(second)})"
    else:
        either = (
            f"whether the day comes first (day {int(first)} of month {int(second)}) or "
            f"second (day {int(second)} of month {int(first)})"
        )
    return (
        f" (no such date: {written} names a day or month that does not exist {either}; "
        "check the value in the file)"
    )


def _impossible_year_first_date(value: str, date_format: str | None) -> str:
    """A hint for a year-first date that names no real day (2024-02-30, 2023-02-29,
    2024-04-31, 2024-13-01, 2024/02/30, 20240230, with or without a time), saying why
    (February 2024 has 29 days); "" for anything else, or when ``date_format`` reads the
    parts in another order."""
    if date_format and not re.fullmatch(r"[^%]*%Y[^%]*%m[^%]*%d.*", date_format):
        return ""
    shape = re.fullmatch(r"\s*(\d{4})([-/.]?)(\d{1,2})\2(\d{1,2})(?:[T ]\s*\d.*)?\s*", value)
    if not shape or (not shape.group(2) and len(value.strip()) != 8):
        return ""
    year, month, day = int(shape.group(1)), int(shape.group(3)), int(shape.group(4))
    low, high = (MIN_YEAR, MAX_YEAR) if shape.group(2) else COMPACT_YEARS
    if not low <= year <= high:
        return ""
    written = f"{shape.group(1)}{shape.group(2)}{shape.group(3)}{shape.group(2)}{shape.group(4)}"
    if not shape.group(2) and not (1 <= month <= 12 and 1 <= day <= 31):
        return ""  # 8 digits that are no date at all may be an id: said elsewhere
    if not 1 <= month <= 12:
        why = f"{written} has month {month}, and months run from 1 to 12"
    elif day == 0:
        why = f"{written} has day 0, and days start at 1"
    else:
        days = calendar.monthrange(year, month)[1]
        if day <= days:
            return ""  # a real date: something else is wrong with the value
        leap = f"{year} is not a leap year: " if month == 2 and not calendar.isleap(year) else ""
        why = (
            f"{leap}{calendar.month_name[month]} {year} has {days} days, so {written} does "
            "not exist"
        )
    return f" (no such date: {why}; check the value in the file)"


#: The type amounts are stored as (mart_amount), and the largest it holds.
AMOUNT_TYPE = "DECIMAL(18,2)"
MAX_AMOUNT = "9999999999999999.99"


def _too_large(value: str) -> bool:
    """Whether a number's text (1e+20, 12345678901234567.5) is beyond MAX_AMOUNT."""
    try:
        number = Decimal(value.strip())
    except ArithmeticError:
        return False
    return number.is_finite() and abs(number) > Decimal(MAX_AMOUNT)


def _check_default(
    dataset: str, name: str, value: str, date_format: str | None, con: duckdb.DuckDBPyConnection
) -> None:
    kind = FIELD_KINDS.get(name)
    if kind is None:
        return
    parsed = con.execute(f"select {_parse_expr('$1', kind, date_format)}", [value]).fetchall()[0][0]
    if parsed is None:
        raise InputError(
            f"The default for {name}, {value!r}, is not a valid "
            f"{'amount' if kind == 'amount' else 'date'}."
        )


# Spreadsheet-style date format tokens (dd/mm/yyyy, MM.DD.YY hh:mm AM/PM), longest first.
_FORMAT_TOKENS = (
    ("yyyy", "%Y"),
    ("mmmm", "%B"),
    ("mmm", "%b"),
    ("dddd", "%A"),
    ("ddd", "%a"),
    ("am/pm", "%p"),
    ("yy", "%y"),
    ("dd", "%d"),
    ("hh", "%H"),
    ("ss", "%S"),
    ("mm", "%m"),
    ("d", "%d"),
    ("m", "%m"),
    ("h", "%H"),
    ("tt", "%p"),
)


def strptime_format(text: str) -> str:
    """``text`` as a strptime format: one with % codes is returned as it is; a
    spreadsheet-style one (``dd/mm/yyyy``, ``MM-DD-YY``, ``yyyy.mm.dd hh:mm:ss``,
    ``dd/mm/yyyy hh:mm AM/PM``) is translated (``mm`` after ``hh:`` is minutes, and
    ``hh`` with AM/PM is the 12-hour clock). Raises ``InputError`` for text that is
    neither (a format with no codes would read no date at all).
    """
    text = text.strip()
    if text.lower() in UNIX_FORMAT_WORDS:
        return UNIX_FORMAT
    if "%" in text:
        return text
    out: list[str] = []
    rest = text
    twelve_hour = bool(re.search(r"(?i)am/pm|\btt\b", text))
    while rest:
        lowered = rest.lower()
        for token, code in _FORMAT_TOKENS:
            if lowered.startswith(token):
                if code == "%m" and out and out[-1] == ":":
                    code = "%M"  # hh:mm: minutes
                if code == "%H" and twelve_hour:
                    code = "%I"
                out.append(code)
                rest = rest[len(token) :]
                break
        else:
            if rest[0] in "Tt" and rest[1:2].lower() == "h":
                out.append("T")  # yyyy-mm-ddThh:mm:ss
                rest = rest[1:]
                continue
            if rest[0].isalpha():
                raise InputError(
                    f"the date format {text!r} is not understood: use strptime codes such "
                    "as %d/%m/%Y or %m/%d/%Y %H:%M, or the letters dd/mm/yyyy, mm/dd/yy, "
                    "yyyy-mm-dd hh:mm:ss."
                )
            out.append(rest[0])
            rest = rest[1:]
    translated = "".join(out)
    if "%" not in translated:
        raise InputError(
            f"the date format {text!r} has no day, month or year in it: use strptime codes "
            "such as %d/%m/%Y, or the letters dd/mm/yyyy."
        )
    return translated


def _check_date_format(
    con: duckdb.DuckDBPyConnection, date_format: str, report: ValidationReport
) -> None:
    """Refuse a date format DuckDB's strptime cannot use (``%Q``) with a sentence,
    instead of the query error every date column would otherwise raise."""
    if date_format == UNIX_FORMAT:
        return
    try:
        con.execute(f"select try_strptime('2024-01-15', {_sql_str(date_format)})").fetchall()
    except duckdb.Error as exc:
        reason = str(exc).split("\n")[0]
        reason = re.sub(r"^[A-Za-z ]*Error: ", "", reason)
        report.add_error(
            Problem(
                f"the date format {date_format!r} is not a valid strptime format ({reason}); "
                "use codes such as %d/%m/%Y, %m/%d/%Y or %d.%m.%Y %H:%M",
                field=None,
            )
        )
        raise LoadRefusedError(report) from None


def prepare_records(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    path: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str | None] | None = None,
    date_format: str | None = None,
    defaults: Mapping[str, str] | None = None,
    source_name: str | None = None,
    today: date | None = None,
    decimal_mark: str | None = None,
) -> ValidationReport:
    """Read, map and validate ``path``; leave table ``records(_row, raw_data)`` in ``con``.

    ``mapping`` overrides the suggested column of the fields it names (``None`` or ""
    unmaps one). ``decimal_mark``: "point" or "comma" for the amounts of a text file,
    None to detect it. Raises ``LoadRefusedError`` with the report when a structural
    problem is found; otherwise returns the report (whose warnings list the semantic
    problems).
    """
    check_dataset(dataset)
    path = Path(path)
    report = ValidationReport(dataset=dataset, source_name=source_name or path.name)
    report.decimal_mark = decimal_mark_option(decimal_mark)
    if report.decimal_mark and "amount" not in FIELDS[dataset]:
        report.add_warning(
            Problem(
                f"{dataset} have no amounts: the decimal mark given "
                f"({report.decimal_mark}) is for the amounts of transactions, and is ignored"
            ),
            "options ignored",
        )
        report.decimal_mark = None
    fields = FIELDS[dataset]
    defaults = dict(defaults or {})
    for name in list(defaults) + list(mapping or {}):
        if name not in fields:
            raise InputError(
                f"{name!r} is not a field of {dataset}: fields are {', '.join(fields)}."
            )
    con.execute("create or replace temp macro mart_trimmed_chars() as " + _sql_str(TRIMMED_CHARS))
    con.execute(
        _MACROS.replace("{null_words}", ", ".join(_sql_str(w) for w in NULL_WORDS))
        .replace("{direction_controls}", _DIRECTION_CONTROLS)
        .replace("{accounting_zero}", ACCOUNTING_ZERO)
        .replace("{currency_text}", CURRENCY_TEXT)
        .replace("{indian}", INDIAN_GROUPING)
    )
    con.execute(_date_macros())
    if date_format:
        given = date_format
        try:
            date_format = strptime_format(date_format)
        except InputError as exc:
            raise _refuse(report, Problem(str(exc))) from None
        if date_format != given.strip():
            report.date_format_note = f"date format {given.strip()!r} read as {date_format}"
        _check_date_format(con, date_format, report)
    for name, value in defaults.items():
        _check_default(dataset, name, value, date_format, con)

    info = read_source(con, path, report)
    info.filled = id_fill(con, info.columns)
    chosen = suggest_mapping(dataset, info.columns, info.filled, info.joined, info.funnel)
    suggested = dict(chosen)
    _say_fuller_id(dataset, info, chosen, mapping or {}, report)
    for name, column in (mapping or {}).items():
        chosen[name] = column or None
    _say_columns_chosen_by_values(dataset, info, suggested, chosen, report)
    report.mapping = dict(chosen)
    by_lower = {column.lower(): column for column in info.columns}
    for name, column in chosen.items():
        if column is not None and column not in info.columns:
            if column.lower() in by_lower:
                chosen[name] = report.mapping[name] = by_lower[column.lower()]
                continue
            report.add_error(
                Problem(
                    f"no column named {column!r}; the file's columns are: "
                    + ", ".join(repr(c) for c in info.columns),
                    field=name,
                )
            )
    # A column mapped by hand is taken from the field the suggestion gave it to; a
    # column mapped by hand to two fields feeds both, with a warning.
    explicit = {name for name, column in (mapping or {}).items() if column}
    fields_of: dict[str, list[str]] = {}
    for name, column in chosen.items():
        if column is not None:
            fields_of.setdefault(column, []).append(name)
    taken: dict[str, tuple[str, str]] = {}  # field -> (its suggested column, taken by)
    for column, names in fields_of.items():
        if len(names) < 2:
            continue
        mine = [name for name in names if name in explicit]
        for name in names:
            if name not in explicit:
                chosen[name] = report.mapping[name] = None
                taken[name] = (column, mine[0])
        if len(mine) > 1:
            report.add_warning(
                Problem(f"mapped to {' and '.join(mine)}: each gets its values", column=column),
                "columns used twice",
            )
    for name, (column, by) in taken.items():
        if name in REQUIRED[dataset] or name in defaults:
            continue  # a required field gets an error below; a default fills it
        what = (
            "it is generated from a hash of each row"
            if name == ID_FIELD[dataset]
            else "it is left empty"
        )
        report.add_warning(
            Problem(
                f"column {column!r} would have been {name}, but it is mapped to {by} by "
                f"hand, so {name} has no column: {what}",
                field=name,
            ),
            "columns taken by a mapping",
        )
    missing = [name for name in REQUIRED[dataset] if chosen.get(name) is None]
    if report.wrapped_records and any(name not in defaults for name in missing):
        key, count = report.wrapped_records
        raise _refuse(
            report,
            Problem(
                f"the file is one JSON object whose key {key!r} holds a list of {count} "
                "record(s); give the list itself: a JSON array of records, or one record "
                "per line (JSON lines)"
            ),
        )
    # after the check above: a file of records under a key says so, not that its list
    # of records is no transaction date ({"data": [...]}: "data" is Portuguese for date)
    nested_required = _refuse_nested_values(dataset, chosen, explicit, report)
    for name in REQUIRED[dataset]:
        if chosen.get(name) is None and name not in defaults and name not in nested_required:
            report.add_error(
                Problem(
                    f"required field {name} has no column"
                    + (
                        f" (its column {taken[name][0]!r} is mapped to {taken[name][1]} by hand)"
                        if name in taken
                        else ""
                    )
                    # said for both places a file is loaded: the Data page and the CLI
                    + f"; map a column to it in the mapping on the Data page, or with --map "
                    f"{name}=COLUMN on the command line (there, --default {name}=VALUE also "
                    "gives every row one value). The file's "
                    + ("column is " if len(info.columns) == 1 else "columns are ")
                    + ", ".join(repr(c) for c in info.columns)
                    + ".",
                    field=name,
                )
            )
    if report.error_count:
        # A file of the other dataset: its own required fields all have a column. Said
        # with a mapping too: the Data page always passes one (the suggested mapping).
        other = next(name for name in DATASETS if name != dataset)
        guess = suggest_mapping(other, info.columns)
        if all(guess.get(name) for name in REQUIRED[other]):
            report.add_error(
                Problem(
                    f"these columns look like {other} ("
                    + ", ".join(str(guess[name]) for name in REQUIRED[other])
                    + f"): was the file meant for {other}?"
                )
            )
    if report.error_count:
        raise LoadRefusedError(report)

    id_field = ID_FIELD[dataset]
    mapped_columns = {column for column in chosen.values() if column}
    reserved = set(fields) | {"record_number"}
    extras: list[tuple[str, str]] = []
    derived = set(report.derived_columns)
    for column in info.columns:
        if column in mapped_columns or column in derived:
            continue
        key = column if column not in reserved else f"source_{column}"
        extras.append((column, key))
    # named as stored: a column whose name is a field's is kept as source_<name>
    report.extra_columns = [
        column if column == key else f"{column} (as {key})" for column, key in extras
    ]

    decimal_comma = False
    if dataset == "transactions" and chosen.get("amount"):
        _warn_unit_price(str(chosen["amount"]), info.columns, report)
        if str(chosen["amount"]) not in report.typed_numbers:
            time_column = chosen.get(TIME_FIELD[dataset])
            decimal_comma = _choose_decimal_mark(
                con,
                str(chosen["amount"]),
                report,
                lambda: _decimal_comma_signs(con, info.columns, time_column, report),
            )
        _check_currencies(con, str(chosen["amount"]), report)
        _check_currency_column(con, str(chosen["amount"]), [c for c, _ in extras], report)
        _warn_not_sales(con, [c for c, _ in extras], report)
        _warn_minor_units(con, str(chosen["amount"]), info.columns, report)
    _warn_text_guards(con, chosen, report)
    if dataset == "events":
        _warn_event_counts(con, [c for c, _ in extras], report)
    time_column = chosen.get(TIME_FIELD[dataset])
    order_formats = (
        _choose_date_order(con, str(time_column), report) if time_column and not date_format else ()
    )

    # One pass computes each field's raw text and parsed value: the raw texts in a
    # subquery, the values from its columns. (With lateral column aliases instead, DuckDB
    # pasted each raw text's expression into the parse as often as the parse names it,
    # and an amount's was evaluated about 30 times: a 200k-row file took 29 s to load.)
    raws, values = ["_row"], ["_row"]
    for name in fields:
        column = chosen.get(name)
        kind = FIELD_KINDS.get(name, "string")
        # NULL, N/A, None, NaN … as a value: empty, as in every other column (a customer
        # "NULL" looked like a real SQL null everywhere in the app)
        raw = f"mart_value({_ident(column)})" if column else "NULL::VARCHAR"
        raws.append(f"{raw} as {_ident(name + '__raw')}")
        extra = order_formats if name == TIME_FIELD[dataset] else ()
        parse = _parse_expr(_ident(name + "__raw"), kind, date_format, extra)
        if (dataset, name) == ("events", "event_type"):
            parse = _event_type_expr(_ident(name + "__raw"))
        values += [_ident(name + "__raw"), f"{parse} as {_ident(name + '__val')}"]
    # the file's own columns only: a column made from others (Date + Time, user.id) is
    # made or not depending on the whole file, and a row's generated id must not be
    own = [c for c in info.columns if c not in set(report.derived_columns)]
    all_columns = ", ".join(f"coalesce({_ident(c)}, '')" for c in own)
    raws.append(f"md5(concat_ws(chr(31), {all_columns})) as _hash")
    values.append("_hash")
    con.execute(
        f"create or replace temp table parsed as select {', '.join(values)} "
        f"from (select {', '.join(raws)} from source)"
    )

    _leave_out_total_rows(con, info.columns, chosen, report)
    if dataset == "transactions":
        _leave_out_line_item_rows(con, info.columns, chosen, report)
    control_ids = _warn_direction_controls(con, dataset, chosen, report)
    _collect_problems(
        con, dataset, chosen, defaults, date_format, report, today or date.today(), control_ids
    )
    if report.error_count:
        raise LoadRefusedError(report)
    _collect_readings(con, dataset, chosen, report, decimal_comma)
    _warn_case_variants(con, chosen, report)
    _warn_float_ids(con, dataset, chosen, report)
    _warn_placeholder_customer(con, chosen, info.columns, report)
    if dataset == "transactions" and chosen.get("amount"):
        _warn_refunded_amounts(con, str(chosen["amount"]), [c for c, _ in extras], report)

    pairs = []
    for name in fields:
        kind = FIELD_KINDS.get(name, "string")
        value = _ident(name + "__val")
        if name in defaults:
            default = f"{_parse_expr(_sql_str(defaults[name]), kind, date_format)}"
            value = f"coalesce({value}, {default})"
        if chosen.get(name) is None and name not in defaults:
            if name == id_field:
                value = (
                    f"{_sql_str(ID_PREFIX[dataset])} || substr(_hash, 1, 16) || "
                    f"case when _occurrence > 1 then '-' || _occurrence else '' end"
                )
                report.generated[name] = "(generated from a hash of each row)"
            elif (dataset, name) in UNMAPPED_DEFAULTS:
                value = _sql_str(UNMAPPED_DEFAULTS[(dataset, name)])
                report.generated[name] = f"(default {UNMAPPED_DEFAULTS[(dataset, name)]!r})"
            else:
                report.generated[name] = "(null)"
        elif chosen.get(name) is None:
            report.generated[name] = f"(default {defaults[name]!r})"
        if kind in ("date", "timestamp"):
            value = _format_expr(value, kind)
        pairs.append(f"{_sql_str(name)}, {value}")
    for column, key in extras:
        pairs.append(f"{_sql_str(key)}, source.{_ident(column)}")
    con.execute(
        "create or replace temp table records as "
        f"select parsed._row, json_object({', '.join(pairs)})::VARCHAR as raw_data "
        "from (select *, row_number() over (partition by _hash order by _row) as _occurrence "
        "      from parsed) as parsed "
        "join source using (_row) order by parsed._row"
    )
    con.execute("drop table parsed")
    return report


def _nested_kind(report: ValidationReport, keys: Sequence[str]) -> str:
    """What a nested column holds, in words: a Parquet STRUCT is not JSON."""
    if report.file_format == "parquet":
        return "STRUCT values" if keys else "nested values (a LIST or MAP)"
    return "JSON objects" if keys else "JSON arrays"


def _say_columns_chosen_by_values(
    dataset: str,
    info: FileInfo,
    suggested: Mapping[str, str | None],
    chosen: Mapping[str, str | None],
    report: ValidationReport,
) -> None:
    """Say where a column the values chose is used (the funnel's names, a date and a
    time joined): only when the mapping used keeps it, by hand or not."""
    if dataset == "events" and chosen["event_type"] == suggested["event_type"]:
        by_names = suggest_mapping(dataset, info.columns, info.filled, info.joined)
        if chosen["event_type"] != by_names["event_type"]:
            report.add_warning(
                Problem(
                    f"event_type is read from {chosen['event_type']!r}, whose values name the "
                    "funnel's steps"
                    + (
                        f"; {by_names['event_type']!r} is named like it but names none of them"
                        if by_names["event_type"]
                        else ""
                    ),
                    field="event_type",
                ),
                "event type column chosen by its values",
            )
    if info.joined and chosen.get(TIME_FIELD[dataset]) == info.joined[0]:
        joined, date_column, time_column = info.joined
        report.add_warning(
            Problem(
                f"{TIME_FIELD[dataset]} is read from {date_column!r} and {time_column!r} "
                f"together (column {joined!r}): the file gives the date and the time of day "
                "in two columns",
                field=TIME_FIELD[dataset],
            ),
            "date and time joined",
        )


def _refuse_nested_values(
    dataset: str,
    chosen: dict[str, str | None],
    explicit: set[str],
    report: ValidationReport,
) -> set[str]:
    """Refuse a field fed JSON objects or arrays; return the required fields left
    without a column for it (already said).

    A customer id of {"id": "C1", "email": …} loaded as that text, and every build
    passed: the dimension's customers were JSON. A suggested column holding nothing but
    objects or arrays is not taken (an optional field is then left empty, with a
    warning); a column mapped by hand, or one mixing them with plain values (C1 and
    ["C1"] became two customers), is refused at the rows that hold them."""
    said: set[str] = set()
    for name, column in list(chosen.items()):
        if column is None or column not in report.nested_values:
            continue
        nested, first, plain, keys = report.nested_values[column]
        inside = f" (keys: {', '.join(keys)})" if keys else ""
        # the keys' columns that hold plain values (customer_id.id.value, not the
        # customer_id.id of {"id": {"value": …}})
        own = [
            c
            for c in report.derived_columns
            if c.startswith(f"{column}.") and c not in report.nested_values
        ]
        flatten = "flatten the file first (pandas' json_normalize, jq, or a spreadsheet) "
        flatten += "so the value you mean is a column of its own, then map it"
        if own:
            flatten = (
                "map the column of the key you mean instead: "
                + ", ".join(repr(c) for c in own[:6])
                + (" …" if len(own) > 6 else "")
            )
        elif keys and "." in column:
            what = "fields" if report.file_format == "parquet" else "keys"
            flatten = (
                f"only the {what} up to {MAX_OBJECT_DEPTH} levels down are columns of their "
                f"own: {flatten}"
            )
        elif report.file_format == "parquet":
            flatten = f"the values of a Parquet LIST or MAP cannot be mapped: {flatten}"
        elif not keys:
            flatten = f"a value inside an array cannot be mapped: {flatten}"
        if name not in explicit and not plain:
            # objects named like the field with an id inside ({"customer_id": {"id": …}})
            key_id = f"{column}.id"
            if (
                key_id in report.derived_columns
                and key_id not in chosen.values()
                and key_id not in report.nested_values  # an object again: not one value
            ):
                chosen[name] = report.mapping[name] = key_id
                report.add_warning(
                    Problem(
                        f"column {column!r} holds {_nested_kind(report, keys)}{inside}: "
                        f"{name} is read from their key 'id', column {key_id!r}",
                        field=name,
                    ),
                    "nested values",
                )
                continue
            chosen[name] = report.mapping[name] = None
            if name in REQUIRED[dataset]:
                said.add(name)
                report.add_error(
                    Problem(
                        f"required field {name} has no column: {column!r} looks like it, but "
                        f"holds {_nested_kind(report, keys)}{inside}, not one value per row; "
                        + flatten,
                        field=name,
                    )
                )
            else:
                report.add_warning(
                    Problem(
                        f"column {column!r} looks like {name}, but holds "
                        f"{_nested_kind(report, keys)}{inside}, not one value per row: {name} "
                        "is left empty (" + flatten + ")",
                        field=name,
                    ),
                    "nested values",
                )
            continue
        report.add_error(
            Problem(
                f"{name} needs one value per row, and column {column!r} holds "
                f"{_nested_kind(report, keys)}{inside} in {nested:,} row(s)"
                + (f" of {nested + plain:,}" if plain else "")
                + f"; {flatten}",
                field=name,
                column=column,
                row=first,
            )
        )
    return said


#: Ways one customer id may be written twice: (the warnings' summary, what the two
#: differ in, SQL of the key they share, over ``{v}``: NULL where the way does not
#: apply). "C1" beside "c1"; "00123" (a spreadsheet's zero-padded text) beside "123"
#: (the same id read as a number somewhere).
ID_VARIANTS = (
    ("customer ids differing in case", "letter case", "lower({v})"),
    (
        "customer ids differing in leading zeros",
        "leading zeros",
        "case when regexp_full_match({v}, '[0-9]+') "
        "then coalesce(nullif(ltrim({v}, '0'), ''), '0') end",
    ),
)


def _warn_text_guards(
    con: duckdb.DuckDBPyConnection, chosen: Mapping[str, str | None], report: ValidationReport
) -> None:
    """Say where the values of a mapped column were written as ="00123": a spreadsheet's
    guard that keeps a text's leading zeros, read without it (00123), so "00123" and
    ="00123" are one customer (they were two)."""
    columns = sorted({column for column in chosen.values() if column})
    if not columns:
        return
    guarded = "starts_with({c}, '=\"') and ends_with({c}, '\"') and length({c}) >= 3"
    counts = con.execute(
        "select "
        + ", ".join(
            f"count(*) filter (where {guarded.format(c=_ident(c))}), "
            f"min(_row) filter (where {guarded.format(c=_ident(c))})"
            for c in columns
        )
        + " from source"
    ).fetchall()[0]
    for index, column in enumerate(columns):
        count, first = counts[2 * index], counts[2 * index + 1]
        if count:
            report.add_warning(
                Problem(
                    f'{count:,} value(s) are written as ="…", a spreadsheet\'s guard for '
                    'text like 00123: read without it (="00123" is 00123)',
                    row=int(first),
                    column=column,
                ),
                "spreadsheet text guards",
            )


def _warn_case_variants(
    con: duckdb.DuckDBPyConnection, chosen: Mapping[str, str | None], report: ValidationReport
) -> None:
    """Warn when customer ids differ only in letter case ("C1" and "c1") or in leading
    zeros ("00123" and "123"): the mart keeps them apart as two customers, which is
    right for some systems and a typing slip (or a spreadsheet's reading) in others, so
    it is said, not decided."""
    column = chosen.get("customer_id")
    if column is None:
        return
    value = _ident("customer_id__val")
    for summary, words, key_sql in ID_VARIANTS:
        key = key_sql.format(v=value)
        found = con.execute(
            f"select count(*), sum(variants), min(first_row) from ("
            f"  select count(distinct {value}) as variants, min(_row) as first_row "
            f"  from parsed where {value} is not null and {key} is not null "
            f"  group by {key} having count(distinct {value}) > 1)"
        ).fetchall()[0]
        groups, variants, first_row = found
        if not groups:
            continue
        examples = [
            str(v)
            for (v,) in con.execute(
                f"select distinct {value} from parsed where {key} = ("
                f"  select {key} from parsed where _row = ?) order by 1 limit 3",
                [first_row],
            ).fetchall()
        ]
        report.add_warning(
            Problem(
                f"{groups:,} customer id(s) are written in {int(variants):,} ways that differ "
                f"only in {words} ({' and '.join(repr(e) for e in examples)}): they are "
                "different customers in the mart; if they are one, write them the same way",
                row=int(first_row),
                column=column,
                field="customer_id",
            ),
            summary,
        )


#: Customer ids that stand for "no account" (a shop's guest checkout: WooCommerce
#: writes 0), compared lower-cased.
PLACEHOLDER_CUSTOMERS = (
    "0", "-1", "guest", "gast", "invitado", "invite", "anonymous", "unknown",
    # analytics tools' words for a visitor they cannot name (GA4's "(not set)")
    "(not set)", "not set", "undefined", "(none)", "(other)",
)  # fmt: skip
#: The share of rows from which one placeholder id is said.
PLACEHOLDER_SHARE = 0.2


def _warn_placeholder_customer(
    con: duckdb.DuckDBPyConnection,
    chosen: Mapping[str, str | None],
    columns: Sequence[str],
    report: ValidationReport,
) -> None:
    """Warn when one placeholder customer id (0, -1, guest …) holds a large share of
    the rows: the guests' orders all become one customer in the mart (WooCommerce's
    guest orders, customer_id 0, merged silently into one big customer)."""
    column = chosen.get("customer_id")
    if column is None:
        return
    value = _ident("customer_id__val")
    words = ", ".join(_sql_str(word) for word in PLACEHOLDER_CUSTOMERS)
    found = con.execute(
        f"select arg_min({value}, _row), count(*), min(_row), (select count(*) from parsed) "
        f"from parsed where lower({value}) in ({words}) group by lower({value}) "
        "order by 2 desc limit 1"
    ).fetchall()
    if not found:
        return
    [(placeholder, count, row, total)] = found
    if count < 2 or count < PLACEHOLDER_SHARE * total:
        return
    email = next(
        (c for c in columns if "email" in normalize_name(c) and c not in chosen.values()), None
    )
    instead = f" (such as {email!r})" if email else ""
    who = (
        "analytics tools write it for visitors they cannot name (not signed in)"
        if "event_type" in chosen
        else "shops write it for orders without an account (guest checkout)"
    )
    report.add_warning(
        Problem(
            f"customer id {placeholder!r} is on {count:,} of {total:,} rows: {who}, "
            "and all of them become one "
            f"customer {placeholder!r} in the mart. If they are guests, map a column that "
            f"tells them apart{instead} to customer_id (Data page mapping; --map "
            "customer_id=COLUMN), or leave those rows out",
            row=int(row),
            column=column,
            field="customer_id",
            value=str(placeholder),
        ),
        "placeholder customer id",
        int(count),
    )


#: An id as a spreadsheet or pandas writes a number it took for a decimal: 17850.0,
#: 1.785E+04. Beside 17850 it is another customer.
FLOAT_ID = r"[0-9]+\.0+|[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+"


def _warn_float_ids(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    chosen: Mapping[str, str | None],
    report: ValidationReport,
) -> None:
    """Warn when ids look like whole numbers written as decimals or in scientific
    notation (17850.0, 1.785E+04): a float column's text, a different id from 17850."""
    # a session id too: 1705312800 and 1705312800.0 were two sessions without a word
    names = ("customer_id", ID_FIELD[dataset]) + (("session_id",) if dataset == "events" else ())
    for name in names:
        column = chosen.get(name)
        if column is None:
            continue
        value = _ident(name + "__val")
        count, first_row, first = con.execute(
            f"select count(*), min(_row), arg_min({value}, _row) from parsed "
            f"where regexp_full_match({value}, {_sql_str(FLOAT_ID)})"
        ).fetchall()[0]
        if count:
            try:  # the file's own example: 1.0 and 1, not a fixed 17850.0 and 17850
                number = Decimal(str(first))
                whole = (
                    format(number.to_integral_value().normalize(), "f")
                    if number == number.to_integral_value()
                    else None
                )
            except (InvalidOperation, ValueError):
                whole = None
            report.add_warning(
                Problem(
                    f"{count:,} id(s) look like numbers written as decimals or in scientific "
                    f"notation, as a spreadsheet or a float column writes them ({first!r}): "
                    "they are kept as written, so "
                    + (f"{first} and {whole}" if whole else "one id written two ways")
                    + " would be two; format "
                    "the column as text (or whole numbers) and export again",
                    row=int(first_row),
                    column=column,
                    field=name,
                    value=str(first),
                ),
                "ids written as decimals",
                count,
            )


#: Column names (normalized) of a price per unit, and of a quantity.
UNIT_PRICE_NAMES = ("unitprice", "price", "preis", "lineitemprice", "priceeach", "itemprice")
QUANTITY_NAMES = ("quantity", "qty", "menge", "units", "cantidad", "quantite", "anzahl")


def _warn_unit_price(amount: str, columns: Sequence[str], report: ValidationReport) -> None:
    """Warn when the amount is a price per unit and the file also has a quantity: the
    amount of a line is then price × quantity, which the loader does not compute (the
    UCI Online Retail layout loaded 7.79 for a line of 46.74, and a returned line,
    quantity -1, as a sale)."""
    if normalize_name(_without_unit(amount) or amount) not in UNIT_PRICE_NAMES:
        return
    quantity = next(
        (c for c in columns if normalize_name(_without_unit(c) or c) in QUANTITY_NAMES), None
    )
    if quantity is None:
        return
    report.add_warning(
        Problem(
            f"the amount is read from {amount!r}, a price per unit, and the file has a "
            f"quantity, {quantity!r}: a line's amount is price × quantity, which is not "
            "computed here (a quantity of -1, a return, would count as a sale). If the file "
            "has a line total, map it to amount (Data page mapping; --map amount=COLUMN); "
            f"else compute {amount} × {quantity} in the file first",
            column=amount,
            field="amount",
        ),
        "unit price as amount",
    )


#: Column names (normalized) of a count of events on one row: an analytics report's
#: rows are groups of events (GA4's "Event count"), not events.
EVENT_COUNT_NAMES = (
    "eventcount", "eventcounts", "totalevents", "hits", "pageviews", "views",
    "screenpageviews", "uniqueevents", "occurrences",
)  # fmt: skip


def _warn_event_counts(
    con: duckdb.DuckDBPyConnection, columns: Sequence[str], report: ValidationReport
) -> None:
    """Warn when an extra column counts events per row (GA4's report export: a row with
    an "Event count" of 37 was loaded as one page_view, without a word)."""
    for column in columns:
        if normalize_name(_without_unit(column) or column) not in EVENT_COUNT_NAMES:
            continue
        value = f"try_cast(replace(trim({_ident(column)}), ',', '') as BIGINT)"
        many, first, top, total = con.execute(
            f"select count(*) filter (where {value} > 1), min(_row) filter (where {value} > 1), "
            f"max({value}), sum({value}) from source"
        ).fetchall()[0]
        if not many:
            continue
        report.add_warning(
            Problem(
                f"column {column!r} counts events on {many:,} row(s) (up to {top:,}; "
                f"{total:,} in all): this looks like a report of counted events, and each "
                "row is loaded as one event, so the funnel and engagement count rows, not "
                "events. Export the raw events (one row per event) to count them all",
                row=int(first),
                column=column,
            ),
            "counted events",
        )
        return


#: Text that means "no value" in a mapped column (compared lower-cased, trimmed).
NULL_WORDS = ("null", "n/a", "#n/a", "none", "nan", "nil")

#: A cell that says a row is a sum, not a record (lower-cased, trimmed).
TOTAL_WORD = (
    r"((grand|sub)[ -]?)?totals?:?|sum:?|sum of .*|summe:?|gesamt:?|total general:?"
    # a spreadsheet's grand total in German, French/Spanish, Portuguese, Italian, Dutch
    r"|gesamtergebnis:?|total g[ée]n[ée]ral:?|total geral:?|totale complessivo:?|eindtotaal:?"
)
#: More labels of a totals row, taken only beside an empty customer: "Total revenue",
#: "TOTAL (USD)", "Total Sales:", "Totaux", "Gesamtsumme". (A customer named "Total
#: Wine" is a customer.)
TOTAL_LABEL = TOTAL_WORD + r"|total[ (][^0-9]{0,30}|totaux:?|gesamtsumme:?|summe gesamt:?"
#: The same in the customer's own cell, in a row without a date: "Total" and a word for
#: money, not any name ("Total ACME" is a spreadsheet's subtotal of customer ACME).
TOTAL_MONEY_LABEL = (
    TOTAL_WORD
    + r"|total ?(\([^0-9()]{1,12}\)|revenue|sales|amounts?|value|spend|spent|orders|payments)"
    + r"( ?\([^0-9()]{1,12}\))?:?|totaux:?|gesamtsumme:?|summe gesamt:?"
)
#: A subtotal's label, as a spreadsheet's Data > Subtotal writes it beside the group's
#: value: "C001 Total" (English), "C001 Ergebnis" (German), "C001 Totaal" (Dutch), or
#: before it, "Total C001" (French, Spanish, Portuguese), "Totale C001" (Italian).
#: Group 1 is the group's value.
SUBTOTAL_AFTER = r"(?i)^(.*\S)\s+(totals?|ergebnis|summe|sum|subtotal|totaal|totale)$"
SUBTOTAL_BEFORE = r"(?i)^(?:totals?|totale|subtotal|summe|r[ée]sultat|sous-total)\s+(\S.*)$"


def _leave_out_total_rows(
    con: duckdb.DuckDBPyConnection,
    columns: Sequence[str],
    chosen: Mapping[str, str | None],
    report: ValidationReport,
) -> None:
    """Leave out rows a spreadsheet adds under the records: the customer cell saying
    Total (or Subtotal, Grand total, Sum …), or such a cell elsewhere and no customer.
    Loaded, such a row was a customer "Total" holding the whole revenue a second time.
    Each one is named in a warning. Then a totals row without a label, see
    :func:`_leave_out_unlabeled_total`."""
    customer = chosen.get("customer_id")
    if customer is None or not columns:
        return
    moment = chosen.get("transaction_date") or chosen.get("event_timestamp")
    _leave_out_labeled_total_rows(con, columns, customer, moment, report)
    if report.asks_decimal_mark:
        # The amounts are read only once the mark is given: a subtotal's sum checked on
        # 1.249 read as 1.25 found none, and advised deleting the rows for nothing.
        return
    _leave_out_subtotal_rows(con, chosen, report)
    _leave_out_unlabeled_total(con, chosen, report)


def _leave_out_labeled_total_rows(
    con: duckdb.DuckDBPyConnection,
    columns: Sequence[str],
    customer: str,
    moment: str | None,
    report: ValidationReport,
) -> None:
    """The totals rows a word such as Total names (see _leave_out_total_rows). In the
    customer's own cell the longer labels (TOTAL_MONEY_LABEL: "Total revenue") count only
    in a row without a date: a customer "Total Wine" buys on some day. So do the longer
    labels in other cells (TOTAL_LABEL): a product "Total Gym Equipment" has a date."""

    def said_by(pattern: str) -> str:
        return " or ".join(
            f"regexp_full_match(lower(mart_clean({_ident(column)})), {_sql_str(pattern)})"
            for column in columns
        )

    said = said_by(TOTAL_WORD)
    if moment:
        said = f"{said} or (mart_value({_ident(moment)}) is null and ({said_by(TOTAL_LABEL)}))"
    words = ", ".join(
        f"case when regexp_full_match(lower(mart_clean({_ident(column)})), "
        f"{_sql_str(TOTAL_LABEL)}) then mart_clean({_ident(column)}) end"
        for column in columns
    )
    # the column of that word: the first in the file's order, as the word is
    word_columns = ", ".join(
        f"case when regexp_full_match(lower(mart_clean({_ident(column)})), "
        f"{_sql_str(TOTAL_LABEL)}) then {_sql_str(column)} end"
        for column in columns
    )
    # Every word of TOTAL_LABEL holds "tot", "sum" or "gesamt": rows without any are left
    # alone at once (the exact test trims and lower-cases every cell: 3 s at 1M rows)
    anywhere = "concat_ws(chr(31), " + ", ".join(_ident(column) for column in columns) + ")"
    found = con.execute(
        f"select _row, coalesce({words}), coalesce({word_columns}) from ("
        f"  select * from source where regexp_matches({anywhere}, '(?i)tot|sum|gesamt')) "
        f"where (({said}) and mart_value({_ident(customer)}) is null) or "
        f"regexp_full_match(lower(mart_clean({_ident(customer)})), {_sql_str(TOTAL_WORD)}) "
        + (
            f"or (mart_value({_ident(moment)}) is null and regexp_full_match("
            f"lower(mart_clean({_ident(customer)})), {_sql_str(TOTAL_MONEY_LABEL)})) "
            if moment
            else ""
        )
        + "order by _row"
    ).fetchall()
    if not found:
        return
    con.execute(
        "delete from parsed where _row in (select unnest(?::BIGINT[]))",
        [[r for r, _, _ in found]],
    )
    for row, word, column in found[:MAX_PROBLEMS]:
        report.add_warning(
            Problem(
                f"looks like a totals row ({word!r}): left out, so it is not counted twice",
                row=int(row),
                column=str(column),
                value=str(word),
            ),
            "totals rows left out",
            1,
        )
    if len(found) > MAX_PROBLEMS:
        report.warning_count += len(found) - MAX_PROBLEMS
        report.warning_summary["totals rows left out"] += len(found) - MAX_PROBLEMS


#: The column naming an order in an export with a row per line item (Shopify's Name,
#: #1001), compared as normalize_name gives them.
ORDER_NAME_COLUMNS = ("name", "ordername", "ordernumber", "orderno", "order")


def _leave_out_line_item_rows(
    con: duckdb.DuckDBPyConnection,
    columns: Sequence[str],
    chosen: Mapping[str, str | None],
    report: ValidationReport,
) -> None:
    """Leave out an order's further line items in an export with a row per line item
    (Shopify's orders export: Lineitem columns, the order's Name on every row, and its
    Id, Total and Financial Status only on the first). Loaded, each was a transaction
    without an id or amount: the build failed its tests, and published anyway, a
    customer had 3 transactions for 2 orders. One warning names them."""
    names = {normalize_name(column): column for column in reversed(columns)}
    amount = chosen.get("amount")
    if amount is None or not any(name.startswith("lineitem") for name in names):
        return
    order = next((names[name] for name in ORDER_NAME_COLUMNS if name in names), None)
    if order is None or order == amount:
        return
    # one pass: each order's first row with an amount, by a window over the order
    # (an EXISTS per row took minutes on a 200k-row export)
    amount_raw = f"p.{_ident('amount__raw')}"
    # a row with a transaction id of its own is an order of its own (Shopify's Id is on
    # the order's first row only)
    own_id = " and i is null" if chosen.get("transaction_id") else ""
    found = con.execute(
        f"select _row, k from ("
        f"  select p._row, mart_value(s.{_ident(order)}) as k, {amount_raw} as a, "
        + (f"p.{_ident('transaction_id__raw')} as i, " if own_id else "")
        + f"  min(case when {amount_raw} is not null then p._row end) over "
        f"    (partition by mart_value(s.{_ident(order)})) as first_priced "
        f"  from parsed p join source s on s._row = p._row) "
        f"where a is null and k is not null and first_priced < _row{own_id} order by _row"
    ).fetchall()
    if not found:
        return
    con.execute(
        "delete from parsed where _row in (select unnest(?::BIGINT[]))", [[r for r, _ in found]]
    )
    report.left_out_line_items = len(found)
    rows = ", ".join(str(row) for row, _ in found[:5]) + (" …" if len(found) > 5 else "")
    report.add_warning(
        Problem(
            f"{len(found):,} row(s) are further line items of an order above, with no "
            f"amount ({'rows' if len(found) > 1 else 'row'} {rows}; the first of order "
            f"{found[0][1]!r} in column {order!r}): "
            "left out, as the order's total is on its first row, and the lines are no "
            "transactions of their own",
            row=int(found[0][0]),
            column=order,
        ),
        "line item rows left out",
    )


def _leave_out_subtotal_rows(
    con: duckdb.DuckDBPyConnection, chosen: Mapping[str, str | None], report: ValidationReport
) -> None:
    """Leave out the rows a spreadsheet's Data > Subtotal adds after each group: the
    customer (or id) cell says the group's value and a total word ("C001 Total", "C001
    Ergebnis", "Total C001"), the date and the other id are empty, and the amount is
    the sum of the group's rows right above it (the rows whose cell holds that value).
    Loaded, each was a customer "C001 Total" holding the group's revenue a second time.
    Each one is named in a warning, as a totals row is; a row that looks like one but
    whose amount is not its group's sum is kept, and said."""
    if not chosen.get("amount") or not chosen.get("transaction_date"):
        return
    amount = _ident("amount__val")
    date = _ident("transaction_date__raw")
    # (row, label, rows summed, the label's field)
    left: list[tuple[int, str, int, str]] = []
    kept: list[tuple[int, str, int, str]] = []
    for label_field, other in (
        ("customer_id", "transaction_id"),
        ("transaction_id", "customer_id"),
    ):
        if not chosen.get(label_field):
            continue
        raw, val = _ident(label_field + "__raw"), _ident(label_field + "__val")
        empty = f" and {_ident(other + '__raw')} is null" if chosen.get(other) else ""
        key = (
            f"coalesce(nullif(regexp_extract({raw}, {_sql_str(SUBTOTAL_AFTER)}, 1), ''), "
            f"nullif(regexp_extract({raw}, {_sql_str(SUBTOTAL_BEFORE)}, 1), ''))"
        )
        candidates = (
            f"select _row, {key} as key from parsed where {date} is null{empty} "
            f"and {amount} is not null and {raw} is not null"
        )
        # the date is empty on no row of a clean file: nothing more is computed
        if not con.execute(f"select count(*) from ({candidates}) where key is not null").fetchall()[
            0
        ][0]:
            continue
        # Runs of consecutive rows with one group value, a subtotal's value being the
        # one its label names: a subtotal closes its run, the rows before it are its group.
        found = con.execute(
            f"with c as (select * from ({candidates}) where key is not null), "
            f"g as (select p._row, {amount} as amount, {raw} as label, c.key is not null as sub, "
            f"  coalesce(c.key, {val}) as gkey from parsed p left join c using (_row)), "
            "r as (select *, sum(changed) over (order by _row) as run from ("
            "  select *, case when gkey is not distinct from lag(gkey) over (order by _row) "
            "  then 0 else 1 end as changed from g)) "
            "select r._row, r.label, r.amount, s.total, s.n from r join ("
            "  select run, sum(amount) filter (where not sub) as total, "
            "  count(*) filter (where not sub) as n, max(_row) as last, "
            "  count(*) filter (where sub) as subs from r group by run) s using (run) "
            "where r.sub and r._row = s.last and s.subs = 1 and s.n >= 1 order by r._row"
        ).fetchall()
        for row, label, value, total, n in found:
            found_row = (int(row), str(label), int(n), label_field)
            (left if value == total else kept).append(found_row)
        if left:
            con.execute(
                "delete from parsed where _row in (select unnest(?::BIGINT[]))",
                [[row for row, _, _, _ in left]],
            )
            break
    for row, label, n, label_field in left[:MAX_PROBLEMS]:
        report.add_warning(
            Problem(
                f"looks like a subtotal row ({label!r}: its amount is the sum of the {n:,} "
                "row(s) of that group above it): left out, so it is not counted twice",
                row=row,
                column=chosen[label_field],
                field=label_field,
                value=label,
            ),
            "totals rows left out",
            1,
        )
    if len(left) > MAX_PROBLEMS:
        report.warning_count += len(left) - MAX_PROBLEMS
        report.warning_summary["totals rows left out"] += len(left) - MAX_PROBLEMS
    for row, label, n, label_field in kept[:5]:
        report.add_warning(
            Problem(
                f"looks like a subtotal row ({label!r}, with no date), but its amount is not "
                f"the sum of the {n:,} row(s) of that group above it: kept as a row of its "
                "own; if it is a subtotal (of another kind), delete such rows from the file",
                row=row,
                column=chosen[label_field],
                field=label_field,
                value=label,
            ),
            "subtotal rows kept?",
            1,
        )
    if len(kept) > 5:
        report.warning_count += len(kept) - 5
        report.warning_summary["subtotal rows kept?"] += len(kept) - 5


#: The rows an unlabeled totals row must sum: with fewer, a record that lacks its id,
#: customer and date and whose amount happens to be the others' sum is not unlikely.
MIN_ROWS_SUMMED = 3


def _leave_out_unlabeled_total(
    con: duckdb.DuckDBPyConnection, chosen: Mapping[str, str | None], report: ValidationReport
) -> None:
    """Leave out a row with no label that is a total all the same (",,15.00," under
    the records): its id, customer and date are empty (those with a column), its amount
    is not zero and equals the sum of the amounts of all other rows, at least
    MIN_ROWS_SUMMED of them. Such a row is the file's total; loaded, it was a record
    without a customer holding the whole revenue a second time. The last such row is
    left out (there can be one only, unless the others sum to zero), with a warning."""
    if not chosen.get("amount"):
        return
    identifying = ("transaction_id", "customer_id", "transaction_date")
    empty = " and ".join(
        f"{_ident(name + '__raw')} is null" for name in identifying if chosen.get(name)
    )
    raw, val = _ident("amount__raw"), _ident("amount__val")
    found = con.execute(
        f"select _row, {raw}, n - 1 from parsed, "
        f"(select sum({val}) as total, count({val}) as n from parsed) "
        f"where {empty} and {val} <> 0 and {val} * 2 = total and n - 1 >= {MIN_ROWS_SUMMED} "
        "order by _row desc limit 1"
    ).fetchall()
    if not found:
        return
    [(row, amount, others)] = found
    con.execute("delete from parsed where _row = ?", [row])
    report.add_warning(
        Problem(
            f"looks like a totals row (no label, but no id, customer or date either, and "
            f"its amount is the sum of the {others:,} other rows' amounts): left out, so "
            "it is not counted twice",
            row=int(row),
            column=chosen["amount"],
            field="amount",
            value=str(amount),
        ),
        "totals rows left out",
        1,
    )


_DIRECTION_CONTROLS = r"[\x{202A}-\x{202E}\x{2066}-\x{2069}]"
#: A control character (see CONTROL_CHARS) or a direction control, for one scan of ids.
_CONTROL_OR_DIRECTION = r"[\x01-\x1f\x7f-\x9f\x{202A}-\x{202E}\x{2066}-\x{2069}]"
#: The fields that are ids: a control character in one refuses the load.
ID_FIELDS = ("transaction_id", "event_id", "customer_id", "session_id")
#: The same characters for Python's re (the grid's edits).
DIRECTION_CONTROLS_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _warn_direction_controls(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    chosen: Mapping[str, str | None],
    report: ValidationReport,
) -> set[str]:
    """One warning per mapped column whose values held invisible text-direction
    controls (U+202A-U+202E, U+2066-U+2069): they are removed (mart_value). Kept, an id
    ``\u202eRTL-CUST`` showed as "TSUC-LTR" in every grid and chart.

    Returns the id fields whose text holds a control character somewhere, for
    :func:`_refuse_id_controls` to check after trimming: the same scan finds both (one
    character class), so a file without any pays for no second scan of its ids."""
    mapped = [(name, chosen[name]) for name in FIELDS[dataset] if chosen.get(name)]
    if not mapped:
        return set()

    def pattern(name: str) -> str:
        return _sql_str(_CONTROL_OR_DIRECTION if name in ID_FIELDS else _DIRECTION_CONTROLS)

    # one scan of the file for every mapped column
    found = con.execute(
        "select "
        + ", ".join(
            f"count(*) filter (where regexp_matches({_ident(str(column))}, "
            f"{pattern(name)})), min(_row) filter (where regexp_matches("
            f"{_ident(str(column))}, {pattern(name)}))"
            for name, column in mapped
        )
        + " from source"
    ).fetchall()[0]
    control_ids = set()
    for index, (name, column) in enumerate(mapped):
        total, first = found[2 * index], found[2 * index + 1]
        if total and name in ID_FIELDS:
            # a control character or a direction control: which, and how many of each
            control_ids.add(name)
            total, first = con.execute(
                f"select count(*), min(_row) from source where regexp_matches("
                f"{_ident(str(column))}, {_sql_str(_DIRECTION_CONTROLS)})"
            ).fetchall()[0]
        if total:
            report.add_warning(
                Problem(
                    f"{total} value(s) held invisible text-direction controls (U+202E and "
                    "the like, which make text show reversed); they were removed",
                    row=int(first),
                    column=str(column),
                    field=name,
                ),
                "direction controls removed",
                total,
            )
    return control_ids


#: Readings shown per field: the first values of this many different shapes.
MAX_READINGS = 6
_PLAIN_AMOUNT = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)"


def _collect_readings(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    chosen: Mapping[str, str | None],
    report: ValidationReport,
    decimal_comma: bool = False,
) -> None:
    """Fill ``report.readings``: for the amount and date fields, the values whose text
    is not already the stored form (``$1,250.00``, ``(12.50)``, ``03/04/2024``, a date
    with a time, an offset), one example per shape of text (digits and letters
    collapsed: ``03/04/2024`` and ``1/2/24`` are one shape), with how it loads and how
    many values have that shape. A plain ``12.5`` or ``2024-01-15`` is not listed; in
    a column read with the decimal comma (``decimal_comma``) every value with a point
    is, as the point then separates thousands: ``1.234`` is 1234.00, not 1.234."""
    for name in FIELDS[dataset]:
        kind, column = FIELD_KINDS.get(name), chosen.get(name)
        if kind is None or column is None:
            continue
        raw, val = _ident(name + "__raw"), _ident(name + "__val")
        if kind == "amount":
            loaded = f"cast({val} as varchar)"
            # with a decimal comma only whole numbers read as written
            plain = r"[+-]?[0-9]+" if decimal_comma else _PLAIN_AMOUNT
            differs = f"not regexp_full_match({raw}, {_sql_str(plain)})"
        elif kind == "date":
            loaded = f"strftime({val}, '%Y-%m-%d')"
            differs = f"{raw} <> {loaded}"
        else:
            loaded = (
                f"case when microsecond({val}) % 1000000 = 0 "
                f"then strftime({val}, '%Y-%m-%d %H:%M:%S') "
                f"else strftime({val}, '%Y-%m-%d %H:%M:%S.%f') end"
            )
            differs = (
                f"replace({raw}, 'T', ' ') not in ({loaded}, strftime({val}, '%Y-%m-%d %H:%M'))"
            )
        shape = f"regexp_replace(regexp_replace({raw}, '[0-9]+', '9', 'g'), '[A-Za-z]+', 'a', 'g')"
        for example, shown, rows, first, kinds in con.execute(
            f"select arg_min({raw}, _row), arg_min({loaded}, _row), count(*), min(_row), "
            f"count(*) over () from parsed where {val} is not null and {differs} "
            f"group by {shape} order by min(_row) limit {MAX_READINGS}"
        ).fetchall():
            report.readings.append(
                Reading(name, str(column), str(example), str(shown), int(rows), int(first))
            )
            if kinds > MAX_READINGS:
                report.readings_more[name] = int(kinds) - MAX_READINGS


#: C0 and C1 control characters and DEL (NUL refuses the whole file already).
CONTROL_CHARS = "[\x01-\x1f\x7f-\x9f]"
CONTROL_NAMES = {0x09: "TAB", 0x0A: "LF (a line break)", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL"}


def _refuse_id_controls(
    con: duckdb.DuckDBPyConnection, name: str, column: str, report: ValidationReport
) -> None:
    """An error per id (customer, transaction, event, session) holding a control
    character (ESC, a tab, U+0085 …) after trimming. Such an id was stored as it was:
    the app's tables escaped it, a CSV export did not (a terminal ran the escape
    sequence), and it differs from the id it looks like. Refused, as the loader refuses
    other control characters in a file (NUL, _refuse_control_bytes), with the row and
    column named; the value is shown escaped."""
    raw = _ident(name + "__raw")
    where = f"regexp_matches({raw}, {_sql_str(CONTROL_CHARS)})"
    total = int(con.execute(f"select count(*) from parsed where {where}").fetchall()[0][0])
    if not total:
        return
    sample = con.execute(
        f"select _row, {raw} from parsed where {where} order by _row limit ?", [MAX_PROBLEMS]
    ).fetchall()
    for row, value in sample:
        code = ord(next(char for char in value if re.fullmatch(CONTROL_CHARS, char)))
        shown = CONTROL_NAMES.get(code, f"U+{code:04X}")
        does = (
            "starts an escape sequence in a terminal (shown there, an export would run it)"
            if code == 0x1B
            else "does not show"
        )
        report.add_error(
            Problem(
                f"the {name} holds the control character {shown}, which {does}: this id "
                "would differ from the one it looks like; remove the character from the "
                "file and load it again",
                row=int(row),
                column=column,
                field=name,
                value=value,
            )
        )
    report.error_count += total - len(sample)


def _amount_hint(value: str, decimal_mark: str | None) -> str:
    """Why an amount's text is not read, when its text tells: a credit/debit mark
    (15.50 CR), text that is no currency the loader knows (12 PCS, 100 EURO), or a
    decimal mark other than the one given."""
    mark = re.search(r"(?i)(?<![A-Za-z])(CR|DR)\.?\s*\)?\s*$", value)
    if mark and re.search(r"\d", value):
        return (
            f" (the mark {mark.group(1)!r} (credit or debit) is not read: whether a credit is "
            "a sale or a refund depends on whose books the file comes from; write refunds "
            "with a minus sign (-15.50) and sales without the mark, and load the file again)"
        )
    other = re.sub(r"[\d\s.,'’()+\-−\u00a0\u202f\u2009]", "", value)
    if other and re.search(r"\d", value):
        return (
            f" (the text {other!r} beside the number is not a currency the loader reads; "
            "it reads the codes of common currencies (USD, EUR, GBP, CHF, SEK, JPY, INR …) "
            "and the signs $ € £ ¥ ₹ R$ zł kr 円 before or after the number, and drops them: "
            "remove the text, or write the currency as its code, and load the file again)"
        )
    if decimal_mark == "point" and re.search(r",\d{1,2}\s*\)?-?$", value):
        return (
            " (a decimal comma, but the decimal mark given is the point: give the comma "
            "(--decimal-mark comma; on the Data page, the Decimal mark choice) or let it be "
            "detected)"
        )
    if decimal_mark == "comma" and re.search(r"\.(\d{1,2}|\d{4,})\s*\)?-?$", value):
        return (
            " (a decimal point, but the decimal mark given is the comma, where a point "
            "only groups thousands (1.249,50): give the point (--decimal-mark point; on "
            "the Data page, the Decimal mark choice) or let it be detected)"
        )
    if decimal_mark == "comma" and re.search(r",\d{3}", value) and "." in value:
        return (
            " (a comma between thousands, but the decimal mark given is the comma: give the "
            "point (--decimal-mark point; on the Data page, the Decimal mark choice) or let "
            "it be detected)"
        )
    return ""


def _plain_parent_values(
    con: duckdb.DuckDBPyConnection, report: ValidationReport, column: str, raw: str
) -> str:
    """For an empty key column of objects (``user.id``): where its object column holds a
    plain value instead of an object (``"user": "C2"`` beside ``"user": {"id": "C1"}``),
    text saying so, with the first such value; else "". (Such rows were said to be
    only "empty", and the value that may be the one meant went unmentioned.)"""
    if column not in report.derived_columns:
        return ""
    # the nearest: user.id for user.id.value (user.id may itself be a key's column)
    parents = [name for name in report.nested_values if column.startswith(f"{name}.")]
    if not parents:
        return ""
    parent = max(parents, key=len)
    quoted = _ident(parent)
    [(plain, first_row, first_value)] = con.execute(
        f"select count(*), min(_row), arg_min({quoted}, _row) from source "
        f"where _row in (select _row from parsed where {raw} is null) "
        f"and {quoted} is not null and left(ltrim({quoted}), 1) not in ('{{', '[')"
    ).fetchall()
    if not plain:
        return ""
    shown = str(first_value)
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    return (
        f"; in {plain:,} of them column {parent!r} holds a plain value, not an object "
        f"(row {first_row}: {shown!r}); to load such values, write them as objects in the "
        "file"
    )


def _collect_problems(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    chosen: Mapping[str, str | None],
    defaults: Mapping[str, str],
    date_format: str | None,
    report: ValidationReport,
    today: date,
    control_ids: Collection[str] = ID_FIELDS,
) -> None:
    """Fill ``report`` with unreadable values (errors) and semantic warnings.
    ``control_ids``: the id fields that may hold a control character (all, unless a
    scan found which do)."""

    def rows(sql: str, params: list | None = None) -> list[tuple]:
        return con.execute(sql, params or []).fetchall()

    def count(sql: str, params: list | None = None) -> int:
        return int(con.execute(sql, params or []).fetchall()[0][0])

    def warn_rows(
        name: str,
        where: str,
        kind: str,
        describe: Callable[[Any], str],
        total: int,
        params: list | None = None,
    ) -> None:
        """Count ``total`` warnings of ``kind``, naming the first 5 rows of field ``name``
        where ``where`` holds (``describe`` gets each row's parsed value)."""
        raw, val = _ident(name + "__raw"), _ident(name + "__val")
        for row, value, parsed in rows(
            f"select _row, {raw}, {val} from parsed where {where} order by _row limit 5",
            params,
        ):
            report.add_warning(
                Problem(describe(parsed), row=row, column=chosen[name], field=name, value=value),
                kind,
                0,
            )
        report.warning_count += total
        report.warning_summary[kind] = report.warning_summary.get(kind, 0) + total

    for name in FIELDS[dataset]:
        column = chosen.get(name)
        if column is None:
            continue
        raw, val = _ident(name + "__raw"), _ident(name + "__val")
        kind = FIELD_KINDS.get(name)
        if kind is not None:
            bad_where = f"{raw} is not null and {val} is null"
            total = count(f"select count(*) from parsed where {bad_where}")
            if total:
                sample = rows(
                    f"select _row, {raw} from parsed where {bad_where} order by _row limit ?",
                    [MAX_PROBLEMS],
                )
                what = (
                    "an amount"
                    if kind == "amount"
                    # an event's time: a date alone reads too (midnight)
                    else "a date or time"
                    if name == "event_timestamp"
                    else "a date"
                )

                def reads(value: str, date_format: str) -> bool:
                    """Whether ``date_format`` reads ``value`` (a format a hint gives)."""
                    return con.execute(
                        "select try_strptime(?, ?) is not null", [value, date_format]
                    ).fetchall()[0][0]

                def hint(value: str, kind: str = kind, column: str = str(column)) -> str:
                    """Why this value is not a date: the hint fits the value itself."""
                    if normalize_name(value) == normalize_name(column):
                        return (
                            " (it is the column's own name: the header row appears again, "
                            "as when two exports are pasted together; delete that row)"
                        )
                    if kind == "amount":
                        typed = report.typed_numbers.get(column)
                        if typed and _too_large(value):
                            # a number type (a Parquet double): no spreadsheet wrote it,
                            # the number itself does not fit
                            return (
                                f" (too large for the amount column: amounts are stored as "
                                f"{AMOUNT_TYPE}, at most {MAX_AMOUNT} either side of zero, "
                                f"and this number (a {typed} in the file) is {value}; is "
                                "another column mapped to amount?)"
                            )
                        if re.fullmatch(r"\s*[-\u2212]\s*", value):
                            return (
                                " (a dash alone: a spreadsheet's accounting format shows a "
                                "zero as a dash beside the currency, '$ -', which is read as "
                                "0.00; without a currency a dash as often means no value, so "
                                "it is not guessed: write 0 for a zero amount, or leave the "
                                "cell empty)"
                            )
                        if re.fullmatch(r"\s*[+-]?\d+(\.\d+)?[eE][+-]?\d+\s*", value):
                            return (
                                " (scientific notation is not read: a spreadsheet writes "
                                "large numbers that way and may have cut their digits; "
                                "format the column as a number with 2 decimals and export "
                                "again)"
                            )
                        if len(re.sub(r"\D", "", value)) > 16:
                            return (
                                " (too many digits: an amount has at most 16 digits before "
                                f"the decimal point, up to {MAX_AMOUNT})"
                            )
                        return _amount_hint(value, report.decimal_mark)
                    # a layout read once rewritten as ISO text is looked at in that
                    # form too (20240630T235960Z holds a leap second as well)
                    parts = con.execute("select mart_date_parts(?)", [value]).fetchall()[0][0]
                    checked = str(parts[1]) if parts else value
                    contradiction = _weekday_contradiction(value, parts)
                    if contradiction:
                        return contradiction
                    if re.search(LEAP_SECOND, value) or re.search(LEAP_SECOND, checked):
                        return (
                            " (second 60 (a leap second) is not a time that can be read: "
                            "a stored time has seconds 00 to 59, and a time out of its range "
                            "is not moved to another; write it as 23:59:59, or as 00:00:00 "
                            "of the next day, and load the file again)"
                        )
                    compact = _compact_date_time(value)
                    if compact:
                        return compact
                    epoch = _unix_time(value)
                    if epoch:
                        return epoch
                    impossible = _impossible_year_first_date(value, date_format)
                    if impossible:
                        return impossible
                    if re.fullmatch(r"\s*\d{8}\s*", value) and not date_format:
                        return (
                            " (8 digits alone are read as a date only when they are one "
                            f"written YYYYMMDD with a year from {COMPACT_YEARS[0]} to "
                            f"{COMPACT_YEARS[1]}, such as 20240131, as a column of such "
                            "numbers may hold ids: is the right column mapped to the date?)"
                        )
                    if date_format:
                        swapped = ""
                        numbers = re.match(r"\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d", value)
                        if numbers and "%m" in date_format and "%d" in date_format:
                            month_first = date_format.index("%m") < date_format.index("%d")
                            month = int(numbers.group(1 if month_first else 2))
                            if month > 12:
                                swapped = (
                                    f" ({month} cannot be a month: is the day "
                                    + ("first" if month_first else "second")
                                    + "?)"
                                )
                        clock = _clock_format(value)
                        if clock and not re.search(r"%[HIMSTXRrc]", date_format):
                            with_time = date_format + clock
                            if reads(value, with_time):
                                swapped += (
                                    " (the values carry a time of day, which the format has "
                                    f"no part for: give the format with it, {with_time!r})"
                                )
                        elif clock:
                            # a time the format writes otherwise: an offset (+01:00) or
                            # AM/PM it has no part for
                            date_part = re.split(r"[ T]?%[HIkl]", date_format)[0]
                            fitting = date_part + clock
                            if fitting != date_format and reads(value, fitting):
                                swapped += (
                                    " (the format does not read this value's time of day "
                                    f"as it is written; this format does: {fitting!r})"
                                )
                        return f" with the format {date_format!r}{swapped}"
                    zoned = ZONED_TIME.fullmatch(checked)
                    if (
                        zoned
                        and re.fullmatch(r"[A-Za-z]{2,5}", zoned.group(3))
                        and zoned.group(3).upper() not in ABBREVIATIONS_READ
                    ):
                        return (
                            f" (the time zone abbreviation {zoned.group(3)!r} is not read: "
                            "abbreviations mean different zones, BST British Summer Time "
                            "or Bangladesh, IST India, Ireland or Israel, CST US Central or "
                            "China; give an offset such as +01:00 or a zone name such as "
                            "Europe/London)"
                        )
                    if zoned and zoned.group(3).upper() in ("AM", "PM"):
                        return (
                            " (a 12-hour time has an hour from 1 to 12; a 24-hour time with "
                            "AM or PM is read only when they agree, 00:30 AM or 13:30 PM)"
                        )
                    if zoned:
                        return (
                            f" (unknown time zone {zoned.group(3)!r}: give an offset such "
                            "as +02:00 or a zone name such as Europe/Berlin)"
                        )
                    if re.search(IMPOSSIBLE_OFFSET, checked):
                        return (
                            " (its offset from UTC is not one any place has: they run from "
                            "-12:00 to +14:00, with minutes below 60)"
                        )
                    serial = re.fullmatch(r"\s*(\d{5})(\.\d+)?\s*", value)
                    if serial and 20000 <= int(serial.group(1)) <= 80000:
                        day = date(1899, 12, 30) + timedelta(days=int(serial.group(1)))
                        return (
                            f" (looks like a spreadsheet's day number: {serial.group(1)} is "
                            f"{day.isoformat()}; format the column as a date in the "
                            "spreadsheet and export again)"
                        )
                    short_year = re.match(r"\s*\d{1,2}([/.\-])\d{1,2}[/.\-]\d{2}(?!\d)", value)
                    if short_year:
                        sep = short_year.group(1)
                        return (
                            " (a two-digit year is not guessed: give a date format such as "
                            f"%d{sep}%m{sep}%y or %m{sep}%d{sep}%y, which reads 00-68 as "
                            "2000-2068 and 69-99 as 1969-1999)"
                        )
                    impossible = _impossible_numeric_date(value, reads)
                    if impossible:
                        return impossible
                    if re.fullmatch(AMBIGUOUS_DATE, value):
                        # the formats of this value (05.01.2024: %d.%m.%Y), said only
                        # when they read it
                        formats = _numeric_date_formats(value) or ("%d/%m/%Y", "%m/%d/%Y")
                        sep = formats[0][2]
                        such = (
                            f"such as {formats[0]} or {formats[1]}"
                            if all(reads(value, fmt) for fmt in formats)
                            else "that reads them (%d the day, %m the month, %Y the year, "
                            "%H:%M:%S the time)"
                        )
                        return (
                            " (day/month order is ambiguous: no day above 12 in the "
                            "column tells, or days above 12 come first in some values and "
                            f"second in others; give a date format {such}, or in letters "
                            f"dd{sep}mm{sep}yyyy: the Date format box on the Data page, "
                            "--date-format on the command line)"
                        )
                    return (
                        f" (a real date with a year from {MIN_YEAR} to {MAX_YEAR}, such as "
                        "2024-01-31; for another layout give a date format, e.g. %d.%m.%Y)"
                    )

                if name in defaults:
                    problem = f"cannot read as {what}; the default {defaults[name]!r} is used"
                    for row, value in sample:
                        report.add_warning(
                            Problem(problem, row=row, column=column, field=name, value=value),
                            "defaulted",
                            1,
                        )
                    report.warning_count += total - len(sample)
                    report.warning_summary["defaulted"] += total - len(sample)
                else:
                    said: dict[str, int] = {}  # a long hint is said once, at its first row
                    for row, value in sample:
                        why = hint(value)
                        # Unix times and digit dates are one reason whatever their digits:
                        # 50 rows of a GA4 export each gave the 350-character hint
                        key = (
                            re.sub(r"[0-9]", "0", why) if why.startswith(" (looks like a ") else why
                        )
                        if why.startswith(" (") and key in said:
                            why = f" (same reason as row {said[key]})"
                        else:
                            said.setdefault(key, row)
                        report.add_error(
                            Problem(
                                f"cannot read as {what}{why}",
                                row=row,
                                column=column,
                                field=name,
                                value=value,
                            )
                        )
                    report.error_count += total - len(sample)
        if kind is None:
            long_where = f"length({raw}) > {MAX_TEXT_CHARS}"
            total = count(f"select count(*) from parsed where {long_where}")
            if total:
                sample = rows(
                    f"select _row, length({raw}), left({raw}, 40) from parsed "
                    f"where {long_where} order by _row limit ?",
                    [MAX_PROBLEMS],
                )
                for row, length, start in sample:
                    report.add_error(
                        Problem(
                            f"{length:,} characters long; a {name} has at most "
                            f"{MAX_TEXT_CHARS:,} (is another column mapped to it?)",
                            row=row,
                            column=column,
                            field=name,
                            value=start + "…",
                        )
                    )
                report.error_count += total - len(sample)
        if name in control_ids:
            _refuse_id_controls(con, name, str(column), report)
        empty = count(f"select count(*) from parsed where {raw} is null")
        if empty:
            sample = rows(f"select _row from parsed where {raw} is null order by _row limit 5")
            listed = ", ".join(str(r) for (r,) in sample) + (", ..." if empty > 5 else "")
            [(words,)] = rows(
                f"select list(distinct mart_clean({_ident(column)}) order by "
                f"mart_clean({_ident(column)}))[1:4] from source where "
                f"mart_null_word({_ident(column)}) and _row in (select _row from parsed)"
            )
            said = (
                " (" + ", ".join(repr(word) for word in words) + " among them: text that "
                "means no value)"
                if words
                else ""
            )
            said += _plain_parent_values(con, report, str(column), raw)
            tested = name in REQUIRED[dataset] or name == ID_FIELD[dataset]
            if name in defaults:
                note = f"; the default {defaults[name]!r} is used"
            elif (dataset, name) in UNMAPPED_DEFAULTS:
                note = f"; staging reads it as {UNMAPPED_DEFAULTS[(dataset, name)]!r}"
            elif tested:
                note = "; kept as null (the dbt tests will flag it)"
            else:
                note = "; kept empty (the field is optional)"
            report.add_warning(
                Problem(
                    f"empty in {empty} row(s): {listed}{said}{note}", column=column, field=name
                ),
                "defaulted"
                if name in defaults
                else "empty values"
                if tested
                else "empty optional values",
                empty,
            )
    if report.error_count:
        return

    id_field = ID_FIELD[dataset]
    if chosen.get(id_field):
        val = _ident(id_field + "__val")
        dups = rows(
            f"select {val}, count(*), list(_row order by _row)[1:5] from parsed "
            f"where {val} is not null group by {val} having count(*) > 1 "
            f"order by min(_row) limit 10"
        )
        if dups:
            total = count(
                f"select coalesce(sum(n), 0) from (select count(*) as n from parsed "
                f"where {val} is not null group by {val} having count(*) > 1)"
            )
            for key, n, some in dups:
                report.add_warning(
                    Problem(
                        f"duplicate {id_field} in {n} rows: " + ", ".join(map(str, some)),
                        column=chosen[id_field],
                        field=id_field,
                        value=key,
                    ),
                    "duplicate ids",
                    0,
                )
            report.warning_count += total
            report.warning_summary["duplicate ids"] += total
    if dataset == "transactions" and chosen.get("amount"):
        val, raw = _ident("amount__val"), _ident("amount__raw")
        neg = count(f"select count(*) from parsed where {val} < 0")
        if neg:
            warn_rows(
                "amount",
                f"{val} < 0",
                "negative amounts",
                lambda _: "negative amount (a refund?)",
                neg,
            )
        float_type = report.typed_numbers.get(str(chosen["amount"]))
        if float_type in {"FLOAT", "DOUBLE"}:
            single = float_type == "FLOAT"  # 32 bits
            inexact_where = (
                f"abs({val}) >= {FLOAT32_EXACT_AMOUNT if single else FLOAT_EXACT_AMOUNT}"
            )
            inexact = count(f"select count(*) from parsed where {inexact_where}")
            if inexact:
                warn_rows(
                    "amount",
                    inexact_where,
                    "inexact amounts",
                    lambda _: (
                        "a 32-bit floating-point amount (float32, FLOAT) this large "
                        f"({FLOAT32_EXACT_AMOUNT:,} or more) is not exact to the cent: the "
                        "file's number type keeps about 7 digits, so the cents may have "
                        "changed (1234567.89 is stored as 1234567.875); store amounts as a "
                        "DECIMAL (or a 64-bit float) to keep every cent"
                        if single
                        else "a floating-point amount this large (10^13 or more) is not "
                        "exact to the cent: the file's number type keeps about 16 digits; "
                        "store amounts as a DECIMAL to keep every cent"
                    ),
                    inexact,
                )
        # A digit other than 0 after the cents, read on the text: a cast to compare with
        # would itself round (0.30000000000000004 is 0.30 at ten places).
        rounded_where = (
            f"{val} is not null and regexp_matches(mart_amount_text({raw}), '\\.[0-9]{{2}}0*[1-9]')"
        )
        rounded = count(f"select count(*) from parsed where {rounded_where}")
        if rounded:
            report.add_warning(
                Problem(
                    f"{rounded} amount(s) have more than 2 decimals and were rounded to cents",
                    column=chosen["amount"],
                    field="amount",
                ),
                "rounded amounts",
                0,
            )
            warn_rows(
                "amount",
                rounded_where,
                "rounded amounts",
                lambda cents: f"rounded to {cents}",
                rounded,
            )
    time_field = TIME_FIELD[dataset]
    if chosen.get(time_field):
        val = _ident(time_field + "__val")
        future_where = f"{val} >= ?::DATE + 1"
        future = count(f"select count(*) from parsed where {future_where}", [today])
        if future:
            warn_rows(
                time_field,
                future_where,
                "future dates",
                lambda _: f"date in the future (after {today.isoformat()})",
                future,
                [today],
            )
    if chosen.get(time_field):
        _warn_time_zones(con, time_field, count, warn_rows)
    if chosen.get(time_field) and date_format == UNIX_FORMAT:
        # asked for, Unix times read as such whatever their digits: a date in digits
        # (20240115) or a unit off reads as 1970-something without a word
        raw, val = _ident(time_field + "__raw"), _ident(time_field + "__val")
        early_where = (
            f"{val} < DATE '{UNIX_PLAUSIBLE_FROM}' "
            f"and regexp_full_match({raw}, '\\s*-?[0-9]+(\\.[0-9]+)?\\s*')"
        )
        early = count(f"select count(*) from parsed where {early_where}")
        if early:
            warn_rows(
                time_field,
                early_where,
                "Unix times before " + UNIX_PLAUSIBLE_FROM[:4],
                lambda moment: (
                    f"read as a Unix time: {moment}, before {UNIX_PLAUSIBLE_FROM[:4]}; is it "
                    "one, in the unit its digits say (10 seconds, 13 milliseconds, 16 "
                    "microseconds), or a date written in digits (20240115)?"
                ),
                early,
            )
    if dataset == "events" and chosen.get("event_type"):
        raw, val = _ident("event_type__raw"), _ident("event_type__val")
        known = ", ".join(_sql_str(kind) for kind in EVENT_TYPES)
        _say_renamed_event_types(con, raw, val, known, chosen, report)
        other_where = f"{val} is not null and lower({val}) not in ({known})"
        other = count(f"select count(*) from parsed where {other_where}")
        if other:
            _say_unknown_event_types(con, raw, other_where, other, chosen, report)
            warn_rows(
                "event_type",
                other_where,
                "unknown event types",
                lambda _: (
                    f"unknown event type (the funnel knows {', '.join(EVENT_TYPES)}; "
                    "a dbt test will warn)"
                ),
                other,
            )


def _event_type_expr(value: str) -> str:
    """SQL for an event type: another tool's name of a funnel step as the funnel's
    (see EVENT_TYPE_ALIASES), anything else as it is (staging lower-cases it)."""
    known = ", ".join(_sql_str(kind) for kind in EVENT_TYPES)
    letters = f"lower(regexp_replace({value}, '[^A-Za-z0-9]', '', 'g'))"
    whens = " ".join(
        f"when {letters} in ({', '.join(_sql_str(alias) for alias in aliases)}) "
        f"then {_sql_str(kind)}"
        for kind, aliases in EVENT_TYPE_ALIASES.items()
    )
    kept = f"{value} is null or lower({value}) in ({known})"
    return f"case when {kept} then {value} {whens} else {value} end"


def _say_renamed_event_types(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    val: str,
    known: str,
    chosen: Mapping[str, str | None],
    report: ValidationReport,
) -> None:
    """One warning naming the event types read as the funnel's, with their counts."""
    renamed = con.execute(
        f"select {raw}, {val}, count(*) from parsed where {raw} is not null "
        f"and lower({raw}) not in ({known}) and {val} in ({known}) "
        "group by all order by 3 desc, 1"
    ).fetchall()
    if not renamed:
        return
    total = sum(int(number) for _, _, number in renamed)
    listed = ", ".join(f"{old!r} as {new} ({number:,})" for old, new, number in renamed[:6])
    if len(renamed) > 6:
        listed += f" and {len(renamed) - 6:,} more"
    report.add_warning(
        Problem(
            f"event types of another tool read as the funnel's: {listed}",
            column=chosen["event_type"],
            field="event_type",
        ),
        "event types renamed",
        total,
    )


def _say_unknown_event_types(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    other_where: str,
    other: int,
    chosen: Mapping[str, str | None],
    report: ValidationReport,
) -> None:
    """One warning, before the rows', naming the unknown event types with their counts;
    when no row has a type the funnel knows, it says the column may be the wrong one
    (Shopify's pixel events: `type` is "standard" on every row, the names are in `name`;
    Segment's "Product Viewed"). The rows' warnings named only the first five rows."""
    named = con.execute(
        f"select {raw}, count(*) from parsed where {other_where} "
        "group by all order by 2 desc, 1 limit 6"
    ).fetchall()
    distinct = con.execute(
        f"select count(distinct {raw}) from parsed where {other_where}"
    ).fetchall()[0][0]
    listed = ", ".join(f"{value!r} ({number:,})" for value, number in named[:5])
    if distinct > 5:
        listed += f" and {distinct - 5:,} more"
    total = con.execute(f"select count({raw}) from parsed").fetchall()[0][0]
    known = ", ".join(EVENT_TYPES)
    if other == total:
        text = (
            f"no row has an event type the funnel knows ({known}): column "
            f"{chosen['event_type']!r} holds {listed}. Is it the right column? Map the one "
            "with the event names to event_type, or rename the types in the file "
            "(e.g. 'Product Viewed' to product_view); loaded as they are, the funnel "
            "counts none of these events"
        )
    else:
        text = (
            f"{other:,} of {total:,} rows have an event type the funnel does not know: "
            f"{listed}. They are kept (a dbt test will warn) and the funnel counts none "
            "of them; rename them in the file to one of " + known + " to count them"
        )
    report.add_warning(
        Problem(text, column=chosen["event_type"], field="event_type"),
        "unknown event types",
        0,
    )


def validate_file(
    dataset: str,
    path: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str | None] | None = None,
    date_format: str | None = None,
    defaults: Mapping[str, str] | None = None,
    source_name: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    decimal_mark: str | None = None,
) -> ValidationReport:
    """The validation report for loading ``path`` into ``dataset``, saving nothing.

    Unlike ``load_file`` this returns a report with errors instead of raising. ``con``:
    validate in that connection, which then holds the ``records`` table
    :func:`prepare_records` leaves (``mart.datasets`` saves or checks from it); default
    a connection of its own.
    """
    with connect() if con is None else contextlib.nullcontext(con) as active:
        try:
            return prepare_records(
                active,
                dataset,
                path,
                mapping=mapping,
                date_format=date_format,
                defaults=defaults,
                source_name=source_name,
                decimal_mark=decimal_mark,
            )
        except LoadRefusedError as exc:
            return exc.report

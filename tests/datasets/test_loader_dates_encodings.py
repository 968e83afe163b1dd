"""Dates and encodings the loader read wrongly or refused with the wrong advice:
Parquet time-zone timestamps in nanoseconds, numeric dates with an offset (.NET's
DateTimeOffset), Excel for Mac's Mac Roman CSV, 24-hour times with AM/PM, and common
layouts (RFC 2822, eBay, SQL Server, 2024.01.15) with the hints their refusals give."""

from __future__ import annotations

import datetime

import pytest

from mart.loading import _misread_letters
from tests.datasets.conftest import load

# --------------------------------------------------------------------------- Parquet


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
def test_parquet_zoned_timestamps_of_every_unit_warn_when_the_date_changes(
    ws, tmp_path, stored, unit
):
    """pandas' default, timestamp[ns, tz=...], is TIMESTAMPTZ_NS to DuckDB: it was read as
    the bare UTC moment, and 00:30 in Berlin became the day before without a word."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    zone = "Europe/Berlin"
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    moments = [
        datetime.datetime(2024, 1, 15, 12, 0, tzinfo=berlin),
        datetime.datetime(2024, 1, 16, 0, 30, tzinfo=berlin),  # 2024-01-15 23:30 UTC
    ]
    table = pa.table(
        {
            "transaction_id": ["T1", "T2"],
            "customer_id": ["C1", "C2"],
            "transaction_date": pa.array(moments, pa.timestamp(unit, tz=zone)),
            "amount": [10.0, 20.0],
        }
    )
    path = tmp_path / f"zoned-{unit}.parquet"
    pq.write_table(table, path, coerce_timestamps=None)
    assert str(pq.read_schema(path).field("transaction_date").type) == (
        f"timestamp[{unit}, tz={zone}]"
    )
    result = load(ws, path)
    assert [row["transaction_date"] for row in stored("transactions")] == [
        "2024-01-15",
        "2024-01-15",
    ]
    assert result.report.warning_summary == {"time zones converted": 1}
    [warning] = result.report.warnings
    assert (warning.row, warning.problem) == (
        2,
        "time zone converted to UTC: the date is 2024-01-15",
    )
    assert warning.value == f"2024-01-16 00:30:00.000000 {zone}"


def test_parquet_nanosecond_event_times_in_new_york_warn(ws, tmp_path, stored):
    """A purchase at 20:00 on 31 January in New York is 1 February 01:00 UTC: said."""
    import pandas as pd
    import pyarrow.parquet as pq

    frame = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "event_type": ["purchase"],
            "event_timestamp": pd.to_datetime(["2024-01-31 20:00:00"])
            .tz_localize("America/New_York")
            .as_unit("ns"),
        }
    )
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    assert "timestamp[ns, tz=America/New_York]" in str(pq.read_schema(path))
    result = load(ws, path, dataset="events")
    assert stored("events")[0]["event_timestamp"] == "2024-02-01T01:00:00"
    assert result.report.warning_summary == {"time zones converted": 1}
    assert result.report.warnings[0].problem == "time zone converted to UTC: 2024-02-01 01:00:00"


# --------------------------------------------------------------------------- Mac Roman

MAC_ROWS = [
    "Order ID,Customer,Order Date,Category,Total",
    '1001,Jürgen Müller,1/15/2024,Café & Bücher,"$1,249.00"',
    "1002,Renée Bäcker,1/16/2024,Électronique,$129.90",
    "1003,Zoë Müller,2/1/2024,Café & Küche,($49.00)",  # ë is 0x91: a C1 control in cp1252
    "1004,Søren Öberg,2/13/2024,Jardin – extérieur,$15.50",
]


def test_excel_for_mac_csv_is_read_as_mac_roman_with_a_warning(ws, write_file, stored):
    """Excel for Mac's "CSV (Macintosh)" was read as cp1252: Jürgen became JŸrgen, and
    Zoë a customer with a control character (refused)."""
    data = "\r".join(MAC_ROWS).encode("mac_roman") + b"\r"
    result = load(ws, write_file("mac.csv", data))
    assert result.report.encoding == "mac_roman"
    rows = stored("transactions")
    assert [row["customer_id"] for row in rows] == [
        "Jürgen Müller",
        "Renée Bäcker",
        "Zoë Müller",
        "Søren Öberg",
    ]
    assert rows[3]["product_category"] == "Jardin – extérieur"
    assert result.report.warning_summary["encoding guessed"] == 1
    assert any("Mac Roman" in warning.problem for warning in result.report.warnings)


def test_a_cp1252_file_with_cr_line_endings_stays_cp1252(ws, write_file, stored):
    """CR alone does not make a file Mac Roman: a cp1252 reading that looks right wins."""
    data = "\r".join(MAC_ROWS).encode("cp1252") + b"\r"
    result = load(ws, write_file("win.csv", data))
    assert result.report.encoding == "cp1252"
    assert stored("transactions")[0]["customer_id"] == "Jürgen Müller"
    assert "encoding guessed" not in result.report.warning_summary


def test_mac_roman_needs_cr_line_endings(ws, write_file, stored):
    """The same Mac Roman bytes with LF endings are not guessed (cp1252, as before)."""
    data = "\n".join(MAC_ROWS[:3]).encode("mac_roman") + b"\n"
    result = load(ws, write_file("lf.csv", data))
    assert result.report.encoding == "cp1252"


def test_misread_letters_counts_wrong_decodings():
    assert _misread_letters("Jürgen Müller, Café, Søren, MÜLLER, École") == 0
    assert _misread_letters("JŸrgen MŸller, CafŽ, S¿ren") == 4
    assert _misread_letters("CafÈ M¸ller") == 2

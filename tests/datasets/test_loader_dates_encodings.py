"""Dates and encodings the loader read wrongly or refused with the wrong advice:
Parquet time-zone timestamps in nanoseconds, numeric dates with an offset (.NET's
DateTimeOffset), Excel for Mac's Mac Roman CSV, 24-hour times with AM/PM, and common
layouts (RFC 2822, eBay, SQL Server, 2024.01.15) with the hints their refusals give."""

from __future__ import annotations

import datetime

import pytest

from mart.loading import _misread_letters
from tests.datasets.conftest import HEADER, load, refused

EVENTS = "customer_id,event_type,event_timestamp\n"


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


# --------------------------------------------------------------------------- offsets


DOTNET_GB = HEADER + (
    "T1,C1,16/01/2024 00:40:12 +01:00,10.00,A\nT2,C2,20/01/2024 12:40:12 +01:00,20.00,A\n"
)
DOTNET_US = HEADER + (
    "T1,C1,1/16/2024 12:40:12 AM +01:00,10.00,A\nT2,C2,1/20/2024 12:40:12 PM +01:00,20.00,A\n"
)


@pytest.mark.parametrize(
    ("text", "named"),
    [(DOTNET_GB, "%d/%m/%Y %H:%M:%S %z"), (DOTNET_US, "%m/%d/%Y %I:%M:%S %p %z")],
    ids=["en-GB", "en-US"],
)
def test_numeric_dates_with_an_offset_read_in_the_order_the_column_shows(
    ws, write_file, stored, text, named
):
    """.NET's DateTimeOffset (16/01/2024 00:40:12 +01:00) was refused as ambiguous,
    though its days are 16 and 20; read now, converted to UTC with the warning."""
    result = load(ws, write_file("dotnet.csv", text))
    assert [row["transaction_date"] for row in stored("transactions")] == [
        "2024-01-15",  # 00:40 at +01:00 is the 15th in UTC
        "2024-01-20",
    ]
    assert result.report.warning_summary == {"date order inferred": 1, "time zones converted": 1}
    order, zone = result.report.warnings
    assert f"({named})" in order.problem
    assert (zone.row, zone.problem) == (1, "time zone converted to UTC: the date is 2024-01-15")
    # the format the warning names reads the file the same way, with the same warning
    again = load(ws, write_file("again.csv", text), date_format=named)
    assert [row["transaction_date"] for row in stored("transactions")] == [
        "2024-01-15",
        "2024-01-20",
    ]
    assert again.report.warning_summary == {"time zones converted": 1}


def test_a_date_format_without_the_offset_gets_the_format_with_it(ws, write_file):
    error = refused(ws, write_file("dotnet.csv", DOTNET_GB), date_format="%d/%m/%Y %H:%M:%S")
    first = error.report.errors[0].problem
    assert "with the format '%d/%m/%Y %H:%M:%S'" in first
    assert "'%d/%m/%Y %H:%M:%S %z'" in first


@pytest.mark.parametrize(
    ("value", "formats"),
    [
        ("05/01/2024 10:00:00 +01:00", "%d/%m/%Y %H:%M:%S %z or %m/%d/%Y %H:%M:%S %z"),
        ("05/01/2024 10:00:00 AM +01:00", "%d/%m/%Y %I:%M:%S %p %z or %m/%d/%Y %I:%M:%S %p %z"),
        ("05/01/2024 10:00:00 PM", "%d/%m/%Y %I:%M:%S %p or %m/%d/%Y %I:%M:%S %p"),
        ("05.01.2024", "%d.%m.%Y or %m.%d.%Y"),
        ("05-01-2024 10:00", "%d-%m-%Y %H:%M or %m-%d-%Y %H:%M"),
    ],
)
def test_the_ambiguous_date_hint_gives_formats_that_read_the_value(ws, write_file, value, formats):
    """The hint gave %d/%m/%Y %H:%M:%S for values with an offset (which it does not
    read), no %p for 12-hour times with seconds, and slashes for 05.01.2024."""
    error = refused(ws, write_file("d.csv", HEADER + f"T1,C1,{value},1.00,A\n"))
    [problem] = error.report.errors
    assert "ambiguous" in problem.problem
    assert f"give a date format such as {formats}," in problem.problem
    for date_format in formats.split(" or "):
        load(ws, write_file("d.csv", HEADER + f"T1,C1,{value},1.00,A\n"), date_format=date_format)


def test_an_ambiguous_date_whose_formats_do_not_read_it_gets_no_format(ws, write_file):
    error = refused(ws, write_file("d.csv", HEADER + "T1,C1,05/01/2024 25:00,1.00,A\n"))
    [problem] = error.report.errors
    assert "ambiguous" in problem.problem and "such as %" not in problem.problem


def test_an_offset_no_place_has_is_refused_in_a_numeric_date_too(ws, write_file):
    """strptime's %z reads +25:00; the ISO reading refused it, the .NET one too now."""
    text = HEADER + "T1,C1,16/01/2024 00:40:12 +25:00,1.00,A\n"
    [problem] = refused(ws, write_file("d.csv", text)).report.errors
    assert "not one any place has" in problem.problem


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize(
    ("value", "stored_date"),
    [
        ("Mon, 15 Jan 2024 23:00:00 -0500", "2024-01-16"),  # RFC 2822 (mail, RSS)
        ("Mon, 15 Jan 2024 10:00:00 +0000", "2024-01-15"),
        ("Mon, 15 Jan 2024 10:00:00 GMT", "2024-01-15"),  # HTTP date
        ("Jan-15-24", "2024-01-15"),  # eBay
        ("Jan-05-2024", "2024-01-05"),
        ("Jan 15 2024 11:40PM", "2024-01-15"),  # SQL Server
        ("Jan  5 2024 11:40 AM", "2024-01-05"),
        ("2024.01.15", "2024-01-15"),
        ("2024.01.15 10:00", "2024-01-15"),
        ("2024-01-15 11:40:12 PM +0100", "2024-01-15"),
    ],
)
def test_unambiguous_common_layouts_are_read(ws, write_file, stored, value, stored_date):
    load(ws, write_file("d.csv", HEADER + f'T1,C1,"{value}",1.00,A\n'))
    assert stored("transactions")[0]["transaction_date"] == stored_date


def test_an_rfc_2822_offset_that_changes_the_date_is_warned(ws, write_file, stored):
    text = HEADER + 'T1,C1,"Mon, 15 Jan 2024 23:00:00 -0500",1.00,A\n'
    result = load(ws, write_file("d.csv", text))
    assert result.report.warning_summary == {"time zones converted": 1}


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2024-01-15 00:30 AM", "2024-01-15T00:30:00"),
        ("2024-01-15 0:30:15 am", "2024-01-15T00:30:15"),
        ("2024-01-15 13:30 PM", "2024-01-15T13:30:00"),
        ("15/01/2024 00:30 AM", "2024-01-15T00:30:00"),
        ("2024-01-15 12:30 AM", "2024-01-15T00:30:00"),  # a 12-hour time, as before
    ],
)
def test_a_24_hour_time_with_an_am_or_pm_that_agrees_is_read(ws, write_file, stored, value, moment):
    """00:30 AM (.NET's "HH:mm tt") was refused as an "unknown time zone 'AM'"."""
    load(ws, write_file("e.csv", EVENTS + f"C1,page_view,{value}\n"), dataset="events")
    assert stored("events")[0]["event_timestamp"] == moment


def test_a_24_hour_time_with_a_date_format_of_12_hours_is_read(ws, write_file, stored):
    text = EVENTS + "C1,page_view,15/01/2024 00:30 AM\nC1,page_view,15/01/2024 1:30 PM\n"
    load(ws, write_file("e.csv", text), dataset="events", date_format="%d/%m/%Y %I:%M %p")
    assert [row["event_timestamp"] for row in stored("events")] == [
        "2024-01-15T00:30:00",
        "2024-01-15T13:30:00",
    ]


def test_an_hour_that_disagrees_with_am_pm_is_refused_as_such(ws, write_file):
    text = EVENTS + "C1,page_view,2024-01-15 13:30 AM\n"
    [problem] = refused(ws, write_file("e.csv", text), dataset="events").report.errors
    assert "time zone" not in problem.problem
    assert "a 12-hour time has an hour from 1 to 12" in problem.problem


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
    # the cp1252 guess is said (as a guess), never as Mac Roman
    assert not any("Mac Roman" in w.problem for w in result.report.warnings)


def test_mac_roman_needs_cr_line_endings(ws, write_file, stored):
    """The same Mac Roman bytes with LF endings are not guessed (cp1252, as before)."""
    data = "\n".join(MAC_ROWS[:3]).encode("mac_roman") + b"\n"
    result = load(ws, write_file("lf.csv", data))
    assert result.report.encoding == "cp1252"


DOS_ROWS = [
    "transaction_id,customer_id,transaction_date,amount,product_category",
    "T1,Bücher Åberg,2024-01-05,10.00,Café",
    "T2,Jürgen Müller,2024-01-05,11.00,Bär & Co",
    "T3,Élan Straße,2024-01-05,12.00,Maßband",
]


def test_excel_ms_dos_csv_is_read_as_code_page_850_with_a_warning(ws, write_file, stored):
    """Excel's "CSV (MS-DOS)" (code page 850) loaded with "no problems found" as
    Caf‚ and B„r (cp1252), or B\x81cher with control characters (Latin-1)."""
    data = "\r\n".join(DOS_ROWS).encode("cp850") + b"\r\n"
    result = load(ws, write_file("dos.csv", data))
    assert result.report.encoding == "cp850"
    rows = stored("transactions")
    assert [row["customer_id"] for row in rows] == ["Bücher Åberg", "Jürgen Müller", "Élan Straße"]
    assert [row["product_category"] for row in rows] == ["Café", "Bär & Co", "Maßband"]
    assert any("code page 850" in warning.problem for warning in result.report.warnings)
    # the same text in cp1252 stays cp1252, with its dash and euro sign
    windows = DOS_ROWS + ["T4,C4,2024-01-05,1.00,Jardin – extérieur € 10"]
    result = load(ws, write_file("win.csv", "\r\n".join(windows).encode("cp1252")))
    assert result.report.encoding == "cp1252"
    assert stored("transactions")[3]["product_category"] == "Jardin – extérieur € 10"


def test_misread_letters_counts_wrong_decodings():
    assert _misread_letters("Jürgen Müller, Café, Søren, MÜLLER, École") == 0
    assert _misread_letters("JŸrgen MŸller, CafŽ, S¿ren") == 4
    assert _misread_letters("CafÈ M¸ller") == 2


def test_a_date_that_exists_in_neither_order_is_not_called_ambiguous(ws, write_file):
    """16/01 and 20/01 settle the column as day first; 31/02/2024 was then refused as
    "day/month order is ambiguous … give a date format", which no format would read."""
    body = "T1,C1,16/01/2024,1.00,A\nT2,C2,20/01/2024,1.00,A\nT3,C3,31/02/2024,1.00,A\n"
    error = refused(ws, write_file("d.csv", HEADER + body + "T4,C4,13/13/2024 10:00,1.00,A\n"))
    feb, thirteen = (problem.problem for problem in error.report.errors)
    assert "ambiguous" not in feb and "no such date: 31/02/2024" in feb
    assert "(day 31 of month 2) or second (day 2 of month 31)" in feb
    assert "no such date: 13/13/2024" in thirteen and "(day 13 of month 13)" in thirteen
    # A value that one order reads keeps its hint (the orders disagree in the column).
    mixed = refused(ws, write_file("d.csv", HEADER + body.replace("31/02", "01/31")))
    assert "no such date" not in mixed.report.errors[0].problem


def test_an_iso_date_that_does_not_exist_says_no_such_date(ws, write_file):
    """13/13/2024 was told "no such date", 2024-02-30 only the generic "a real date with
    a year from 1000 to 9999" hint."""
    values = [
        "2024-02-30",
        "2023-02-29",
        "2024-04-31",
        "2024-13-01",
        "2024-01-00",
        "2024/06/31 10:00",
        "2024-02-30T10:00:00Z",
        "20230229",
        "2024-01-15",
    ]
    body = "".join(f"T{n},C1,{value},1.00,A\n" for n, value in enumerate(values, start=1))
    error = refused(ws, write_file("iso.csv", HEADER + body))
    said = {problem.value: problem.problem for problem in error.report.errors}
    assert set(said) == set(values[:-1])
    assert (
        "no such date: February 2024 has 29 days, so 2024-02-30 does not exist"
        in said["2024-02-30"]
    )
    assert "2023 is not a leap year: February 2023 has 28 days" in said["2023-02-29"]
    assert "April 2024 has 30 days, so 2024-04-31" in said["2024-04-31"]
    assert "no such date: 2024-13-01 has month 13" in said["2024-13-01"]
    assert "no such date: 2024-01-00 has day 0" in said["2024-01-00"]
    assert "June 2024 has 30 days, so 2024/06/31 does not exist" in said["2024/06/31 10:00"]
    assert "same reason as row 1" in said["2024-02-30T10:00:00Z"]  # February 2024 too
    assert "February 2023 has 28 days, so 20230229" in said["20230229"]
    assert not any("a real date with a year" in text for text in said.values()), said
    # With a format that reads the year, month and day in this order, the same hint;
    # another order keeps its own (2024-02-30 is day 2 of month 30 there).
    own = refused(ws, write_file("iso.csv", HEADER + body), date_format="%Y-%m-%d")
    assert "February 2024 has 29 days" in own.report.errors[0].problem
    other = refused(ws, write_file("iso.csv", HEADER + body), date_format="%Y-%d-%m")
    assert "no such date" not in other.report.errors[0].problem
    # 8 digits that are no date at all keep the hint that they may be ids.
    ids = refused(ws, write_file("ids.csv", HEADER + "T1,C1,20241399,1.00,A\n"))
    assert "may hold ids" in ids.report.errors[0].problem


def test_a_given_date_format_still_reads_the_layouts_that_read_one_way(ws, write_file, stored):
    """With --date-format %m/%d/%Y, 15-Feb-2024, Feb-15-24 and 2024-02-15 10:00 PM were
    "cannot read as a date with the format", while 15 Feb 2024 still read: a file mixing
    them could be loaded neither with the format nor without it (ambiguous)."""
    body = (
        "transaction_id,customer_id,transaction_date,amount\n"
        "T1,C1,01/02/2024,1\nT2,C1,15 Feb 2024,1\nT3,C1,15-Feb-2024,1\n"
        'T4,C1,"Feb 15, 2024",1\nT5,C1,2024-02-15 10:00 PM,1\nT6,C1,2024/02/15,1\n'
        "T7,C1,Feb-15-24,1\n"
    )
    load(ws, write_file("mixed.csv", body), date_format="%m/%d/%Y")
    dates = [row["transaction_date"] for row in stored("transactions")]
    assert dates == ["2024-01-02"] + ["2024-02-15"] * 6


def test_typographic_punctuation_keeps_a_cp1252_file_cp1252(ws, write_file, stored):
    """Curly quotes, dashes, an ellipsis, a bullet and µ are cp1252's own: a file with
    them was read as code page 850 (O’Brien as OÆBrien, “Deluxe” as ôDeluxeö)."""
    data = (
        b"order_id,customer_id,order_date,amount,note\n"
        b"1,O\x92Brien,2024-01-05,10.00,\x93Deluxe\x94 Shop\n"
        b"2,Smith\x97Jones,2024-01-06,12.50,Jan\x96Mar wait\x85 \x95priority 5\xb5g\n"
    )
    result = load(ws, write_file("punct.csv", data))
    assert result.report.encoding == "cp1252"
    rows = stored("transactions")
    assert [row["customer_id"] for row in rows] == ["O\u2019Brien", "Smith\u2014Jones"]

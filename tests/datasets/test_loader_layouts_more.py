"""More real-world layouts and exports the loader refused or read silently: ISO 8601's
basic format (20240115T234012Z), JavaScript's Date.toString(), long dates with a
weekday (checked against the date), a T between a numeric date and its time beside a
date format, Stripe's and Shopify's refunded amounts, a guessed cp1252 encoding and the
column of a subtotal row's label."""

from __future__ import annotations

import pytest

from tests.datasets.conftest import HEADER, load, refused

EVENTS = "customer_id,event_type,event_timestamp\n"


# --------------------------------------------------------------------------- ISO basic


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("20240115T234012Z", "2024-01-15T23:40:12"),
        ("20240115T234012", "2024-01-15T23:40:12"),
        ("20240115T2340", "2024-01-15T23:40:00"),
        ("20240115T234012.250Z", "2024-01-15T23:40:12.250000"),
        ("20240116T004012+0100", "2024-01-15T23:40:12"),
        ("20240115T184012-05:00", "2024-01-15T23:40:12"),
    ],
)
def test_iso_basic_date_times_are_read(ws, write_file, stored, value, moment):
    """ISO 8601's basic format (no dashes, no colons) was refused with the generic hint."""
    load(ws, write_file("basic.csv", EVENTS + f"C1,purchase,{value}\n"), dataset="events")
    assert stored("events")[0]["event_timestamp"] == moment


def test_iso_basic_offsets_get_the_time_zone_warnings_of_extended_ones(ws, write_file, stored):
    """The offset of 20240116T004012+0100 moves the date to the 15th in UTC: said, as for
    2024-01-16T00:40:12+01:00; and a value without a zone beside it is said too."""
    body = "T1,C1,20240116T004012+0100,1.00,A\nT2,C1,20240116T004012,1.00,A\n"
    result = load(ws, write_file("basic.csv", HEADER + body))
    assert [row["transaction_date"] for row in stored("transactions")] == [
        "2024-01-15",
        "2024-01-16",
    ]
    summary = result.report.warning_summary
    assert summary["time zones converted"] == 1 and summary["times without a zone"] == 1
    converted = next(w for w in result.report.warnings if "converted" in w.problem)
    assert (converted.row, converted.value) == (1, "20240116T004012+0100")
    assert "the date is 2024-01-15" in converted.problem


def test_iso_basic_with_an_impossible_offset_or_a_leap_second_says_why(ws, write_file):
    """The hints of the extended form apply to the basic form: a leap second, an offset
    no place has (both were refused with the generic hint)."""
    text = EVENTS + "C1,purchase,20240630T235960Z\nC1,purchase,20240115T2340+2500\n"
    error = refused(ws, write_file("basic.csv", text), dataset="events")
    leap, offset = error.report.errors
    assert "second 60 (a leap second)" in leap.problem
    assert "offset from UTC is not one any place has" in offset.problem


def test_compact_dates_are_eight_digits_with_a_plausible_year(ws, write_file, stored):
    """20240115 reads; 2024115 (seven digits) was read as 2024-11-05, and 10230405 (an id
    in the date column) as the year 1023: both are refused, the second saying why."""
    body = "T1,C1,2024115,1.00,A\nT2,C1,10230405,1.00,A\nT3,C1,20241301,1.00,A\n"
    error = refused(ws, write_file("ids.csv", HEADER + body))
    seven, ancient, month_13 = error.report.errors
    assert (seven.row, ancient.row, month_13.row) == (1, 2, 3)
    assert "8 digits alone are read as a date only" in ancient.problem
    assert "YYYYMMDD with a year from 1900 to 2100" in ancient.problem
    assert "same reason as row 2" in month_13.problem
    load(ws, write_file("ok.csv", HEADER + "T1,C1,20240115,1.00,A\nT2,C1,19991231,1.00,A\n"))
    assert [row["transaction_date"] for row in stored("transactions")] == [
        "2024-01-15",
        "1999-12-31",
    ]


def test_eight_digit_ids_and_numbers_outside_the_date_column_stay_text(ws, write_file, stored):
    """Guard: 8-digit customer ids and an extra column of 8-digit numbers are ids, not
    dates; only the mapped date column is read as a date."""
    text = (
        "order_id,customer_id,transaction_date,amount,ref\n"
        "20240115,20240116,2024-01-15,1.00,20240117\n"
        "20240118,20240119,2024-01-16,2.00,00000001\n"
    )
    result = load(ws, write_file("ids.csv", text))
    rows = stored("transactions")
    assert [(r["transaction_id"], r["customer_id"], r["ref"]) for r in rows] == [
        ("20240115", "20240116", "20240117"),
        ("20240118", "20240119", "00000001"),
    ]
    assert result.report.warning_count == 0
    assert not result.report.readings


# --------------------------------------------------------------------------- JavaScript


def test_javascript_date_strings_are_read_and_converted_to_utc(ws, write_file, stored):
    """new Date().toString() as a CSV export writes it was refused with the generic hint.
    Its offset is read as any offset: converted to UTC, the changed date said."""
    body = (
        'T1,C1,"Mon Jan 15 2024 23:40:12 GMT+0100 (Central European Standard Time)",1.00,A\n'
        'T2,C1,"Tue Jan 16 2024 00:40:12 GMT+0100 (Central European Standard Time)",1.00,A\n'
        'T3,C1,"Mon Jan 15 2024 18:40:12 GMT-0500 (Eastern Standard Time)",1.00,A\n'
    )
    result = load(ws, write_file("js.csv", HEADER + body))
    assert [row["transaction_date"] for row in stored("transactions")] == ["2024-01-15"] * 3
    assert result.report.warning_summary == {"time zones converted": 1}
    assert result.report.warnings[0].row == 2
    events = EVENTS + 'C1,purchase,"Tue Jan 16 2024 00:40:12 GMT+0100 (CET)"\n'
    load(ws, write_file("js-events.csv", events), dataset="events")
    assert stored("events")[0]["event_timestamp"] == "2024-01-15T23:40:12"


# --------------------------------------------------------------------------- long forms


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("Monday, 15 January 2024", "2024-01-15T00:00:00"),
        ("Monday, January 15, 2024", "2024-01-15T00:00:00"),
        ("15 January 2024 10:00", "2024-01-15T10:00:00"),
        ("January 15, 2024 10:00 PM", "2024-01-15T22:00:00"),
        ("Monday, 15 January 2024 22:00:05", "2024-01-15T22:00:05"),
        ("Monday, January 15, 2024 at 10:00 PM", "2024-01-15T22:00:00"),
        ("Mon 15 Jan 2024", "2024-01-15T00:00:00"),
        ("Monday, 15 January 2024 23:30 -05:00", "2024-01-16T04:30:00"),
    ],
)
def test_long_dates_with_or_without_a_weekday_or_a_time_are_read(
    ws, write_file, stored, value, moment
):
    load(ws, write_file("long.csv", EVENTS + f'C1,purchase,"{value}"\n'), dataset="events")
    assert stored("events")[0]["event_timestamp"] == moment


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("Monday, 16 January 2024", "16 January 2024 was a Tuesday, not a Monday"),
        ("Tuesday, January 15, 2024", "15 January 2024 was a Monday, not a Tuesday"),
        ("Mon, 16 Jan 2024 10:00:00 GMT", "16 January 2024 was a Tuesday, not a Monday"),
        ("Tue Jan 15 2024 23:40:12 GMT+0100 (CET)", "was a Monday, not a Tuesday"),
    ],
)
def test_a_weekday_that_contradicts_the_date_is_refused_plainly(ws, write_file, value, said):
    """strptime ignores the weekday: Tuesday, January 15, 2024 (a Monday) was read as the
    15th without a word, and Monday, 16 January 2024 refused with the generic hint."""
    error = refused(ws, write_file("wd.csv", HEADER + f'T1,C1,"{value}",1.00,A\n'))
    [problem] = error.report.errors
    assert said in problem.problem
    assert problem.problem.startswith(f"cannot read as a date ({value}: ")


def test_weekday_dates_that_agree_still_read_with_their_zone(ws, write_file, stored):
    """Guard: RFC 2822 and HTTP dates, read by strptime before, read the same now that
    their weekday is checked (the zone converted, the date change said)."""
    body = (
        'T1,C1,"Mon, 15 Jan 2024 10:00:00 +0000",1.00,A\n'
        'T2,C1,"Tue, 16 Jan 2024 00:30:00 +0100",1.00,A\n'
        'T3,C1,"Mon, 15 Jan 2024 10:00:00 GMT",1.00,A\n'
    )
    result = load(ws, write_file("rfc.csv", HEADER + body))
    assert [row["transaction_date"] for row in stored("transactions")] == ["2024-01-15"] * 3
    assert result.report.warning_summary == {"time zones converted": 1}


# --------------------------------------------------------------------------- date format


def test_a_date_format_hint_keeps_the_t_between_date_and_time(ws, write_file, stored):
    """01/02/2024T10:00 with %d/%m/%Y was refused without a hint: the format offered had a
    space where the value has a T, so it did not read the value and was not offered."""
    text = EVENTS + "C1,purchase,01/02/2024T10:00\n"
    error = refused(ws, write_file("t.csv", text), dataset="events", date_format="%d/%m/%Y")
    [problem] = error.report.errors
    assert "give the format with it, '%d/%m/%YT%H:%M'" in problem.problem
    load(ws, write_file("t.csv", text), dataset="events", date_format="%d/%m/%YT%H:%M")
    assert stored("events")[0]["event_timestamp"] == "2024-02-01T10:00:00"

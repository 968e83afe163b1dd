"""What the loader says about values it reads in a way worth saying, or cannot read:
leap seconds, amounts too large for the amount column, dates with a time beside a
date format, accounting zeros, Unix times, ambiguous thousands points, totals rows
without a label and control characters in ids."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.datasets.conftest import HEADER, load, refused

EVENTS = "customer_id,event_type,event_timestamp\n"


# --------------------------------------------------------------------------- 1


@pytest.mark.parametrize(
    "value", ["2024-06-30T23:59:60Z", "2024-06-30T23:59:60", "2024-06-30 23:59:60+02:00"]
)
def test_a_leap_second_is_refused_as_a_leap_second_not_a_time_zone(ws, write_file, value):
    """23:59:60Z was refused for an "unknown time zone 'Z'"; Z is UTC and read."""
    text = EVENTS + f"C1,page_view,2024-06-30T23:59:59Z\nC1,page_view,{value}\n"
    error = refused(ws, write_file("leap.csv", text), dataset="events")
    [problem] = error.report.errors
    assert problem.row == 2 and problem.value == value
    assert "second 60 (a leap second)" in problem.problem
    assert "23:59:59" in problem.problem
    assert "time zone" not in problem.problem


def test_a_leap_second_is_named_beside_a_date_format_too(ws, write_file):
    text = HEADER + "T1,C1,30/06/2024 23:59:60,1.00,A\n"
    error = refused(ws, write_file("leap.csv", text), date_format="%d/%m/%Y %H:%M:%S")
    [problem] = error.report.errors
    assert "second 60 (a leap second)" in problem.problem


# --------------------------------------------------------------------------- 2


def test_a_float_amount_too_large_names_the_amount_columns_limit(ws, tmp_path):
    """A Parquet double of 1e20 was refused for "scientific notation", which the file
    does not have: it is a number, too large for DECIMAL(18,2)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "big.parquet"
    table = pa.table(
        {
            "customer_id": ["C1", "C2", "C3"],
            "transaction_date": ["2024-01-15"] * 3,
            "amount": pa.array([1e20, 12.5, -3e17], pa.float64()),
        }
    )
    pq.write_table(table, path)
    error = refused(ws, path)
    assert [(p.row, p.value) for p in error.report.errors] == [(1, "1e+20"), (3, "-3e+17")]
    first = error.report.errors[0].problem
    assert "too large for the amount column" in first
    assert "DECIMAL(18,2)" in first and "9999999999999999.99" in first
    assert "scientific notation" not in first
    # a CSV's 1e20 is text a spreadsheet wrote: that hint stays
    csv = tmp_path / "big.csv"
    csv.write_text(HEADER + "T1,C1,2024-01-15,1e20,A\n")
    [problem] = refused(ws, csv).report.errors
    assert "scientific notation" in problem.problem


def test_a_tiny_float_amount_reads_as_the_cent_it_rounds_to(ws, tmp_path, stored):
    """A float sum leaves amounts such as 5.551115123125783e-17 (0.1 + 0.2 - 0.3):
    DuckDB wrote a small double in scientific notation, and the load was refused with
    the spreadsheet hint. Written out in full, it rounds to the cent like any long
    decimal, with the rounding warning."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "tiny.parquet"
    amounts = [0.1 + 0.2 - 0.3, 1e-05, 0.005, -0.004999, 12.5, 2.5e-3]
    pq.write_table(
        pa.table(
            {
                "customer_id": [f"C{n}" for n in range(len(amounts))],
                "transaction_date": ["2024-01-15"] * len(amounts),
                "amount": pa.array(amounts, pa.float64()),
            }
        ),
        path,
    )
    result = load(ws, path)
    assert [str(row["amount"]) for row in stored("transactions")] == [
        "0.00", "0.00", "0.01", "0.00", "12.50", "0.00",
    ]  # fmt: skip
    assert "rounded" in " ".join(result.report.warning_summary)


# --------------------------------------------------------------------------- 3


@pytest.mark.parametrize(
    ("value", "date_format", "suggested"),
    [
        ("01/02/2024 10:00", "%d/%m/%Y", "'%d/%m/%Y %H:%M'"),
        ("01/02/2024 10:00:30", "%d/%m/%Y", "'%d/%m/%Y %H:%M:%S'"),
        ("01/02/2024 10:00 PM", "dd/mm/yyyy", "'%d/%m/%Y %I:%M %p'"),
    ],
)
def test_a_date_format_without_the_time_the_values_carry_gets_a_hint(
    ws, write_file, value, date_format, suggested
):
    path = write_file("d.csv", HEADER + f"T1,C1,{value},1.00,A\n")
    error = refused(ws, path, date_format=date_format)
    [problem] = error.report.errors
    assert "carry a time of day" in problem.problem
    assert suggested in problem.problem
    # the suggested format does read the value
    load(ws, write_file("ok.csv", HEADER + f"T1,C1,{value},1.00,A\n"), date_format=suggested[1:-1])


# --------------------------------------------------------------------------- 4


def test_an_accounting_zero_reads_as_zero_and_is_listed(ws, write_file, stored):
    """Excel's accounting format shows a zero as a dash beside the currency: "$ -"."""
    text = (
        HEADER
        + "T1,C1,2024-01-15,5.00,A\n"
        + 'T2,C2,2024-01-15," $ -   ",A\n'
        + 'T3,C3,2024-01-15,"€ -",A\n'
        + 'T4,C4,2024-01-15,"- USD",A\n'
    )
    result = load(ws, write_file("acc.csv", text))
    assert [row["amount"] for row in stored("transactions")] == [
        Decimal("5.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    ]
    listed = [(r.example, r.loaded, r.first_row) for r in result.report.readings]
    assert ("$ -", "0.00", 2) in listed
    assert "'$ -' -> 0.00" in result.report.to_text()


@pytest.mark.parametrize("dash", ["-", " - "])
def test_a_lone_dash_without_a_currency_is_refused_naming_accounting_format(ws, write_file, dash):
    """Alone, a dash as often means "no value" as zero: not guessed, but explained."""
    text = HEADER + f'T1,C1,2024-01-15,"{dash}",A\nT2,C2,2024-01-15,"−",A\n'
    error = refused(ws, write_file("dash.csv", text))
    first = error.report.errors[0]
    assert first.row == 1
    assert "accounting format" in first.problem and "$ -" in first.problem
    # a Unicode minus alone is no accounting zero either
    assert error.report.errors[1].row == 2


# --------------------------------------------------------------------------- 5


@pytest.mark.parametrize(
    ("value", "unit", "moment"),
    [
        ("1704067200", "seconds", "2024-01-01 00:00:00"),
        ("1718000000123", "milliseconds", "2024-06-10 06:13:20"),
        ("1704067200.5", "seconds", "2024-01-01 00:00:00"),
    ],
)
def test_unix_times_in_a_date_column_get_a_hint_and_are_not_converted(
    ws, write_file, value, unit, moment
):
    error = refused(ws, write_file("epoch.csv", HEADER + f"T1,C1,{value},1.00,A\n"))
    [problem] = error.report.errors
    assert f"Unix time in {unit}" in problem.problem
    assert f"{moment} UTC" in problem.problem
    assert "convert" in problem.problem


def test_a_unix_time_is_said_beside_a_date_format_too(ws, write_file):
    text = HEADER + "T1,C1,1704067200,1.00,A\n"
    [problem] = refused(ws, write_file("e.csv", text), date_format="%d/%m/%Y").report.errors
    assert "Unix time in seconds" in problem.problem


# --------------------------------------------------------------------------- 6


def test_a_thousands_point_read_with_a_decimal_comma_is_listed(ws, write_file, stored):
    """1.234 in a decimal-comma column is 1234.00; it could have been 1.234, so the
    report lists it under the values read."""
    text = (
        HEADER + 'T1,C1,2024-01-15,"1.234,50",A\nT2,C2,2024-01-15,1.234,A\nT3,C3,2024-01-15,7,A\n'
    )
    result = load(ws, write_file("comma.csv", text))
    assert [row["amount"] for row in stored("transactions")] == [
        Decimal("1234.50"),
        Decimal("1234.00"),
        Decimal("7.00"),
    ]
    listed = [(r.example, r.loaded, r.first_row) for r in result.report.readings]
    assert listed == [("1.234,50", "1234.50", 1), ("1.234", "1234.00", 2)]
    # with a decimal point, 1.234 is as written: not listed
    plain = HEADER + "T1,C1,2024-01-15,1.234,A\nT2,C2,2024-01-15,2.50,A\n"
    assert load(ws, write_file("point.csv", plain)).report.readings == []


# --------------------------------------------------------------------------- 7


def test_a_totals_row_without_a_label_is_left_out(ws, write_file, stored):
    text = (
        HEADER
        + "T1,C1,2024-01-15,5.00,A\n"
        + "T2,C2,2024-01-16,4.00,A\n"
        + "T3,C3,2024-01-17,6.00,A\n"
        + ",,,15.00,\n"
    )
    result = load(ws, write_file("t.csv", text))
    assert [r["transaction_id"] for r in stored("transactions")] == ["T1", "T2", "T3"]
    [warning] = result.report.warnings
    assert warning.row == 4 and warning.value == "15.00"
    assert "looks like a totals row" in warning.problem and "no label" in warning.problem
    assert result.report.warning_summary == {"totals rows left out": 1}
    assert "1 totals row(s) left out" in result.version.message


@pytest.mark.parametrize(
    "text",
    [
        # only two other rows: a record without id, customer and date is as likely
        HEADER + "T1,C1,2024-01-15,5.00,A\nT2,C2,2024-01-16,10.00,A\n,,,15.00,\n",
        # a customer: a record, whatever its amount
        HEADER
        + "T1,C1,2024-01-15,5.00,A\nT2,C2,2024-01-16,4.00,A\nT3,C3,2024-01-17,6.00,A\n"
        + ",C4,,15.00,\n",
        # a date: a record
        HEADER
        + "T1,C1,2024-01-15,5.00,A\nT2,C2,2024-01-16,4.00,A\nT3,C3,2024-01-17,6.00,A\n"
        + ",,2024-01-18,15.00,\n",
        # not the sum of the others
        HEADER
        + "T1,C1,2024-01-15,5.00,A\nT2,C2,2024-01-16,4.00,A\nT3,C3,2024-01-17,6.00,A\n"
        + ",,,14.00,\n",
    ],
)
def test_a_row_without_label_stays_unless_it_is_surely_a_total(ws, write_file, stored, text):
    result = load(ws, write_file("t.csv", text))
    assert len(stored("transactions")) == text.count("\n") - 1
    assert "totals rows left out" not in result.report.warning_summary


# --------------------------------------------------------------------------- 8


@pytest.mark.parametrize(
    ("line", "column", "shown"),
    [
        ("T1,C\x1b[31m1,2024-01-15,1.00,A\n", "customer_id", "ESC"),
        ("T\x852,C2,2024-01-15,1.00,A\n", "transaction_id", "U+0085"),
        ('T3,"C\t3",2024-01-15,1.00,A\n', "customer_id", "TAB"),
    ],
)
def test_control_characters_in_ids_are_refused_by_row_and_column(
    ws, write_file, line, column, shown
):
    """An ESC in a customer id was stored: the table escaped it, a CSV export did not
    (a terminal showing the export ran the escape sequence)."""
    text = HEADER + "T0,C0,2024-01-15,1.00,A\n" + line
    error = refused(ws, write_file("ctl.csv", text))
    [problem] = error.report.errors
    assert (problem.row, problem.column, problem.field) == (2, column, column)
    assert "control character" in problem.problem and shown in problem.problem
    assert not any(char in str(problem) for char in "\x1b\x85\t")  # shown escaped


def test_control_characters_in_event_and_session_ids_are_refused(ws, write_file):
    text = "event_id,customer_id,session_id,event_type,event_timestamp\n" + (
        "E1,C1,S\x1b1,page_view,2024-01-15T10:00:00\n"
    )
    error = refused(ws, write_file("ctl.csv", text), dataset="events")
    assert [(p.row, p.field) for p in error.report.errors] == [(1, "session_id")]


def test_an_id_with_a_direction_control_beside_one_with_a_control_character(ws, write_file):
    """One scan finds both; each is counted on its own."""
    text = HEADER + "T1,\u202eC1,2024-01-15,1.00,A\nT2,C\x1b2,2024-01-15,1.00,A\n"
    report = refused(ws, write_file("both.csv", text)).report
    assert [(p.row, p.field) for p in report.errors] == [(2, "customer_id")]
    assert report.warning_summary == {"direction controls removed": 1}


def test_an_unreadable_event_time_is_called_a_date_or_time(ws, write_file):
    """An event_timestamp that cannot be read was called "cannot read as a date"."""
    text = EVENTS + "C1,page_view,2024-01-15 10:00\nC1,page_view,soon\n"
    [problem] = refused(ws, write_file("events.csv", text), dataset="events").report.errors
    assert problem.row == 2 and problem.problem.startswith("cannot read as a date or time")

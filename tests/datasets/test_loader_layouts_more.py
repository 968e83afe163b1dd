"""More real-world layouts and exports the loader refused or read silently: ISO 8601's
basic format (20240115T234012Z), JavaScript's Date.toString(), long dates with a
weekday (checked against the date), a T between a numeric date and its time beside a
date format, Stripe's and Shopify's refunded amounts, a guessed cp1252 encoding and the
column of a subtotal row's label."""

from __future__ import annotations

from decimal import Decimal

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


def test_a_given_date_format_is_not_replaced_by_yyyymmdd(ws, write_file):
    """With --date-format %d%m%Y, 19990101 and 20201012 (which that format cannot read:
    month 19, month 20) were read as YYYYMMDD without a word: the format says the order."""
    body = "T1,C1,15012024,1.00,A\nT2,C1,19990101,1.00,A\nT3,C1,20201012,1.00,A\n"
    error = refused(ws, write_file("ddmmyyyy.csv", HEADER + body), date_format="%d%m%Y")
    assert [problem.row for problem in error.report.errors] == [2, 3]
    assert all("with the format '%d%m%Y'" in p.problem for p in error.report.errors)


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


# --------------------------------------------------------------------------- refunds


@pytest.mark.parametrize("name", ["Amount Refunded", "amount_refunded", "Refunded Amount"])
def test_a_refunded_amount_column_is_said_among_the_money_warnings(ws, write_file, stored, name):
    """Stripe's Amount Refunded (Shopify's Refunded Amount) was not read: a charge refunded
    in part or whole loaded as a full sale without a word. Said, the amounts unchanged."""
    text = (
        f"id,Created,Amount,{name},Customer ID\n"
        "ch_1,2024-01-15,100.00,0.00,cus_1\n"
        "ch_2,2024-01-16,100.00,25.50,cus_2\n"
        'ch_3,2024-01-17,"1,015.00","1,015.00",cus_3\n'
        "ch_4,2024-01-18,40.00,,cus_4\n"
    )
    report = load(ws, write_file("stripe.csv", text)).report
    assert report.money_warnings == ["refunded amounts"]
    assert report.warning_summary == {"refunded amounts": 2}
    [warning] = report.warnings
    assert warning.column == name
    assert f"2 row(s) have a refunded amount in column {name!r}" in warning.problem
    assert "1,040.50 refunded in all, first at row 2" in warning.problem
    assert [row["amount"] for row in stored("transactions")] == [
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("1015.00"),
        Decimal("40.00"),
    ]


def test_refunds_in_a_decimal_comma_file_are_read_with_its_mark(ws, write_file):
    text = 'Name;Created at;Total;Refunded Amount;Email\n#1001;2024-01-15;"1.249,00";"249,50";a\n'
    report = load(ws, write_file("shopify.csv", text)).report
    [warning] = [w for w in report.warnings if w.column == "Refunded Amount"]
    assert "(249.50 refunded in all, first at row 1)" in warning.problem


def test_refund_columns_that_refund_nothing_say_nothing(ws, write_file):
    """Guard: a refunded-amount column of zeros and blanks, Stripe's true/false Refunded,
    and a text column named like a refund give no warning."""
    text = (
        "id,Created,Amount,Amount Refunded,Refunded,Refund Policy,Customer ID\n"
        "ch_1,2024-01-15,100.00,0.00,false,30 days,cus_1\n"
        "ch_2,2024-01-16,100.00,,true,1,cus_2\n"
        "ch_3,2024-01-17,15.00,0,1,2,cus_3\n"
    )
    report = load(ws, write_file("stripe.csv", text)).report
    assert report.warning_count == 0 and report.money_warnings == []


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("encoding", "named"), [("cp1252", "Windows-1252 (cp1252)"), ("latin-1", "Latin-1")]
)
def test_a_guessed_western_encoding_is_said_when_it_decoded_letters(
    ws, write_file, stored, encoding, named
):
    """Mac Roman's guess was said, cp1252's was not: a file in another code page (Greek,
    Cyrillic, Central European) loads with wrong letters and no word. Said, naming the
    count and the first line and word."""
    text = "customer_id,transaction_date,amount\nC1,2024-01-15,1\nJürgen Müller,2024-01-16,2\n"
    data = text.encode("cp1252")
    if encoding == "cp1252":
        result = load(ws, write_file("win.csv", data))
        assert stored("transactions")[1]["customer_id"] == "Jürgen Müller"
        report = result.report
    else:  # 0x81 is no cp1252 character, so latin-1; as U+0081, a control: refused
        report = refused(ws, write_file("win.csv", data + b"C\x81,2024-01-17,3\n")).report
    assert report.encoding == encoding
    assert report.warning_summary["encoding guessed"] == 1
    [warning] = [w for w in report.warnings if "encoding was guessed" in w.problem]
    assert "its 2 accented letter(s) (first on line 3, in 'Jürgen')" in warning.problem
    assert named in warning.problem


def test_ascii_utf8_and_symbol_only_cp1252_files_get_no_encoding_warning(ws, write_file):
    """Guard: plain ASCII, valid UTF-8 and a cp1252 file whose only non-ASCII characters
    are a euro sign and a dash (no letter to come out wrong) are not said."""
    body = "customer_id,transaction_date,amount\n"
    for name, data in (
        ("ascii.csv", (body + "C1,2024-01-15,1\n").encode("ascii")),
        ("utf8.csv", (body + "Jürgen,2024-01-15,1\n").encode("utf-8")),
        ("sym.csv", (body + "A – B,2024-01-15,€1\n").encode("cp1252")),
    ):
        report = load(ws, write_file(name, data)).report
        assert "encoding guessed" not in report.warning_summary, name


# --------------------------------------------------------------------------- subtotals


def test_subtotal_and_totals_warnings_name_the_labels_column(ws, write_file):
    """A subtotal row's warning gave its label ('C001 Total') as the value but no column,
    so the Data page's table showed it under no column; a totals row's word likewise."""
    text = (
        "Customer,Order Date,Order,Amount\n"
        "C001,2024-01-15,1,10.00\nC001,2024-01-16,2,20.00\nC001 Total,,,30.00\n"
        "C002,2024-01-16,3,5.00\nC002,2024-01-17,4,6.00\nC002 Total,,,7.00\n"
        ",,Grand Total,41.00\n"
    )
    report = load(ws, write_file("sub.csv", text)).report
    left, kept, grand = (next(w for w in report.warnings if w.row == row) for row in (3, 6, 7))
    assert "subtotal row ('C001 Total'" in left.problem
    assert (left.column, left.field, left.value) == ("Customer", "customer_id", "C001 Total")
    assert "not the sum" in kept.problem
    assert (kept.column, kept.field, kept.value) == ("Customer", "customer_id", "C002 Total")
    assert "totals row ('Grand Total')" in grand.problem
    assert (grand.column, grand.value) == ("Order", "Grand Total")
    assert "column 'Customer' (customer_id): looks like a subtotal row" in str(left)


def test_units_are_cut_from_column_names_at_their_end_only() -> None:
    """The unit of a column name ("Amount (EUR)") is found in its last characters only:
    the pattern with blanks around it tried every blank of an 8,000-space header cell
    from every start (4 s)."""
    from mart.loading import _without_unit

    assert _without_unit("Amount (EUR) ") == "Amount"
    assert _without_unit("Betrag [€]") == "Betrag"
    assert _without_unit("Total in USD") == "Total"
    assert _without_unit("Amount (in US dollars, incl. tax)") == "Amount"
    assert _without_unit("amount") == "amount" and _without_unit(" " * 8000) == ""
    assert _without_unit("x" + " " * 8000 + "(EUR)") == "x"

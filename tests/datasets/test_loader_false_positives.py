"""Legitimate files the loader's newer heuristics misread or refused: a cp1252 file with
CR line endings taken for Mac Roman, a nanosecond Parquet time-zone timestamp rounded
into the next day, and a decimal-mark question asked about a column whose own values
show the mark."""

from __future__ import annotations

import pytest

from tests.datasets.conftest import HEADER, load

# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("names", "category"),
    [
        (["Björk Svensson", "Göran Schröder"], "Öl"),  # ö read as ˆ (a modifier letter)
        (["Éric Dubois", "Élodie Roux"], "Électronique"),  # É at a word's start read as …
        (["JOSÉ", "ANDRÉ"], "CAFÉ"),  # É at a word's end read as …
    ],
    ids=["o-umlaut", "initial-capital", "all-capitals"],
)
def test_cp1252_names_with_cr_line_endings_are_not_read_as_mac_roman(
    ws, write_file, stored, names, category
):
    """Neither reading put a letter out of place, and the tie went to Mac Roman:
    Björk was stored as Bjˆrk, Éric as …ric, CAFÉ as CAF…, with a warning only."""
    rows = [HEADER.rstrip("\n")] + [
        f"T{i},{name},2024-01-1{i},10.00,{category}" for i, name in enumerate(names, 1)
    ]
    result = load(ws, write_file("win-cr.csv", "\r".join(rows) + "\r", encoding="cp1252"))
    assert result.report.encoding == "cp1252"
    assert [row["customer_id"] for row in stored("transactions")] == names
    assert stored("transactions")[0]["product_category"] == category
    # the cp1252 guess is said (as a guess), never as Mac Roman
    assert not any("Mac Roman" in w.problem for w in result.report.warnings)


def test_cp1252_euro_amounts_with_cr_line_endings_still_load(ws, write_file, stored):
    """€ (0x80) is Ä in Mac Roman: the load was refused for a text 'Ä' beside the number."""
    rows = [HEADER.rstrip("\n"), "T1,C1,2024-01-15,€10.50,A", "T2,C2,2024-01-16,€4.25,A"]
    result = load(ws, write_file("euro-cr.csv", "\r".join(rows) + "\r", encoding="cp1252"))
    assert result.report.encoding == "cp1252"
    assert [str(row["amount"]) for row in stored("transactions")] == ["10.50", "4.25"]


def test_mac_roman_words_that_tie_on_misplaced_letters_stay_mac_roman(ws, write_file, stored):
    """The other way round: Mac Roman's Zoë and Émile put nothing out of place in cp1252
    either (Zo‘, ƒmile): still read as Mac Roman."""
    rows = [HEADER.rstrip("\n"), "T1,Zoë,2024-01-15,10.00,A", "T2,Émile,2024-01-16,4.00,A"]
    result = load(ws, write_file("mac-cr.csv", "\r".join(rows) + "\r", encoding="mac_roman"))
    assert result.report.encoding == "mac_roman"
    assert [row["customer_id"] for row in stored("transactions")] == ["Zoë", "Émile"]


# --------------------------------------------------------------------------- Parquet


def test_parquet_nanosecond_zoned_times_are_cut_not_rounded_to_microseconds(ws, tmp_path, stored):
    """DuckDB's cast of TIMESTAMPTZ_NS rounds: 01:59:59.999999999 in Berlin on 1 July is
    23:59:59.999999999 UTC on 30 June, and was stored as 1 July; and 23:59:59.999999999
    on 30 June in New York (1 July in UTC) looked like 1 July there, so the date change
    got no warning. A naive or UTC nanosecond timestamp is cut (30 June), as these now are."""
    import pandas as pd

    moments = ["2024-07-01 01:59:59.999999999", "2024-01-15 10:00:00"]
    frame = pd.DataFrame(
        {
            "transaction_id": ["T1", "T2"],
            "customer_id": ["C1", "C2"],
            "transaction_date": pd.to_datetime(moments, format="ISO8601").tz_localize(
                "Europe/Berlin"
            ),
            "amount": [10.0, 20.0],
        }
    )
    berlin = tmp_path / "berlin.parquet"
    frame.to_parquet(berlin)
    load(ws, berlin)
    assert [row["transaction_date"] for row in stored("transactions")] == [
        "2024-06-30",
        "2024-01-15",
    ]
    frame["transaction_date"] = pd.to_datetime(
        ["2024-06-30 23:59:59.999999999", "2024-01-15 10:00:00"], format="ISO8601"
    ).tz_localize("America/New_York")
    new_york = tmp_path / "new-york.parquet"
    frame.to_parquet(new_york)
    report = load(ws, new_york).report
    assert stored("transactions")[0]["transaction_date"] == "2024-07-01"
    assert report.warning_summary == {"time zones converted": 1}
    [warning] = report.warnings
    assert warning.row == 1 and warning.value.startswith("2024-06-30 23:59:59.999999 ")


# --------------------------------------------------------------------------- decimal mark


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        # 1249.750 and 3.4999 can only have a decimal point: no thousands group has four
        # digits before or after its separator
        (["1.249", "1249.750", "12.500"], ["1.25", "1249.75", "12.50"]),
        (["1.249", "3.4999"], ["1.25", "3.50"]),
        # 1.249.000 can only have points between thousands: 1.249 is then 1249
        (["1.249", "1.249.000"], ["1249.00", "1249000.00"]),
    ],
    ids=["four-digits-before", "four-decimals", "two-thousands-points"],
)
def test_a_column_that_shows_its_decimal_mark_is_not_asked_about(
    ws, write_file, stored, amounts, expected
):
    """In a semicolon file, amounts with three digits after a point were asked about
    (refused) although another amount of the column shows what the point is."""
    rows = ["transaction_id;customer_id;transaction_date;amount"] + [
        f"T{i};C{i};2024-01-1{i};{amount}" for i, amount in enumerate(amounts, 1)
    ]
    report = load(ws, write_file("settled.csv", "\n".join(rows) + "\n")).report
    assert [str(row["amount"]) for row in stored("transactions")] == expected
    assert "point or thousands?" not in report.warning_summary


def test_a_comma_file_with_two_thousands_points_reads_whole_euros_alike(ws, write_file, stored):
    """Without any sign of a decimal-comma file, 1.249 was read as 1.25 (a warning) beside
    1.249.000 read as 1249000.00: one column, two decimal marks."""
    text = HEADER + "T1,C1,2024-01-15,1.249,A\nT2,C2,2024-01-16,1.249.000,A\n"
    report = load(ws, write_file("points.csv", text)).report
    assert [str(row["amount"]) for row in stored("transactions")] == ["1249.00", "1249000.00"]
    assert "point or thousands?" not in report.warning_summary


# --------------------------------------------------------------------------- ids


def test_a_transaction_id_with_a_gap_is_not_replaced_by_a_row_number(ws, write_file, stored):
    """One empty transaction_id of four made the row number "id" (one more value, one
    more distinct) the transaction id: T1, T2, T4 were stored as 1, 2, 4. Only a mostly
    empty id column (Stripe's Invoice ID) gives way to a fuller one."""
    text = (
        "id,transaction_id,customer_id,transaction_date,amount\n"
        "1,T1,C1,2024-01-15,10.00\n2,T2,C1,2024-01-15,10.00\n"
        "3,,C2,2024-01-15,10.00\n4,T4,C2,2024-01-15,10.00\n"
    )
    report = load(ws, write_file("gap.csv", text)).report
    assert report.mapping["transaction_id"] == "transaction_id"
    assert "fuller id column used" not in report.warning_summary
    assert [row["transaction_id"] for row in stored("transactions")] == ["T1", "T2", None, "T4"]

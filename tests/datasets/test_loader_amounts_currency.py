"""Amounts, currencies and rows the loader must not read as sales silently: a currency
column, payment statuses, spreadsheet subtotal rows, whole euros with a thousands
point, float32 Parquet amounts, currency codes and signs, and the id columns the
mapping suggests."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest

from mart.loading import refusal_advice, suggest_mapping
from mart.workspace import PROJECT_ROOT
from tests.datasets.conftest import HEADER, load, refused


def _amounts(stored) -> list[str]:
    return [str(row["amount"]) for row in stored("transactions")]


def test_a_currency_column_with_several_currencies_is_warned_about(ws, write_file):
    """eur 100.00, usd 100.00, jpy 15000 (Stripe's separate Currency column) loaded as
    15200.00 with "no problems found"."""
    text = (
        "id,Created (UTC),Amount,Currency,Converted Amount,Converted Currency,Customer ID\n"
        "ch_1,2024-01-15 10:00:00,100.00,eur,100.00,eur,cus_1\n"
        "ch_2,2024-01-16 10:00:00,100.00,usd,91.80,eur,cus_2\n"
        "ch_3,2024-01-17 10:00:00,15000,jpy,93.75,eur,cus_3\n"
        "ch_4,2024-01-18 10:00:00,5.00,usd,4.59,eur,cus_3\n"
    )
    report = load(ws, write_file("s.csv", text)).report
    [warning] = [w for w in report.warnings if "more than one currency" in w.problem]
    assert "column 'Currency' says" in warning.problem
    assert "EUR (1 row(s), first at row 1)" in warning.problem
    assert "USD (2 row(s), first at row 2)" in warning.problem
    assert "JPY (1 row(s), first at row 3)" in warning.problem
    assert report.warning_summary["mixed currencies"] == 1
    # the converted amount goes with the converted currency: one currency, nothing said
    converted = load(ws, write_file("s.csv", text), mapping={"amount": "Converted Amount"})
    assert "mixed currencies" not in converted.report.warning_summary


@pytest.mark.parametrize("name", ["order_currency", "Währung", "Devise", "currency_code"])
def test_currency_columns_are_known_by_their_names_in_several_languages(ws, write_file, name):
    text = f"customer_id,date,amount,{name}\nC1,2024-01-15,10.00,EUR\nC2,2024-01-15,5.00,\n"
    assert "mixed currencies" not in load(ws, write_file("a.csv", text)).report.warning_summary
    text += "C3,2024-01-16,7.00,GBP\n"
    report = load(ws, write_file("b.csv", text)).report
    assert report.warning_summary["mixed currencies"] == 1


def test_failed_refunded_or_uncaptured_payments_are_said(ws, write_file, stored):
    text = (
        "id,Created (UTC),Amount,Captured,Status,Customer ID\n"
        "ch_1,2024-01-15,10.00,true,Paid,c1\n"
        "ch_2,2024-01-16,20.00,true,Partially refunded,c2\n"
        "ch_3,2024-01-17,30.00,false,Failed,c3\n"
    )
    report = load(ws, write_file("s.csv", text)).report
    assert _amounts(stored) == ["10.00", "20.00", "30.00"]  # said, not decided
    [warning] = [w for w in report.warnings if "failed, were refunded" in w.problem]
    assert "Status 'Failed'" in warning.problem and "Captured 'false'" in warning.problem
    assert report.warning_summary["failed or refunded payments?"] == 2  # row 3 once
    # about the whole file, in the column that says it (it was placed on one row)
    [said] = [w for w in report.warnings if "failed, were refunded" in w.problem]
    assert said.row is None and said.column is not None
    plain = "customer_id,date,amount,status\nC1,2024-01-15,1.00,completed\n"
    assert (
        "failed or refunded payments?"
        not in load(ws, write_file("p.csv", plain)).report.warning_summary
    )


@pytest.mark.parametrize(
    ("header", "rows", "grand"),
    [
        (
            "Customer,Order Date,Order ID,Amount",
            [
                "C001,2024-01-15,1001,100.00",
                "C001,2024-01-20,1002,50.00",
                "C001 Total,,,150.00",
                "C002,2024-01-16,1003,200.00",
                "C002 Total,,,200.00",
                "C003,2024-02-01,1004,25.50",
                "C003,2024-02-02,1005,4.50",
                "C003 Total,,,30.00",
            ],
            "Grand Total,,,380.00",
        ),
        (
            "Kundennummer;Datum;Bestellnummer;Betrag",
            [
                "C001;15.01.2024;1001;100,00",
                "C001;20.01.2024;1002;50,00",
                "C001 Ergebnis;;;150,00",
                "C002;16.01.2024;1003;200,00",
                "C002 Ergebnis;;;200,00",
                "C003;01.02.2024;1004;25,50",
                "C003;02.02.2024;1005;4,50",
                "C003 Ergebnis;;;30,00",
            ],
            "Gesamtergebnis;;;380,00",
        ),
        (
            "Client;Date;Commande;Montant",
            [
                "C001;2024-01-15;1001;100,00",
                "C001;2024-01-20;1002;50,00",
                "Total C001;;;150,00",
                "C002;2024-01-16;1003;200,00",
                "Total C002;;;200,00",
                "C003;2024-02-01;1004;25,50",
                "C003;2024-02-02;1005;4,50",
                "Total C003;;;30,00",
            ],
            "Total général;;;380,00",
        ),
    ],
)
def test_spreadsheet_subtotal_rows_are_left_out(ws, write_file, stored, header, rows, grand):
    """Excel's Data > Subtotal rows loaded as customers "C001 Total": 760.00 and 6
    customers instead of 380.00 and 3."""
    text = "\n".join([header, *rows, grand]) + "\n"
    result = load(ws, write_file("x.csv", text))
    records = stored("transactions")
    assert sum(Decimal(str(r["amount"])) for r in records) == Decimal("380.00")
    assert sorted({r["customer_id"] for r in records}) == ["C001", "C002", "C003"]
    assert result.report.warning_summary["totals rows left out"] == 4
    subtotal = [w for w in result.report.warnings if "subtotal row" in w.problem]
    assert [w.row for w in subtotal] == [3, 5, 8]
    assert "4 totals row(s) left out" in result.version.message


def test_a_subtotal_like_customer_whose_amount_is_not_the_sum_is_kept(ws, write_file, stored):
    """A customer "Total Wine" after other customers' rows is a customer; a label whose
    amount is not its group's sum (a count or an average subtotal) is kept, and said."""
    text = (
        "customer_id,date,order_id,amount\n"
        "C1,2024-01-15,1,10.00\n"
        "Total Wine,2024-01-16,2,10.00\n"
        "C2,2024-01-16,3,4.00\n"
        "C2,2024-01-16,4,6.00\n"
        "C2 Total,,,2\n"
    )
    report = load(ws, write_file("w.csv", text)).report
    assert [r["customer_id"] for r in stored("transactions")] == [
        "C1",
        "Total Wine",
        "C2",
        "C2",
        "C2 Total",
    ]
    assert "totals rows left out" not in report.warning_summary
    [kept] = [w for w in report.warnings if "not the sum" in w.problem]
    assert (kept.row, kept.value) == (5, "C2 Total")


GERMAN_WHOLE_EUROS = (
    "Kundennummer;Datum;Betrag\nK1;15.01.2024;1.249\nK2;16.01.2024;15\n"
    "K3;17.01.2024;2.500\nK1;18.01.2024;300\n"
)


def test_whole_euros_with_a_thousands_point_in_a_german_file_are_asked_about(
    ws, write_file, stored
):
    """1.249 and 2.500 in a semicolon file with 15.01.2024 dates were read as 1.25 and
    2.50 (318.75 instead of 4064.00) with a warning only."""
    path = write_file("de.csv", GERMAN_WHOLE_EUROS)
    error = refused(ws, path)
    [problem] = error.report.errors
    assert (problem.row, problem.field, problem.value) == (1, "amount", "1.249")
    assert "decimal mark or a thousands separator" in problem.problem
    assert "--decimal-mark comma" in problem.problem and "Decimal mark" in problem.problem
    assert "semicolons" in problem.problem and "'15.01.2024'" in problem.problem
    assert "the decimal mark" in refusal_advice(error.report)
    saved = load(ws, path, decimal_mark="comma").version
    assert _amounts(stored) == ["1249.00", "15.00", "2500.00", "300.00"]
    # the answer stays in the history: the version's message says it
    assert saved.message == "Replace from de.csv (4 rows, decimal comma)"
    load(ws, path, decimal_mark="point")
    assert _amounts(stored) == ["1.25", "15.00", "2.50", "300.00"]


def test_three_decimals_without_a_european_sign_still_load_with_a_warning(ws, write_file, stored):
    text = "customer_id,date,amount\nC1,2024-01-01,1.000\nC1,2024-01-02,2.500\n"
    report = load(ws, write_file("a.csv", text)).report
    assert _amounts(stored) == ["1.00", "2.50"]
    assert report.warning_summary["point or thousands?"] == 2


def test_a_given_decimal_mark_reads_every_amount_that_way(ws, write_file, stored):
    point = 'customer_id,date,amount\nC1,2024-01-01,"1,234.50"\nC1,2024-01-02,"12,50"\n'
    [problem] = refused(ws, write_file("p.csv", point), decimal_mark="point").report.errors
    assert problem.value == "12,50" and "decimal mark given is the point" in problem.problem
    text = 'customer_id,date,amount\nC1,2024-01-01,"1.234,50"\nC1,2024-01-02,"12,5"\n'
    # With the comma given, a point groups thousands only: 12.50 was read as 12.50.
    mixed = text + "C1,2024-01-03,12.50\n"
    [problem] = refused(ws, write_file("m.csv", mixed), decimal_mark="comma").report.errors
    assert problem.value == "12.50" and "decimal mark given is the comma" in problem.problem
    load(ws, write_file("c.csv", text), decimal_mark="comma")
    assert _amounts(stored) == ["1234.50", "12.50"]


def test_the_cli_takes_a_decimal_mark(workspace, tmp_path):
    path = tmp_path / "de.csv"
    path.write_text(GERMAN_WHOLE_EUROS, encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MART_WORKSPACE": str(workspace)}
        command = [sys.executable, "-m", "mart", "load", "transactions", str(path), *args]
        return subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    asked = run()
    assert asked.returncode == 1 and "--decimal-mark comma" in asked.stderr
    assert "Traceback" not in asked.stderr
    loaded = run("--decimal-mark", "comma")
    assert loaded.returncode == 0 and "new HEAD" in loaded.stdout


def test_large_float32_parquet_amounts_are_said_to_be_inexact(ws, tmp_path, stored):
    """1234567.89 as float32 is 1234567.875 and loaded as 1234567.90 with "no problems
    found"; below 2**17 a float32 still tells cents apart."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "f32.parquet"
    amounts = [129.90, 98765.43, 131071.99, 1234567.89]
    pq.write_table(
        pa.table(
            {
                "customer_id": ["C1", "C2", "C3", "C4"],
                "transaction_date": ["2024-01-15"] * 4,
                "amount": pa.array(amounts, pa.float32()),
            }
        ),
        path,
    )
    report = load(ws, path).report
    assert report.warning_summary == {"inexact amounts": 1}
    [warning] = report.warnings
    assert warning.row == 4 and "32-bit" in warning.problem
    assert _amounts(stored)[:3] == ["129.90", "98765.43", "131071.99"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CHF 1249.50", "1249.50"),
        ("1249.50 CHF", "1249.50"),
        ("SEK 49,00", "49.00"),
        ("49,00 kr", "49.00"),
        ("R$ 1.249,00", "1249.00"),
        ("1 249,00 zł", "1249.00"),
        ("₹1,24,900.00", "124900.00"),
        ("1’249.50", "1249.50"),
        ("-USD 49.00", "-49.00"),
        ("(USD 5.00)", "-5.00"),
        ("KRW 1000", "1000.00"),
    ],
)
def test_more_currency_codes_and_signs_are_read(ws, write_file, stored, text, expected):
    load(ws, write_file("a.csv", HEADER + f'T1,C1,2024-01-15,"{text}",A\n'))
    assert _amounts(stored) == [expected]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("15.50 CR", "the mark 'CR' (credit or debit) is not read"),
        ("12 PCS", "the text 'PCS' beside the number is not a currency"),
        ("100 EURO", "the text 'EURO'"),
    ],
)
def test_unread_amount_text_is_named_in_the_refusal(ws, write_file, text, said):
    [problem] = refused(
        ws, write_file("a.csv", HEADER + f"T1,C1,2024-01-15,{text},A\n")
    ).report.errors
    assert said in problem.problem and problem.value == text


def test_currencies_named_by_new_codes_count_as_mixed(ws, write_file):
    text = HEADER + "T1,C1,2024-01-15,CHF 10.00,A\nT2,C1,2024-01-15,R$ 5,A\n"
    report = load(ws, write_file("m.csv", text)).report
    [warning] = [w for w in report.warnings if "more than one currency" in w.problem]
    assert "CHF (1 value(s)" in warning.problem and "BRL (1 value(s)" in warning.problem


def test_a_fuller_id_column_is_preferred_to_a_mostly_empty_one(ws, write_file, stored):
    """Stripe's Invoice ID (3 of 4 empty) was chosen over its complete id."""
    text = (
        "id,Created,Amount,Customer ID,Invoice ID\n"
        "ch_1,2024-01-15,1.00,c1,\nch_2,2024-01-15,2.00,c2,in_1\n"
        "ch_3,2024-01-15,3.00,c1,\nch_4,2024-01-15,4.00,c3,\n"
    )
    report = load(ws, write_file("s.csv", text)).report
    assert report.mapping["transaction_id"] == "id"
    assert [r["transaction_id"] for r in stored("transactions")] == ["ch_1", "ch_2", "ch_3", "ch_4"]
    assert report.warning_summary["fuller id column used"] == 1
    # the names alone still say Invoice ID; a mapping by hand is kept
    assert suggest_mapping("transactions", ["id", "Invoice ID"])["transaction_id"] == "Invoice ID"
    by_hand = load(ws, write_file("s.csv", text), mapping={"transaction_id": "Invoice ID"})
    assert "fuller id column used" not in by_hand.report.warning_summary
    # a complete transaction_id beside a repeated order_id keeps its name's place
    lines = (
        "transaction_id,order_id,customer_id,date,amount\n"
        "T1,O1,C1,2024-01-15,1\nT2,O1,C1,2024-01-15,2\n"
    )
    assert load(ws, write_file("l.csv", lines)).report.mapping["transaction_id"] == "transaction_id"


def test_a_placeholder_customer_on_many_rows_is_said(ws, write_file):
    """WooCommerce guest orders all have customer_id 0: one customer in the mart."""
    text = (
        "order_id,order_date,order_total,customer_id,customer_email\n"
        "1,2024-01-15,1.00,12,a@x\n2,2024-01-15,2.00,0,b@x\n3,2024-01-15,3.00,0,c@x\n"
    )
    report = load(ws, write_file("w.csv", text)).report
    [warning] = [w for w in report.warnings if "guest checkout" in w.problem]
    assert (warning.row, warning.value) == (2, "0") and "'customer_email'" in warning.problem
    assert report.warning_summary["placeholder customer id"] == 2


GERMAN_SUBTOTALS_WHOLE_EUROS = (
    "Bestellnummer;Kundennummer;Datum;Betrag\n"
    "1;K1;15.01.2024;1.249\n2;K1;16.01.2024;89\n;K1 Ergebnis;;1.338\n"
    "3;K2;17.01.2024;2.500\n;K2 Ergebnis;;2.500\n;Gesamtergebnis;;3.838\n"
)


def test_subtotals_wait_for_the_decimal_mark(ws, write_file, stored):
    """Before the decimal mark was given, 1.338 was read as 1.34, no subtotal matched its
    group's sum, and the report advised deleting the subtotal rows for nothing."""
    path = write_file("de.csv", GERMAN_SUBTOTALS_WHOLE_EUROS)
    error = refused(ws, path)
    assert error.report.asks_decimal_mark
    assert "subtotal rows kept?" not in error.report.warning_summary
    assert not [w for w in error.report.warnings if "subtotal" in w.problem]
    result = load(ws, path, decimal_mark="comma")
    assert not result.report.asks_decimal_mark
    assert _amounts(stored) == ["1249.00", "89.00", "2500.00"]
    assert result.report.warning_summary["totals rows left out"] == 3


def test_money_warnings_are_named_for_the_page(ws, write_file):
    text = (
        "id,Created,Amount,Currency,Status,Customer ID\n"
        "ch_1,2024-01-15,100.00,eur,Paid,cus_1\nch_2,2024-01-16,100.00,usd,Pending,cus_2\n"
        "ch_3,2024-01-17,15.00,usd,Authorized,cus_3\n"
    )
    report = load(ws, write_file("s.csv", text)).report
    assert report.money_warnings == ["mixed currencies", "failed or refunded payments?"]
    [status] = [w for w in report.warnings if "not (all) paid yet" in w.problem]
    assert "'Pending' (1 row(s)" in status.problem and "'Authorized'" in status.problem
    clean = load(ws, write_file("c.csv", HEADER + "T1,C1,2024-01-15,1.00,A\n")).report
    assert clean.money_warnings == [] and not clean.asks_decimal_mark


def test_portuguese_and_spanish_amount_names_are_suggested():
    brazil = suggest_mapping("transactions", ["id", "cliente", "data", "valor"])
    assert (brazil["amount"], brazil["transaction_date"]) == ("valor", "data")
    # a file with both keeps "date" for the date
    assert suggest_mapping("transactions", ["data", "date"])["transaction_date"] == "date"
    assert suggest_mapping("transactions", ["monto"])["amount"] == "monto"
    assert (
        suggest_mapping("transactions", ["Lineitem category"])["product_category"]
        == "Lineitem category"
    )


def test_one_currency_other_than_the_dollar_is_said_once(ws, write_file):
    """CHF 1249.50 read cleanly ("no problems found") and the app showed $1,249.50."""
    named = load(ws, write_file("a.csv", HEADER + "T1,C1,2024-01-15,CHF 1249.50,A\n")).report
    [note] = [w for w in named.warnings if "the app writes money with $" in w.problem]
    assert "in CHF (the amounts name it)" in note.problem
    assert named.warning_summary["one currency, not USD"] == 1
    column = "id,customer,date,amount,Currency\n1,C1,2024-01-15,12.50,eur\n2,C1,2024-01-16,1,eur\n"
    said = load(ws, write_file("b.csv", column)).report
    assert any("in EUR (column 'Currency' says)" in w.problem for w in said.warnings)
    for dollars in (HEADER + "T1,C1,2024-01-15,$12.50,A\n", column.replace("eur", "usd")):
        report = load(ws, write_file("c.csv", dollars)).report
        assert "one currency, not USD" not in report.warning_summary


def test_amounts_in_cents_are_warned(ws, write_file, stored):
    """Stripe's API objects keep amounts in cents: 1250 was loaded as 1,250.00 (not
    12.50) with no word, and a customer turned High Value. So was a column named
    amount_cents, mapped by hand."""
    stripe = (
        '{"id": "ch_1", "object": "charge", "amount": 1250, "amount_captured": 1250, '
        '"currency": "usd", "customer": "cus_A", "created": 1705312800}\n'
        '{"id": "ch_2", "object": "charge", "amount": 99999, "amount_captured": 99999, '
        '"currency": "usd", "customer": "cus_B", "created": 1705399200}\n'
    )
    result = load(ws, write_file("charges.jsonl", stripe), date_format="unix")
    [said] = [w for w in result.report.warnings if "cents" in w.problem]
    assert "Stripe charge objects (column 'object')" in said.problem
    assert "all 2 are whole numbers" in said.problem and said.row == 1
    assert [str(row["amount"]) for row in stored("transactions")] == ["1250.00", "99999.00"]
    cents = "order_id,customer_id,date,amount_cents\nO1,C1,2024-01-05,1250\nO2,C1,2024-01-06,99\n"
    result = load(ws, write_file("cents.csv", cents), mapping={"amount": "amount_cents"})
    assert result.report.warning_summary["amounts in cents"] == 1
    # dollars with cents, even in a charge: not said
    dollars = stripe.replace("1250,", "12.50,").replace('"amount": 99999', '"amount": 999.99')
    result = load(ws, write_file("dollars.jsonl", dollars), date_format="unix")
    assert "amounts in cents" not in result.report.warning_summary
    plain = "order_id,customer_id,date,amount\nO1,C1,2024-01-05,1250\n"
    assert "amounts in cents" not in load(ws, write_file("p.csv", plain)).report.warning_summary
    # the unit in the name's parentheses; not a percent; not Stripe's whole yen
    unit = cents.replace("amount_cents", "Amount (cents)")
    result = load(ws, write_file("unit.csv", unit), mapping={"amount": "Amount (cents)"})
    assert result.report.warning_summary["amounts in cents"] == 1
    percent = cents.replace("amount_cents", "amount_percent")
    result = load(ws, write_file("pc.csv", percent), mapping={"amount": "amount_percent"})
    assert "amounts in cents" not in result.report.warning_summary
    yen = stripe.replace('"usd"', '"jpy"')
    result = load(ws, write_file("yen.jsonl", yen), date_format="unix")
    assert "amounts in cents" not in result.report.warning_summary


@pytest.mark.parametrize(
    "label", ["Total revenue", "Total Sales:", "TOTAL (USD)", "Gesamtsumme", "Totaux"]
)
def test_totals_rows_with_longer_labels_are_left_out(ws, write_file, stored, label):
    """A totals row labelled "Total revenue" (or "TOTAL (USD)", "Gesamtsumme" …) was
    loaded as a record: in the customer's cell (with no date), or in another cell beside
    an empty customer. A customer named "Total Wine", buying on a day, is a customer."""
    body = (
        "transaction_id,customer_id,transaction_date,amount,product_category\n"
        "T1,C1,2024-01-05,10.00,A\n"
        "T2,Total Wine,2024-01-05,20.00,B\n"
        f",{label},,30.00,\n"
        f",,,30.00,{label}\n"
    )
    result = load(ws, write_file("totals.csv", body))
    assert [row["customer_id"] for row in stored("transactions")] == ["C1", "Total Wine"]
    assert result.report.warning_summary["totals rows left out"] == 2
    # a product named so, in a row with an id and a date, is a record
    product = body.replace(f",,,30.00,{label}", f"T9,,2024-01-06,25.00,{label} Gym")
    load(ws, write_file("product.csv", product))
    assert len(stored("transactions")) == 3


def test_shopify_line_item_rows_are_left_out(ws, write_file, stored):
    """Shopify writes an order's second line item as a row of its own, with the order's
    Name but no Id or Total: it was loaded as a transaction with neither (the build
    failed, and published anyway, 3 transactions for 2 orders)."""
    body = (
        "Name,Email,Financial Status,Total,Created at,Lineitem quantity,Lineitem name,Id\n"
        "#1001,a@x.com,paid,1559.26,2024-01-05 10:00:00 +0000,1,Laptop,5001\n"
        "#1001,a@x.com,,,2024-01-05 10:00:00 +0000,1,Mouse,\n"
        "#1001,a@x.com,,,2024-01-05 10:00:00 +0000,1,Bag,\n"
        "#1002,b@x.com,paid,20.00,2024-01-06 10:00:00 +0000,2,Cable,5002\n"
    )
    result = load(ws, write_file("orders_export.csv", body))
    rows = stored("transactions")
    assert [(row["transaction_id"], str(row["amount"])) for row in rows] == [
        ("5001", "1559.26"),
        ("5002", "20.00"),
    ]
    [said] = [w for w in result.report.warnings if "line items" in w.problem]
    assert "rows 2, 3; the first of order '#1001' in column 'Name'" in said.problem
    assert "2 line item row(s) left out" in result.version.message
    # a row with a transaction id of its own is an order of its own, even without an
    # amount and with a name (here a customer's) an earlier row has
    named = (
        "Order ID,Customer ID,Name,Date,Total,Lineitem name\n"
        "O1,C1,Ann Lee,2024-01-05,30.00,Mug\nO3,C1,Ann Lee,2024-02-10,,Tea\n"
    )
    load(ws, write_file("named.csv", named))
    assert [row["transaction_id"] for row in stored("transactions")] == ["O1", "O3"]
    # without line item columns, a row without an amount is kept (and said empty)
    plain = body.replace("Lineitem quantity,Lineitem name", "Qty,Product")
    result = load(ws, write_file("plain.csv", plain))
    assert len(stored("transactions")) == 4
    assert "line item rows left out" not in result.report.warning_summary

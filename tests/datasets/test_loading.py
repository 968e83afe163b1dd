"""Reading messy files: formats, encodings, mapping, values and the validation report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from mart import datasets, loading
from mart.errors import InputError
from mart.loading import (
    MAX_PROBLEMS,
    preview_file,
    strptime_format,
    suggest_mapping,
    validate_file,
)
from tests.datasets.conftest import HEADER, load, refused

# --------------------------------------------------------------------------- CSV


def test_plain_csv_is_stored_exactly(ws, write_file, stored, stored_text):
    path = write_file(
        "t.csv", HEADER + "00042,C001,2024-03-01,150.00,Audio\nT2,C2,2024-03-02,7.5,\n"
    )
    result = load(ws, path)
    assert result.version.row_count == 2
    assert result.report.ok
    rows = stored("transactions")
    assert rows[0] == {
        "transaction_id": "00042",
        "customer_id": "C001",
        "transaction_date": "2024-03-01",
        "amount": Decimal("150.00"),
        "product_category": "Audio",
    }
    assert str(rows[1]["amount"]) == "7.50"
    assert rows[1]["product_category"] is None  # mapped but empty: kept null, warned
    assert '"amount":150.00' in stored_text("transactions")[0]
    assert result.report.warning_summary == {"empty optional values": 1}  # staging: Unknown


@pytest.mark.parametrize("newline", ["\r", "\n", "\r\n"], ids=["cr-only", "lf", "crlf"])
def test_line_endings_and_blank_lines_before_the_header(ws, tmp_path, stored, newline):
    """Old Mac files end lines with CR alone; exports sometimes start with blank lines."""
    lines = ["", "  ", HEADER.strip(), "R1,C1,2024-01-31,5,Books", "R2,C2,2024-02-01,6,Audio"]
    path = tmp_path / "t.csv"
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    load(ws, path)
    assert [(r["transaction_id"], r["amount"]) for r in stored("transactions")] == [
        ("R1", Decimal("5.00")),
        ("R2", Decimal("6.00")),
    ]


def test_a_bad_row_after_blank_lines_is_named_by_its_file_line(ws, write_file):
    text = "\n\n" + HEADER + "R1,C1,2024-01-31,5,Books\nR2,C1,2024-01-31,5,Books,extra\n"
    [problem] = refused(ws, write_file("t.csv", text)).report.errors
    assert problem.line == 5 and problem.value.startswith("R2")


def test_bom_crlf_semicolons_quotes_and_european_amounts(ws, write_file, stored):
    text = (
        "\ufeffCustomer ID;Order Date;Total ($);Note\r\n"
        '00042;2024-01-15;"1.234,56";"a;b, c"\r\n'
        'C2;2024/01/16;€5;"say ""hi"""\r\n'
    )
    result = load(ws, write_file("eu.csv", text))
    assert result.report.delimiter == ";"
    assert result.report.encoding == "utf-8-sig"
    rows = stored("transactions")
    assert [r["customer_id"] for r in rows] == ["00042", "C2"]
    assert [str(r["amount"]) for r in rows] == ["1234.56", "5.00"]
    assert [r["transaction_date"] for r in rows] == ["2024-01-15", "2024-01-16"]
    assert rows[0]["Note"] == "a;b, c"
    assert rows[1]["Note"] == 'say "hi"'
    assert all(r["product_category"] == "Unknown" for r in rows)


def test_tab_separated_with_quoted_commas(ws, write_file, stored):
    text = 'cust_id\tdate\tprice\tcategory\n"C,1"\t2024-02-01\t"1,234.50"\tGaming\n'
    load(ws, write_file("t.tsv", text))
    (row,) = stored("transactions")
    assert row["customer_id"] == "C,1"
    assert str(row["amount"]) == "1234.50"
    assert row["product_category"] == "Gaming"


def test_pipe_delimited(ws, write_file, stored):
    load(ws, write_file("p.txt", "client_id|order_date|revenue\nK9|2024-05-05|10\n"))
    assert stored("transactions")[0]["customer_id"] == "K9"


@pytest.mark.parametrize(
    ("encoding", "expected_encoding"),
    [("latin-1", "cp1252"), ("cp1252", "cp1252"), ("utf-16", "utf-16")],
)
def test_non_utf8_encodings(ws, write_file, stored, encoding, expected_encoding):
    note = "Zürich café" + (" €" if encoding != "latin-1" else "")
    text = f"CustomerID,InvoiceDate,Sales,Note\nJosé,2024-01-01,3.00,{note}\n"
    result = load(ws, write_file("enc.csv", text, encoding=encoding))
    assert result.report.encoding == expected_encoding
    (row,) = stored("transactions")
    assert row["customer_id"] == "José"
    assert row["Note"] == note


def test_latin1_bytes_that_are_not_cp1252(ws, write_file, stored):
    # 0x81 is undefined in cp1252, so the file is latin-1 (or code page 850, whose
    # reading here puts a ³ inside M³ller: not taken).
    data = b"customer_id,date,amount,Note\nM\xfcller,2024-01-01,1,x\x81y\n"
    result = load(ws, write_file("l1.csv", data))
    assert result.report.encoding == "latin-1"
    assert stored("transactions")[0]["customer_id"] == "Müller"


def test_unicode_values_survive(ws, write_file, stored):
    load(
        ws,
        write_file(
            "u.csv", "customer_id,date,amount,category\n北京-Zoë 🎧,2024-01-01,9.99,Äudio\n"
        ),
    )
    (row,) = stored("transactions")
    assert row["customer_id"] == "北京-Zoë 🎧"
    assert row["product_category"] == "Äudio"


def test_leading_zeros_stay_strings_everywhere(ws, write_file, stored):
    load(ws, write_file("z.csv", HEADER + "007,00042,2024-01-01,1.00,0001\n"))
    (row,) = stored("transactions")
    assert (row["transaction_id"], row["customer_id"], row["product_category"]) == (
        "007",
        "00042",
        "0001",
    )


def test_five_megabyte_line_is_kept(ws, write_file, stored):
    big = "x" * (5 * 1024 * 1024)
    path = write_file(
        "big.csv", f"customer_id,date,amount,blob\nC1,2024-01-01,1,{big}\nC2,2024-01-02,2,s\n"
    )
    result = load(ws, path)
    assert result.version.row_count == 2
    rows = stored("transactions")
    assert len(rows[0]["blob"]) == len(big)
    assert rows[1]["customer_id"] == "C2"


def test_a_field_longer_than_pythons_csv_limit_is_kept(ws, write_file, stored):
    """200,000 characters in one field, inside the sniffed first megabyte: Python's csv
    module refuses fields above 128 KiB, which made the file look header-less."""
    long = "x" * 200_000  # in an extra column: an id or category is at most 500
    path = write_file(
        "long.csv",
        "transaction_id,customer_id,transaction_date,amount,product_category,note\n"
        f"T1,C1,2024-01-15,10.00,Books,{long}\nT2,C2,2024-01-16,2.50,Audio,\n",
    )
    result = load(ws, path)
    assert result.version.row_count == 2
    rows = stored("transactions")
    assert rows[0]["note"] == long and rows[1]["amount"] == Decimal("2.50")


def test_unknown_columns_are_kept_and_clashing_names_prefixed(ws, write_file, stored):
    text = (
        "Customer ID,Order Date,Total,amount,record_number,Colour\nC1,2024-01-01,5.00,junk,77,red\n"
    )
    assert suggest_mapping("transactions", text.splitlines()[0].split(","))["amount"] == "amount"
    result = load(ws, write_file("x.csv", text), mapping={"amount": "Total"})
    (row,) = stored("transactions")
    assert row["amount"] == Decimal("5.00")
    assert row["source_amount"] == "junk"
    assert row["source_record_number"] == "77"
    assert row["Colour"] == "red"
    assert result.report.extra_columns == [
        "amount (as source_amount)",
        "record_number (as source_record_number)",
        "Colour",
    ]


def test_ragged_row_is_refused_with_its_line(ws, write_file):
    path = write_file("r.csv", HEADER + "T1,C1,2024-01-01,1,A\nT2,C2,2024-01-02,2,A,extra\nT3,C3\n")
    error = refused(ws, path)
    lines = [p.line for p in error.report.errors]
    assert lines == [3, 4]
    # in plain words, with the fields counted (DuckDB said "Expected Number of
    # Columns: 5 Found: 5" for the six-field line, and named a column for the short one)
    too_many, too_few = error.report.errors
    assert too_many.problem.startswith("this line has 6 field(s) where the header has 5")
    assert "without quotes" in too_many.problem and too_many.column is None
    assert too_few.problem.startswith("this line has 2 field(s) where the header has 5")
    assert "cut short" in too_few.problem and too_few.column is None


def test_a_title_above_the_header_is_named_as_such(ws, write_file):
    path = write_file(
        "t.csv",
        "Sales report Q1\nExported: 2024-04-01\n\n"
        "Customer ID,Date,Amount,Category\nC1,2024-01-01,10,A\nC2,2024-01-02,12,B\n",
    )
    [problem] = refused(ws, path).report.errors
    assert "'Sales report Q1', was read as the header" in problem.problem
    assert "delete those lines" in problem.problem
    assert problem.value == "Customer ID,Date,Amount,Category"
    assert problem.problem.startswith("the first line, 'Sales report Q1'")
    # a title under a ruler of # (skipped as a report's notes) or under blank lines is
    # named by its own line, not as "the first line"
    for name, above, line in (("ruler.csv", "#########\n", 2), ("blank.csv", "\n\n", 3)):
        text = above + "Sales report Q1\nCustomer ID,Date,Amount,Category\nC1,2024-01-01,10,A\n"
        [problem] = refused(ws, write_file(name, text)).report.errors
        assert problem.problem.startswith(f"line {line}, 'Sales report Q1', was read as"), (
            problem.problem
        )


def test_values_in_an_unnamed_last_column_refuse_the_load(ws, write_file):
    """A header ending in a comma and unquoted thousands separators: "1,234.56" put 1 in
    the amount and 234.56 in the category, and the load said "no problems found"."""
    before = datasets.head(ws, "transactions").id
    path = write_file(
        "shift.csv",
        HEADER.rstrip("\n") + ",\nT1,C1,2024-01-15,1,234.56,A\nT2,C2,2024-01-15,7.50,Audio,\n",
    )
    error = refused(ws, path)
    assert [(p.row, p.value) for p in error.report.errors] == [(1, "A")]
    assert "moved one to the right" in str(error) and "1,234.56" in str(error)
    assert datasets.head(ws, "transactions").id == before  # nothing changed


def test_an_empty_unnamed_last_column_or_an_unnamed_first_column_still_loads(
    ws, write_file, stored
):
    trailing = write_file(
        "trailing.csv",
        HEADER.rstrip("\n") + ",\nT1,C1,2024-01-15,12.50,A,\nT2,C2,2024-01-16,5,B,\n",
    )
    load(ws, trailing)
    assert [str(row["amount"]) for row in stored("transactions")] == ["12.50", "5.00"]
    # pandas' to_csv writes its index as a first column without a name
    index = write_file(
        "index.csv", "," + HEADER + "0,T1,C1,2024-01-15,12.50,A\n1,T2,C2,2024-01-16,5,B\n"
    )
    load(ws, index)
    assert [row["transaction_id"] for row in stored("transactions")] == ["T1", "T2"]


@pytest.mark.parametrize("layout", ["array", "lines", "object"])
def test_json_with_a_byte_order_mark_loads(ws, write_file, stored, layout):
    """Windows tools write a UTF-8 BOM: a BOM-led JSON array was refused with "each
    record must be a JSON object"."""
    records = [
        {
            "transaction_id": "T1",
            "customer_id": "C1",
            "transaction_date": "2024-01-15",
            "amount": 12.5,
            "product_category": "Café",
        },
        {
            "transaction_id": "T2",
            "customer_id": "C2",
            "transaction_date": "2024-01-16",
            "amount": 3,
            "product_category": "Audio",
        },
    ]
    if layout == "object":
        records = records[:1]
    text = (
        json.dumps(records)
        if layout == "array"
        else "\n".join(json.dumps(record) for record in records)
    )
    load(ws, write_file(f"bom-{layout}.json", "\ufeff" + text))
    rows = stored("transactions")
    assert [row["transaction_id"] for row in rows] == [r["transaction_id"] for r in records]
    assert rows[0]["product_category"] == "Café" and str(rows[0]["amount"]) == "12.50"


def test_invisible_characters_around_values_are_trimmed(ws, write_file, stored):
    """ "C1", "C1\\t", "\\ufeffC1" and "C1\\u200b" all showed as C1 and were four
    customers; a tab-only id was kept as a tab while a space-only one became empty."""
    path = write_file(
        "invisible.csv",
        HEADER
        + "T1,C1,2024-01-15,10.00,A\n"
        + "T2,C1\u200b,2024-01-15,10.00,A\u00a0\n"
        + "T3,\ufeffC1,2024-01-15,10.00,\u2060A\n"
        + 'T4,"C1\t",2024-01-15,10.00,A\n'
        + 'T5,"\t",2024-01-15,10.00,A\n'
        + "T6,C\u200b1,2024-01-15,1.00,A\n",
    )
    result = load(ws, path)
    rows = stored("transactions")
    assert [row["customer_id"] for row in rows[:4]] == ["C1"] * 4
    assert {row["product_category"] for row in rows[:4]} == {"A"}
    assert rows[4]["customer_id"] is None  # only invisible: empty, as only spaces is
    assert result.report.warning_summary == {"empty values": 1}
    assert rows[5]["customer_id"] == "C\u200b1"  # inside a value: kept as it is


def test_an_id_or_category_too_long_to_be_real_refuses_the_load(ws, write_file):
    """A 200,000-character customer id froze the Customers page in the browser."""
    from mart.loading import MAX_TEXT_CHARS

    before = datasets.head(ws, "transactions").id
    path = write_file(
        "long.csv",
        HEADER
        + f"T1,{'C' * 200_000},2024-01-15,10.00,A\n"
        + f"T2,C2,2024-01-15,10.00,{'x' * (MAX_TEXT_CHARS + 1)}\n"
        + f"T3,C3,2024-01-15,10.00,{'y' * MAX_TEXT_CHARS}\n",
    )
    error = refused(ws, path)
    found = [(p.row, p.field) for p in error.report.errors]
    assert found == [(1, "customer_id"), (2, "product_category")]
    assert "200,000 characters long" in str(error) and f"at most {MAX_TEXT_CHARS}" in str(error)
    assert all(len(p.value or "") < 100 for p in error.report.errors)  # not echoed whole
    assert datasets.head(ws, "transactions").id == before


def test_unterminated_quote_is_refused(ws, write_file):
    error = refused(ws, write_file("q.csv", HEADER + 'T1,C1,2024-01-01,1,"Audio\n'))
    assert error.report.errors[0].line == 2


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (HEADER.encode(), "no data rows"),
        (b"\n\n  \n", "blank"),
        (bytes(range(256)) * 40, "binary"),
        (b"PK\x03\x04" + b"\x00" * 100, "Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel 97-2003 workbook (.xls)"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 50, "gzip"),
        ((HEADER + "R1,C1,2024-01-01,5,Books\x00\x00\x00\n").encode(), "binary"),
    ],
    ids=["empty", "header-only", "blank-lines", "binary", "xlsx", "xls", "gzip", "many-nuls"],
)
def test_unreadable_files_are_refused(ws, write_file, content, words):
    error = refused(ws, write_file("bad.csv", content))
    assert words in str(error)
    assert isinstance(error, InputError)


def test_missing_file_is_refused(ws, tmp_path):
    error = refused(ws, tmp_path / "nope.csv")
    assert "does not exist" in str(error)


@pytest.mark.parametrize(
    "content",
    [
        b"customer_id,date,amount\nCaf\xe9,2024-01-31,1\n",
        b'{"customer_id": "Caf\xe9", "date": "2024-01-31", "amount": 1}\n',
    ],
    ids=["csv", "jsonl"],
)
def test_a_utf8_bom_on_a_cp1252_file_is_dropped(ws, tmp_path, stored, content):
    """A UTF-8 BOM, then one cp1252 byte: the BOM must not end up in the header."""
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + content)
    load(ws, path)
    assert stored("transactions")[0]["customer_id"] == "Café"


def test_a_utf8_file_with_a_stray_cp1252_byte_keeps_both(ws, tmp_path, stored):
    """Mostly UTF-8 (Café), one cp1252 byte (Naïve): neither comes out garbled."""
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"customer_id,date,amount\nCaf\xc3\xa9,2024-01-31,1\nNa\xefve,2024-01-31,2\n"
        b"Cr\xc3\xa8me,2024-01-31,3\n"
    )
    result = load(ws, path)
    assert [row["customer_id"] for row in stored("transactions")] == ["Café", "Naïve", "Crème"]
    assert "cp1252" in (result.report.encoding or "")


def test_a_file_mostly_cp1252_with_some_utf8_keeps_both_and_warns(ws, tmp_path, stored):
    """The majority decided: one UTF-8 line among four cp1252 ones made the whole file
    cp1252, and "Café – Crème" was stored as "CafÃ© â€“ CrÃ¨me" with "no problems"."""
    path = tmp_path / "mostly-cp1252.csv"
    path.write_bytes(
        b"customer_id,date,amount\nCaf\xc3\xa9 \xe2\x80\x93 Cr\xc3\xa8me,2024-01-31,1\n"
        b"Na\xefve,2024-01-31,2\nCaf\xe9,2024-01-31,3\nGar\xe7on,2024-01-31,4\n"
        b"Se\xf1or,2024-01-31,5\n"
    )
    result = load(ws, path)
    names = [row["customer_id"] for row in stored("transactions")]
    assert names == ["Café – Crème", "Naïve", "Café", "Garçon", "Señor"]
    assert result.report.warning_summary.get("mixed encodings") == 1
    warning = next(w for w in result.report.warnings if "mixes UTF-8" in w.problem)
    assert "3 character(s), first on line 2" in warning.problem
    assert "(4, first on line 3)" in warning.problem


def test_a_plain_cp1252_file_is_read_as_cp1252_without_a_warning(ws, tmp_path, stored):
    path = tmp_path / "cp1252.csv"
    path.write_bytes(b"customer_id,date,amount\nCaf\xe9 \x96 Cr\xe8me,2024-01-31,1\n")
    result = load(ws, path)
    assert stored("transactions")[0]["customer_id"] == "Café – Crème"
    assert result.report.encoding == "cp1252"
    assert "mixed encodings" not in result.report.warning_summary


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read(ws, tmp_path, stored, encoding):
    """Some Windows exports write UTF-16 without a BOM: it was called a binary file."""
    path = tmp_path / "u16.csv"
    path.write_bytes((HEADER + "T1,C1,2024-01-15,10.00,Café\r\n").encode(encoding))
    result = load(ws, path)
    assert result.report.encoding == encoding
    assert stored("transactions")[0]["product_category"] == "Café"


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("n.json", "42\n", "records must be JSON objects"),
        ("s.jsonl", "1\n2\n", "records must be JSON objects"),
        ("c.json", '// export\n[{"a": 1}]\n', "JSON does not allow comments"),
    ],
)
def test_a_json_file_without_objects_says_so(ws, write_file, name, content, words):
    """They were read as CSV: "the file has a header but no data rows", "map one of
    '1' to it", "Value with unterminated quote"."""
    error = refused(ws, write_file(name, content))
    assert words in str(error) and "header" not in str(error)


def test_a_file_mixing_crlf_and_lf_line_endings_loads(ws, tmp_path, stored):
    """An LF header and CRLF rows (an edited or concatenated export) stopped DuckDB's
    reader with "the CSV Parser state machine reached an invalid state"."""
    path = tmp_path / "mixed-newlines.csv"
    path.write_bytes(
        (HEADER + "T1,C1,2024-01-15,10.00,Café\r\nT2,C2,2024-01-16,2.50,Audio\n").encode()
    )
    load(ws, path)
    rows = stored("transactions")
    assert [(r["transaction_id"], r["product_category"]) for r in rows] == [
        ("T1", "Café"),
        ("T2", "Audio"),
    ]


def test_line_ending_checks_across_chunk_boundaries(tmp_path):
    from mart.loading import _crlf_to_lf, _mixed_line_endings

    for data, mixed in (
        (b"a\r\nb\r\n", False),
        (b"a\nb\n", False),
        (b"a\nb\r\n", True),
        (b"a\r\nb\n", True),
        (b"x" * ((1 << 20) - 1) + b"\r\ny\r\n", False),  # a CRLF split by the 1 MiB read
        (b"x" * ((1 << 20) - 1) + b"\n\ny\r\n", True),
    ):
        path = tmp_path / "f.csv"
        path.write_bytes(data)
        assert _mixed_line_endings(path) is mixed, data[-8:]
        _crlf_to_lf(path, tmp_path / "out.csv")
        assert (tmp_path / "out.csv").read_bytes() == data.replace(b"\r\n", b"\n")


def test_binary_bytes_past_the_sniffed_start_are_refused(ws, tmp_path):
    """The binary sniff reads 64 KB; a NUL further down is still caught, by row."""
    body = "".join(f"R{i},C1,2024-01-01,5,Books\n" for i in range(3000))
    path = tmp_path / "late.csv"
    path.write_bytes((HEADER + body + "R9,C1,2024-01-01,5,B\x00ooks\n").encode())
    assert path.stat().st_size > 65536
    [problem] = refused(ws, path).report.errors
    assert "binary bytes" in problem.problem and problem.row == 3001


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_stray_nul_near_the_start_is_refused_by_row(ws, tmp_path, suffix):
    """One NUL in the first rows is a corrupt cell, not a binary file: the row is named."""
    path = tmp_path / f"early.{suffix}"
    if suffix == "csv":
        path.write_bytes(
            (HEADER + "R1,C1,2024-01-01,5,Books\nR2,C2,2024-01-02,6,B\x00ooks\n").encode()
        )
    else:
        path.write_bytes(
            b'{"customer_id": "C1", "date": "2024-01-01", "amount": 5}\n'
            b'{"customer_id": "C\x002", "date": "2024-01-02", "amount": 6}\n'
        )
    [problem] = refused(ws, path).report.errors
    assert problem.row == 2 or problem.line == 2, str(problem)


def test_a_folder_or_a_pipe_is_not_a_file(ws, tmp_path):
    folder = tmp_path / "adir"
    folder.mkdir()
    assert "is a folder, not a file" in str(refused(ws, folder))
    pipe = tmp_path / "fifo.csv"
    os.mkfifo(pipe)
    assert "not a regular file" in str(refused(ws, pipe))


def test_missing_required_column_names_the_field_and_the_columns(ws, write_file):
    error = refused(ws, write_file("m.csv", "customer_id,amount,Colour\nC1,5,red\n"))
    assert error.report.errors[0].field == "transaction_date"
    assert "'Colour'" in str(error)
    assert "--map transaction_date=COLUMN" in str(error)


def test_unreadable_values_are_listed_by_row_and_column(ws, write_file):
    text = HEADER + "T1,C1,2024-01-01,1.00,A\nT2,C2,2024-13-45,2.00,A\nT3,C3,2024-01-03,abc,A\n"
    error = refused(ws, write_file("v.csv", text))
    found = {(p.row, p.column, p.value) for p in error.report.errors}
    assert found == {(2, "transaction_date", "2024-13-45"), (3, "amount", "abc")}
    assert "row 2, column 'transaction_date'" in str(error)


def test_a_default_lets_unreadable_values_in_with_warnings(ws, write_file, stored):
    text = HEADER + "T1,C1,2024-01-01,1.00,A\nT2,C2,2024-01-02,abc,A\nT3,,2024-01-03,,A\n"
    result = load(ws, write_file("d.csv", text), defaults={"amount": "0"})
    rows = stored("transactions")
    assert [str(r["amount"]) for r in rows] == ["1.00", "0.00", "0.00"]
    assert rows[2]["customer_id"] is None  # empty, no default: reaches the not_null test
    assert result.report.warning_summary["defaulted"] == 2  # unreadable, and empty


def test_a_default_for_an_unmapped_field(ws, write_file, stored):
    load(
        ws,
        write_file("c.csv", "customer_id,date,amount\nC1,2024-01-01,1\n"),
        defaults={"product_category": "Gadgets"},
    )
    assert stored("transactions")[0]["product_category"] == "Gadgets"


def test_an_invalid_default_is_refused(ws, write_file):
    with pytest.raises(InputError, match="default for amount"):
        load(
            ws,
            write_file("c.csv", "customer_id,date,amount\nC1,2024-01-01,1\n"),
            defaults={"amount": "lots"},
        )


def test_the_report_lists_at_most_fifty_problems_plus_a_count(ws, write_file):
    rows = "".join(f"T{i},C{i},bad-{i},1,A\n" for i in range(120))
    error = refused(ws, write_file("many.csv", HEADER + rows))
    assert error.report.error_count == 120
    assert len(error.report.errors) == MAX_PROBLEMS
    assert "and 70 more" in str(error)


def test_semantic_problems_are_warnings_not_errors(ws, write_file, stored):
    text = HEADER + "T1,C1,2024-01-01,10,A\nT1,C2,2024-01-02,-5.00,A\nT3,,2999-01-01,3,A\n"
    result = load(ws, write_file("s.csv", text))
    assert result.report.ok
    assert result.report.warning_summary == {
        "empty values": 1,
        "duplicate ids": 2,
        "negative amounts": 1,
        "future dates": 1,
    }
    rows = stored("transactions")
    assert len(rows) == 3
    assert rows[1]["amount"] == Decimal("-5.00")
    assert rows[2]["customer_id"] is None
    assert "duplicate transaction_id" in result.report.to_text()


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("$12.00", "12.00"),
        ("€5", "5.00"),
        ("(12.00)", "-12.00"),
        ("1.234,56", "1234.56"),
        ("12,50", "12.50"),
        ("USD 7.5", "7.50"),
        (" 3 ", "3.00"),
        ("-4.10", "-4.10"),
        ("£1,000,000", "1000000.00"),
        ("0.005", "0.01"),
        ("007.50", "7.50"),
        ("1\u202f234,50", "1234.50"),  # French: a narrow no-break space groups thousands
        ("2\u2009500.00", "2500.00"),  # a thin space
        ("\u221212.00", "-12.00"),  # the Unicode minus sign
        ("1 234 567.89", "1234567.89"),  # plain spaces between groups of three
        ("€ 1 234,50", "1234.50"),
        ("( 12.00 )", "-12.00"),
        ("- 12.00", "-12.00"),
        ("$-12", "-12.00"),
        ("12.00 €", "12.00"),
    ],
)
def test_amount_formats(ws, write_file, stored, stored_text, text, expected):
    load(ws, write_file("a.csv", f'customer_id,date,amount\nC1,2024-01-01,"{text}"\n'))
    assert str(stored("transactions")[0]["amount"]) == expected
    json.loads(stored_text("transactions")[0])  # always valid JSON (no leading zeros)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # a column that shows a decimal comma reads 1.234 and 2,345 the same way
        (
            ["1.234,50", "1.234", "2,345", "0,005", "12,5"],
            ["1234.50", "1234.00", "2.35", "0.01", "12.50"],
        ),
        # one that shows a decimal point, the other way
        (
            ["1,234.50", "1.234", "2,345", "12.5", "1.005"],
            ["1234.50", "1.23", "2345.00", "12.50", "1.01"],
        ),
    ],
    ids=["decimal-comma", "decimal-point"],
)
def test_a_column_reads_every_amount_with_one_decimal_mark(
    ws, write_file, stored, values, expected
):
    lines = "".join(f'C1,2024-01-01,"{value}"\n' for value in values)
    result = load(ws, write_file("a.csv", "customer_id,date,amount\n" + lines))
    assert [str(row["amount"]) for row in stored("transactions")] == expected
    rounded = [w for w in result.report.warnings if w.problem.startswith("rounded to")]
    assert rounded and all(w.row and w.value for w in rounded)  # the rounded rows are named


def test_rounding_is_found_on_the_text_however_far_the_digit_is(ws, write_file):
    """0.30000000000000004 (a float written out by JSON tools) is rounded to 0.30 with a
    warning: compared at ten places it looked unchanged. Trailing zeros are not
    rounding."""
    path = write_file(
        "r.json",
        '[{"customer_id": "C1", "date": "2024-01-01", "amount": 0.30000000000000004},'
        ' {"customer_id": "C1", "date": "2024-01-01", "amount": 1.500},'
        ' {"customer_id": "C1", "date": "2024-01-01", "amount": "2.0000000000001"}]',
    )
    result = load(ws, path)
    rounded = [
        (w.row, w.problem) for w in result.report.warnings if w.problem.startswith("rounded")
    ]
    assert rounded == [(1, "rounded to 0.30"), (3, "rounded to 2.00")]


def test_a_column_with_both_decimal_marks_is_flagged(ws, write_file):
    path = write_file(
        "a.csv", 'customer_id,date,amount\nC1,2024-01-01,"12,50"\nC1,2024-01-01,12.75\n'
    )
    result = load(ws, path)
    assert result.report.warning_summary["mixed decimal marks"] == 1
    assert "both decimal marks" in result.report.to_text()


def test_amounts_that_may_be_grouped_thousands_are_read_as_decimals_with_a_warning(
    ws, write_file, stored
):
    """1.000 and 2.500 only (German whole euros, or three decimals): nothing in the
    column tells; read with the point as the decimal mark, and said."""
    path = write_file(
        "a.csv", 'customer_id,date,amount\nC1,2024-01-01,1.000\nC1,2024-01-02,"2.500"\n'
    )
    result = load(ws, path)
    assert [row["amount"] for row in stored("transactions")] == [Decimal("1.00"), Decimal("2.50")]
    assert result.report.warning_summary["point or thousands?"] == 2
    [warning] = [w for w in result.report.warnings if "three digits after a point" in w.problem]
    assert (warning.row, warning.value) == (1, "1.000") and "1.000,00" in warning.problem
    # one amount that shows the point is a decimal mark settles it: no warning
    clear = write_file(
        "b.csv", "customer_id,date,amount\nC1,2024-01-01,1.000\nC1,2024-01-02,2.50\n"
    )
    assert "point or thousands?" not in load(ws, clear).report.warning_summary


def test_amounts_in_more_than_one_currency_are_warned_about(ws, write_file, stored):
    path = write_file(
        "c.csv",
        "customer_id,date,amount\nC1,2024-01-01,USD 10.00\nC1,2024-01-02,¥1000\n"
        "C1,2024-01-03,10.00 eur\nC1,2024-01-04,$5.00\n",
    )
    result = load(ws, path)
    assert [row["amount"] for row in stored("transactions")] == [
        Decimal("10.00"),
        Decimal("1000.00"),
        Decimal("10.00"),
        Decimal("5.00"),
    ]
    [warning] = [w for w in result.report.warnings if "more than one currency" in w.problem]
    assert "USD (2 value(s), first at row 1)" in warning.problem  # USD and $ are one
    assert "JPY (1 value(s), first at row 2)" in warning.problem and "EUR" in warning.problem
    # one currency throughout: nothing to say
    one = write_file("d.csv", "customer_id,date,amount\nC1,2024-01-01,$1.00\nC1,2024-01-02,2 USD\n")
    assert "mixed currencies" not in load(ws, one).report.warning_summary


def test_a_leading_zero_group_is_not_thousands(ws, write_file):
    """0,005 was read as 5.00 (thousands); with a decimal point elsewhere it is refused."""
    path = write_file(
        "a.csv", 'customer_id,date,amount\nC1,2024-01-01,"0,005"\nC1,2024-01-01,1.50\n'
    )
    [problem] = refused(ws, path).report.errors
    assert (problem.row, problem.value) == (1, "0,005")


@pytest.mark.parametrize(
    "text",
    # spaces inside a number that are not groups of three were deleted: "5 10" loaded as
    # 510.00, "$ 1 $ 2" as 12.00
    [
        "abc",
        "1e3",
        "12.3.4",
        "1,2,3",
        "$",
        "1" * 20,
        "5 10",
        "1\n2",
        "12.5\t0",
        "$ 1 $ 2",
        "1 2345",
    ],
)
def test_bad_amounts_are_refused(ws, write_file, text):
    error = refused(ws, write_file("a.csv", f'customer_id,date,amount\nC1,2024-01-01,"{text}"\n'))
    assert error.report.errors[0].column == "amount"
    too_long = "too many digits" in error.report.errors[0].problem
    assert too_long == (text == "1" * 20)  # the reason, when it is the length


def test_amounts_up_to_sixteen_digits_load_and_one_more_says_why_not(ws, write_file, stored):
    error = refused(
        ws, write_file("b.csv", "customer_id,date,amount\nC1,2024-01-01,12345678901234567.89\n")
    )
    assert "at most 16 digits before the decimal point" in error.report.errors[0].problem
    load(ws, write_file("a.csv", "customer_id,date,amount\nC1,2024-01-01,9999999999999999.99\n"))
    assert stored("transactions")[0]["amount"] == Decimal("9999999999999999.99")


@pytest.mark.parametrize(
    ("text", "date_format", "expected"),
    [
        ("2024-01-15", None, "2024-01-15"),
        ("2024-01-15 10:30:00", None, "2024-01-15"),
        ("2024-01-15T10:30:00Z", None, "2024-01-15"),
        ("2024/01/15", None, "2024-01-15"),
        ("20240115", None, "2024-01-15"),
        ("15 Jan 2024", None, "2024-01-15"),
        ("Jan 15, 2024", None, "2024-01-15"),
        ("15-Jan-2024", None, "2024-01-15"),
        ("15-Jan-24", None, "2024-01-15"),
        ("Monday, January 15, 2024", None, "2024-01-15"),
        ("15/01/2024", "%d/%m/%Y", "2024-01-15"),
        ("01/15/2024 8:26", "%m/%d/%Y %H:%M", "2024-01-15"),
        ("15.01.2024", "%d.%m.%Y", "2024-01-15"),
    ],
)
def test_date_formats(ws, write_file, stored, text, date_format, expected):
    path = write_file("d.csv", f'customer_id,date,amount\nC1,"{text}",1\n')
    load(ws, path, date_format=date_format)
    assert stored("transactions")[0]["transaction_date"] == expected


@pytest.mark.parametrize(
    "text",
    [
        "epoch",
        "infinity",
        "-infinity",
        "2024-01-31 (BC)",
        "-2024-01-31",
        "0001-01-01",
        "99999-01-01",
    ],
)
def test_date_words_bc_and_far_years_are_refused(ws, write_file, text):
    """DuckDB reads these as dates; a mart holding one breaks every query showing it."""
    path = write_file("d.csv", f"customer_id,date,amount\nC1,2024-01-31,1\nC2,{text},1\n")
    [problem] = refused(ws, path).report.errors
    assert (problem.row, problem.value) == (2, text)
    assert "year from 1000 to 9999" in problem.problem


def test_a_date_word_is_refused_as_a_default(ws, write_file):
    path = write_file("d.csv", "customer_id,amount\nC1,1\n")
    with pytest.raises(InputError, match="not a valid date"):
        load(ws, path, defaults={"transaction_date": "epoch"})


def test_day_month_dates_need_a_format(ws, write_file):
    error = refused(ws, write_file("d.csv", "customer_id,date,amount\nC1,05/01/2024,1\n"))
    assert "ambiguous" in str(error)
    assert "%d/%m/%Y" in str(error)
    # a 12-hour time: the hint gives the whole format
    error = refused(ws, write_file("t.csv", "customer_id,date,amount\nC1,5/1/2024 10:00 PM,1\n"))
    assert "%m/%d/%Y %I:%M %p" in str(error)
    # days above 12 first in one value and second in another: no order is guessed
    text = "customer_id,date,amount\nC1,15/01/2024,1\nC2,01/15/2024,1\n"
    assert len(refused(ws, write_file("x.csv", text)).report.errors) == 2


@pytest.mark.parametrize(
    ("values", "dates", "first"),
    [
        (["15/01/2024", "01/02/2024"], ["2024-01-15", "2024-02-01"], "day first (%d/%m/%Y)"),
        (
            ["1/15/2024 10:00 PM", "2/1/2024 9:30 AM"],
            ["2024-01-15", "2024-02-01"],
            "month first (%m/%d/%Y %I:%M %p)",
        ),
        (["31.12.2023", "01.02.2024"], ["2023-12-31", "2024-02-01"], "day first (%d.%m.%Y)"),
        (["13-02-2024", "01-03-2024"], ["2024-02-13", "2024-03-01"], "day first (%d-%m-%Y)"),
    ],
)
def test_a_column_whose_days_above_12_settle_the_order_is_read_that_way(
    ws, write_file, stored, values, dates, first
):
    rows = "".join(f"C{n},{value},1\n" for n, value in enumerate(values))
    result = load(ws, write_file("d.csv", "customer_id,date,amount\n" + rows))
    assert [row["transaction_date"] for row in stored("transactions")] == dates
    [warning] = [w for w in result.report.warnings if "day/month order" in w.problem]
    assert f"read as {first}" in warning.problem  # the format of the value it names
    assert result.report.warning_summary["date order inferred"] == 1
    # the format it names can be given as it is, and reads the file the same way
    named = re.search(r"read as \w+ first \(([^)]+)\)", warning.problem)
    assert named is not None, warning.problem
    load(ws, write_file("e.csv", "customer_id,date,amount\n" + rows), date_format=named[1])
    assert [row["transaction_date"] for row in stored("transactions")] == dates


def test_each_bad_date_gets_the_hint_that_fits_it(ws, write_file):
    path = write_file("d.csv", "customer_id,date,amount\nC1,05/01/2024,1\nC2,2024-02-30,1\n")
    ambiguous, impossible = refused(ws, path).report.errors
    assert "ambiguous" in ambiguous.problem
    assert "ambiguous" not in impossible.problem and "no such date" in impossible.problem


def test_a_wrong_date_format_is_reported(ws, write_file):
    path = write_file("d.csv", "customer_id,date,amount\nC1,15.01.2024,1\n")
    error = refused(ws, path, date_format="%d/%m/%Y")
    assert "with the format '%d/%m/%Y'" in str(error)


def test_iso_dates_still_read_beside_a_date_format(ws, write_file, stored):
    """A file mixing 2024-01-15 and 1/3/24 could not be loaded: without a format the
    two-digit years were refused, with %m/%d/%y the ISO dates."""
    path = write_file("d.csv", "customer_id,date,amount\nC1,2024-01-15,1\nC2,1/3/24,2\n")
    load(ws, path, date_format="%m/%d/%y")
    assert [r["transaction_date"] for r in stored("transactions")] == ["2024-01-15", "2024-01-03"]


@pytest.mark.parametrize(
    ("letters", "codes"),
    [
        ("dd/mm/yyyy", "%d/%m/%Y"),
        ("MM/DD/YYYY", "%m/%d/%Y"),
        ("d.m.yy", "%d.%m.%y"),
        ("yyyymmdd", "%Y%m%d"),
        ("dd-mmm-yyyy", "%d-%b-%Y"),
        ("dd/mm/yyyy hh:mm", "%d/%m/%Y %H:%M"),
        ("MM/DD/YYYY HH:MM:SS", "%m/%d/%Y %H:%M:%S"),
        ("mm/dd/yyyy hh:mm AM/PM", "%m/%d/%Y %I:%M %p"),
        ("yyyy-mm-ddThh:mm:ss", "%Y-%m-%dT%H:%M:%S"),
        ("%d/%m/%Y", "%d/%m/%Y"),  # strptime codes as they are
    ],
)
def test_spreadsheet_date_letters_become_strptime_codes(letters, codes):
    assert strptime_format(letters) == codes


@pytest.mark.parametrize("text", ["dd/mm/yyyyx", "day/month/year", "--"])
def test_date_format_text_that_is_not_a_format_is_refused(ws, write_file, text):
    with pytest.raises(InputError, match="the date format"):
        strptime_format(text)
    path = write_file("d.csv", "customer_id,date,amount\nC1,05/01/2024,1\n")
    [problem] = refused(ws, path, date_format=text).report.errors
    assert repr(text) in problem.problem and "dd/mm/yyyy" in problem.problem


def test_a_spreadsheet_date_format_reads_the_dates_and_is_reported(ws, write_file, stored):
    path = write_file("d.csv", "customer_id,date,amount\nC1,05/01/2024 9:30,1\n")
    result = load(ws, path, date_format="dd/mm/yyyy h:mm")
    assert stored("transactions")[0]["transaction_date"] == "2024-01-05"
    assert result.report.date_format_note == "date format 'dd/mm/yyyy h:mm' read as %d/%m/%Y %H:%M"
    assert "read as %d/%m/%Y %H:%M" in result.report.to_text()
    assert load(ws, path, date_format="%d/%m/%Y %H:%M").report.date_format_note is None


def test_a_long_hint_is_said_once_then_named_by_its_first_row(ws, write_file):
    rows = "C1,05/01/2024,1\nC2,2024-02-30,1\nC3,06/01/2024,1\nC4,07/01/24,1\nC5,08/01/24,1\n"
    errors = refused(ws, write_file("d.csv", "customer_id,date,amount\n" + rows)).report.errors
    said = {problem.row: problem.problem for problem in errors}
    assert "ambiguous" in said[1] and "no such date" in said[2] and "two-digit" in said[4]
    assert said[3] == "cannot read as a date (same reason as row 1)"
    assert said[5] == "cannot read as a date (same reason as row 4)"


def test_the_report_shows_how_each_kind_of_text_is_read(ws, write_file):
    text = (
        "customer_id,date,amount\n"
        'C1,2024-01-15,"$1,250.00"\n'  # ISO date: as stored, not listed
        "C2,15/01/2024,12.5\n"  # a plain amount: not listed
        "C3,16/01/2024,(3.10)\n"
        'C4,2024-01-17 10:30,"$12.00"\n'  # same shape as $1,250.00? no: no comma
        "C5,17/01/2024 ,7\n"
    )
    report = load(ws, write_file("r.csv", text)).report
    shown = [(r.field, r.example, r.loaded, r.rows, r.first_row) for r in report.readings]
    assert shown == [
        ("transaction_date", "15/01/2024", "2024-01-15", 3, 2),
        ("transaction_date", "2024-01-17 10:30", "2024-01-17", 1, 4),
        ("amount", "$1,250.00", "1250.00", 1, 1),
        ("amount", "(3.10)", "-3.10", 1, 3),
        ("amount", "$12.00", "12.00", 1, 4),
    ]
    assert "'$1,250.00' -> 1250.00  (1 value(s) like it, first at row 1)" in report.to_text()
    # events: a timestamp with an offset is converted to UTC; ISO with a T is as stored
    events = (
        "customer_id,event_type,event_timestamp\n"
        "C1,page_view,2024-01-15T10:00:00\n"
        "C1,page_view,2024-01-15T10:00:00+02:00\n"
    )
    report = load(ws, write_file("e.csv", events), dataset="events").report
    assert [(r.example, r.loaded) for r in report.readings] == [
        ("2024-01-15T10:00:00+02:00", "2024-01-15 08:00:00")
    ]
    plain = "customer_id,date,amount\nC1,2024-01-15,12.5\nC2,2024-01-16,-3\n"
    assert load(ws, write_file("p.csv", plain)).report.readings == []


def test_unknown_event_types_are_let_in_with_a_warning(ws, write_file, stored):
    text = (
        "customer_id,session_id,event_type,event_timestamp\n"
        "C1,S1,page_view,2024-01-01T10:00:00\n"
        "C1,S1,PRODUCT_VIEW,2024-01-01T10:01:00\n"
        "C1,S1,wishlist,2024-01-01T10:02:00\n"
    )
    result = load(ws, write_file("e.csv", text), dataset="events")
    assert result.report.warning_summary == {"unknown event types": 1}
    [warning] = [w for w in result.report.warnings if w.row]
    assert (warning.row, warning.value) == (3, "wishlist")
    assert len(stored("events")) == 3


def test_the_loaders_event_types_are_the_dbt_tests(tmp_path):
    """The loader warns about the event types stg_events' accepted_values test rejects."""
    import yaml

    from mart.loading import EVENT_TYPES
    from mart.workspace import DBT_PROJECT_DIR

    staging = yaml.safe_load((DBT_PROJECT_DIR / "models/staging/staging.yml").read_text())
    [events] = [model for model in staging["models"] if model["name"] == "stg_events"]
    [column] = [c for c in events["columns"] if c["name"] == "event_type"]
    [accepted] = [t["accepted_values"] for t in column["data_tests"] if "accepted_values" in t]
    assert tuple(accepted["arguments"]["values"]) == EVENT_TYPES


def test_event_timestamps_are_canonical(ws, write_file, stored):
    text = (
        "user_id,session,event,ts,category\n"
        "U1,S1,page_view,2024-01-15 10:30:00,\n"
        "U1,S1,purchase,2024-01-15T10:31:02.250,Audio\n"
        "U1,S1,product_view,2024-01-15,Audio\n"
    )
    result = load(ws, write_file("e.csv", text), dataset="events")
    assert result.report.mapping == {
        "event_id": None,
        "customer_id": "user_id",
        "session_id": "session",
        "event_type": "event",
        "event_timestamp": "ts",
        "product_category": "category",
    }
    rows = stored("events")
    assert [r["event_timestamp"] for r in rows] == [
        "2024-01-15T10:30:00",
        "2024-01-15T10:31:02.250000",
        "2024-01-15T00:00:00",
    ]
    assert all(r["event_id"].startswith("E-") for r in rows)
    assert rows[0]["product_category"] is None


# --------------------------------------------------------------------------- generated ids


def test_generated_ids_are_unique_and_stable_across_loads(ws, write_file, stored):
    text = "customer_id,date,amount\nC1,2024-01-01,5\nC1,2024-01-01,5\nC2,2024-01-01,5\n"
    path = write_file("g.csv", text)
    load(ws, path)
    first = [r["transaction_id"] for r in stored("transactions")]
    load(ws, path)
    second = [r["transaction_id"] for r in stored("transactions")]
    assert first == second
    assert len(set(first)) == 3
    assert first[1] == first[0] + "-2"  # the second identical row
    assert all(t.startswith("T-") for t in first)


# --------------------------------------------------------------------------- JSON, Parquet


def test_json_array_with_extra_and_nested_keys(ws, write_file, stored):
    records = [
        {"CustomerID": "00042", "InvoiceDate": "2024-01-01", "Total": 150.00, "tags": ["a"]},
        {"CustomerID": 17, "InvoiceDate": "2024-01-02", "Total": "12.5", "late_key": True},
    ]
    result = load(ws, write_file("a.json", json.dumps(records)))
    assert result.report.file_format == "json"
    rows = stored("transactions")
    assert rows[0]["customer_id"] == "00042"
    assert rows[1]["customer_id"] == "17"
    assert [str(r["amount"]) for r in rows] == ["150.00", "12.50"]
    assert rows[0]["tags"] == '["a"]'
    assert rows[1]["late_key"] == "true"  # a key first seen late is still kept


def test_long_json_numbers_are_read_from_their_own_text(ws, write_file, stored):
    """DuckDB extracts a JSON number as a DOUBLE: 9007199254740993.01 came back as
    9007199254740994.0 (99 cents off), and 9999999999999999.99 as 1e16 (refused)."""
    path = write_file(
        "long.json",
        '[{"customer_id": "C1", "date": "2024-01-01", "amount": 9007199254740993.01,'
        ' "ratio": 0.1, "huge": 1e30},'
        ' {"customer_id": "C1", "date": "2024-01-01", "amount": 9999999999999999.99},'
        ' {"customer_id": "C1", "date": "2024-01-01", "amount": 12.5}]',
    )
    load(ws, path)
    rows = stored("transactions")
    assert [str(row["amount"]) for row in rows] == [
        "9007199254740993.01",
        "9999999999999999.99",
        "12.50",
    ]
    assert rows[0]["ratio"] == "0.1" and rows[0]["huge"] == "1e30"  # short ones as they were


def test_long_json_fractions_are_rounded_from_their_own_text(ws, write_file, stored):
    """2.674999999999999999 is a DOUBLE whose shortest text is 2.675: it was rounded to
    2.68, a cent off the file's number, and the warning showed a value the file does not
    hold. Numbers with three decimals or more (or an exponent) are read from their text."""
    path = write_file(
        "fractions.jsonl",
        '{"customer_id": "C1", "date": "2024-01-05", "amount": 2.674999999999999999}\n'
        '{"customer_id": "C1", "date": "2024-01-05", "amount": 100.0049999999999999}\n'
        '{"customer_id": "C1", "date": "2024-01-05", "amount": 1234567.894999999999}\n'
        '{"customer_id": "C1", "date": "2024-01-05", "amount": 1.005}\n'
        '{"customer_id": "C1", "date": "2024-01-05", "amount": 1.2345e1}\n',
    )
    result = load(ws, path)
    assert [str(row["amount"]) for row in stored("transactions")] == [
        "2.67",
        "100.00",
        "1234567.89",
        "1.01",
        "12.35",
    ]
    shown = [problem.value for problem in result.report.warnings if problem.row == 1]
    assert shown == ["2.674999999999999999"]
    # a tiny number with an exponent keeps its text (as DECIMAL(38,20) it was 0)
    tiny = '[{"customer_id": "C1", "date": "2024-01-05", "amount": 10.5, "weight": 1e-21}]'
    load(ws, write_file("tiny.json", tiny))
    assert stored("transactions")[0]["weight"] == "1e-21"


def test_spreadsheet_text_guards_are_read_without_the_guard(ws, write_file, stored):
    """="00123" (a spreadsheet's guard keeping the leading zeros) was stored as typed: one
    customer written ="00123" and 00123 became two, with "no problems found"."""
    path = write_file(
        "guarded.csv",
        "transaction_id,customer_id,transaction_date,amount\n"
        '="0001",="00123",2024-01-05,10.00\n'
        "0003,00123,2024-01-06,5.00\n"
        '"=""0004""","=""00123""",2024-01-06,1.00\n'
        '0005,"=""a""""b""",2024-01-06,1.00\n'
        "0006,=x,2024-01-06,1.00\n",
    )
    result = load(ws, path)
    rows = stored("transactions")
    assert [row["customer_id"] for row in rows] == ["00123", "00123", "00123", 'a"b', "=x"]
    assert [row["transaction_id"] for row in rows] == ["0001", "0003", "0004", "0005", "0006"]
    assert result.report.warning_summary["spreadsheet text guards"] == 2
    said = {w.column: w for w in result.report.warnings if "guard" in w.problem}
    assert "3 value(s)" in said["customer_id"].problem and said["customer_id"].row == 1


def test_json_lines(ws, write_file, stored):
    text = (
        '{"customer_id": "C1", "date": "2024-01-01", "amount": 1}\n'
        '{"customer_id": "C2", "date": "2024-01-02", "amount": 2}\n'
    )
    load(ws, write_file("a.jsonl", text))
    assert [r["customer_id"] for r in stored("transactions")] == ["C1", "C2"]


def test_json_keys_of_any_spelling_keep_their_values_and_order(ws, write_file):
    """An empty key (DuckDB's path syntax cannot name it), dots, quotes and slashes."""
    text = (
        '{"": "z", "customer_id": "C1", "date": "2024-01-01", "amount": 1, "a.b": "x", '
        '"q\\"k": "y", "s/l": "w", "~t": "v"}\n'
    )
    info, frame = preview_file(write_file("k.jsonl", text))
    assert info.columns == ["column_1", "customer_id", "date", "amount", "a.b", 'q"k', "s/l", "~t"]
    assert frame.iloc[0].tolist() == ["z", "C1", "2024-01-01", "1", "x", "y", "w", "v"]
    load(ws, write_file("k2.jsonl", text))


@pytest.mark.parametrize(
    "text",
    [
        '[{"customer_id": "C1", "date": "2024-01-01", "amount": 1}, {"customer_id": "C2", "da',
        '{"customer_id": "C1", "date": "2024-01-01", "amount": 1}\n{"customer_id": "C2", "da\n',
    ],
    ids=["array", "lines"],
)
def test_truncated_json_is_refused(ws, write_file, text):
    error = refused(ws, write_file("t.json", text))
    assert "not valid JSON" in str(error)


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        # the second of three records is malformed, or the last one is cut off
        (
            "middle.jsonl",
            '{"customer_id": "C1", "date": "2024-01-01", "amount": 1}\n'
            '{"customer_id": "C2", \n'
            '{"customer_id": "C3", "date": "2024-01-03", "amount": 3}\n',
            ("line", 2),
        ),
        (
            "end.jsonl",
            '{"customer_id": "C1", "date": "2024-01-01", "amount": 1}\n'
            '{"customer_id": "C2", "date": "2024-01-02", "amount": 2}\n'
            '{"customer_id": "C3", "da',
            ("line", 3),
        ),
        (
            "middle.json",
            '[{"customer_id": "C1", "date": "2024-01-01", "amount": 1}, '
            '{"customer_id": "C2",, "x": 1}, '
            '{"customer_id": "C3", "date": "2024-01-03", "amount": 3}]',
            ("row", 2),
        ),
        (
            "end.json",
            '[{"customer_id": "C1", "date": "2024-01-01", "amount": 1}, {"customer_id": "C2", "da',
            ("row", 2),
        ),
        # DuckDB counts non-blank lines only: two blank lines before the bad one
        (
            "blank.jsonl",
            '{"customer_id": "C1", "date": "2024-01-01", "amount": 1}\n\n  \n'
            '{"customer_id": "C2", \n',
            ("line", 4),
        ),
        # a broken first line: DuckDB cannot tell the format and says "record/value"
        (
            "first.jsonl",
            '{"customer_id": "C1", "date": \n'
            '{"customer_id": "C2", "date": "2024-01-02", "amount": 2}\n',
            ("line", 1),
        ),
        # every record whole, the closing ] missing: DuckDB says "record 3" of 2
        (
            "unclosed.json",
            '[{"customer_id": "C1", "date": "2024-01-01", "amount": 1},\n'
            '{"customer_id": "C2", "date": "2024-01-02", "amount": 2}\n',
            ("row", 2),
        ),
        (
            "unclosed-pretty.json",
            '[\n  {\n    "customer_id": "C1",\n    "amount": 1\n  },\n'
            '  {\n    "customer_id": "C2",\n    "amount": 2\n  },\n'
            '  {\n    "customer_id": "C3",\n    "amount": 3\n  }\n',
            ("row", 3),
        ),
    ],
    ids=[
        "lines-middle",
        "lines-end",
        "array-middle",
        "array-end",
        "blank-lines",
        "first-line",
        "array-unclosed",
        "array-unclosed-pretty",
    ],
)
def test_a_json_syntax_error_names_the_record_it_is_in(ws, write_file, name, text, where):
    """DuckDB numbers the record after the bad one; the report names the bad one."""
    path = write_file(name, text)
    error = refused(ws, path)
    [problem] = error.report.errors
    attribute, number = where
    assert getattr(problem, attribute) == number, str(problem)
    assert "not valid JSON" in problem.problem
    assert str(path) not in problem.problem  # our words, not DuckDB's message with its path
    assert "Try " not in problem.problem and "byte" not in problem.problem


def test_an_unclosed_json_array_says_so(ws, write_file):
    text = '[{"customer_id": "C1", "date": "2024-01-01", "amount": 1}]'[:-1] + "\n"
    [problem] = refused(ws, write_file("u.json", text)).report.errors
    assert "array is not closed" in problem.problem and problem.row == 1


def test_json_records_under_a_key_and_an_empty_array_are_refused_plainly(ws, write_file):
    wrapped = write_file(
        "w.json",
        '{"data": [{"customer_id": "C1", "date": "2024-01-01", "amount": 1}, '
        '{"customer_id": "C2", "date": "2024-01-02", "amount": 2}], "meta": {"page": 1}}',
    )
    [problem] = refused(ws, wrapped).report.errors
    assert "one JSON object whose key 'data' holds a list of 2 record(s)" in problem.problem
    [empty] = refused(ws, write_file("e.json", "[]")).report.errors
    assert empty.problem == "the JSON file holds no records"


def test_one_json_record_with_a_list_of_objects_is_a_record(ws, write_file, stored):
    """Not mistaken for a wrapper: its own fields map."""
    path = write_file(
        "one.json",
        '[{"customer_id": "C1", "date": "2024-01-01", "amount": 1, "items": [{"sku": 1}]}]',
    )
    assert load(ws, path).version.row_count == 1
    assert stored("transactions")[0]["customer_id"] == "C1"


def test_json_that_is_not_objects_is_refused(ws, write_file):
    error = refused(ws, write_file("n.json", "[1, 2, 3]"))
    assert "JSON object" in str(error)


def test_a_time_zone_timestamp_gives_the_same_date_on_every_machine(tmp_path):
    """23:30 UTC on Jan 31 is Feb 1 in Tokyo; the loader reads it in UTC everywhere."""
    path = tmp_path / "tz.parquet"
    duckdb.execute(
        "copy (select 'C1' as customer_id, TIMESTAMPTZ '2024-01-31 23:30:00+00' as "
        f"transaction_date, 5 as amount) to '{path}' (format parquet)"
    )
    for zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles"):
        code = (
            "from mart import datasets\n"
            "from mart.workspace import Workspace\n"
            f"ws = Workspace.from_env({str(tmp_path / zone.replace('/', '_'))!r})\n"
            f"datasets.load_file(ws, 'transactions', {str(path)!r})\n"
            "print(datasets.read_records(ws, 'transactions')['transaction_date'].iloc[-1])"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "TZ": zone},
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert out.stdout.strip().startswith("2024-01-31"), (zone, out.stdout)


def test_parquet_with_typed_columns(ws, tmp_path, stored):
    path = tmp_path / "t.parquet"
    duckdb.execute(
        "copy (select 42 as customer_id, DATE '2024-02-03' as order_date, "
        "12.30::DECIMAL(10, 2) as revenue, 'Audio' as category) to "
        f"'{path}' (format parquet)"
    )
    result = load(ws, path)
    assert result.report.file_format == "parquet"
    (row,) = stored("transactions")
    assert (row["customer_id"], row["transaction_date"], str(row["amount"])) == (
        "42",
        "2024-02-03",
        "12.30",
    )


def test_nested_parquet_columns_are_kept_as_json_text(ws, tmp_path, stored):
    path = tmp_path / "n.parquet"
    duckdb.execute(
        "copy (select 'C1' as customer_id, DATE '2024-02-03' as order_date, 1 as amount, "
        "{'a': 1, 'b': 'x'} as meta, [1, 2] as tags, map {'k': 'v'} as labels) to "
        f"'{path}' (format parquet)"
    )
    load(ws, path)
    (row,) = stored("transactions")
    assert json.loads(row["meta"]) == {"a": 1, "b": "x"}
    assert json.loads(row["tags"]) == [1, 2] and json.loads(row["labels"]) == {"k": "v"}


def test_a_broken_parquet_file_is_refused(ws, write_file):
    error = refused(ws, write_file("b.parquet", b"PAR1" + os.urandom(64)))
    assert "Parquet" in str(error)


# --------------------------------------------------------------------------- mapping


def test_mapping_uci_online_retail():
    header = [
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    ]
    assert suggest_mapping("transactions", header) == {
        "transaction_id": "InvoiceNo",
        "customer_id": "CustomerID",
        "transaction_date": "InvoiceDate",
        "amount": "UnitPrice",
        "product_category": None,
    }


def test_mapping_shopify_orders_export():
    header = [
        "Name",
        "Email",
        "Financial Status",
        "Paid at",
        "Fulfillment Status",
        "Currency",
        "Subtotal",
        "Shipping",
        "Taxes",
        "Total",
        "Discount Code",
        "Created at",
        "Lineitem quantity",
        "Lineitem name",
        "Lineitem price",
        "Id",
        "Vendor",
    ]
    assert suggest_mapping("transactions", header) == {
        "transaction_id": "Id",
        "customer_id": "Email",
        "transaction_date": "Created at",
        "amount": "Total",
        "product_category": None,
    }


def test_mapping_spreadsheet_headers():
    header = ["Customer ID", "Order Date", "Total ($)", "Category", "Order ID"]
    assert suggest_mapping("transactions", header) == {
        "transaction_id": "Order ID",
        "customer_id": "Customer ID",
        "transaction_date": "Order Date",
        "amount": "Total ($)",
        "product_category": "Category",
    }


@pytest.mark.parametrize(
    ("columns", "field", "expected"),
    [
        (["cust_id", "order_date", "dollar_value"], "customer_id", "cust_id"),
        (["client_id", "date", "sales"], "amount", "sales"),
        (["CUSTOMER_ID", "TRANSACTION_DATE", "AMOUNT"], "transaction_date", "TRANSACTION_DATE"),
        (["customerid", "price", "revenue"], "amount", "revenue"),
        (["order_id", "customer", "order_date", "price"], "transaction_id", "order_id"),
    ],
)
def test_mapping_synonyms(columns, field, expected):
    assert suggest_mapping("transactions", columns)[field] == expected


def test_mapping_events_headers():
    header = ["EventID", "UserId", "SessionID", "EventType", "Timestamp", "ProductCategory"]
    assert suggest_mapping("events", header) == {
        "event_id": "EventID",
        "customer_id": "UserId",
        "session_id": "SessionID",
        "event_type": "EventType",
        "event_timestamp": "Timestamp",
        "product_category": "ProductCategory",
    }


def test_explicit_mapping_overrides_and_unmaps(ws, write_file, stored):
    text = "id,cust,date,total,net\nX1,C1,2024-01-01,10.00,8.00\n"
    result = load(
        ws,
        write_file("o.csv", text),
        mapping={"amount": "net", "transaction_id": None, "customer_id": "CUST"},
    )
    (row,) = stored("transactions")
    assert str(row["amount"]) == "8.00"
    assert row["transaction_id"].startswith("T-")
    assert row["customer_id"] == "C1"  # column names match case-insensitively
    assert result.report.mapping["customer_id"] == "cust"


def test_mapping_to_unknown_field_or_dataset_is_refused(ws, write_file):
    path = write_file("o.csv", "customer_id,date,amount\nC1,2024-01-01,1\n")
    with pytest.raises(InputError, match="not a field of transactions"):
        load(ws, path, mapping={"price": "amount"})
    with pytest.raises(InputError, match="Unknown dataset"):
        suggest_mapping("orders", ["a"])


# --------------------------------------------------------------------------- dry runs


def test_validate_file_returns_errors_without_saving(ws, write_file):
    report = validate_file("transactions", write_file("v.csv", "customer_id,amount\nC1,1\n"))
    assert not report.ok
    assert report.errors[0].field == "transaction_date"
    assert "load refused" in report.to_text()
    assert len(datasets.list_versions(ws, "transactions")) == 1


def test_preview_file(write_file):
    info, frame = preview_file(write_file("p.csv", "a;b\n1;00\n2;x\n3;y\n"), limit=2)
    assert (info.file_format, info.delimiter, info.columns, info.row_count) == (
        "csv",
        ";",
        ["a", "b"],
        3,
    )
    assert frame.to_dict("records") == [{"a": "1", "b": "00"}, {"a": "2", "b": "x"}]


# ------------------------------------------------------------ time zones, keys, mapping


@pytest.mark.parametrize("zone", ["BST", "IST", "CST", "PST", "SST", "NST", "AST"])
def test_an_ambiguous_zone_abbreviation_is_refused_with_a_hint(ws, write_file, zone):
    """DuckDB reads BST as Bangladesh (+06:00), IST as India, SST as the Solomon
    Islands, PST with summer time: 12:00 BST became 06:00 UTC without a word."""
    text = f"{HEADER}T1,C1,2024-07-15 12:00 {zone},10.00,A\nT2,C2,2024-07-15,5,B\n"
    error = refused(ws, write_file("zone.csv", text))
    assert [(p.row, p.field) for p in error.report.errors] == [(1, "transaction_date")]
    assert f"the time zone abbreviation {zone!r} is not read" in str(error)
    assert "give an offset such as +01:00 or a zone name such as Europe/London" in str(error)


def _event_times(ws, write_file, stored, values: list[str]):
    """Load one page_view event per timestamp text; the result and the stored times."""
    text = "customer_id,session_id,event_type,event_timestamp\n" + "".join(
        f"C1,S1,page_view,{value}\n" for value in values
    )
    result = load(ws, write_file("times.csv", text), dataset="events")
    return result, [row["event_timestamp"] for row in stored("events")]


def test_gmt_plus_offsets_count_as_a_zone_and_am_pm_is_no_zone(ws, write_file, stored):
    """ "12:00 GMT+2" was converted to 10:00 and yet warned "no time zone, read as UTC";
    EST, CET and JST (one meaning each) are still read."""
    values = ["12:00 GMT+2", "12:00 UTC-03:00", "12:00 EST", "12:00 JST", "11:30 PM"]
    result, times = _event_times(ws, write_file, stored, [f"2024-01-15 {v}" for v in values])
    assert times == [
        "2024-01-15T10:00:00",
        "2024-01-15T15:00:00",
        "2024-01-15T17:00:00",
        "2024-01-15T03:00:00",
        "2024-01-15T23:30:00",
    ]
    assert result.report.warning_summary == {
        "time zones converted": 4,
        "times without a zone": 1,  # only the PM one
    }
    unzoned = [w.row for w in result.report.warnings if w.problem.startswith("no time zone")]
    assert unzoned == [5]


def test_utc_offsets_with_minutes_keep_their_minutes(ws, write_file, stored):
    """DuckDB read "10:00:00 UTC+05:30" as 05:00 UTC (the hours only), and warned so,
    while "GMT+05:30" read 04:30: India's, Newfoundland's and Nepal's offsets were off
    by their minutes without a word."""
    zones = ("UTC+05:30", "utc+0530", "UTC-03:30", "UTC+5:45", "GMT+05:30", "UTC+5")
    result, times = _event_times(
        ws, write_file, stored, [f"2024-01-15T10:00:00 {zone}" for zone in zones]
    )
    assert times == [
        "2024-01-15T04:30:00",
        "2024-01-15T04:30:00",
        "2024-01-15T13:30:00",
        "2024-01-15T04:15:00",
        "2024-01-15T04:30:00",
        "2024-01-15T05:00:00",
    ]
    assert "2024-01-15 04:30:00" in str(result.report.warnings[0])


def test_a_two_digit_year_gets_a_hint_that_works(ws, write_file, stored):
    """15/01/24 was said to be ambiguous in day/month order (15 is a day) and the hint
    gave %d/%m/%Y, which cannot read it."""
    path = write_file("yy.csv", f"{HEADER}T1,C1,15/01/24,10.00,A\nT2,C2,16/01/69,5,B\n")
    error = refused(ws, path)
    assert "a two-digit year is not guessed" in str(error) and "%d/%m/%y" in str(error)
    assert "ambiguous" not in str(error)
    load(ws, path, date_format="%d/%m/%y")
    dates = [row["transaction_date"] for row in stored("transactions")]
    assert dates == ["2024-01-15", "1969-01-16"]


@pytest.mark.parametrize("zone", ["America/New_York", "-05:00"])
def test_parquet_moments_with_a_time_zone_warn_when_the_date_changes(ws, tmp_path, stored, zone):
    """23:30 in New York is the next day in UTC: a CSV value said so, a Parquet
    timestamp with the same zone changed the date without a word."""
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    utc = datetime.UTC
    moments = [
        datetime.datetime(2024, 1, 16, 4, 30, tzinfo=utc),  # 23:30 the 15th, -05:00
        datetime.datetime(2024, 1, 15, 17, 0, tzinfo=utc),
    ]  # noon the 15th
    table = pa.table(
        {
            "transaction_id": ["T1", "T2"],
            "customer_id": ["C1", "C2"],
            "transaction_date": pa.array(moments, pa.timestamp("us", tz=zone)),
            "amount": [10.0, 5.0],
            "product_category": ["A", "B"],
        }
    )
    path = tmp_path / "zoned.parquet"
    pq.write_table(table, path)
    result = load(ws, path)
    assert [row["transaction_date"] for row in stored("transactions")] == [
        "2024-01-16",
        "2024-01-15",
    ]
    assert result.report.warning_summary == {"time zones converted": 1}
    warning = result.report.warnings[0]
    assert (warning.row, warning.problem) == (
        1,
        "time zone converted to UTC: the date is 2024-01-16",
    )
    assert zone in (warning.value or "")


def test_parquet_number_types_get_no_decimal_mark_guess(ws, tmp_path, stored):
    """A DECIMAL(10,3) amount of 1.234 got the CSV advice "if the point separates
    thousands here, write the amounts with their decimal comma"; a typed number has no
    thousands separator. A float64 amount too large to be exact now says so."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def table(amounts: pa.Array) -> pa.Table:
        count = len(amounts)
        return pa.table(
            {
                "transaction_id": [f"T{i}" for i in range(count)],
                "customer_id": ["C1"] * count,
                "transaction_date": ["2024-01-15"] * count,
                "amount": amounts,
                "product_category": ["A"] * count,
            }
        )

    typed = tmp_path / "decimal.parquet"
    pq.write_table(
        table(
            pa.array([Decimal("1.234"), Decimal("12.500"), Decimal("2.000")], pa.decimal128(10, 3))
        ),
        typed,
    )
    result = load(ws, typed)
    assert [str(row["amount"]) for row in stored("transactions")] == ["1.23", "12.50", "2.00"]
    assert result.report.warning_summary == {"rounded amounts": 1}
    floats = tmp_path / "float.parquet"
    pq.write_table(table(pa.array([1234567890123456.7, 19.99], pa.float64())), floats)
    result = load(ws, floats)
    assert result.report.warning_summary == {"inexact amounts": 1}
    assert result.report.warnings[0].row == 1
    assert str(stored("transactions")[1]["amount"]) == "19.99"


def test_a_parquet_column_name_repeated_in_another_case_is_said(ws, tmp_path, stored):
    """amount and Amount: DuckDB renamed the second Amount_1 itself and the load said
    nothing; a CSV warns and names it Amount_2. Now both do the same."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "dup.parquet"
    pq.write_table(
        pa.table(
            {
                "transaction_id": ["T1"],
                "customer_id": ["C1"],
                "transaction_date": ["2024-01-15"],
                "amount": ["1.00"],
                "Amount": ["2.00"],
                "product_category": ["A"],
            }
        ),
        path,
    )
    result = load(ws, path)
    assert result.report.warning_summary == {"renamed columns": 1}
    assert result.report.extra_columns == ["Amount_2"]
    row = stored("transactions")[0]
    assert str(row["amount"]) == "1.00" and row["Amount_2"] == "2.00"


def test_time_zone_offsets_are_converted_to_utc_with_a_warning(ws, write_file, stored):
    text = (
        "customer_id,session_id,event_type,event_timestamp\n"
        "C1,S1,page_view,2024-01-01T10:00:00+02:00\n"
        "C1,S1,page_view,2024-01-01T10:00:00Z\n"
        "C1,S1,page_view,2024-01-01T10:00:00 -05:00\n"
        "C1,S1,page_view,2024-01-01 10:00:00 CET\n"
        "C1,S1,page_view,2024-01-01T10:00:00\n"
    )
    result = load(ws, write_file("e.csv", text), dataset="events")
    times = [row["event_timestamp"] for row in stored("events")]
    assert times == [
        "2024-01-01T08:00:00",
        "2024-01-01T10:00:00",
        "2024-01-01T15:00:00",
        "2024-01-01T09:00:00",
        "2024-01-01T10:00:00",
    ]
    assert result.report.warning_summary == {
        "time zones converted": 3,
        "times without a zone": 1,  # row 5, beside four values that give one
    }
    warned = [(w.row, w.problem) for w in result.report.warnings]
    assert warned == [
        (1, "time zone converted to UTC: 2024-01-01 08:00:00"),
        (3, "time zone converted to UTC: 2024-01-01 15:00:00"),
        (4, "time zone converted to UTC: 2024-01-01 09:00:00"),
        (
            5,
            "no time zone, read as UTC (2024-01-01 10:00:00), while 4 other value(s) "
            "in this column give one",
        ),
    ]


def test_a_transaction_date_is_warned_only_when_utc_moves_it(ws, write_file, stored):
    text = (
        "customer_id,date,amount\n"
        "C1,2024-01-15T23:30:00-05:00,1\n"  # 04:30 UTC the next day
        "C2,2024-01-15T10:00:00+02:00,1\n"  # 08:00 UTC, the same day
    )
    result = load(ws, write_file("t.csv", text))
    assert [row["transaction_date"] for row in stored("transactions")] == [
        "2024-01-16",
        "2024-01-15",
    ]
    [warning] = result.report.warnings
    assert (warning.row, warning.field) == (1, "transaction_date")
    assert warning.problem == "time zone converted to UTC: the date is 2024-01-16"


def test_local_times_a_clock_change_skips_or_repeats_are_warned(ws, write_file, stored):
    text = (
        "customer_id,session_id,event_type,event_timestamp\n"
        "C1,S1,page_view,2024-03-31T02:30:00 Europe/Berlin\n"  # clocks 02:00 -> 03:00
        "C1,S1,page_view,2024-10-27T02:30:00 europe/berlin\n"  # 02:00-03:00 twice
        "C1,S1,page_view,2024-03-10 02:15 America/New_York\n"  # clocks 02:00 -> 03:00
        "C1,S1,page_view,2024-07-01T12:00:00 Europe/Berlin\n"  # summer time: fine
        "C1,S1,page_view,2024-07-01\n"  # a date without a time needs no zone
        "C1,S1,page_view,2024-07-01 10:00:00 PM\n"  # PM is not a zone
    )
    result = load(ws, write_file("e.csv", text), dataset="events")
    assert result.report.warning_summary == {
        "times that do not exist": 2,
        "ambiguous times": 1,
        "time zones converted": 1,
        "times without a zone": 1,
    }
    warned = {(w.row, w.problem) for w in result.report.warnings}
    assert warned == {
        (
            1,
            "this local time does not exist in its time zone (the clocks skipped it): "
            "read as 2024-03-31 01:30:00 UTC",
        ),
        (
            3,
            "this local time does not exist in its time zone (the clocks skipped it): "
            "read as 2024-03-10 07:15:00 UTC",
        ),
        (
            2,
            "this local time happens twice in its time zone (the clocks went back): "
            "read as 2024-10-27 01:30:00 UTC",
        ),
        (4, "time zone converted to UTC: 2024-07-01 10:00:00"),
        (
            6,
            "no time zone, read as UTC (2024-07-01 22:00:00), while 4 other value(s) "
            "in this column give one",
        ),
    }
    assert [row["event_timestamp"] for row in stored("events")][:4] == [
        "2024-03-31T01:30:00",
        "2024-10-27T01:30:00",
        "2024-03-10T07:15:00",
        "2024-07-01T10:00:00",
    ]


def test_times_without_zones_alone_are_not_warned(ws, write_file, stored):
    text = (
        "customer_id,date,amount\n"
        "C1,2024-01-15 23:30,1\n"
        "C2,2024-01-15 10:00:00 PM,1\n"  # a 12-hour clock, as spreadsheets write
        "C3,2024/01/15 12:30 am,1\n"
    )
    result = load(ws, write_file("t.csv", text))
    assert result.report.warnings == []
    assert [row["transaction_date"] for row in stored("transactions")] == ["2024-01-15"] * 3


def test_an_unknown_time_zone_is_refused_with_a_hint(ws, write_file):
    path = write_file("t.csv", "customer_id,date,amount\nC1,2024-01-15 10:00:00 Mars/Olympus,1\n")
    [problem] = refused(ws, path).report.errors
    assert problem.row == 1 and "unknown time zone 'Mars/Olympus'" in problem.problem


def test_duplicate_json_keys_keep_the_first_value_with_a_warning(ws, write_file, stored):
    lines = [
        '{"customer_id": "C1", "date": "2024-01-01", "amount": 1, "amount": 2}',
        '{"customer_id": "C2", "date": "2024-01-02", "amount": 3}',
        '{"customer_id": "C3", "customer_id": "C4", "date": "2024-01-03", "date": "x", '
        '"amount": 4}',
    ]
    result = load(ws, write_file("t.jsonl", "\n".join(lines) + "\n"))
    rows = stored("transactions")
    assert [str(row["amount"]) for row in rows] == ["1.00", "3.00", "4.00"]
    assert rows[2]["customer_id"] == "C3" and rows[2]["transaction_date"] == "2024-01-03"
    assert result.report.warning_summary == {"duplicate keys": 2}
    assert [(w.row, w.problem) for w in result.report.warnings] == [
        (1, "key 'amount' appears more than once in this record: the first value is used"),
        (
            3,
            "keys 'customer_id', 'date' appear more than once in this record: the first "
            "value is used",
        ),
    ]


def test_a_column_mapped_by_hand_leaves_the_field_it_was_suggested_for(ws, write_file, stored):
    path = write_file("t.csv", HEADER + "C9,T1,2024-03-01,5,Audio\n")
    # The file's columns are swapped: its transaction_id column holds customers.
    result = load(ws, path, mapping={"customer_id": "transaction_id"})
    assert result.report.mapping["transaction_id"] is None
    [row] = stored("transactions")
    assert row["customer_id"] == "C9"
    assert row["transaction_id"].startswith("T-")  # generated: no column of its own
    assert result.report.warning_summary == {"columns taken by a mapping": 1}
    [warning] = result.report.warnings
    assert warning.field == "transaction_id"
    assert "mapped to customer_id by hand" in warning.problem
    assert "generated from a hash" in warning.problem


def test_a_mapping_that_takes_a_required_fields_column_says_so(ws, write_file):
    path = write_file("t.csv", "cust_id,date,amount\nC1,2024-03-01,5\n")
    error = refused(ws, path, mapping={"product_category": "cust_id"})
    [problem] = error.report.errors
    assert problem.field == "customer_id"
    assert "its column 'cust_id' is mapped to product_category by hand" in problem.problem


def test_one_column_mapped_by_hand_to_two_fields_is_warned(ws, write_file, stored):
    path = write_file("t.csv", "id,date,amount\nC7,2024-03-01,5\n")
    result = load(ws, path, mapping={"customer_id": "id", "transaction_id": "id"})
    [row] = stored("transactions")
    assert row["customer_id"] == row["transaction_id"] == "C7"
    [warning] = result.report.warnings
    assert warning.column == "id" and warning.problem.startswith("mapped to")
    assert "customer_id" in warning.problem and "transaction_id" in warning.problem


def test_a_repeated_column_name_is_renamed_with_a_warning(ws, write_file, stored):
    path = write_file("t.csv", "customer_id,date,amount,amount\nC1,2024-03-01,5,7\n")
    result = load(ws, path)
    assert str(stored("transactions")[0]["amount"]) == "5.00"  # the first one is mapped
    assert result.report.warning_summary == {"renamed columns": 1}
    [warning] = result.report.warnings
    assert warning.column == "amount_2"
    assert warning.problem == (
        "the file has a column 'amount' already; this 'amount' is read as 'amount_2'"
    )
    # JSON keys that differ only in case are two columns too.
    lines = '{"customer_id": "C1", "date": "2024-03-01", "amount": 5, "Amount": 7}\n'
    result = load(ws, write_file("t.jsonl", lines))
    [warning] = result.report.warnings
    assert "this 'Amount' is read as 'Amount_2'" in warning.problem


def test_an_events_file_loaded_as_transactions_says_it_looks_like_events(ws, write_file):
    text = (
        "event_id,customer_id,session_id,event_type,event_timestamp\n"
        "E1,C1,S1,page_view,2024-01-01T10:00:00\n"
    )
    error = refused(ws, write_file("e.csv", text))
    assert any(
        "these columns look like events" in problem.problem for problem in error.report.errors
    ), error.report.errors
    # With a mapping too, as the Data page passes one (the suggested one) every time.
    mapping = suggest_mapping(
        "transactions", ["event_id", "customer_id", "session_id", "event_type", "event_timestamp"]
    )
    report = validate_file("transactions", write_file("e2.csv", text), mapping=mapping)
    assert any("these columns look like events" in p.problem for p in report.errors)
    # A transactions file loaded as transactions never gets the hint.
    path = write_file("t.csv", "customer_id,amount\nC1,5\n")  # no date: refused
    error = refused(ws, path)
    assert not any("look like" in problem.problem for problem in error.report.errors)


def test_excel_sep_line_and_rows_of_delimiters(ws, write_file, stored):
    """Excel can write a first line "sep=;" and exports empty rows as ";;"."""
    text = (
        "sep=;\r\n"
        "customer_id;date;amount\r\n"
        "C1;2024-01-15;1,50\r\n"
        ";;\r\n"
        "C2;2024-01-16;2,00\r\n"
        " ; ;\r\n"
    )
    result = load(ws, write_file("excel.csv", text))
    assert result.report.delimiter == ";"
    assert [row["customer_id"] for row in stored("transactions")] == ["C1", "C2"]
    assert [str(row["amount"]) for row in stored("transactions")] == ["1.50", "2.00"]
    assert result.report.warning_summary == {"empty rows skipped": 2}
    assert [w.row for w in result.report.warnings] == [2, 4]


def test_a_file_of_only_empty_rows_is_refused(ws, write_file):
    path = write_file("empty_rows.csv", "customer_id,date,amount\n,,\n,,\n")
    report = refused(ws, path).report
    assert "no data rows" in report.errors[0].problem


def test_refusal_advice_names_only_what_can_help():
    """The Data page said "Fix the mapping or the date format, or the file itself" for
    every refusal: for a shifted row neither helps, for a zone abbreviation only the
    date format or the file, for a too-long id the mapping or the file."""
    from mart.loading import Problem, ValidationReport, refusal_advice

    def advice(*problems: Problem) -> str:
        report = ValidationReport(dataset="transactions", source_name="f.csv")
        for problem in problems:
            report.add_error(problem)
        return refusal_advice(report)

    assert advice(Problem("moved one to the right", row=1, column="column_6")) == (
        "Fix the file itself and upload it again."
    )
    assert advice(Problem("zone", row=1, field="transaction_date")) == (
        "Fix the date format, or the file itself."
    )
    assert advice(Problem("too long", row=1, field="customer_id")) == (
        "Fix the mapping, or the file itself."
    )
    assert (
        advice(
            Problem("too long", row=1, field="customer_id"),
            Problem("date", row=2, field="event_timestamp"),
        )
        == "Fix the mapping or the date format, or the file itself."
    )


def test_null_words_are_empty_in_every_column(ws, write_file, stored):
    """A customer "NULL" became a real customer that looked like a SQL null everywhere;
    the same word in the amount column was refused. Now it is empty in every column."""
    text = (
        HEADER + "T1,C1,2024-01-01,1.00,Books\n"
        "T2,N/A,2024-01-02,2.00,null\n"
        "T3,NULL,2024-01-03,NaN,None\n"
        "T4,#N/A,2024-01-04,4.00,Toys\n"
    )
    report = load(ws, write_file("n.csv", text)).report
    rows = stored("transactions")
    assert [r["customer_id"] for r in rows] == ["C1", None, None, None]
    assert [r["product_category"] for r in rows] == ["Books", None, None, "Toys"]
    assert rows[2]["amount"] is None
    said = {p.field: p.problem for p in report.warnings if "means no value" in p.problem}
    assert said["customer_id"] == (
        "empty in 3 row(s): 2, 3, 4 ('#N/A', 'N/A', 'NULL' among them: text that means no "
        "value); kept as null (the dbt tests will flag it)"
    )
    assert said["product_category"].endswith("; staging reads it as 'Unknown'")
    # one line per column, counted once; an empty category is not a test failure
    assert report.warning_summary["empty values"] == 3 + 1
    assert report.warning_summary["empty optional values"] == 2
    assert "empty optional values" not in loading.DBT_TESTED_WARNINGS


def test_a_totals_row_is_left_out_and_said(ws, write_file, stored):
    text = HEADER + "T1,C1,2024-01-15,100.00,A\nT2,C2,2024-01-16,125.50,A\nTotal,,,225.50,\n"
    result = load(ws, write_file("t.csv", text))
    assert [r["transaction_id"] for r in stored("transactions")] == ["T1", "T2"]
    [warning] = [w for w in result.report.warnings if "totals row" in w.problem]
    assert warning.row == 3 and warning.value == "Total"
    assert "1 totals row(s) left out" in result.version.message
    # a row with a customer is a record, whatever its category says
    kept = HEADER + "T1,C1,2024-01-15,100.00,Total\n"
    load(ws, write_file("k.csv", kept))
    assert [r["product_category"] for r in stored("transactions")] == ["Total"]


def test_text_direction_controls_are_removed_from_ids(ws, write_file, stored):
    """\u202eRTL-CUST showed as "TSUC-LTR" in every grid and chart."""
    text = HEADER + "T1,\u202eRTL-CUST,2024-01-15,1.00,A\u2066\n"
    report = load(ws, write_file("r.csv", text)).report
    [row] = stored("transactions")
    assert (row["customer_id"], row["product_category"]) == ("RTL-CUST", "A")
    assert report.warning_summary["direction controls removed"] == 2


def test_three_digits_after_a_comma_read_as_thousands_are_said(ws, write_file, stored):
    """1.234 got a "point or thousands?" warning; its mirror 1,234 none, also in a
    semicolon-separated (European) file, where it may well mean 1.234."""
    text = "customer_id;date;amount\nC1;2024-01-15;1,234\nC2;2024-01-15;2,500\n"
    report = load(ws, write_file("c.csv", text)).report
    assert [str(r["amount"]) for r in stored("transactions")] == ["1234.00", "2500.00"]
    [warning] = [w for w in report.warnings if "after a comma" in w.problem]
    assert warning.row == 1 and "separated by semicolons" in warning.problem
    assert report.warning_summary["comma or thousands?"] == 2
    # a value that shows the mark settles it: no warning
    settled = 'customer_id,date,amount\nC1,2024-01-15,"1,234"\nC2,2024-01-15,12.50\n'
    assert (
        "comma or thousands?" not in load(ws, write_file("s.csv", settled)).report.warning_summary
    )


def test_warning_text_says_how_many_in_all_not_more(ws, write_file):
    """'... and 1 more' named a warning that was not there (one line stood for 2 rows)."""
    text = HEADER + "T1,C1,2024-01-15,1.00,A\nT1,C2,2024-01-15,2.00,A\n"
    report = load(ws, write_file("d.csv", text)).report
    assert "and 1 more" not in report.to_text()
    assert "(the first rows of each kind; 2 warnings in all)" in report.to_text()


def test_hints_for_spreadsheet_day_numbers_and_scientific_amounts(ws, write_file, stored):
    text = "customer_id,date,amount\nC1,45352,1.5E2\n"
    date_problem, amount_problem = refused(ws, write_file("s.csv", text)).report.errors
    assert "spreadsheet's day number: 45352 is 2024-03-01" in date_problem.problem
    assert "scientific notation is not read" in amount_problem.problem
    # points that can only be thousands separators (two or more groups)
    load(ws, write_file("p.csv", "customer_id,date,amount\nC1,2024-01-01,1.234.567\n"))
    assert str(stored("transactions")[0]["amount"]) == "1234567.00"


def test_headers_with_units_and_in_other_languages_are_suggested():
    german = ["Bestellnummer", "Kundennummer", "Datum", "Total (EUR)", "Kategorie"]
    assert suggest_mapping("transactions", german) == dict(
        zip(
            ["transaction_id", "customer_id", "transaction_date", "amount", "product_category"],
            german,
            strict=True,
        )
    )
    spanish = suggest_mapping("transactions", ["ID", "Cliente", "Fecha", "Importe", "Categoría"])
    assert (spanish["amount"], spanish["product_category"]) == ("Importe", "Categoría")
    # an exact name still wins over a name with a unit
    both = suggest_mapping("transactions", ["customer_id", "date", "Total (EUR)", "Total"])
    assert both["amount"] == "Total"


def test_a_repeated_header_row_is_named_as_such(ws, write_file):
    header = "customer_id,transaction_date,amount\n"
    text = header + "C1,2024-01-01,1\n" + header
    errors = refused(ws, write_file("h.csv", text)).report.errors
    assert {p.row for p in errors} == {2}
    assert all("the header row appears again" in p.problem for p in errors)


def test_the_fast_paths_of_the_cleaning_macros_change_no_value():
    """mart_clean skips trim() for printable ASCII with no space at either end, and
    mart_let computes an amount's stages once: the same values as the plain forms."""
    con = duckdb.connect()
    con.execute(
        "create or replace temp macro mart_trimmed_chars() as "
        + loading._sql_str(loading.TRIMMED_CHARS)
    )
    con.execute(
        loading._MACROS.replace(
            "{null_words}", ", ".join(loading._sql_str(w) for w in loading.NULL_WORDS)
        ).replace("{direction_controls}", loading._DIRECTION_CONTROLS)
    )
    values = [
        None, "", " ", "C1", " C1", "C1 ", "\tC1\n", "\u00a0C1\u200b", "\ufeffC1", "C 1",
        "NULL", " n/a ", "None", "Café", "~", "a~", "\x7f", "C1\x7f", "\u202eC1",
        "$1,234.50", " (12.00) ", "12-", "USD 5", "1.234,50", "−3.5", "1'234.50", "abc",
    ]  # fmt: skip
    con.execute("create table v as select unnest(?::VARCHAR[]) as x", [values])
    plain_clean = f"nullif(trim(x, {loading._sql_str(loading.TRIMMED_CHARS)}), '')"
    differ = con.execute(
        f"select x, mart_clean(x), {plain_clean} from v "
        f"where mart_clean(x) is distinct from {plain_clean}"
    ).fetchall()
    assert differ == []
    stages = "mart_amount_s3(mart_amount_s2(mart_amount_s1(mart_value(x))))"
    plain_amount = (
        f"case when regexp_full_match({stages}, '[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)') "
        f"then try_cast({stages} as DECIMAL(18, 2)) end"
    )
    rows = con.execute(f"select x, mart_amount(mart_value(x)), {plain_amount} from v").fetchall()
    assert [row for row in rows if row[1] != row[2]] == []
    assert dict((row[0], row[1]) for row in rows)["$1,234.50"] == Decimal("1234.50")


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_file_with_too_many_columns_is_refused_at_once(ws, tmp_path, suffix):
    """A 20,003-column file ran for over 11 minutes; past MAX_COLUMNS it is refused."""
    names = ["customer_id", "date", "amount"] + [f"x{i}" for i in range(loading.MAX_COLUMNS)]
    path = tmp_path / f"wide.{suffix}"
    if suffix == "csv":
        values = ["C1", "2024-01-01", "1.00"] + ["v"] * loading.MAX_COLUMNS
        path.write_text(",".join(names) + "\n" + ",".join(values) + "\n")
    else:
        path.write_text(json.dumps(dict.fromkeys(names, "1")) + "\n")
    [problem] = refused(ws, path).report.errors
    assert f"the file has {len(names):,} columns" in problem.problem


def test_a_unit_price_beside_a_quantity_is_warned_about_and_a_line_total_preferred(
    ws, write_file, stored
):
    """The UCI Online Retail layout: UnitPrice became the amount, Quantity an extra
    column, with no word (7.79 loaded for a line of 46.74; a return counted as a sale)."""
    uci = write_file(
        "uci.csv",
        "InvoiceNo,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
        "536365,6,2010-12-01,2.55,17850\nC536379,-1,2010-12-01,27.50,14527\n",
    )
    report = load(ws, uci).report
    [warning] = [w for w in report.warnings if "price per unit" in w.problem]
    assert (warning.column, warning.field) == ("UnitPrice", "amount")
    assert "'Quantity'" in warning.problem and report.warning_summary["unit price as amount"] == 1
    # With a line total, that is the amount, and nothing to warn about.
    lines = write_file(
        "lines.csv",
        "Order,Customer,Quantity,Unit Price,Line Total,Date\nO1,C1,2,5.00,10.00,2024-01-05\n",
    )
    report = load(ws, lines).report
    assert report.mapping["amount"] == "Line Total"
    assert not [w for w in report.warnings if "price per unit" in w.problem]
    assert str(stored("transactions")[0]["amount"]) == "10.00"


def test_customer_ids_differing_only_in_case_are_warned_about(ws, write_file, stored):
    path = write_file(
        "case.csv",
        "customer_id,date,amount\nC1,2024-01-01,10\n c1 ,2024-01-02,20\nC2,2024-01-02,5\n",
    )
    report = load(ws, path).report
    [warning] = [w for w in report.warnings if "letter case" in w.problem]
    assert "'C1' and 'c1'" in warning.problem and warning.row == 1
    # kept apart, as the file has them: two customers
    assert sorted(r["customer_id"] for r in stored("transactions")) == ["C1", "C2", "c1"]
    plain = write_file("plain.csv", "customer_id,date,amount\nC1,2024-01-01,10\nC2,2024-01-02,5\n")
    assert not [w for w in load(ws, plain).report.warnings if "letter case" in w.problem]


def test_ids_written_as_decimals_are_warned_about(ws, write_file):
    path = write_file(
        "ids.csv",
        "customer_id,date,amount\n17850.0,2024-01-01,10\n17850,2024-01-02,20\n"
        "1.785E+04,2024-01-02,5\n",
    )
    report = load(ws, path).report
    [warning] = [w for w in report.warnings if "written as decimals" in w.problem]
    assert (warning.row, warning.value, warning.field) == (1, "17850.0", "customer_id")
    assert report.warning_summary["ids written as decimals"] == 2
    # the example is the file's own (it was a fixed "17850.0 and 17850" for any id)
    path = write_file("ids2.csv", "transaction_id,customer_id,date,amount\n7.0,C1,2024-01-01,10\n")
    [warning] = [w for w in load(ws, path).report.warnings if "written as decimals" in w.problem]
    assert "so 7.0 and 7 would be two" in warning.problem


@pytest.mark.parametrize("offset", ["+25:00", "+99:59", "+05:99", "-1530"])
def test_an_offset_no_place_has_is_refused_with_the_reason(ws, write_file, offset):
    path = write_file("t.csv", f"customer_id,date,amount\nC1,2024-01-05T10:00:00{offset},1\n")
    [problem] = refused(ws, path).report.errors
    assert "offset from UTC is not one any place has" in problem.problem


def test_real_offsets_at_the_ends_of_the_range_are_read(ws, write_file, stored):
    path = write_file(
        "t.csv",
        "customer_id,date,amount\nC1,2024-01-05T10:00:00+14:00,1\nC2,2024-01-05T10:00:00-12:00,1\n",
    )
    load(ws, path)
    assert [str(r["transaction_date"]) for r in stored("transactions")] == [
        "2024-01-04",
        "2024-01-05",
    ]


def test_two_digit_years_are_refused_alike_when_the_column_shows_its_order(ws, write_file):
    """12/20/05 settles month-first; it was read as 2005-12-20 while 12/10/05 and 1/5/24
    beside it were refused (a cast read them as the years 12 and 1)."""
    path = write_file(
        "yy.csv", f"{HEADER}T1,C1,1/5/24,10,A\nT2,C2,12/10/05,12,A\nT3,C2,12/20/05,12,A\n"
    )
    errors = refused(ws, path).report.errors
    assert [problem.row for problem in errors] == [1, 2, 3]
    assert "a two-digit year is not guessed" in errors[0].problem

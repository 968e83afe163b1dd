"""Amount formats no other test pinned (found by mutation testing)."""

from __future__ import annotations

import pytest

from mart import datasets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.00-", "-12.00"),  # a trailing minus, as SAP and some ledgers write it
        ("1,234.50-", "-1234.50"),
        ("$7.5-", "-7.50"),
    ],
)
def test_a_trailing_minus_makes_the_amount_negative(ws, write_file, stored, text, expected):
    path = write_file("a.csv", f'customer_id,date,amount\nC1,2024-01-01,"{text}"\n')
    datasets.load_file(ws, "transactions", path)
    assert str(stored("transactions")[0]["amount"]) == expected

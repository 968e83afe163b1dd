"""Money on Decimal, never float (DESIGN invariant 7).

DuckDB divides DECIMAL by an integer into a DOUBLE, and rounding a DOUBLE goes wrong by
a cent on ties (300.03 / 2 = 150.015 becomes 150.01). Averages of money are therefore
divided here, on :class:`~decimal.Decimal`, and rounded half away from zero like the
marts (``macros/money.sql``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENTS = Decimal("0.01")


def divide_money(total: Decimal | int | str, count: int) -> Decimal:
    """``total / count`` rounded to cents half away from zero; 0.00 when ``count`` is 0."""
    if not count:
        return Decimal("0.00")
    return (Decimal(total) / Decimal(count)).quantize(CENTS, rounding=ROUND_HALF_UP)


def tile_money(value: Decimal | int | str | None) -> str:
    """Money for a KPI tile: exact to the cent below a million, else in millions to two
    places ($8.57M), rounded half away from zero on the Decimal. A tile is narrow; the
    exact amount belongs in its help text."""
    if value is None:
        return "–"
    amount = Decimal(str(value))
    if abs(amount) >= 1_000_000:
        millions = (amount / 1_000_000).quantize(CENTS, rounding=ROUND_HALF_UP)
        return f"{'-' if millions < 0 else ''}${abs(millions):,.2f}M"
    cents = amount.quantize(CENTS, rounding=ROUND_HALF_UP)
    return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"

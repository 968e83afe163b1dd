"""Money on Decimal, never float (DESIGN invariant 7).

DuckDB divides DECIMAL by an integer into a DOUBLE, and rounding a DOUBLE goes wrong by
a cent on ties (300.03 / 2 = 150.015 becomes 150.01). Averages of money are therefore
divided here, on :class:`~decimal.Decimal`, and rounded half away from zero like the
marts (``macros/money.sql``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

CENTS = Decimal("0.01")


def divide_money(total: Decimal | int | str, count: int) -> Decimal:
    """``total / count`` rounded to cents half away from zero; 0.00 when ``count`` is 0."""
    if not count:
        return Decimal("0.00")
    return (Decimal(total) / Decimal(count)).quantize(CENTS, rounding=ROUND_HALF_UP)


def tile_money(value: Decimal | int | str | None) -> str:
    """Money for a KPI tile: exact to the cent below a million, else in millions,
    billions or trillions to two places ($8.57M, $1.25B; the largest unit the rounded
    amount reaches 1.00 in, so 999,999,999.99 is $1.00B), and beyond a thousand
    trillion as a power of ten ($1.00e17); rounded half away from zero on the Decimal.
    A tile is narrow; the exact amount belongs in its help text."""
    if value is None:
        return "–"
    amount = Decimal(str(value))
    size = abs(amount)
    sign = "-" if amount < 0 else ""
    if size < _UNITS[0][0]:
        cents = size.quantize(CENTS, rounding=ROUND_HALF_UP)
        return f"{sign if cents else ''}${cents:,.2f}"
    if size >= 1000 * _UNITS[-1][0]:
        exponent = size.adjusted()
        mantissa = size.scaleb(-exponent).quantize(CENTS, rounding=ROUND_HALF_UP)
        if mantissa >= 10:  # 9.995e17 rounds up to 10.00e17
            mantissa, exponent = (mantissa / 10).quantize(CENTS), exponent + 1
        return f"{sign}${mantissa}e{exponent}"
    for scale, suffix in reversed(_UNITS):
        scaled = (size / scale).quantize(CENTS, rounding=ROUND_HALF_UP)
        if scaled >= 1:
            return f"{sign}${scaled:,.2f}{suffix}"
    raise AssertionError("unreachable: the smallest unit is at most the amount")


_UNITS = ((Decimal(10) ** 6, "M"), (Decimal(10) ** 9, "B"), (Decimal(10) ** 12, "T"))


def round_half_away(value: Decimal | float | int | str, places: int = 0) -> Decimal:
    """``value`` rounded to ``places`` decimals half away from zero, the marts' rule.

    Python's ``format()`` and ``round()`` round a tie to even (``f"{0.125:.2f}"`` is
    0.12, ``f"{62.5:.0f}"`` is 62), so labels and tiles would disagree with the tables
    beside them. A float is read through its shortest text (0.3125 stays 0.3125)."""
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percent_text(share: Decimal | float | None, places: int = 1) -> str:
    """A share (0.3125) as a percentage rounded half away from zero: ``31.3%``."""
    if share is None or (isinstance(share, float) and share != share):
        return "–"
    return f"{round_half_away(Decimal(str(share)) * 100, places)}%"


def money_text(value: Decimal | float | int | str) -> str:
    """Money to the cent, the sign before the dollar: ``-$1,461.51`` (``f"${v:,.2f}"``
    wrote ``$-1,461.51``), rounded half away from zero on the Decimal."""
    rounded = round_half_away(value, 2)
    return f"{'-' if rounded < 0 else ''}${abs(rounded):,.2f}"


def percent_number(share: Decimal | float | None, places: int = 1) -> float | None:
    """A share (0.1235) as the percentage a grid shows with ``%.1f``: 12.4, rounded half
    away from zero first (the grid's toFixed rounds the float 12.35 down to 12.3, while
    the bar beside it says 12.4%). None for a missing share."""
    if share is None or pd.isna(share):
        return None
    return float(round_half_away(Decimal(str(share)) * 100, places))


def whole_dollars(value: Decimal | float | int | str) -> str:
    """Money to the dollar for a chart label, half away from zero: ``$1,871``."""
    rounded = round_half_away(value)
    return f"{'-' if rounded < 0 else ''}${abs(rounded):,.0f}"


def exact_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` for a browser grid, which holds numbers as floats: Decimal values (with
    their own scale: 0.10 stays 0.10) and Python ints (a HUGEINT) become their exact
    text; other values and columns are left as they are."""
    shown = frame.copy()
    for position in range(shown.shape[1]):
        values = shown.iloc[:, position]
        if values.dtype != object:
            continue
        exact = [
            format(value, "f")
            if isinstance(value, Decimal)
            else str(value)
            if isinstance(value, int) and not isinstance(value, bool)
            else value
            for value in values
        ]
        shown.isetitem(position, pd.Series(exact, index=shown.index, dtype=object))
    return shown

"""A page of KPI tiles with the widest values the app's formatters produce, for
``test_tile_widths.py`` (run by ``streamlit run``; not a test module itself)."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mart import money  # noqa: E402
from ui import common  # noqa: E402

WIDEST = [
    ("Avg lifetime value", money.tile_money(Decimal("-999999.99"))),
    ("Revenue", money.tile_money(Decimal("999999.99"))),
    ("Revenue", money.tile_money(Decimal("-999994999999.99"))),  # -$999.99B
    ("Revenue", money.tile_money(Decimal("-999994999999999.99"))),  # -$999.99T
    ("Revenue", money.tile_money(Decimal("-9.99e35"))),
    ("Buying customers", f"{999_999_999:,}"),
    ("Transactions", f"{1_000_000_000:,}"),
    ("Repeat rate", money.percent_text(Decimal("0.9999"))),
    ("Changed segment", f"{88_888_888:,}"),
]

row = common.tile_row()
for label, value in WIDEST:
    common.tile(row, label, value, delta=f"-{money.tile_money(Decimal('999999.99'))}")

"""Money averages on the Customers page are exact to the cent, like the Overview's.

300.03 over two customers is 150.015: half away from zero gives 150.02. Dividing in
DuckDB gives a DOUBLE, which rounds it to 150.01 (found by a review).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from mart import insights, overview
from mart.money import divide_money


def _mart(path: Path) -> str:
    con = duckdb.connect(str(path))
    con.execute(
        """
        create table main.fct_customer_metrics as select * from (values
            ('C1', 'Low Value', 1, 100.01::decimal(18, 2), date '2024-01-01', date '2024-01-01'),
            ('C2', 'Low Value', 1, 200.02::decimal(18, 2), date '2024-01-02', date '2024-01-02')
        ) as t (customer_id, customer_segment, transaction_count, lifetime_value,
                first_purchase_date, last_purchase_date);
        create table main.dim_customers as select customer_id, customer_segment, lifetime_value
            from main.fct_customer_metrics;
        create table main.fct_retention_summary as select
            0.0::decimal(9, 4) as repeat_purchase_rate,
            null::decimal(9, 4) as month_1_retention_rate,
            date '2024-03-01' as as_of_date;
        """
    )
    con.close()
    return str(path)


def test_customers_page_and_overview_agree_to_the_cent(tmp_path: Path) -> None:
    db_path = _mart(tmp_path / "mart.duckdb")
    customers = insights.kpis(db_path)
    assert customers.avg_lifetime_value == Decimal("150.02")
    assert customers.avg_order_value == Decimal("150.02")
    assert overview.kpis(db_path).avg_lifetime_value == Decimal("150.02")
    box = insights.ltv_box_stats(db_path)
    assert box["mean"].tolist() == [150.02]


def test_divide_money() -> None:
    assert divide_money(Decimal("300.03"), 2) == Decimal("150.02")
    assert divide_money(Decimal("-300.03"), 2) == Decimal("-150.02")
    assert divide_money(Decimal("1"), 0) == Decimal("0.00")

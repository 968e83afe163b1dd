"""The hand-computed answers for the exercise's 8 transactions, as_of_date = 2024-03-01."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import duckdb

D = Decimal


def test_build_reports_enough_tests(sample_build):
    stdout = sample_build[2]
    found = re.search(r"Found (\d+) models, .*?(\d+) data tests.*?(\d+) unit tests", stdout)
    assert found, stdout[-2000:]
    models, data_tests, unit_tests = map(int, found.groups())
    assert models >= 10
    assert data_tests >= 20
    assert unit_tests >= 2
    assert re.search(r"Done\. PASS=\d+ WARN=0 ERROR=0 SKIP=0", stdout)


def test_customer_metrics_match_hand_computed(query):
    rows = query(
        """
        select customer_id, transaction_count, lifetime_value, avg_order_value,
               first_purchase_date, last_purchase_date, customer_age_days,
               days_since_last_purchase, favorite_category, customer_segment,
               categories_purchased
        from fct_customer_metrics order by customer_id
        """
    )
    by_id = {row[0]: row for row in rows}
    assert set(by_id) == {"C001", "C002", "C003", "C004"}
    c001 = by_id["C001"]
    assert c001[1:4] == (4, D("360.49"), D("90.12"))
    assert str(c001[4]) == "2024-01-15" and str(c001[5]) == "2024-02-15"
    assert c001[6:10] == (46, 15, "Electronics", "Medium Value")
    assert c001[10] == 2
    assert by_id["C002"][1:4] == (2, D("424.99"), D("212.50"))
    assert by_id["C002"][9] == "Medium Value"
    assert by_id["C003"][2] == D("500.00") and by_id["C003"][9] == "High Value"
    assert by_id["C004"][2] == D("350.00") and by_id["C004"][9] == "Medium Value"


def test_money_is_decimal_end_to_end(query):
    types = dict(
        query(
            """
            select table_name || '.' || column_name, data_type
            from information_schema.columns
            where column_name in ('amount', 'lifetime_value', 'avg_order_value', 'total_revenue')
            """
        )
    )
    assert types, "no money columns found"
    for column, data_type in types.items():
        assert data_type.startswith("DECIMAL"), f"{column} is {data_type}"


def test_dim_customers_includes_browsers_and_flags(query):
    rows = dict(
        (row[0], row[1:])
        for row in query(
            """
            select customer_id, customer_segment, is_repeat_customer, has_purchased,
                   lifetime_value, engagement_level, recency_status, session_count
            from dim_customers
            """
        )
    )
    assert set(rows) == {"C001", "C002", "C003", "C004", "C005"}
    assert rows["C005"][:4] == ("Low Value", False, False, D("0.00"))
    assert rows["C005"][5] == "Prospect"
    assert rows["C001"][1] is True and rows["C003"][1] is False
    assert rows["C001"][6] == 4  # four sessions in the sample events


def test_retention_cohorts(query):
    rows = query(
        """
        select cast(cohort_month as varchar), months_since_first_purchase, cohort_size,
               active_customers, retention_rate, is_complete_month
        from fct_cohort_retention order by 1, 2
        """
    )
    # As of 2024-03-01 March has just begun: its cells are not complete months.
    assert rows == [
        ("2024-01-01", 0, 2, 2, D("1.0000"), True),
        ("2024-01-01", 1, 2, 2, D("1.0000"), True),
        ("2024-01-01", 2, 2, 0, D("0.0000"), False),
        ("2024-02-01", 0, 2, 2, D("1.0000"), True),
        ("2024-02-01", 1, 2, 0, D("0.0000"), False),
    ]
    summary = query(
        "select purchasing_customers, repeat_customers, repeat_purchase_rate, "
        "customers_with_month_1, retained_month_1, month_1_retention_rate "
        "from fct_retention_summary"
    )
    # Month-1 retention counts the January cohort only: February's month 1 (March) has
    # run for one day. It used to be (2 + 0) / (2 + 2) = 0.5.
    assert summary == [(4, 2, D("0.5000"), 2, 2, D("1.0000"))]


def test_segment_behaviour_has_all_segments(query):
    rows = query(
        "select customer_segment, customer_count, transaction_count, total_revenue, "
        "avg_order_value from fct_segment_behaviour order by segment_order"
    )
    assert rows == [
        ("High Value", 1, 1, D("500.00"), D("500.00")),
        ("Medium Value", 3, 7, D("1135.48"), D("162.21")),
        ("Low Value", 0, 0, D("0.00"), None),
    ]


def _analysis(sample_build, name: str) -> list[tuple]:
    db_path, target, _ = sample_build
    sql = (Path(target) / "compiled" / "techmart" / "analyses" / f"{name}.sql").read_text()
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def test_analysis_top_customers(sample_build):
    rows = _analysis(sample_build, "top_customers")
    assert [(row[0], row[2]) for row in rows] == [
        ("C003", D("500.00")),
        ("C002", D("424.99")),
        ("C001", D("360.49")),
        ("C004", D("350.00")),
    ]


def test_analysis_segment_distribution(sample_build):
    rows = _analysis(sample_build, "segment_distribution")
    assert [(row[0], row[1], row[2]) for row in rows] == [
        ("High Value", 1, D("500.00")),
        ("Medium Value", 3, D("1135.48")),
        ("Low Value", 0, D("0.00")),
    ]


def test_analysis_favorite_category(sample_build):
    rows = _analysis(sample_build, "favorite_category")
    assert rows[0][:2] == ("Electronics", 4)


def test_analysis_retention_rate(sample_build):
    rows = _analysis(sample_build, "retention_rate")
    overall = {row[5]: row[4] for row in rows if row[0] == "overall"}
    assert overall == {
        "repeat-purchase rate (2+ transactions)": D("0.5000"),
        "month-1 retention": D("1.0000"),
    }
    # the overall rates first, then the cohorts in order: the months in progress came
    # before every complete cohort row ("order by measure desc")
    assert [row[5] for row in rows[:2]] == [
        "repeat-purchase rate (2+ transactions)",
        "month-1 retention",
    ]
    cohorts = [(row[0], row[1]) for row in rows[2:]]
    assert cohorts == sorted(cohorts) and len(cohorts) > 2

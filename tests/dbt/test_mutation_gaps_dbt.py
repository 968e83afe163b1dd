"""Boundaries and values of the marts no other test pinned (found by mutation testing).

Each test failed with one small bug in the dbt project and passes without it: the
recency and engagement boundaries of dim_customers, the 90-day count of
fct_retention_summary, a zero amount and a record dated on the as-of date passing the
custom tests, the share of revenue computed on cents, calendar months since the first
purchase, the repeat-customer flag at two transactions, and the unique_combination test
finding a repeated pair.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import duckdb

AS_OF = "2024-03-01"  # as tests/dbt/conftest.py builds
NO_AUTOLOAD = {"bronze_autoload": False}
AS_OF_DATE = date.fromisoformat(AS_OF)


def _insert(db_path, table: str, records: list[dict], first_number: int) -> None:
    with duckdb.connect(str(db_path)) as connection:
        for offset, record in enumerate(records):
            connection.execute(
                f"insert into bronze.{table} select ?::json, now()::timestamp, 'test', 'test', ?",
                [json.dumps(record), first_number + offset],
            )


def _fetch(db_path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def _days_before(days: int) -> str:
    return (AS_OF_DATE - timedelta(days=days)).isoformat()


def test_recency_engagement_and_90_day_boundaries(build_copy, dbt):
    """Active is at most 30 days since the last purchase, At Risk 31 to 90, Churned
    more than 90; engagement High from 5 sessions, Medium from 2, Low with 1; the
    summary's active_last_90_days counts a purchase exactly 90 days ago."""
    db_path, target = build_copy
    recency = {"R30": 30, "R31": 31, "R90": 90, "R91": 91}
    _insert(
        db_path,
        "raw_transactions",
        [
            {
                "transaction_id": f"T-{customer}",
                "customer_id": customer,
                "transaction_date": _days_before(days),
                "amount": 10.00,
                "product_category": "Audio",
            }
            for customer, days in recency.items()
        ],
        100,
    )
    sessions = {"E5": 5, "E4": 4, "E2": 2, "E1": 1}
    _insert(
        db_path,
        "raw_events",
        [
            {
                "event_id": f"E-{customer}-{session}",
                "customer_id": customer,
                "session_id": f"S-{customer}-{session}",
                "event_type": "page_view",
                "event_timestamp": f"2024-02-0{session + 1}T10:00:00",
            }
            for customer, count in sessions.items()
            for session in range(count)
        ],
        100,
    )
    dbt(["build"], db_path, target, variables=NO_AUTOLOAD)

    rows = dict(
        (row[0], row[1:])
        for row in _fetch(
            db_path,
            "select customers.customer_id, metrics.days_since_last_purchase, "
            "customers.recency_status, customers.session_count, customers.engagement_level "
            "from dim_customers as customers left join fct_customer_metrics as metrics "
            "on customers.customer_id = metrics.customer_id",
        )
    )
    assert {customer: rows[customer][:2] for customer in recency} == {
        "R30": (30, "Active"),
        "R31": (31, "At Risk"),
        "R90": (90, "At Risk"),
        "R91": (91, "Churned"),
    }
    assert {customer: rows[customer][2:] for customer in sessions} == {
        "E5": (5, "High"),
        "E4": (4, "Medium"),
        "E2": (2, "Medium"),
        "E1": (1, "Low"),
    }
    # The sample's four buyers (last purchases 10 to 25 days ago) and R30, R31, R90.
    assert _fetch(db_path, "select active_last_90_days from fct_retention_summary") == [(7,)]


def test_a_zero_amount_and_records_on_the_as_of_date_pass_every_test(build_copy, dbt):
    """A zero-amount promotion is valid (not_negative allows zero) and a transaction or
    event dated on the as-of date is not in the future (not_after_as_of_date): the
    build passes and counts them."""
    db_path, target = build_copy
    _insert(
        db_path,
        "raw_transactions",
        [
            {
                "transaction_id": "T-PROMO",
                "customer_id": "C001",
                "transaction_date": "2024-02-20",
                "amount": 0.00,
                "product_category": "Audio",
            },
            {
                "transaction_id": "T-TODAY",
                "customer_id": "C002",
                "transaction_date": AS_OF,
                "amount": 5.00,
                "product_category": "Audio",
            },
        ],
        100,
    )
    _insert(
        db_path,
        "raw_events",
        [
            {
                "event_id": "E-TODAY",
                "customer_id": "C005",
                "session_id": "S-TODAY",
                "event_type": "page_view",
                "event_timestamp": f"{AS_OF}T23:59:59",
            }
        ],
        100,
    )
    result = dbt(["build"], db_path, target, variables=NO_AUTOLOAD, check=False)
    failures = [line for line in result.stdout.splitlines() if "Failure in" in line]
    assert result.returncode == 0, "\n".join(failures) or result.stdout[-3000:]
    assert "WARN=0 ERROR=0" in result.stdout
    assert _fetch(
        db_path,
        "select customer_id, transaction_count, lifetime_value, days_since_last_purchase "
        "from fct_customer_metrics where customer_id in ('C001', 'C002') order by 1",
    ) == [("C001", 5, Decimal("360.49"), 10), ("C002", 3, Decimal("429.99"), 0)]


def test_share_of_revenue_is_computed_on_cents(query):
    """500.00 / 1635.48 = 0.30572… → 0.3057 (on whole dollars, 500 / 1635, it was
    0.3058); the three shares add up to 1."""
    rows = query(
        "select customer_segment, share_of_customers, share_of_revenue "
        "from fct_segment_behaviour order by segment_order"
    )
    assert rows == [
        ("High Value", Decimal("0.2500"), Decimal("0.3057")),
        ("Medium Value", Decimal("0.7500"), Decimal("0.6943")),
        ("Low Value", Decimal("0.0000"), Decimal("0.0000")),
    ]


def test_a_february_cohort_buying_in_march_is_retained_in_month_1(build_copy, dbt):
    """Months since the first purchase are calendar months: February 1 to March 1 is one
    month though only 29 days (counted as days / 30 it was month 0)."""
    db_path, target = build_copy
    _insert(
        db_path,
        "raw_transactions",
        [
            {
                "transaction_id": "T-MARCH",
                "customer_id": "C003",
                "transaction_date": "2024-03-15",
                "amount": 20.00,
                "product_category": "Audio",
            },
            {
                "transaction_id": "T-N1-MARCH",
                "customer_id": "N1",
                "transaction_date": "2024-03-31",
                "amount": 20.00,
                "product_category": "Audio",
            },
            {
                "transaction_id": "T-N1-APRIL",
                "customer_id": "N1",
                "transaction_date": "2024-04-02",
                "amount": 20.00,
                "product_category": "Audio",
            },
        ],
        100,
    )
    dbt(["build"], db_path, target, variables={**NO_AUTOLOAD, "as_of_date": "2024-04-30"})
    rows = _fetch(
        db_path,
        "select cast(cohort_month as varchar), months_since_first_purchase, cohort_size, "
        "active_customers, retention_rate from fct_cohort_retention "
        "where cohort_month >= date '2024-02-01' order by 1, 2",
    )
    assert rows == [
        ("2024-02-01", 0, 2, 2, Decimal("1.0000")),
        ("2024-02-01", 1, 2, 1, Decimal("0.5000")),
        ("2024-02-01", 2, 2, 0, Decimal("0.0000")),
        ("2024-03-01", 0, 1, 1, Decimal("1.0000")),
        ("2024-03-01", 1, 1, 1, Decimal("1.0000")),
    ]


def test_unique_combination_fails_on_a_repeated_combination(build_copy, dbt):
    """The generic test names a (customer, category) pair held twice, with its count."""
    db_path, target = build_copy
    with duckdb.connect(str(db_path)) as connection:
        connection.execute(
            "insert into int_customer_category_spend select * from int_customer_category_spend "
            "where customer_id = 'C002' and product_category = 'Audio'"
        )
    result = dbt(
        ["test", "--select", "int_customer_category_spend,test_name:unique_combination"],
        db_path,
        target,
        variables=NO_AUTOLOAD,
        check=False,
    )
    assert result.returncode != 0
    name = "unique_combination_int_customer_category_spend_customer_id__product_category"
    assert f"Failure in test {name}" in result.stdout
    # dbt shortens the long name of the view holding the failing rows with a hash
    [(view,)] = _fetch(
        db_path,
        "select view_name from duckdb_views() where schema_name = 'main_dbt_test__audit' "
        "and view_name like 'unique_combination_int_custome%'",
    )
    assert _fetch(db_path, f"select * from main_dbt_test__audit.{view}") == [("C002", "Audio", 2)]


def test_two_transactions_make_a_repeat_customer(query):
    """C002 bought exactly twice: a repeat customer, as the summary counts it."""
    rows = query(
        "select customer_id, transaction_count, is_repeat_customer "
        "from dim_customers order by customer_id"
    )
    assert rows == [
        ("C001", 4, True),
        ("C002", 2, True),
        ("C003", 1, False),
        ("C004", 1, False),
        ("C005", 0, False),
    ]
    assert query("select repeat_customers from fct_retention_summary") == [(2,)]

"""Small DuckDB files shaped like the published mart, made fresh for each test."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from mart import db

MART_SQL = """
create table main.fct_customer_metrics as
select * from (values
    ('C001', 'Electronics', 'High Value', 3, 1200.50::decimal(18, 2), 400.17::decimal(18, 2), 10),
    ('C002', 'Books', 'Medium Value', 2, 450.00::decimal(18, 2), 225.00::decimal(18, 2), 40),
    ('C003', 'Clothing', 'Low Value', 1, 80.25::decimal(18, 2), 80.25::decimal(18, 2), 200)
) as customers(
    customer_id, favorite_category, customer_segment, transaction_count,
    lifetime_value, avg_order_value, days_since_last_purchase
);

create table main.fct_transactions as
select * from (values
    ('T1', 'C001', 'Electronics', 1000.00::decimal(18, 2), date '2024-01-05'),
    ('T2', 'C001', 'Electronics', 150.50::decimal(18, 2), date '2024-02-10'),
    ('T3', 'C001', 'Books', 50.00::decimal(18, 2), date '2024-02-11'),
    ('T4', 'C002', 'Books', 200.00::decimal(18, 2), date '2024-01-20'),
    ('T5', 'C002', 'Books', 250.00::decimal(18, 2), date '2024-03-01'),
    ('T6', 'C003', 'Clothing', 80.25::decimal(18, 2), date '2024-03-15')
) as transactions(transaction_id, customer_id, product_category, amount, transaction_date);
alter table main.fct_transactions add column transaction_month date;
update main.fct_transactions set transaction_month = date_trunc('month', transaction_date);

create table main.fct_cohort_retention as
select * from (values
    (date '2024-01-01', 0, 2, 2, 1.0000::decimal(7, 4)),
    (date '2024-01-01', 1, 2, 1, 0.5000::decimal(7, 4)),
    (date '2024-03-01', 0, 1, 1, 1.0000::decimal(7, 4))
) as retention(
    cohort_month, months_since_first_purchase, cohort_size, active_customers, retention_rate
);

create table main.fct_segment_behaviour as
select * from (values
    ('High Value', 1, 1, 1200.50::decimal(18, 2), 1200.50::decimal(18, 2), 400.17::decimal(18, 2)),
    ('Medium Value', 2, 1, 450.00::decimal(18, 2), 450.00::decimal(18, 2), 225.00::decimal(18, 2)),
    ('Low Value', 3, 1, 80.25::decimal(18, 2), 80.25::decimal(18, 2), 80.25::decimal(18, 2))
) as segments(
    customer_segment, segment_order, customer_count, total_revenue, avg_lifetime_value,
    avg_order_value
);

create view main.dim_customers as
select customer_id, customer_segment from main.fct_customer_metrics;

create table main.big_20k as select range as id from range(20000);
create table main.big_10k as select range as id from range(10000);

create schema bronze;
create table bronze.raw_transactions as select '{"id": 1}' as raw_data;
"""


def make_mart(path: Path) -> Path:
    """Write a small mart-shaped DuckDB file at ``path`` and close it."""
    with duckdb.connect(str(path)) as con:
        con.execute(MART_SQL)
    return path


@pytest.fixture
def mart_factory() -> Callable[[Path], Path]:
    """:func:`make_mart`, for tests that need several files."""
    return make_mart


@pytest.fixture(scope="session")
def _mart_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_mart(tmp_path_factory.mktemp("template") / "mart.duckdb")


@pytest.fixture
def mart_db(tmp_path: Path, _mart_template: Path) -> Path:
    """A published-mart-like DuckDB file of this test's own (closed; no connection held)."""
    path = tmp_path / "mart.duckdb"
    shutil.copyfile(_mart_template, path)
    return path


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A readable CSV outside the mart that the sandbox must never read."""
    path = tmp_path / "secret.csv"
    path.write_text("password\nhunter2\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _close_cached_connections() -> Iterator[None]:
    """No cached connection outlives a test (their files are in tmp_path)."""
    yield
    db.close_all()

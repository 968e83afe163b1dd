"""Synthetic data: determinism, shapes (repeat rate, spend skew, seasonality, funnel)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import pytest

from mart import datasets
from mart.errors import InputError
from mart.generate import CATEGORIES, FUNNEL, generate, generate_data


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One generated workspace, loaded into DuckDB tables tx and ev for the shape tests."""
    from mart.workspace import Workspace

    ws = Workspace.from_env(tmp_path_factory.mktemp("gen") / "workspace")
    versions = generate(ws, customers=2000, transactions=12000, seed=7)
    con = duckdb.connect()
    for name, table in (("transactions", "tx"), ("events", "ev")):
        path = datasets.version_path(ws, name, versions[name].id)
        con.execute(
            f"create table {table} as select record_number, raw_data::JSON as j "
            f"from read_parquet('{path}')"
        )
    con.execute(
        "create table t as select j->>'transaction_id' as id, j->>'customer_id' as customer, "
        "(j->>'transaction_date')::DATE as day, (j->>'amount')::DECIMAL(18, 2) as amount, "
        "j->>'product_category' as category from tx"
    )
    con.execute(
        "create table e as select j->>'event_id' as id, j->>'customer_id' as customer, "
        "j->>'session_id' as session, j->>'event_type' as type, "
        "(j->>'event_timestamp')::TIMESTAMP as ts, j->>'product_category' as category from ev"
    )
    return ws, versions, con


def scalar(con, sql):
    return con.execute(sql).fetchall()[0][0]


def test_same_seed_same_data_other_seed_other_data():
    one = generate_data(300, 1500, seed=3)
    two = generate_data(300, 1500, seed=3)
    other = generate_data(300, 1500, seed=4)
    assert one.transactions.equals(two.transactions)
    assert one.events.equals(two.events)
    assert not one.transactions.equals(other.transactions)


def test_versions_are_byte_identical_for_a_seed(tmp_path):
    from mart.workspace import Workspace

    texts = []
    for name in ("a", "b"):
        ws = Workspace.from_env(tmp_path / name)
        version = generate(ws, customers=100, transactions=400, events=1500, seed=11)["events"]
        path = datasets.version_path(ws, "events", version.id)
        texts.append(
            duckdb.execute(f"select list(raw_data) from read_parquet('{path}')").fetchall()
        )
    assert texts[0] == texts[1]


def test_counts_and_ids(generated):
    _, versions, con = generated
    assert versions["transactions"].row_count == 12000
    assert versions["transactions"].kind == "generate"
    assert scalar(con, "select count(distinct id) from t") == 12000
    assert scalar(con, "select min(id) || ' ' || max(id) from t") == "T0000001 T0012000"
    assert scalar(con, "select count(distinct id) from e") == versions["events"].row_count
    assert scalar(con, "select count(*) from t where customer is null or amount is null") == 0
    # Transaction ids follow date order.
    assert scalar(
        con,
        "select bool_and(ok) from (select day >= lag(day) over (order by id) "
        "or lag(day) over (order by id) is null as ok from t)",
    )


def test_exact_event_count_and_validation():
    data = generate_data(50, 200, 777, seed=1)
    assert data.events.num_rows == 777
    with pytest.raises(InputError, match=r"at least the number of transactions \(200\)"):
        generate_data(50, 200, 100)
    with pytest.raises(InputError, match="customers"):
        generate_data(0, 10)


def test_amounts_have_cents_and_a_skewed_spend(generated):
    _, _, con = generated
    assert (
        scalar(
            con, "select count(*) from t where amount < 0.99 or amount * 100 <> floor(amount * 100)"
        )
        == 0
    )
    texts = con.execute("select j->>'amount' from tx limit 50").fetchall()
    assert all(len(text.split(".")[-1]) <= 2 for (text,) in texts)
    spend = np.array(
        [float(v) for (v,) in con.execute("select sum(amount) from t group by customer").fetchall()]
    )
    assert spend.mean() > 1.3 * np.median(spend)  # right-skewed
    top = np.sort(spend)[::-1][: len(spend) // 10].sum() / spend.sum()
    assert top > 0.3  # the top 10% of buyers spend over 30%


def test_repeat_purchases_churn_and_non_buyers(generated):
    _, _, con = generated
    buyers = scalar(con, "select count(distinct customer) from t")
    assert 1500 <= buyers <= 1700  # about 80% of 2000
    repeaters = scalar(
        con, "select count(*) from (select customer from t group by customer having count(*) > 1)"
    )
    assert 0.4 < repeaters / buyers < 0.85
    browsers = scalar(
        con, "select count(distinct customer) from e where customer not in (select customer from t)"
    )
    assert browsers >= 300
    # Churn: customers acquired in the first quarter are mostly inactive in the last one.
    active_late = scalar(
        con,
        """
        with first as (select customer, min(day) as first_day from t group by customer)
        select avg(case when exists (select 1 from t where t.customer = first.customer
                                     and t.day >= DATE '2024-10-01') then 1 else 0 end)
        from first where first_day < DATE '2023-04-01'""",
    )
    assert active_late < 0.5


def test_dates_in_range_with_a_holiday_peak(generated):
    _, _, con = generated
    low, high = con.execute("select min(day), max(day) from t").fetchall()[0]
    assert low >= date(2023, 1, 2) and high <= date(2024, 12, 31)
    assert scalar(con, "select max(ts) from e") < datetime(2025, 1, 1)
    by_month = dict(
        con.execute(
            "select month(day), count(*) from t where year(day) = 2024 group by 1"
        ).fetchall()
    )
    assert by_month[12] > 1.4 * by_month[2]
    categories = {c for (c,) in con.execute("select distinct category from t").fetchall()}
    assert categories == set(CATEGORIES)


def test_funnel_is_consistent_with_purchases(generated):
    _, _, con = generated
    counts = dict(con.execute("select type, count(*) from e group by type").fetchall())
    assert set(counts) == set(FUNNEL)
    assert counts["purchase"] == 12000
    assert counts["page_view"] > counts["purchase"] and counts["add_to_cart"] > counts["purchase"]
    # Every transaction has one purchase event for its customer, on its date and category.
    matched = scalar(
        con,
        """
        select count(*) from (
          select customer, day, category, count(*) as n from t group by all) as tx
        join (select customer, ts::DATE as day, category, count(*) as n from e
              where type = 'purchase' group by all) as ev using (customer, day, category)
        where tx.n = ev.n""",
    )
    groups = scalar(con, "select count(*) from (select distinct customer, day, category from t)")
    assert matched == groups
    # Sessions belong to one customer; at most one purchase each; funnel order in time.
    assert (
        scalar(
            con, "select max(n) from (select count(distinct customer) as n from e group by session)"
        )
        == 1
    )
    assert (
        scalar(
            con,
            "select max(n) from (select count(*) filter (where type = 'purchase') "
            "as n from e group by session)",
        )
        == 1
    )
    abandoned = scalar(
        con,
        "select count(*) from (select session from e group by session "
        "having bool_or(type = 'add_to_cart') and not bool_or(type = 'purchase'))",
    )
    assert abandoned > 100
    out_of_order = scalar(
        con,
        """
        select count(*) from (
          select type, lag(type) over (partition by session order by ts, id) as previous from e)
        where previous is not null and list_position(['page_view', 'product_view',
              'add_to_cart', 'purchase'], type) <= list_position(['page_view', 'product_view',
              'add_to_cart', 'purchase'], previous)""",
    )
    assert out_of_order == 0
    assert (
        scalar(con, "select count(*) from e where type = 'page_view' and category is not null") == 0
    )


def test_generate_reports_progress_in_order(workspace):
    from mart.generate import generate
    from mart.workspace import Workspace

    steps: list[tuple[float, str]] = []
    generate(
        Workspace.from_env(workspace),
        customers=50,
        transactions=300,
        events=900,
        seed=3,
        on_progress=lambda fraction, step: steps.append((fraction, step)),
    )
    fractions = [fraction for fraction, _ in steps]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert any("300 transactions" in step for _, step in steps)
    assert any("900 events" in step for _, step in steps)

"""The business questions as queries on a published mart: KPIs, segments, LTV, retention.

Every function takes the DuckDB path first and returns a DataFrame or a dataclass, so
pages cache them per published build (``ui.common.cached``) and hold no SQL. All
aggregation happens in DuckDB: a chart never receives more than a few thousand rows,
whatever the size of the mart. Money is summed and averaged on DECIMAL in SQL (half away
from zero, like the marts); frames carry it as float only for display.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mart.artifacts import BuildArtifacts
from mart.artifacts import load_cached as load_artifacts
from mart.db import cached_cursor, query_df
from mart.db import table_preview as db_table_preview
from mart.errors import InputError
from mart.money import divide_money, money_text
from mart.sandbox import QueryResult, run_sql
from mart.workspace import DBT_PROJECT_DIR, project_vars

DbPath = str | os.PathLike[str]

SEGMENTS: tuple[str, ...] = ("High Value", "Medium Value", "Low Value")
"""The three customer segments, most valuable first (macros/segmentation.sql)."""

THRESHOLD_VARS = ("high_value_threshold", "medium_value_threshold")

MAX_TOP_N = 1_000
MAX_SEARCH_RESULTS = 200
MAX_CUSTOMER_ROWS = 5_000


# -- segment thresholds ------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """The lifetime-value thresholds a build segmented customers with."""

    high: Decimal
    medium: Decimal
    is_default: bool = False

    def as_vars(self) -> dict[str, float | int]:
        """The dbt vars for a build with these thresholds (whole numbers stay ints)."""
        return {
            "high_value_threshold": _plain_number(self.high),
            "medium_value_threshold": _plain_number(self.medium),
        }

    def describe(self) -> str:
        """One line: the rule in words."""
        return (
            f"High Value ≥ ${self.high:,.2f} · Medium Value ≥ ${self.medium:,.2f} · "
            f"Low Value below ${self.medium:,.2f}"
        )


def _plain_number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


@lru_cache(maxsize=1)
def default_thresholds() -> Thresholds:
    """The thresholds in dbt_project.yml's vars (what a build without vars uses)."""
    declared = project_vars(DBT_PROJECT_DIR) or {}
    try:
        return Thresholds(
            high=Decimal(str(declared.get("high_value_threshold", 500))),
            medium=Decimal(str(declared.get("medium_value_threshold", 200))),
            is_default=True,
        )
    except (ValueError, ArithmeticError):
        return Thresholds(high=Decimal(500), medium=Decimal(200), is_default=True)


def thresholds_from_vars(build_vars: dict[str, Any] | None) -> Thresholds:
    """The thresholds a build used, from its record's vars (defaults where not given)."""
    defaults = default_thresholds()
    build_vars = build_vars or {}
    if not any(name in build_vars for name in THRESHOLD_VARS):
        return defaults
    try:
        high = Decimal(str(build_vars.get("high_value_threshold", defaults.high)))
        medium = Decimal(str(build_vars.get("medium_value_threshold", defaults.medium)))
    except ArithmeticError:
        return defaults
    return Thresholds(high=high, medium=medium, is_default=False)


# The largest threshold: a browser's number field holds a float, exact to the cent only
# below about 9 * 10^13, and no segment boundary needs more than a trillion dollars.
MAX_THRESHOLD = Decimal("999999999999.99")


def validate_thresholds(high: float | Decimal, medium: float | Decimal) -> Thresholds:
    """New thresholds from a form; InputError unless high > medium ≥ 0, both finite and
    at most :data:`MAX_THRESHOLD`."""
    not_numbers = "Thresholds must be finite numbers in dollars, such as 500 or 199.99."
    try:
        high_d, medium_d = Decimal(str(high)), Decimal(str(medium))
    except ArithmeticError:
        raise InputError(not_numbers) from None
    if not (high_d.is_finite() and medium_d.is_finite()):
        raise InputError(not_numbers)
    for name, value in (("high", high_d), ("medium", medium_d)):
        try:
            cents = value.quantize(Decimal("0.01"))
        except ArithmeticError:  # more digits than a Decimal holds
            raise InputError(not_numbers) from None
        if cents != value:
            raise InputError(
                f"The {name} threshold is in dollars and cents: {value} has more than 2 decimals."
            )
    high_d, medium_d = high_d.quantize(Decimal("0.01")), medium_d.quantize(Decimal("0.01"))
    if max(high_d, medium_d) > MAX_THRESHOLD:
        raise InputError(
            f"Thresholds go up to ${MAX_THRESHOLD:,.2f}; "
            f"{money_text(max(high_d, medium_d))} is more than that."
        )
    if medium_d < 0:
        raise InputError(f"The medium threshold must be $0 or more, not {money_text(medium_d)}.")
    if high_d <= medium_d:
        raise InputError(
            f"The high threshold ({money_text(high_d)}) must be greater than the medium "
            f"threshold ({money_text(medium_d)})."
        )
    return Thresholds(high=high_d, medium=medium_d)


def thresholds_from_fields(high: float, medium: float) -> Thresholds:
    """Thresholds from two number fields that show their value with two decimals.

    A field's value is read as the field shows it, to the cent: typed as 1000.005 it
    shows "1000.00", and refusing it as "more than 2 decimals" under a field reading
    1000.00 makes no sense to the user. Not finite values are refused as by
    :func:`validate_thresholds`.
    """

    def as_shown(value: float) -> Decimal | float:
        try:
            return Decimal(f"{float(value):.2f}")
        except (ArithmeticError, ValueError, TypeError):
            return value  # nan/inf: validate_thresholds says what is wrong

    return validate_thresholds(as_shown(high), as_shown(medium))


# -- KPIs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpis:
    """The headline numbers of the mart."""

    known_customers: int
    purchasing_customers: int
    transactions: int
    revenue: Decimal
    avg_order_value: Decimal | None
    avg_lifetime_value: Decimal | None
    repeat_purchase_rate: Decimal | None
    month_1_retention_rate: Decimal | None
    first_transaction: date | None
    last_transaction: date | None
    as_of_date: date | None


def _one(db_path: DbPath, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
    with cached_cursor(db_path) as cursor:
        return cursor.execute(sql, params or []).fetchone()


def kpis(db_path: DbPath) -> Kpis:
    """Customers, transactions, revenue, AOV, average LTV and retention, exact decimals."""
    row = _one(
        db_path,
        """
        with metrics as (
            select
                count(*) as purchasing_customers,
                coalesce(sum(transaction_count), 0) as transactions,
                coalesce(sum(lifetime_value), 0) as revenue,
                min(first_purchase_date) as first_transaction,
                max(last_purchase_date) as last_transaction
            from main.fct_customer_metrics
        )
        select
            (select count(*) from main.dim_customers) as known_customers,
            metrics.purchasing_customers,
            metrics.transactions,
            cast(metrics.revenue as decimal(38, 2)) as revenue,
            summary.repeat_purchase_rate,
            summary.month_1_retention_rate,
            metrics.first_transaction,
            metrics.last_transaction,
            cast(summary.as_of_date as date) as as_of_date
        from metrics
        left join main.fct_retention_summary as summary on true
        """,
    )
    assert row is not None  # an aggregate always returns a row
    buyers, transactions = int(row[1]), int(row[2])
    revenue = Decimal(row[3] or 0)
    # Divided on Decimal here: DuckDB's DECIMAL / integer is a DOUBLE (mart.money).
    return Kpis(
        known_customers=int(row[0]),
        purchasing_customers=buyers,
        transactions=transactions,
        revenue=revenue,
        avg_order_value=divide_money(revenue, transactions) if transactions else None,
        avg_lifetime_value=divide_money(revenue, buyers) if buyers else None,
        repeat_purchase_rate=row[4],
        month_1_retention_rate=row[5],
        first_transaction=row[6],
        last_transaction=row[7],
        as_of_date=row[8],
    )


# -- segments and lifetime value ---------------------------------------------------------


def segment_distribution(db_path: DbPath) -> pd.DataFrame:
    """One row per segment (all three, empty ones with zeros): size, value, behaviour."""
    return query_df(
        db_path,
        """
        select
            customer_segment,
            customer_count,
            total_revenue,
            coalesce(share_of_customers, 0) as share_of_customers,
            coalesce(share_of_revenue, 0) as share_of_revenue,
            transaction_count,
            avg_order_value,
            avg_lifetime_value,
            avg_transactions_per_customer,
            avg_categories_per_customer
        from main.fct_segment_behaviour
        order by segment_order
        """,
    )


def _nice_step(raw: float) -> float:
    """A round bin width (1, 2, 2.5 or 5 times a power of ten) not below ``raw``."""
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def ltv_histogram(db_path: DbPath, bins: int = 40) -> pd.DataFrame:
    """Customers per lifetime-value bin and segment, binned in SQL.

    Bins have a round width and cover up to the 95th percentile; the last bin holds
    everything above (``is_overflow``, its bin_end the maximum), so a few whales do not
    squash the chart. Customers whose refunds outweigh their purchases (a mart published
    anyway) are in a bin of their own below $0 (bin_start one width below 0, bin_end 0):
    they were counted in the first bin, from $0. Columns: bin_start, bin_end,
    customer_segment, customer_count, is_overflow.
    """
    bins = max(1, min(int(bins), 200))
    bounds = _one(
        db_path,
        "select quantile_cont(lifetime_value, 0.95), max(lifetime_value), "
        "min(lifetime_value) from main.fct_customer_metrics",
    )
    if bounds is None or bounds[1] is None:
        return pd.DataFrame(
            columns=["bin_start", "bin_end", "customer_segment", "customer_count", "is_overflow"]
        )
    p95, top, low = float(bounds[0]), float(bounds[1]), float(bounds[2])
    # a 95th percentile of $0 or less (refunds in a mart published anyway) gave bins of a
    # fraction of a cent, labelled "$0 – $0": then the widest value sets the width
    step = _nice_step((p95 if p95 > 0 else max(abs(low), top, 1.0)) / bins)
    last = int(math.floor(top / step))
    cap = min(last, bins)
    frame = query_df(
        db_path,
        """
        with binned as (
            select
                case
                    when lifetime_value < 0 then -1
                    else least(cast(floor(lifetime_value / $step) as integer), $cap)
                end as bin_index,
                customer_segment
            from main.fct_customer_metrics
        )
        select
            bin_index,
            customer_segment,
            count(*) as customer_count
        from binned
        group by all
        order by bin_index, customer_segment
        """,
        {"step": step, "cap": cap},
    )
    frame["bin_start"] = frame["bin_index"].astype("float64") * float(step)
    frame["is_overflow"] = (frame["bin_index"] == cap) & (last > cap)
    frame["bin_end"] = frame["bin_start"] + step
    frame.loc[frame["is_overflow"], "bin_end"] = top
    return frame[["bin_start", "bin_end", "customer_segment", "customer_count", "is_overflow"]]


def ltv_box_stats(db_path: DbPath) -> pd.DataFrame:
    """Lifetime value quartiles per segment (for box plots without shipping raw rows).

    Columns: customer_segment, customer_count, min, q1, median, q3, max, p95, mean.
    Segments without customers are left out (a box needs data).
    """
    frame = query_df(
        db_path,
        """
        with segments as (
            select * from (values ('High Value', 1), ('Medium Value', 2), ('Low Value', 3))
                as segments (customer_segment, segment_order)
        )
        select
            segments.customer_segment,
            count(*) as customer_count,
            min(lifetime_value) as min,
            quantile_cont(lifetime_value, 0.25) as q1,
            quantile_cont(lifetime_value, 0.5) as median,
            quantile_cont(lifetime_value, 0.75) as q3,
            max(lifetime_value) as max,
            quantile_cont(lifetime_value, 0.95) as p95,
            sum(lifetime_value) as total
        from main.fct_customer_metrics as metrics
        inner join segments on metrics.customer_segment = segments.customer_segment
        group by segments.customer_segment, segments.segment_order
        order by segments.segment_order
        """,
    )
    # The mean to the cent on Decimal (DuckDB's avg() over DECIMAL is a DOUBLE).
    frame["mean"] = [
        float(divide_money(Decimal(str(total)), int(count)))
        for total, count in zip(frame["total"], frame["customer_count"], strict=True)
    ]
    return frame.drop(columns="total")


def top_customers(db_path: DbPath, n: int = 10) -> pd.DataFrame:
    """The ``n`` most valuable customers (ties by customer id, like the analysis)."""
    limit = max(1, min(int(n), MAX_TOP_N))
    return query_df(
        db_path,
        """
        select
            customer_id,
            customer_segment,
            lifetime_value,
            transaction_count,
            avg_order_value,
            favorite_category,
            first_purchase_date,
            last_purchase_date,
            days_since_last_purchase
        from main.fct_customer_metrics
        order by lifetime_value desc, customer_id asc
        limit $limit
        """,
        {"limit": limit},
    )


def favourite_categories(db_path: DbPath) -> pd.DataFrame:
    """Customers and their lifetime value per favourite category, most popular first."""
    return query_df(
        db_path,
        """
        select
            favorite_category,
            count(*) as customer_count,
            sum(lifetime_value) as lifetime_value
        from main.fct_customer_metrics
        group by favorite_category
        order by customer_count desc, favorite_category asc
        """,
    )


# -- one customer ------------------------------------------------------------------------


def search_customers(db_path: DbPath, text: str = "", limit: int = 50) -> pd.DataFrame:
    """Customers whose id contains ``text`` (any case), exact match first, then by value.

    Empty text lists the most valuable customers. At most ``limit`` rows (≤ 200);
    ``matches`` is how many customers match in all.
    """
    limit = max(1, min(int(limit), MAX_SEARCH_RESULTS))
    needle = (text or "").strip()
    return query_df(
        db_path,
        """
        select
            customer_id, customer_segment, lifetime_value, transaction_count,
            count(*) over () as matches
        from main.dim_customers
        where $needle = '' or contains(lower(customer_id), lower($needle))
        order by lower(customer_id) = lower($needle) desc, lifetime_value desc, customer_id
        limit $limit
        """,
        {"needle": needle, "limit": limit},
    )


def customer_profile(db_path: DbPath, customer_id: str) -> dict[str, Any] | None:
    """Everything the mart knows about one customer (dim_customers + age), or None."""
    frame = query_df(
        db_path,
        """
        select
            customers.*,
            metrics.customer_age_days,
            metrics.days_since_last_purchase
        from main.dim_customers as customers
        left join main.fct_customer_metrics as metrics
            on customers.customer_id = metrics.customer_id
        where customers.customer_id = $customer_id
        """,
        {"customer_id": customer_id},
    )
    if frame.empty:
        return None
    return {key: (None if _missing(value) else value) for key, value in frame.iloc[0].items()}


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def customer_transactions(db_path: DbPath, customer_id: str) -> pd.DataFrame:
    """The customer's transactions, oldest first (at most 5,000)."""
    return query_df(
        db_path,
        """
        select transaction_id, transaction_date, product_category, amount, is_refund
        from main.fct_transactions
        where customer_id = $customer_id
        order by transaction_date, transaction_id
        limit $limit
        """,
        {"customer_id": customer_id, "limit": MAX_CUSTOMER_ROWS},
    )


def transactions_note(counted: int, rows: int) -> str | None:
    """Why a customer's transactions table holds ``rows`` rows when the metrics count
    ``counted`` transactions; None when they agree.

    The metrics count staging's records; the table is ``fct_transactions``, an
    incremental model that holds a record repeated byte for byte once, capped at
    MAX_CUSTOMER_ROWS.
    They differ only in a mart whose tests failed (published anyway), or when the cap
    cuts the list.
    """
    if rows == counted:
        return None
    if rows >= MAX_CUSTOMER_ROWS and counted > rows:
        return f"The first {rows:,} of {counted:,} transactions are shown."
    return (
        f"The metrics count {counted:,} transaction(s) from staging; fct_transactions "
        f"(incremental, one row per record) holds {rows:,} for this customer. They "
        "differ when a record repeats byte for byte (the fact holds it once): the tests "
        "unique_stg_transactions_transaction_id and assert_mart_totals_match_staging "
        "fail then, and a build is only published like this when someone publishes it "
        "anyway."
    )


def customer_events(db_path: DbPath, customer_id: str) -> pd.DataFrame:
    """The customer's events, oldest first (at most 5,000)."""
    return query_df(
        db_path,
        """
        select event_id, session_id, event_type, product_category, event_at
        from main.stg_events
        where customer_id = $customer_id
        order by event_at, event_id
        limit $limit
        """,
        {"customer_id": customer_id, "limit": MAX_CUSTOMER_ROWS},
    )


def customer_segment_history(db_path: DbPath, customer_id: str) -> pd.DataFrame:
    """The customer's SCD2 rows from the snapshot, oldest first; the open row is current."""
    return query_df(
        db_path,
        """
        select
            customer_segment,
            lifetime_value,
            transaction_count,
            favorite_category,
            is_repeat_customer,
            valid_from,
            valid_to,
            is_current
        from main.dim_customer_segment_history
        where customer_id = $customer_id
        order by valid_from, valid_to nulls last
        """,
        {"customer_id": customer_id},
    )


# -- retention and behaviour -------------------------------------------------------------


@dataclass(frozen=True)
class RetentionSummary:
    """fct_retention_summary's one row."""

    as_of_date: date | None
    purchasing_customers: int
    repeat_customers: int
    active_last_90_days: int
    repeat_purchase_rate: Decimal | None
    customers_with_month_1: int
    retained_month_1: int
    month_1_retention_rate: Decimal | None


def retention_summary(db_path: DbPath) -> RetentionSummary:
    """The overall repeat-purchase rate and month-1 retention."""
    row = _one(
        db_path,
        """
        select
            cast(as_of_date as date), purchasing_customers, repeat_customers,
            active_last_90_days, repeat_purchase_rate, customers_with_month_1,
            retained_month_1, month_1_retention_rate
        from main.fct_retention_summary
        """,
    )
    if row is None:
        return RetentionSummary(None, 0, 0, 0, None, 0, 0, None)
    return RetentionSummary(
        as_of_date=row[0],
        purchasing_customers=int(row[1] or 0),
        repeat_customers=int(row[2] or 0),
        active_last_90_days=int(row[3] or 0),
        repeat_purchase_rate=row[4],
        customers_with_month_1=int(row[5] or 0),
        retained_month_1=int(row[6] or 0),
        month_1_retention_rate=row[7],
    )


def cohort_retention(db_path: DbPath) -> pd.DataFrame:
    """Cohort × months-since-first-purchase grid: cohort_size, active customers, rate,
    and whether the month is complete (as_of_date has reached its last day).

    ``is_complete_month`` is computed here from activity_month and the build's as-of
    date, as the model does, so marts built before the model had it show it too.
    """
    return query_df(
        db_path,
        """
        select
            retention.cohort_month,
            retention.months_since_first_purchase,
            retention.cohort_size,
            retention.active_customers,
            retention.retention_rate,
            coalesce(
                cast(retention.activity_month + interval 1 month - interval 1 day as date)
                    <= summary.as_of_date,
                true
            ) as is_complete_month
        from main.fct_cohort_retention as retention
        cross join (select max(as_of_date) as as_of_date from main.fct_retention_summary)
            as summary
        order by retention.cohort_month, retention.months_since_first_purchase
        """,
    )


def segment_category_mix(db_path: DbPath) -> pd.DataFrame:
    """Revenue and transactions per segment and category, segments in value order."""
    return query_df(
        db_path,
        """
        select
            customer_segment,
            product_category,
            transaction_count,
            customer_count,
            revenue,
            share_of_segment_revenue
        from main.fct_segment_category_mix
        order by
            case customer_segment
                when 'High Value' then 1 when 'Medium Value' then 2 else 3 end,
            revenue desc,
            product_category
        """,
    )


def monthly_revenue(db_path: DbPath) -> pd.DataFrame:
    """Revenue, transactions and buying customers per calendar month, oldest first.

    Buying customers per month come from the cohort table (each customer is in exactly one
    cohort, so the cohorts' active customers add up to the month's distinct buyers);
    a count(distinct) over every transaction would cost ~0.7 s at 1M rows.
    """
    return query_df(
        db_path,
        """
        with monthly as (
            select
                transaction_month,
                count(*) as transaction_count,
                sum(amount) as revenue
            from main.fct_transactions
            group by transaction_month
        ),

        buyers as (
            select
                activity_month,
                sum(active_customers) as customer_count
            from main.fct_cohort_retention
            group by activity_month
        )

        select
            monthly.transaction_month,
            monthly.transaction_count,
            cast(coalesce(buyers.customer_count, 0) as bigint) as customer_count,
            monthly.revenue
        from monthly
        left join buyers
            on monthly.transaction_month = buyers.activity_month
        order by monthly.transaction_month
        """,
    )


# -- the build's dbt artifacts -----------------------------------------------------------


def target_dir(db_path: DbPath) -> Path:
    """The dbt target directory of the build whose DuckDB file is ``db_path``."""
    return Path(db_path).parent / "target"


def docs_site_path(db_path: DbPath) -> Path | None:
    """The build's one-file dbt docs site (``dbt docs generate --static``), if written yet."""
    path = target_dir(db_path) / "static_index.html"
    return path if path.is_file() else None


def docs_status(db_path: DbPath) -> str:
    """``ready``, ``running``, ``failed`` or ``unknown`` for the build's docs generation."""
    if docs_site_path(db_path) is not None:
        return "ready"
    status_file = Path(db_path).parent / "docs.json"
    try:
        status = yaml.safe_load(status_file.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "unknown"
    value = status.get("status") if isinstance(status, dict) else None
    return str(value) if value in {"running", "failed"} else "unknown"


def build_artifacts(db_path: DbPath) -> BuildArtifacts:
    """The parsed dbt artifacts (lineage, docs, tests, analyses) of the build at ``db_path``.

    Remembered until an artifact file changes (docs generated later add the catalog).
    """
    return load_artifacts(target_dir(db_path), db_path)


def run_analysis(db_path: DbPath, name: str, row_limit: int = 10_000) -> QueryResult:
    """Run dbt analysis ``name`` (its compiled SQL) in the read-only sandbox."""
    sql = build_artifacts(db_path).compiled_analysis_sql(name)
    return run_sql(db_path, sql, row_limit=row_limit)


def table_preview(db_path: DbPath, relation: str, limit: int = 100) -> pd.DataFrame:
    """The first ``limit`` rows of ``schema.table`` in the published mart."""
    return db_table_preview(db_path, relation, limit)

"""The Overview page's numbers: KPIs of a published build, and what changed between two.

Every function takes the path of a build's DuckDB file first and reads it read-only
through :mod:`mart.db`, so the app can cache results per build id
(``ui.common.cached``). Money stays exact (DESIGN invariant 7): sums come back from
DuckDB as DECIMAL, and the average lifetime value is divided and rounded here on
:class:`~decimal.Decimal` (half away from zero), never through a float.

:func:`layers_figure` draws the medallion picture (bronze → staging → intermediate →
marts) with plotly shapes, so no Graphviz binary is needed.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go

from mart import db
from mart.charts import SEGMENT_COLOURS
from mart.money import CENTS, divide_money

#: Segments in display order (macros/segmentation.sql).
SEGMENTS = ("High Value", "Medium Value", "Low Value")

Path_ = str | os.PathLike[str]


@dataclass(frozen=True)
class Kpis:
    """The headline numbers of one build."""

    customers: int  # every known customer (dim_customers: buyers and browsers)
    buyers: int  # customers with at least one transaction
    revenue: Decimal
    avg_lifetime_value: Decimal  # revenue / buyers, rounded half away from zero
    repeat_customers: int
    transactions: int
    segments: dict[str, int] = field(default_factory=dict)  # buyers per segment

    @property
    def repeat_rate(self) -> float:
        """Share of buyers with two or more transactions (0 when there are no buyers)."""
        return self.repeat_customers / self.buyers if self.buyers else 0.0


@dataclass(frozen=True)
class Changes:
    """What changed in the customers from one build to another."""

    before_build: int | None
    added: int
    removed: int
    moved: int
    unchanged: int
    moves: pd.DataFrame  # from_segment, to_segment, customers (moved customers only)
    added_examples: list[str]
    revenue_before: Decimal
    revenue_after: Decimal
    #: The first removed customer ids (at most 10), as added_examples.
    removed_examples: list[str] = field(default_factory=list)

    @property
    def revenue_change(self) -> Decimal:
        return self.revenue_after - self.revenue_before


def previous_published(history: Iterable[Any], current_id: int) -> tuple[int, str] | None:
    """The build to compare build ``current_id`` with, if its file still exists: (id, path).

    That is the build that was live when ``current_id`` was published (its record's
    ``replaced``): after publishing an older build again it is a newer one. Records
    from before ``replaced`` was stored, or whose replaced build's files were pruned,
    compare with the newest published build before ``current_id``.
    ``history`` holds build records (``mart.builds.BuildRecord``), newest first.
    """
    records = list(history)

    def usable(record: Any) -> bool:
        return (
            record.status == "published"
            and not record.files_pruned
            and bool(record.db_path)
            and Path(record.db_path).exists()
        )

    current = next((record for record in records if record.build_id == current_id), None)
    replaced = getattr(current, "replaced", None)
    for record in records:
        if replaced is not None and record.build_id == replaced and usable(record):
            return int(record.build_id), str(record.db_path)
    for record in records:
        if record.build_id < current_id and usable(record):
            return int(record.build_id), str(record.db_path)
    return None


def kpis(db_path: Path_) -> Kpis:
    """The KPI tiles of the build at ``db_path``."""
    totals = db.query_df(
        db_path,
        """
        select
            (select count(*) from main.dim_customers) as customers,
            count(*) as buyers,
            coalesce(sum(lifetime_value), 0) as revenue,
            count(*) filter (where transaction_count >= 2) as repeat_customers,
            coalesce(sum(transaction_count), 0) as transactions
        from main.fct_customer_metrics
        """,
    ).iloc[0]
    segments = db.query_df(
        db_path,
        """
        select customer_segment, count(*) as customers
        from main.fct_customer_metrics
        group by customer_segment
        """,
    )
    split = dict.fromkeys(SEGMENTS, 0)
    for row in segments.itertuples(index=False):
        split[str(row.customer_segment)] = int(row.customers)
    revenue = Decimal(str(totals["revenue"]))
    buyers = int(totals["buyers"])
    return Kpis(
        customers=int(totals["customers"]),
        buyers=buyers,
        revenue=revenue.quantize(CENTS),
        avg_lifetime_value=divide_money(revenue, buyers),
        repeat_customers=int(totals["repeat_customers"]),
        transactions=int(totals["transactions"]),
        segments=split,
    )


#: A last purchase more than this many days before the as-of date is "Churned"
#: (dim_customers.recency_status: Active ≤ 30 days, At Risk ≤ 90, then Churned).
STALE_AFTER_DAYS = 90


@dataclass(frozen=True)
class AsOf:
    """The as-of date a build used, and how it relates to the data's last dates."""

    as_of_date: date | None
    last_activity: date | None  # the latest transaction or event date in the mart
    last_purchase: date | None = None  # the latest transaction date
    # The latest date in the HEAD dataset versions, which the next build reads: after
    # new data it can be later than the mart's (datasets.latest_activity).
    data_last_activity: date | None = None

    @property
    def latest_activity(self) -> date | None:
        """The latest date a next build will see: the current dataset versions' when
        known (a reset to older data makes earlier dates fine again), else the mart's."""
        return self.data_last_activity or self.last_activity

    @property
    def gap_days(self) -> int | None:
        """Days from the last purchase to the as-of date (None without purchases)."""
        if self.as_of_date is None or self.last_purchase is None:
            return None
        return (self.as_of_date - self.last_purchase).days

    @property
    def stale(self) -> bool:
        """Whether even the latest purchase is so old that every buyer counts as churned."""
        gap = self.gap_days
        return gap is not None and gap > STALE_AFTER_DAYS

    @property
    def suggested(self) -> date | None:
        """An as-of date that fits the data: the first day of the month after its last
        activity, so that month is complete (:func:`mart.builds.as_of_that_fits`)."""
        from mart.builds import as_of_that_fits

        latest = self.latest_activity
        return as_of_that_fits(latest) if latest else None

    def runs_past(self, today: date) -> bool:
        """Whether the data a next build reads has dates after ``today``: records in the
        future are bad data the not_after_as_of_date tests are there to catch, not a
        reason for a later as-of date (which would only hide them)."""
        latest = self.latest_activity
        return latest is not None and latest > today

    @property
    def data_moved(self) -> bool:
        """Whether the dataset versions a next build reads end on another day than the
        mart's data (new data loaded, or older data restored, and not built yet)."""
        return self.data_last_activity is not None and self.data_last_activity != self.last_activity

    def stale_text(self) -> str:
        """The stale-data warning: the published mart's last purchase against its as-of
        date, and the rebuild that fits. When the current dataset versions end on
        another day, the suggested date is theirs and the sentence says so (it named
        the mart's last purchase and the new data's day as if one dataset)."""
        mart = "in the published mart" if self.data_moved else "in the data"
        text = (
            f"The last purchase {mart} is on {self.last_purchase}, {self.gap_days:,} days "
            f"before the as-of date {self.as_of_date}, so every buyer counts as churned and "
            f"most retention months are empty. Rebuild as of {self.suggested} "
        )
        if self.data_moved:
            return text + (
                f"(just after {self.latest_activity}, where the current dataset versions "
                "end: the next build reads them) to see them as they were then."
            )
        return text + (
            "(just after the data's last activity, with its last month complete) to see it "
            "as it was then."
        )

    def too_early(self, candidate: date) -> bool:
        """Whether ``candidate`` is before the latest date a next build reads (that build
        would then fail the not_after_as_of_date tests); the latest date itself is fine."""
        latest = self.latest_activity
        return latest is not None and candidate < latest


def as_of_status(db_path: Path_) -> AsOf:
    """The build's as-of date and the data's last purchase and last activity."""
    row = db.query_df(
        db_path,
        """
        select
            (select cast(max(as_of_date) as date) from main.fct_retention_summary)
                as as_of_date,
            (select max(transaction_date) from main.fct_transactions) as last_purchase,
            (select cast(max(event_at) as date) from main.stg_events) as last_event
        """,
    ).iloc[0]

    def as_date(value: Any) -> date | None:
        if value is None or pd.isna(value):
            return None
        return pd.Timestamp(value).date()

    purchase, event = as_date(row["last_purchase"]), as_date(row["last_event"])
    known = [day for day in (purchase, event) if day is not None]
    return AsOf(
        as_of_date=as_date(row["as_of_date"]),
        last_activity=max(known) if known else None,
        last_purchase=purchase,
    )


_CUSTOMERS_SQL = """
    select customer_id, customer_segment, lifetime_value
    from main.dim_customers
"""


def what_changed(db_path: Path_, before_path: Path_, before_build: int | None = None) -> Changes:
    """Customers added and removed, and segment moves, from ``before_path`` to ``db_path``.

    Both files are read read-only; the comparison runs in an in-memory DuckDB.
    """
    after = db.query_df(db_path, _CUSTOMERS_SQL)
    before = db.query_df(before_path, _CUSTOMERS_SQL)
    with duckdb.connect() as con:
        con.register("after_customers", after)
        con.register("before_customers", before)
        con.execute(
            """
            create temp table compared as
            select
                coalesce(after_customers.customer_id, before_customers.customer_id)
                    as customer_id,
                before_customers.customer_segment as from_segment,
                after_customers.customer_segment as to_segment,
                before_customers.customer_id is null as is_added,
                after_customers.customer_id is null as is_removed
            from after_customers
            full outer join before_customers
                on after_customers.customer_id = before_customers.customer_id
            """
        )
        added, removed, moved, unchanged = con.execute(
            """
            select
                count(*) filter (where is_added),
                count(*) filter (where is_removed),
                count(*) filter (where not is_added and not is_removed
                                 and from_segment is distinct from to_segment),
                count(*) filter (where not is_added and not is_removed
                                 and from_segment is not distinct from to_segment)
            from compared
            """
        ).fetchone() or (0, 0, 0, 0)
        moves = con.execute(
            """
            select from_segment, to_segment, count(*) as customers
            from compared
            where not is_added and not is_removed and from_segment is distinct from to_segment
            group by all
            order by customers desc, from_segment, to_segment
            """
        ).df()
        examples, removed_examples = (
            [
                str(row[0])
                for row in con.execute(
                    f"select customer_id from compared where {flag} order by customer_id limit 10"
                ).fetchall()
            ]
            for flag in ("is_added", "is_removed")
        )
        revenue_after, revenue_before = con.execute(
            """
            select
                coalesce((select sum(lifetime_value) from after_customers), 0),
                coalesce((select sum(lifetime_value) from before_customers), 0)
            """
        ).fetchone() or (0, 0)
    return Changes(
        before_build=before_build,
        added=int(added),
        removed=int(removed),
        moved=int(moved),
        unchanged=int(unchanged),
        moves=moves,
        added_examples=examples,
        removed_examples=removed_examples,
        revenue_before=Decimal(str(revenue_before)).quantize(CENTS),
        revenue_after=Decimal(str(revenue_after)).quantize(CENTS),
    )


# -- the layers picture ---------------------------------------------------------------------

#: The medallion layers, left to right: (key, title, what it holds).
LAYERS: tuple[tuple[str, str, str], ...] = (
    ("bronze", "Bronze", "raw JSON records, as loaded"),
    ("staging", "Staging", "typed, cleaned, one parse"),
    ("intermediate", "Intermediate", "one named step each"),
    ("marts", "Marts", "what the business reads"),
)


def layer_of(schema: str, table: str) -> str | None:
    """The layer a relation belongs to, from its schema and name (None: not a mart layer)."""
    if schema == "bronze":
        return "bronze"
    if schema != "main":
        return None
    if table.startswith("stg_"):
        return "staging"
    if table.startswith("int_"):
        return "intermediate"
    if table.startswith(("dim_", "fct_")) or table.endswith("_snapshot"):
        return "marts"
    return None


def layer_tables(db_path: Path_) -> pd.DataFrame:
    """Each table of the build with its layer and row count (``layer, table, rows``)."""
    tables = db.query_df(
        db_path,
        """
        select schema_name, table_name
        from duckdb_tables()
        where database_name = current_database() and schema_name in ('bronze', 'main')
        order by schema_name, table_name
        """,
    )
    rows = []
    for schema, table in tables.itertuples(index=False):
        layer = layer_of(str(schema), str(table))
        if layer is None:
            continue
        count = db.query_df(
            db_path, f"select count(*) as n from {db.quote_relation((schema, table))}"
        ).iloc[0]["n"]
        rows.append({"layer": layer, "table": str(table), "rows": int(count)})
    return pd.DataFrame(rows, columns=["layer", "table", "rows"])


def _breakable(text: str) -> str:
    """``text`` as HTML that may break after an underscore or before `` · ``, and only
    there where it can (``dim_customer_segment_history · 1,016`` in a narrow box)."""
    parts = [html.escape(part) for part in text.split("_")]
    # the count stays with its dot: "· 6" alone on a line was hard to read
    return "_<wbr>".join(parts).replace(" · ", "<wbr> ·\u00a0")


def layers_html(tables: pd.DataFrame | None = None, max_listed: int = 5) -> str:
    """Bronze → staging → intermediate → marts as four boxes with arrows between them,
    as HTML whose boxes share the width they are given and whose lines wrap inside
    them.

    ``tables`` (from :func:`layer_tables`) lists each layer's tables with row counts;
    without it the boxes show only what each layer is for. (A Plotly figure of it
    placed its text at fixed font sizes: at 800 px, ``fct_customer_metrics`` ran out of
    its box.) Text takes the page's own colour, so it reads in light and dark themes.
    """
    colors = {
        "bronze": "#b0793b",
        "staging": "#5b8def",
        "intermediate": "#8e6cd8",
        "marts": "#2e9e6a",
    }
    listed_tables = tables if tables is not None and not tables.empty else None
    boxes = []
    for index, (key, title, purpose) in enumerate(LAYERS):
        color = colors[key]
        lines = []
        if listed_tables is not None:
            listed = listed_tables[listed_tables["layer"] == key]
            lines = [
                f'<div style="overflow-wrap:anywhere;margin-top:0.2rem">'
                f"{_breakable(f'{row.table} · {row.rows:,}')}</div>"
                for row in listed.head(max_listed).itertuples(index=False)
            ]
            if len(listed) > max_listed:
                lines.append(f"<div>… and {len(listed) - max_listed} more</div>")
        if index:
            boxes.append(
                '<div class="mart-layers-arrow" aria-hidden="true" '
                'style="align-self:center;color:#888888;font-size:1.4rem">→</div>'
            )
        boxes.append(
            f'<div class="mart-layer" data-layer="{key}" style="flex:1 1 0;min-width:0;'
            f"border:2px solid {color};background:{color}2e;border-radius:4px;"
            "padding:0.8rem 0.25rem;text-align:center;"
            'font-size:0.8rem;line-height:1.35;display:flex;flex-direction:column;justify-content:center">'
            # the title shrinks with the window instead of breaking (Intermedia|te at 800 px)
            f'<div style="font-weight:700;font-size:clamp(0.75rem,1.5vw,1rem);'
            f'color:{color}">{title}</div>'
            f'<div style="font-style:italic;opacity:0.75;margin-bottom:0.5rem">{purpose}</div>'
            + "".join(lines)
            + "</div>"
        )
    return (
        '<div class="mart-layers" role="figure" aria-label="The layers of the mart: '
        'bronze, staging, intermediate and marts" '
        'style="display:flex;gap:0.4rem;align-items:stretch;'
        f'min-height:{"15rem" if listed_tables is not None else "6rem"}">'
        + "".join(boxes)
        + "</div>"
    )


def segments_figure(segments: dict[str, int]) -> go.Figure:
    """A horizontal bar of buyers per segment (High, Medium, Low value)."""
    names = [name for name in SEGMENTS if name in segments] + [
        name for name in segments if name not in SEGMENTS
    ]
    fig = go.Figure(
        go.Bar(
            x=[segments[name] for name in names],
            y=names,
            orientation="h",
            marker_color=[SEGMENT_COLOURS.get(name, "#999999") for name in names],
            text=[f"{segments[name]:,}" for name in names],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} customers<extra></extra>",
        )
    )
    fig.update_layout(
        height=220,
        margin={"l": 0, "r": 10, "t": 10, "b": 0},
        yaxis={"autorange": "reversed"},
        # whole customers, with thousands separators ("0 0.5 1 1.5 2 customers" on the
        # sample; "2000" beside a bar labelled "2,060" at 50k)
        xaxis={
            "title": "customers",
            "tickformat": ",d",
            "rangemode": "tozero",
            **({"dtick": 1} if max(segments.values(), default=0) <= 10 else {}),
        },
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig

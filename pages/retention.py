"""Retention & behaviour: do customers come back, and how do segments buy?

Cohort retention heatmap, the overall repeat-purchase rate, behaviour by segment (AOV,
frequency, category mix) and revenue over time — all aggregated in the mart.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mart import charts, insights, money
from ui import as_of, common
from ui.common import NULL_DASH, cached, require_published, show_error


def _summary() -> None:
    summary: insights.RetentionSummary = cached(insights.retention_summary)
    row = common.tile_row()
    common.tile(
        row,
        "Repeat rate",  # as on the Overview
        money.percent_text(summary.repeat_purchase_rate),
        help="Purchasing customers with two or more transactions.",
    )
    common.tile(
        row,
        "Repeat customers",
        f"{summary.repeat_customers:,}",
        help=f"Of {summary.purchasing_customers:,} purchasing customers.",
    )
    common.tile(
        row,
        "Month-1 retention",
        money.percent_text(summary.month_1_retention_rate),
        help="Customers who bought again in the calendar month after their first purchase, "
        f"over the {summary.customers_with_month_1:,} customers whose month 1 is over by "
        "the as-of date (a month 1 still running would count as lost).",
    )
    common.tile(
        row,
        "Bought, last 90 days",
        f"{summary.active_last_90_days:,}",
        help="Customers whose last purchase is at most 90 days before the as-of date "
        "(the recency status Active is 30 days or less).",
    )
    if summary.as_of_date is not None:
        st.caption(f"As of {summary.as_of_date:%Y-%m-%d} ({as_of.origin()}).")


def _cohorts() -> None:
    st.subheader("Cohort retention")
    frame: pd.DataFrame = cached(insights.cohort_retention)
    st.plotly_chart(charts.cohort_heatmap(frame), key="chart_cohort_heatmap")
    st.caption(
        "Each row is the month of a customer's first purchase; each column a month after it. "
        "A cell is the share of the cohort that bought in that month. Month 0 is 100% by "
        "definition, so the colour scale is set by the later months. "
        + charts.cohort_in_progress_note(frame)
    )


def _behaviour() -> None:
    st.subheader("Purchase behaviour by segment")
    frame: pd.DataFrame = cached(insights.segment_distribution)
    left, right = st.columns(2)
    left.plotly_chart(
        charts.segment_metric_bar(
            frame, "avg_order_value", "Avg order value by segment", "Order value ($)", True
        ),
        key="chart_segment_aov",
    )
    right.plotly_chart(
        charts.segment_metric_bar(
            frame,
            "avg_transactions_per_customer",
            "Purchase frequency",
            "Transactions per customer",
        ),
        key="chart_segment_frequency",
    )
    mix: pd.DataFrame = cached(insights.segment_category_mix)
    st.plotly_chart(charts.category_mix_chart(mix), key="chart_category_mix")
    st.dataframe(
        frame[
            [
                "customer_segment",
                "customer_count",
                "transaction_count",
                "avg_order_value",
                "avg_transactions_per_customer",
                "avg_categories_per_customer",
                "avg_lifetime_value",
            ]
        ],
        hide_index=True,
        placeholder=NULL_DASH,
        key="segment_behaviour_table",
        column_config={
            "customer_segment": "Segment",
            "customer_count": st.column_config.NumberColumn("Customers", format="%,d"),
            "transaction_count": st.column_config.NumberColumn("Transactions", format="%,d"),
            "avg_order_value": st.column_config.NumberColumn("Avg order value ($)", format="%,.2f"),
            "avg_transactions_per_customer": st.column_config.NumberColumn(
                "Transactions per customer", format="%.2f"
            ),
            "avg_categories_per_customer": st.column_config.NumberColumn(
                "Categories per customer", format="%.2f"
            ),
            "avg_lifetime_value": st.column_config.NumberColumn("Avg LTV ($)", format="%,.2f"),
        },
    )


def _revenue() -> None:
    st.subheader("Revenue over time")
    frame: pd.DataFrame = cached(insights.monthly_revenue)
    st.plotly_chart(charts.monthly_revenue_chart(frame), key="chart_monthly_revenue")


st.title("Retention & behaviour")
require_published()
try:
    as_of.stale_warning(as_of.status(), "retention")
    _summary()
    _cohorts()
    _behaviour()
    _revenue()
except Exception as error:  # noqa: BLE001 - a demo page never shows a traceback
    show_error(error)

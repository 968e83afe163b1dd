"""Customers: who the most valuable customers are and what they are worth.

KPI tiles, the segment split by count and value, the lifetime-value distribution, the top
customers and favourite categories; segment thresholds as a form that rebuilds the mart
with those vars; and a drill-down into one customer with the SCD2 segment history.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from mart import charts, insights, money
from mart.errors import BuildBusyError, MartError
from ui import as_of, common
from ui.common import NULL_DASH, cached, escape_markdown, manager, require_published, show_error

COUNT = st.column_config.NumberColumn(format="%,d")


def _money(value: Decimal | float | None) -> str:
    return "–" if value is None else money.money_text(value)


def _published_thresholds() -> insights.Thresholds:
    record = manager().published()
    return insights.thresholds_from_vars(dict(record.vars) if record is not None else {})


def _kpi_tiles() -> None:
    kpis: insights.Kpis = cached(insights.kpis)
    # Six tiles in one row of columns cut off $13,434.45 at 1400 px, and every tile on a
    # 1024 px projector; the row wraps instead.
    row = common.tile_row()
    common.tile(
        row,
        "Buying customers",
        f"{kpis.purchasing_customers:,}",
        help=f"Customers with a purchase; {kpis.known_customers:,} known including browsers.",
    )
    common.tile(
        row,
        "Revenue",
        money.tile_money(kpis.revenue),
        help=f"Sum of all transaction amounts: exactly {_money(kpis.revenue)}.",
    )
    common.tile(row, "Transactions", f"{kpis.transactions:,}")
    common.tile(
        row,
        "Avg order value",
        money.tile_money(kpis.avg_order_value),
        help=f"Exactly {_money(kpis.avg_order_value)}.",
    )
    common.tile(
        row,
        "Avg lifetime value",
        money.tile_money(kpis.avg_lifetime_value),
        help=f"Exactly {_money(kpis.avg_lifetime_value)}.",
    )
    common.tile(
        row,
        "Repeat rate",
        money.percent_text(kpis.repeat_purchase_rate),
        help="Share of purchasing customers with two or more transactions.",
    )
    if kpis.as_of_date is not None:
        st.caption(
            f"As of {kpis.as_of_date:%Y-%m-%d} · transactions from "
            f"{kpis.first_transaction or '–'} to {kpis.last_transaction or '–'}"
        )


def _rebuild_with(thresholds: insights.Thresholds) -> None:
    """Run a build with the new thresholds (other vars of the published build kept)."""
    try:
        with st.spinner("Rebuilding the mart with the new thresholds…"):
            record = manager().request_build(
                vars=thresholds.as_vars(), keep_published_vars=True, wait=False
            )
    except BuildBusyError as error:
        st.warning(str(error))
        return
    except (MartError, ValueError) as error:
        show_error(error)
        return
    if record.status == "published":
        st.session_state["customers_rebuilt"] = (
            f"Build #{record.build_id} published with {thresholds.describe()}."
        )
        st.rerun()
    else:
        reason = record.failure or record.error or record.status
        st.error(
            f"Build #{record.build_id} did not publish ({reason}). The previous mart stays "
            "published; see the Build page for details."
        )


def _thresholds_form() -> None:
    current = _published_thresholds()
    origin = "project defaults" if current.is_default else "set for this build"
    st.markdown(
        f"**Thresholds of the published build** ({origin}): {current.describe()}",
    )
    notice = st.session_state.pop("customers_rebuilt", None)
    if notice:
        st.success(notice)
    with st.form("thresholds_form"):
        left, right = st.columns(2, vertical_alignment="bottom")
        high = left.number_input(
            "High Value from ($)",
            min_value=0.0,
            max_value=float(insights.MAX_THRESHOLD),
            value=float(current.high),
            step=50.0,
            format="%.2f",
            key="threshold_high",
        )
        medium = right.number_input(
            "Medium Value from ($)",
            min_value=0.0,
            max_value=float(insights.MAX_THRESHOLD),
            value=float(current.medium),
            step=50.0,
            format="%.2f",
            key="threshold_medium",
        )
        # under the inputs: beside them, in a third column, it was cut off at 1024 px
        submitted = st.form_submit_button("Rebuild with these thresholds", type="primary")
    if submitted:
        try:
            thresholds = insights.thresholds_from_fields(high, medium)
        except (MartError, ValueError) as error:
            st.error(str(error))
            return
        if thresholds.high == current.high and thresholds.medium == current.medium:
            st.info("These are the thresholds of the published build already; nothing to do.")
            return
        _rebuild_with(thresholds)


def _segments() -> None:
    st.subheader("Segments")
    _thresholds_form()
    frame: pd.DataFrame = cached(insights.segment_distribution)
    kpis: insights.Kpis = cached(insights.kpis)
    browsers = kpis.known_customers - kpis.purchasing_customers
    if browsers > 0:
        st.caption(
            f"Buying customers only. The {browsers:,} customer(s) who only browsed have no "
            "lifetime value; dim_customers lists them as Low Value, and the drill-down "
            "below shows them."
        )
    left, right = st.columns(2)
    left.plotly_chart(charts.segment_bars(frame, "count"), key="chart_segment_count")
    right.plotly_chart(charts.segment_bars(frame, "value"), key="chart_segment_value")
    # Shares as percentages with one decimal each ("percent" mixed 84.3% and 7.83%).
    table = frame.assign(
        share_of_customers=frame["share_of_customers"].map(money.percent_number),
        share_of_revenue=frame["share_of_revenue"].map(money.percent_number),
    )
    st.dataframe(
        table[
            [
                "customer_segment",
                "customer_count",
                "total_revenue",
                "share_of_customers",
                "share_of_revenue",
                "avg_lifetime_value",
                "avg_order_value",
            ]
        ],
        hide_index=True,
        placeholder=NULL_DASH,
        key="segment_table",
        column_config={
            "customer_segment": "Segment",
            "customer_count": st.column_config.NumberColumn("Customers", format="%,d"),
            "total_revenue": st.column_config.NumberColumn("Lifetime value ($)", format="%,.2f"),
            "share_of_customers": st.column_config.NumberColumn(
                "Share of customers", format="%.1f%%"
            ),
            "share_of_revenue": st.column_config.NumberColumn("Share of value", format="%.1f%%"),
            "avg_lifetime_value": st.column_config.NumberColumn("Avg LTV ($)", format="%,.2f"),
            "avg_order_value": st.column_config.NumberColumn("Avg order value ($)", format="%,.2f"),
        },
    )


def _lifetime_value() -> None:
    st.subheader("Lifetime value")
    left, right = st.columns(2)
    left.plotly_chart(charts.ltv_histogram(cached(insights.ltv_histogram, 40)), key="chart_ltv")
    right.plotly_chart(charts.ltv_box(cached(insights.ltv_box_stats)), key="chart_ltv_box")


def _top_customers() -> None:
    st.subheader("Most valuable customers")
    count = st.select_slider(
        "How many", options=[5, 10, 20, 50, 100], value=10, key="top_customers_n"
    )
    frame: pd.DataFrame = cached(insights.top_customers, int(count))
    # Halves, short headers, the numbers before the segment: in a 2/5 column the table
    # scrolled sideways and cut its right-aligned numbers to their first digits (406
    # transactions read "4"); at 1024 px what is cut now is the segment's text.
    left, right = st.columns(2)
    left.plotly_chart(charts.top_customers_bar(frame), key="chart_top_customers")
    right.dataframe(
        frame[["customer_id", "lifetime_value", "transaction_count", "customer_segment"]],
        hide_index=True,
        key="top_customers_table",
        placeholder=NULL_DASH,
        column_config={
            "customer_id": "Customer",
            "customer_segment": "Segment",
            "lifetime_value": st.column_config.NumberColumn("LTV ($)", format="%,.2f"),
            "transaction_count": st.column_config.NumberColumn(
                "Txns", format="%,d", help="Transactions"
            ),
        },
    )
    st.plotly_chart(
        charts.favourite_category_bar(cached(insights.favourite_categories)),
        key="chart_favourite_category",
    )


def _count(value: Any, noun: str) -> str:
    """``1 session``, ``3 sessions``, ``0 sessions``."""
    number = int(value or 0)
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _customer_label(row: pd.Series) -> str:
    return f"{row.customer_id} · {row.customer_segment} · {money.money_text(row.lifetime_value)}"


def _drill_down() -> None:
    st.subheader("Customer drill-down")
    text = st.text_input(
        "Search customers by id",
        key="customer_search",
        placeholder="e.g. C001 — empty lists the most valuable",
    )
    matches: pd.DataFrame = cached(insights.search_customers, text.strip(), 50)
    if matches.empty:
        st.info(f"No customer id contains “{escape_markdown(text)}”.")
        return
    labels = {row.customer_id: _customer_label(row) for row in matches.itertuples(index=False)}
    if st.session_state.get("customer_pick") not in labels:
        # A kept pick the search left out: the best match, assigned (not just the
        # key dropped), so the browser shows it too. Dropped, the box kept showing
        # the last pick's label over the new customer's profile.
        st.session_state["customer_pick"] = next(iter(labels))
    customer_id = st.selectbox(
        f"Customer ({len(matches):,} of {int(matches['matches'].iloc[0]):,} "
        + ("matches, best first)" if text else "customers, most valuable first)"),
        options=list(labels),
        format_func=lambda value: labels.get(value, value),
        key="customer_pick",
    )
    if customer_id is None:
        return
    profile = cached(insights.customer_profile, customer_id)
    if profile is None:
        st.info(f"Customer {customer_id} is not in the published mart.")
        return
    segment = profile.get("customer_segment") or "–"
    colour = {"High Value": "blue", "Medium Value": "orange", "Low Value": "green"}.get(
        segment, "gray"
    )
    st.markdown(
        f"#### {escape_markdown(customer_id)} :{colour}-badge[{segment}]  \n"
        f"Favourite category **{escape_markdown(profile.get('favorite_category') or '–')}** · "
        f"recency **{escape_markdown(profile.get('recency_status') or '–')}** · engagement "
        f"**{escape_markdown(profile.get('engagement_level') or '–')}** "
        f"({_count(profile.get('session_count'), 'session')}, "
        f"{_count(profile.get('event_count'), 'event')})"
    )
    if not int(profile.get("transaction_count") or 0):
        st.caption(
            "This customer only browsed: with no purchase the lifetime value is $0.00, so "
            "dim_customers puts them in Low Value. The segment charts above count buying "
            "customers only."
        )
    row = common.tile_row()
    common.tile(
        row,
        "Lifetime value",
        money.tile_money(profile.get("lifetime_value")),
        help=f"Exactly {_money(profile.get('lifetime_value'))}.",
    )
    common.tile(row, "Transactions", f"{int(profile.get('transaction_count') or 0):,}")
    common.tile(
        row,
        "Avg order value",
        money.tile_money(profile.get("avg_order_value")),
        help=f"Exactly {_money(profile.get('avg_order_value'))}.",
    )
    recency = profile.get("days_since_last_purchase")
    common.tile(
        row,
        "Days since last purchase",
        "never" if recency is None else f"{int(recency):,}",
        help="Days from the last purchase to the as-of date of the build (never: no purchase yet).",
    )
    history: pd.DataFrame = cached(insights.customer_segment_history, customer_id)
    transactions: pd.DataFrame = cached(insights.customer_transactions, customer_id)
    events: pd.DataFrame = cached(insights.customer_events, customer_id)
    timeline_tab, history_tab, transactions_tab = st.tabs(
        [
            "Timeline",
            f"Segment history · {len(history)}",
            f"Transactions · {len(transactions)}",
        ]
    )
    timeline_tab.plotly_chart(
        charts.events_timeline(events, transactions), key="chart_customer_timeline"
    )
    history_tab.markdown(f"**Segment history (SCD2)** — {len(history)} version(s)")
    # The current version has no end: "current" instead of an empty cell reading None.
    shown_history = (
        history.assign(
            valid_to=[
                "current" if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M:%S}"
                for value in history["valid_to"]
            ],
            favorite_category=history["favorite_category"].fillna("–"),
        )
        if not history.empty
        else history
    )
    history_tab.dataframe(
        shown_history,
        hide_index=True,
        key="segment_history_table",
        placeholder=NULL_DASH,
        column_config={
            "customer_segment": "Segment",
            "lifetime_value": st.column_config.NumberColumn("LTV ($)", format="%,.2f"),
            "transaction_count": "Transactions",
            "favorite_category": "Favourite",
            "is_repeat_customer": "Repeat",
            "valid_from": st.column_config.DatetimeColumn(
                "Valid from", format="YYYY-MM-DD HH:mm:ss", width="medium"
            ),
            "valid_to": st.column_config.TextColumn("Valid to", width="medium"),
            "is_current": "Current",
        },
    )
    transactions_tab.markdown(f"**Transactions** — {len(transactions)}")
    note = insights.transactions_note(int(profile.get("transaction_count") or 0), len(transactions))
    if note:
        transactions_tab.warning(note, icon=":material/info:")
    transactions_tab.dataframe(
        transactions,
        hide_index=True,
        key="customer_transactions_table",
        placeholder=NULL_DASH,
        column_config={
            "transaction_id": "Id",
            "transaction_date": st.column_config.DateColumn("Date"),
            "product_category": "Category",
            "amount": st.column_config.NumberColumn("Amount ($)", format="%,.2f"),
            "is_refund": "Refund",
        },
    )


st.title("Customers")
require_published()
try:
    as_of.stale_warning(as_of.status(), "customers")
    _kpi_tiles()
    _segments()
    _lifetime_value()
    _top_customers()
    _drill_down()
except Exception as error:  # noqa: BLE001 - a demo page never shows a traceback
    show_error(error)

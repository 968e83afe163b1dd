"""Overview: what the mart is, its KPIs, and what changed since the previous build."""

from __future__ import annotations

import streamlit as st

from mart import insights, money, overview
from ui import as_of, common


def _kpi_tiles(kpis: overview.Kpis) -> None:
    row = common.tile_row()
    common.tile(
        row,
        "Buying customers",
        f"{kpis.buyers:,}",
        help=f"Customers with a purchase, as on the Customers page; {kpis.customers:,} are "
        "known in all, counting those who only browsed.",
    )
    common.tile(
        row,
        "Revenue",
        money.tile_money(kpis.revenue),
        help=f"Sum of lifetime value over {kpis.transactions:,} transactions: exactly "
        f"{money.money_text(kpis.revenue)}.",
    )
    common.tile(
        row,
        "Avg lifetime value",
        money.tile_money(kpis.avg_lifetime_value),
        help="Revenue divided by buying customers, rounded half away from zero: exactly "
        f"{money.money_text(kpis.avg_lifetime_value)}.",
    )
    common.tile(
        row,
        "Repeat rate",
        money.percent_text(kpis.repeat_rate),
        help=f"{kpis.repeat_customers:,} of {kpis.buyers:,} buyers bought two or more times.",
    )


def _segments(kpis: overview.Kpis) -> None:
    st.subheader("Segment split")
    # the thresholds the published build used, not the project defaults: a class that
    # rebuilt with other thresholds must not read "High ≥ 500" under a different split
    thresholds = insights.thresholds_from_vars(common.rebuild_vars())
    origin = "project defaults" if thresholds.is_default else "set for this build"
    st.caption(
        "Buying customers by lifetime value: "
        f"{common.escape_markdown(thresholds.describe())} ({origin})."
    )
    st.plotly_chart(
        overview.segments_figure(kpis.segments),
        config={"displayModeBar": False},
        key="overview_segments",
    )


def _changes(build_id: int) -> None:
    st.subheader("What changed since the previous build")
    previous = overview.previous_published(common.manager().history(), build_id)
    if previous is None:
        st.caption(
            f"Build #{build_id} is the first published build kept on disk, so there is "
            "nothing to compare with yet. Change the data and rebuild to see the difference."
        )
        return
    before_id, before_path = previous
    changes: overview.Changes = common.cached(overview.what_changed, before_path, before_id)
    if before_id > build_id:  # an older build published after a newer one
        st.caption(
            f"Build #{build_id} compared with build #{before_id}, the build that was live "
            "before it was published."
        )
    else:
        st.caption(f"Build #{build_id} compared with build #{before_id}.")
    row = common.tile_row()
    every = "Customers in dim_customers (buyers, and customers who only browsed)"
    common.tile(
        row,
        "Customers added",
        f"{changes.added:,}",
        help=f"{every} that the previous build did not have: it can be more than the "
        "buying customers above.",
    )
    common.tile(
        row,
        "Customers removed",
        f"{changes.removed:,}",
        help=f"{every} that the previous build had and this one has not.",
    )
    common.tile(row, "Changed segment", f"{changes.moved:,}")
    delta = changes.revenue_change
    common.tile(
        row,
        "Revenue",
        money.tile_money(changes.revenue_after),
        delta=f"{'+' if delta >= 0 else '-'}{money.tile_money(abs(delta))}"
        if delta
        else "no change",
        delta_color="normal" if delta else "off",
        delta_arrow="auto" if delta else "off",
        help=f"Exactly {money.money_text(changes.revenue_after)}, a change of "
        f"{'+' if delta >= 0 else '-'}{money.money_text(abs(delta))}.",
    )
    if not changes.moves.empty:
        st.markdown("**Segment moves**")
        st.dataframe(
            changes.moves,
            hide_index=True,
            placeholder=common.NULL_DASH,
            column_config={
                "from_segment": "From",
                "to_segment": "To",
                "customers": st.column_config.NumberColumn("Customers", format="%d"),
            },
        )
    if changes.added_examples:
        shown = ", ".join(changes.added_examples)
        more = changes.added - len(changes.added_examples)
        st.text(f"New customers: {shown}" + (f" and {more:,} more" if more > 0 else ""))
    if changes.removed_examples:
        shown = ", ".join(changes.removed_examples)
        more = changes.removed - len(changes.removed_examples)
        st.text(f"Removed customers: {shown}" + (f" and {more:,} more" if more > 0 else ""))
    if not (changes.added or changes.removed or changes.moved):
        st.caption("No customer was added, removed or moved between segments.")


def main() -> None:
    st.title("TechMart customer analytics mart")
    st.markdown(
        "A **dbt** project builds this mart into **DuckDB** from raw transactions and "
        "events: raw JSON lands in *bronze*, *staging* types and cleans it, "
        "*intermediate* models do one step each, and the *marts* hold the customers, "
        "segments and retention the business reads. Every build runs the dbt tests and "
        "is published only when they pass (unless someone publishes a failed build anyway)."
    )
    current = common.published()
    tables = common.cached(overview.layer_tables) if current is not None else None
    st.html(overview.layers_html(tables))
    if current is None and common.manager().running_build() is not None:
        st.info(
            "The mart is being built for the first time: progress is in the sidebar. "
            "This page fills in as soon as the build is published.",
            icon=":material/hourglass_top:",
        )
        return
    build_id, _ = common.require_published()
    st.subheader(f"Key figures · published build #{build_id}")
    kpis: overview.Kpis = common.cached(overview.kpis)
    as_of.panel(as_of.status())
    _kpi_tiles(kpis)
    left, right = st.columns([2, 3], gap="large")
    with left:
        _segments(kpis)
    with right:
        _changes(build_id)


common.run_page(main)

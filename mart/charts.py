"""Figures for the mart's pages: pure functions from an aggregated DataFrame to a plotly Figure.

Each figure has a title and unit-labelled axes ($, %, customers). No template and no
background colour is set, so Streamlit's light or dark theme applies; the colours used
are mid-tones that read on white and on near-black alike. Inputs come from
:mod:`mart.insights`, which aggregates in SQL, so no figure gets more than a few thousand
points.
"""

from __future__ import annotations

import html
import math
import numbers
import re
import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from mart.generate import CATEGORIES as GENERATED_CATEGORIES
from mart.loading import EVENT_TYPES
from mart.money import money_text, percent_text, round_half_away, tile_money, whole_dollars

SEGMENTS: tuple[str, ...] = ("High Value", "Medium Value", "Low Value")

SEGMENT_COLOURS: dict[str, str] = {
    "High Value": "#4c78a8",
    "Medium Value": "#f58518",
    "Low Value": "#54a24b",
}
"""One colour per segment, the same on every chart."""

PALETTE: tuple[str, ...] = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#eeca3b",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
)
"""Categorical mid-tones (Tableau 10) for categories and event types."""

MORE_COLOURS: tuple[str, ...] = (
    "#79706e",
    "#b6992d",
    "#499894",
    "#d37295",
    "#a0cbe8",
    "#ffbe7d",
    "#8cd17d",
    "#ff9d9a",
    "#d4a6c8",
    "#86bcb6",
)
"""Ten more (Tableau 20), for categories beyond the palette's."""

CATEGORY_PALETTE: tuple[str, ...] = tuple(
    colour
    for colour in (*PALETTE, *MORE_COLOURS, "#17becf", "#bcbd22", "#9467bd")
    if colour not in SEGMENT_COLOURS.values()
)
"""Twenty colours for product categories, none a segment's: on the Customers page the
favourite-category bars sit under the segment charts, where blue, orange and green mean
High, Medium and Low Value (Electronics was blue, Accessories orange, Books green)."""

# The sample's and the generator's categories keep one colour in every chart.
KNOWN_CATEGORIES: tuple[str, ...] = (*GENERATED_CATEGORIES, "Unknown")


def category_colours(names: Sequence[object]) -> dict[str, str]:
    """A colour for each product category in ``names``, no two alike up to 20 categories.

    The known categories keep their own colour in every chart. The others take, in name
    order, the colours no category of ``names`` has: a colour from a hash of the name
    gave Books and Audio one green, and Toys and Promo one grey, in one chart. Past 20
    categories colours repeat (the legend and the hover still name each one).
    """
    texts = sorted({str(name) for name in names})
    colours = {
        text: CATEGORY_PALETTE[KNOWN_CATEGORIES.index(text) % len(CATEGORY_PALETTE)]
        for text in texts
        if text in KNOWN_CATEGORIES
    }
    every = CATEGORY_PALETTE
    free = [colour for colour in every if colour not in colours.values()]
    others = [text for text in texts if text not in colours]
    for index, text in enumerate(others):
        colours[text] = (
            free[index]
            if index < len(free)
            else every[zlib.crc32(text.encode("utf-8")) % len(every)]
        )
    return colours


EVENT_ORDER: tuple[str, ...] = EVENT_TYPES

# Viridis reads in both themes: dark cells are dark blue, bright ones yellow.
RETENTION_SCALE = "Viridis"

_MARGIN = {"l": 10, "r": 10, "t": 60, "b": 10}


#: The longest data label a chart shows on an axis or legend; the hover has it whole.
#: A 499-character category squeezed the favourite-category chart into a thin strip.
MAX_LABEL_CHARS = 40


def plain_text(value: object) -> str:
    """``value`` as text plotly shows literally. Plotly renders a subset of HTML in
    labels, legends and hovers: a category ``<a href="…">Electronics</a>`` was a live
    link on the axis, ``<b>Bold</b>`` bold. Its entities (``&lt;``) are shown as the
    characters, so escaping keeps the data's text as it is."""
    return html.escape(str(value), quote=False)


def chart_labels(values: Sequence[object], limit: int = MAX_LABEL_CHARS) -> list[str]:
    """Axis or legend labels for data values: escaped (:func:`plain_text`), cut to
    ``limit`` characters in the middle ("Home & Garden Outdoor…2025 Edition": names
    that start alike often differ at the end), and still one per distinct value (two
    that cut alike get " [2]", " [3]", … rather than one merged bar)."""
    labels: list[str] = []
    seen: dict[str, int] = {}
    tail = max(limit // 4, 1)
    for value in values:
        text = str(value)
        if len(text) > limit:
            text = text[: limit - tail - 1] + "…" + text[-tail:]
        label = plain_text(text)
        count = seen.get(label, 0)
        seen[label] = count + 1
        labels.append(label if count == 0 else f"{label} [{count + 1}]")
    return labels


TITLE_FIT = 28
"""The longest chart title, in characters, that fits a half-width column at 800 px with
the sidebar open; longer words go to the subtitle."""

RETENTION_SUBTITLE = "customers buying again, by months since first purchase"
MIX_SUBTITLE = "share of segment revenue"


def _base(figure: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    figure.update_layout(
        title={"text": title},
        xaxis_title=x_title,
        yaxis_title=y_title,
        margin=_MARGIN,
        # Below the chart, at the foot of the figure: at the top right it grew into the
        # title when it wrapped on a narrow (1024 px) screen, and hid its first row.
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0,
            "x": 0,
            "xanchor": "left",
        },
        hoverlabel={"namelength": -1},
    )
    if y_title == "Customers":
        _whole_number_axis(figure)
    return figure


def _subtitle(figure: go.Figure, text: str) -> None:
    """A line under the title, with room above the plot: in the default margin it sat on
    the top tick label ("share of segment revenue" over "100%")."""
    figure.update_layout(title_subtitle_text=text, margin={**_MARGIN, "t": 80})


def _whole_number_axis(figure: go.Figure) -> None:
    """Counts get whole-number ticks: no "2.5 customers" when the numbers are small."""
    values: list[float] = []
    for trace in figure.data:
        ys = getattr(trace, "y", None)
        if ys is None:
            continue
        values.extend(float(value) for value in ys if isinstance(value, numbers.Real))
    top = max(values, default=0.0)
    figure.update_yaxes(tickformat=",d", rangemode="tozero")
    if top <= 10:
        figure.update_yaxes(dtick=1)


def colour_for(name: str, index: int) -> str:
    """A segment's own colour, or the palette colour at ``index`` for anything else."""
    return SEGMENT_COLOURS.get(name, PALETTE[index % len(PALETTE)])


def _empty(title: str, message: str, x_title: str = "", y_title: str = "") -> go.Figure:
    figure = _base(go.Figure(), title, x_title, y_title)
    figure.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


# -- segments ----------------------------------------------------------------------------


def short_dollars(value: Decimal | float | int | str) -> str:
    """Money for a label above a narrow bar: ``$1,871`` below $100,000, then ``$329K``
    and ``$3.51M`` (at 1024 px "$329,172" and "$342,047" ran into each other); the
    exact amount is in the hover and the table beside the chart."""
    amount = Decimal(str(value))
    if abs(amount) < 100_000:
        return whole_dollars(amount)
    if abs(amount) >= 1_000_000:
        return tile_money(amount)
    thousands = round_half_away(abs(amount) / 1000)
    sign = "-" if amount < 0 else ""
    if thousands >= 1000:  # 999,500 rounds to 1,000K
        return f"{sign}$1.00M"
    return f"{sign}${thousands}K"


def segment_bars(frame: pd.DataFrame, measure: str = "count") -> go.Figure:
    """Customers (``measure="count"``) or lifetime value (``"value"``) per segment.

    Every row is a bar, so empty segments show as zero. Input: segment_distribution.
    """
    if measure not in {"count", "value"}:
        raise ValueError(f"measure must be 'count' or 'value', not {measure!r}")
    segments = [str(name) for name in frame["customer_segment"]]
    if measure == "count":
        values = frame["customer_count"].tolist()
        shares = frame["share_of_customers"].tolist()
        title, y_title = "Customers per segment", "Customers"
        text = [
            f"{value:,} ({percent_text(share)})"
            for value, share in zip(values, shares, strict=True)
        ]
        hover = "%{x}: %{y:,} customers<extra></extra>"
    else:
        values = frame["total_revenue"].tolist()
        shares = frame["share_of_revenue"].tolist()
        title, y_title = "Lifetime value per segment", "Lifetime value ($)"
        text = [
            f"{short_dollars(value)}<br>({percent_text(share)})"
            for value, share in zip(values, shares, strict=True)
        ]
        hover = "%{x}: %{y:$,.2f}<extra></extra>"
    figure = go.Figure(
        go.Bar(
            x=segments,
            y=values,
            text=text,
            textposition="outside",
            # plotly shrinks an outside label to its bar's width: 5 px text on a narrow
            # screen; the share goes on a second line instead
            constraintext="none",
            cliponaxis=False,
            marker_color=[colour_for(name, index) for index, name in enumerate(segments)],
            hovertemplate=hover,
            name=y_title,
        )
    )
    _base(figure, title, "Segment", y_title)
    if measure == "value":
        figure.update_yaxes(tickformat="$,.0f")
    figure.update_layout(showlegend=False)
    return figure


def ltv_histogram(frame: pd.DataFrame) -> go.Figure:
    """Customers per lifetime-value bin, stacked by segment (input: insights.ltv_histogram)."""
    title = "Lifetime value distribution"
    if frame.empty:
        return _empty(title, "No customers yet", "Lifetime value ($)", "Customers")
    figure = go.Figure()
    present = [name for name in SEGMENTS if name in set(frame["customer_segment"])]
    present += sorted(set(frame["customer_segment"]) - set(SEGMENTS))
    regular = frame.loc[~frame["is_overflow"].astype(bool)]
    spans = regular["bin_end"] - regular["bin_start"] if not regular.empty else None
    step = (
        float(spans.min())
        if spans is not None
        else float((frame["bin_end"] - frame["bin_start"]).min())
    )
    for index, segment in enumerate(present):
        rows = frame[frame["customer_segment"] == segment]
        # the overflow bin ("and above") is drawn one bin wide, labelled in the hover
        widths = [
            step if overflow else float(end - start)
            for start, end, overflow in zip(
                rows["bin_start"], rows["bin_end"], rows["is_overflow"], strict=True
            )
        ]
        labels = [
            f"{whole_dollars(start)} and above"
            if overflow
            else "below $0 (refunds outweigh purchases)"
            if end <= 0
            else f"{whole_dollars(start)} – {whole_dollars(end)}"
            for start, end, overflow in zip(
                rows["bin_start"], rows["bin_end"], rows["is_overflow"], strict=True
            )
        ]
        below = [bool(end <= 0) for end in rows["bin_end"]]
        # the bar below $0 hatched (beside the bar from $0 it read as one bar), in a
        # trace of its own so that the legend keeps the segment's plain colour
        for hatched in (False, True):
            keep = [flag == hatched for flag in below]
            if not any(keep):
                continue
            figure.add_trace(
                go.Bar(
                    x=[x for x, k in zip(rows["bin_start"], keep, strict=True) if k],
                    y=[y for y, k in zip(rows["customer_count"], keep, strict=True) if k],
                    width=[w for w, k in zip(widths, keep, strict=True) if k],
                    offset=0,
                    name=segment,
                    legendgroup=segment,
                    showlegend=not hatched or not any(not flag for flag in below),
                    marker_color=colour_for(segment, index),
                    marker_pattern_shape="/" if hatched else "",
                    customdata=[c for c, k in zip(labels, keep, strict=True) if k],
                    hovertemplate="%{customdata}: %{y:,} customers<extra>" + segment + "</extra>",
                )
            )
    overflow = frame.loc[frame["is_overflow"].astype(bool), "bin_start"]
    _base(figure, title, "Lifetime value ($)", "Customers")
    if not overflow.empty:
        # under the title: as part of the axis title it was cut off on a narrow screen
        _subtitle(figure, f"last bar: {whole_dollars(overflow.iloc[0])} and above")
    figure.update_layout(barmode="stack", bargap=0.02)
    figure.update_xaxes(tickformat="$,.0f")
    return figure


def ltv_box(stats: pd.DataFrame) -> go.Figure:
    """Lifetime value per segment as boxes from precomputed quartiles (whiskers: min–p95)."""
    title = "Spread of lifetime value"
    figure = go.Figure()
    for index, row in enumerate(stats.itertuples(index=False)):
        figure.add_trace(
            go.Box(
                x=[row.customer_segment],
                q1=[row.q1],
                median=[row.median],
                q3=[row.q3],
                lowerfence=[row.min],
                upperfence=[row.p95],
                mean=[row.mean],
                name=str(row.customer_segment),
                marker_color=colour_for(str(row.customer_segment), index),
                boxpoints=False,
                hovertemplate=None,
            )
        )
    # the whisker stops at the 95th percentile: the maximum above it is a point of its
    # own (hidden before: C002's $424.99 in the sample)
    above = [
        (index, row)
        for index, row in enumerate(stats.itertuples(index=False))
        if float(row.max) > float(row.p95)
    ]
    if above:
        figure.add_trace(
            go.Scatter(
                x=[row.customer_segment for _, row in above],
                y=[float(row.max) for _, row in above],
                mode="markers",
                marker={
                    "symbol": "circle-open",
                    "size": 9,
                    "color": [colour_for(str(row.customer_segment), i) for i, row in above],
                },
                customdata=[money_text(row.max) for _, row in above],
                hovertemplate="%{x}: max %{customdata}<extra></extra>",
                name="max",
            )
        )
    _base(figure, title, "Segment", "Lifetime value ($)")
    # under the title: as the axis title it was cut off on both sides on a narrow screen
    _subtitle(figure, "box: quartiles · whiskers: min to 95th pct" + (" · ○ max" if above else ""))
    figure.update_yaxes(tickformat="$,.0f", rangemode="tozero")
    figure.update_layout(showlegend=False)
    return figure


def top_customers_bar(frame: pd.DataFrame) -> go.Figure:
    """The top customers' lifetime value, most valuable on top, coloured by segment."""
    title = f"Top {len(frame)} customers by LTV"
    figure = go.Figure()
    rows = frame.iloc[::-1].copy()  # horizontal bars draw bottom-up
    rows["_label"] = chart_labels(rows["customer_id"].tolist())
    rows["_full"] = [plain_text(value) for value in rows["customer_id"]]
    for index, segment in enumerate([s for s in SEGMENTS if s in set(rows["customer_segment"])]):
        part = rows[rows["customer_segment"] == segment]
        figure.add_trace(
            go.Bar(
                x=part["lifetime_value"].tolist(),
                y=part["_label"].tolist(),
                orientation="h",
                name=segment,
                marker_color=colour_for(segment, index),
                customdata=part["_full"].tolist(),
                hovertemplate="%{customdata}: %{x:$,.2f}<extra>" + segment + "</extra>",
            )
        )
    _base(figure, title, "Lifetime value ($)", "Customer")
    figure.update_yaxes(
        categoryorder="array", categoryarray=rows["_label"].tolist(), type="category"
    )
    figure.update_xaxes(tickformat="$,.0f")
    figure.update_layout(height=max(320, 22 * len(frame) + 120))
    return figure


def favourite_category_bar(frame: pd.DataFrame) -> go.Figure:
    """Customers per favourite category, most popular first."""
    categories = [str(name) for name in frame["favorite_category"].fillna("(none)")]
    colours = category_colours(categories)
    labels = chart_labels(categories)
    counts = frame["customer_count"].tolist()
    # Long names drawn under vertical bars were tilted and took most of the chart: then
    # the bars lie down, most popular on top, and the names read across.
    across = max((len(name) for name in categories), default=0) > 14
    customdata = [
        [plain_text(name), value]
        for name, value in zip(categories, frame["lifetime_value"], strict=True)
    ]
    count_axis = "x" if across else "y"
    figure = go.Figure(
        go.Bar(
            x=counts[::-1] if across else labels,
            y=labels[::-1] if across else counts,
            orientation="h" if across else "v",
            marker_color=[colours[name] for name in (categories[::-1] if across else categories)],
            customdata=customdata[::-1] if across else customdata,
            hovertemplate="%{customdata[0]}: %{" + count_axis + ":,} customers, "
            "%{customdata[1]:$,.2f} lifetime value<extra></extra>",
            name="Customers",
        )
    )
    if across:
        _base(figure, "Favourite categories", "Customers", "Favourite category")
        figure.update_yaxes(type="category")
        figure.update_layout(showlegend=False, height=max(320, 26 * len(labels) + 140))
    else:
        _base(figure, "Favourite categories", "Favourite category", "Customers")
        figure.update_layout(showlegend=False, height=380)
    return figure


# -- one customer ------------------------------------------------------------------------


def events_timeline(events: pd.DataFrame, transactions: pd.DataFrame) -> go.Figure:
    """A customer's events by type over time, with transactions (sized by amount) on top."""
    title = "Activity over time"
    if events.empty and transactions.empty:
        return _empty(title, "No events or transactions for this customer", "Time", "Activity")
    figure = go.Figure()
    kinds = [kind for kind in EVENT_ORDER if kind in set(events["event_type"])]
    kinds += sorted(set(events["event_type"].dropna()) - set(EVENT_ORDER))
    for index, kind in enumerate(kinds):
        rows = events[events["event_type"] == kind]
        [label] = chart_labels([kind])
        figure.add_trace(
            go.Scatter(
                x=rows["event_at"].tolist(),
                y=[label] * len(rows),
                mode="markers",
                name=label,
                marker={"color": PALETTE[index % len(PALETTE)], "size": 10, "symbol": "circle"},
                customdata=[
                    [plain_text(value) for value in row]
                    for row in rows[["session_id", "product_category"]].fillna("").values.tolist()
                ],
                hovertemplate="%{x|%Y-%m-%d %H:%M}<br>session %{customdata[0]}"
                "<br>%{customdata[1]}<extra>" + label.replace("%", "%%") + "</extra>",
            )
        )
    if not transactions.empty:
        amounts = transactions["amount"].astype(float)
        biggest = max(float(amounts.abs().max()), 0.01)
        # A transaction has a date, not a time: drawn at midday with a bar across its
        # whole day, so it does not look hours earlier than that day's purchase event.
        days = pd.to_datetime(transactions["transaction_date"])
        figure.add_trace(
            go.Scatter(
                x=(days + pd.Timedelta(hours=12)).tolist(),
                y=["transaction"] * len(transactions),
                mode="markers",
                name="transaction",
                error_x={
                    "type": "constant",
                    "value": 12 * 3600 * 1000,  # milliseconds on a date axis
                    "color": "#e45756",
                    "thickness": 2,
                    "width": 0,
                },
                marker={
                    "color": "#e45756",
                    "symbol": "diamond",
                    "size": [8 + 16 * abs(value) / biggest for value in amounts],
                },
                customdata=[
                    [plain_text(value) for value in row]
                    for row in transactions[["transaction_id", "product_category"]]
                    .fillna("")
                    .values.tolist()
                ],
                text=[money_text(value) for value in amounts],
                hovertemplate="%{x|%Y-%m-%d} %{customdata[0]}<br>%{customdata[1]} %{text}"
                "<extra>transaction</extra>",
            )
        )
    # the transaction row only when there are transactions (a browser has none)
    order = [
        *(["transaction"] if not transactions.empty else []),
        *reversed(chart_labels(kinds)),
    ]
    _base(figure, title, "Date", "Activity")
    figure.update_yaxes(categoryorder="array", categoryarray=order[::-1], type="category")
    # One point, or all on one day: plotly zooms to milliseconds (11:59:59.9995 ticks).
    # Show at least a week around them, in days.
    moments = pd.concat(
        [
            pd.to_datetime(events["event_at"]),
            pd.to_datetime(transactions["transaction_date"]) + pd.Timedelta(hours=12),
        ]
    ).dropna()
    if not moments.empty and moments.max() - moments.min() < pd.Timedelta(days=7):
        middle = moments.min() + (moments.max() - moments.min()) / 2
        figure.update_xaxes(
            range=[middle - pd.Timedelta(days=4), middle + pd.Timedelta(days=4)],
            tickformat="%Y-%m-%d",
        )
    figure.update_layout(height=320)
    return figure


# -- retention and behaviour -------------------------------------------------------------


#: Up to this many month columns the heatmap labels its cells; wider, only the hover
#: has the numbers (24 months of cohorts piled the labels up: "00%47%5%45%").
HEATMAP_LABEL_COLUMNS = 12
#: The cells of the month still running: an opaque mid grey, with dark text on it in
#: light and dark themes alike (a half-transparent grey was light on white and dark on
#: the dark theme, and plotly wrote white on it: hard to read on a projector).
IN_PROGRESS_GREY = "#a6a6a6"
IN_PROGRESS_TEXT = "#262730"
#: At most this many tick labels on a month axis: 47 months since first purchase, one
#: label each, ran into one another at 1024 px ("0123456789101112…" under the heatmap).
MONTH_TICKS = 16
#: At most this many "Jan 2024" labels under the monthly revenue bars.
DATE_TICKS = 10


def month_step(months: int, most: int, steps: tuple[int, ...] = (1, 2, 3, 6, 12)) -> int:
    """The smallest step (in months) from ``steps``, then whole multiples of a year,
    that puts at most ``most`` ticks on an axis of ``months`` months."""
    for step in steps:
        if -(-max(months, 1) // step) <= most:
            return step
    years = -(-max(months, 1) // (12 * most))
    return 12 * years


def cohort_in_progress_note(frame: pd.DataFrame) -> str:
    """The heatmap caption's sentence on the month still running as of the as-of date
    ("" when every month is over). It names the "*" only when the cells are labelled."""
    if frame.empty or "is_complete_month" not in frame.columns:
        return ""
    if frame["is_complete_month"].all():
        return ""
    if frame["months_since_first_purchase"].nunique() <= HEATMAP_LABEL_COLUMNS:
        return (
            "\\* Grey cells: the month of the as-of date is still running, so they count "
            "purchases up to the as-of date only and are left off the colour scale."
        )
    return (
        "Grey cells: the month of the as-of date is still running, so they count "
        "purchases up to the as-of date only and are left off the colour scale (their "
        'hover says "month in progress").'
    )


def cohort_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Retention (%) by cohort month (rows) and months since first purchase (columns).

    Cells after the as-of date are blank. The colour scale tops out at the highest
    retention after month 0 (month 0 is 100% by definition), so later months stay
    readable; month-0 cells saturate. The month of the as-of date, still running, is a
    second trace of grey cells (labelled "12%*"): on the scale, its low share read as
    every cohort having stopped buying (the darkest colour, as a real 0%).
    """
    title = "Cohort retention"
    if frame.empty:
        return _empty(title, "No purchases yet", "Months since first purchase", "Cohort")
    grid = frame.assign(
        cohort=pd.to_datetime(frame["cohort_month"]).dt.strftime("%Y-%m"),
        percent=frame["retention_rate"].astype(float) * 100,
    )
    z = grid.pivot(index="cohort", columns="months_since_first_purchase", values="percent")
    sizes = grid.pivot(index="cohort", columns="months_since_first_purchase", values="cohort_size")
    active = grid.pivot(
        index="cohort", columns="months_since_first_purchase", values="active_customers"
    )
    complete = (
        grid.pivot(
            index="cohort", columns="months_since_first_purchase", values="is_complete_month"
        )
        if "is_complete_month" in grid.columns
        else None
    )

    def in_progress(r: int, c: int) -> bool:
        """Whether cell (r, c) is a month still running as of the as-of date."""
        if complete is None:
            return False
        value = complete.iloc[r, c]
        return not pd.isna(value) and not bool(value)

    # A month still running as of the as-of date is marked "*": its share can only grow.
    labels = [
        [
            ""
            if pd.isna(value)
            else f"{round_half_away(value)}%" + ("*" if in_progress(r, c) else "")
            for c, value in enumerate(row)
        ]
        for r, row in enumerate(z.values)
    ]
    later = grid.loc[grid["months_since_first_purchase"] > 0, "percent"]
    top = float(later.max()) if not later.empty and later.max() > 0 else 100.0
    custom = [
        [
            [
                None if pd.isna(active.iloc[r, c]) else int(active.iloc[r, c]),
                None if pd.isna(sizes.iloc[r, c]) else int(sizes.iloc[r, c]),
                " · month in progress, to the as-of date" if in_progress(r, c) else "",
            ]
            for c in range(z.shape[1])
        ]
        for r in range(z.shape[0])
    ]
    running = [[in_progress(r, c) for c in range(z.shape[1])] for r in range(z.shape[0])]
    values = z.values.tolist()
    shared = {
        "x": [int(value) for value in z.columns],
        "y": list(z.index),
        # labels only while cells are wide enough on a 1024 px screen
        "texttemplate": "%{text}" if z.shape[1] <= HEATMAP_LABEL_COLUMNS else None,
        "textfont": {"size": 10 if z.shape[1] > 15 else 12},
        "customdata": custom,
        "hovertemplate": "cohort %{y}, month %{x}: %{z:.1f}%"
        " (%{customdata[0]} of %{customdata[1]} customers)%{customdata[2]}<extra></extra>",
        "xgap": 1,
        "ygap": 1,
        "hoverongaps": False,
    }
    figure = go.Figure(
        go.Heatmap(
            z=[
                [None if running[r][c] else value for c, value in enumerate(row)]
                for r, row in enumerate(values)
            ],
            text=[
                ["" if running[r][c] else label for c, label in enumerate(row)]
                for r, row in enumerate(labels)
            ],
            colorscale=RETENTION_SCALE,
            zmin=0,
            zmax=top,
            colorbar={"title": {"text": "Retention (%)"}, "ticksuffix": "%"},
            name="retention",
            **shared,
        )
    )
    if any(any(row) for row in running):
        figure.add_trace(
            go.Heatmap(
                z=[
                    [value if running[r][c] else None for c, value in enumerate(row)]
                    for r, row in enumerate(values)
                ],
                text=[
                    [label if running[r][c] else "" for c, label in enumerate(row)]
                    for r, row in enumerate(labels)
                ],
                colorscale=[[0, IN_PROGRESS_GREY], [1, IN_PROGRESS_GREY]],
                showscale=False,
                name="month in progress",
                **{**shared, "textfont": {**shared["textfont"], "color": IN_PROGRESS_TEXT}},
            )
        )
    _base(figure, title, "Months since first purchase", "Cohort (month of first purchase)")
    # the long half of the title below it: as one line it was cut off at 800 px
    _subtitle(figure, RETENTION_SUBTITLE)
    figure.update_yaxes(autorange="reversed", type="category")
    columns = [int(value) for value in z.columns]
    span = (max(columns) - min(columns) + 1) if columns else 1
    figure.update_xaxes(dtick=month_step(span, MONTH_TICKS), tickangle=0, side="bottom")
    figure.update_layout(height=max(360, 24 * z.shape[0] + 140))
    return figure


def monthly_revenue_chart(frame: pd.DataFrame) -> go.Figure:
    """Revenue per month as bars (hover: transactions and buying customers)."""
    title = "Revenue per month"
    if frame.empty:
        return _empty(title, "No transactions yet", "Month", "Revenue ($)")
    figure = go.Figure(
        go.Bar(
            x=pd.to_datetime(frame["transaction_month"]).tolist(),
            y=frame["revenue"].tolist(),
            marker_color=PALETTE[0],
            customdata=frame[["transaction_count", "customer_count"]].values.tolist(),
            hovertemplate="%{x|%b %Y}: %{y:$,.2f}<br>%{customdata[0]:,} transactions, "
            "%{customdata[1]:,} customers<extra></extra>",
            name="Revenue",
        )
    )
    _base(figure, title, "Month", "Revenue ($)")
    figure.update_yaxes(tickformat="$,.0f")
    months = pd.to_datetime(frame["transaction_month"])
    span = (
        (months.max().year - months.min().year) * 12 + months.max().month - months.min().month + 1
    )
    step = month_step(span, DATE_TICKS, steps=(1, 3, 6, 12))
    figure.update_xaxes(tickformat="%b %Y", dtick=f"M{step}")
    figure.update_layout(showlegend=False)
    return figure


def segment_metric_bar(
    frame: pd.DataFrame, column: str, title: str, y_title: str, money: bool = False
) -> go.Figure:
    """One behaviour metric per segment (AOV, transactions per customer, ...).

    Segments without customers show no bar; their label stays on the axis.
    """
    segments = [str(name) for name in frame["customer_segment"]]
    values = [None if pd.isna(value) else float(value) for value in frame[column]]
    text = [
        "no customers"
        if pd.isna(value)
        else money_text(value)
        if money
        else f"{round_half_away(value, 2):,.2f}"
        for value in frame[column]
    ]
    figure = go.Figure(
        go.Bar(
            x=segments,
            y=values,
            text=text,
            textposition="outside",
            constraintext="none",
            cliponaxis=False,
            marker_color=[colour_for(name, index) for index, name in enumerate(segments)],
            hovertemplate="%{x}: %{text}<extra></extra>",
            name=y_title,
        )
    )
    _base(figure, title, "Segment", y_title)
    if money:
        # ticks without trailing zeros ($350, $2.5): "$350.00" took room the bars need,
        # and at 800 px two bars' labels ($305.08, $318.75) ran into each other
        figure.update_yaxes(tickformat="$,.2~f")
    figure.update_layout(showlegend=False, bargap=0.12)
    return figure


def category_mix_chart(frame: pd.DataFrame, segments: Sequence[str] = SEGMENTS) -> go.Figure:
    """Share of each segment's revenue by product category (100% stacked bars)."""
    title = "Category mix by segment"
    if frame.empty:
        return _empty(title, "No transactions yet", "Segment", "Share of segment revenue (%)")
    order = [name for name in segments if name in set(frame["customer_segment"])]
    totals = frame.groupby("product_category")["revenue"].sum().sort_values(ascending=False)
    colours = category_colours(list(totals.index))
    names = dict(zip([str(c) for c in totals.index], chart_labels(list(totals.index)), strict=True))
    # A segment whose refunds outweigh its sales (a mart published anyway) has no mix to
    # show: its shares of a negative total drew "100% Audio" for -$25.50 of refunds.
    net = {
        name: round_half_away(value, 2)
        for name, value in frame.groupby("customer_segment")["revenue"].sum().items()
    }
    no_mix = [name for name in order if net[name] <= 0]
    figure = go.Figure()
    for category in totals.index:
        rows = frame[frame["product_category"] == category].set_index("customer_segment")
        shares = [
            None
            if name in no_mix
            else float(rows.loc[name, "share_of_segment_revenue"]) * 100
            if name in rows.index
            else 0.0
            for name in order
        ]
        # the hover's numbers as text, rounded half away from zero like the tables
        hover = [
            [
                percent_text(rows.loc[name, "share_of_segment_revenue"]),
                money_text(rows.loc[name, "revenue"]),
            ]
            if name in rows.index
            else ["0.0%", "$0.00"]
            for name in order
        ]
        figure.add_trace(
            go.Bar(
                x=order,
                y=shares,
                name=names[str(category)],
                marker_color=colours[str(category)],
                customdata=[[plain_text(category), *numbers] for numbers in hover],
                hovertemplate="%{x}, %{customdata[0]}: %{customdata[1]} (%{customdata[2]})"
                "<extra></extra>",
            )
        )
    _base(figure, title, "Segment", "Share of segment revenue (%)")
    # "relative": a negative share (a category whose refunds outweigh its sales, in a
    # mart published anyway) goes below zero instead of overlapping the others.
    figure.update_layout(barmode="relative")
    drawn = frame[~frame["customer_segment"].isin(no_mix)]
    shares = pd.to_numeric(drawn["share_of_segment_revenue"], errors="coerce").astype(float)
    notes = [
        f"{name}: refunds {'outweigh' if net[name] < 0 else 'cancel out'} sales "
        f"({money_text(net[name])}), no mix to show"
        for name in no_mix
    ]
    if (shares < 0).any():
        notes.insert(0, "refunds: a negative share goes below 0, the others then add to over 100%")
    _subtitle(figure, " · ".join([MIX_SUBTITLE, *notes]))
    if (shares < 0).any():
        figure.update_yaxes(ticksuffix="%")
    else:
        figure.update_yaxes(ticksuffix="%", range=[0, 100])
    return figure


# -- analyses ----------------------------------------------------------------------------


def analysis_figure(name: str, frame: pd.DataFrame) -> go.Figure | None:
    """A fitting chart for a dbt analysis' result, or None when no chart fits."""
    if frame.empty:
        return None
    columns = set(frame.columns)
    if name == "retention_rate" and {"measure", "cohort_month", "rate"} <= columns:
        # "cohort retention", and "cohort retention (month in progress)" for the month
        # of the as-of date (marked * in the heatmap)
        measure = frame["measure"].astype(str)
        cohorts = frame[measure.str.startswith("cohort retention")]
        if cohorts.empty:
            return None
        grid = pd.DataFrame(
            {
                "cohort_month": pd.to_datetime(cohorts["cohort_month"]),
                "months_since_first_purchase": cohorts["months_since_first_purchase"].astype(int),
                "cohort_size": cohorts["customers"],
                "active_customers": cohorts["retained_customers"],
                "retention_rate": cohorts["rate"].astype(float),
                "is_complete_month": ~cohorts["measure"].astype(str).str.contains("in progress"),
            }
        )
        return cohort_heatmap(grid)
    if name == "segment_distribution" and {"customer_segment", "customer_count"} <= columns:
        return segment_bars(frame, "count")
    if name == "top_customers" and {"customer_id", "lifetime_value"} <= columns:
        return top_customers_bar(frame)
    if name == "favorite_category" and {"favorite_category", "customer_count"} <= columns:
        return favourite_category_bar(frame)
    return generic_bar(frame, name)


def generic_bar(frame: pd.DataFrame, title: str) -> go.Figure | None:
    """A bar chart of the first numeric column by the first text column (≤ 100 rows)."""
    if frame.empty or len(frame) > 100:
        return None
    labels = [c for c in frame.columns if frame[c].dtype == object or str(frame[c].dtype) == "str"]
    numbers = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    numbers = [c for c in numbers if not pd.api.types.is_bool_dtype(frame[c])]
    if not labels or not numbers:
        return None
    label, value = labels[0], numbers[0]
    figure = go.Figure(
        go.Bar(
            x=chart_labels(frame[label].astype(str).tolist()),
            y=frame[value].tolist(),
            marker_color=PALETTE[0],
            name=plain_text(value),
        )
    )
    _base(figure, f"{title}: {value} by {label}", plain_text(label), plain_text(value))
    figure.update_layout(showlegend=False)
    return figure


# -- lineage -----------------------------------------------------------------------------


TEST_ID_PREFIXES = ("test.", "unit_test.")


# Label geometry in pixels, for placing node labels where they collide least (plotly
# does not move text out of each other's way). Estimates for the 11 px font.
LABEL_CHAR_PX, LABEL_LINE_PX, LABEL_GAP_PX, MARKER_PX = 6.3, 14.0, 9.0, 16.0
LABEL_PAD_PX = 4.0
# The plot area's width the collisions are reckoned for: about the chart's width at
# 1280 px with the sidebar open. Wider screens have more room; a narrower one scrolls
# the chart sideways (lineage.min_width_px).
ASSUMED_PLOT_PX = 660.0


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Area shared by two rectangles (x0, y0, x1, y1)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _inside_length(
    segment: tuple[float, float, float, float], rect: tuple[float, float, float, float]
) -> float:
    """Length of the segment (x0, y0, x1, y1) that runs inside the rectangle (x0, y0,
    x1, y1): Liang-Barsky clipping."""
    x0, y0, x1, y1 = segment
    dx, dy = x1 - x0, y1 - y0
    low, high = 0.0, 1.0
    for p, q in (
        (-dx, x0 - rect[0]),
        (dx, rect[2] - x0),
        (-dy, y0 - rect[1]),
        (dy, rect[3] - y0),
    ):
        if p == 0:
            if q < 0:
                return 0.0
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low >= high:
            return 0.0
    return (high - low) * math.hypot(dx, dy)


# An edge through a label costs this many square pixels per pixel of edge inside it:
# less than a label over a label (unreadable), enough to pick the side edges leave free.
EDGE_THROUGH_LABEL = 1.0
SIDES = ("top center", "bottom center")


def stagger_node_labels(figure: go.Figure, label_tests: bool = True) -> go.Figure:
    """Put each node's label above or below it, whichever runs into fewer other labels
    and nodes; a tie goes by column (above in even columns, below in odd ones).

    Neighbouring columns often hold nodes on the same or nearby rows, and a long model
    name is wider than the space between columns: with the side fixed per column,
    ``fct_transactions`` below its node ran into ``fct_retention_summary`` above the
    next column's node half a row lower. The sizes are estimated in pixels from the
    figure's height and y range (set the height first) and an assumed plot width.
    ``label_tests=False`` leaves test nodes unlabelled (their names stay in the hover),
    which keeps a graph with every test readable.
    """
    node_traces = [
        trace
        for trace in figure.data
        if getattr(trace, "mode", None) == "markers+text" and trace.x is not None
    ]
    # (a status group with no node has one point at None: its legend entry)
    columns = sorted(
        {round(float(x), 3) for trace in node_traces for x in trace.x if x is not None}
    )
    rank = {x: index for index, x in enumerate(columns)}
    for trace in node_traces:
        if not label_tests and trace.customdata is not None and trace.text is not None:
            trace.text = [
                "" if str(node_id).startswith(TEST_ID_PREFIXES) else text
                for node_id, text in zip(trace.customdata, trace.text, strict=True)
            ]
    # Pixels per layout unit.
    y_range = figure.layout.yaxis.range
    margin = figure.layout.margin
    height = float(figure.layout.height or 450)
    plot_h = (
        height
        - float(margin.t if margin.t is not None else 80)
        - float(margin.b if margin.b is not None else 80)
    )
    span_y = abs(float(y_range[0]) - float(y_range[1])) if y_range is not None else 0.0
    y_px = plot_h / span_y if span_y else 50.0
    x_range = figure.layout.xaxis.range
    span_x = abs(float(x_range[1]) - float(x_range[0])) if x_range is not None else 0.0
    x_px = ASSUMED_PLOT_PX / span_x if span_x else 100.0

    # Every node: (trace, index, x px, y px, label width, label height, fixed side).
    nodes: list[tuple[Any, int, float, float, float, float, str | None]] = []
    for trace in node_traces:
        given = trace.textposition
        given = list(given) if isinstance(given, (list, tuple)) else [given] * len(trace.x)
        texts = list(trace.text) if trace.text is not None else [""] * len(trace.x)
        for index, (x, y) in enumerate(zip(trace.x, trace.y, strict=True)):
            if x is None or y is None:
                continue
            lines = [line for line in re.split(r"<br>", str(texts[index] or "")) if line]
            width = max((len(html.unescape(line)) for line in lines), default=0) * LABEL_CHAR_PX
            fixed = given[index] if given[index] == "middle right" or not lines else None
            nodes.append(
                (
                    trace,
                    index,
                    float(x) * x_px,
                    float(y) * y_px,
                    width,
                    # (and a little: two labels that touch read as one)
                    len(lines) * LABEL_LINE_PX + (LABEL_PAD_PX if lines else 0.0),
                    fixed,
                )
            )

    def box(node: tuple, side: str) -> tuple[float, float, float, float]:
        _, _, x, y, width, tall, _ = node
        if side == "middle right":
            return (x + MARKER_PX / 2, y - tall / 2, x + MARKER_PX / 2 + width, y + tall / 2)
        if side == "top center":  # the y axis is reversed: smaller y is higher up
            return (x - width / 2, y - LABEL_GAP_PX - tall, x + width / 2, y - LABEL_GAP_PX)
        return (x - width / 2, y + LABEL_GAP_PX, x + width / 2, y + LABEL_GAP_PX + tall)

    def default(node: tuple) -> str:
        return "top center" if rank[round(node[2] / x_px, 3)] % 2 == 0 else "bottom center"

    # The edges as pixel segments, each with its box (to skip the far ones quickly).
    segments: list[tuple[float, float, float, float]] = []
    for trace in figure.data:
        if getattr(trace, "mode", None) != "lines+markers" or trace.x is None:
            continue
        points = list(zip(trace.x, trace.y, strict=True))
        for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
            if None not in (ax, ay, bx, by):
                segments.append(
                    (float(ax) * x_px, float(ay) * y_px, float(bx) * x_px, float(by) * y_px)
                )

    def through(rect: tuple[float, float, float, float]) -> float:
        total = 0.0
        for seg in segments:
            if (
                max(seg[0], seg[2]) < rect[0]
                or min(seg[0], seg[2]) > rect[2]
                or max(seg[1], seg[3]) < rect[1]
                or min(seg[1], seg[3]) > rect[3]
            ):
                continue
            total += _inside_length(seg, rect)
        return total

    # (the edges do not move: each node's two sides are costed against them once)
    edge_cost = [
        {side: EDGE_THROUGH_LABEL * through(box(node, side)) for side in SIDES} for node in nodes
    ]
    sides = [node[6] or default(node) for node in nodes]
    markers = [
        (x - MARKER_PX / 2, y - MARKER_PX / 2, x + MARKER_PX / 2, y + MARKER_PX / 2)
        for _, _, x, y, *_ in nodes
    ]
    for _ in range(3):  # each node's best side given the others'; a few rounds settle it
        changed = False
        for i, node in enumerate(nodes):
            if node[6] is not None:
                continue

            def cost(side: str, i: int = i, node: tuple = node) -> float:
                mine = box(node, side)
                total = edge_cost[i][side]
                for j, other in enumerate(nodes):
                    if j == i:
                        continue
                    if other[5]:
                        total += _overlap(mine, box(other, sides[j]))
                    total += 2 * _overlap(mine, markers[j])
                return total

            costs = {side: cost(side) for side in SIDES}
            best = min(SIDES, key=lambda side: (costs[side], side != default(node)))
            if costs[best] < costs[sides[i]]:
                sides[i] = best
                changed = True
        if not changed:
            break
    placed: dict[int, list[str]] = {}
    for node, side in zip(nodes, sides, strict=True):
        trace = node[0]
        if id(trace) not in placed:
            given = trace.textposition
            placed[id(trace)] = (
                list(given) if isinstance(given, (list, tuple)) else [given] * len(trace.x)
            )
            placed[id(trace)] = ["top center" if p is None else p for p in placed[id(trace)]]
        placed[id(trace)][node[1]] = side
    for trace in node_traces:
        if id(trace) in placed:
            trace.textposition = placed[id(trace)]
    y_range = figure.layout.yaxis.range
    if y_range is not None and len(y_range) == 2 and y_range[0] > y_range[1]:
        # reversed axis: make room below the last row for labels drawn underneath
        figure.update_yaxes(range=[y_range[0] + 0.45, y_range[1]])
    return figure

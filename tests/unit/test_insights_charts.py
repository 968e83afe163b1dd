"""mart.insights on a real small mart (the exercise's sample) and mart.charts as pure figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from mart import charts, db, insights
from mart.errors import InputError, SandboxError
from mart.workspace import DBT_PROJECT_DIR

DBT = [sys.executable, "-c", "from dbt.cli.main import cli; cli()"]


@pytest.fixture(scope="session")
def mart_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample built once with the plain dbt CLI, as of 2024-03-01.

    Laid out like a build directory (``mart.duckdb`` next to ``target/``), so the
    artifact helpers find the dbt artifacts.
    """
    root = tmp_path_factory.mktemp("insights_build")
    db_path = root / "mart.duckdb"
    target = root / "target"
    env = dict(os.environ, MART_DUCKDB_PATH=str(db_path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    for command in (["build"], ["compile", "--select", "resource_type:analysis"]):
        result = subprocess.run(
            [
                *DBT,
                *command,
                "--target-path",
                str(target),
                "--log-path",
                str(root / "logs"),
                "--vars",
                json.dumps({"as_of_date": "2024-03-01"}),
            ],
            cwd=DBT_PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    yield db_path
    db.close_all()


# -- insights -----------------------------------------------------------------------------


def test_kpis_exact(mart_db: Path) -> None:
    kpis = insights.kpis(mart_db)
    assert kpis.purchasing_customers == 4
    assert kpis.known_customers == 5  # C005 only browsed
    assert kpis.transactions == 8
    assert kpis.revenue == Decimal("1635.48")
    assert kpis.avg_order_value == Decimal("204.44")  # 1635.48 / 8 = 204.435 → half up
    assert kpis.avg_lifetime_value == Decimal("408.87")
    assert kpis.repeat_purchase_rate == Decimal("0.5000")
    assert str(kpis.as_of_date) == "2024-03-01"


def test_segment_split_all_three(mart_db: Path) -> None:
    frame = insights.segment_distribution(mart_db)
    assert frame["customer_segment"].tolist() == ["High Value", "Medium Value", "Low Value"]
    assert frame["customer_count"].tolist() == [1, 3, 0]
    assert frame["total_revenue"].round(2).tolist() == [500.00, 1135.48, 0.00]
    assert frame["share_of_customers"].tolist() == [0.25, 0.75, 0.0]


def test_top_customers(mart_db: Path) -> None:
    frame = insights.top_customers(mart_db, 10)
    assert frame["customer_id"].tolist() == ["C003", "C002", "C001", "C004"]
    assert frame.loc[0, "lifetime_value"] == pytest.approx(500.00)
    c001 = frame.set_index("customer_id").loc["C001"]
    assert c001["avg_order_value"] == pytest.approx(90.12)
    assert c001["transaction_count"] == 4
    assert insights.top_customers(mart_db, 1)["customer_id"].tolist() == ["C003"]


def test_ltv_histogram_counts_every_customer(mart_db: Path) -> None:
    frame = insights.ltv_histogram(mart_db, 30)
    assert frame["customer_count"].sum() == 4
    assert set(frame["customer_segment"]) == {"High Value", "Medium Value"}
    high = frame[frame["customer_segment"] == "High Value"].iloc[0]
    assert high["bin_start"] <= 500 < high["bin_end"] or high["is_overflow"]
    stats = insights.ltv_box_stats(mart_db).set_index("customer_segment")
    assert stats.loc["Medium Value", "customer_count"] == 3
    assert stats.loc["Medium Value", "min"] == pytest.approx(350.00)
    assert stats.loc["Medium Value", "max"] == pytest.approx(424.99)


def test_favourite_categories(mart_db: Path) -> None:
    frame = insights.favourite_categories(mart_db)
    assert frame["favorite_category"].tolist() == ["Electronics"]
    assert frame["customer_count"].tolist() == [4]


def test_customer_drill_down(mart_db: Path) -> None:
    found = insights.search_customers(mart_db, "c00", 50)
    assert len(found) == 5 and found.loc[0, "customer_id"] == "C003"
    assert insights.search_customers(mart_db, "C001", 50).loc[0, "customer_id"] == "C001"
    assert insights.search_customers(mart_db, "nobody").empty
    assert len(insights.search_customers(mart_db, "", 2)) == 2
    assert insights.search_customers(mart_db, "", 2)["matches"].tolist() == [5, 5]
    # a quote in the search text is data, not SQL
    assert insights.search_customers(mart_db, "' or 1=1 --").empty
    profile = insights.customer_profile(mart_db, "C001")
    assert profile is not None
    assert profile["lifetime_value"] == pytest.approx(360.49)
    assert profile["avg_order_value"] == pytest.approx(90.12)
    assert profile["customer_segment"] == "Medium Value"
    assert insights.customer_profile(mart_db, "C999") is None
    transactions = insights.customer_transactions(mart_db, "C001")
    assert transactions["transaction_id"].tolist() == ["T001", "T002", "T004", "T007"]
    events = insights.customer_events(mart_db, "C001")
    assert (events["event_type"] == "purchase").sum() == 4
    assert events["event_at"].is_monotonic_increasing
    history = insights.customer_segment_history(mart_db, "C001")
    assert len(history) == 1
    assert bool(history.loc[0, "is_current"]) and pd.isna(history.loc[0, "valid_to"])


def test_retention(mart_db: Path) -> None:
    summary = insights.retention_summary(mart_db)
    assert summary.repeat_customers == 2 and summary.purchasing_customers == 4
    assert summary.repeat_purchase_rate == Decimal("0.5000")
    cohorts = insights.cohort_retention(mart_db)
    january = cohorts[cohorts["cohort_month"] == pd.Timestamp("2024-01-01")]
    assert january["retention_rate"].tolist() == [1.0, 1.0, 0.0]
    assert january["cohort_size"].tolist() == [2, 2, 2]
    # as of 2024-03-01, March (January's month 2, February's month 1) is still running
    assert january["is_complete_month"].tolist() == [True, True, False]
    assert cohorts["is_complete_month"].tolist() == [True, True, False, True, False]


def test_behaviour_and_revenue(mart_db: Path) -> None:
    mix = insights.segment_category_mix(mart_db)
    assert mix.iloc[0]["customer_segment"] == "High Value"
    medium = mix[mix["customer_segment"] == "Medium Value"].set_index("product_category")
    assert medium.loc["Electronics", "revenue"] == pytest.approx(889.98)
    monthly = insights.monthly_revenue(mart_db)
    assert monthly["revenue"].round(2).tolist() == [525.49, 1109.99]
    assert monthly["transaction_count"].tolist() == [3, 5]
    assert monthly["customer_count"].tolist() == [2, 4]


def test_analyses_and_preview(mart_db: Path) -> None:
    artifacts = insights.build_artifacts(mart_db)
    assert "top_customers" in artifacts.analyses
    result = insights.run_analysis(mart_db, "top_customers")
    assert result.dataframe["customer_id"].tolist()[0] == "C003"
    preview = insights.table_preview(mart_db, "main.fct_customer_metrics", 2)
    assert len(preview) == 2
    with pytest.raises(InputError):
        insights.run_analysis(mart_db, "no_such_analysis")


def test_sandbox_refuses_file_read(mart_db: Path) -> None:
    from mart.sandbox import run_sql

    with pytest.raises(SandboxError):
        run_sql(mart_db, "select * from read_csv('/etc/passwd')")


def test_thresholds() -> None:
    defaults = insights.default_thresholds()
    assert (defaults.high, defaults.medium) == (Decimal(500), Decimal(200))
    assert insights.thresholds_from_vars({}) == defaults
    chosen = insights.thresholds_from_vars({"high_value_threshold": 300, "as_of_date": "x"})
    assert (chosen.high, chosen.medium, chosen.is_default) == (Decimal(300), Decimal(200), False)
    valid = insights.validate_thresholds(300, 99.5)
    assert valid.as_vars() == {"high_value_threshold": 300, "medium_value_threshold": 99.5}
    for high, medium in ((200, 200), (100, 200), (100, -1), (float("nan"), 1)):
        with pytest.raises(InputError):
            insights.validate_thresholds(high, medium)
    # Every value that is not a finite number gets the same message.
    for high in (float("nan"), float("inf"), float("-inf"), "abc", "", 1e40):
        with pytest.raises(InputError, match="^Thresholds must be finite numbers in dollars"):
            insights.validate_thresholds(high, 200)
    # Money is in cents: a threshold with a third decimal is refused, not rounded away.
    with pytest.raises(InputError, match="500.001 has more than 2 decimals"):
        insights.validate_thresholds(500.001, 200)
    assert insights.validate_thresholds(500.1, 199.99).high == Decimal("500.10")


def test_thresholds_from_fields_read_as_shown() -> None:
    # A number field showing "%.2f" reads 1000.005 as "1000.00" (was refused as "more
    # than 2 decimals" under a field reading 1000.00); half a cent rounds as shown.
    read = insights.thresholds_from_fields(1000.005, 300.004)
    assert (read.high, read.medium) == (Decimal("1000.00"), Decimal("300.00"))
    assert insights.thresholds_from_fields(500.1, 199.999).medium == Decimal("200.00")
    for high in (float("nan"), float("inf"), 1e40):
        with pytest.raises(InputError, match="^Thresholds must be finite numbers in dollars"):
            insights.thresholds_from_fields(high, 200)
    with pytest.raises(InputError, match="must be greater than the medium"):
        insights.thresholds_from_fields(200.004, 199.996)  # both show as 200.00


# -- charts -------------------------------------------------------------------------------


def _assert_labelled(figure: go.Figure) -> None:
    assert figure.layout.title.text
    # Plotly never wraps a title: a longer one was cut off in a half-width column at 800 px
    assert len(figure.layout.title.text) <= charts.TITLE_FIT, figure.layout.title.text
    if figure.layout.title.subtitle.text:  # room for it above the plot's top tick label
        assert figure.layout.margin.t >= 80
    assert figure.layout.xaxis.title.text
    assert figure.layout.yaxis.title.text
    # no hard-coded background or template: Streamlit's light/dark theme applies
    layout = figure.to_plotly_json()["layout"]
    assert "paper_bgcolor" not in layout and "plot_bgcolor" not in layout


SEGMENTS = pd.DataFrame(
    {
        "customer_segment": ["High Value", "Medium Value", "Low Value"],
        "customer_count": [1, 3, 0],
        "total_revenue": [500.0, 1135.48, 0.0],
        "share_of_customers": [0.25, 0.75, 0.0],
        "share_of_revenue": [0.3057, 0.6943, 0.0],
        "avg_order_value": [500.0, 162.21, None],
        "avg_transactions_per_customer": [1.0, 2.33, None],
    }
)


def test_segment_bars_show_all_segments() -> None:
    counts = charts.segment_bars(SEGMENTS, "count")
    _assert_labelled(counts)
    assert [trace.type for trace in counts.data] == ["bar"]
    assert list(counts.data[0].x) == ["High Value", "Medium Value", "Low Value"]
    assert list(counts.data[0].y) == [1, 3, 0]
    assert counts.layout.yaxis.title.text == "Customers"
    value = charts.segment_bars(SEGMENTS, "value")
    assert list(value.data[0].y) == [500.0, 1135.48, 0.0]
    assert "$" in value.layout.yaxis.title.text
    with pytest.raises(ValueError):
        charts.segment_bars(SEGMENTS, "size")


def test_segment_value_labels_stay_short_above_narrow_bars() -> None:
    """At 1024 px "$329,172" and "$342,047" ran into each other above their bars."""
    shorts = [
        charts.short_dollars(value)
        for value in (1871.5, 99999.49, 100000, 329172.45, 999499.99, 999500, 3512971.55, -250000)
    ]
    assert shorts == [
        "$1,872", "$99,999", "$100K", "$329K", "$999K", "$1.00M", "$3.51M", "-$250K",
    ]  # fmt: skip
    frame = SEGMENTS.assign(total_revenue=[3512971.55, 467370.43, 340932.79])
    value = charts.segment_bars(frame, "value")
    assert [text.split("<br>")[0] for text in value.data[0].text] == ["$3.51M", "$467K", "$341K"]
    assert value.data[0].hovertemplate.endswith("%{y:$,.2f}<extra></extra>")  # exact there


def test_segment_metric_bar() -> None:
    figure = charts.segment_metric_bar(SEGMENTS, "avg_order_value", "AOV", "Order value ($)", True)
    _assert_labelled(figure)
    assert list(figure.data[0].y) == [500.0, 162.21, None]


def test_ltv_histogram_and_box() -> None:
    frame = pd.DataFrame(
        {
            "bin_start": [300.0, 500.0],
            "bin_end": [320.0, 520.0],
            "customer_segment": ["Medium Value", "High Value"],
            "customer_count": [3, 1],
            "is_overflow": [False, False],
        }
    )
    figure = charts.ltv_histogram(frame)
    _assert_labelled(figure)
    assert {trace.type for trace in figure.data} == {"bar"}
    assert sum(sum(trace.y) for trace in figure.data) == 4
    assert "$" in figure.layout.xaxis.title.text
    empty = charts.ltv_histogram(frame.iloc[0:0])
    assert empty.layout.title.text and not empty.data
    # The overflow bin is named under the title, not in the axis title (cut off there on
    # a narrow screen).
    capped = charts.ltv_histogram(
        frame.assign(is_overflow=[False, True], bin_start=[300.0, 4000.0])
    )
    assert capped.layout.title.subtitle.text == "last bar: $4,000 and above"
    assert capped.layout.xaxis.title.text == "Lifetime value ($)"
    stats = pd.DataFrame(
        {
            "customer_segment": ["Medium Value"],
            "customer_count": [3],
            "min": [350.0],
            "q1": [355.0],
            "median": [360.49],
            "q3": [392.0],
            "max": [424.99],
            "p95": [418.0],
            "mean": [378.49],
        }
    )
    box = charts.ltv_box(stats)
    _assert_labelled(box)
    assert box.data[0].type == "box" and list(box.data[0].median) == [360.49]
    # the whisker ends at the 95th percentile; the maximum above it is a point of its own
    [top] = [trace for trace in box.data if trace.name == "max"]
    assert list(top.y) == [424.99] and list(top.customdata) == ["$424.99"]
    assert box.layout.title.subtitle.text.endswith("○ max")
    flat = charts.ltv_box(stats.assign(max=[418.0]))
    assert [trace.type for trace in flat.data] == ["box"]


def test_top_customers_and_favourites() -> None:
    top = pd.DataFrame(
        {
            "customer_id": ["C003", "C002"],
            "customer_segment": ["High Value", "Medium Value"],
            "lifetime_value": [500.0, 424.99],
        }
    )
    figure = charts.top_customers_bar(top)
    _assert_labelled(figure)
    values = {y: x for trace in figure.data for x, y in zip(trace.x, trace.y, strict=True)}
    assert values == {"C003": 500.0, "C002": 424.99}
    favourites = pd.DataFrame(
        {"favorite_category": ["Electronics"], "customer_count": [4], "lifetime_value": [1.0]}
    )
    fav = charts.favourite_category_bar(favourites)
    _assert_labelled(fav)
    assert list(fav.data[0].y) == [4]


def test_cohort_heatmap() -> None:
    frame = pd.DataFrame(
        {
            "cohort_month": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"] * 2),
            "months_since_first_purchase": [0, 1, 2, 0, 1],
            "cohort_size": [2, 2, 2, 2, 2],
            "active_customers": [2, 2, 0, 2, 0],
            "retention_rate": [1.0, 1.0, 0.0, 1.0, 0.0],
        }
    )
    figure = charts.cohort_heatmap(frame)
    _assert_labelled(figure)
    heatmap = figure.data[0]
    assert heatmap.type == "heatmap"
    assert list(heatmap.y) == ["2024-01", "2024-02"]
    assert heatmap.z[0] == (100.0, 100.0, 0.0) or list(heatmap.z[0]) == [100.0, 100.0, 0.0]
    assert heatmap.text[1][2] == ""  # the month after the as-of date stays blank
    assert heatmap.text[0][1] == "100%"
    assert "%" in heatmap.colorbar.title.text
    assert len(figure.data) == 1  # no month in progress: no grey trace
    # The month still running as of the as-of date is a grey cell off the colour scale
    # (its low share read as every cohort having stopped buying), marked "*", with a
    # word in the hover.
    running = frame.assign(is_complete_month=[True, True, False, True, False])
    scaled, grey = charts.cohort_heatmap(running).data
    assert grey.name == "month in progress" and not grey.showscale
    assert {stop[1] for stop in grey.colorscale} == {charts.IN_PROGRESS_GREY}
    # dark text on an opaque grey (plotly wrote white on a half-transparent light grey)
    assert grey.textfont.color == charts.IN_PROGRESS_TEXT
    assert charts.IN_PROGRESS_GREY.startswith("#") and len(charts.IN_PROGRESS_GREY) == 7
    assert grey.z[0][2] == 0.0 and grey.z[1][1] == 0.0  # the running cells only
    assert grey.z[0][1] is None and grey.z[1][0] is None
    assert scaled.z[0][2] is None and scaled.z[1][1] is None  # not on the scale
    assert scaled.z[0][1] == 100.0
    assert grey.text[0][2] == "0%*" and grey.text[1][1] == "0%*" and grey.text[0][1] == ""
    assert scaled.text[0][1] == "100%" and scaled.text[0][2] == "" and scaled.text[1][2] == ""
    assert "in progress" in grey.customdata[0][2][2]
    assert scaled.customdata[0][1][2] == ""
    # The caption explains the grey cells and the "*" while the cells carry labels.
    assert charts.cohort_in_progress_note(frame) == ""
    assert charts.cohort_in_progress_note(frame.assign(is_complete_month=True)) == ""
    assert charts.cohort_in_progress_note(running).startswith("\\* Grey cells: the month")


def test_the_in_progress_note_names_no_asterisk_when_the_cells_have_no_labels() -> None:
    """Past 12 month columns the heatmap drops its cell labels (they no longer fit), so
    no "*" is drawn; the caption then points to the hover instead."""
    months = charts.HEATMAP_LABEL_COLUMNS + 1
    frame = pd.DataFrame(
        {
            "cohort_month": pd.to_datetime(["2024-01-01"] * months),
            "months_since_first_purchase": list(range(months)),
            "cohort_size": [4] * months,
            "active_customers": [4] + [1] * (months - 1),
            "retention_rate": [1.0] + [0.25] * (months - 1),
            "is_complete_month": [True] * (months - 1) + [False],
        }
    )
    heatmap = charts.cohort_heatmap(frame).data[0]
    assert heatmap.texttemplate is None  # no labels drawn
    note = charts.cohort_in_progress_note(frame)
    assert "*" not in note and "month in progress" in note
    labelled = frame[frame["months_since_first_purchase"] < charts.HEATMAP_LABEL_COLUMNS]
    labelled = labelled.assign(is_complete_month=[True] * 11 + [False])
    assert charts.cohort_heatmap(labelled).data[0].texttemplate == "%{text}"
    assert charts.cohort_in_progress_note(labelled).startswith("\\*")


def test_monthly_revenue_and_mix() -> None:
    monthly = pd.DataFrame(
        {
            "transaction_month": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "transaction_count": [3, 5],
            "customer_count": [2, 4],
            "revenue": [525.49, 1109.99],
        }
    )
    figure = charts.monthly_revenue_chart(monthly)
    _assert_labelled(figure)
    assert list(figure.data[0].y) == [525.49, 1109.99]
    mix = pd.DataFrame(
        {
            "customer_segment": ["High Value", "Medium Value", "Medium Value"],
            "product_category": ["Electronics", "Electronics", "Audio"],
            "transaction_count": [1, 3, 1],
            "customer_count": [1, 3, 1],
            "revenue": [500.0, 889.98, 125.0],
            "share_of_segment_revenue": [1.0, 0.7838, 0.1101],
        }
    )
    chart = charts.category_mix_chart(mix)
    _assert_labelled(chart)
    assert [trace.name for trace in chart.data] == ["Electronics", "Audio"]
    assert list(chart.data[0].y) == pytest.approx([100.0, 78.38])


def test_category_mix_with_refunds_shows_negative_shares_below_zero() -> None:
    """A mart published anyway with refunds: a category's net revenue in a segment can
    be negative, so its share is below 0 and the others add up to more than 100%. The
    bars stack relative to zero, the axis is not clipped at 0-100, and a subtitle says
    why."""
    mix = pd.DataFrame(
        {
            "customer_segment": ["Low Value", "Low Value"],
            "product_category": ["Electronics", "Audio"],
            "transaction_count": [2, 1],
            "customer_count": [1, 1],
            "revenue": [150.0, -50.0],
            "share_of_segment_revenue": [1.5, -0.5],
        }
    )
    chart = charts.category_mix_chart(mix)
    _assert_labelled(chart)
    assert chart.layout.barmode == "relative"
    assert chart.layout.yaxis.range is None
    assert "negative share" in chart.layout.title.subtitle.text
    assert {trace.name: list(trace.y) for trace in chart.data} == {
        "Electronics": [150.0],
        "Audio": [-50.0],
    }
    plain = charts.category_mix_chart(mix.assign(share_of_segment_revenue=[0.75, 0.25]))
    assert tuple(plain.layout.yaxis.range) == (0, 100)
    assert plain.layout.title.subtitle.text == charts.MIX_SUBTITLE


def test_category_mix_draws_no_shares_for_a_segment_of_refunds_only() -> None:
    """A Low Value segment whose only transactions are refunds (-25.50 in Audio) was
    drawn as "100% Audio": a share of a negative total. It now has no bar, and the
    subtitle says why; the other segments keep theirs."""
    mix = pd.DataFrame(
        {
            "customer_segment": ["High Value", "High Value", "Low Value"],
            "product_category": ["Electronics", "Audio", "Audio"],
            "transaction_count": [2, 1, 2],
            "customer_count": [1, 1, 1],
            "revenue": [Decimal("300.00"), Decimal("100.00"), Decimal("-25.50")],
            "share_of_segment_revenue": [Decimal("0.75"), Decimal("0.25"), Decimal("1.0000")],
        }
    )
    chart = charts.category_mix_chart(mix)
    _assert_labelled(chart)
    drawn = {trace.name: list(trace.y) for trace in chart.data}
    assert drawn == {"Electronics": [75.0, None], "Audio": [25.0, None]}
    assert list(chart.data[0].x) == ["High Value", "Low Value"]  # its label stays
    assert "Low Value: refunds outweigh sales (-$25.50)" in chart.layout.title.subtitle.text
    assert tuple(chart.layout.yaxis.range) == (0, 100)


def test_events_timeline() -> None:
    events = pd.DataFrame(
        {
            "event_id": ["E1", "E2"],
            "session_id": ["S1", "S1"],
            "event_type": ["page_view", "purchase"],
            "product_category": [None, "Audio"],
            "event_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05"]),
        }
    )
    transactions = pd.DataFrame(
        {
            "transaction_id": ["T1"],
            "transaction_date": pd.to_datetime(["2024-01-01"]),
            "product_category": ["Audio"],
            "amount": [125.0],
            "is_refund": [False],
        }
    )
    figure = charts.events_timeline(events, transactions)
    _assert_labelled(figure)
    assert [trace.name for trace in figure.data] == ["page_view", "purchase", "transaction"]
    assert all(trace.type == "scatter" for trace in figure.data)
    empty = charts.events_timeline(events.iloc[0:0], transactions.iloc[0:0])
    assert not empty.data
    # All on one day: a week around it in days, not ticks of 11:59:59.9995.
    axis = figure.layout.xaxis
    assert axis.tickformat == "%Y-%m-%d"
    low, high = (pd.Timestamp(value) for value in axis.range)
    assert high - low == pd.Timedelta(days=8)
    assert low < pd.Timestamp("2024-01-01 10:00") and high > pd.Timestamp("2024-01-01 12:00")
    # A customer who only browsed has no transaction row.
    browser = charts.events_timeline(events, transactions.iloc[0:0])
    assert "transaction" not in list(browser.layout.yaxis.categoryarray)
    assert "transaction" in list(figure.layout.yaxis.categoryarray)
    # Months of activity keep plotly's own range.
    later = events.assign(event_at=pd.to_datetime(["2024-01-01 10:00", "2024-03-01 10:05"]))
    assert charts.events_timeline(later, transactions).layout.xaxis.range is None


def test_analysis_figure_picks_a_chart() -> None:
    assert charts.analysis_figure("segment_distribution", SEGMENTS) is not None
    assert charts.analysis_figure("anything", pd.DataFrame()) is None
    generic = charts.analysis_figure("x", pd.DataFrame({"name": ["a", "b"], "n": [1, 2]}))
    assert generic is not None and list(generic.data[0].y) == [1, 2]
    # retention_rate: the cohort rows, the running month's included and marked
    retention = pd.DataFrame(
        {
            "cohort_month": ["overall", "2024-01-01", "2024-01-01"],
            "months_since_first_purchase": [None, 0, 1],
            "customers": [4, 2, 2],
            "retained_customers": [2, 2, 0],
            "rate": [0.5, 1.0, 0.0],
            "measure": [
                "month-1 retention",
                "cohort retention",
                "cohort retention (month in progress)",
            ],
        }
    )
    scaled, grey = charts.analysis_figure("retention_rate", retention).data
    assert scaled.type == "heatmap" and list(scaled.text[0]) == ["100%", ""]
    assert list(grey.text[0]) == ["", "0%*"]  # the running month: the grey trace


def test_stagger_node_labels() -> None:
    figure = go.Figure(go.Scatter(x=[0, 1, 2], y=[0, 0, 0], mode="markers+text", text=list("abc")))
    figure.update_yaxes(range=[1.6, -1.3])
    charts.stagger_node_labels(figure)
    assert list(figure.data[0].textposition) == ["top center", "bottom center", "top center"]
    assert figure.layout.yaxis.range[0] > 1.6


def test_stagger_moves_a_label_off_the_next_columns_label() -> None:
    """Column 1's node half a row above column 0's: its label below (the odd columns'
    side) ran into column 0's label above. One of them goes to the other side."""
    figure = go.Figure(
        go.Scatter(
            x=[0, 1, 0],
            y=[1.0, 0.5, 3.0],
            mode="markers+text",
            text=["fct_transactions", "fct_retention_<br>summary", "far_away_node"],
        )
    )
    figure.update_layout(height=480, margin={"t": 60, "b": 60})
    figure.update_xaxes(range=[-0.75, 7.75])  # nine columns' width: 73 px apart
    figure.update_yaxes(range=[3.6, -1.3])
    charts.stagger_node_labels(figure)
    first, second, far = figure.data[0].textposition
    assert (first, second) != ("top center", "bottom center")
    assert far == "top center"  # nothing near it: the column's side
    # Far apart, the sides are the columns' (a tie keeps the default).
    figure.data[0].y = [1.0, 3.0, 5.0]
    figure.update_yaxes(range=[5.6, -1.3])
    charts.stagger_node_labels(figure)
    assert list(figure.data[0].textposition) == ["top center", "bottom center", "top center"]


def test_stagger_puts_a_label_on_the_side_no_edge_crosses() -> None:
    """Column 1's node (an even column would label it above) has an edge passing just
    above it from column 0 to column 2: its label goes below, out of the edge's way."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=[0, 2, None], y=[0.8, 0.8, None], mode="lines+markers", name="edges")
    )
    figure.add_trace(
        go.Scatter(x=[1, 3], y=[1.0, 1.0], mode="markers+text", text=["crossed_node", "free"])
    )
    figure.update_layout(height=480, margin={"t": 60, "b": 60})
    figure.update_xaxes(range=[-0.75, 7.75])
    figure.update_yaxes(range=[3.6, -1.3])
    charts.stagger_node_labels(figure)
    crossed, free = figure.data[1].textposition
    assert crossed == "bottom center"
    assert free == "bottom center"  # an odd column's own side: nothing to move it
    # Without the edge, the even column keeps its side.
    figure.data[0].y = [3.0, 3.0, None]
    figure.data[1].textposition = None
    charts.stagger_node_labels(figure)
    assert figure.data[1].textposition[0] == "top center"


def test_inside_length_clips_a_segment_to_a_box() -> None:
    box = (0.0, 0.0, 10.0, 4.0)
    assert charts._inside_length((-5.0, 2.0, 15.0, 2.0), box) == pytest.approx(10.0)
    assert charts._inside_length((5.0, -10.0, 5.0, 10.0), box) == pytest.approx(4.0)
    assert charts._inside_length((-5.0, 6.0, 15.0, 6.0), box) == 0.0
    assert charts._inside_length((2.0, 1.0, 3.0, 1.0), box) == pytest.approx(1.0)
    assert charts._inside_length((20.0, 1.0, 30.0, 1.0), box) == 0.0


def test_stagger_can_leave_tests_unlabelled() -> None:
    figure = go.Figure(
        go.Scatter(
            x=[0, 1],
            y=[0, 0],
            mode="markers+text",
            text=["stg_events", "not_null_x"],
            customdata=["model.techmart.stg_events", "test.techmart.not_null_x"],
        )
    )
    charts.stagger_node_labels(figure, label_tests=False)
    assert list(figure.data[0].text) == ["stg_events", ""]


def test_small_counts_get_whole_number_ticks():
    import numpy as np
    import pandas as pd

    from mart import charts

    frame = pd.DataFrame(
        {
            "customer_segment": ["High Value", "Medium Value", "Low Value"],
            "customer_count": np.array([1, 3, 0]),
            "share_of_customers": [0.25, 0.75, 0.0],
            "total_revenue": [500.0, 1135.48, 0.0],
            "share_of_revenue": [0.31, 0.69, 0.0],
        }
    )
    counts = charts.segment_bars(frame, "count")
    assert counts.layout.yaxis.dtick == 1
    assert counts.layout.yaxis.tickformat == ",d"
    value = charts.segment_bars(frame, "value")
    assert value.layout.yaxis.dtick is None  # money axes keep automatic ticks


def test_a_category_has_one_colour_in_every_chart() -> None:
    favourites = pd.DataFrame(
        {
            "favorite_category": ["Audio", "Electronics", "Kites"],
            "customer_count": [5, 3, 1],
            "lifetime_value": [1.0, 2.0, 3.0],
        }
    )
    bar = charts.favourite_category_bar(favourites).data[0]
    mix = pd.DataFrame(
        {
            "customer_segment": ["High Value", "High Value", "Medium Value"],
            "product_category": ["Electronics", "Audio", "Kites"],
            "revenue": [900.0, 100.0, 50.0],
            "share_of_segment_revenue": [0.9, 0.1, 1.0],
        }
    )
    stacked = {trace.name: trace.marker.color for trace in charts.category_mix_chart(mix).data}
    bars = dict(zip(bar.x, bar.marker.color, strict=True))
    colours = charts.category_colours(["Audio", "Electronics", "Kites"])
    for name in ("Audio", "Electronics", "Kites"):
        assert bars[name] == stacked[name] == colours[name]
    assert len(set(colours.values())) == 3


def test_categories_of_one_chart_never_share_a_colour() -> None:
    """Colours from a hash of the name gave Books and Audio one green (and Toys and Promo
    one grey) in the category mix. Now no two categories of a chart share a colour while
    there are colours left (20), and the known ones keep theirs."""
    names = ["Books", "Audio", "Toys", "Promo", "Garden", "Electronics", "Kites", "Unknown"]
    colours = charts.category_colours(names)
    assert len(set(colours.values())) == len(names)
    assert colours["Audio"] == charts.category_colours(["Audio"])["Audio"]
    assert colours["Electronics"] == charts.CATEGORY_PALETTE[0]
    many = [f"Category {number:02d}" for number in range(20)]
    assert len(set(charts.category_colours(many).values())) == 20
    # No category takes a segment's colour (they share the Customers page).
    segment_colours = set(charts.SEGMENT_COLOURS.values())
    assert not set(charts.category_colours([*many, *names]).values()) & segment_colours
    assert len(charts.category_colours([*many, "One more"])) == 21  # colours repeat past 20
    mix = pd.DataFrame(
        {
            "customer_segment": ["Low Value"] * len(names),
            "product_category": names,
            "revenue": [10.0] * len(names),
            "share_of_segment_revenue": [0.125] * len(names),
        }
    )
    traces = charts.category_mix_chart(mix).data
    assert len({trace.marker.color for trace in traces}) == len(names)


def test_labels_and_tiles_round_half_away_from_zero_like_the_tables() -> None:
    """Python's format() rounds a tie to even: 12.5% showed as 12% beside 37.5% as 38%,
    $1,870.50 as $1,870 beside $103.50 as $104, 5/8 as 62%, 5/16 as 31.2%. The marts
    round half away from zero, and so do the labels now."""
    from mart import money

    assert money.percent_text(0.3125) == "31.3%"  # 5/16, a tie in binary too
    assert money.percent_text(Decimal("0.3125")) == "31.3%"
    assert money.percent_text(0.125, 0) == "13%" and money.percent_text(0.375, 0) == "38%"
    assert money.percent_text(-0.125, 0) == "-13%"
    assert money.percent_text(None) == "–" and money.percent_text(float("nan")) == "–"
    assert money.whole_dollars(Decimal("1870.50")) == "$1,871"
    assert money.whole_dollars(103.5) == "$104" and money.whole_dollars(-2.5) == "-$3"
    assert money.round_half_away(2.675, 2) == Decimal("2.68")  # 2.67499999… as a float

    ties = pd.DataFrame(
        {
            "customer_segment": ["High Value", "Medium Value", "Low Value"],
            "customer_count": [2, 6, 8],
            "total_revenue": [Decimal("1870.50"), Decimal("103.50"), Decimal("812.50")],
            "share_of_customers": [Decimal("0.1250"), Decimal("0.3750"), Decimal("0.5000")],
            "share_of_revenue": [Decimal("0.6425"), Decimal("0.0355"), Decimal("0.3220")],
            "avg_transactions_per_customer": [Decimal("1.125"), Decimal("2.005"), None],
        }
    )
    counts = charts.segment_bars(ties, "count")
    # the table's share, to one place: the label rounded the stored 0.1250 a second time
    assert list(counts.data[0].text) == ["2 (12.5%)", "6 (37.5%)", "8 (50.0%)"]
    values = charts.segment_bars(ties, "value")
    assert list(values.data[0].text) == [
        "$1,871<br>(64.3%)", "$104<br>(3.6%)", "$813<br>(32.2%)",
    ]  # fmt: skip
    per_customer = charts.segment_metric_bar(
        ties, "avg_transactions_per_customer", "Transactions", "Per customer"
    )
    assert list(per_customer.data[0].text) == ["1.13", "2.01", "no customers"]

    cohorts = pd.DataFrame(
        {
            "cohort_month": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "months_since_first_purchase": [0, 1],
            "cohort_size": [8, 8],
            "active_customers": [8, 5],
            "retention_rate": [1.0, 0.625],
        }
    )
    assert charts.cohort_heatmap(cohorts).data[0].text[0][1] == "63%"

    mix = pd.DataFrame(
        {
            "customer_segment": ["Low Value", "Low Value"],
            "product_category": ["Books", "Audio"],
            "revenue": [Decimal("0.25"), Decimal("0.75")],
            "share_of_segment_revenue": [Decimal("0.2500"), Decimal("0.7500")],
        }
    )
    hover = {trace.name: trace.customdata[0] for trace in charts.category_mix_chart(mix).data}
    assert list(hover["Books"]) == ["Books", "25.0%", "$0.25"]


def test_data_text_in_charts_is_literal_and_long_labels_are_cut() -> None:
    """Plotly renders a subset of HTML: a category <a href=…> was a live link on the
    Customers page's axis, <b>Bold</b> bold; a 499-character category squeezed the
    chart into a strip. Labels are escaped and cut; the hover has the whole text."""
    from decimal import Decimal

    link = '<a href="https://e.vil/cat">Electronics</a>'
    long = "L" * 499
    favourites = pd.DataFrame(
        {
            "favorite_category": [link, long, "<b>Bold</b>"],
            "customer_count": [3, 2, 1],
            "lifetime_value": [Decimal("10.00"), Decimal("5.00"), Decimal("1.00")],
        }
    )
    bar = charts.favourite_category_bar(favourites).data[0]
    # long names: the bars lie down, most popular on top (the last of the y list)
    assert bar.orientation == "h"
    assert list(bar.y)[::-1] == [
        '&lt;a href="https://e.vil/cat"&gt;E…ronics&lt;/a&gt;',
        "L" * 29 + "…" + "L" * 10,
        "&lt;b&gt;Bold&lt;/b&gt;",
    ]
    assert bar.customdata[::-1][1][0] == long  # the hover: the whole name
    assert "<a" not in bar.customdata[::-1][0][0]
    short = charts.favourite_category_bar(favourites.iloc[2:]).data[0]
    assert short.orientation == "v" and list(short.x) == ["&lt;b&gt;Bold&lt;/b&gt;"]

    # two long ids that start alike stay two bars
    top = pd.DataFrame(
        {
            "customer_id": ["C" * 60 + "1", "C" * 60 + "2"],
            "customer_segment": ["High Value", "High Value"],
            "lifetime_value": [Decimal("900.00"), Decimal("800.00")],
        }
    )
    figure = charts.top_customers_bar(top)
    labels = list(figure.layout.yaxis.categoryarray)
    assert len(set(labels)) == 2 and all(len(label) <= 44 for label in labels)
    same = charts.chart_labels(["A" * 50, "A" * 50, "B"])
    assert same[1] == same[0] + " [2]"

    mix = pd.DataFrame(
        {
            "customer_segment": ["Low Value"],
            "product_category": ["<i>x</i>"],
            "revenue": [Decimal("1.00")],
            "share_of_segment_revenue": [Decimal("1.0000")],
        }
    )
    [trace] = charts.category_mix_chart(mix).data
    assert trace.name == "&lt;i&gt;x&lt;/i&gt;" and trace.customdata[0][0] == "&lt;i&gt;x&lt;/i&gt;"

    events = pd.DataFrame(
        {
            "event_at": [pd.Timestamp("2024-01-01 10:00")],
            "event_type": ["<b>odd</b>"],
            "session_id": ["<s>S1</s>"],
            "product_category": ["Books"],
        }
    )
    timeline = charts.events_timeline(
        events,
        pd.DataFrame(columns=["transaction_date", "amount", "transaction_id", "product_category"]),
    )
    assert timeline.data[0].y[0] == "&lt;b&gt;odd&lt;/b&gt;"
    assert timeline.data[0].customdata[0][0] == "&lt;s&gt;S1&lt;/s&gt;"


def _one_cohort(months: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cohort_month": pd.to_datetime(["2023-01-01"] * months),
            "months_since_first_purchase": list(range(months)),
            "cohort_size": [4] * months,
            "active_customers": [4] + [1] * (months - 1),
            "retention_rate": [1.0] + [0.25] * (months - 1),
            "is_complete_month": [True] * months,
        }
    )


def test_month_axes_label_every_month_only_while_the_labels_fit() -> None:
    """47 months since first purchase had a label each: at 1024 px they ran into one
    another. Past 16 columns the heatmap labels every 2nd, 3rd, 6th … month, flat."""
    small = charts.cohort_heatmap(_one_cohort(16)).layout.xaxis
    assert (small.dtick, small.tickangle) == (1, 0)
    wide = charts.cohort_heatmap(_one_cohort(47)).layout.xaxis
    assert wide.dtick == 3 and -(-47 // wide.dtick) <= charts.MONTH_TICKS
    assert charts.cohort_heatmap(_one_cohort(17)).layout.xaxis.dtick == 2
    assert charts.cohort_heatmap(_one_cohort(120)).layout.xaxis.dtick == 12

    def revenue(start: str, months: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "transaction_month": pd.date_range(start, periods=months, freq="MS"),
                "transaction_count": [1] * months,
                "customer_count": [1] * months,
                "revenue": [10.0] * months,
            }
        )

    assert charts.monthly_revenue_chart(revenue("2024-01-01", 10)).layout.xaxis.dtick == "M1"
    assert charts.monthly_revenue_chart(revenue("2024-01-01", 11)).layout.xaxis.dtick == "M3"
    assert charts.monthly_revenue_chart(revenue("2015-01-01", 120)).layout.xaxis.dtick == "M12"
    # The span counts, not the number of months with sales: Jan 2020 and Dec 2024 only.
    ends = revenue("2020-01-01", 60).iloc[[0, -1]]
    assert charts.monthly_revenue_chart(ends).layout.xaxis.dtick == "M6"
    # Beyond the listed steps, whole years.
    assert charts.month_step(600, 10) == 60
    assert charts.month_step(0, 10) == 1


def test_negative_money_puts_the_sign_before_the_dollar() -> None:
    """A refund-only segment's average order value was labelled "$-8.50", its hover and
    the money axes too (f"${v:,.2f}", "$%{y:,.2f}", tickprefix "$")."""
    from mart import money

    assert money.money_text(Decimal("-1461.505")) == "-$1,461.51"
    assert money.money_text(Decimal("-0.004")) == "$0.00"  # no "-$0.00"
    assert money.money_text(1234.5) == "$1,234.50"
    # a grid's %.1f rounds the float 12.35 down; the bar's label says 12.4%
    assert money.percent_number(Decimal("0.1235")) == 12.4 == money.percent_number(0.1235)
    assert money.percent_number(None) is None and money.percent_number(float("nan")) is None
    frame = pd.DataFrame(
        {
            "customer_segment": ["High Value", "Medium Value", "Low Value"],
            "avg_order_value": [Decimal("250.00"), None, Decimal("-8.50")],
        }
    )
    bar = charts.segment_metric_bar(frame, "avg_order_value", "AOV", "Order value ($)", True)
    assert list(bar.data[0].text) == ["$250.00", "no customers", "-$8.50"]
    # d3 currency, without trailing zeros on the ticks ($350, not $350.00: room for the bars)
    assert bar.layout.yaxis.tickformat == "$,.2~f" and not bar.layout.yaxis.tickprefix
    assert bar.layout.bargap == 0.12
    # every money hover and axis of the module uses d3's currency, which signs first
    source = Path(charts.__file__).read_text(encoding="utf-8")
    assert "$%{" not in source and 'tickprefix="$"' not in source
    assert 'f"${' not in source

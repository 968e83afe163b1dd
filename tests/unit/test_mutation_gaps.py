"""Behaviour no other test pinned (found by mutation testing): each test failed with one
small bug in mart/ and passes without it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd

from mart import charts, db, insights, money, reuse, worker


def _mart(path: Path, sql: str) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute(sql)
    return path


def _customers(path: Path, values: list[float]) -> Path:
    rows = ", ".join(
        f"('C{index}', 'Low Value', {value}::decimal(18, 2))" for index, value in enumerate(values)
    )
    return _mart(
        path,
        "create table main.fct_customer_metrics as select * from (values "
        f"{rows}) as t (customer_id, customer_segment, lifetime_value)",
    )


# -- insights ----------------------------------------------------------------------------


def test_the_histograms_last_bin_is_an_overflow_only_when_values_lie_beyond_it(
    tmp_path: Path,
) -> None:
    """100 to 400 in four bins of 100: 400 lies in the last regular bin, [400, 500), and
    no bar is labelled "and above"; a whale beyond the bins makes the last one an
    overflow bin that ends at the maximum."""
    plain = _customers(tmp_path / "plain.duckdb", [100, 200, 300, 400])
    whale = _customers(tmp_path / "whale.duckdb", [10 * n for n in range(1, 21)] + [100000])
    try:
        frame = insights.ltv_histogram(plain, 4)
        assert not frame["is_overflow"].any()
        assert list(zip(frame["bin_start"], frame["bin_end"], strict=True)) == [
            (100.0, 200.0),
            (200.0, 300.0),
            (300.0, 400.0),
            (400.0, 500.0),
        ]
        capped = insights.ltv_histogram(whale, 4)
        last = capped.iloc[-1]
        assert bool(last["is_overflow"]) and capped["is_overflow"].sum() == 1
        assert (last["bin_start"], last["bin_end"], last["customer_count"]) == (200.0, 100000.0, 2)
    finally:
        db.close_all()


def test_negative_lifetime_values_get_a_bin_below_zero(tmp_path: Path) -> None:
    """A refunds-only customer (-25.50, in a mart published anyway) was counted in the
    first bin, from $0, on an axis starting at $0: it now has a bin of its own below 0,
    one width wide, which the chart labels as such."""
    path = _customers(tmp_path / "refunds.duckdb", [-25.50, 0, 100, 200, 300, 400])
    try:
        frame = insights.ltv_histogram(path, 4)
        assert frame["customer_count"].sum() == 6
        first = frame.iloc[0]
        assert (first["bin_start"], first["bin_end"], first["customer_count"]) == (-100.0, 0.0, 1)
        assert frame.iloc[1]["bin_start"] == 0.0 and frame.iloc[1]["customer_count"] == 1
        figure = charts.ltv_histogram(frame)
        labels = [label for trace in figure.data for label in trace.customdata]
        assert "below $0 (refunds outweigh purchases)" in labels
        assert "$0 – $100" in labels
        # told apart: hatched, in a trace of its own that leaves the legend plain
        [plain, hatched] = figure.data
        assert hatched.marker.pattern.shape == "/" and not hatched.showlegend
        assert list(hatched.x) == [-100.0] and plain.showlegend
        # refunds only: the 95th percentile is below 0, and bins of a fraction of a cent
        # ("$0 – $0") gave way to one bar below $0 a sensible width wide
        refunds = _customers(tmp_path / "only.duckdb", [-25.50, -10])
        [(start, end, count)] = insights.ltv_histogram(refunds, 4)[
            ["bin_start", "bin_end", "customer_count"]
        ].itertuples(index=False)
        assert (start, end, count) == (-10.0, 0.0, 2)
    finally:
        db.close_all()


def test_a_search_lists_the_customer_with_exactly_that_id_first(tmp_path: Path) -> None:
    """Searching "c1" finds C1, C10 and C11; C1 comes first though C10 and C11 are worth
    more (then by value)."""
    path = _mart(
        tmp_path / "mart.duckdb",
        """
        create table main.dim_customers as select * from (values
            ('C1', 'Low Value', 10.00::decimal(18, 2), 1),
            ('C10', 'High Value', 900.00::decimal(18, 2), 3),
            ('C11', 'Medium Value', 300.00::decimal(18, 2), 2),
            ('C2', 'High Value', 950.00::decimal(18, 2), 4)
        ) as t (customer_id, customer_segment, lifetime_value, transaction_count)
        """,
    )
    try:
        for text in ("c1", "C1", " C1 "):
            found = insights.search_customers(path, text)
            assert found["customer_id"].tolist() == ["C1", "C10", "C11"], text
            assert found["matches"].tolist() == [3, 3, 3]
    finally:
        db.close_all()


def test_a_month_is_complete_on_its_last_day(tmp_path: Path) -> None:
    """As of 2024-02-29, February's last day, February is complete and March is not
    (the app works this out itself, also for marts built before the model had it)."""
    path = _mart(
        tmp_path / "mart.duckdb",
        """
        create table main.fct_cohort_retention as select * from (values
            (date '2024-01-01', 0, date '2024-01-01', 2, 2, 1.0000::decimal(7, 4)),
            (date '2024-01-01', 1, date '2024-02-01', 2, 1, 0.5000::decimal(7, 4)),
            (date '2024-01-01', 2, date '2024-03-01', 2, 0, 0.0000::decimal(7, 4)),
            (date '2024-02-01', 0, date '2024-02-01', 1, 1, 1.0000::decimal(7, 4))
        ) as t (cohort_month, months_since_first_purchase, activity_month, cohort_size,
                active_customers, retention_rate);
        create table main.fct_retention_summary as select date '2024-02-29' as as_of_date;
        """,
    )
    try:
        frame = insights.cohort_retention(path)
        assert frame["is_complete_month"].tolist() == [True, True, False, True]
    finally:
        db.close_all()


# -- money and charts --------------------------------------------------------------------


def test_a_tile_shows_a_million_exactly_in_millions() -> None:
    """Exact to the cent below a million; $1,000,000.00 itself is $1.00M (13 characters
    where a narrow tile has room for about 8)."""
    assert money.tile_money(Decimal("999999.99")) == "$999,999.99"
    assert money.tile_money(Decimal("1000000.00")) == "$1.00M"
    assert money.tile_money(Decimal("-1000000")) == "-$1.00M"


def test_the_retention_colour_scale_tops_out_at_the_best_month_after_month_0() -> None:
    """Month 0 is 100% by definition; the scale ends at the highest later retention
    (40%), so later months are not all pale."""
    frame = pd.DataFrame(
        {
            "cohort_month": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"] * 2),
            "months_since_first_purchase": [0, 1, 2, 0, 1],
            "cohort_size": [10, 10, 10, 10, 10],
            "active_customers": [10, 4, 2, 10, 3],
            "retention_rate": [1.0, 0.4, 0.2, 1.0, 0.3],
        }
    )
    heatmap = charts.cohort_heatmap(frame).data[0]
    assert (heatmap.zmin, heatmap.zmax) == (0, 40.0)


# -- builds ------------------------------------------------------------------------------


def _result(name: str, status: str, severity: str | None, kind: str = "test") -> SimpleNamespace:
    node = SimpleNamespace(
        unique_id=f"{kind}.techmart.{name}",
        name=name,
        resource_type=kind,
        config=SimpleNamespace(severity=severity),
        relation_name=None,
    )
    return SimpleNamespace(
        node=node,
        status=status,
        execution_time=0.1,
        message=None,
        failures=1 if status in ("fail", "warn") else 0,
        adapter_response={},
    )


def test_a_warning_alone_does_not_fail_the_build() -> None:
    """Only error-severity failures stop a build from being published: a warn-severity
    test that finds rows is listed as failing but leaves tests_failed false."""
    warned = worker.summarise(
        SimpleNamespace(
            results=[
                _result("stg_transactions", "success", None, kind="model"),
                _result("unique_id", "pass", "ERROR"),
                _result("accepted_values_event_type", "warn", "warn"),
            ]
        )
    )
    assert warned["tests_failed"] is False
    assert [test["name"] for test in warned["failing_tests"]] == ["accepted_values_event_type"]
    assert warned["tests"] == {"pass": 1, "fail": 0, "warn": 1, "error": 0, "skipped": 0}
    for status in ("fail", "error"):
        failed = worker.summarise(
            SimpleNamespace(
                results=[
                    _result("accepted_values_event_type", "warn", "warn"),
                    _result("not_negative_amount", status, "ERROR"),
                ]
            )
        )
        assert failed["tests_failed"] is True, status


# -- reuse -------------------------------------------------------------------------------


def test_the_global_key_covers_profiles_yml(tmp_path: Path) -> None:
    """profiles.yml holds the DuckDB settings: editing it makes every node run again."""
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    (tmp_path / "profiles.yml").write_text("p:\n  outputs: {dev: {type: duckdb}}\n")
    manifest = SimpleNamespace(macros={})
    key = reuse.global_key(tmp_path, manifest)
    assert reuse.global_key(tmp_path, manifest) == key
    (tmp_path / "profiles.yml").write_text(
        "p:\n  outputs: {dev: {type: duckdb, settings: {memory_limit: 1GB}}}\n"
    )
    assert reuse.global_key(tmp_path, manifest) != key

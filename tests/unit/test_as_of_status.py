"""mart.overview.AsOf: when the data is too old for the as-of date, and what to suggest."""

from __future__ import annotations

from datetime import date

from mart.overview import STALE_AFTER_DAYS, AsOf


def test_gap_stale_and_suggestion() -> None:
    fresh = AsOf(as_of_date=date(2024, 3, 1), last_activity=date(2024, 2, 25))
    assert fresh.gap_days == 5 and not fresh.stale
    assert fresh.suggested == date(2024, 2, 26)
    edge = AsOf(as_of_date=date(2024, 3, 31), last_activity=date(2024, 1, 1))
    assert edge.gap_days == STALE_AFTER_DAYS and not edge.stale  # 90 days is still active
    old = AsOf(as_of_date=date(2026, 11, 25), last_activity=date(2024, 2, 25))
    assert old.gap_days == 1004 and old.stale


def test_no_data_is_never_stale() -> None:
    empty = AsOf(as_of_date=date(2026, 11, 25), last_activity=None)
    assert empty.gap_days is None and not empty.stale and empty.suggested is None
    unknown = AsOf(as_of_date=None, last_activity=date(2024, 2, 25))
    assert unknown.gap_days is None and not unknown.stale

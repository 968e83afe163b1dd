"""mart.overview.AsOf: when the data is too old for the as-of date, and what to suggest."""

from __future__ import annotations

from datetime import date

from mart.overview import STALE_AFTER_DAYS, AsOf


def test_gap_stale_and_suggestion() -> None:
    fresh = AsOf(date(2024, 3, 1), last_activity=date(2024, 2, 25), last_purchase=date(2024, 2, 20))
    assert fresh.gap_days == 10 and not fresh.stale
    assert fresh.suggested == date(2024, 2, 26)  # after the last event, not the last purchase
    edge = AsOf(date(2024, 3, 31), last_activity=date(2024, 1, 1), last_purchase=date(2024, 1, 1))
    assert edge.gap_days == STALE_AFTER_DAYS and not edge.stale  # 90 days is "At Risk"
    old = AsOf(date(2026, 11, 25), last_activity=date(2024, 2, 25), last_purchase=date(2024, 2, 25))
    assert old.gap_days == 1004 and old.stale


def test_staleness_follows_the_last_purchase_not_the_last_event() -> None:
    # Recent browsing, but no purchase for 120 days: every buyer is churned.
    browsing = AsOf(
        date(2024, 5, 24), last_activity=date(2024, 5, 20), last_purchase=date(2024, 1, 25)
    )
    assert browsing.stale and browsing.gap_days == 120
    assert browsing.suggested == date(2024, 5, 21)


def test_too_early() -> None:
    status = AsOf(date(2024, 3, 1), last_activity=date(2024, 2, 25), last_purchase=None)
    assert status.too_early(date(2024, 1, 15))
    assert not status.too_early(date(2024, 2, 25)) and not status.too_early(date(2024, 3, 1))


def test_no_data_is_never_stale() -> None:
    empty = AsOf(date(2026, 11, 25), last_activity=None)
    assert empty.gap_days is None and not empty.stale and empty.suggested is None
    assert not empty.too_early(date(2000, 1, 1))
    unknown = AsOf(None, last_activity=date(2024, 2, 25), last_purchase=date(2024, 2, 25))
    assert unknown.gap_days is None and not unknown.stale

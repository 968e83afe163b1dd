"""mart.overview.AsOf: when the data is too old for the as-of date, and what to suggest."""

from __future__ import annotations

import dataclasses
from datetime import date

from mart.overview import STALE_AFTER_DAYS, AsOf


def test_gap_stale_and_suggestion() -> None:
    fresh = AsOf(date(2024, 3, 1), last_activity=date(2024, 2, 25), last_purchase=date(2024, 2, 20))
    assert fresh.gap_days == 10 and not fresh.stale
    # after the last event (not the last purchase), on the first of the next month
    assert fresh.suggested == date(2024, 3, 1)
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
    assert browsing.suggested == date(2024, 6, 1)


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


def test_the_stale_warning_tells_the_mart_from_the_current_data() -> None:
    """A mart whose last purchase is 2026-05-01, built as of 2026-11-27, and older
    data restored (running to 2026-10-03) but not built: the warning named the mart's
    last purchase and then "the day after the data's last activity", 2026-10-04, as if
    one dataset."""
    mart = AsOf(date(2026, 11, 27), last_activity=date(2026, 5, 1), last_purchase=date(2026, 5, 1))
    assert mart.stale_text() == (
        "The last purchase in the data is on 2026-05-01, 210 days before the as-of date "
        "2026-11-27, so every buyer counts as churned and most retention months are empty. "
        "Rebuild as of 2026-06-01 (just after the data's last activity, with its last month "
        "complete) to see it as it was then."
    )
    restored = dataclasses.replace(mart, data_last_activity=date(2026, 10, 3))
    assert restored.data_moved and restored.suggested == date(2026, 11, 1)
    assert restored.stale_text() == (
        "The last purchase in the published mart is on 2026-05-01, 210 days before the "
        "as-of date 2026-11-27, so every buyer counts as churned and most retention months "
        "are empty. Rebuild as of 2026-11-01 (just after 2026-10-03, where the current "
        "dataset versions end: the next build reads them) to see them as they were then."
    )
    same = dataclasses.replace(mart, data_last_activity=date(2026, 5, 1))
    assert not same.data_moved and same.stale_text() == mart.stale_text()


def test_the_offered_as_of_date_completes_the_last_month_but_not_past_today() -> None:
    """The day after the sample's last activity (2024-02-26) left February running, so
    no cohort had a month 1 yet: Retention showed a dash and greyed cells."""
    from mart.builds import as_of_that_fits

    today = date(2026, 11, 28)
    assert as_of_that_fits(date(2024, 2, 25), today) == date(2024, 3, 1)
    assert as_of_that_fits(date(2024, 2, 29), today) == date(2024, 3, 1)
    assert as_of_that_fits(date(2024, 12, 31), today) == date(2025, 1, 1)
    assert as_of_that_fits(date(2024, 1, 31), today) == date(2024, 2, 1)
    # recent data: today, not a date still to come
    assert as_of_that_fits(date(2026, 11, 20), today) == today
    # data up to today: the day after it, as before (a later date is no later than that)
    assert as_of_that_fits(today, today) == date(2026, 11, 29)

"""The as-of date on the pages: which one the mart uses, a warning when the data is far
older, and rebuilds with another one (Overview has the full panel; Customers and
Retention show the warning, because a class may land on them first)."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import date
from typing import Any

import streamlit as st

from mart import datasets, overview
from mart.errors import BuildBusyError
from ui import common

_NOTICE = "as_of_notice"


def status() -> overview.AsOf | None:
    """The published build's as-of status (cached per build), or None before one, with
    the latest date of the HEAD data a rebuild would read."""
    current: overview.AsOf | None = common.cached(overview.as_of_status)
    if current is None:
        return None
    latest = datasets.latest_activity(common.workspace())
    return dataclasses.replace(current, data_last_activity=latest)


def is_set() -> bool:
    """Whether the published build was built with an explicit as_of_date var."""
    return "as_of_date" in common.rebuild_vars()


def origin(set_here: bool | None = None) -> str:
    """Where the as-of date comes from, in words (``set_here``: :func:`is_set`, if known)."""
    if is_set() if set_here is None else set_here:
        return "set for this build"
    return "the day the build ran: the as_of_date var is not set"


def _rebuild(as_of: date | None) -> None:
    """Start a build with ``as_of_date`` set (None: back to the run date), other vars kept."""
    # None is the run date; the other vars of the published build are kept.
    build_vars: dict[str, Any] = {"as_of_date": None if as_of is None else as_of.isoformat()}
    try:
        build_id = common.manager().start_build(
            vars=build_vars, keep_published_vars=True, wait=False
        )
    except BuildBusyError as error:
        st.session_state[_NOTICE] = ("warning", str(error))
        return
    except Exception as error:  # noqa: BLE001 - shown as a sentence on the page
        st.session_state[_NOTICE] = ("error", error)
        return
    when = as_of.isoformat() if as_of else "the day it runs"
    st.session_state[_NOTICE] = (
        "info",
        f"Build #{build_id} started with the as-of date {when}; progress is in the sidebar.",
    )


def _parse_ahead(picker_key: str, picked: date) -> None:
    """A date was picked: a waiting build worker parses for it now, so the Rebuild
    click that likely follows does not (``BuildManager.prepare``; returns at once).
    Asked once per date picked, not on every rerun of the page while it stays picked
    (each ask reads the project's vars and the published build's record)."""
    asked = (picker_key, picked)
    if st.session_state.get("as_of_parse_ahead") == asked:
        return
    st.session_state["as_of_parse_ahead"] = asked
    # Only a head start: a failure here is the build's to report.
    with contextlib.suppress(Exception):
        common.manager().prepare({"as_of_date": picked.isoformat()})


def _rebuild_picked(key: str, current: overview.AsOf) -> None:
    """The picker's button: rebuild as of the date in the picker *now*.

    A callback's ``args`` are bound when the page last ran; a date typed and the button
    clicked in one go arrive in one rerun, so the date is read from the widget's state
    (updated before callbacks run), and checked again here.
    """
    picked = st.session_state.get(key)
    if not isinstance(picked, date):
        st.session_state[_NOTICE] = ("warning", "Pick a date first.")
        return
    if current.too_early(picked):
        st.session_state[_NOTICE] = (
            "warning",
            f"{picked} is before the data's latest activity ({current.latest_activity}); "
            f"pick {current.latest_activity} or later. Nothing was built.",
        )
        return
    _rebuild(picked)


def stale_warning(current: overview.AsOf, key: str) -> None:
    """When every buyer counts as churned: say why, and offer the fitting rebuild."""
    if not current.stale or current.suggested is None:
        return
    if current.runs_past(date.today()):
        # The day after the data would be years ahead: it would hide the future-dated
        # records the tests are there to catch (the build's own hint says the same).
        st.warning(
            f"The last purchase in the data is on {current.last_purchase}, "
            f"{current.gap_days:,} days before the as-of date {current.as_of_date}, so "
            "every buyer counts as churned. The current dataset versions run to "
            f"{current.latest_activity}, after today: every build's not_after_as_of_date "
            "tests name those records until they are gone. Correct or remove them on Data "
            "first; a later as-of date would only hide them.",
            icon=":material/event_busy:",
        )
        return
    st.warning(current.stale_text(), icon=":material/history:")
    st.button(
        f"Rebuild as of {current.suggested}",
        key=f"{key}_as_of_suggested",
        icon=":material/refresh:",
        on_click=_rebuild,
        args=(current.suggested,),
    )
    common.show_notice(_NOTICE)


def panel(current: overview.AsOf) -> None:
    """Overview's as-of block: the date in use, the warning, and the date picker."""
    set_here = is_set()
    last = (
        f" · latest activity in the data {current.last_activity}" if current.last_activity else ""
    )
    newer = current.data_last_activity
    if newer is not None and (current.last_activity is None or newer > current.last_activity):
        past = ", after today" if newer > date.today() else ""
        last += f" (the current dataset versions run to {newer}{past}, the next build reads them)"
    st.caption(
        f"Recency, churn and retention are as of **{current.as_of_date}** "
        f"({origin(set_here)}){last}."
    )
    stale_warning(current, "overview")
    with st.expander("Change the as-of date"):
        # Keyed by the mart's as-of date: after a rebuild the picker starts from the
        # new date instead of keeping the one picked before.
        picker_key = f"overview_as_of_date_{current.as_of_date}"
        # Start where a build can go: the mart's date, unless the data has moved past
        # it (new data after a kept date), then the date offered for it
        # (as_of_that_fits); never past today for future-dated records (that date
        # would hide them from the tests).
        start = (
            current.suggested
            if (current.as_of_date is None or current.too_early(current.as_of_date))
            and not current.runs_past(date.today())
            else current.as_of_date
        ) or date.today()
        picked = st.date_input(
            "As of date",
            value=start,
            key=picker_key,
            help="dbt var as_of_date: 'today' for every age, recency and retention metric.",
        )
        early = isinstance(picked, date) and current.too_early(picked)
        if isinstance(picked, date) and picked != start and not early:
            _parse_ahead(picker_key, picked)
        if early:
            st.warning(
                f"{picked} is before the data's latest activity ({current.latest_activity}). "
                "Transactions and events after the as-of date fail the "
                "not_after_as_of_date tests, so that build would not be published. Pick "
                f"{current.latest_activity} or later.",
                icon=":material/event_busy:",
            )
        left, right = st.columns(2)
        left.button(
            "Rebuild as of this date",
            key="overview_as_of_rebuild",
            on_click=_rebuild_picked,
            args=(picker_key, current),
            # Not disabled for an early date: a date typed over it reaches the app only
            # with the click (or a blur), and the callback checks the date it gets.
            disabled=not isinstance(picked, date),
            use_container_width=True,
        )
        right.button(
            "Rebuild as of the run date",
            key="overview_as_of_today",
            on_click=_rebuild,
            args=(None,),
            disabled=not set_here,
            use_container_width=True,
            help="Unset as_of_date: each build then uses the day it runs.",
        )
    common.show_notice(_NOTICE)

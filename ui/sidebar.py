"""The sidebar every page shares: data in use, the published build, rebuild and progress.

The build panel is a fragment that reruns itself every :data:`POLL_S` seconds, so
progress of a build — started by this session, another browser, or the command line —
shows live without rerunning the page. When the published build or the latest build's
status changes, the fragment reruns the whole app once, so every page (and its query
cache, keyed by the published build id) moves to the new mart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from mart import datasets
from mart.builds import as_of_behind, as_of_that_fits, failure_advice
from mart.errors import BuildBusyError
from mart.loading import DATASETS
from ui import common

#: Seconds between two polls of the build state.
POLL_S = 1.0
#: How many node lines the progress list shows.
SHOWN_NODES = 8
#: How long (seconds) the sidebar says "published" after a build published.
RECENT_S = 120.0
BUILD_PAGE = "pages/build.py"

_SEEN = "_mart_seen_state"
_NOTICE = "_mart_sidebar_notice"

STATUS_ICONS = {
    "success": ":material/check_circle:",
    "pass": ":material/check_circle:",
    "fail": ":material/cancel:",
    "error": ":material/error:",
    "warn": ":material/warning:",
    "skipped": ":material/skip_next:",
    "running": ":material/progress_activity:",
}
PHASES = {
    "copy": "Copying the published mart",
    "bronze": "Loading bronze from the dataset versions",
    "parse": "Parsing the dbt project (it changed)",
    "dbt": "Running dbt build",
    "complete": "Tests failed; building what they held back",
}


def format_time(iso: str | None) -> str:
    """``21:04:05 UTC`` for today, ``2026-11-24 21:04 UTC`` otherwise; ``—`` when unknown."""
    if not iso:
        return "—"
    try:
        moment = datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return iso
    if moment.date() == datetime.now(UTC).date():
        return moment.strftime("%H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def tests_line(tests: dict[str, int], not_rerun: int = 0) -> str:
    """``69 pass · 1 fail · 0 warn`` (errors and skips only when there are some).

    ``not_rerun``: unit tests the build left out because they passed before.
    """
    parts = [f"{tests.get('pass', 0)} pass", f"{tests.get('fail', 0)} fail"]
    parts.append(f"{tests.get('warn', 0)} warn")
    for name in ("error", "skipped"):
        if tests.get(name):
            parts.append(f"{tests[name]} {name}")
    if not_rerun:
        parts.append(f"{not_rerun} unit tests not re-run")
    return " · ".join(parts)


def _failed_count(record: Any) -> int:
    """Failing or erroring tests of a build (non-zero only for a build published anyway)."""
    return int(record.tests.get("fail", 0)) + int(record.tests.get("error", 0))


def state_key() -> tuple[Any, ...]:
    """What, when it changes, should refresh every page: published id, latest build, status."""
    manager = common.manager()
    published = manager.published()
    latest = manager.current_build()
    return (
        published.build_id if published else None,
        latest.build_id if latest else None,
        latest.status if latest else None,
    )


def render() -> None:
    """Draw the sidebar (call once per run, from the frame)."""
    try:
        common.startup()
        st.session_state[_SEEN] = state_key()
    except Exception as exc:
        with st.sidebar:
            common.show_error(exc)
        return
    with st.sidebar:
        _panel()


def start_build(build_vars: dict[str, Any] | None = None, reuse: bool = True) -> None:
    try:
        build_id = common.manager().start_build(
            vars=build_vars, keep_published_vars=True, wait=False, reuse=reuse
        )
        st.session_state[_NOTICE] = ("info", f"Build #{build_id} started.")
    except BuildBusyError as exc:
        st.session_state[_NOTICE] = ("warning", str(exc))
    except Exception as exc:
        st.session_state[_NOTICE] = ("error", exc)


def _cancel_build(build_id: int) -> None:
    try:
        if common.manager().cancel(build_id):
            st.session_state[_NOTICE] = ("warning", f"Build #{build_id} is being cancelled.")
        else:
            st.session_state[_NOTICE] = ("info", f"Build #{build_id} had already finished.")
    except Exception as exc:
        st.session_state[_NOTICE] = ("error", exc)


@st.fragment(run_every=POLL_S)
def _panel() -> None:
    try:
        _panel_body()
    except Exception as exc:
        common.show_error(exc)


def _panel_body() -> None:
    manager = common.manager()
    key = state_key()
    if st.session_state.get(_SEEN) not in (None, key):
        st.session_state[_SEEN] = key
        st.rerun()  # the published mart or the latest build changed: refresh the page

    running = manager.running_build()
    published = manager.published()
    latest = running or manager.current_build()

    _datasets_block(published)
    st.divider()
    _published_block(published)

    if running is not None:
        _progress_block(manager, running)
    elif (
        latest is not None
        and (published is None or latest.build_id != published.build_id)
        and not _published_since(published, latest)
    ):
        _outcome_block(latest, published)
    elif latest is not None and latest.status == "published" and latest.tests.get("warn"):
        st.warning(
            f"Build #{latest.build_id} published with {latest.tests['warn']} warning(s); "
            "see Build & Tests.",
            icon=":material/warning:",
        )
    elif latest is not None and latest.status == "published" and _failed_count(latest):
        st.warning(
            f"Build #{latest.build_id} was published anyway with {_failed_count(latest)} "
            "failing test(s); see Build & Tests.",
            icon=":material/warning:",
        )
    elif latest is not None and latest.status == "published" and _recent(latest.finished_at):
        took = f" in {latest.duration_s:.1f} s" if latest.duration_s is not None else ""
        st.success(
            f"Build #{latest.build_id} published{took}: all tests passed.",
            icon=":material/check_circle:",
        )
    if running is None and latest is not None and latest.notes:
        # what the build worked around (a damaged published file: it started from an
        # older build's file or from empty)
        st.warning(" ".join(latest.notes), icon=":material/build_circle:")

    behind = (
        as_of_behind(common.workspace(), published.vars or {})
        if running is None and published is not None
        else None
    )
    if behind is not None:
        as_of, latest = behind
        fits = as_of_that_fits(latest)
        st.warning(
            f"The data now runs to {latest}, after the as-of date {as_of} a rebuild keeps "
            "from the published build: that build would fail the not_after_as_of_date "
            f"tests. Rebuild as of {fits} instead.",
            icon=":material/event_busy:",
        )
        st.button(
            f"Rebuild as of {fits}",
            key="sidebar_rebuild_as_of",
            icon=":material/event_available:",
            on_click=start_build,
            args=({"as_of_date": fits.isoformat()},),
            use_container_width=True,
            help="Rebuild with as_of_date set to the first day of the month after the data's "
            "latest activity (or today, if sooner), so its last month is complete; the other "
            "vars of the published build are kept.",
        )
    st.button(
        "Rebuild mart",
        key="sidebar_rebuild",
        type="primary",
        icon=":material/refresh:",
        disabled=running is not None,
        on_click=start_build,
        use_container_width=True,
        help="Build the mart from the current dataset versions, with the published build's "
        "vars (thresholds, as_of_date); it is published only if every error-severity test "
        "passes. Models and tests whose data, SQL and vars did not change are reused from "
        "the published build (Build & Tests: Rebuild everything runs them all).",
    )
    common.show_notice(_NOTICE)
    startup = common.startup()
    if startup.get("error") is not None:
        common.show_error(startup["error"])


def _datasets_block(published: Any) -> None:
    st.markdown("**Data in use**")
    ws = common.workspace()
    used = (published.datasets if published is not None else {}) or {}
    lines = []
    for name in DATASETS:
        head = datasets.head(ws, name)
        line = f"{name} **v{head.id}** · {head.row_count:,} rows"
        built = str((used.get(name) or {}).get("version") or "")
        if published is not None and built and built != str(head.id):
            line += f" (mart built from v{built})"
        lines.append("- " + line)
    st.markdown("\n".join(lines))


def _published_block(published: Any) -> None:
    if published is None:
        st.markdown("**No published build yet**")
        st.caption("The first build publishes the mart.")
        return
    label = f"**Published build #{published.build_id}**"
    if published.published_anyway:
        label += " (published anyway)"
    replaced = getattr(published, "replaced", None)
    if replaced is not None and replaced > published.build_id:
        label += f", an older build put back over #{replaced}"
    st.markdown(label)
    st.caption(
        f"{format_time(published.published_at or published.finished_at)} · "
        f"tests {tests_line(published.tests, published.unit_tests_not_rerun)}"
    )


def _moment(iso: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(iso).astimezone(UTC) if iso else None
    except ValueError:
        return None


def _published_since(published: Any, latest: Any) -> bool:
    """Whether ``published`` was published after ``latest`` finished: an older build
    published (anyway) after a newer one failed. The newer one's failure is then old
    news, and "build #N is still serving" would name the wrong build."""
    if published is None:
        return False
    published_at, finished_at = _moment(published.published_at), _moment(latest.finished_at)
    return published_at is not None and finished_at is not None and published_at >= finished_at


def _recent(iso: str | None, seconds: float = RECENT_S) -> bool:
    """Whether ``iso`` is less than ``seconds`` ago."""
    moment = _moment(iso)
    return moment is not None and (datetime.now(UTC) - moment).total_seconds() < seconds


def _short(name: object, width: int = 34) -> str:
    """A node name cut to ``width`` characters, so a progress line fits the sidebar."""
    text = str(name or "")
    return text if len(text) <= width else text[: width - 1] + "…"


def _progress(events: list[dict[str, Any]]) -> tuple[float, str, list[str]]:
    """(fraction done, phase text, node lines) from a running build's events."""
    total = 0
    finished: dict[str, dict[str, Any]] = {}
    started: dict[str, dict[str, Any]] = {}
    phase = "Starting"
    reused = 0
    for event in events:
        kind = event.get("type")
        if kind == "reused":
            reused = int(event.get("count") or 0)
        elif kind == "plan":
            total = int(event.get("total") or 0)
        elif kind == "phase":
            phase = PHASES.get(str(event.get("phase")), str(event.get("phase")))
        elif kind == "waiting":
            phase = str(event.get("message") or "Waiting for another build")
        elif kind == "node_started":
            started[str(event.get("unique_id"))] = event
        elif kind == "node_finished":
            finished[str(event.get("unique_id"))] = event
    # A skipped node is not done: after failing tests the engine builds the skipped
    # ones (the "complete" phase), so the bar keeps moving forward to the same total.
    done = sum(1 for event in finished.values() if event.get("status") != "skipped")
    fraction = min(1.0, done / total) if total else 0.0
    lines = []
    running = [event for uid, event in started.items() if uid not in finished]
    for event in running[-3:]:
        lines.append(f"{STATUS_ICONS['running']} {_short(event.get('name'))}")
    for event in list(finished.values())[::-1][: max(0, SHOWN_NODES - len(lines))]:
        status = str(event.get("status"))
        icon = STATUS_ICONS.get(status, ":material/radio_button_unchecked:")
        lines.append(f"{icon} {_short(event.get('name'))}")
    text = phase
    if total:
        text = f"{phase}: {done} of {total} nodes"
    if reused:
        text += f" ({reused} unchanged, reused)"
    return fraction, text, lines


def _progress_block(manager: Any, running: Any) -> None:
    st.markdown(f"**Build #{running.build_id} running…**")
    events = manager.events(running.build_id)
    fraction, text, lines = _progress(events)
    st.progress(fraction, text=text)
    if lines:
        st.caption("  \n".join(lines))
    st.button(
        "Cancel build",
        key="sidebar_cancel",
        icon=":material/stop_circle:",
        on_click=_cancel_build,
        args=(running.build_id,),
        use_container_width=True,
    )


def _outcome_block(latest: Any, published: Any) -> None:
    serving = (
        f"Build #{published.build_id} is still serving."
        if published is not None
        else "Nothing is published yet."
    )
    if latest.status == "failed" and latest.failure == "tests":
        names = [t["name"] for t in latest.failing_tests if t.get("status") != "warn"]
        shown = "\n".join(f"- {common.breakable_name(name)}" for name in names[:4])
        more = f"\n- … and {len(names) - 4} more" if len(names) > 4 else ""
        # The as-of hint (rebuild as of …) only: the general advice on what to do about
        # failing rows is long for the 300 px sidebar on every page; Build & Tests has it.
        hint = (getattr(latest, "hint", None) or "").replace(failure_advice(names) or "", "")
        hint = f"\n\n{common.escape_markdown(hint.strip())}" if hint.strip() else ""
        st.error(
            f"**Build #{latest.build_id} failed**: {len(names)} test(s) failed\n"
            f"{shown}{more}{hint}\n\n{serving}",
            icon=":material/cancel:",
        )
    elif latest.status == "failed":
        error = str(latest.error or "dbt failed")
        if len(error) > 300:
            error = error[:299] + "…"
        st.error(
            f"**Build #{latest.build_id} failed**: {common.escape_markdown(error)} {serving}",
            icon=":material/error:",
        )
    elif latest.status == "cancelled":
        st.warning(f"Build #{latest.build_id} was cancelled. {serving}", icon=":material/block:")
    elif latest.status == "interrupted":
        st.warning(
            f"Build #{latest.build_id} was interrupted: {latest.error or ''} {serving}",
            icon=":material/warning:",
        )
    else:
        return
    st.page_link(BUILD_PAGE, label="See the tests on Build & Tests", icon=":material/fact_check:")

"""A build's timeline: when each phase and dbt node ran, as a Gantt-like plotly figure.

The source is the build's progress log (``builds/<N>/events.jsonl``, see
:class:`mart.worker.EventLog`): ``phase`` events mark the engine's steps (copy the
published mart, load bronze, run dbt), ``node_started`` / ``node_finished`` each dbt
node. :func:`timeline_frame` turns them into one row per bar; :func:`timeline_figure`
draws the bars in seconds since the build started, one row per node in start order,
coloured by outcome. Only a build still running has running nodes: a node that never
finished in a build that ended (``build_finished``) is ``cancelled`` when the build
was, else ``not finished``. Pure functions: no Streamlit, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from mart.builds import vars_text

COLUMNS = ["name", "kind", "resource_type", "status", "start_s", "duration_s", "message"]

#: Outcome groups and their colours (shared with the tests table).
STATUS_COLORS = {
    "ok": "#2e9e6a",
    "failed": "#d64545",
    "warn": "#e0a020",
    "running": "#5b8def",
    "cancelled": "#9a6fb0",  # a node cut off by a cancelled, failed or interrupted build
    "phase": "#6f8fb0",  # a blue grey: the grey of "skipped" was hard to tell from it
    "skipped": "#b8b8b8",
}
PHASE_LABELS = {
    "wait": "engine: wait for the dbt worker",
    "copy": "engine: copy the published mart",
    "bronze": "engine: load bronze",
    "parse": "engine: re-parse the project",
    "dbt": "engine: dbt build",
    "complete": "engine: build what failing tests held back",
}


#: The status of a node that started but never finished in a build that ended.
CANCELLED = "cancelled"
NOT_FINISHED = "not finished"


def status_group(status: str | None) -> str:
    """The colour group of a node status: ok, failed, warn, running, cancelled or skipped.

    A missing status (None, or NaN in a frame) means the node is still running;
    ``cancelled`` / ``not finished`` that its build ended before it did.
    """
    if status is None or (not isinstance(status, str) and pd.isna(status)):
        return "running"
    if status in (CANCELLED, NOT_FINISHED):
        return "cancelled"
    if status in ("success", "pass", "ok"):
        return "ok"
    if status in ("fail", "error", "runtime error"):
        return "failed"
    if status == "warn":
        return "warn"
    return "skipped"


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def timeline_frame(
    events: Iterable[dict[str, Any]], build_status: str | None = None
) -> pd.DataFrame:
    """One row per phase and per dbt node: name, kind, type, status, start and duration (s).

    ``start_s`` counts from the ``build_started`` event (else the first event). A node
    that started but has not finished runs to the last event. Its ``status`` is None
    (running) only while the build runs; once the build ended (a ``build_finished``
    event, or ``build_status`` other than ``running``: the build's record) it is
    ``cancelled`` when the build was cancelled, else ``not finished``.
    """
    events = list(events)
    stamps = [_time(event.get("ts")) for event in events]
    known = [stamp for stamp in stamps if stamp is not None]
    if not known:
        return pd.DataFrame(columns=COLUMNS)
    origin = next(
        (
            stamp
            for event, stamp in zip(events, stamps, strict=True)
            if event.get("type") == "build_started" and stamp is not None
        ),
        known[0],
    )
    last = max(known)

    def seconds(stamp: datetime | None) -> float:
        return (stamp - origin).total_seconds() if stamp is not None else 0.0

    rows: list[dict[str, Any]] = []
    phases: list[tuple[str, datetime]] = []
    started: dict[str, tuple[dict[str, Any], datetime]] = {}
    finished: dict[str, tuple[dict[str, Any], datetime]] = {}
    phase_end: datetime | None = None
    ended_as: str | None = None if build_status in (None, "running") else build_status
    for event, stamp in zip(events, stamps, strict=True):
        if stamp is None:
            continue
        kind = event.get("type")
        if kind == "phase":
            phases.append((str(event.get("phase")), stamp))
        elif kind == "node_started":
            unique_id = str(event.get("unique_id"))
            # A node runs again after it finished when the build completes what its
            # failing tests held back (it was skipped the first time): the last run counts.
            if unique_id not in started or unique_id in finished:
                started[unique_id] = (event, stamp)
                finished.pop(unique_id, None)
        elif kind == "node_finished":
            finished[str(event.get("unique_id"))] = (event, stamp)
        elif kind == "build_finished":
            phase_end = stamp
            ended_as = str(event.get("status") or ended_as or "ended")
    unfinished = (
        None if ended_as is None else (CANCELLED if ended_as == "cancelled" else NOT_FINISHED)
    )

    # Engine phases: from the build's start to the first phase is the wait for a worker.
    if phases and seconds(phases[0][1]) > 0.05:
        phases.insert(0, ("wait", origin))
    end_of_phases = phase_end or last
    for index, (name, stamp) in enumerate(phases):
        until = phases[index + 1][1] if index + 1 < len(phases) else end_of_phases
        rows.append(
            {
                "name": PHASE_LABELS.get(name, f"engine: {name}"),
                "kind": "phase",
                "resource_type": "phase",
                "status": "phase",
                "start_s": seconds(stamp),
                "duration_s": max(0.0, (until - stamp).total_seconds()),
                "message": None,
            }
        )

    for unique_id, (event, stamp) in started.items():
        done = finished.get(unique_id)
        until = done[1] if done else last
        rows.append(
            {
                "name": str(event.get("name") or unique_id),
                "kind": "node",
                "resource_type": str(event.get("resource_type") or ""),
                "status": str(done[0].get("status")) if done else unfinished,
                "start_s": seconds(stamp),
                "duration_s": max(0.0, (until - stamp).total_seconds()),
                "message": (done[0].get("message") if done else None),
            }
        )
    # A node that finished without a start event (should not happen): use its duration.
    for unique_id, (event, stamp) in finished.items():
        if unique_id in started:
            continue
        duration = float(event.get("duration_s") or 0.0)
        rows.append(
            {
                "name": str(event.get("name") or unique_id),
                "kind": "node",
                "resource_type": str(event.get("resource_type") or ""),
                "status": str(event.get("status")),
                "start_s": max(0.0, seconds(stamp) - duration),
                "duration_s": duration,
                "message": event.get("message"),
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    kind_order = frame["kind"].map({"phase": 0, "node": 1})
    frame = (
        frame.assign(_kind=kind_order)
        .sort_values(["_kind", "start_s", "name"], kind="stable")
        .drop(columns="_kind")
        .reset_index(drop=True)
    )
    return frame


def timeline_figure(
    frame: pd.DataFrame,
    *,
    show_tests: bool = True,
    title: str | None = None,
) -> go.Figure:
    """A Gantt-like figure of ``frame`` (from :func:`timeline_frame`): seconds on x.

    ``show_tests=False`` leaves out test and unit-test rows (models, snapshots and
    phases remain), which keeps a large project readable.
    """
    shown = frame
    if not show_tests:
        shown = frame[~frame["resource_type"].isin(["test", "unit_test"])]
    groups = shown["status"].map(lambda s: "phase" if s == "phase" else status_group(s))
    order = list(shown["name"])
    fig = go.Figure()
    labels = {
        "phase": "engine step",
        "ok": "success / pass",
        "failed": "fail / error",
        "warn": "warn",
        "running": "running",
        "cancelled": "cancelled / not finished",
        "skipped": "skipped",
    }
    for group, label in labels.items():
        part = shown[groups == group]
        if part.empty:
            continue
        if group == "cancelled":  # one build's cut-off nodes are all one or the other
            label = " / ".join(sorted(set(part["status"]), reverse=True))
        fig.add_trace(
            go.Bar(
                name=label,
                y=part["name"],
                x=part["duration_s"].clip(lower=0.005),
                base=part["start_s"],
                orientation="h",
                marker_color=STATUS_COLORS[group],
                customdata=part[["resource_type", "status", "duration_s"]].astype(str),
                hovertemplate=(
                    "<b>%{y}</b><br>%{customdata[0]} · %{customdata[1]}"
                    "<br>start %{base:.2f} s · took %{customdata[2]} s<extra></extra>"
                ),
            )
        )
    height = max(260, 22 * len(order) + 90)
    fig.update_layout(
        barmode="overlay",
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 40},
        title=title,
        xaxis={"title": "seconds since the build started", "rangemode": "tozero"},
        yaxis={
            "categoryorder": "array",
            "categoryarray": order,
            "autorange": "reversed",
            "automargin": True,
        },
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
        bargap=0.25,
    )
    return fig


# -- the Build & Tests page's tables ----------------------------------------------------------


HISTORY_COLUMNS = [
    "build",
    "status",
    "started",
    "duration_s",
    "pass",
    "fail",
    "warn",
    "data",
    "vars",
    "note",
]


def history_frame(records: Iterable[Any]) -> pd.DataFrame:
    """One row per build (``mart.builds.BuildRecord``), newest first, for the history table."""
    rows = []
    for record in records:
        tests = record.tests or {}
        rows.append(
            {
                "build": int(record.build_id),
                "status": record.status
                + (" anyway" if getattr(record, "published_anyway", False) else "")
                + (" (live)" if getattr(record, "is_current", False) else ""),
                "started": pd.to_datetime(record.started_at, utc=True, errors="coerce"),
                "duration_s": record.duration_s,
                "pass": int(tests.get("pass", 0)),
                "fail": int(tests.get("fail", 0)) + int(tests.get("error", 0)),
                "warn": int(tests.get("warn", 0)),
                "data": record.versions_text(),
                "vars": vars_text(getattr(record, "vars", None)),
                "note": _history_note(record),
            }
        )
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def _history_note(record: Any) -> str:
    """The build's error, then how many unchanged nodes it reused (a failed build too)."""
    parts = [record.error] if record.error else []
    if record.reused_nodes:
        parts.append(f"{len(record.reused_nodes)} unchanged nodes reused")
    return "; ".join(parts)


TEST_COLUMNS = [
    "status",
    "ran_in",
    "name",
    "kind",
    "model",
    "column",
    "failures",
    "severity",
    "message",
]
_STATUS_RANK = {"error": 0, "fail": 1, "warn": 2, "skipped": 3, "pass": 4}


def tests_frame(
    tests: Iterable[Any],
    build_id: int | None = None,
    unit_tests_passed_in: int | None = None,
) -> pd.DataFrame:
    """One row per test (``mart.artifacts.TestResult``): failures first, then by name.

    ``ran_in`` is the build that ran the test: ``build_id``, or the earlier build whose
    result this one reused (``mart.reuse``); empty for a test that did not run.
    ``unit_tests_passed_in`` is the build where the unit tests last passed when this one
    left them out (``BuildRecord.unit_tests``): they show as passed there, not "not run".
    """
    rows = [
        {
            "status": _status(test, unit_tests_passed_in),
            "name": test.name,
            "kind": test.kind,
            "model": test.model_name or "",
            "column": test.column_name or "",
            "failures": test.failures,
            "severity": test.severity,
            "ran_in": _ran_in(test, build_id, unit_tests_passed_in),
            "message": test.message or "",
        }
        for test in tests
    ]
    frame = pd.DataFrame(rows, columns=TEST_COLUMNS)
    if frame.empty:
        return frame
    rank = frame["status"].map(lambda status: _STATUS_RANK.get(status, 3))
    return (
        frame.assign(_rank=rank)
        .sort_values(["_rank", "name"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def _not_rerun_unit_test(test: Any, unit_tests_passed_in: int | None) -> bool:
    return test.status is None and test.kind == "unit" and unit_tests_passed_in is not None


def _status(test: Any, unit_tests_passed_in: int | None) -> str:
    if _not_rerun_unit_test(test, unit_tests_passed_in):
        return "pass"
    return test.status or "not run"


def _ran_in(test: Any, build_id: int | None, unit_tests_passed_in: int | None) -> str | None:
    """``#N`` of the build that ran ``test``; None (the grid's dash) when none did."""
    if test.reused_from is not None:
        return f"#{test.reused_from}"
    if _not_rerun_unit_test(test, unit_tests_passed_in):
        return f"#{unit_tests_passed_in}"
    if test.status is None or build_id is None:
        return None
    return f"#{build_id}"


def status_style(status: Any) -> str:
    """CSS for a status cell: a translucent colour that reads in light and dark themes.

    Takes test statuses (pass, fail, …) and build statuses (published, failed, …).
    """
    text = str(status or "")
    if text.startswith("published anyway"):
        group = "warn"  # live, but its tests failed
    elif text.startswith("published"):
        group = "ok"
    elif text.startswith(("failed", "interrupted")):
        group = "failed"
    elif text.startswith(("cancelled", "running")):
        group = "warn" if text.startswith("cancelled") else "running"
    elif text in ("", "not run"):
        group = "skipped"
    else:
        group = status_group(text)
    color = STATUS_COLORS.get(group, STATUS_COLORS["skipped"])
    return f"background-color: {color}40; font-weight: 600"

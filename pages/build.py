"""Build & Tests: build history, a build's timeline, its tests, failing rows, publish anyway."""

from __future__ import annotations

import zlib
from pathlib import Path

import streamlit as st

from mart import artifacts, money, timeline
from mart.builds import BuildRecord, vars_text
from mart.errors import BuildBusyError, MartError
from ui import common, sidebar

_PICK = "build_page_build"
_PICKED = "build_page_build_picked"
_CONFIRM = "build_page_publish_confirm"


def _history(records: list[BuildRecord]) -> None:
    st.subheader("Build history")
    frame = timeline.history_frame(records)
    st.dataframe(
        frame.style.map(timeline.status_style, subset=["status"]),
        hide_index=True,
        placeholder=common.NULL_DASH,
        height=min(400, 38 + 35 * len(frame)),
        column_config={
            # pinned: the build stays in view when the table scrolls sideways
            "build": st.column_config.NumberColumn("Build", format="#%d", width=60, pinned=True),
            # wide enough for "published (live)", no wider: at 1024 px the start time
            # was cut off
            "status": st.column_config.TextColumn("Status", width=130),
            "started": st.column_config.DatetimeColumn(
                "Started (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
            "duration_s": st.column_config.NumberColumn("Duration", format="%.1f s"),
            "pass": st.column_config.NumberColumn("Pass", width="small"),
            "fail": st.column_config.NumberColumn("Fail", width="small"),
            "warn": st.column_config.NumberColumn("Warn", width="small"),
            "data": st.column_config.TextColumn("Data versions"),
            "vars": st.column_config.TextColumn(
                "Vars",
                help="The dbt vars of the build (as-of date, segment thresholds)",
                width="medium",
            ),
            "note": st.column_config.TextColumn("Note", width="medium"),
        },
        key="build_history_table",
        # the counts next to the status: after the date they were off a 1024 px screen
        column_order=(
            "build",
            "status",
            "fail",
            "warn",
            "pass",
            "started",
            "duration_s",
            "data",
            "vars",
            "note",
        ),
    )


def _summary(record: BuildRecord) -> None:
    status = record.status
    line = (
        f"Build #{record.build_id} **{'published anyway' if record.published_anyway else status}**"
        + (" · live now" if record.is_current else "")
        + f" · started {sidebar.format_time(record.started_at)}"
    )
    if record.duration_s is not None:
        line += f" · took {record.duration_s:.1f} s"
    line += f" · tests {sidebar.tests_line(record.tests, record.unit_tests_not_rerun)}"
    st.markdown(line)
    for note in (record.reuse_note(), record.unit_tests_note()):
        if note:
            st.caption(note)
    stale = record.stale_note()
    if stale:
        st.warning(common.escape_markdown(stale), icon=":material/history:")
    if record.error and status != "running":
        error = common.escape_markdown(record.error)
        if status == "failed":
            st.error(error, icon=":material/cancel:")
        else:
            st.warning(error, icon=":material/warning:")
    completion = record.completion_note()
    if completion:
        st.info(common.escape_markdown(completion), icon=":material/construction:")


def _rebuild_everything(manager: object) -> None:
    """A build that reuses nothing: to time the whole pipeline, or out of caution."""
    st.button(
        "Rebuild everything",
        key="build_rebuild_everything",
        icon=":material/restart_alt:",
        disabled=manager.running_build() is not None,  # type: ignore[attr-defined]
        on_click=sidebar.start_build,
        kwargs={"reuse": False},
        help="Rebuild mart (sidebar) reuses the models and tests whose data, SQL and vars "
        "did not change since the published build. This runs every node, as dbt build "
        "from the command line does; the vars of the published build are kept.",
    )


def _timeline(record: BuildRecord) -> None:
    st.subheader("Timeline")
    events = common.manager().events(record.build_id)
    frame = timeline.timeline_frame(events, build_status=record.status)
    if frame.empty:
        st.caption("This build has no progress events (yet).")
        return
    if record.reused_nodes:
        st.caption(
            f"The {len(record.reused_nodes)} reused nodes did not run in this build, so they "
            "are not on the timeline."
        )
    show_tests = st.toggle("Show tests", value=False, key="build_timeline_tests")
    st.plotly_chart(
        timeline.timeline_figure(frame, show_tests=show_tests),
        key=f"build_timeline_{record.build_id}",
        config={"displaylogo": False},
    )


def _load_artifacts(record: BuildRecord) -> artifacts.BuildArtifacts | None:
    target = record.build_dir / "target"
    if record.files_pruned or not (target / "manifest.json").exists():
        return None
    return artifacts.load_cached(target)


def _tests(record: BuildRecord, build_artifacts: artifacts.BuildArtifacts | None) -> None:
    st.subheader("Tests")
    if build_artifacts is None:
        if record.status == "running":
            st.caption("The tests appear here when the build has finished.")
        elif record.files_pruned:
            st.caption(
                f"Build #{record.build_id}'s files were pruned (only the latest builds keep "
                "them); its test summary is in the history above."
            )
        else:
            st.caption("This build has no dbt artifacts: it stopped before dbt ran.")
        return
    frame = timeline.tests_frame(
        build_artifacts.tests.values(), record.build_id, record.unit_tests_passed_in
    )
    only_failed = st.toggle("Only tests that did not pass", value=False, key="build_only_failed")
    if only_failed:
        frame = frame[~frame["status"].isin(["pass", "not run"])]
    st.dataframe(
        frame.style.map(timeline.status_style, subset=["status"]),
        hide_index=True,
        placeholder=common.NULL_DASH,
        height=min(420, 38 + 35 * max(1, len(frame))),
        column_config={
            "status": st.column_config.TextColumn("Status", width="small"),
            "ran_in": st.column_config.TextColumn(
                "Ran in",
                width="small",
                help="The build that ran the test. A build reuses the result of a test "
                "whose data, SQL and vars did not change since the published build.",
            ),
            "name": st.column_config.TextColumn("Test", width="large"),
            "kind": st.column_config.TextColumn("Kind", width="small"),
            "model": st.column_config.TextColumn("Model"),
            "column": st.column_config.TextColumn("Column"),
            "failures": st.column_config.NumberColumn("Failures", format="%d", width="small"),
            "severity": st.column_config.TextColumn("Severity", width="small"),
            "message": st.column_config.TextColumn("Message", width="large"),
        },
        key="build_tests_table",
    )
    run_results = build_artifacts.target_dir / "run_results.json"
    if run_results.exists():
        st.download_button(
            "Download run_results.json",
            data=run_results.read_bytes(),
            file_name=f"run_results_build_{record.build_id}.json",
            mime="application/json",
            icon=":material/download:",
            key="build_download_run_results",
        )


def _failing(record: BuildRecord, build_artifacts: artifacts.BuildArtifacts) -> None:
    failing = build_artifacts.failing_tests()
    if not failing:
        return
    st.subheader("Failing tests")
    for test in failing:
        label = f"{test.status.upper()} · {test.name}"
        if test.failures:
            label += f" · {test.failures:,} failing row(s)"
        with st.expander(label, icon=":material/cancel:" if test.status != "warn" else None):
            where = (
                f"on {test.model_name}" + (f".{test.column_name}" if test.column_name else "")
                if test.model_name
                else f"({test.kind})"
            )
            st.markdown(f"`{test.test_name}` test {where} · severity **{test.severity}**")
            if test.message:
                st.text(test.message)
            if test.kind != "unit" and test.stored_failures_relation:
                try:
                    rows = artifacts.failing_rows(record.db_path, test, limit=100)
                    st.caption(f"Failing rows (up to 100) from {test.stored_failures_relation}")
                    st.dataframe(
                        money.exact_text(rows),
                        hide_index=True,
                        placeholder=common.NULL_SQL,
                        key=f"failing_rows_{test.unique_id}",
                    )
                except MartError as exc:
                    st.caption(str(exc))
            if test.compiled_sql:
                st.caption("Compiled SQL")
                st.code(test.compiled_sql.strip(), language="sql")


def _publish_anyway(record: BuildRecord) -> None:
    if record.status != "failed" or record.failure != "tests":
        return
    if record.files_pruned or not Path(record.db_path).exists():
        return
    st.subheader("Publish anyway")
    st.caption(
        "The tests exist to stop bad data reaching readers. Publishing this build makes "
        "every page show it, failing rows included; the next passing build replaces it."
    )
    live = common.manager().published()
    if live is not None and live.build_id > record.build_id:
        # Say only what differs from the live build; the datasets never change here.
        parts = []
        if record.versions_text() != live.versions_text():
            parts.append(f"it was built from {common.escape_markdown(record.versions_text())}")
        if (record.vars or {}) != (live.vars or {}):
            parts.append(
                f"with vars {common.escape_markdown(vars_text(record.vars))}, which the "
                "next Rebuild keeps"
            )
        st.warning(
            f"Build #{live.build_id} is live and newer than build #{record.build_id}. "
            f"Publishing #{record.build_id} puts its older mart in front of readers"
            + (": " + "; ".join(parts) if parts else "")
            + ". The datasets do not change: the next Rebuild reads their current versions.",
            icon=":material/history:",
        )
    confirm = st.checkbox(
        f"I understand build #{record.build_id} failed its tests and want to publish it.",
        key=f"{_CONFIRM}_{record.build_id}",
    )
    if st.button(
        f"Publish build #{record.build_id} anyway",
        type="primary",
        disabled=not confirm,
        icon=":material/publish:",
        key="build_publish_anyway",
    ):
        try:
            # Not waiting: a build that runs now may publish first, and this click
            # would then replace a newer mart the user never saw.
            common.manager().publish(record.build_id, wait=False)
        except BuildBusyError as exc:
            st.warning(common.escape_markdown(str(exc)), icon=":material/hourglass_top:")
            return
        st.rerun()


def main() -> None:
    st.title("Build & Tests")
    manager = common.manager()
    records = manager.history()
    if not records:
        st.info("No build has run yet. Click **Rebuild mart** in the sidebar.")
        return
    _history(records)

    ids = [record.build_id for record in records]
    newest = ids[0]
    picked = st.session_state.get(_PICKED)  # an older build the user chose, if any
    # The widget is keyed by the newest build: a new build makes a new widget, so a
    # value the browser still holds for the old list can never come back as a "pick".
    # The statuses are in the key too: a keyed widget keeps its first labels, and a
    # build published anyway must not go on reading "failed".
    statuses = zlib.crc32(" ".join(f"{r.build_id}:{r.status}" for r in records).encode())
    build_id = st.selectbox(
        "Build",
        ids,
        index=ids.index(picked) if picked in ids else 0,
        key=f"{_PICK}_{newest}_{statuses}",
        format_func=lambda value: (
            f"#{value} · " + next(record.status for record in records if record.build_id == value)
        ),
    )
    # Follow the newest build until an older one is picked.
    st.session_state[_PICKED] = build_id if build_id != newest else None
    record = manager.get(build_id)
    _summary(record)
    _rebuild_everything(manager)
    _timeline(record)
    build_artifacts = _load_artifacts(record)
    _tests(record, build_artifacts)
    if build_artifacts is not None:
        _failing(record, build_artifacts)
    _publish_anyway(record)


common.run_page(main)

"""Data: upload, edit, generate, version history and break-it scenarios for the datasets."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from mart import datasets, generate, loading, scenarios
from mart.errors import ConflictError, InputError, MartError
from ui import common

TABS = ["Upload", "Edit", "Generate", "History", "Break it"]
#: At most this many filtered rows go to the grid (the rest stay in the file).
EDIT_LIMIT = 1000
#: How many versions of each dataset get a diff summary in the history table.
DIFFED_VERSIONS = 12
NOT_MAPPED = "(not in file)"
DATASET_LABELS = {"transactions": "Transactions", "events": "Events"}


def _rebuild_hint() -> None:
    """Rebuild, or (HEAD is what the published mart was built from) that none is needed."""
    published = common.manager().published()
    st.caption(
        datasets.rebuild_hint(
            common.workspace(), published.datasets if published is not None else None
        )
    )


def _start_rebuild() -> None:
    """Start a build now (from a button), saying so if one is already running."""
    try:
        build_id = common.manager().start_build(keep_published_vars=True, wait=False)
        st.toast(f"Build #{build_id} started; progress is in the sidebar.")
    except MartError as exc:
        st.warning(str(exc))


# -- Upload ----------------------------------------------------------------------------------


def _where(problem: loading.Problem) -> str:
    """ "line 7" (CSV syntax), "row 3" (a record), or "whole file" for file-level problems."""
    if problem.line is not None:
        return f"line {problem.line}"
    if problem.row is not None:
        return f"row {problem.row}"
    return "whole file"


def _report_frame(problems: list[loading.Problem]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "row": _where(problem),
                "column": problem.column or problem.field or "",
                "problem": problem.problem,
                "value": "" if problem.value is None else str(problem.value),
            }
            for problem in problems
        ],
        columns=["row", "column", "problem", "value"],
    )


def _appended_again_text(count: int) -> str:
    """What the page says after an append whose ids ``count`` rows already had."""
    if count == 1:
        return (
            "1 appended row has an id that was already in the dataset. It was let in: "
            "the next build's unique test will name it, and undo removes this version."
        )
    return (
        f"{count:,} appended rows have an id that was already in the dataset. They were "
        "let in: the next build's unique test will name them, and undo removes this version."
    )


def _by_row(problems: list[loading.Problem]) -> pd.DataFrame:
    """The problems as a table in the file's order: whole-file ones first, then by line
    or row (the loader lists them kind by kind)."""
    order = sorted(
        range(len(problems)),
        key=lambda i: (
            problems[i].line is not None or problems[i].row is not None,
            problems[i].line if problems[i].line is not None else problems[i].row or 0,
        ),
    )
    return _report_frame([problems[i] for i in order])


def _show_report(report: loading.ValidationReport) -> None:
    if report.error_count:
        fix = loading.refusal_advice(report)
        st.error(
            f"{report.error_count:,} problem(s) stop this file from loading; nothing was "
            f"changed. {fix}",
            icon=":material/block:",
        )
        if report.asks_decimal_mark:
            st.info(
                "Answer it above, in **Decimal mark of the amounts**: *Comma* if the point "
                "groups thousands (`1.249` = 1249.00), *Point* if it is the decimal mark "
                "(`1.249` = 1.25). The file is checked again at once.",
                icon=":material/arrow_upward:",
            )
        # a static table: long problems wrap instead of being cut (at most 50 rows)
        st.table(_report_frame(report.errors).set_index("row"))
        if report.error_count > len(report.errors):
            st.caption(f"… and {report.error_count - len(report.errors):,} more.")
    if report.warning_count:
        kinds = {kind: n for kind, n in report.warning_summary.items() if n}
        # per kind, how many rows or values it concerns; no grand total: the list below
        # has a line per kind and place, and a total of rows read as a count of its lines
        summary = ", ".join(f"{kind} ({n:,})" for kind, n in kinds.items())
        tested = [kind for kind in kinds if kind in loading.DBT_TESTED_WARNINGS]
        if len(tested) == len(kinds):
            after = "; the dbt tests will report them."
        elif tested:
            after = f"; the dbt tests will also report the {', '.join(tested)}."
        else:
            after = "."
        rows_load = (
            "The totals rows are left out; the other rows load as they are"
            if kinds.get("totals rows left out")
            else "These rows load as they are"
        )
        st.warning(
            f"Warnings: {summary}. {rows_load}{after}",
            icon=":material/warning:",
        )
        money = report.money_warnings
        if money:
            st.markdown(
                "**Check these before saving: they change what the amounts add up to** ("
                + ", ".join(money)
                + ")."
            )
        # open when a warning changes the money: closed, it was read by nobody
        with st.expander("Warnings by row", expanded=bool(money)):
            st.table(_by_row(report.warnings).set_index("row"))
    if report.ok and not report.warning_count:
        st.success(f"All {report.row_count:,} rows read cleanly.", icon=":material/check:")


def _show_readings(report: loading.ValidationReport) -> None:
    """The amounts and dates whose text is not already the stored form, one example per
    kind of text, with how each loads: what to check before saving."""
    if not report.readings:
        return
    st.markdown("**How the file's values are read** · one example of each kind of text")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "field": reading.field,
                    "in the file": reading.example,
                    "loads as": reading.loaded,
                    "values like it": reading.rows,
                    "first at row": reading.first_row,
                }
                for reading in report.readings
            ]
        ),
        hide_index=True,
        key="upload_readings",
    )
    if report.readings_more:
        st.caption(
            "Not listed: "
            + "; ".join(
                f"{more:,} more kind(s) of text in {name}"
                for name, more in report.readings_more.items()
            )
            + " (the table shows the first of each field)."
        )


def _upload_tab() -> None:
    dataset = st.radio(
        "Dataset",
        loading.DATASETS,
        format_func=DATASET_LABELS.get,
        horizontal=True,
        key="upload_dataset",
    )
    uploaded = st.file_uploader(
        "CSV, JSON (array or one object per line) or Parquet file",
        # Any file: the loader reads the content, not the name, and says what a file it
        # cannot load is (an Excel workbook: "save it as CSV"). With a list of types, an
        # .xlsx got a red mark on its chip and no sentence.
        type=None,
        key="upload_file",
    )
    if uploaded is None:
        st.caption(
            "Columns may have other names: you map them to the mart's fields after the "
            "preview. Nothing is saved until you click Save."
        )
        return
    path = common.save_upload(uploaded.name, uploaded.getvalue())
    try:
        with st.spinner(f"Reading {uploaded.name}…"):
            info, preview = common.cached_pure(loading.preview_file, str(path), 10, dataset)
    except loading.LoadRefusedError as exc:
        _show_report(exc.report)
        return
    detail = [info.file_format]
    if info.encoding:
        detail.append(f"encoding {info.encoding}")
    if info.delimiter:
        detail.append(f"delimiter {info.delimiter!r}")
    st.markdown(f"**Preview** · {', '.join(detail)} · {info.row_count:,} rows")
    # numbered as the report numbers rows (row 1: the first data row)
    preview = preview.set_axis(pd.RangeIndex(1, len(preview) + 1, name="row"))
    st.dataframe(preview, key="upload_preview", placeholder=common.NULL_CELL)

    st.markdown("**Map the file's columns to the mart's fields**")
    suggested = loading.suggest_mapping(
        dataset, info.columns, info.filled, info.joined, info.funnel
    )
    if st.session_state.get("upload_last_file") != (dataset, path.name):
        # A new file (or dataset): start from the suggested mapping again.
        for name in loading.FIELDS[dataset]:
            st.session_state.pop(f"upload_map_{dataset}_{name}", None)
        st.session_state["upload_last_file"] = (dataset, path.name)
    options = [NOT_MAPPED, *info.columns]
    mapping: dict[str, str | None] = {}
    columns = st.columns(3)
    for index, name in enumerate(loading.FIELDS[dataset]):
        required = name in loading.REQUIRED[dataset]
        guess = suggested.get(name)
        with columns[index % 3]:
            chosen = st.selectbox(
                f"{name}{' (required)' if required else ''}",
                options,
                index=options.index(guess) if guess in options else 0,
                key=f"upload_map_{dataset}_{name}",
                help="Required: the file must have a column for it."
                if required
                else "Optional: left out, it is generated or defaulted.",
            )
        mapping[name] = None if chosen == NOT_MAPPED else chosen
    date_format = (
        st.text_input(
            "Date format (only for dates whose day/month order the file does not settle, "
            "such as 05/01/2024)",
            placeholder="empty: detected · e.g. dd/mm/yyyy or %m/%d/%Y %H:%M",
            key="upload_date_format",
            help="Spreadsheet letters (dd/mm/yyyy, mm/dd/yy hh:mm, dd.mm.yyyy) or strptime "
            "codes as DuckDB uses them (%d/%m/%Y, %m/%d/%Y %I:%M %p …). A column with a day "
            "above 12 (15/01/2024) settles the order by itself. `unix` reads Unix times "
            "(seconds, milliseconds, microseconds or nanoseconds since 1970).",
        ).strip()
        or None
    )
    # events have no amounts
    decimal_mark = (
        None
        if dataset != "transactions"
        else st.selectbox(
            "Decimal mark of the amounts",
            [None, "comma", "point"],
            format_func=lambda m: {
                None: "Detected from the file",
                "comma": "Comma: 1.249,50 (a point groups thousands: 1.249 = 1249.00)",
                "point": "Point: 1,249.50",
            }[m],
            key="upload_decimal_mark",
            help="Only for amounts the file does not settle, such as 1.249 and 2.500 in a "
            "file written with decimal commas: the load asks for it then.",
        )
    )
    left, right = st.columns([1, 2])
    mode = left.radio(
        "Save as",
        ["replace", "append"],
        format_func=lambda m: {
            "replace": "Replace the dataset",
            "append": "Append to the current rows",
        }[m],
        key="upload_mode",
    )
    if st.session_state.pop("upload_clear_message", False):
        st.session_state["upload_message"] = ""  # the next file's save says its own
    message = right.text_input(
        "Message (optional)", key="upload_message", placeholder=f"Load {uploaded.name}"
    )
    # The same file, dataset, mode and reading saved already in this session: a second
    # click would append its rows once more (or save the same rows again). Its report is
    # not shown again: checked against the new HEAD, every appended id would be "already
    # in the dataset".
    saved_as = (
        dataset,
        path.name,
        mode,
        tuple(sorted(mapping.items())),
        date_format,
        decimal_mark,
    )
    earlier = st.session_state.get("upload_saved")
    if earlier is not None and earlier[0] == saved_as:
        st.success(earlier[1], icon=":material/check_circle:")
        if earlier[2]:
            st.warning(earlier[2])
        st.caption(
            "Saved already: choose another file to load, or another mode. Saving this one "
            "again would "
            + (
                "append its rows a second time."
                if mode == "append"
                else "make a version with the same rows."
            )
        )
        _rebuild_hint()
        return
    base = datasets.head(common.workspace(), dataset)
    with st.spinner("Checking every row against the mapping…"):
        report = common.cached_pure(
            datasets.check_file,
            common.workspace(),
            dataset,
            str(path),
            mode=mode,
            base_version=base.id,  # an append is checked against the rows it joins
            mapping=mapping,
            date_format=date_format,
            source_name=uploaded.name,
            decimal_mark=decimal_mark,
        )
    st.markdown("**Validation report**")
    if report.generated:
        st.caption(
            "Not in the file, so filled in: "
            + "; ".join(
                f"{name}: {common.escape_markdown(how)}" for name, how in report.generated.items()
            )
        )
    if report.extra_columns:
        st.caption(
            "Kept as extra columns: "
            + ", ".join(common.escape_markdown(name) for name in report.extra_columns)
        )
    if report.date_format_note:
        note = report.date_format_note
        st.caption(common.escape_markdown(note[:1].upper() + note[1:]) + ".")
    _show_report(report)
    _show_readings(report)

    if st.button(
        f"Save as a new {dataset} version",
        type="primary",
        disabled=not report.ok,
        icon=":material/save:",
        key="upload_save",
    ):
        try:
            with st.spinner(f"Saving {uploaded.name} as a new {dataset} version…"):
                result = datasets.load_file(
                    common.workspace(),
                    dataset,
                    path,
                    mode=mode,
                    mapping=mapping,
                    date_format=date_format,
                    message=message.strip() or None,
                    source_name=uploaded.name,
                    decimal_mark=decimal_mark,
                )
        except loading.LoadRefusedError as exc:
            _show_report(exc.report)
            return
        version = result.version
        appended_again = result.report.warning_summary.get("ids already in the dataset", 0)
        st.session_state["upload_saved"] = (
            saved_as,
            f"Saved {version.label} ({version.row_count:,} rows): "
            f"{common.escape_markdown(version.message)}.",
            _appended_again_text(appended_again) if appended_again else None,
        )
        st.session_state["upload_clear_message"] = True
        st.rerun()  # the page again, with the save said and the button gone


# -- Edit ------------------------------------------------------------------------------------


def _editor_changes(frame: pd.DataFrame, state: dict[str, Any]) -> dict[str, Any]:
    """The data editor's state as ``apply_edits`` arguments, keyed by record_number."""
    numbers = list(frame["record_number"])
    updates = {
        int(numbers[int(row)]): {k: v for k, v in changes.items() if k != "record_number"}
        for row, changes in (state.get("edited_rows") or {}).items()
        if int(row) < len(numbers)
    }
    inserts = [
        {k: v for k, v in row.items() if k != "record_number"}
        for row in (state.get("added_rows") or [])
        if any(v not in (None, "") for v in row.values())
    ]
    deletes = [int(numbers[int(row)]) for row in (state.get("deleted_rows") or [])]
    return {"updates": updates, "inserts": inserts, "deletes": deletes}


def _save_edits(dataset: str, base: int, changes: dict[str, Any], message: str) -> None:
    conflict_key = f"edit_conflict_{dataset}"
    try:
        with st.spinner("Saving your edits as a new version…"):
            version = datasets.apply_edits(
                common.workspace(),
                dataset,
                base,
                updates=changes["updates"],
                inserts=changes["inserts"],
                deletes=changes["deletes"],
                message=message or None,
            )
    except ConflictError as exc:
        st.session_state[conflict_key] = {
            "base": base,
            "changes": changes,
            "message": message,
            "error": str(exc),
            "kept_in": str(getattr(exc, "saved_edits_path", "") or ""),
        }
        st.rerun()  # show the conflict, with the edits still in the grid
    except InputError as exc:
        # Shown above the Save and Discard buttons, the edits still in the grid (raised
        # from here, the error replaced the rest of the tab, Discard included).
        st.session_state[f"edit_refused_{dataset}"] = str(exc)
        st.rerun()
    st.session_state.pop(conflict_key, None)
    # The next save says its own message. Emptied at the start of the next run: the
    # widget exists in this one, and a key merely dropped left the text in the browser.
    st.session_state[f"edit_clear_message_{dataset}"] = True
    st.session_state[f"edit_base_{dataset}"] = version.id
    filled = datasets.edit_fill_note(version)  # generated ids, categories saved as Unknown
    st.session_state[f"edit_saved_{dataset}"] = (
        f"Saved {version.label}: {common.escape_markdown(version.message)} "
        f"({version.row_count:,} rows)." + (f" {common.escape_markdown(filled)}" if filled else "")
    )
    st.session_state[f"edit_warned_{dataset}"] = datasets.edit_warnings(version)
    st.rerun()


def _edit_tab() -> None:
    ws = common.workspace()
    dataset = st.radio(
        "Dataset",
        loading.DATASETS,
        format_func=DATASET_LABELS.get,
        horizontal=True,
        key="edit_dataset",
    )
    head = datasets.head(ws, dataset)
    base_key = f"edit_base_{dataset}"
    conflict_key = f"edit_conflict_{dataset}"
    # The grid edits one version; keep it pinned until the edits are saved or discarded,
    # so a version someone else saves meanwhile cannot swap the grid (and lose edits).
    base = int(st.session_state.setdefault(base_key, head.id))

    dropped = st.session_state.pop(f"edit_dropped_{dataset}", None)
    if dropped:
        st.warning(dropped, icon=":material/delete_sweep:")
    saved = st.session_state.pop(f"edit_saved_{dataset}", None)
    if saved:
        st.success(saved, icon=":material/check_circle:")
        warned = st.session_state.pop(f"edit_warned_{dataset}", None)
        if warned:
            st.warning(common.escape_markdown(warned), icon=":material/warning:")
        _rebuild_hint()

    filters_key = f"edit_filters_{dataset}"
    filters = st.session_state.get(filters_key) or {}
    editor_key = f"edit_grid_{dataset}_{base}_{abs(hash(tuple(sorted(filters.items())))):x}"
    state = st.session_state.get(editor_key) or {}
    pending = bool(state.get("edited_rows") or state.get("added_rows") or state.get("deleted_rows"))
    if not pending and conflict_key not in st.session_state and base != head.id:
        base = head.id  # nothing pending: follow the latest version
        st.session_state[base_key] = base
        editor_key = f"edit_grid_{dataset}_{base}_{abs(hash(tuple(sorted(filters.items())))):x}"
        state = st.session_state.get(editor_key) or {}

    # the date range takes the most: its "yyyy/mm/dd – yyyy/mm/dd" was cut at 1280 px
    # (at 1024 px it now fits too)
    cols = st.columns([1.8, 3.6, 2.4])
    customer = cols[0].text_input(
        "Customer id", key=f"edit_customer_{dataset}", disabled=pending, placeholder="exact id"
    )
    st.session_state.setdefault(f"edit_dates_{dataset}", ())  # an empty range: no filter
    dates = cols[1].date_input(
        "Date range",
        key=f"edit_dates_{dataset}",
        disabled=pending,
        min_value=date(1970, 1, 1),
        max_value=date(2100, 12, 31),
    )
    text = cols[2].text_input(
        "Search text in any value",
        key=f"edit_text_{dataset}",
        disabled=pending,
        placeholder="e.g. Electronics",
    )
    new_filters = {
        "customer_id": customer.strip() or None,
        "date_from": dates[0].isoformat() if len(dates) >= 1 else None,
        "date_to": dates[1].isoformat() if len(dates) >= 2 else None,
        "text": text.strip() or None,
    }
    if new_filters != filters:
        st.session_state[filters_key] = new_filters
        st.rerun()

    total = common.cached_dataset(datasets.count_records, dataset, base, **filters)
    frame = common.cached_dataset(datasets.read_records, dataset, base, limit=EDIT_LIMIT, **filters)
    shown = len(frame)
    st.caption(
        f"{dataset} v{base} · {total:,} matching row(s)"
        + (
            f"; the first {shown:,} are in the grid — narrow the filter to see others"
            if total > shown
            else ""
        )
        + (
            ". Save or discard your edits before changing the filter."
            if pending
            else ". Add rows at the bottom, delete with the row checkbox, edit any cell."
        )
    )
    column_config: dict[str, Any] = {
        "record_number": st.column_config.NumberColumn("#", disabled=True, width="small"),
    }
    st.data_editor(
        frame,
        key=editor_key,
        num_rows="dynamic",
        hide_index=True,
        placeholder=common.NULL_CELL,
        column_config=column_config,
        height=min(520, 38 + 35 * (len(frame) + 1)),
    )
    state = st.session_state.get(editor_key) or {}
    changes = _editor_changes(frame, state)
    n_changes = len(changes["updates"]) + len(changes["inserts"]) + len(changes["deletes"])

    conflict = st.session_state.get(conflict_key)
    if conflict is not None:
        latest = datasets.head(ws, dataset)
        kept = (
            # the workspace's own path, not the server's file system
            f" (a copy is kept in the workspace, `datasets/{dataset}/conflicts/"
            f"{Path(conflict['kept_in']).name}`)"
            if conflict.get("kept_in")
            else ""
        )
        theirs = common.escape_markdown(latest.message)
        st.error(
            f"Not saved: someone else saved {dataset} v{latest.id} (\u201c{theirs}\u201d) "
            f"after you opened v{conflict['base']}, and nothing is overwritten. Your edits "
            f"are still in the grid{kept}. Apply them to v{latest.id} — rows the other "
            "change also touched get your values — or discard them.",
            icon=":material/sync_problem:",
        )
        left, right = st.columns(2)
        if left.button(
            f"Apply my edits to v{latest.id}", type="primary", key=f"edit_reapply_{dataset}"
        ):
            rebased = datasets.rebase_edits(ws, dataset, latest.id, **conflict["changes"])
            dropped = rebased.dropped_note(latest.id)
            if dropped:
                st.session_state[f"edit_dropped_{dataset}"] = dropped
            st.session_state.pop(conflict_key, None)
            if rebased.empty:
                st.session_state.pop(editor_key, None)
                st.session_state[base_key] = latest.id
                st.rerun()
            changes = {
                "updates": rebased.updates,
                "inserts": rebased.inserts,
                "deletes": rebased.deletes,
            }
            _save_edits(dataset, latest.id, changes, conflict.get("message", ""))
            st.rerun()
        if right.button("Discard my edits", key=f"edit_discard_conflict_{dataset}"):
            st.session_state.pop(conflict_key, None)
            st.session_state.pop(editor_key, None)
            st.session_state[base_key] = latest.id
            st.rerun()
        return

    refused = st.session_state.pop(f"edit_refused_{dataset}", None)
    if refused:
        st.error(common.escape_markdown(refused), icon=":material/error:")
    left, mid, right = st.columns([3, 1, 1], vertical_alignment="bottom")
    if st.session_state.pop(f"edit_clear_message_{dataset}", False):
        st.session_state[f"edit_message_{dataset}"] = ""
    message = left.text_input(
        "Message", key=f"edit_message_{dataset}", placeholder="What did you change, and why?"
    )
    if mid.button(
        f"Save {n_changes} change(s)" if n_changes else "Save",
        type="primary",
        disabled=not n_changes,
        icon=":material/save:",
        key=f"edit_save_{dataset}",
    ):
        _save_edits(dataset, base, changes, message.strip())
    if right.button("Discard edits", disabled=not pending, key=f"edit_discard_{dataset}"):
        st.session_state.pop(editor_key, None)
        st.rerun()
    if base != head.id:
        st.info(
            f"You are editing v{base}; the latest version is v{head.id}. Saving checks "
            "that nobody else saved in between.",
            icon=":material/info:",
        )


# -- Generate --------------------------------------------------------------------------------


def _generate_tab() -> None:
    st.caption(
        "Synthetic TechMart data: repeat buyers and churn, seasonality, a page_view → "
        "purchase funnel. The same seed gives the same data."
    )
    cols = st.columns(4)
    customers = cols[0].number_input("Customers", 1, 2_000_000, 1_000, step=500, key="gen_c")
    transactions = cols[1].number_input(
        "Transactions", 1, 20_000_000, 5_000, step=1_000, key="gen_t"
    )
    events = cols[2].number_input(
        "Events",
        0,
        100_000_000,
        None,  # empty: about 5 per transaction (a fixed default fell below 100,000 of them)
        step=5_000,
        key="gen_e",
        placeholder="auto",
        help="Leave empty for about 5 per transaction; at least one per transaction "
        "(each has a purchase event).",
    )
    seed = cols[3].number_input("Seed", 0, 2**31 - 1, 42, key="gen_seed")
    if not st.button("Generate", type="primary", icon=":material/casino:", key="gen_go"):
        return
    outcome: dict[str, Any] = {"progress": (0.0, "Starting")}

    def report(fraction: float, step: str) -> None:
        outcome["progress"] = (fraction, step)

    def work() -> None:
        try:
            outcome["versions"] = generate.generate(
                common.workspace(),
                customers=int(customers),
                transactions=int(transactions),
                events=None if events is None else int(events),
                seed=int(seed),
                on_progress=report,
            )
        except Exception as exc:  # shown below, on the page's thread
            outcome["error"] = exc

    bar = st.progress(0.0, text="Generating…")
    worker = threading.Thread(target=work, daemon=True)
    started = time.perf_counter()
    worker.start()
    while worker.is_alive():
        elapsed = time.perf_counter() - started
        fraction, step = outcome["progress"]
        bar.progress(min(1.0, fraction), text=f"{step}… {elapsed:.0f} s")
        worker.join(0.2)
    if "error" in outcome:
        bar.empty()
        raise outcome["error"]
    bar.progress(1.0, text=f"Done in {time.perf_counter() - started:.1f} s")
    for version in outcome["versions"].values():
        st.success(f"Saved {version.label}: {version.row_count:,} rows.")
    _rebuild_hint()


# -- History ---------------------------------------------------------------------------------


def _history_frame(dataset: str) -> pd.DataFrame:
    ws = common.workspace()
    versions = datasets.list_versions(ws, dataset)
    head = datasets.head(ws, dataset)
    rows = []
    for index, version in enumerate(reversed(versions)):
        change = None  # the grid's dash: the first version, or one too old to compare
        if version.parent is not None and index < DIFFED_VERSIONS:
            diff = common.cached_dataset(datasets.diff, dataset, version.parent, version.id)
            change = f"vs v{version.parent}: +{diff.added:,} −{diff.removed:,} ~{diff.changed:,}"
        rows.append(
            {
                "version": version.id,
                "head": "HEAD" if version.id == head.id else "",
                # a moment, shown like the build history's (UTC), not ISO text with T
                "created": pd.Timestamp(version.created_at).tz_convert("UTC").tz_localize(None),
                "kind": version.kind,
                "rows": version.row_count,
                "change": change,
                "message": version.message,
            }
        )
    return pd.DataFrame(rows)


def _compare_versions(dataset: str, versions: list[int]) -> None:
    """Any two versions side by side: counts and the ids added, removed and changed."""
    if len(versions) < 2:
        return
    with st.expander(f"Compare two {dataset} versions"):
        cols = st.columns(2)
        older = cols[0].selectbox(
            "From",
            versions,
            index=min(1, len(versions) - 1),
            format_func=lambda v: f"v{v}",
            key=f"history_diff_a_{dataset}",
        )
        newer = cols[1].selectbox(
            "To",
            versions,
            index=0,
            format_func=lambda v: f"v{v}",
            key=f"history_diff_b_{dataset}",
        )
        if older == newer:
            st.caption("Pick two different versions.")
            return
        found: datasets.VersionDiff = common.cached_dataset(
            datasets.diff, dataset, int(older), int(newer), examples=20
        )
        st.markdown(
            f"**v{found.a} → v{found.b}** (records matched by `{found.key}`): "
            f"{found.counts_text()}."
        )
        for what, keys, total in found.examples():
            more = f" and {total - len(keys):,} more" if total > len(keys) else ""
            st.text(f"{what.capitalize()}: {', '.join(keys)}{more}")


def _history_tab() -> None:
    ws = common.workspace()
    for dataset in loading.DATASETS:
        st.subheader(DATASET_LABELS[dataset])
        with st.spinner(f"Comparing the latest {dataset} versions…"):
            frame = _history_frame(dataset)
        st.dataframe(
            frame,
            hide_index=True,
            placeholder=common.NULL_DASH,
            key=f"history_{dataset}",
            height=min(320, 38 + 35 * len(frame)),
            column_config={
                "version": st.column_config.NumberColumn("Version", format="v%d", width="small"),
                "head": st.column_config.TextColumn("", width="small"),
                "created": st.column_config.DatetimeColumn(
                    "Created (UTC)", format="YYYY-MM-DD HH:mm:ss"
                ),
                "kind": st.column_config.TextColumn("Kind"),
                "rows": st.column_config.NumberColumn("Rows", format="%,d"),
                "change": st.column_config.TextColumn("Added / removed / changed"),
                "message": st.column_config.TextColumn("Message", width="large"),
            },
        )
        head = datasets.head(ws, dataset)
        cols = st.columns([1, 2, 1])
        if cols[0].button(
            "Undo last change",
            key=f"history_undo_{dataset}",
            icon=":material/undo:",
            disabled=head.parent is None,
            help="Move HEAD back to the previous version; nothing is deleted.",
        ):
            version = datasets.undo(ws, dataset)
            paired = datasets.pairing_note(ws, dataset, head)
            st.session_state["history_notice"] = (
                dataset,
                f"{dataset}: HEAD is v{version.id} again." + (f" {paired}" if paired else ""),
            )
            st.rerun()
        others = [int(v) for v in frame["version"] if int(v) != head.id]
        messages = dict(zip(frame["version"].astype(int), frame["message"], strict=True))
        pick = cols[1].selectbox(
            "Version to restore",
            others,
            format_func=lambda v, messages=messages: f"v{v} · {messages.get(v, '')}"[:90],
            key=f"history_pick_{dataset}",
            label_visibility="collapsed",
            placeholder="Pick a version to restore",
            index=None,
            disabled=not others,
        )
        if cols[2].button(
            "Restore",
            key=f"history_restore_{dataset}",
            icon=":material/restore:",
            disabled=pick is None,
        ):
            version = datasets.restore(ws, dataset, int(pick))
            st.session_state["history_notice"] = (
                dataset,
                f"{dataset}: v{pick} restored as v{version.id}.",
            )
            st.rerun()
        # history_notice is (dataset or None, text): a dataset's own notice shows under
        # its buttons, any other (Reset's) after both datasets
        notice = st.session_state.get("history_notice")
        if notice and notice[0] == dataset:
            # under this dataset's buttons: below the events section it was off-screen,
            # and the click looked like it did nothing
            st.session_state.pop("history_notice")
            st.success(common.escape_markdown(notice[1]), icon=":material/check_circle:")
            _rebuild_hint()
        _compare_versions(dataset, [int(v) for v in frame["version"]])
    notice = st.session_state.pop("history_notice", None)
    if notice:
        st.success(notice[1], icon=":material/check_circle:")
        _rebuild_hint()

    st.divider()
    st.subheader("Reset to the sample")
    if st.session_state.pop("history_reset_done", False):
        # untick the confirmation after a reset; a widget's value can only be set
        # before the widget is created in the run
        st.session_state["history_reset_confirm"] = False
    confirm = st.checkbox(
        "Replace both datasets with the bundled 8-transaction sample (a new version each; "
        "the history stays).",
        key="history_reset_confirm",
    )
    if st.button(
        "Reset to the sample",
        disabled=not confirm,
        icon=":material/restart_alt:",
        key="history_reset",
    ):
        with st.spinner("Resetting to the sample…"):
            versions = datasets.reset_to_sample(ws)
        st.session_state["history_notice"] = (
            None,
            "Reset: " + ", ".join(v.label for v in versions.values()),
        )
        st.session_state["history_reset_done"] = True
        st.rerun()


# -- Break it --------------------------------------------------------------------------------


def _break(key: str, rebuild: bool) -> None:
    with st.spinner("Saving the broken version…"):
        applied = scenarios.apply(common.workspace(), key)
    scenario = applied.scenario
    outcome = "warn" if scenario.severity == "warn" else "fail"
    # Kept while the broken version is HEAD: the page reruns when the build ends, and a
    # notice shown once was gone before a class could read it.
    st.session_state["break_notice"] = {
        "text": f"{applied.version.label}: {common.escape_markdown(applied.detail)}. "
        f"The next build should {outcome} "
        f"`{scenario.test}`. Undo on the History tab repairs it.",
        "dataset": applied.version.dataset,
        "version": applied.version.id,
    }
    if rebuild:
        _start_rebuild()
    st.rerun()


def _break_tab() -> None:
    st.caption(
        "Each scenario saves a new dataset version with one kind of bad data. Rebuild, "
        "and the named dbt test catches it: the build fails and the last good mart stays "
        "published. Undo (History tab) repairs it."
    )
    notice = st.session_state.get("break_notice")
    if (
        isinstance(notice, dict)
        and datasets.head(common.workspace(), notice["dataset"]).id == notice["version"]
    ):
        st.success(notice["text"], icon=":material/science:")
    else:
        st.session_state.pop("break_notice", None)
    for index, scenario in enumerate(scenarios.SCENARIOS):
        with st.container(border=True, key=f"scenario_{scenario.key}"):
            text, buttons = st.columns([3, 2])
            verb = "warns" if scenario.severity == "warn" else "fails"
            text.markdown(f"**{scenario.title}** · {scenario.dataset}")
            text.caption(scenario.description)
            text.markdown(f"{verb}: `{scenario.test}{'…' if scenario.test_is_prefix else ''}`")
            # a row that wraps: in two columns both read "Brea…" on a 1024 px screen
            row = buttons.container(horizontal=True)
            if row.button("Break it", key=f"break_{scenario.key}", icon=":material/bolt:"):
                _break(scenario.key, rebuild=False)
            if row.button(
                "Break & rebuild",
                key=f"break_build_{scenario.key}",
                type="primary" if index == 0 else "secondary",
                icon=":material/play_arrow:",
            ):
                _break(scenario.key, rebuild=True)


# -- the page --------------------------------------------------------------------------------


def main() -> None:
    st.title("Data")
    tabs = st.tabs(TABS, key="data_tab", on_change="rerun")
    bodies = [_upload_tab, _edit_tab, _generate_tab, _history_tab, _break_tab]
    for tab, body in zip(tabs, bodies, strict=True):
        if tab.open is False:
            continue  # lazy: only the selected tab runs
        with tab:
            common.run_page(body)


common.run_page(main)

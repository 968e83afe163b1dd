"""SQL & analyses: the dbt analyses as one-click queries, and a read-only SQL console.

Analyses run their compiled SQL (from the build's dbt artifacts) through the sandbox; the
console runs what you type through the same sandbox: one read-only statement, a row
limit and a time limit, and plain messages for what it refuses.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from mart import charts, insights, sandbox
from mart.errors import MartError
from mart.sandbox import QueryResult
from ui.common import (
    NULL_DASH,
    NULL_SQL,
    cached,
    console_sandbox,
    escape_markdown,
    require_published,
    show_error,
)

PICK_EXAMPLE = "— pick an example query —"
# The console cuts a result at about this much text: drawing 100 MB took 10 s.
CONSOLE_MAX_BYTES = 20_000_000


def _column_config(result: QueryResult) -> dict[str, Any]:
    """DECIMAL columns shown with their scale: money to the cent, a DECIMAL(9,4) share
    to four places; floats (DOUBLE) as they are. DATE columns as dates (the frame holds
    them as timestamps at midnight)."""
    config: dict[str, Any] = {
        column: st.column_config.NumberColumn(format=f"%.{places}f")
        for column, places in result.decimal_places.items()
        if column in result.dataframe.columns and column not in result.exact_columns
    }
    for column in result.date_columns:
        if column in result.dataframe.columns:
            config[column] = st.column_config.DateColumn(format="YYYY-MM-DD")
    return config


def _result(result: QueryResult, name: str, key: str) -> None:
    """A result table with its row count, notice and CSV download."""
    st.caption(f"{result.row_count:,} row(s) in {result.elapsed_s * 1000:,.0f} ms")
    if result.notice:
        st.warning(result.notice)
    st.dataframe(
        sandbox.display_frame(result),
        hide_index=True,
        placeholder=NULL_SQL,
        key=f"{key}_table",
        column_config=_column_config(result),
    )
    st.download_button(
        "Download CSV",
        data=sandbox.result_csv(result),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"{key}_csv",
        on_click="ignore",
    )


def _analyses(db_path: str) -> None:
    st.subheader("dbt analyses")
    artifacts = insights.build_artifacts(db_path)
    names = sorted(artifacts.analyses)
    if not names:
        st.info("This build has no dbt analyses.")
        return
    st.caption("The project's `analyses/` folder: one click runs the compiled SQL on the mart.")
    st.session_state.setdefault(
        "analysis", "top_customers" if "top_customers" in artifacts.analyses else names[0]
    )
    buttons = st.columns(len(names))
    for column, name in zip(buttons, names, strict=True):
        if column.button(
            name.replace("_", " ").capitalize(),
            key=f"analysis_{name}",
            use_container_width=True,
            type="primary" if st.session_state.get("analysis") == name else "secondary",
        ):
            st.session_state["analysis"] = name
            st.rerun()
    name = st.session_state.get("analysis")
    if name not in artifacts.analyses:
        st.info("Pick an analysis above to run it.")
        return
    analysis = artifacts.analyses[name]
    if analysis.description or analysis.summary:
        st.markdown(f"**{name}** — {analysis.description or analysis.summary}")
    with st.expander("Compiled SQL"):
        st.code(artifacts.compiled_analysis_sql(name), language="sql")
    try:
        result: QueryResult = cached(insights.run_analysis, name)
    except (MartError, ValueError) as error:
        st.error(str(error))
        return
    figure = charts.analysis_figure(name, result.dataframe)
    if figure is not None:
        st.plotly_chart(figure, key="analysis_chart")
    _result(result, name, "analysis_result")


def _show_sql_error(error: str) -> None:
    """The refusal or DuckDB error, shown literally: its first line as the message, and
    the rest (DuckDB's ``LINE 1: …`` with the ``^`` under the culprit) as code, so the
    user's SQL is neither formatted as Markdown (``a*b*c``) nor misaligned."""
    first, _, rest = error.partition("\n")
    st.error(escape_markdown(first), icon=":material/block:")
    if rest.strip():
        st.code(rest.strip("\n"), language=None)


def _use_example() -> None:
    title = st.session_state.get("sql_example")
    if title in sandbox.EXAMPLE_QUERIES:
        st.session_state["sql_text"] = sandbox.EXAMPLE_QUERIES[title]


def _console(db_path: str, build_id: int) -> None:
    st.subheader("SQL console")
    st.caption(
        "Read-only: one SELECT (or SHOW / DESCRIBE / EXPLAIN) at a time on the published "
        f"mart, at most {sandbox.DEFAULT_ROW_LIMIT:,} rows and "
        f"{sandbox.DEFAULT_TIMEOUT_S:.0f} s. Files, ATTACH, INSTALL/LOAD and SET are refused."
    )
    st.session_state.setdefault(
        "sql_text", next(iter(sandbox.EXAMPLE_QUERIES.values()), "select 42")
    )
    st.selectbox(
        "Example queries",
        [PICK_EXAMPLE, *sandbox.EXAMPLE_QUERIES],
        key="sql_example",
        on_change=_use_example,
    )
    console_sandbox().warm_up()  # a query process starts now, not at the first Run
    with st.form("sql_form", border=False):
        sql = st.text_area("SQL", key="sql_text", height=220)
        run = st.form_submit_button("Run query", type="primary", icon=":material/play_arrow:")
    if run:
        try:
            # in a process of its own: a query that runs out of memory or will not stop
            # at the time limit ends that process, not the app
            st.session_state["sql_result"] = console_sandbox().run_sql(
                db_path, sql, max_bytes=CONSOLE_MAX_BYTES
            )
            st.session_state["sql_result_build"] = build_id
            st.session_state.pop("sql_error", None)
        except (MartError, ValueError) as error:
            st.session_state["sql_error"] = str(error)
            st.session_state.pop("sql_result", None)
    error = st.session_state.get("sql_error")
    if error:
        _show_sql_error(error)
    result = st.session_state.get("sql_result")
    if result is not None:
        result_build = st.session_state.get("sql_result_build")
        if result_build is not None and result_build != build_id:
            # a rebuild published since: never show the old mart's rows as current
            st.info(
                f"This result is from build #{result_build}; build #{build_id} is published "
                "now. Run the query again to see the current mart.",
                icon=":material/update:",
            )
        _result(result, "query", "sql_result")
    with st.expander("Tables and views in the mart"):
        relations = cached(sandbox.list_relations)
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "relation": f"{item.schema}.{item.name}",
                        "type": item.type,
                        "rows (estimate)": item.row_count,
                    }
                    for item in relations or []
                ]
            ),
            hide_index=True,
            key="sql_relations",
            placeholder=NULL_DASH,
        )


st.title("SQL & analyses")
published_id, published_db = require_published()
try:
    _analyses(str(published_db))
    st.divider()
    _console(str(published_db), int(published_id))
except Exception as error:  # noqa: BLE001 - a demo page never shows a traceback
    show_error(error)

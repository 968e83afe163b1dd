"""Lineage: the dbt DAG of the published build, left to right by layer, with an inspector.

Nodes are coloured by the last build's status and show row counts and durations; tests
can be shown or hidden; a node can be focused with N hops up- and downstream; search
narrows the graph. Click a node (or pick it) to inspect its docs, columns, SQL and data.
Exports: SVG, PNG and DOT of what is on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from mart import charts, insights, lineage, money
from mart.artifacts import (
    LAYER_LABELS,
    BuildArtifacts,
    LineageGraph,
    Node,
    columns_markdown,
)
from ui import common
from ui.common import NULL_SQL, cached, escape_markdown, require_published, show_error

WHOLE_GRAPH = ""
NODE_KEY = "lineage_node"
LINEAGE_CHART = "lineage_chart"


def _dark_theme() -> bool:
    try:
        return st.context.theme.type == "dark"
    except AttributeError:
        return False


def _node_label(graph: LineageGraph, node_id: str) -> str:
    if node_id == WHOLE_GRAPH:
        return "(whole graph)"
    node = graph.nodes.get(node_id)
    if node is None:
        return node_id
    return f"{node.label} · {LAYER_LABELS.get(node.layer, node.layer)}"


def _inspectable(graph: LineageGraph, show_tests: bool) -> list[str]:
    ranked = sorted(
        (node for node in graph.nodes.values() if show_tests or not node.is_test),
        key=lambda node: (
            list(LAYER_LABELS).index(node.layer) if node.layer in LAYER_LABELS else 99,
            node.label,
        ),
    )
    return [node.unique_id for node in ranked]


def _take_chart_click(graph: LineageGraph) -> None:
    """A node clicked on the chart becomes the inspected node (before the widgets draw)."""
    state = st.session_state.get("lineage_chart")
    try:
        points = state["selection"]["points"] if state else []
    except (KeyError, TypeError):
        points = []
    picked = [
        point.get("customdata")
        for point in points
        if isinstance(point, dict) and point.get("customdata") in graph.nodes
    ]
    marker = tuple(picked)
    if picked and marker != st.session_state.get("lineage_last_click"):
        st.session_state[NODE_KEY] = picked[0]
    st.session_state["lineage_last_click"] = marker


def _inspect(node_id: str) -> Callable[[], None]:
    def go() -> None:
        st.session_state[NODE_KEY] = node_id

    return go


def _status_text(node: Node) -> str:
    status = lineage.shown_status(node) or "not run"
    parts = [f"status **{status}**"]
    if node.row_count is not None:
        parts.append(f"{node.row_count:,} rows")
    if node.execution_time is not None:
        parts.append(f"{node.execution_time:.2f} s")
    if node.reused_from is not None:
        parts.append(f"unchanged, not run again: ran in build #{node.reused_from}")
    if node.test_count:
        parts.append(f"{node.test_count} tests (worst: {node.worst_test_status or 'not run'})")
    return " · ".join(parts)


def _inspector(artifacts: BuildArtifacts, node_id: str) -> None:
    graph = artifacts.graph
    node = graph.nodes[node_id]
    st.markdown(f"### {node.label}")
    st.caption(
        f"{node.resource_type} · {LAYER_LABELS.get(node.layer, node.layer)}"
        + (f" · `{node.relation}`" if node.relation else "")
    )
    st.markdown(_status_text(node))
    details = artifacts.models.get(node_id)
    test = artifacts.tests.get(node_id)
    description = (details.description if details else "") or node.description
    if test is not None:
        description = description or test.description
    st.markdown(description or "_No description._")

    links = lineage.neighbours(graph, node_id)
    up, down = st.columns(2)
    with up:
        st.markdown("**Upstream**")
        for other in links.upstream or []:
            st.button(
                other.label,
                key=f"up_{other.unique_id}",
                on_click=_inspect(other.unique_id),
                icon=":material/arrow_back:",
            )
        if not links.upstream:
            st.caption("none")
    with down:
        st.markdown("**Downstream**")
        for other in links.downstream or []:
            st.button(
                other.label,
                key=f"down_{other.unique_id}",
                on_click=_inspect(other.unique_id),
                icon=":material/arrow_forward:",
            )
        if not links.downstream:
            st.caption("none")

    tabs = st.tabs(["Columns", "SQL", "Compiled SQL", "Data preview"])
    with tabs[0]:
        if details and details.columns:
            st.markdown(columns_markdown(details.columns))
        elif test is not None:
            st.markdown(
                f"Test **{test.test_name}** on `{test.model_name or '–'}`"
                + (f".`{test.column_name}`" if test.column_name else "")
                + f": {test.status or 'not run'}"
                + (f", {test.failures} failing row(s)" if test.failures else "")
            )
        else:
            st.caption("No columns documented for this node.")
    with tabs[1]:
        raw = details.raw_sql if details else ""
        if raw:
            st.code(raw, language="sql")
        else:
            st.caption("No SQL (sources, exposures and generic tests have none of their own).")
    with tabs[2]:
        compiled = (details.compiled_sql if details else None) or (
            test.compiled_sql if test else None
        )
        if compiled:
            st.code(compiled, language="sql")
        else:
            st.caption("No compiled SQL in this build's artifacts.")
    with tabs[3]:
        relation = (
            node.relation if not node.is_test else (test.stored_failures_relation if test else None)
        )
        if relation:
            try:
                frame = cached(insights.table_preview, relation, 100)
            except Exception as error:  # noqa: BLE001 - shown, never raised
                show_error(error)
            else:
                st.caption(f"First {len(frame):,} rows of `{relation}`")
                st.dataframe(
                    money.exact_text(frame),  # 212.50, not 212.5
                    hide_index=True,
                    key="lineage_preview",
                    placeholder=NULL_SQL,
                )
        else:
            st.caption("This node has no table in the mart.")


def _downloads(graph: LineageGraph, place: lineage.Layout, title: str) -> None:
    svg, png, dot = st.columns(3)
    svg.download_button(
        "Download SVG",
        data=lambda: lineage.to_svg(graph, place, title=title),
        file_name="techmart-lineage.svg",
        mime="image/svg+xml",
        icon=":material/download:",
        key="lineage_svg",
        on_click="ignore",
        use_container_width=True,
    )
    png.download_button(
        "Download PNG",
        data=lambda: lineage.to_png(graph, place, title=title),
        file_name="techmart-lineage.png",
        mime="image/png",
        icon=":material/image:",
        key="lineage_png",
        on_click="ignore",
        use_container_width=True,
    )
    dot.download_button(
        "Download DOT",
        data=lambda: lineage.to_dot(graph, title=title),
        file_name="techmart-lineage.dot",
        mime="text/vnd.graphviz",
        icon=":material/account_tree:",
        key="lineage_dot",
        on_click="ignore",
        use_container_width=True,
    )


def _page(build_id: int, db_path: Path) -> None:
    artifacts = insights.build_artifacts(db_path)
    full = artifacts.graph
    if not full.nodes:
        st.info("The published build has no lineage in its dbt artifacts.")
        return
    _take_chart_click(full)
    summary = artifacts.test_summary()
    st.caption(
        f"Build #{build_id} · dbt {artifacts.dbt_version} · {len(full.nodes)} nodes · tests: "
        + ", ".join(
            # "skipped" here is a test this build did not run (a unit test not re-run):
            # the tests table says "not run"
            f"{count} {'not run' if status == 'skipped' else status}"
            for status, count in summary.items()
            if count
        )
    )

    # A row that wraps instead of columns: at 1024 px columns cut "Show tests" to "Sh…".
    controls = st.container(horizontal=True, wrap=True, vertical_alignment="bottom")
    show_tests = controls.toggle("Show tests", key="lineage_tests")
    search_text = controls.text_input(
        "Search", key="lineage_search", placeholder="name contains…", width=200
    )
    focus_options = [WHOLE_GRAPH, *_inspectable(full, show_tests)]
    if st.session_state.get("lineage_focus") not in focus_options:
        st.session_state["lineage_focus"] = WHOLE_GRAPH
    focus_node = controls.selectbox(
        "Focus on",
        focus_options,
        key="lineage_focus",
        format_func=lambda value: _node_label(full, value),
        width=260,
    )
    upstream = controls.number_input(
        "Hops up", min_value=0, max_value=20, value=2, key="lineage_up", width=110
    )
    downstream = controls.number_input(
        "Hops down", min_value=0, max_value=20, value=2, key="lineage_down", width=110
    )

    graph = lineage.filter_graph(
        full,
        show_tests=show_tests,
        focus_node=focus_node or None,
        upstream=int(upstream),
        downstream=int(downstream),
        search_text=search_text or None,
    )
    if not graph.nodes:
        st.info(
            f"No node matches “{escape_markdown(search_text)}”. Clear the search to see the "
            "whole graph."
        )
        return
    inspect_options = _inspectable(full, show_tests=True)
    if st.session_state.get(NODE_KEY) not in inspect_options:
        st.session_state[NODE_KEY] = (
            focus_node
            or next(
                (i for i in inspect_options if full.nodes[i].name == "fct_customer_metrics"), None
            )
            or inspect_options[0]
        )
    # A new search or focus that hides the inspected node moves the inspector to what it
    # shows (an exact name first); picking a hidden node afterwards is still allowed.
    view = (search_text or "", focus_node or "", bool(show_tests))
    if st.session_state.get("_lineage_view") != view:
        st.session_state["_lineage_view"] = view
        if (search_text or focus_node) and st.session_state[NODE_KEY] not in graph.nodes:
            shown = [node_id for node_id in inspect_options if node_id in graph.nodes]
            wanted = (search_text or "").strip().lower()
            exact = [node_id for node_id in shown if full.nodes[node_id].name.lower() == wanted]
            if exact or shown:
                st.session_state[NODE_KEY] = (exact or shown)[0]
    selected = st.session_state[NODE_KEY]
    place = lineage.layout(graph)
    title = "TechMart mart lineage" + (
        f" — around {full.nodes[focus_node].label}" if focus_node else ""
    )
    crowded = show_tests and len(graph.nodes) > 40
    figure = lineage.to_plotly(graph, place, title=title, dark=_dark_theme(), selected=selected)
    # the height first: the labels are placed by their size in pixels; a row has room
    # for two labels of two lines facing each other (unless test labels are left out)
    figure.update_layout(height=int(max(480, place.height * (80 if crowded else 96) + 200)))
    figure = charts.stagger_node_labels(figure, label_tests=not crowded)
    common.scroll_below(LINEAGE_CHART, min_width=lineage.min_width_px(place))
    st.plotly_chart(
        figure,
        key=LINEAGE_CHART,
        on_select="rerun",
        selection_mode="points",
        theme=None,
        config={"displaylogo": False, "scrollZoom": True},
    )
    _downloads(graph, place, title)
    st.caption(
        "Click a node to inspect it. Colour: last build status; outline: worst test. "
        "Shape: ■ bronze source, ● model, ⬢ snapshot, ◆ test (◇ a unit test), ★ exposure "
        "(the app), ▶ analysis (compiled, never run by a build, so grey); the larger node "
        "is the one inspected. Large graph? Focus on a node or search. On a narrow "
        "screen the graph keeps its size and scrolls sideways."
        + (" Test names are in the hover (too many to label)." if crowded else "")
    )
    st.divider()
    st.selectbox(
        "Inspect node",
        inspect_options,
        key=NODE_KEY,
        format_func=lambda value: _node_label(full, value),
    )
    _inspector(artifacts, st.session_state[NODE_KEY])


st.title("Lineage")
published_build, published_db = require_published()
try:
    _page(published_build, published_db)
except Exception as error:  # noqa: BLE001 - a demo page never shows a traceback
    show_error(error)

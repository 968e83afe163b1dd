"""The lineage explorer's logic: filter the dbt graph, lay it out, draw it.

Pure functions over :class:`mart.artifacts.LineageGraph`; no Streamlit. The page calls
:func:`filter_graph` with its widgets' values, :func:`layout` on the result, then
:func:`to_plotly` to show it, and offers :func:`to_svg` / :func:`to_png` /
:func:`to_dot` as downloads (the SVG and PNG are drawn here from the layout, so no
Graphviz binary is needed).

Layout: one column per layer, left to right (bronze sources, seeds, staging,
intermediate, marts, snapshots, exposure, analyses); when tests are shown they sit in
a "tests" column right after the column of the node they test. Within a column nodes
are ordered by a few barycentre sweeps (each node moves towards the mean position of
its neighbours in the previous column), which removes most edge crossings; the
ordering with the fewest crossings seen is kept.
"""

from __future__ import annotations

import html
import io
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from mart.artifacts import LAYER_LABELS, LineageGraph, Node
from mart.errors import NotFoundError

# -- statuses and colours ----------------------------------------------------------------

STATUS_GROUPS: tuple[str, ...] = ("ok", "failed", "warn", "not_run")
"""How node statuses are grouped for colour and legend, in legend order."""

STATUS_LABELS: dict[str, str] = {
    "ok": "success / pass",
    "failed": "error / fail",
    "warn": "warn",
    "not_run": "skipped / not run",
}

# Mid-tone colours that read on white and on a dark background alike.
STATUS_COLOURS: dict[str, str] = {
    "ok": "#2e9d5b",
    "failed": "#d64545",
    "warn": "#e0a10b",
    "not_run": "#8a96a3",
}
# Light tints for box fills in the SVG/PNG (dark text on them).
STATUS_FILLS: dict[str, str] = {
    "ok": "#e3f4ea",
    "failed": "#fde4e4",
    "warn": "#fff2d1",
    "not_run": "#eef1f4",
}

LIGHT = {"background": "#ffffff", "text": "#1f2933", "muted": "#52606d", "edge": "#9aa5b1"}
DARK = {"background": "#0e1117", "text": "#f0f2f6", "muted": "#b8c2cc", "edge": "#6b7785"}

SYMBOLS: dict[str, str] = {
    "source": "square",
    "seed": "square",
    "model": "circle",
    "snapshot": "hexagon",
    "test": "diamond",
    "unit_test": "diamond-open",
    "exposure": "star",
    "analysis": "triangle-right",
}

LAYOUT_ORDER: tuple[str, ...] = (
    "sources",
    "seeds",
    "staging",
    "intermediate",
    "other",
    "marts",
    "snapshots",
    "exposures",
    "analyses",
)
"""Columns left to right; tests get their own column after the node they test."""


def shown_status(node: Node) -> str | None:
    """The status a node is coloured by: its run status; for a source (which dbt does
    not run), the worst status of its tests."""
    if node.status is None and node.resource_type == "source":
        return node.worst_test_status
    return node.status


def status_group(status: str | None) -> str:
    """The colour group of a run status: ok, failed, warn or not_run."""
    if status in {"success", "pass"}:
        return "ok"
    if status in {"error", "fail", "runtime error"}:
        return "failed"
    if status == "warn":
        return "warn"
    return "not_run"


# -- filtering ---------------------------------------------------------------------------


def subgraph(graph: LineageGraph, keep: Iterable[str]) -> LineageGraph:
    """The nodes in ``keep`` and the edges between them."""
    kept = {node_id for node_id in keep if node_id in graph.nodes}
    return LineageGraph(
        nodes={node_id: node for node_id, node in graph.nodes.items() if node_id in kept},
        edges=tuple(edge for edge in graph.edges if edge[0] in kept and edge[1] in kept),
    )


def hide_tests(graph: LineageGraph) -> LineageGraph:
    """The graph without test and unit-test nodes (nodes keep their test counts)."""
    return subgraph(graph, (node_id for node_id, node in graph.nodes.items() if not node.is_test))


def _walk(graph: LineageGraph, start: str, hops: int | None, upstream: bool) -> set[str]:
    """Nodes within ``hops`` steps of ``start`` (None: any number), one direction."""
    seen = {start}
    queue: deque[tuple[str, int]] = deque([(start, 0)])
    while queue:
        node_id, depth = queue.popleft()
        if hops is not None and depth >= hops:
            continue
        nexts = graph.parents(node_id) if upstream else graph.children(node_id)
        for other in nexts:
            if other not in seen:
                seen.add(other)
                queue.append((other, depth + 1))
    return seen


def focus(
    graph: LineageGraph, node_id: str, upstream: int | None = 1, downstream: int | None = 1
) -> LineageGraph:
    """``node_id`` with its ancestors up to ``upstream`` hops and descendants up to
    ``downstream`` hops (None: all). Raises NotFoundError for an unknown node."""
    node = graph.find(node_id)
    keep = _walk(graph, node.unique_id, upstream, True) | _walk(
        graph, node.unique_id, downstream, False
    )
    return subgraph(graph, keep)


def search(graph: LineageGraph, text: str) -> LineageGraph:
    """Nodes whose name (or ``source.table`` label) contains ``text``, ignoring case."""
    needle = text.strip().lower()
    if not needle:
        return graph
    return subgraph(
        graph,
        (
            node_id
            for node_id, node in graph.nodes.items()
            if needle in node.name.lower() or needle in node.label.lower()
        ),
    )


def by_resource_type(graph: LineageGraph, resource_types: Iterable[str]) -> LineageGraph:
    """Only nodes of the given resource types (``model``, ``source``, ``test``, ...)."""
    wanted = set(resource_types)
    return subgraph(
        graph, (node_id for node_id, node in graph.nodes.items() if node.resource_type in wanted)
    )


def filter_graph(
    graph: LineageGraph,
    *,
    show_tests: bool = False,
    resource_types: Iterable[str] | None = None,
    focus_node: str | None = None,
    upstream: int | None = None,
    downstream: int | None = None,
    search_text: str | None = None,
) -> LineageGraph:
    """The subgraph the explorer shows, from its controls.

    Tests are hidden unless ``show_tests`` (each node still carries ``test_count`` and
    ``worst_test_status``). ``focus_node`` keeps that node with ``upstream`` /
    ``downstream`` hops (None: all) around it; ``resource_types`` and ``search_text``
    narrow further. Every step returns a subgraph, so large projects stay small on
    screen.
    """
    result = graph if show_tests else hide_tests(graph)
    if focus_node:
        result = focus(result, focus_node, upstream, downstream)
    if resource_types is not None:
        result = by_resource_type(result, resource_types)
    if search_text:
        result = search(result, search_text)
    return result


@dataclass(frozen=True)
class Neighbours:
    """A node's direct upstream and downstream nodes, for the inspector's links."""

    upstream: list[Node]
    downstream: list[Node]


def neighbours(graph: LineageGraph, node_id: str, *, include_tests: bool = False) -> Neighbours:
    """Direct parents and children of ``node_id``, ordered by layer then name."""
    node = graph.find(node_id)

    def ordered(ids: Iterable[str]) -> list[Node]:
        found = [graph.nodes[other] for other in ids if other in graph.nodes]
        if not include_tests:
            found = [other for other in found if not other.is_test]
        return sorted(found, key=lambda other: (_layer_rank(other.layer), other.name))

    return Neighbours(
        upstream=ordered(graph.parents(node.unique_id)),
        downstream=ordered(graph.children(node.unique_id)),
    )


# -- layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayoutColumn:
    """A column of the layout: its layer key, header and x position."""

    key: str
    label: str
    x: float
    node_ids: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """Node positions in layout units: x = column index, y = row (0 at the top)."""

    positions: dict[str, tuple[float, float]]
    columns: tuple[LayoutColumn, ...]
    width: float  # number of columns
    height: float  # rows in the tallest column
    crossings: int

    def headers(self) -> list[tuple[float, str]]:
        """One header per run of adjacent columns of the same layer: (centre x, label).

        A layer that comes back after another (the marts built on the snapshot) is
        headed "marts (cont.)", so the graph never shows the same header twice; tests
        columns, beside each layer, keep their one word.
        """
        found: list[tuple[float, str]] = []
        run: list[LayoutColumn] = []
        seen: set[str] = set()
        for column in (*self.columns, None):
            if run and (column is None or column.key != run[0].key):
                label = run[0].label
                if run[0].key != "tests" and run[0].key in seen:
                    label = f"{label} (cont.)"
                seen.add(run[0].key)
                found.append(((run[0].x + run[-1].x) / 2, label))
                run = []
            if column is not None:
                run.append(column)
        return found

    def column_of(self, node_id: str) -> LayoutColumn:
        """The column holding ``node_id``."""
        for column in self.columns:
            if node_id in column.node_ids:
                return column
        raise NotFoundError(f"{node_id} is not in this layout.")


def _layer_key(layer: str) -> str:
    """The layout key of a node's layer ("other" for one the layout does not know)."""
    return layer if layer in LAYOUT_ORDER else "other"


def _layer_rank(layer: str) -> int:
    return LAYOUT_ORDER.index(layer) if layer in LAYOUT_ORDER else len(LAYOUT_ORDER)


ColumnKey = tuple[int, int, int]
"""(layer rank, depth inside the layer, 1 for a tests column else 0): sorts left to right."""


def _column_keys(graph: LineageGraph) -> dict[str, ColumnKey]:
    """Each node's column: its layer, split into sub-columns by dependencies inside the
    layer (a mart built from another mart sits right of it, so edges point right);
    a test goes into a tests column right after the column of the node it tests."""
    depth: dict[str, int] = {}

    def depth_of(node_id: str, trail: frozenset[str] = frozenset()) -> int:
        if node_id not in depth:
            layer = graph.nodes[node_id].layer
            same = [
                parent
                for parent in graph.parents(node_id)
                if graph.nodes[parent].layer == layer
                and not graph.nodes[parent].is_test
                and parent not in trail
            ]
            depth[node_id] = 1 + max(
                (depth_of(parent, trail | {node_id}) for parent in same), default=-1
            )
        return depth[node_id]

    keys: dict[str, ColumnKey] = {}
    for node_id, node in graph.nodes.items():
        if not node.is_test:
            keys[node_id] = (_layer_rank(node.layer), depth_of(node_id), 0)
    # A node built from a node of a later layer (a mart on a snapshot) goes right of that
    # parent, so every edge points right; repeated so its own children follow it.
    for _ in range(len(keys)):
        moved = False
        for node_id in keys:
            later = [
                keys[parent]
                for parent in graph.parents(node_id)
                if parent in keys and keys[parent] >= keys[node_id]
            ]
            if later:
                rank, depth, _ = max(later)
                keys[node_id] = (rank, depth + 1, 0)
                moved = True
        if not moved:
            break
    for node_id, node in graph.nodes.items():
        if node.is_test:
            owners = [keys[parent] for parent in graph.parents(node_id) if parent in keys]
            owner = max(owners) if owners else (0, 0, 0)
            keys[node_id] = (owner[0], owner[1], 1)
    return keys


def _crossings(
    edges: Sequence[tuple[str, str]], column: dict[str, int], index: dict[str, int]
) -> int:
    """Edge crossings between edges that join the same pair of columns."""
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for parent, child in edges:
        groups.setdefault((column[parent], column[child]), []).append((index[parent], index[child]))
    total = 0
    for pairs in groups.values():
        pairs.sort()
        for i, (a1, b1) in enumerate(pairs):
            for a2, b2 in pairs[i + 1 :]:
                if a1 != a2 and (b1 - b2) * (a1 - a2) < 0:
                    total += 1
    return total


def layout(graph: LineageGraph, *, sweeps: int = 3) -> Layout:
    """Columns by layer, nodes ordered within a column to reduce edge crossings."""
    keys = _column_keys(graph)
    present = sorted(set(keys.values()))
    column_index = {key: position for position, key in enumerate(present)}
    node_column = {node_id: column_index[key] for node_id, key in keys.items()}
    columns: list[list[str]] = [[] for _ in present]
    for node_id in sorted(graph.nodes, key=lambda n: graph.nodes[n].label.lower()):
        columns[node_column[node_id]].append(node_id)

    def indices() -> dict[str, int]:
        return {node_id: row for col in columns for row, node_id in enumerate(col)}

    def sweep(order: Iterable[int], neighbours_of: str) -> None:
        for col_no in order:
            index = indices()
            keyed = []
            for row, node_id in enumerate(columns[col_no]):
                others = (
                    graph.parents(node_id) if neighbours_of == "up" else graph.children(node_id)
                )
                side = [
                    index[other]
                    for other in others
                    if (node_column[other] < col_no) == (neighbours_of == "up")
                    and node_column[other] != col_no
                ]
                centre = sum(side) / len(side) if side else float(row)
                keyed.append((centre, row, node_id))
            columns[col_no] = [node_id for _, _, node_id in sorted(keyed)]

    best = [list(col) for col in columns]
    best_crossings = _crossings(graph.edges, node_column, indices())
    for _ in range(max(0, sweeps)):
        sweep(range(1, len(columns)), "up")
        sweep(range(len(columns) - 2, -1, -1), "down")
        found = _crossings(graph.edges, node_column, indices())
        if found < best_crossings:
            best, best_crossings = [list(col) for col in columns], found
    columns = best

    tallest = max((len(col) for col in columns), default=0)
    positions: dict[str, tuple[float, float]] = {}
    layout_columns = []
    for col_no, col in enumerate(columns):
        offset = (tallest - len(col)) / 2
        for row, node_id in enumerate(col):
            positions[node_id] = (float(col_no), offset + row)
        rank, _, is_tests = present[col_no]
        layer = LAYOUT_ORDER[rank] if rank < len(LAYOUT_ORDER) else "other"
        # A column moved right of a later layer (a mart on a snapshot) is still headed by
        # its nodes' own layer.
        own = {_layer_key(graph.nodes[node_id].layer) for node_id in col}
        if len(own) == 1:
            layer = own.pop()
        key = "tests" if is_tests else layer
        layout_columns.append(
            LayoutColumn(key, LAYER_LABELS.get(key, key), float(col_no), tuple(col))
        )
    return Layout(
        positions=positions,
        columns=tuple(layout_columns),
        width=float(len(columns)),
        height=float(tallest),
        crossings=best_crossings,
    )


# -- text helpers ------------------------------------------------------------------------


def _rows_text(node: Node) -> str:
    if node.row_count is None:
        return ""
    return f"{node.row_count:,} row" + ("" if node.row_count == 1 else "s")


def _duration_text(node: Node) -> str:
    if node.reused_from is not None:
        return f"reused, ran in #{node.reused_from}"
    return f"{node.execution_time:.2f} s" if node.execution_time is not None else ""


def _subtitle(node: Node) -> str:
    """The second line of a box: rows and duration, else the resource type."""
    parts = [part for part in (_rows_text(node), _duration_text(node)) if part]
    if node.test_count and not node.is_test:
        parts.append(f"{node.test_count} test" + ("" if node.test_count == 1 else "s"))
    return " · ".join(parts) or node.resource_type.replace("_", " ")


def _hover(node: Node) -> str:
    lines = [
        f"<b>{html.escape(node.label)}</b>",
        f"{node.resource_type.replace('_', ' ')} · {LAYER_LABELS.get(node.layer, node.layer)}",
        f"status: {node.status or 'not run'}",
    ]
    if node.materialization:
        lines.append(f"materialized: {node.materialization}")
    if node.relation:
        lines.append(f"relation: {html.escape(node.relation)}")
    if node.row_count is not None:
        lines.append(f"rows: {node.row_count:,}")
    if node.rows_affected is not None:
        lines.append(f"rows affected: {node.rows_affected:,}")
    if node.execution_time is not None:
        lines.append(f"duration: {node.execution_time:.2f} s")
    if node.reused_from is not None:
        lines.append(f"unchanged, not run again: ran in build #{node.reused_from}")
    if node.test_count:
        lines.append(f"tests: {node.test_count} (worst: {node.worst_test_status or 'not run'})")
    return "<br>".join(lines)


# -- plotly ------------------------------------------------------------------------------

LABEL_WRAP = 16
"""Labels longer than this many characters are split over two lines in the figure."""
LABEL_LINE = 28
"""The most characters a line of a label takes (about 170 px at 11 px, inside the 230 px
between two columns); longer names are cut with "…" (the hover has them whole)."""


def wrap_label(label: str, width: int = LABEL_WRAP, line: int = LABEL_LINE) -> str:
    """``label`` on two lines (``<br>``) when it is longer than ``width``.

    It breaks after the ``_`` or ``.`` nearest the middle, so the lines are about equal
    (``int_customer_`` / ``category_spend``); a name without one is left whole. Plotly
    centres each line on the node, so neighbouring columns' labels no longer run into
    each other. A name without one longer than ``line`` is cut there; a name too long
    for two lines of ``line`` characters (a test's:
    ``accepted_values_dim_customers_customer_segment__High_Value__…``) fills the first
    line up to an underscore and ends the second with "…": two lines of 42 ran past the
    figure's left edge and into the next column.
    """
    if len(label) <= width:
        return html.escape(label)
    cuts = [index + 1 for index, char in enumerate(label[:-1]) if char in "_."]
    if not cuts:
        if len(label) <= line:
            return html.escape(label)
        rest = label[line:]
        second = rest if len(rest) <= line else rest[: line - 1] + "…"
        return f"{html.escape(label[:line])}<br>{html.escape(second)}"
    cut = min(cuts, key=lambda index: abs(index - len(label) / 2))
    if max(cut, len(label) - cut) > line:
        fitting = [index for index in cuts if index <= line]
        cut = fitting[-1] if fitting else line
        rest = label[cut:]
        second = rest if len(rest) <= line else rest[: line - 1] + "…"
        return f"{html.escape(label[:cut])}<br>{html.escape(second)}"
    return f"{html.escape(label[:cut])}<br>{html.escape(label[cut:])}"


#: The narrowest a layout column may be drawn, in pixels, so that folded node labels
#: ("int_customer_" / "events", 11 px) do not run into the next column's; and the
#: figure's side margins.
COLUMN_MIN_PX = 90
MARGIN_PX = 80


EDGE_STEPS = 12
"""Points per curved edge of the interactive figure (plus its start)."""


def plotly_edge(
    start: tuple[float, float], end: tuple[float, float], px_x: float, px_y: float
) -> list[tuple[float, float]]:
    """An edge of the interactive figure in layout units: a curve that leaves its parent
    and reaches its child level (as the SVG's do), so it runs beside the labels above or
    below its two nodes, not through them; it stops short of the child's marker so the
    arrowhead shows. ``px_x``/``px_y`` are pixels per layout unit."""
    (x0, y0), (x3, y3) = start, end
    gap = 13.0 / px_x  # the marker's radius and a little
    if x3 - x0 > 2 * gap:
        x3 -= gap
        bend = (x3 - x0) / 2
        return _bezier(((x0, y0), (x0 + bend, y0), (x3 - bend, y3), (x3, y3)), EDGE_STEPS)
    # same column or backwards (a layout never draws one): a straight line, cut short
    dx, dy = (x3 - x0) * px_x, (y3 - y0) * px_y
    length = math.hypot(dx, dy) or 1.0
    return [(x0, y0), (x3 - dx / length * 13.0 / px_x, y3 - dy / length * 13.0 / px_y)]


def min_width_px(place: Layout) -> int:
    """The narrowest the figure of ``place`` reads well: below it (1024 px projector
    with the sidebar open: 560 px for eight columns) labels overlap, so the page
    scrolls it sideways instead of squeezing it."""
    return int(MARGIN_PX + COLUMN_MIN_PX * max(1, len(place.columns)))


def to_plotly(
    graph: LineageGraph,
    layout_: Layout | None = None,
    *,
    title: str = "dbt lineage",
    dark: bool = False,
    selected: str | None = None,
) -> go.Figure:
    """An interactive lineage figure: one node trace per status group, edges as arrows.

    Colours are explicit (``dark`` picks the dark-background palette), so the figure
    reads the same with or without a plotly/Streamlit template. A node's outline shows
    its worst test status; ``selected`` is drawn larger.
    """
    place = layout_ or layout(graph)
    palette = DARK if dark else LIGHT
    px_x, px_y = 230.0, 52.0  # pixels per layout unit (sets the figure size)
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    sizes: list[float] = []
    for parent, child in graph.edges:
        if parent not in place.positions or child not in place.positions:
            continue
        points = plotly_edge(place.positions[parent], place.positions[child], px_x, px_y)
        edge_x += [x for x, _ in points] + [None]
        edge_y += [y for _, y in points] + [None]
        sizes += [0] * (len(points) - 1) + [9, 0]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=edge_x,
            y=edge_y,
            mode="lines+markers",
            line={"color": palette["edge"], "width": 1.2},
            marker={
                "symbol": "arrow",
                "size": sizes,
                "angleref": "previous",
                "color": palette["edge"],
            },
            hoverinfo="skip",
            showlegend=False,
            name="depends on",
        )
    )
    for group in STATUS_GROUPS:
        members = [
            node for node in graph.nodes.values() if status_group(shown_status(node)) == group
        ]
        members = [node for node in members if node.unique_id in place.positions]
        # A group with no node still gets its legend entry (a point with no position):
        # the outlines use the same colours, and the legend is the only key to them.
        figure.add_trace(
            go.Scatter(
                x=[place.positions[node.unique_id][0] for node in members] or [None],
                y=[place.positions[node.unique_id][1] for node in members] or [None],
                mode="markers+text",
                name=STATUS_LABELS[group],
                legendgroup=group,
                text=[wrap_label(node.label) for node in members],
                # Analyses are the last column: their names go to the right, into the
                # margin, so they never run into the exposure's name beside them.
                textposition=[
                    "middle right" if node.resource_type == "analysis" else "top center"
                    for node in members
                ]
                or "top center",
                textfont={"color": palette["text"], "size": 11},
                cliponaxis=False,
                customdata=[node.unique_id for node in members],
                hovertext=[_hover(node) for node in members],
                hovertemplate="%{hovertext}<extra></extra>",
                marker={
                    "color": STATUS_COLOURS[group],
                    "symbol": [SYMBOLS.get(node.resource_type, "circle") for node in members],
                    "size": [22 if node.unique_id == selected else 15 for node in members] or 15,
                    "line": {
                        "color": [
                            STATUS_COLOURS[status_group(node.worst_test_status)]
                            if node.test_count and not node.is_test
                            else "rgba(0,0,0,0)"
                            for node in members
                        ],
                        "width": [3 if node.test_count else 1 for node in members],
                    },
                },
            )
        )
    headers = place.headers()
    # Many headers (tests shown): every other one a line higher, so neighbours never
    # run into each other. Fewer headers over many columns: two-word headers wrap.
    staggered = len(headers) > 8
    wrap = not staggered and len(place.columns) > 8
    annotations = [
        {
            "x": centre,
            "y": -0.9 - (0.45 if staggered and number % 2 else 0.0),
            "text": "<b>" + html.escape(label).replace(" ", "<br>" if wrap else " ") + "</b>",
            "showarrow": False,
            "font": {"color": palette["muted"], "size": 12},
            "xanchor": "center",
            "yanchor": "bottom",
        }
        for number, (centre, label) in enumerate(headers)
    ]
    axis = {"visible": False, "showgrid": False, "zeroline": False, "fixedrange": False}
    # room on the right for the analyses' names: pixels of margin, which a narrower
    # chart keeps (layout units shrink with it); the text may draw there (cliponaxis)
    right_labels = any(node.resource_type == "analysis" for node in graph.nodes.values())
    figure.update_layout(
        title={"text": title, "font": {"color": palette["text"], "size": 16}, "x": 0.01},
        # dark: the page's own background (Streamlit's dark theme is a warm grey, and
        # the palette's navy drew the graph as a panel of another colour); light, or a
        # theme not known yet: white, readable on either
        paper_bgcolor="rgba(0,0,0,0)" if dark else palette["background"],
        plot_bgcolor="rgba(0,0,0,0)" if dark else palette["background"],
        font={"color": palette["text"], "family": "DejaVu Sans, Helvetica, Arial, sans-serif"},
        showlegend=True,
        legend={
            "orientation": "h",
            "yanchor": "top",
            "y": -0.02,
            "x": 0,
            "font": {"color": palette["text"]},
            "bgcolor": "rgba(0,0,0,0)",
            "title": {"text": "last status (outline: worst test) ", "font": {"size": 11}},
        },
        hoverlabel={"bgcolor": palette["background"], "font": {"color": palette["text"]}},
        annotations=annotations,
        xaxis={**axis, "range": [-0.75, max(place.width - 0.25, 0.6)]},
        yaxis={**axis, "range": [max(place.height, 1) - 0.4, -1.75 if staggered else -1.3]},
        width=int(max(720, place.width * px_x + 120 + (130 if right_labels else 0))),
        height=int(max(420, place.height * px_y + 190)),
        margin={"l": 20, "r": 150 if right_labels else 20, "t": 60, "b": 60},
        dragmode="pan",
    )
    return figure


# -- Graphviz DOT ------------------------------------------------------------------------


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: LineageGraph, *, title: str = "dbt lineage") -> str:
    """Graphviz DOT text: left to right, one cluster per layer, nodes coloured by status."""
    lines = [
        "digraph lineage {",
        "  rankdir=LR;",
        f"  label={_dot_id(title)}; labelloc=t; fontname=Helvetica;",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=10];',
        '  edge [color="#9aa5b1", arrowsize=0.7];',
    ]
    by_layer: dict[str, list[Node]] = {}
    for node in graph.nodes.values():
        by_layer.setdefault("tests" if node.is_test else node.layer, []).append(node)
    for layer in sorted(by_layer, key=_layer_rank):
        label = LAYER_LABELS.get(layer, layer)
        lines.append(f"  subgraph {_dot_id('cluster_' + layer)} {{")
        lines.append(f'    label={_dot_id(label)}; style=rounded; color="#c3cad3";')
        for node in sorted(by_layer[layer], key=lambda n: n.label):
            group = status_group(shown_status(node))
            label = "\\n".join(_dot_id(part)[1:-1] for part in (node.label, _subtitle(node)))
            lines.append(
                f'    {_dot_id(node.unique_id)} [label="{label}", '
                f'fillcolor="{STATUS_FILLS[group]}", color="{STATUS_COLOURS[group]}", '
                f"tooltip={_dot_id(node.status or 'not run')}];"
            )
        lines.append("  }")
    for parent, child in graph.edges:
        lines.append(f"  {_dot_id(parent)} -> {_dot_id(child)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- the drawn scene (shared by SVG and PNG) ---------------------------------------------

BOX_W, BOX_H = 210, 44
COL_GAP, ROW_GAP = 100, 16
MARGIN, TOP, LEGEND_H = 24, 78, 46
FONT_SIZE, SMALL_SIZE = 12, 10


@dataclass(frozen=True)
class _Box:
    node: Node
    x: float
    y: float


@dataclass(frozen=True)
class _Scene:
    width: float
    height: float
    boxes: dict[str, _Box]
    edges: list[tuple[tuple[float, float], ...]]  # cubic bezier control points
    headers: list[tuple[float, str]]  # centre x, label


def _scene(graph: LineageGraph, place: Layout) -> _Scene:
    """Pixel geometry (at scale 1) of the boxes, edges and headers."""
    col_px, row_px = BOX_W + COL_GAP, BOX_H + ROW_GAP
    boxes = {
        node_id: _Box(graph.nodes[node_id], MARGIN + x * col_px, TOP + y * row_px)
        for node_id, (x, y) in place.positions.items()
        if node_id in graph.nodes
    }
    edges = []
    for parent, child in graph.edges:
        if parent not in boxes or child not in boxes:
            continue
        a, b = boxes[parent], boxes[child]
        start = (a.x + BOX_W, a.y + BOX_H / 2)
        end = (b.x, b.y + BOX_H / 2)
        # An edge back to an earlier column (snapshot -> mart) loops around.
        bend = max(40.0, (end[0] - start[0]) / 2) if end[0] > start[0] else 90.0
        edges.append((start, (start[0] + bend, start[1]), (end[0] - bend, end[1]), end))
    width = MARGIN * 2 + max(place.width, 1) * col_px - COL_GAP
    height = TOP + max(place.height, 1) * row_px + LEGEND_H + MARGIN
    headers = [(MARGIN + x * col_px + BOX_W / 2, label) for x, label in place.headers()]
    return _Scene(width=width, height=height, boxes=boxes, edges=edges, headers=headers)


def _fit(text: str, size: int, width: float) -> str:
    """``text`` cut with an ellipsis to about ``width`` pixels at ``size`` (estimate)."""
    limit = max(4, int(width / (size * 0.6)))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bezier(points: tuple[tuple[float, float], ...], steps: int = 24) -> list[tuple[float, float]]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    out = []
    for step in range(steps + 1):
        t = step / steps
        u = 1 - t
        out.append(
            (
                u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
                u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3,
            )
        )
    return out


def _legend_items(width: float) -> list[tuple[float, str]]:
    return [(MARGIN + index * 170.0, group) for index, group in enumerate(STATUS_GROUPS)]


# -- SVG ---------------------------------------------------------------------------------


def to_svg(
    graph: LineageGraph, layout_: Layout | None = None, *, title: str = "dbt lineage"
) -> str:
    """A standalone SVG of the lineage: rounded boxes, curved arrows, headers, legend."""
    place = layout_ or layout(graph)
    scene = _scene(graph, place)
    esc = html.escape
    palette = LIGHT
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{scene.width:.0f}" '
        f'height="{scene.height:.0f}" viewBox="0 0 {scene.width:.0f} {scene.height:.0f}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
        f"<title>{esc(title)}</title>",
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{palette["edge"]}"/></marker>',
        "</defs>",
        f'<rect width="100%" height="100%" fill="{palette["background"]}"/>',
        f'<text x="{MARGIN}" y="30" font-size="18" font-weight="bold" '
        f'fill="{palette["text"]}">{esc(title)}</text>',
    ]
    for centre, label in scene.headers:
        out.append(
            f'<text x="{centre:.1f}" y="{TOP - 14}" font-size="{FONT_SIZE}" '
            f'font-weight="bold" text-anchor="middle" fill="{palette["muted"]}">'
            f"{esc(label)}</text>"
        )
    out.append(f'<g fill="none" stroke="{palette["edge"]}" stroke-width="1.3">')
    for (x0, y0), (x1, y1), (x2, y2), (x3, y3) in scene.edges:
        out.append(
            f'<path d="M {x0:.1f} {y0:.1f} C {x1:.1f} {y1:.1f}, {x2:.1f} {y2:.1f}, '
            f'{x3:.1f} {y3:.1f}" marker-end="url(#arrow)"/>'
        )
    out.append("</g>")
    for box in scene.boxes.values():
        node = box.node
        group = status_group(shown_status(node))
        dash = ' stroke-dasharray="4 3"' if node.is_test else ""
        out.append(f'<g id="{esc(node.unique_id)}">')
        out.append(f"<title>{esc(_hover(node).replace('<br>', chr(10)))}</title>")
        out.append(
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{BOX_W}" height="{BOX_H}" '
            f'rx="8" ry="8" fill="{STATUS_FILLS[group]}" stroke="{STATUS_COLOURS[group]}" '
            f'stroke-width="2"{dash}/>'
        )
        if node.test_count and not node.is_test:
            worst = STATUS_COLOURS[status_group(node.worst_test_status)]
            out.append(
                f'<circle cx="{box.x + BOX_W - 10:.1f}" cy="{box.y + 10:.1f}" r="4.5" '
                f'fill="{worst}"/>'
            )
        out.append(
            f'<text x="{box.x + 10:.1f}" y="{box.y + 18:.1f}" font-size="{FONT_SIZE}" '
            f'fill="#1f2933">{esc(_fit(node.label, FONT_SIZE, BOX_W - 26))}</text>'
        )
        out.append(
            f'<text x="{box.x + 10:.1f}" y="{box.y + 34:.1f}" font-size="{SMALL_SIZE}" '
            f'fill="#52606d">{esc(_fit(_subtitle(node), SMALL_SIZE, BOX_W - 16))}</text>'
        )
        out.append("</g>")
    legend_y = scene.height - MARGIN - 14
    for x, group in _legend_items(scene.width):
        out.append(
            f'<rect x="{x:.1f}" y="{legend_y:.1f}" width="16" height="12" rx="3" '
            f'fill="{STATUS_FILLS[group]}" stroke="{STATUS_COLOURS[group]}" stroke-width="2"/>'
        )
        out.append(
            f'<text x="{x + 22:.1f}" y="{legend_y + 11:.1f}" font-size="{SMALL_SIZE + 1}" '
            f'fill="{palette["text"]}">{esc(STATUS_LABELS[group])}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


# -- PNG ---------------------------------------------------------------------------------

_FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
_BOLD_FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _BOLD_FONT_FILES if bold else _FONT_FILES:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def _fit_px(draw: ImageDraw.ImageDraw, text: str, font: object, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` pixels in ``font``."""
    if draw.textlength(text, font=font) <= width:  # type: ignore[arg-type]
        return text
    while text and draw.textlength(text + "…", font=font) > width:  # type: ignore[arg-type]
        text = text[:-1]
    return text + "…"


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def to_png(
    graph: LineageGraph,
    layout_: Layout | None = None,
    *,
    title: str = "dbt lineage",
    scale: float = 2.0,
) -> bytes:
    """The same drawing as :func:`to_svg` as PNG bytes, at ``scale`` (2 = crisp)."""
    place = layout_ or layout(graph)
    scene = _scene(graph, place)
    palette = LIGHT

    def s(value: float) -> float:
        return value * scale

    image = Image.new("RGB", (int(s(scene.width)), int(s(scene.height))), palette["background"])
    draw = ImageDraw.Draw(image)
    font = _font(int(s(FONT_SIZE)))
    small = _font(int(s(SMALL_SIZE)))
    bold = _font(int(s(FONT_SIZE)), bold=True)
    title_font = _font(int(s(18)), bold=True)
    draw.text((s(MARGIN), s(14)), title, font=title_font, fill=palette["text"])
    for centre, label in scene.headers:
        draw.text((s(centre), s(TOP - 14)), label, font=bold, fill=palette["muted"], anchor="ms")
    edge_colour = palette["edge"]
    for points in scene.edges:
        path = [(s(x), s(y)) for x, y in _bezier(points)]
        draw.line(path, fill=edge_colour, width=max(1, int(s(1.3))), joint="curve")
        (xa, ya), (xb, yb) = path[-2], path[-1]
        angle = math.atan2(yb - ya, xb - xa)
        size = s(7)
        left = (xb - size * math.cos(angle - 0.45), yb - size * math.sin(angle - 0.45))
        right = (xb - size * math.cos(angle + 0.45), yb - size * math.sin(angle + 0.45))
        draw.polygon([(xb, yb), left, right], fill=edge_colour)
    for box in scene.boxes.values():
        node = box.node
        group = status_group(shown_status(node))
        rect = (s(box.x), s(box.y), s(box.x + BOX_W), s(box.y + BOX_H))
        draw.rounded_rectangle(
            rect,
            radius=s(8),
            fill=STATUS_FILLS[group],
            outline=STATUS_COLOURS[group],
            width=max(1, int(s(1 if node.is_test else 2))),
        )
        if node.test_count and not node.is_test:
            cx, cy, r = s(box.x + BOX_W - 10), s(box.y + 10), s(4.5)
            worst = STATUS_COLOURS[status_group(node.worst_test_status)]
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=worst)
        draw.text(
            (s(box.x + 10), s(box.y + 18)),
            _fit_px(draw, node.label, font, s(BOX_W - 26)),
            font=font,
            fill="#1f2933",
            anchor="ls",
        )
        draw.text(
            (s(box.x + 10), s(box.y + 34)),
            _fit_px(draw, _subtitle(node), small, s(BOX_W - 16)),
            font=small,
            fill="#52606d",
            anchor="ls",
        )
    legend_y = scene.height - MARGIN - 14
    for x, group in _legend_items(scene.width):
        draw.rounded_rectangle(
            (s(x), s(legend_y), s(x + 16), s(legend_y + 12)),
            radius=s(3),
            fill=STATUS_FILLS[group],
            outline=STATUS_COLOURS[group],
            width=max(1, int(s(2))),
        )
        draw.text(
            (s(x + 22), s(legend_y + 11)),
            STATUS_LABELS[group],
            font=small,
            fill=palette["text"],
            anchor="ls",
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()

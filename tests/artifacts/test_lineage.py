"""mart.lineage: filtering, layout and the four renderings, on the real build's graph."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from mart import lineage
from mart.artifacts import BuildArtifacts, LineageGraph, Node
from mart.errors import NotFoundError


def _labels(graph: LineageGraph) -> set[str]:
    return {node.label for node in graph.nodes.values()}


def test_tests_hidden_by_default_but_counted(good_artifacts: BuildArtifacts) -> None:
    shown = lineage.filter_graph(good_artifacts.graph)
    assert shown.nodes and not any(node.is_test for node in shown.nodes.values())
    assert shown.find("fct_customer_metrics").test_count >= 5
    assert all(parent in shown.nodes and child in shown.nodes for parent, child in shown.edges)
    with_tests = lineage.filter_graph(good_artifacts.graph, show_tests=True)
    assert len(with_tests.nodes) == len(good_artifacts.graph.nodes)
    assert any(node.resource_type == "unit_test" for node in with_tests.nodes.values())


def test_focus_hops(good_artifacts: BuildArtifacts) -> None:
    graph = good_artifacts.graph
    near = lineage.filter_graph(
        graph, focus_node="int_customer_transactions", upstream=1, downstream=1
    )
    assert _labels(near) == {
        "int_customer_transactions",
        "stg_transactions",
        "fct_customer_metrics",
        "fct_segment_behaviour",  # its average order value counts priced transactions
    }
    upstream_all = lineage.filter_graph(
        graph, focus_node="fct_customer_metrics", upstream=None, downstream=0
    )
    assert "bronze.raw_transactions" in _labels(upstream_all)
    assert "dim_customers" not in _labels(upstream_all)
    downstream = lineage.focus(lineage.hide_tests(graph), "dim_customers", 0, 2)
    assert {"customers_snapshot", "dim_customer_segment_history"} <= _labels(downstream)
    assert "fct_customer_metrics" not in _labels(downstream)
    with_tests = lineage.filter_graph(
        graph, show_tests=True, focus_node="stg_transactions", upstream=0, downstream=1
    )
    assert "unique_stg_transactions_transaction_id" in _labels(with_tests)
    with pytest.raises(NotFoundError):
        lineage.focus(graph, "no_such_model")


def test_search_and_type_filter(good_artifacts: BuildArtifacts) -> None:
    graph = good_artifacts.graph
    found = lineage.filter_graph(graph, search_text="CUSTOMER_METRICS")
    assert _labels(found) == {"fct_customer_metrics"}
    raw = lineage.search(lineage.hide_tests(graph), "raw_")
    assert _labels(raw) == {"bronze.raw_transactions", "bronze.raw_events"}
    models_only = lineage.filter_graph(graph, resource_types=["model", "source"])
    assert {node.resource_type for node in models_only.nodes.values()} == {"model", "source"}
    assert lineage.search(graph, "  ") is graph


def test_neighbours(good_artifacts: BuildArtifacts) -> None:
    near = lineage.neighbours(good_artifacts.graph, "fct_customer_metrics")
    assert [node.name for node in near.upstream] == [
        "int_customer_category_spend",
        "int_customer_transactions",
    ]
    downstream = [node.name for node in near.downstream]
    assert "dim_customers" in downstream and "top_customers" in downstream
    assert not any(node.is_test for node in near.downstream)
    with_tests = lineage.neighbours(
        good_artifacts.graph, "fct_customer_metrics", include_tests=True
    )
    assert any(node.is_test for node in with_tests.downstream)


def test_layout_columns_follow_layers(good_artifacts: BuildArtifacts) -> None:
    graph = lineage.filter_graph(good_artifacts.graph)
    place = lineage.layout(graph)
    assert set(place.positions) == set(graph.nodes)
    assert len(set(place.positions.values())) == len(place.positions)  # no overlaps

    def x(label: str) -> float:
        return place.positions[graph.find(label).unique_id][0]

    order = [
        "bronze.raw_transactions",
        "stg_transactions",
        "int_customer_transactions",
        "fct_customer_metrics",
        "customers_snapshot",
        "mart_explorer_app",
        "top_customers",
    ]
    xs = [x(label) for label in order]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    # A mart built from another mart sits right of it, still under the marts header.
    assert x("dim_customers") > x("fct_customer_metrics")
    # The SCD2 history mart is built from the snapshot: it sits right of it (every edge
    # points right), under a header of its own that does not repeat the first one's.
    assert x("dim_customer_segment_history") > x("customers_snapshot")
    for parent, child in graph.edges:
        assert place.positions[parent][0] < place.positions[child][0], (parent, child)
    headers = [label for _, label in place.headers()]
    assert headers == [
        "bronze sources",
        "staging",
        "intermediate",
        "marts",
        "snapshots",
        "marts (cont.)",
        "exposure",
        "analyses",
    ]


def test_barycentre_ordering_reduces_crossings(good_artifacts: BuildArtifacts) -> None:
    graph = lineage.filter_graph(good_artifacts.graph, show_tests=True)
    alphabetical = lineage.layout(graph, sweeps=0)
    ordered = lineage.layout(graph)
    assert ordered.crossings < alphabetical.crossings
    tests_x = {
        place_x
        for node_id, (place_x, _) in ordered.positions.items()
        if graph.nodes[node_id].is_test
    }
    # Tests sit in their own columns, next to what they test.
    assert all(
        ordered.column_of(node_id).key == "tests"
        for node_id in graph.nodes
        if graph.nodes[node_id].is_test
    )
    assert tests_x


def _synthetic(size: int) -> LineageGraph:
    """A layered graph of ``size`` models: each depends on two of the layer before."""
    layers = ["staging", "intermediate", "marts"]
    nodes: dict[str, Node] = {}
    edges = []
    per_layer = size // len(layers)
    for layer_no, layer in enumerate(layers):
        for index in range(per_layer):
            node_id = f"model.p.{layer}_{index}"
            nodes[node_id] = Node(node_id, f"{layer}_{index}", "model", layer, status="success")
            if layer_no:
                for step in (0, 7):
                    parent = f"model.p.{layers[layer_no - 1]}_{(index * 3 + step) % per_layer}"
                    edges.append((parent, node_id))
    return LineageGraph(nodes=nodes, edges=tuple(edges))


def test_large_graphs_filter_to_subgraphs() -> None:
    graph = _synthetic(300)
    place = lineage.layout(graph)
    assert len(place.positions) == 300 and len(place.columns) == 3
    focused = lineage.filter_graph(graph, focus_node="marts_5", upstream=2, downstream=0)
    assert 3 <= len(focused.nodes) <= 7
    assert lineage.layout(focused).positions
    assert len(lineage.search(graph, "marts_1").nodes) == 11  # marts_1, marts_10..19


def test_dot(good_artifacts: BuildArtifacts) -> None:
    graph = lineage.filter_graph(good_artifacts.graph)
    dot = lineage.to_dot(graph)
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert "rankdir=LR;" in dot
    assert '"cluster_staging"' in dot and '"cluster_marts"' in dot
    for node_id in graph.nodes:
        assert f'"{node_id}"' in dot
    assert dot.count(" -> ") == len(graph.edges)
    assert lineage.STATUS_COLOURS["ok"] in dot


def test_svg_is_valid_and_names_every_node(failing_artifacts: BuildArtifacts) -> None:
    graph = lineage.filter_graph(failing_artifacts.graph, show_tests=True)
    svg = lineage.to_svg(graph, title="Failing build")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    groups = {g.get("id"): g for g in root.iter(f"{ns}g") if g.get("id")}
    for node_id, node in graph.nodes.items():
        assert node_id in groups
        title = groups[node_id].find(f"{ns}title")
        assert title is not None and node.label in (title.text or "")
    assert len(root.findall(f".//{ns}path[@marker-end]")) == len(graph.edges)
    failed = groups["test.techmart.unique_stg_transactions_transaction_id.ee9a78a396"]
    assert failed.find(f"{ns}rect").get("stroke") == lineage.STATUS_COLOURS["failed"]
    texts = "".join(element.text or "" for element in root.iter(f"{ns}text"))
    assert "Failing build" in texts and "staging" in texts and "error / fail" in texts


def _pixels(png: bytes, colour: str) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    target = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(1 for pixel in image.getdata() if pixel == target)


def test_png_decodes_at_twice_the_svg_size(good_artifacts, failing_artifacts) -> None:
    graph = lineage.filter_graph(good_artifacts.graph)
    place = lineage.layout(graph)
    png = lineage.to_png(graph, place)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    svg_root = ET.fromstring(lineage.to_svg(graph, place))
    assert image.width == int(float(svg_root.get("width")) * 2)
    assert image.height == int(float(svg_root.get("height")) * 2)
    assert image.width >= 2000 and image.height >= 600
    # The failing test's box is drawn red-tinted; in the passing build only the legend is.
    fill = lineage.STATUS_FILLS["failed"]
    ok_png = lineage.to_png(lineage.filter_graph(good_artifacts.graph, show_tests=True), scale=1)
    bad_png = lineage.to_png(
        lineage.filter_graph(failing_artifacts.graph, show_tests=True), scale=1
    )
    assert _pixels(bad_png, fill) > _pixels(ok_png, fill) + 1000


def test_long_labels_wrap_at_the_underscore_nearest_the_middle() -> None:
    assert lineage.wrap_label("stg_events") == "stg_events"
    assert lineage.wrap_label("int_customer_category_spend") == "int_customer_<br>category_spend"
    assert lineage.wrap_label("bronze.raw_transactions") == "bronze.raw_<br>transactions"
    assert lineage.wrap_label("averylongnamewithoutbreaks") == "averylongnamewithoutbreaks"
    assert lineage.wrap_label("averyveryverylongnamewithoutbreaks") == (
        "averyveryverylongnamewithout<br>breaks"
    )
    assert lineage.wrap_label("a_<b>_bold_name_here") == "a_&lt;b&gt;_bold_<br>name_here"
    # a test's long name: two lines of at most 28 characters (two of 42 ran past the
    # figure's left edge and across the next column)
    long = "accepted_values_dim_customers_customer_segment__High_Value__Medium_Value__Low_Value"
    wrapped = lineage.wrap_label(long)
    assert wrapped == "accepted_values_dim_<br>customers_customer_segment_…"
    assert all(len(line) <= lineage.LABEL_LINE for line in wrapped.split("<br>"))
    assert lineage.wrap_label("x" * 70) == "x" * 28 + "<br>" + "x" * 27 + "…"


def test_plotly_edges_curve_level_into_their_nodes(failing_artifacts: BuildArtifacts) -> None:
    """An edge leaves its parent and reaches its child level, beside the labels drawn
    above or below the two nodes, not through them; it stops short of the child's
    marker (the arrowhead shows) and carries the arrowhead on its last point only."""
    px_x, px_y = 230.0, 52.0
    points = lineage.plotly_edge((0.0, 0.0), (2.0, 3.0), px_x, px_y)
    assert len(points) == lineage.EDGE_STEPS + 1
    assert points[0] == (0.0, 0.0)
    end_x, end_y = points[-1]
    assert end_y == 3.0 and 2.0 - 14 / px_x < end_x < 2.0 - 12 / px_x
    # level at both ends: the first and last steps are flatter than the straight line
    slope = 3.0 / 2.0
    first = (points[1][1] - points[0][1]) / (points[1][0] - points[0][0])
    last = (points[-1][1] - points[-2][1]) / (points[-1][0] - points[-2][0])
    assert first < slope / 3 and last < slope / 3
    assert all(0.0 <= y <= 3.0 for _, y in points)
    graph = lineage.filter_graph(failing_artifacts.graph)
    place = lineage.layout(graph)
    edges = next(t for t in lineage.to_plotly(graph, place).data if t.name == "depends on")
    drawn = [
        edge for edge in graph.edges if edge[0] in place.positions and edge[1] in place.positions
    ]
    assert list(edges.x).count(None) == len(drawn)
    assert sum(size == 9 for size in edges.marker.size) == len(drawn)
    assert len(edges.x) == len(edges.y) == len(edges.marker.size)


def test_plotly_figure(failing_artifacts: BuildArtifacts) -> None:
    graph = lineage.filter_graph(failing_artifacts.graph)
    figure = lineage.to_plotly(graph, title="Lineage of build 2")
    assert figure.layout.title.text == "Lineage of build 2"
    status_traces = [trace for trace in figure.data if trace.name in lineage.STATUS_LABELS.values()]
    assert [trace.name for trace in status_traces] == list(lineage.STATUS_LABELS.values())
    # Every status has a legend entry; a status no node has gets one point at None.
    assert sum(sum(x is not None for x in trace.x) for trace in status_traces) == len(graph.nodes)
    by_name = {trace.name: trace for trace in status_traces}
    assert list(by_name["warn"].x) == [None] and by_name["warn"].marker.size == 15
    assert "stg_transactions" in by_name["success / pass"].text
    # Long names are drawn on two lines, broken at the underscore nearest the middle.
    assert "fct_customer_<br>metrics" in by_name["skipped / not run"].text
    # stg_transactions passed but one of its tests failed: a red outline.
    ok = by_name["success / pass"]
    index = list(ok.text).index("stg_transactions")
    assert ok.marker.line.color[index] == lineage.STATUS_COLOURS["failed"]
    assert figure.layout.paper_bgcolor == lineage.LIGHT["background"]
    headers = [annotation.text for annotation in figure.layout.annotations]
    assert "<b>staging</b>" in headers
    dark = lineage.to_plotly(graph, dark=True)
    # dark: the page's own background shows through (the palette's navy drew a panel of
    # another colour on Streamlit's warm grey); light stays white, readable either way
    assert dark.layout.paper_bgcolor == "rgba(0,0,0,0)" == dark.layout.plot_bgcolor
    assert dark.layout.font.color == lineage.DARK["text"]
    # The analyses (the last column) are named to their right, in a margin, so their
    # names never run into the exposure's beside them; staggering keeps that.
    from mart import charts

    staggered = charts.stagger_node_labels(lineage.to_plotly(graph))
    places = {
        str(node_id): place
        for trace in staggered.data
        if trace.customdata is not None and len(trace.customdata)
        for node_id, place in zip(trace.customdata, trace.textposition, strict=True)
    }
    analyses = [uid for uid in places if uid.startswith("analysis.")]
    assert analyses and all(places[uid] == "middle right" for uid in analyses)
    assert {places[uid] for uid in places if not uid.startswith("analysis.")} <= {
        "top center",
        "bottom center",
    }
    assert staggered.layout.margin.r >= 150

    with_tests = lineage.filter_graph(failing_artifacts.graph, show_tests=True)
    failed = next(t for t in lineage.to_plotly(with_tests).data if t.name == "error / fail")
    labels = [text.replace("<br>", "") for text in failed.text]
    assert "unique_stg_transactions_transaction_id" in labels
    hover = failed.hovertext[labels.index("unique_stg_transactions_transaction_id")]
    assert "status: fail" in hover


def test_a_reused_node_says_which_build_ran_it_instead_of_a_duration() -> None:
    from mart.artifacts import Node
    from mart.lineage import _hover, _subtitle

    ran = Node("model.p.a", "a", "model", "marts", execution_time=0.25, status="success")
    kept = Node("model.p.b", "b", "model", "marts", status="success", reused_from=3)
    assert "0.25 s" in _subtitle(ran) and "reused" not in _subtitle(ran)
    assert "reused, ran in #3" in _subtitle(kept)
    assert "unchanged, not run again: ran in build #3" in _hover(kept)
    assert "reused" not in _hover(ran)


def test_box_subtitles_count_in_the_singular_for_one() -> None:
    """The lineage export read "1 rows · 1 tests"."""
    from mart.artifacts import Node
    from mart.lineage import _subtitle

    one = Node("model.p.a", "a", "model", "marts", row_count=1, execution_time=0.5, test_ids=("t",))
    many = Node("model.p.b", "b", "model", "marts", row_count=1_200, test_ids=("t", "u", "v"))
    assert _subtitle(one) == "1 row · 0.50 s · 1 test"
    assert _subtitle(many) == "1,200 rows · 3 tests"

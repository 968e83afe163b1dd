"""Docs: the dbt docs site of the published build, and model docs browsable in the app."""

from __future__ import annotations

from html import escape
from pathlib import Path

import streamlit as st

from mart import insights
from mart.artifacts import LAYER_LABELS, BuildArtifacts, columns_markdown
from ui.common import require_published, show_error

VIEWS = ("Model docs", "dbt docs site")


def _model_docs(artifacts: BuildArtifacts) -> None:
    documented = sorted(
        artifacts.models.values(),
        key=lambda details: (
            list(LAYER_LABELS).index(details.node.layer)
            if details.node.layer in LAYER_LABELS
            else 99,
            details.name,
        ),
    )
    if not documented:
        st.info("This build has no models.")
        return
    ids = [details.unique_id for details in documented]
    labels = {
        details.unique_id: f"{details.node.label} ({LAYER_LABELS.get(details.node.layer, '')})"
        for details in documented
    }
    default = next(
        (index for index, details in enumerate(documented) if details.name == "dim_customers"), 0
    )
    if st.session_state.get("docs_model") not in ids:
        st.session_state.pop("docs_model", None)  # kept from a build without that model
    chosen = st.selectbox(
        "Model", ids, index=default, format_func=lambda value: labels[value], key="docs_model"
    )
    details = artifacts.models[chosen]
    node = details.node
    st.markdown(f"### {node.label}")
    facts = [f"**{node.resource_type}**", LAYER_LABELS.get(node.layer, node.layer)]
    if node.materialization:
        facts.append(f"materialized as {node.materialization}")
    if node.relation:
        facts.append(f"`{node.relation}`")
    if node.row_count is not None:
        facts.append(f"{node.row_count:,} rows")
    st.markdown(" · ".join(facts))
    st.markdown(details.description or "_No description._")
    if details.columns:
        st.markdown(columns_markdown(details.columns))
    else:
        st.caption("No columns documented.")
    graph = artifacts.graph
    upstream = [graph.nodes[i].label for i in details.depends_on if i in graph.nodes]
    downstream = [
        graph.nodes[i].label
        for i in details.referenced_by
        if i in graph.nodes and not graph.nodes[i].is_test
    ]
    st.markdown(
        f"**Depends on:** {', '.join(upstream) or '–'}  \n"
        f"**Used by:** {', '.join(downstream) or '–'}"
    )
    if details.raw_sql:
        with st.expander("SQL"):
            st.code(details.raw_sql, language="sql")


#: The dbt docs site is laid out for at least this many pixels (its body is 960 px wide
#: at the least, and the right of its pages was cut off in a narrower frame).
DOCS_MIN_WIDTH = 980
DOCS_HEIGHT = 770

FRAME_SCRIPT = f"""
<script>
document.getElementById("open-docs").onclick = () => {{
    const site = document.getElementById("docs-site").getAttribute("srcdoc");
    const url = URL.createObjectURL(new Blob([site], {{type: "text/html"}}));
    window.open(url, "_blank");
}};
// Narrower than the site's layout: draw it at its width, scaled down to fit.
function fitDocs() {{
    const box = document.getElementById("docs-box");
    const site = document.getElementById("docs-site");
    // not laid out yet (no width): drawn as it is until the resize that follows
    const scale = box.clientWidth > 0 ? Math.min(1, box.clientWidth / {DOCS_MIN_WIDTH}) : 1;
    site.style.width = scale < 1 ? "{DOCS_MIN_WIDTH}px" : "100%";
    site.style.height = ({DOCS_HEIGHT} / scale) + "px";
    site.style.transform = scale < 1 ? "scale(" + scale + ")" : "none";
}}
window.addEventListener("resize", fitDocs);
fitDocs();
</script>
"""


def _with_open_button(site: str) -> str:
    """The docs site in an inner frame, under an "Open in a new tab" button.

    The button opens the same HTML as a blob URL in a new tab (the frame may open
    pop-ups), so the site is sent to the browser once. Narrower than the site's layout
    (a 1280 px screen with the sidebar open), the site is scaled down to fit.
    """
    button = (
        '<button id="open-docs" style="font: 14px sans-serif; padding: 4px 12px; '
        "margin: 0 0 6px; cursor: pointer; border-radius: 6px; border: 1px solid #8a96a3; "
        'background: transparent; color: #8a96a3;">Open in a new tab ↗</button>'
    )
    frame = (
        f'<div id="docs-box" style="width: 100%; height: {DOCS_HEIGHT + 2}px; overflow: hidden; '
        'border: 1px solid #8a96a3; border-radius: 6px; box-sizing: border-box;">'
        '<iframe id="docs-site" title="dbt docs" style="box-sizing: border-box; width: 100%; '
        f'height: {DOCS_HEIGHT}px; border: 0; transform-origin: 0 0; display: block;" '
        f'srcdoc="{escape(site, quote=True)}"></iframe></div>'
    )
    return "<body style='margin: 0'>" + button + frame + FRAME_SCRIPT + "</body>"


def _docs_site(build_id: int, db_path: Path) -> None:
    site = insights.docs_site_path(db_path)
    if site is None:
        status = insights.docs_status(db_path)
        if status == "failed":
            st.warning(
                f"Generating the dbt docs site for build #{build_id} failed; the model docs "
                "are still browsable here. Rebuild to try again."
            )
        else:
            st.info(
                f"The dbt docs site of build #{build_id} is still being generated (it runs "
                "after publishing, off the critical path). Check again in a few seconds."
            )
        st.button("Check again", key="docs_refresh", icon=":material/refresh:")
        return
    html = site.read_text(encoding="utf-8")
    st.download_button(
        "Download the docs site (one HTML file; open it in any browser)",
        data=html,
        file_name=f"techmart-dbt-docs-build-{build_id}.html",
        mime="text/html",
        icon=":material/download:",
        key="docs_download",
        on_click="ignore",
    )
    st.iframe(_with_open_button(html), height=DOCS_HEIGHT + 50)


st.title("Docs")
build_id, published_db = require_published()
try:
    view = st.segmented_control("View", VIEWS, default=VIEWS[0], key="docs_view")
    if view == VIEWS[1]:
        _docs_site(build_id, published_db)
    else:
        _model_docs(insights.build_artifacts(published_db))
except Exception as error:  # noqa: BLE001 - a demo page never shows a traceback
    show_error(error)

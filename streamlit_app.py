"""TechMart Mart Explorer: the frame every page runs in.

Page config, the navigation over ``pages/`` (each page with a title, an icon and a
stable URL path), and the shared sidebar (data in use, the published build, rebuild
with live progress). Pages hold no SQL and no business logic; they call ``mart/``.
"""

from __future__ import annotations

import streamlit as st

from ui import common, sidebar

st.set_page_config(
    page_title="TechMart Mart Explorer",
    page_icon=":material/storefront:",
    layout="wide",
)

# (file, title, icon, url path); the first is the default page at "/".
PAGES: list[tuple[str, str, str, str]] = [
    ("pages/overview.py", "Overview", ":material/dashboard:", ""),
    ("pages/data.py", "Data", ":material/table_edit:", "data"),
    ("pages/build.py", "Build & Tests", ":material/fact_check:", "build"),
    ("pages/lineage.py", "Lineage", ":material/account_tree:", "lineage"),
    ("pages/customers.py", "Customers", ":material/groups:", "customers"),
    ("pages/retention.py", "Retention", ":material/trending_up:", "retention"),
    ("pages/sql.py", "SQL console", ":material/terminal:", "sql"),
    ("pages/docs.py", "Docs", ":material/menu_book:", "docs"),
]


def _pages() -> list[st.Page]:
    pages = []
    for path, title, icon, url_path in PAGES:
        if not url_path:
            pages.append(st.Page(path, title=title, icon=icon, default=True))
        else:
            pages.append(st.Page(path, title=title, icon=icon, url_path=url_path))
    return pages


navigation = st.navigation(_pages())
common.keep_widget_state(navigation.url_path)
sidebar.render()
navigation.run()

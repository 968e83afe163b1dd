"""What every page shares: the workspace, the build manager, the published build, and
query caching keyed by the published build id (so a new build refreshes every page).

Pages call these instead of touching Streamlit caching themselves; all domain logic stays
in ``mart/``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from mart.artifacts import breakable
from mart.errors import MartError
from mart.workspace import Workspace


def ensure_frame() -> None:
    """Make sure this run goes through ``streamlit_app.py`` (the frame), not a page alone.

    Streamlit treats an app with a ``pages/`` folder as a v1 multipage app until some
    run calls ``st.navigation``; until then, a first visit straight to ``/data`` (a
    bookmark, a reload after a server restart) would run ``pages/data.py`` alone — no
    page config, no sidebar, the v1 page list. Called at the start of a page's work
    (``run_page``, ``require_published``, ``cached``), it switches v1 mode off and reruns,
    and the frame's ``st.navigation`` then shows the same page (same URL path).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def workspace() -> Workspace:
    """The workspace of this app process ($MART_WORKSPACE or ./workspace)."""
    return Workspace.from_env()


@st.cache_resource(show_spinner=False)
def _manager_for(root: str) -> Any:
    from mart.builds import BuildManager

    return BuildManager(Workspace(Path(root)), warm_workers=app_warm_workers())


@st.cache_resource(show_spinner=False)
def console_sandbox() -> Any:
    """The SQL console's query processes (``mart.sandbox_process``): a query that runs
    out of memory or ignores the time limit ends its own process, not the app."""
    from mart.sandbox_process import IsolatedSandbox

    return IsolatedSandbox()


def app_warm_workers() -> int:
    """Warm dbt workers the app keeps waiting: two, so a Rebuild clicked right after the
    last build ended need not wait for a worker to warm up (``MART_WARM_WORKERS``
    changes it; the AppTests use one)."""
    import os

    try:
        return max(1, int(os.environ.get("MART_WARM_WORKERS", "2")))
    except ValueError:
        return 2


def manager() -> Any:
    """The process-wide build manager (one per workspace)."""
    return _manager_for(str(workspace().root))


def published(record: Any = None) -> tuple[int, Path] | None:
    """(build id, DuckDB path) of the published build (``record``, if already read),
    or None before the first one."""
    record = record if record is not None else manager().published()
    if record is None:
        return None
    path = manager().published_db_path()
    if path is None or not Path(path).exists():
        return None
    return int(record.build_id), Path(path)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_call(module: str, function: str, build_id: int, db_path: str, args: tuple) -> Any:
    target: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return target(db_path, *args)


def cached(function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function(db_path, *args)`` on the published build, cached per build id.

    ``function`` must be a module-level function in ``mart`` taking the DuckDB path first;
    its arguments must be hashable. Returns None when nothing is published yet.
    """
    ensure_frame()
    current = published()
    if current is None:
        return None
    build_id, db_path = current
    return _cached_call(function.__module__, function.__name__, build_id, str(db_path), args)


def require_published() -> tuple[int, Path]:
    """The published build, or an explanation on the page and a stop."""
    ensure_frame()
    record = manager().published()
    current = published(record)
    if current is None:
        st.info(
            "No mart has been published yet. Click **Rebuild mart** in the sidebar "
            "(the first start builds the sample by itself)."
        )
        st.stop()
    if record.published_anyway:
        failing = [t["name"] for t in record.failing_tests if t.get("status") != "warn"]
        shown = ", ".join(failing[:3]) + (
            f" and {len(failing) - 3} more" if len(failing) > 3 else ""
        )
        st.warning(
            f"Build #{record.build_id} was published anyway: {len(failing)} error-severity "
            f"test(s) failed ({escape_markdown(shown)}), so this page shows data the tests "
            "rejected. See **Build & Tests**; the next passing build replaces it.",
            icon=":material/report:",
        )
    return current


def show_error(error: Exception) -> None:
    """Show an error as a sentence; unexpected errors get a short generic line, no traceback."""
    if isinstance(error, MartError | ValueError):
        st.error(str(error))
    else:
        st.error(
            f"Something went wrong ({type(error).__name__}: {error}). "
            "Nothing was changed; try again, or check the terminal running the app."
        )


# -- additions for the frame, the sidebar and the part-1 pages (issue 5) ---------------


@st.cache_resource(show_spinner=False)
def _startup_for(root: str) -> dict[str, Any]:
    """Once per process and workspace: recover stale builds, warm a worker, first build."""
    import os

    state: dict[str, Any] = {"first_build": None, "error": None}
    build_manager = _manager_for(root)
    try:
        build_manager.recover()
        empty = not build_manager.history() and build_manager.running_build() is None
        if empty and os.environ.get("MART_AUTOBUILD", "1") != "0":
            # An empty workspace: build the bundled sample by itself, with progress.
            state["first_build"] = build_manager.start_build(wait=False)
        elif os.environ.get("MART_PREWARM", "1") != "0":
            build_manager.prewarm()  # the first click then pays only for the build
    except Exception as exc:  # the app must still start; the sidebar says what failed
        state["error"] = exc
    return state


def startup() -> dict[str, Any]:
    """Run the one-time start-up of this workspace (see ``_startup_for``); cheap afterwards.

    ``MART_AUTOBUILD=0`` skips the first build of an empty workspace and ``MART_PREWARM=0``
    the background warm-up of a dbt worker (tests use both to save time).
    """
    return _startup_for(str(workspace().root))


@st.cache_data(show_spinner=False, max_entries=64)
def _cached_dataset_call(module: str, function: str, root: str, args: tuple, kwargs: tuple) -> Any:
    target: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return target(Workspace(Path(root)), *args, **dict(kwargs))


def cached_dataset(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``function(workspace, *args, **kwargs)``, cached on its arguments.

    Only for reads of immutable dataset versions: pass an explicit version id so a new
    version is a new cache key.
    """
    return _cached_dataset_call(
        function.__module__,
        function.__name__,
        str(workspace().root),
        tuple(args),
        tuple(sorted(kwargs.items())),
    )


def show_notice(key: str) -> None:
    """Show, once, the ``(kind, message)`` a button callback left in ``session_state[key]``.

    ``kind`` is a Streamlit status call (info, warning, …); an exception is shown as a
    sentence by :func:`show_error`.
    """
    notice = st.session_state.pop(key, None)
    if notice is None:
        return
    kind, message = notice
    if isinstance(message, Exception):
        show_error(message)
    else:
        getattr(st, kind)(message)


def run_page(body: Callable[[], None]) -> None:
    """Run a page's body; any error becomes a sentence on the page, never a traceback.

    ``st.stop()``/``st.rerun()`` pass through (they are not ``Exception``).
    """
    ensure_frame()
    try:
        body()
    except Exception as exc:
        show_error(exc)


def save_upload(name: str, data: bytes) -> Path:
    """Keep an uploaded file under ``workspace/uploads/`` (named by its content) and return it.

    The loaders read paths, and the same bytes always land on the same path, so previews
    and validation reports can be cached on it.
    """
    import hashlib
    import re

    digest = hashlib.sha256(data).hexdigest()[:20]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[-80:] or "upload"
    folder = workspace().root / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}-{safe}"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        _prune_uploads(folder, keep=path)
    else:
        path.touch()  # in use: among the newest, so pruning keeps it
    return path


#: Uploaded files kept (the newest by use); older ones are deleted when a new one comes.
#: Saved versions hold their own copy of the rows, so an upload is only needed while
#: its page is open.
KEEP_UPLOADS = 20


def _prune_uploads(folder: Path, keep: Path) -> None:
    import contextlib

    files = [f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")]
    with contextlib.suppress(OSError):
        files.sort(key=lambda f: f.stat().st_mtime, reverse=True)
    for old in files[KEEP_UPLOADS:]:
        if old != keep:
            with contextlib.suppress(OSError):
                old.unlink()


@st.cache_data(show_spinner=False, max_entries=32)
def _cached_pure_call(module: str, function: str, args: tuple, kwargs: dict) -> Any:
    target: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return target(*args, **kwargs)


def cached_pure(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``function(*args, **kwargs)`` cached on its arguments.

    Only for functions of immutable inputs, such as a file saved by :func:`save_upload`
    (its path names its content).
    """
    return _cached_pure_call(function.__module__, function.__name__, tuple(args), dict(kwargs))


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:")


def escape_markdown(text: object) -> str:
    """``text`` with Markdown's special characters escaped, to show data inside Markdown.

    For a value from data (a customer id, a file name, a version message) that goes into
    ``st.markdown``/``st.error`` text: it shows literally and never formats or links.
    """
    return "".join("\\" + char if char in _MARKDOWN_SPECIAL else char for char in str(text))


# What a grid shows for a missing value, instead of Streamlit's grey "None" (a Python
# word). Query results and stored rows say NULL, as SQL tools do: there it differs from
# an empty string. The edit grid and a file's preview show an empty cell, as a
# spreadsheet does (staging reads an empty field as missing anyway). Summary tables on
# the business pages show a dash.
NULL_SQL = "NULL"
NULL_CELL = ""
NULL_DASH = "—"


#: Widgets whose value outlives a visit to another page. Streamlit drops the value of a
#: widget its page did not show, so the SQL typed in the console, the customer picked or
#: the lineage search came back reset. Not kept: the threshold inputs (they start from
#: the published build's thresholds), uploads, the edit grid and buttons (their state
#: cannot be set).
KEPT_WIDGETS: tuple[str, ...] = (
    "sql_text",
    "customer_search",
    "customer_pick",
    "top_customers_n",
    "lineage_tests",
    "lineage_search",
    "lineage_focus",
    "lineage_up",
    "lineage_down",
    "lineage_node",
    "data_tab",
    "edit_dataset",
    "docs_model",
    "docs_view",
    "build_timeline_tests",
    "build_only_failed",
)


def keep_widget_state(page: str) -> None:
    """Keep the values of :data:`KEPT_WIDGETS` across pages. The frame calls this at the
    start of every full run, with the page it is about to run; session state then holds
    what the user last set.

    Each value is copied to a key no widget has, which Streamlit never clears. It is put
    back into the widget's key when that was cleared, and on the first run of a page
    after another page: a widget shows a value from session state only when it was
    assigned in the run that draws it (otherwise the browser showed an empty search box
    over a graph filtered by the kept search). Streamlit's usual advice (assign each
    value to its own key on every run) is not enough here, since the sidebar's polling
    fragment clears the value again on its next run. It would also be wrong: every
    rerun would overwrite what is being typed and not yet sent, such as a query in the
    console's form. Pages check that a kept choice is still one of their options."""
    arrived = st.session_state.get("kept.page") != page
    st.session_state["kept.page"] = page
    for key in KEPT_WIDGETS:
        copy = f"kept.{key}"
        if key in st.session_state:
            st.session_state[copy] = st.session_state[key]
        if copy in st.session_state and (arrived or key not in st.session_state):
            st.session_state[key] = st.session_state[copy]


#: A KPI tile's narrowest width in pixels. Four fit on a line beside the sidebar at
#: 1280 px (820 px): at 220 px the Overview's fourth tile wrapped there. A longer value,
#: label or delta widens its tile (:func:`tile_width`): "-$999,999.99" was cut to
#: "-$999,999.9…" in a 220 px tile.
TILE_WIDTH = 190
#: The tile's padding and border; the value's character widths (Source Sans at 2.25 rem
#: as measured in Chromium: digits 18.4 px, commas and points 7.5 px) and the label's
#: and delta's (0.875 rem: about 5.7 px), each with a little to spare for other fonts;
#: the help icon and the delta's arrow.
_TILE_PADDING_PX = 38
_NARROW_CHARS = ",.:;'! "
_SMALL_CHAR_PX = 6.2
_ICON_PX = 26


def tile_width(
    value: str, label: str = "", delta: str | None = None, has_help: bool = False
) -> int:
    """The width of a tile showing ``value``, ``label`` and ``delta`` whole:
    :data:`TILE_WIDTH`, or more for long text (a negative six-figure amount, a
    ten-digit count)."""
    text = str(value)
    needs = [
        sum(8.0 if char in _NARROW_CHARS else 18.5 for char in text),
        _SMALL_CHAR_PX * len(label) + (_ICON_PX if has_help else 0),
        _SMALL_CHAR_PX * len(delta) + _ICON_PX if delta else 0.0,
    ]
    return max(TILE_WIDTH, int(_TILE_PADDING_PX + max(needs) + 0.999))


def tile_row() -> Any:
    """A row of KPI tiles that wraps: tiles of about TILE_WIDTH, as many to a line as fit
    (four at 1280 px, two on a 1024 px projector). In ``st.columns`` a narrow screen cut every
    value instead (``$1,6…``). Put tiles in it with :func:`tile`."""
    return st.container(horizontal=True, wrap=True, gap="small")


def tile(row: Any, label: str, value: str, **options: Any) -> None:
    """One bordered KPI tile in ``row`` (:func:`tile_row`), as wide as ``value`` needs
    (:func:`tile_width`)."""
    delta = options.get("delta")
    width = tile_width(
        value, label, str(delta) if delta is not None else None, bool(options.get("help"))
    )
    row.metric(label, value, width=width, border=True, **options)


def scroll_below(key: str, min_width: int) -> None:
    """Give the element with ``key`` (a chart) at least ``min_width`` pixels, scrolling
    sideways in a narrower page instead of squeezing it. Call it before the element."""
    css_key = re.sub(r"[^A-Za-z0-9_-]", "", key)
    st.html(
        f"<style>.st-key-{css_key} {{ overflow-x: auto; }} "
        f".st-key-{css_key} > div {{ min-width: {int(min_width)}px; }}</style>"
    )


def breakable_name(name: object) -> str:
    """A dbt node name for a narrow column (the sidebar), escaped for Markdown, that a
    line may break after each underscore instead of in the middle of a word:
    ``not_null_stg_transactions_customer_id`` wraps as ``not_null_stg_`` /
    ``transactions_customer_id``, not ``not_null_stg_tran`` / ``sactions…``. The break
    points are zero-width spaces (Markdown in an alert cannot carry ``<wbr>``)."""
    return breakable(escape_markdown(name))


def rebuild_vars() -> dict[str, Any]:
    """The vars of the published build: a plain "Rebuild" keeps the thresholds and
    as_of_date the mart is served with instead of silently resetting them."""
    record = manager().published()
    return dict(record.vars or {}) if record is not None else {}

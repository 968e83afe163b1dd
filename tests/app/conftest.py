"""AppTest fixtures: the app on an empty workspace, and on one built once per module.

Builds are the slow part (a dbt worker warms up in several seconds), so a module builds
its workspace once (:func:`built_workspace`) and its tests share it, in file order. The
app's own :class:`mart.builds.BuildManager` lives in ``st.cache_resource``, which the
AppTest script threads share with this process, so a test can wait for a build the app
started (:func:`wait_for_builds`).
"""

from __future__ import annotations

import contextlib
import os
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from mart.builds import BuildManager
from mart.workspace import Workspace

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
#: Generous: the first run imports plotly and pandas; a build may run alongside.
TIMEOUT = 90


def app_test() -> AppTest:
    """The whole app (frame, sidebar, navigation), not yet run."""
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def app_manager(root: Path) -> BuildManager:
    """The build manager the app uses for ``root`` (the same cached instance)."""
    from ui import common

    return common._manager_for(str(root))


def wait_for_builds(root: Path, timeout: float = 240.0) -> None:
    """Block until no build of ``root`` is running."""
    manager = app_manager(root)
    deadline = time.monotonic() + timeout
    while manager.running_build() is not None:
        if time.monotonic() > deadline:
            raise AssertionError(f"a build of {root} was still running after {timeout} s")
        time.sleep(0.25)


def stop_app_builds(root: Path) -> None:
    """Cancel a build the app started for ``root``, wait for it, release its warm worker."""
    manager = app_manager(root)
    running = manager.running_build()
    if running is not None:
        manager.cancel(running.build_id)
        manager.wait(running.build_id, timeout=60)
    manager.shutdown()


def _run_main_script(main_script_path: str) -> None:
    """Run the app's entry point as the real server does (the frame, then its page)."""
    path = Path(main_script_path)
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)


@pytest.fixture(autouse=True)
def _app_test_like_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every AppTest run execute the frame, and skip dbt warm-ups.

    AppTest (streamlit 1.67) resets ``PagesManager.uses_pages_directory`` before each
    run, and because a ``pages/`` folder sits next to ``streamlit_app.py`` it then
    treats the app as a v1 multipage app: from the second run on it executes the
    current page file alone, without the frame (no sidebar, no navigation). The real
    server does not (``st.navigation`` switches v1 mode off). Routing the v1 runner to
    the main script restores the server's behaviour: the frame runs, and
    ``st.navigation`` picks the page from the requested page hash.
    """
    from streamlit.runtime.scriptrunner import script_runner

    monkeypatch.setattr(script_runner, "_mpa_v1", _run_main_script)
    monkeypatch.setenv("MART_PREWARM", "0")  # no background dbt warm-ups (CPU only)
    monkeypatch.setenv("MART_WARM_WORKERS", "1")  # one worker warmed after a build


@contextlib.contextmanager
def published_workspace(
    root: Path,
    vars: dict[str, Any] | None = None,
    prepare: Callable[[Workspace], None] | None = None,
) -> Iterator[Path]:
    """``root`` as MART_WORKSPACE, with a published build of its data (after ``prepare``).

    Free of monkeypatch, for module-scoped fixtures: the variable is set here and
    restored at the end, so function-scoped fixtures that patch it still restore this
    value. At the end, builds the app started are stopped and its worker released.
    """
    root.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("MART_WORKSPACE")
    os.environ["MART_WORKSPACE"] = str(root)
    try:
        ws = Workspace(root)
        if prepare is not None:
            prepare(ws)
        manager = BuildManager(ws, prewarm_after_build=False)
        record = manager.request_build(vars=vars)
        manager.shutdown()
        assert record.status == "published", record.summary()
        yield root
    finally:
        stop_app_builds(root)
        if previous is None:
            os.environ.pop("MART_WORKSPACE", None)
        else:
            os.environ["MART_WORKSPACE"] = previous


@pytest.fixture(scope="module")
def built_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace with the sample built and published (build #1); MART_WORKSPACE set."""
    with published_workspace(tmp_path_factory.mktemp("app_built") / "workspace") as root:
        yield root

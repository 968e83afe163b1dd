"""Shared fixtures: every test gets its own workspace; browser tests need Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.appserver import CHROMIUM

# A warm worker's throwaway warm-up build costs ~3 s of CPU per worker: fine for an app
# waiting for a click, but the suite spawns a worker per build, so it is off here and
# switched on by the tests of the warm-up itself (tests/build/test_speed_paths.py).
os.environ.setdefault("MART_WARMUP_BUILD", "0")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty MART_WORKSPACE for one test."""
    root = tmp_path / "workspace"
    root.mkdir()
    monkeypatch.setenv("MART_WORKSPACE", str(root))
    return root


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium, skip browser tests loudly on a laptop and fail them in CI."""
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    reason = (
        f"Chromium not found at {CHROMIUM}: browser tests NOT RUN. "
        "Install it with `apt-get install -y chromium` (CI does this in .ci/run)."
    )
    if IN_CI:
        # CI must run the browser tests: leave them in, and they fail without Chromium.
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        terminalreporter.write_line(
            "!!! browser tests were not run: Chromium is missing (apt-get install -y chromium)",
            red=True,
        )

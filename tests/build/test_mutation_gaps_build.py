"""Publishing rules no other test pinned (found by mutation testing): only error-severity
failures keep a build from being published, and only they are named as the reason; a
build whose models were not all built cannot be published anyway."""

from __future__ import annotations

from pathlib import Path

import pytest

from mart import scenarios
from mart.builds import (
    DB_FILE_NAME,
    FAILED,
    INTERRUPTED,
    PUBLISHED,
    BuildManager,
    BuildRecord,
)
from mart.errors import InputError
from mart.workspace import Workspace, atomic_write_json

WARN_TEST = "accepted_values_stg_events_event_type"
ERROR_TEST = "not_negative_stg_transactions_amount"


def test_a_warning_publishes_and_only_error_failures_are_named(
    module_ws: Workspace, manager: BuildManager
) -> None:
    scenarios.apply(module_ws, "unknown_event_type")
    warned = manager.request_build()
    assert warned.status == PUBLISHED, warned.error
    assert not warned.published_anyway and warned.failure is None
    assert warned.tests["warn"] == 1 and warned.tests["fail"] == 0
    assert [(t["name"].startswith(WARN_TEST), t["status"]) for t in warned.failing_tests] == [
        (True, "warn")
    ]
    assert manager.published().build_id == warned.build_id  # type: ignore[union-attr]

    # An error-severity failure beside the same warning: not published, and the
    # message counts and names the error only.
    scenarios.apply(module_ws, "negative_amount")
    failed = manager.request_build()
    assert failed.status == FAILED and failed.failure == "tests"
    assert (failed.error or "").startswith(f"1 error-severity test(s) failed: {ERROR_TEST}.")
    assert WARN_TEST not in (failed.error or "")
    assert manager.published().build_id == warned.build_id  # type: ignore[union-attr]


@pytest.mark.parametrize("failure", ["error", INTERRUPTED])
def test_only_a_build_whose_models_were_all_built_can_be_published(
    workspace: Path, failure: str
) -> None:
    """A build that failed in dbt (a model errored) or stopped part way has a mart with
    stale or missing tables: publishing it is refused, even with its file in place."""
    ws = Workspace.from_env(workspace)
    record = BuildRecord(
        build_id=1,
        status=FAILED,
        failure=failure,
        error="dbt build failed",
        db_path=str(ws.build_dir(1) / DB_FILE_NAME),
        started_at="2024-01-01T00:00:00+00:00",
        host="irrelevant",
    )
    ws.build_dir(1).mkdir(parents=True, exist_ok=True)
    Path(record.db_path).write_bytes(b"")  # the file is there: only the outcome refuses
    atomic_write_json(ws.build_dir(1) / "build.json", record.to_dict())
    manager = BuildManager(ws)
    with pytest.raises(InputError, match="only a build whose models were all built"):
        manager.publish(1)
    assert manager.published() is None
    assert manager.get(1).status == FAILED

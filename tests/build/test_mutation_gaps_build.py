"""Publishing after a warning (found by mutation testing): only error-severity failures
keep a build from being published, and only they are named as the reason."""

from __future__ import annotations

from mart import scenarios
from mart.builds import FAILED, PUBLISHED, BuildManager
from mart.workspace import Workspace

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

"""The Data page's sentences built in mart.datasets: the rebuild hint after undo/restore,
and the save warning of grid edits."""

from __future__ import annotations

from pathlib import Path

from mart import datasets
from mart.workspace import Workspace


def _built_from(ws: Workspace) -> dict[str, dict[str, int]]:
    """A published build's ``datasets`` as if it was built from today's HEADs."""
    return {name: {"version": datasets.head(ws, name).id} for name in datasets.DATASETS}


def _edit(ws: Workspace) -> datasets.Version:
    base = datasets.head(ws, "transactions")
    return datasets.apply_edits(
        ws,
        "transactions",
        base.id,
        inserts=[
            {
                "transaction_id": "T900",
                "customer_id": "C001",
                "transaction_date": "2024-01-20",
                "amount": "10.00",
                "product_category": "Books",
            }
        ],
    )


def test_rebuild_hint_after_undo_to_the_published_versions_says_no_rebuild(
    workspace: Path,
) -> None:
    ws = Workspace(workspace)
    built = _built_from(ws)
    assert datasets.rebuild_hint(ws, None) == datasets.REBUILD_HINT
    edited = _edit(ws)
    assert datasets.rebuild_hint(ws, built) == datasets.REBUILD_HINT
    datasets.undo(ws, "transactions")
    text = datasets.rebuild_hint(ws, built)
    assert "Rebuild mart" not in text
    assert "already built from these versions" in text
    assert "transactions v1" in text and "no rebuild is needed" in text
    # Restoring the edited version: the mart does not have it.
    datasets.restore(ws, "transactions", edited.id)
    assert datasets.rebuild_hint(ws, built) == datasets.REBUILD_HINT
    # Restoring the version the mart was built from: the same records, a new number.
    again = datasets.restore(ws, "transactions", 1)
    text = datasets.rebuild_hint(ws, built)
    assert "Rebuild mart" not in text
    assert f"transactions v{again.id} has the records of v1" in text
    # The other dataset moved on: a rebuild is needed whatever transactions holds.
    datasets.apply_edits(ws, "transactions", again.id, deletes=[1])
    datasets.undo(ws, "transactions")
    assert "no rebuild" in datasets.rebuild_hint(ws, built)
    events_built = {**built, "events": {"version": 99}}
    assert datasets.rebuild_hint(ws, events_built) == datasets.REBUILD_HINT

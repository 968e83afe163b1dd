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


def test_edit_warnings_count_matches_the_values_listed_and_fills_are_said(
    workspace: Path,
) -> None:
    ws = Workspace(workspace)
    base = datasets.head(ws, "transactions").id
    # Five partial new rows, as the grid gives them: only the cells typed in.
    inserts = [
        {"product_category": "Books"},
        {"customer_id": "C1"},
        {"customer_id": "C2", "amount": "5"},
        {"transaction_id": "T777", "customer_id": "C3", "transaction_date": "2024-01-02"},
        {"amount": "7", "product_category": ""},
    ]
    version = datasets.apply_edits(ws, "transactions", base, inserts=inserts)
    text = datasets.edit_warnings(version)
    assert text is not None
    # 3 + 2 + 1 + 1 + 2 empty required values, in 5 rows.
    assert text.startswith("Saved, but 9 values in 5 rows will fail a dbt test"), text
    assert "new row 1: customer_id, transaction_date, amount empty" in text
    fill = datasets.edit_fill_note(version)
    assert fill is not None
    assert "4 new rows had no transaction_id: ids were generated (T-" in fill, fill
    assert "4 new rows had no product_category: saved as Unknown" in fill, fill
    frame = datasets.read_records(ws, "transactions", version.id, limit=None).tail(5)
    assert list(frame["product_category"]) == ["Books", "Unknown", "Unknown", "Unknown", "Unknown"]
    ids = list(frame["transaction_id"])
    assert ids[3] == "T777"
    assert fill.endswith(
        f"({ids[0]} … {ids[4]}); 4 new rows had no product_category: saved as Unknown."
    )
    # One row with one problem and nothing filled in: singular, no fill note.
    clean = datasets.apply_edits(ws, "transactions", version.id, updates={1: {"amount": "-1"}})
    assert datasets.edit_warnings(clean).startswith(  # type: ignore[union-attr]
        "Saved, but 1 value in 1 row will fail a dbt test"
    )
    assert datasets.edit_fill_note(clean) is None
    one = datasets.apply_edits(
        ws,
        "transactions",
        clean.id,
        inserts=[{"customer_id": "C4", "transaction_date": "2024-01-03", "amount": "1"}],
    )
    note = datasets.edit_fill_note(one)
    assert note is not None and "1 new row had no transaction_id: one was generated (T-" in note

"""The Edit tab's conflict path when the other save deleted rows this one edited.

"Apply my edits" used to fail with "has no record number(s) …" again and again, and
the filter stayed locked until a page reload. Edits to deleted rows are now dropped,
and the tab says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mart import datasets
from mart.workspace import Workspace
from tests.app.conftest import app_test, published_workspace


@pytest.fixture(scope="module")
def edited_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with published_workspace(tmp_path_factory.mktemp("conflict") / "workspace") as root:
        yield root


def test_apply_my_edits_drops_edits_to_rows_the_other_save_deleted(
    edited_workspace: Path,
) -> None:
    ws = Workspace(edited_workspace)
    mine = datasets.head(ws, "transactions").id
    # Someone else deletes record 3 meanwhile.
    theirs = datasets.apply_edits(ws, "transactions", mine, deletes=[3], message="drop 3")
    at = app_test()
    at.switch_page("pages/data.py")
    at.session_state["data_tab"] = "Edit"
    at.session_state["edit_base_transactions"] = mine
    at.session_state["edit_conflict_transactions"] = {
        "base": mine,
        "changes": {
            "updates": {3: {"amount": "9.99"}, 4: {"amount": "8.88"}},
            "inserts": [],
            "deletes": [],
        },
        "message": "my fix",
        "error": "",
        "kept_in": "",
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("someone else saved" in str(e.value) for e in at.error)
    at.button(key="edit_reapply_transactions").click().run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = " ".join(str(w.value) for w in at.warning)
    assert f"v{theirs.id} deleted row(s) #3: your edits to them were dropped." in warnings
    head = datasets.head(ws, "transactions")
    assert head.id == theirs.id + 1 and head.message == "my fix"
    frame = datasets.read_records(ws, "transactions", head.id, limit=None)
    amounts = dict(zip(frame["record_number"], frame["amount"], strict=True))
    assert 3 not in amounts and Decimal(str(amounts[4])) == Decimal("8.88")
    # The tab is usable again: no conflict, the Save and Discard buttons are back.
    assert not any("someone else saved" in str(e.value) for e in at.error)
    assert at.button(key="edit_discard_transactions") is not None


def _reapply(workspace: Path, updates: dict, inserts: list) -> tuple[AppTest, int]:
    """Grid edits saved through the conflict panel's "Apply my edits" (AppTest cannot
    type into st.data_editor): (the app after the click, HEAD before it)."""
    head = datasets.head(Workspace(workspace), "transactions").id
    at = app_test()
    at.switch_page("pages/data.py")
    at.session_state["data_tab"] = "Edit"
    at.session_state["edit_base_transactions"] = head
    at.session_state["edit_conflict_transactions"] = {
        "base": head - 1,
        "changes": {"updates": updates, "inserts": inserts, "deletes": []},
        "message": "",
        "error": "",
        "kept_in": "",
    }
    at.run()
    at.button(key="edit_reapply_transactions").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at, head


def test_a_refused_save_keeps_the_buttons_and_names_every_bad_cell(
    edited_workspace: Path,
) -> None:
    ws = Workspace(edited_workspace)
    at, head = _reapply(
        edited_workspace,
        {4: {"amount": "12.345"}},
        [{"customer_id": "C9", "transaction_date": "2024-13-45", "amount": "1"}],
    )
    errors = " ".join(str(e.value) for e in at.error).replace("\\", "")  # markdown escapes
    assert "2 value(s) cannot be read" in errors
    assert "more than two decimals" in errors and "new row 1, transaction_date" in errors
    assert at.button(key="edit_discard_transactions") is not None
    assert datasets.head(ws, "transactions").id == head  # nothing saved


def _history_tab() -> AppTest:
    at = app_test()
    at.switch_page("pages/data.py")
    at.session_state["data_tab"] = "History"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_history_compares_any_two_versions(edited_workspace: Path) -> None:
    """After the saves above: v1 → HEAD removed T003 and changed T004's amount."""
    ws = Workspace(edited_workspace)
    head = datasets.head(ws, "transactions").id
    at = _history_tab()
    at.selectbox(key="history_diff_a_transactions").set_value(1).run()
    at.selectbox(key="history_diff_b_transactions").set_value(head).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(str(m.value) for m in at.markdown) + " ".join(str(t.value) for t in at.text)
    assert f"v1 → v{head}" in shown and "removed 1, changed 1" in shown
    assert "Removed: T003" in shown and "Changed: T004" in shown
    at.selectbox(key="history_diff_b_transactions").set_value(1).run()
    assert any("Pick two different versions" in str(c.value) for c in at.caption)


def test_history_restore_names_versions_by_their_message(edited_workspace: Path) -> None:
    ws = Workspace(edited_workspace)
    head = datasets.head(ws, "transactions").id
    at = _history_tab()
    pick = at.selectbox(key="history_pick_transactions")
    assert pick.format_func(1).startswith("v1 · ")  # the version's message follows its id
    pick.set_value(1).run()
    at.button(key="history_restore_transactions").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"v1 restored as v{head + 1}" in str(s.value) for s in at.success)
    restored = datasets.read_records(ws, "transactions", head + 1, limit=None)
    assert len(restored) == len(datasets.read_records(ws, "transactions", 1, limit=None))


def test_a_save_with_values_a_test_will_fail_says_so(edited_workspace: Path) -> None:
    """An empty required field, a negative amount and a date after today are let in
    (the build's tests name them), and the save says so at once."""
    at, head = _reapply(
        edited_workspace,
        {2: {"customer_id": "", "amount": "-5"}},
        [{"customer_id": "C9", "transaction_date": "2099-01-01", "amount": "1"}],
    )
    ws = Workspace(edited_workspace)
    assert datasets.head(ws, "transactions").id == head + 1  # saved
    warnings = " ".join(str(w.value) for w in at.warning).replace("\\", "")
    assert "3 values in 2 rows will fail a dbt test in the next build" in warnings, warnings
    assert "record 2: customer_id empty" in warnings
    assert "record 2: negative amount -5.00" in warnings
    assert "new row 1: transaction_date 2099-01-01 is after today" in warnings

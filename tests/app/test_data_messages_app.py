"""The Data page's messages after a change: the rebuild hint after Undo, and the save
warning of grid edits (count, generated ids, defaulted categories).

One workspace, the sample built and published once for the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mart import datasets
from mart.workspace import Workspace
from tests.app.conftest import app_manager, app_test, published_workspace


@pytest.fixture(scope="module")
def messages_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with published_workspace(tmp_path_factory.mktemp("data_messages") / "workspace") as root:
        yield root


def _captions(at) -> str:  # noqa: ANN001
    return "\n".join(str(element.value) for element in at.caption)


def test_undo_back_to_the_published_version_does_not_ask_for_a_rebuild(
    messages_workspace: Path,
) -> None:
    ws = Workspace(messages_workspace)
    published = app_manager(messages_workspace).published()
    built = int(published.datasets["transactions"]["version"])
    assert datasets.head(ws, "transactions").id == built
    datasets.apply_edits(ws, "transactions", built, updates={2: {"amount": "12.34"}})
    at = app_test()
    at.switch_page("pages/data.py")
    at.session_state["data_tab"] = "History"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="history_undo_transactions").click().run()
    assert not at.exception, [e.value for e in at.exception]
    said = [str(element.value).replace("\\", "") for element in at.success]
    assert any(f"transactions: HEAD is v{built} again." in text for text in said), said
    captions = _captions(at)
    assert "Rebuild mart" not in captions, captions
    assert "The published mart was already built from these versions" in captions, captions
    # Undoing once more goes below what the mart was built from: rebuild.
    datasets.apply_edits(ws, "transactions", built, updates={2: {"amount": "12.35"}})
    at.run()
    at.selectbox(key="history_pick_transactions").set_value(built + 1).run()
    at.button(key="history_restore_transactions").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Click **Rebuild mart** in the sidebar" in _captions(at)


def test_saving_partial_new_rows_counts_values_and_says_what_was_filled_in(
    messages_workspace: Path,
) -> None:
    """The grid's save path, through the conflict panel's "Apply my edits" (AppTest
    cannot type into st.data_editor): five partial new rows."""
    ws = Workspace(messages_workspace)
    head = datasets.head(ws, "transactions").id
    at = app_test()
    at.switch_page("pages/data.py")
    at.session_state["data_tab"] = "Edit"
    at.session_state["edit_base_transactions"] = head
    at.session_state["edit_conflict_transactions"] = {
        "base": head - 1,
        "changes": {
            "updates": {},
            "inserts": [
                {"product_category": "Books"},
                {"customer_id": "C1"},
                {"customer_id": "C2", "amount": "5"},
                {"customer_id": "C3", "transaction_date": "2024-01-02"},
                {"amount": "7"},
            ],
            "deletes": [],
        },
        "message": "",
        "error": "",
        "kept_in": "",
    }
    at.run()
    at.button(key="edit_reapply_transactions").click().run()
    assert not at.exception, [e.value for e in at.exception]
    warned = " ".join(str(w.value) for w in at.warning).replace("\\", "")
    assert "Saved, but 9 values in 5 rows will fail a dbt test" in warned, warned
    saved = " ".join(str(s.value) for s in at.success).replace("\\", "")
    assert "5 new rows had no transaction_id: ids were generated (T-" in saved, saved
    assert "4 new rows had no product_category: saved as Unknown." in saved, saved

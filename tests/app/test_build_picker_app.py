"""The Build page's build picker follows the newest build until an older one is picked."""

from __future__ import annotations

from pathlib import Path

from tests.app.conftest import app_manager, app_test, published_workspace
from tests.app.test_part1_pages import assert_clean, run_page, texts


def picker(at, newest: int):  # noqa: ANN001, ANN201 - AppTest and its SelectBox
    """The Build page's picker; its key names the newest build (and the statuses)."""
    [box] = [box for box in at.selectbox if box.key.startswith(f"build_page_build_{newest}_")]
    return box


def test_picker_follows_the_newest_build_until_an_older_one_is_picked(tmp_path: Path) -> None:
    with published_workspace(tmp_path / "workspace") as root:
        manager = app_manager(root)
        assert manager.request_build().build_id == 2
        at = app_test()
        at.run()
        run_page(at, "pages/build.py")
        assert picker(at, 2).value == 2
        assert "Build #2 **published** · live now" in texts(at)

        picker(at, 2).set_value(1).run()
        assert_clean(at)
        assert "Build #1 **published**" in texts(at)

        # A new build: the page keeps the build the user picked.
        assert manager.request_build().build_id == 3
        at.run()
        assert_clean(at)
        assert picker(at, 3).value == 1
        assert "Build #1 **published**" in texts(at)

        # Picking the newest one again means "follow the newest".
        picker(at, 3).set_value(3).run()
        assert manager.request_build().build_id == 4
        at.run()
        assert_clean(at)
        assert picker(at, 4).value == 4
        assert "Build #4 **published** · live now" in texts(at)


def test_publish_anyway_of_an_older_build_says_what_differs_from_the_live_one(
    tmp_path: Path,
) -> None:
    from mart import datasets
    from mart.workspace import Workspace

    duplicate = tmp_path / "duplicate.csv"
    duplicate.write_text(
        "transaction_id,customer_id,transaction_date,amount,product_category\n"
        "T001,C001,2024-01-15,150.00,Electronics\n",
        encoding="utf-8",
    )
    with published_workspace(tmp_path / "workspace") as root:
        ws = Workspace(root)
        manager = app_manager(root)
        datasets.load_file(ws, "transactions", duplicate, mode="append")
        failed = manager.request_build()
        assert failed.build_id == 2 and failed.status == "failed"
        datasets.undo(ws, "transactions")
        live = manager.request_build(vars={"high_value_threshold": 450})
        assert live.build_id == 3 and live.status == "published"
        at = app_test()
        at.run()
        run_page(at, "pages/build.py")
        picker(at, 3).set_value(2).run()
        assert_clean(at)
        warning = " ".join(str(w.value) for w in at.warning).replace("\\", "")
        assert "Build #3 is live and newer than build #2" in warning
        assert "it was built from events v1, transactions v2" in warning
        assert "with vars defaults, which the next Rebuild keeps" in warning
        assert "The datasets do not change" in warning
        assert "brings back" not in warning

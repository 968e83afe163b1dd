"""Overview's as-of date: stale data is called out, and one click rebuilds as of its end.

The bundled sample ends in February 2024. Built with no as_of_date (the run date is
"today"), every customer is churned; the Overview says so and offers a rebuild as of
the first day of the month after the data's last activity, which then publishes
with that var.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from mart import overview
from mart.builds import BuildManager
from mart.workspace import Workspace
from tests.app.conftest import app_manager, app_test, wait_for_builds


def as_of_input(at):  # noqa: ANN001, ANN201 - AppTest and its DateInput
    """The Overview's as-of date picker (its key carries the mart's as-of date)."""
    [box] = [box for box in at.date_input if box.key.startswith("overview_as_of_date_")]
    return box


def _overview(built_workspace: Path):  # noqa: ANN202
    at = app_test()
    at.switch_page("pages/overview.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_stale_data_warning_and_rebuild_as_of_its_end(built_workspace: Path) -> None:
    manager = BuildManager(Workspace(built_workspace), prewarm_after_build=False)
    published = manager.published()
    assert published is not None and "as_of_date" not in published.vars
    status = overview.as_of_status(published.db_path)
    assert status.stale and status.last_activity is not None
    suggested = status.suggested
    assert suggested is not None and suggested.isoformat() == "2024-03-01"

    at = _overview(built_workspace)
    warnings = " ".join(str(item.value) for item in at.warning)
    assert f"The last purchase in the data is on {status.last_purchase}" in warnings
    assert "every buyer counts as churned" in warnings
    captions = " ".join(str(item.value) for item in at.caption)
    assert "the as_of_date var is not set" in captions

    # A class may land on Customers or Retention first: they warn too.
    for page, key in (("customers", "customers"), ("retention", "retention")):
        other = app_test()
        other.switch_page(f"pages/{page}.py")
        other.run()
        assert not other.exception, [e.value for e in other.exception]
        assert any("every buyer counts as churned" in str(w.value) for w in other.warning)
        assert other.button(key=f"{key}_as_of_suggested").label == f"Rebuild as of {suggested}"

    # A date before the data would fail the not_after_as_of_date tests: refused up front.
    as_of_input(at).set_value(date(2024, 1, 15)).run()
    assert any("is before the data's latest activity" in str(w.value) for w in at.warning)
    # Not disabled (a date typed over it comes with the click): the click refuses it.
    at.button(key="overview_as_of_rebuild").click().run()
    assert any("Nothing was built" in str(w.value) for w in at.warning)
    assert app_manager(built_workspace).current_build().build_id == published.build_id
    as_of_input(at).set_value(date(2024, 2, 25)).run()  # the data's last day is fine
    assert not any("is before the data's latest activity" in str(w.value) for w in at.warning)

    button = at.button(key="overview_as_of_suggested")
    assert button.label == f"Rebuild as of {suggested}"
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("started with the as-of date 2024-03-01" in str(i.value) for i in at.info)
    wait_for_builds(built_workspace)
    at.run()  # the same session: the picker now starts from the mart's new date
    assert as_of_input(at).value == suggested

    rebuilt = app_manager(built_workspace).published()
    assert rebuilt is not None and rebuilt.build_id > published.build_id
    assert rebuilt.vars.get("as_of_date") == "2024-03-01"
    after = overview.as_of_status(rebuilt.db_path)
    assert after.as_of_date == suggested and not after.stale

    at = _overview(built_workspace)
    assert not [w for w in at.warning if "counts as churned" in str(w.value)]
    captions = " ".join(str(item.value) for item in at.caption)
    assert "**2024-03-01** (set for this build)" in captions

    # Back to the run date: the var is dropped again.
    at.button(key="overview_as_of_today").click().run()
    assert not at.exception, [e.value for e in at.exception]
    wait_for_builds(built_workspace)
    latest = app_manager(built_workspace).published()
    assert latest is not None and "as_of_date" not in latest.vars


def test_a_date_typed_and_clicked_in_one_go_is_the_date_built(built_workspace: Path) -> None:
    """The date and the click reach the app in one rerun: the button's callback must
    build the date now in the picker, not the one bound when the page last ran."""
    at = _overview(built_workspace)
    as_of_input(at).set_value(date(2024, 3, 5))
    at.button(key="overview_as_of_rebuild").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("started with the as-of date 2024-03-05" in str(i.value) for i in at.info)
    wait_for_builds(built_workspace)
    published = app_manager(built_workspace).published()
    assert published is not None and published.vars.get("as_of_date") == "2024-03-05"

    # Too early, typed and clicked at once: refused by the callback, nothing built.
    at = _overview(built_workspace)
    before = app_manager(built_workspace).history()
    as_of_input(at).set_value(date(2024, 1, 15))
    at.button(key="overview_as_of_rebuild").click().run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = " ".join(str(w.value) for w in at.warning)
    assert "2024-01-15 is before the data's latest activity" in warnings
    assert "Nothing was built" in warnings
    assert len(app_manager(built_workspace).history()) == len(before)


def test_a_picked_date_has_the_waiting_worker_parse_for_it_before_the_click(
    built_workspace: Path,
) -> None:
    """Picking a date asks the waiting build worker to parse with it at once, so the
    Rebuild click that follows does not re-parse (a new var means a new parse)."""
    at = _overview(built_workspace)
    manager = app_manager(built_workspace)
    wait_for_builds(built_workspace)
    manager.prewarm()  # run alone, this test may be the app's first: none warming yet
    assert manager.wait_warm(240)
    worker = manager._warm
    assert worker is not None and worker.vars.get("as_of_date") != "2024-03-09"
    as_of_input(at).set_value(date(2024, 3, 9)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert worker.vars.get("as_of_date") == "2024-03-09"  # asked to parse for it
    # Asked once per date picked, not again on every rerun while it stays picked.
    asks: list[dict] = []
    original = manager.prepare
    manager.prepare = lambda vars=None, **kw: asks.append(vars) or original(vars, **kw)
    try:
        at.run()
        at.run()
        assert asks == []
        as_of_input(at).set_value(date(2024, 3, 10)).run()
        assert asks == [{"as_of_date": "2024-03-10"}]
    finally:
        del manager.prepare  # the class's method again
    # A date before the data is not worth a parse: nothing is asked.
    as_of_input(at).set_value(date(2024, 1, 15)).run()
    assert worker.vars.get("as_of_date") == "2024-03-10"
    as_of_input(at).set_value(date(2024, 3, 9)).run()
    assert worker.vars.get("as_of_date") == "2024-03-09"
    at.button(key="overview_as_of_rebuild").click().run()
    assert not at.exception, [e.value for e in at.exception]
    wait_for_builds(built_workspace)
    published = manager.published()
    assert published is not None and published.vars.get("as_of_date") == "2024-03-09"
    assert published.worker_pid == worker.pid
    phases = [event.get("phase") for event in manager.events(published.build_id)]
    assert "parse" not in phases


def test_new_data_after_a_kept_as_of_date_is_called_out_before_and_after_a_build(
    tmp_path: Path,
) -> None:
    """A class built as of 2024-03-01, then loads data running to June: the rebuild keeps
    the as-of date and would fail not_after_as_of_date. The sidebar says so first and
    offers the fitting date; a build that fails anyway says why and what to do."""
    from mart import datasets
    from tests.app.conftest import published_workspace

    later = tmp_path / "june.csv"
    later.write_text(
        "transaction_id,customer_id,transaction_date,amount,product_category\n"
        "T900,C001,2024-06-10,12.00,Audio\n",
        encoding="utf-8",
    )
    with published_workspace(tmp_path / "ws", vars={"as_of_date": "2024-03-01"}) as root:
        ws = Workspace(root)
        assert datasets.latest_activity(ws) == date(2024, 2, 25)
        datasets.load_file(ws, "transactions", later, mode="append")
        assert datasets.latest_activity(ws) == date(2024, 6, 10)  # a new version: re-read
        first = datasets.list_versions(ws, "transactions")[0].id
        assert datasets.latest_activity(ws, {"transactions": first}) == date(2024, 2, 25)

        at = _overview(root)
        sidebar = " ".join(str(w.value) for w in at.sidebar.warning)
        assert "The data now runs to 2024-06-10, after the as-of date 2024-03-01" in sidebar
        assert at.button(key="sidebar_rebuild_as_of").label == "Rebuild as of 2024-07-01"
        captions = " ".join(str(item.value) for item in at.caption)
        assert "the current dataset versions run to 2024-06-10" in captions
        # The picker starts past the new data, and refuses a date before it.
        assert as_of_input(at).value == date(2024, 7, 1)
        as_of_input(at).set_value(date(2024, 5, 1)).run()
        assert any(
            "before the data's latest activity (2024-06-10)" in str(w.value) for w in at.warning
        )

        # A plain rebuild keeps 2024-03-01 and fails; the failure says why.
        at.button(key="sidebar_rebuild").click().run()
        wait_for_builds(root)
        failed = app_manager(root).current_build()
        assert failed is not None and failed.status == "failed"
        assert failed.hint is not None
        assert "The as-of date 2024-03-01 (kept from build #1) is before the data's" in failed.hint
        assert "build --var as_of_date=2024-07-01" in (failed.error or "")
        at.run()
        errors = " ".join(str(e.value) for e in at.sidebar.error)
        assert "kept from build" in errors and "latest activity" in errors  # (escaped text)

        at.button(key="sidebar_rebuild_as_of").click().run()
        assert not at.exception, [e.value for e in at.exception]
        wait_for_builds(root)
        published = app_manager(root).published()
        assert published is not None and published.vars.get("as_of_date") == "2024-07-01"
        at.run()
        assert not [w for w in at.sidebar.warning if "The data now runs to" in str(w.value)]

        # A record dated in the future is bad data, not data past the kept date: no advice
        # to move the as-of date past it, before or after the build.
        future = tmp_path / "future.csv"
        future.write_text(
            "transaction_id,customer_id,transaction_date,amount,product_category\n"
            "T901,C001,2099-01-01,5.00,Audio\n",
            encoding="utf-8",
        )
        datasets.load_file(ws, "transactions", future, mode="append")
        at.run()
        assert not [w for w in at.sidebar.warning if "The data now runs to" in str(w.value)]
        at.button(key="sidebar_rebuild").click().run()
        wait_for_builds(root)
        failed = app_manager(root).current_build()
        assert failed is not None and failed.status == "failed" and failed.hint
        assert "dates in the future" in failed.hint and "2099-01-01" in failed.hint
        assert "Rebuild as of" not in failed.hint


def test_stale_mart_with_future_dated_data_offers_no_later_as_of_date(tmp_path: Path) -> None:
    """The published mart is stale (built as of the run date, data from 2024) and the
    current data has a record dated years ahead. The day after the data would hide that
    record from the not_after_as_of_date tests, so the Overview does not offer it: it
    says the data runs past today and that the records need correcting."""
    from mart import datasets
    from tests.app.conftest import published_workspace

    future = tmp_path / "future.csv"
    future.write_text(
        "transaction_id,customer_id,transaction_date,amount,product_category\n"
        "T901,C001,2099-01-01,5.00,Audio\n",
        encoding="utf-8",
    )
    with published_workspace(tmp_path / "ws") as root:
        at = _overview(root)
        assert at.button(key="overview_as_of_suggested").label == "Rebuild as of 2024-03-01"

        datasets.load_file(Workspace(root), "transactions", future, mode="append")
        at = _overview(root)
        warnings = " ".join(str(item.value) for item in at.warning)
        assert "every buyer counts as churned" in warnings
        assert "run to 2099-01-01, after today" in warnings
        assert "a later as-of date would only hide them" in warnings
        assert not [b for b in at.button if b.key == "overview_as_of_suggested"]
        captions = " ".join(str(item.value) for item in at.caption)
        assert "the current dataset versions run to 2099-01-01, after today" in captions
        # The picker starts at the mart's date, not at the day after the future record.
        assert (
            as_of_input(at).value
            == overview.as_of_status(app_manager(root).published().db_path).as_of_date
        )

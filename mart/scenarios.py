"""Break-it scenarios: one-click bad data for teaching, each naming the test it trips.

Every scenario writes a new dataset version through :mod:`mart.datasets` (grid edits
via :func:`mart.datasets.apply_edits`, or a raw record via
:func:`mart.datasets.create_version` when the bad value is one the grid would refuse,
such as an unreadable amount). Nothing is overwritten, so **undo** on the Data page
repairs it. The bad rows are let into bronze on purpose (DESIGN invariant 10): the dbt
tests catch them, the build fails, and the last good mart stays published.

The test names are the ones dbt gives the tests in ``dbt_project/models/**/*.yml``
(generic tests get ``<test>_<model>_<column>``; ``accepted_values`` adds a hash of
its values, so :attr:`Scenario.test` is matched as a prefix where noted).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from mart import datasets
from mart.errors import InputError, NotFoundError
from mart.workspace import Workspace

#: How ids of rows added by scenarios start, so a teacher can spot them in the grid.
SCENARIO_PREFIX = "BROKEN-"


@dataclass(frozen=True)
class Scenario:
    """One way to break the mart: what it does, and which test will catch it."""

    key: str
    title: str
    dataset: str
    description: str
    test: str  # the dbt test that fails (or warns); a prefix when ``test_is_prefix``
    severity: str = "error"  # "error": the build fails; "warn": it publishes with a warning
    test_is_prefix: bool = False

    def matches(self, test_name: str) -> bool:
        """Whether ``test_name`` is the test this scenario trips."""
        if self.test_is_prefix:
            return test_name.startswith(self.test)
        return test_name == self.test


@dataclass(frozen=True)
class AppliedScenario:
    """What applying a scenario changed: the new version and the rows it touched."""

    scenario: Scenario
    version: datasets.Version
    detail: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        key="duplicate_transaction_id",
        title="Duplicate a transaction id",
        dataset="transactions",
        description="Adds a second row with the same transaction_id as an existing one "
        "(a double-loaded record).",
        test="unique_stg_transactions_transaction_id",
    ),
    Scenario(
        key="negative_amount",
        title="Make an amount negative",
        dataset="transactions",
        description="Turns the first transaction's amount negative (a sale keyed in with a "
        "minus sign, as if it were a refund).",
        test="not_negative_stg_transactions_amount",
    ),
    Scenario(
        key="future_date",
        title="Date a transaction in the future",
        dataset="transactions",
        description="Adds a transaction dated a year after today (after as_of_date).",
        test="not_after_as_of_date_stg_transactions_transaction_date",
    ),
    Scenario(
        key="missing_customer_id",
        title="Drop a customer id",
        dataset="transactions",
        description="Adds a transaction with no customer_id (an orphan sale).",
        test="not_null_stg_transactions_customer_id",
    ),
    Scenario(
        key="unreadable_amount",
        title="Write an amount as text",
        dataset="transactions",
        description="Adds a raw record whose amount is the word 'twelve' (a broken export); "
        "bronze keeps it, the source test refuses it.",
        test="raw_transactions_fields_are_readable",
    ),
    Scenario(
        key="unreadable_date",
        title="Write a date nobody can read",
        dataset="transactions",
        description="Adds a raw record dated '31/02/2024' (no such day) — caught in bronze.",
        test="raw_transactions_fields_are_readable",
    ),
    Scenario(
        key="unknown_event_type",
        title="Invent an event type",
        dataset="events",
        description="Adds an event of type 'wishlist_add'. The accepted_values test only "
        "warns, so the build still publishes — a lesson in test severity.",
        test="accepted_values_stg_events_event_type",
        severity="warn",
        test_is_prefix=True,
    ),
    Scenario(
        key="duplicate_event_id",
        title="Duplicate an event id",
        dataset="events",
        description="Adds a second event with the id of an existing one.",
        test="unique_stg_events_event_id",
    ),
)

BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}


def get(key: str) -> Scenario:
    """The scenario named ``key``; NotFoundError listing the known ones otherwise."""
    try:
        return BY_KEY[key]
    except KeyError:
        known = ", ".join(BY_KEY)
        raise NotFoundError(f"No scenario named {key!r}. Known scenarios: {known}.") from None


def _first_record(ws: Workspace, dataset: str) -> dict[str, str | None]:
    frame = datasets.read_records(ws, dataset, limit=1)
    if frame.empty:
        raise InputError(
            f"{dataset} has no rows to break: load or generate data first (Data page)."
        )
    return {str(k): v for k, v in frame.iloc[0].to_dict().items()}


def _stamp() -> str:
    return date.today().strftime("%Y%m%d")


def _apply_edit(
    ws: Workspace,
    scenario: Scenario,
    *,
    updates: dict[int, dict[str, object]] | None = None,
    inserts: list[dict[str, object]] | None = None,
    detail: str,
) -> AppliedScenario:
    base = datasets.head(ws, scenario.dataset)
    version = datasets.apply_edits(
        ws,
        scenario.dataset,
        base.id,
        updates=updates,
        inserts=inserts or [],
        message=f"Break it: {scenario.title.lower()} (fails {scenario.test})",
    )
    return AppliedScenario(scenario=scenario, version=version, detail=detail)


def _append_raw(ws: Workspace, scenario: Scenario, record: dict[str, object]) -> AppliedScenario:
    """A new HEAD version with one raw JSON record appended as is (no value checks)."""
    base = datasets.head(ws, scenario.dataset)
    source = datasets.version_path(ws, scenario.dataset, base.id)
    text = json.dumps(record, ensure_ascii=False)

    def write(target: Path) -> None:
        with duckdb.connect() as con:
            src = "'" + str(source).replace("'", "''") + "'"
            dst = "'" + str(target).replace("'", "''") + "'"
            con.execute(
                f"copy (select record_number, raw_data from read_parquet({src}) "
                f"union all select (select coalesce(max(record_number), 0) + 1 "
                f"from read_parquet({src})), ? order by record_number) "
                f"to {dst} (format parquet, compression zstd)",
                [text],
            )

    version = datasets.create_version(
        ws,
        scenario.dataset,
        write,
        message=f"Break it: {scenario.title.lower()} (fails {scenario.test})",
        kind="edit",
        expected_head=base.id,
        summary={"added": 1, "scenario": scenario.key},
    )
    return AppliedScenario(scenario=scenario, version=version, detail=f"added {text}")


def _duplicate_transaction_id(ws: Workspace, scenario: Scenario) -> AppliedScenario:
    first = _first_record(ws, "transactions")
    row = {k: v for k, v in first.items() if k != "record_number"}
    return _apply_edit(
        ws,
        scenario,
        inserts=[row],
        detail=f"added a second transaction {first.get('transaction_id')}",
    )


def _negative_amount(ws: Workspace, scenario: Scenario) -> AppliedScenario:
    first = _first_record(ws, "transactions")
    amount = str(first.get("amount") or "1.00").lstrip("-")
    if amount in ("0", "0.00"):
        amount = "1.00"
    return _apply_edit(
        ws,
        scenario,
        updates={int(first["record_number"] or 0): {"amount": "-" + amount}},
        detail=f"transaction {first.get('transaction_id')} now has amount -{amount}",
    )


def _future_date(ws: Workspace, scenario: Scenario) -> AppliedScenario:
    first = _first_record(ws, "transactions")
    when = (date.today() + timedelta(days=365)).isoformat()
    row = {
        "transaction_id": f"{SCENARIO_PREFIX}FUTURE-{_stamp()}",
        "customer_id": first.get("customer_id"),
        "transaction_date": when,
        "amount": "10.00",
        "product_category": "Electronics",
    }
    return _apply_edit(ws, scenario, inserts=[row], detail=f"added a transaction dated {when}")


def _missing_customer_id(ws: Workspace, scenario: Scenario) -> AppliedScenario:
    first = _first_record(ws, "transactions")
    row = {
        "transaction_id": f"{SCENARIO_PREFIX}ORPHAN-{_stamp()}",
        "customer_id": None,
        "transaction_date": first.get("transaction_date"),
        "amount": "10.00",
        "product_category": "Electronics",
    }
    return _apply_edit(ws, scenario, inserts=[row], detail="added a transaction with no customer")


def _unreadable_amount(ws: Workspace, scenario: Scenario) -> AppliedScenario:
    first = _first_record(ws, "transactions")
    return _append_raw(
        ws,
        scenario,
        {
            "transaction_id": f"{SCENARIO_PREFIX}TEXT-AMOUNT-{_stamp()}",
            "customer_id": first.get("customer_id"),
            "transaction_date": first.get("transaction_date"),
            "amount": "twelve",
            "product_category": "Electronics",
        },
    )


def _unreadable_date(ws: Workspace, scenario: Scenario) -> AppliedScenario:
    first = _first_record(ws, "transactions")
    return _append_raw(
        ws,
        scenario,
        {
            "transaction_id": f"{SCENARIO_PREFIX}BAD-DATE-{_stamp()}",
            "customer_id": first.get("customer_id"),
            "transaction_date": "31/02/2024",
            "amount": 10.0,
            "product_category": "Electronics",
        },
    )


def _unknown_event_type(ws: Workspace, scenario: Scenario) -> AppliedScenario:
    first = _first_record(ws, "events")
    row = {
        "event_id": f"{SCENARIO_PREFIX}EVENT-{_stamp()}",
        "customer_id": first.get("customer_id"),
        "session_id": first.get("session_id"),
        "event_type": "wishlist_add",
        "event_timestamp": first.get("event_timestamp"),
        "product_category": first.get("product_category"),
    }
    return _apply_edit(ws, scenario, inserts=[row], detail="added an event of type wishlist_add")


def _duplicate_event_id(ws: Workspace, scenario: Scenario) -> AppliedScenario:
    first = _first_record(ws, "events")
    row = {k: v for k, v in first.items() if k != "record_number"}
    return _apply_edit(
        ws, scenario, inserts=[row], detail=f"added a second event {first.get('event_id')}"
    )


_APPLY: dict[str, Callable[[Workspace, Scenario], AppliedScenario]] = {
    "duplicate_transaction_id": _duplicate_transaction_id,
    "negative_amount": _negative_amount,
    "future_date": _future_date,
    "missing_customer_id": _missing_customer_id,
    "unreadable_amount": _unreadable_amount,
    "unreadable_date": _unreadable_date,
    "unknown_event_type": _unknown_event_type,
    "duplicate_event_id": _duplicate_event_id,
}


def apply(ws: Workspace, key: str) -> AppliedScenario:
    """Apply scenario ``key`` to the HEAD of its dataset as a new version (undo repairs it)."""
    scenario = get(key)
    return _APPLY[scenario.key](ws, scenario)


def failing_tests_for(scenario: Scenario, test_names: list[str]) -> list[str]:
    """The names among ``test_names`` that this scenario is meant to trip."""
    return [name for name in test_names if scenario.matches(name)]

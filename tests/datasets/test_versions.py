"""Versions, HEAD, undo/restore/diff, edits with optimistic concurrency, reading records."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mart import datasets
from mart.errors import ConflictError, InputError, NotFoundError
from mart.workspace import PROJECT_ROOT, SAMPLE_DATA_DIR, Workspace

CSV = "transaction_id,customer_id,transaction_date,amount,product_category\n"


def sample_lines(name: str) -> list[str]:
    text = (SAMPLE_DATA_DIR / f"{name}.jsonl").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def test_first_use_seeds_version_one_from_the_sample(ws, stored_text):
    for name, count in (("transactions", 8), ("events", 32)):
        version = datasets.head(ws, name)
        assert (version.id, version.parent, version.row_count, version.kind) == (
            1,
            None,
            count,
            "seed",
        )
        assert stored_text(name) == sample_lines(name)
    path = datasets.version_path(ws, "transactions", 1)
    assert path == ws.root / "datasets/transactions/versions/000001.parquet"
    assert (ws.root / "datasets/transactions/HEAD").read_text().strip() == "1"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["message"] and meta["created_at"] and meta["source"] == "transactions.jsonl"


def test_stored_format_is_the_contract(ws):
    datasets.head(ws, "transactions")
    path = datasets.version_path(ws, "transactions", 1)
    con = duckdb.connect()
    columns = con.execute(f"describe select * from read_parquet('{path}')").fetchall()
    assert [(c[0], c[1]) for c in columns] == [("record_number", "BIGINT"), ("raw_data", "VARCHAR")]
    # The build engine's bronze load must work on it.
    rows = con.execute(
        f"select cast(raw_data as json) ->> 'amount' from read_parquet('{path}') "
        "order by record_number"
    ).fetchall()
    assert [Decimal(r[0]) for r in rows][:2] == [Decimal("150.00"), Decimal("75.50")]


def test_two_workspaces_never_interfere(tmp_path, write_file):
    one = Workspace.from_env(tmp_path / "one")
    two = Workspace.from_env(tmp_path / "two")
    datasets.load_file(one, "transactions", write_file("a.csv", CSV + "T1,C1,2024-01-01,1,A\n"))
    assert datasets.head(one, "transactions").id == 2
    assert datasets.head(two, "transactions").id == 1


def test_replace_then_append(ws, write_file, stored):
    first = datasets.load_file(
        ws, "transactions", write_file("a.csv", CSV + "T1,C1,2024-01-01,1,A\n")
    )
    assert first.version.row_count == 1
    assert first.version.parent == 1
    second = datasets.load_file(
        ws,
        "transactions",
        write_file("b.csv", CSV + "T2,C2,2024-01-02,2,B\nT3,C3,2024-01-03,3,C\n"),
        mode="append",
        message="more rows",
    )
    assert second.version.row_count == 3
    assert second.version.message == "more rows"
    assert second.version.kind == "load-append"
    assert [r["transaction_id"] for r in stored("transactions")] == ["T1", "T2", "T3"]
    numbers = duckdb.execute(
        "select list(record_number order by record_number) from read_parquet(?)",
        [str(datasets.version_path(ws, "transactions", second.version.id))],
    ).fetchall()[0][0]
    assert numbers == [1, 2, 3]
    with pytest.raises(InputError, match="Unknown mode"):
        datasets.load_file(ws, "transactions", write_file("c.csv", CSV), mode="merge")


def test_versions_are_never_overwritten(ws, write_file):
    datasets.head(ws, "transactions")
    original = datasets.version_path(ws, "transactions", 1).read_bytes()
    datasets.load_file(ws, "transactions", write_file("a.csv", CSV + "T1,C1,2024-01-01,1,A\n"))
    datasets.undo(ws, "transactions")
    datasets.restore(ws, "transactions", 2)
    datasets.reset_to_sample(ws)
    assert datasets.version_path(ws, "transactions", 1).read_bytes() == original
    assert [v.id for v in datasets.list_versions(ws, "transactions")] == [1, 2, 3, 4]


def test_undo_walks_back_and_restore_brings_a_version_back(ws, write_file, stored):
    for i in (1, 2):
        datasets.load_file(
            ws, "transactions", write_file(f"{i}.csv", CSV + f"T{i},C1,2024-01-01,1,A\n")
        )
    assert datasets.head(ws, "transactions").id == 3
    assert datasets.undo(ws, "transactions").id == 2
    assert datasets.undo(ws, "transactions").id == 1
    with pytest.raises(InputError, match="Nothing to undo"):
        datasets.undo(ws, "transactions")
    restored = datasets.restore(ws, "transactions", 3)
    assert (restored.id, restored.parent, restored.restored_from, restored.kind) == (
        4,
        1,
        3,
        "restore",
    )
    assert [r["transaction_id"] for r in stored("transactions")] == ["T2"]
    assert datasets.undo(ws, "transactions").id == 1
    with pytest.raises(InputError, match="already HEAD"):
        datasets.restore(ws, "transactions", 1)
    with pytest.raises(NotFoundError, match="no version 9"):
        datasets.restore(ws, "transactions", 9)
    log = (ws.dataset_dir("transactions") / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["action"] for line in log][-2:] == ["restore", "undo"]


def test_reset_to_sample_creates_new_versions_of_both(ws, write_file, stored_text):
    datasets.load_file(ws, "transactions", write_file("a.csv", CSV + "T1,C1,2024-01-01,1,A\n"))
    versions = datasets.reset_to_sample(ws)
    assert versions["transactions"].id == 3 and versions["events"].id == 2
    assert versions["transactions"].row_count == 8
    assert stored_text("transactions") == sample_lines("transactions")
    assert stored_text("events") == sample_lines("events")


def test_diff_counts_added_removed_changed(ws, write_file):
    base = datasets.head(ws, "transactions").id
    new = datasets.apply_edits(
        ws,
        "transactions",
        base,
        updates={1: {"amount": "151.00"}, 3: {"product_category": "Audio"}},
        deletes=[8],
        inserts=[
            {
                "transaction_id": "T100",
                "customer_id": "C9",
                "transaction_date": "2024-03-01",
                "amount": "9.99",
            }
        ],
    )
    result = datasets.diff(ws, "transactions", base, new.id)
    assert (result.added, result.removed, result.changed, result.unchanged) == (1, 1, 2, 5)
    assert result.added_keys == ["T100"]
    assert result.removed_keys == ["T008"]
    assert result.changed_keys == ["T001", "T003"]
    assert "added 1, removed 1, changed 2" in result.to_text()
    same = datasets.diff(ws, "transactions", base, base)
    assert (same.added, same.removed, same.changed, same.unchanged) == (0, 0, 0, 8)


def test_diff_matches_duplicate_ids_by_occurrence(ws, write_file):
    datasets.load_file(
        ws,
        "transactions",
        write_file("a.csv", CSV + "T1,C1,2024-01-01,1,A\nT1,C1,2024-01-01,1,A\n"),
    )
    datasets.load_file(ws, "transactions", write_file("b.csv", CSV + "T1,C1,2024-01-01,1,A\n"))
    result = datasets.diff(ws, "transactions", 2, 3)
    assert (result.added, result.removed, result.changed, result.unchanged) == (0, 1, 0, 1)


# --------------------------------------------------------------------------- edits


def test_edits_keep_untouched_fields_and_exact_amounts(ws, stored, stored_text):
    base = datasets.head(ws, "transactions")
    new = datasets.apply_edits(
        ws,
        "transactions",
        base.id,
        updates={
            2: {"customer_id": "C777", "note": "checked", "record_number": 99},
            4: {"customer_id": ""},
        },
    )
    assert (new.parent, new.kind, new.row_count) == (base.id, "edit", 8)
    rows = stored("transactions")
    assert rows[1] == {
        "transaction_id": "T002",
        "customer_id": "C777",
        "transaction_date": "2024-01-20",
        "amount": Decimal("75.50"),
        "product_category": "Accessories",
        "note": "checked",
    }
    assert rows[3]["customer_id"] is None  # a cleared cell is null: the dbt test catches it
    assert '"amount": 75.50' in stored_text("transactions")[1]
    assert stored_text("transactions")[0] == stored_text("transactions", 1)[0]


def test_edits_read_dates_and_amounts_the_way_file_loads_do(ws, stored):
    """A day above 12 settles the order; decimal commas, grouped thousands, the Unicode
    minus, (narrow) no-break spaces and an accounting zero read as in a file."""
    base = datasets.head(ws, "transactions").id
    datasets.apply_edits(
        ws,
        "transactions",
        base,
        updates={
            1: {"transaction_date": "15/01/2024", "amount": "12,50"},
            2: {"transaction_date": "1/31/2024", "amount": "1.234,56"},
            3: {"amount": "\u22125"},
            4: {"amount": "1\u202f234,50"},
            5: {"amount": " $ -   "},  # pasted from a sheet in accounting format: zero
        },
    )
    rows = stored("transactions")
    assert [(row["transaction_date"], str(row["amount"])) for row in rows[:5]] == [
        ("2024-01-15", "12.50"),
        ("2024-01-31", "1234.56"),
        (rows[2]["transaction_date"], "-5.00"),
        (rows[3]["transaction_date"], "1234.50"),
        (rows[4]["transaction_date"], "0.00"),
    ]
    with pytest.raises(InputError, match="'-' is not an amount"):  # a dash alone, as in a file
        datasets.apply_edits(ws, "transactions", base + 1, updates={1: {"amount": "-"}})


def test_an_edit_that_a_test_will_fail_is_saved_with_warnings(ws):
    base = datasets.head(ws, "transactions").id
    version = datasets.apply_edits(
        ws,
        "transactions",
        base,
        updates={1: {"customer_id": ""}, 2: {"amount": "-1"}},
        inserts=[{"customer_id": "C9", "transaction_date": "2999-01-01", "amount": "2"}],
    )
    text = datasets.edit_warnings(version)
    assert text is not None and text.startswith(
        "Saved, but 3 values in 3 rows will fail a dbt test"
    )
    assert "record 1: customer_id empty" in text and "record 2: negative amount -1.00" in text
    assert "new row 1: transaction_date 2999-01-01 is after today" in text
    clean = datasets.apply_edits(ws, "transactions", version.id, updates={1: {"customer_id": "C1"}})
    assert datasets.edit_warnings(clean) is None


def test_edit_values_are_normalised_or_refused(ws, stored):
    base = datasets.head(ws, "transactions").id
    datasets.apply_edits(
        ws,
        "transactions",
        base,
        updates={1: {"amount": 12.5, "transaction_date": "2024/03/04"}, 2: {"amount": "$1,234.5"}},
    )
    rows = stored("transactions")
    assert (str(rows[0]["amount"]), rows[0]["transaction_date"]) == ("12.50", "2024-03-04")
    assert str(rows[1]["amount"]) == "1234.50"
    head = datasets.head(ws, "transactions").id
    with pytest.raises(InputError, match="record 1, amount"):
        datasets.apply_edits(ws, "transactions", head, updates={1: {"amount": "lots"}})
    with pytest.raises(InputError, match="ambiguous"):
        datasets.apply_edits(
            ws, "transactions", head, updates={1: {"transaction_date": "04/03/2024"}}
        )
    # Each bad date says what is wrong with it, not "ambiguous" or "use YYYY-MM-DD".
    for text, reason in (
        ("31/02/2024", "no day 31 in month 2 of 2024"),
        ("2024-02-30", "no day 30 in month 2 of 2024"),
        ("2024-13-01", "no month 13"),
        ("13/31/2024", "neither number is a month"),
    ):
        with pytest.raises(InputError, match=reason):
            datasets.apply_edits(ws, "transactions", head, updates={1: {"transaction_date": text}})
    with pytest.raises(InputError, match="no record number"):
        datasets.apply_edits(ws, "transactions", head, updates={99: {"amount": 1}})
    with pytest.raises(InputError, match="no edits"):
        datasets.apply_edits(ws, "transactions", head)
    # A third decimal is refused, not rounded away in silence.
    with pytest.raises(InputError, match=r"more than two decimals.*did you mean 12\.51"):
        datasets.apply_edits(ws, "transactions", head, updates={1: {"amount": "12.505"}})
    # Every bad cell of one save is named at once.
    with pytest.raises(InputError) as caught:
        datasets.apply_edits(
            ws,
            "transactions",
            head,
            updates={1: {"amount": "lots"}},
            inserts=[{"customer_id": "C9", "transaction_date": "2024-13-45", "amount": "abc"}],
        )
    text = str(caught.value)
    assert "3 value(s) cannot be read" in text
    assert "record 1, amount" in text and "new row 1, transaction_date" in text
    assert "new row 1, amount" in text
    assert datasets.head(ws, "transactions").id == head


def test_existing_records_names_the_ones_a_version_holds(ws) -> None:
    head = datasets.head(ws, "transactions").id
    assert datasets.existing_records(ws, "transactions", head, [1, 2, 999]) == {1, 2}
    assert datasets.existing_records(ws, "transactions", head, []) == set()


def test_inserts_get_new_record_numbers_and_ids(ws, stored):
    base = datasets.head(ws, "events").id
    new = datasets.apply_edits(
        ws,
        "events",
        base,
        deletes=[32],
        inserts=[
            {
                "customer_id": "C9",
                "event_type": "page_view",
                "event_timestamp": "2024-03-01 10:00:00",
            }
        ],
    )
    assert new.row_count == 32
    frame = datasets.read_records(ws, "events", limit=None)
    assert frame["record_number"].tolist()[-2:] == [31, 33]
    last = frame.iloc[-1]
    assert last["event_timestamp"] == "2024-03-01T10:00:00"
    assert last["event_id"].startswith("E-")
    # A later insert never reuses a deleted record number.
    again = datasets.apply_edits(ws, "events", new.id, inserts=[{"customer_id": "C8"}])
    assert datasets.read_records(ws, "events", again.id, limit=None)["record_number"].max() == 34


def test_an_edit_on_a_stale_version_is_refused_and_nothing_is_lost(ws, write_file, stored):
    base = datasets.head(ws, "transactions").id
    datasets.load_file(
        ws,
        "transactions",
        write_file("a.csv", CSV + "T9,C9,2024-01-01,1,A\n"),
        mode="append",
        message="someone else's change",
    )
    before = [v.id for v in datasets.list_versions(ws, "transactions")]
    with pytest.raises(ConflictError) as caught:
        datasets.apply_edits(ws, "transactions", base, updates={1: {"amount": "1.00"}})
    message = str(caught.value)
    assert f"based on version {base}" in message and "HEAD is now version 2" in message
    assert "someone else's change" in message
    assert [v.id for v in datasets.list_versions(ws, "transactions")] == before
    assert stored("transactions")[-1]["transaction_id"] == "T9"
    kept = json.loads(Path(caught.value.saved_edits_path).read_text())
    assert kept["updates"] == {"1": {"amount": "1.00"}}


def test_an_append_racing_another_change_goes_on_top_of_it(ws, write_file, monkeypatch):
    # Simulate another process committing while this load is being written, once.
    real = datasets.create_version
    raced = []

    def racing(ws_, dataset, write, **kwargs):
        if kwargs.get("kind") == "load-append" and not raced:
            raced.append(datasets.restore(ws_, dataset, 1))  # someone else moves HEAD
        return real(ws_, dataset, write, **kwargs)

    datasets.load_file(ws, "transactions", write_file("a.csv", CSV + "T9,C9,2024-01-01,1,A\n"))
    monkeypatch.setattr(datasets, "create_version", racing)
    result = datasets.load_file(
        ws, "transactions", write_file("b.csv", CSV + "T8,C8,2024-01-01,1,A\n"), mode="append"
    )
    versions = datasets.list_versions(ws, "transactions")
    assert [v.kind for v in versions] == ["seed", "load-replace", "restore", "load-append"]
    assert result.version.parent == raced[0].id  # on top of the change that raced it
    assert result.version.row_count == raced[0].row_count + 1  # b.csv holds one row
    assert not list(datasets.version_path(ws, "transactions", 1).parent.glob(".*tmp"))


def test_an_append_that_keeps_losing_the_race_is_refused(ws, write_file, monkeypatch):
    real = datasets.create_version

    def racing(ws_, dataset, write, **kwargs):
        if kwargs.get("kind") == "load-append":
            datasets.restore(ws_, dataset, 1)  # HEAD moves every time
        return real(ws_, dataset, write, **kwargs)

    datasets.load_file(ws, "transactions", write_file("a.csv", CSV + "T9,C9,2024-01-01,1,A\n"))
    monkeypatch.setattr(datasets, "create_version", racing)
    with pytest.raises(ConflictError):
        datasets.load_file(
            ws, "transactions", write_file("b.csv", CSV + "T8,C8,2024-01-01,1,A\n"), mode="append"
        )
    versions = datasets.list_versions(ws, "transactions")
    assert [v.kind for v in versions] == ["seed", "load-replace"] + ["restore"] * (
        datasets.APPEND_ATTEMPTS
    )
    assert not list(datasets.version_path(ws, "transactions", 1).parent.glob(".*tmp"))


def test_concurrent_processes_never_share_a_version_id(ws):
    datasets.head(ws, "transactions")
    script = (
        "import sys; from mart import datasets; from mart.workspace import Workspace\n"
        "ws = Workspace.from_env(sys.argv[1])\n"
        "for _ in range(6): datasets.reset_to_sample(ws)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(ws.root)], cwd=PROJECT_ROOT)
        for _ in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    versions = datasets.list_versions(ws, "transactions")
    assert [v.id for v in versions] == list(range(1, 20))
    assert datasets.head(ws, "transactions").id == 19
    # Ids follow the order versions became HEAD: each one's parent is the one before.
    assert [v.parent for v in sorted(versions, key=lambda v: v.id)][1:] == list(range(1, 19))
    directory = datasets.version_path(ws, "transactions", 1).parent
    assert not list(directory.glob("*.claim")) and not list(directory.glob(".*.tmp"))


def test_a_version_committed_while_another_is_written_gets_the_lower_id(ws):
    """Version ids follow commit order, not the order writes started: HEAD is always
    the highest id. (Ids used to be claimed before the write, so a slow write that
    committed last became HEAD with a lower id than the version before it.)"""
    start = datasets.head(ws, "transactions").id
    lines = ['{"transaction_id": "T1", "customer_id": "C1"}']

    def slow_write(path):
        # Another process saves a version while this one is still writing its file.
        datasets.create_version(
            ws,
            "transactions",
            lambda p: datasets._write_lines(p, lines),
            message="fast",
            kind="test",
        )
        datasets._write_lines(path, lines)

    slow = datasets.create_version(ws, "transactions", slow_write, message="slow", kind="test")
    assert slow.id == start + 2 and slow.parent == start + 1
    assert datasets.head(ws, "transactions").id == slow.id
    fast = [v for v in datasets.list_versions(ws, "transactions") if v.message == "fast"]
    assert [(v.id, v.parent) for v in fast] == [(start + 1, start)]


# --------------------------------------------------------------------------- reading


def test_read_records_flat_with_filters(ws, write_file):
    text = (
        CSV.strip()
        + ",Colour\n"
        + "".join(
            f"T{i:03d},C{i % 3},2024-01-{i:02d},{i}.50,Cat{i % 2},{'red' if i == 5 else ''}\n"
            for i in range(1, 21)
        )
    )
    version = datasets.load_file(ws, "transactions", write_file("r.csv", text)).version
    frame = datasets.read_records(ws, "transactions")
    assert list(frame.columns) == [
        "record_number",
        "transaction_id",
        "customer_id",
        "transaction_date",
        "amount",
        "product_category",
        "Colour",
    ]
    assert frame.attrs["version_id"] == version.id
    assert frame.iloc[0]["amount"] == "1.50"
    assert frame.iloc[4]["Colour"] == "red"
    by_customer = datasets.read_records(ws, "transactions", customer_id="C1")
    assert by_customer["transaction_id"].tolist() == [
        "T001",
        "T004",
        "T007",
        "T010",
        "T013",
        "T016",
        "T019",
    ]
    dated = datasets.read_records(ws, "transactions", date_from="2024-01-05", date_to="2024-01-07")
    assert dated["record_number"].tolist() == [5, 6, 7]
    assert datasets.read_records(ws, "transactions", text="RED")["transaction_id"].tolist() == [
        "T005"
    ]
    # Keys are not searched, only values.
    assert datasets.read_records(ws, "transactions", text="amount").empty
    page = datasets.read_records(ws, "transactions", limit=5, offset=5)
    assert page["record_number"].tolist() == [6, 7, 8, 9, 10]
    assert datasets.count_records(ws, "transactions", customer_id="C1") == 7
    old = datasets.read_records(ws, "transactions", 1)
    assert len(old) == 8 and "Colour" not in old.columns


def test_read_records_of_a_filtered_subset_can_be_saved(ws):
    frame = datasets.read_records(ws, "transactions", customer_id="C002")
    assert frame["record_number"].tolist() == [3, 6]
    edited = {int(row.record_number): {"amount": "1.00"} for row in frame.itertuples()}
    new = datasets.apply_edits(ws, "transactions", frame.attrs["version_id"], updates=edited)
    after = datasets.read_records(ws, "transactions", new.id, limit=None)
    assert after["amount"].tolist() == [
        "150.00",
        "75.50",
        "1.00",
        "45.00",
        "500.00",
        "1.00",
        "89.99",
        "350.00",
    ]


def test_unknown_dataset_and_version(ws):
    with pytest.raises(InputError, match="Unknown dataset"):
        datasets.head(ws, "orders")
    with pytest.raises(NotFoundError):
        datasets.read_records(ws, "events", 5)


def test_appending_ids_already_in_head_is_let_in_with_a_warning(workspace, tmp_path):
    from mart import datasets
    from mart.workspace import Workspace

    ws = Workspace.from_env(workspace)
    csv = tmp_path / "again.csv"
    csv.write_text(
        "transaction_id,customer_id,transaction_date,amount\n"
        "T001,C001,2024-01-15,150.00\n"
        "T100,C009,2024-02-01,10.00\n"
    )
    result = datasets.load_file(ws, "transactions", csv, mode="append")
    assert result.version.row_count == 10  # let in: the dbt unique test names it
    assert result.report.warning_summary["ids already in the dataset"] == 1
    [warning] = [w for w in result.report.warnings if w.value == "T001"]
    assert warning.row == 1 and "transactions v1" in warning.problem

    replaced = datasets.load_file(ws, "transactions", csv, mode="replace")
    assert "ids already in the dataset" not in replaced.report.warning_summary


def test_appended_customer_ids_differing_only_in_case_from_head_are_warned(workspace, tmp_path):
    """An append of " c003 " beside HEAD's C003 made a new customer "c003" without a
    word (the case check looked inside the file only)."""
    from mart import datasets
    from mart.workspace import Workspace

    ws = Workspace.from_env(workspace)
    csv = tmp_path / "more.csv"
    csv.write_text(
        "transaction_id,customer_id,transaction_date,amount\n"
        "T101, c003 ,2024-02-26,10.00\n"
        "T102,C001,2024-02-27,5.00\n"  # written as in HEAD: nothing to say
        "T103,c003,2024-02-28,1.00\n"
        "T104,NEW9,2024-02-28,1.00\n"
    )
    report = datasets.check_file(ws, "transactions", csv, mode="append")
    assert report.ok
    assert report.warning_summary["customer ids differing in case"] == 1
    [warning] = [w for w in report.warnings if w.field == "customer_id"]
    assert (warning.row, warning.value) == (1, "c003")
    assert "'C003' in transactions v1" in warning.problem
    result = datasets.load_file(ws, "transactions", csv, mode="append")
    assert result.report.warning_summary["customer ids differing in case"] == 1
    # replacing the rows compares the file with itself only
    replaced = datasets.check_file(ws, "transactions", csv, mode="replace")
    assert "customer ids differing in case" not in replaced.warning_summary


def test_customer_ids_differing_in_leading_zeros_are_warned(workspace, tmp_path):
    """00123 and 123 (a spreadsheet's zero-padded text beside the same id read as a
    number) loaded as two customers with "no problems found": in one file, and in an
    append beside HEAD's 00123."""
    from mart import datasets
    from mart.workspace import Workspace

    ws = Workspace.from_env(workspace)
    first = tmp_path / "first.csv"
    first.write_text(
        "transaction_id,customer_id,transaction_date,amount\n"
        "T1,00123,2024-01-05,10.00\n"
        "T2,123,2024-01-06,12.00\n"
        "T3,0042,2024-01-06,1.00\n"
        "T4,0,2024-01-06,1.00\n"
        "T5,A0123,2024-01-06,1.00\n"
    )
    report = datasets.check_file(ws, "transactions", first, mode="replace")
    assert report.ok
    assert report.warning_summary["customer ids differing in leading zeros"] == 1
    [warning] = [w for w in report.warnings if "leading zeros" in w.problem]
    assert "'00123' and '123'" in warning.problem and warning.row == 1
    datasets.load_file(ws, "transactions", first, mode="replace")
    more = tmp_path / "more.csv"
    more.write_text(
        "transaction_id,customer_id,transaction_date,amount\n"
        "T6,42,2024-02-26,10.00\n"
        "T7,00123,2024-02-27,5.00\n"  # written as in HEAD: nothing to say
        "T8,000,2024-02-27,5.00\n"  # 0 in HEAD
    )
    report = datasets.check_file(ws, "transactions", more, mode="append")
    assert report.warning_summary["customer ids differing in leading zeros"] == 2
    said = {w.value: w.problem for w in report.warnings if "leading zeros" in w.problem}
    assert "'0042' in transactions v" in said["42"] and "'0' in" in said["000"]


def test_rebase_edits_leaves_out_records_the_newer_version_deleted(ws) -> None:
    """Edits to v(n) carried onto v(n+1), which deleted records 2 and 3: their update and
    delete are left out and named; the rest (and the inserts) are kept, and then save."""
    base = datasets.head(ws, "transactions").id
    theirs = datasets.apply_edits(ws, "transactions", base, deletes=[2, 3], message="theirs")
    rebased = datasets.rebase_edits(
        ws,
        "transactions",
        theirs.id,
        updates={1: {"amount": "10.00"}, 2: {"amount": "20.00"}},
        inserts=[{"transaction_id": "T900", "customer_id": "C9", "amount": "1.00"}],
        deletes=[3, 4],
    )
    assert rebased.updates == {1: {"amount": "10.00"}}
    assert rebased.deletes == [4]
    assert len(rebased.inserts) == 1 and not rebased.empty
    assert rebased.dropped == [2, 3]
    assert rebased.dropped_note(theirs.id) == (
        f"v{theirs.id} deleted row(s) #2, #3: your edits to them were dropped."
    )
    assert rebased.dropped_note(theirs.id, shown=1) == (
        f"v{theirs.id} deleted row(s) #2 and 1 more: your edits to them were dropped."
    )
    mine = datasets.apply_edits(
        ws,
        "transactions",
        theirs.id,
        updates=rebased.updates,
        inserts=rebased.inserts,
        deletes=rebased.deletes,
    )
    assert mine.row_count == theirs.row_count  # one deleted, one inserted

    only_gone = datasets.rebase_edits(ws, "transactions", mine.id, updates={2: {"amount": "1"}})
    assert only_gone.empty and only_gone.dropped == [2]
    assert datasets.rebase_edits(ws, "transactions", mine.id).dropped_note(mine.id) is None


def test_grid_edits_read_null_words_and_direction_controls_as_a_file_would(ws) -> None:
    """A loaded file's NULL / N/A are empty and U+202E is removed; typed in the grid,
    they were kept as text."""
    base = datasets.head(ws, "transactions")
    frame = datasets.read_records(ws, "transactions")
    number = int(frame.record_number.iloc[0])
    version = datasets.apply_edits(
        ws,
        "transactions",
        base.id,
        updates={number: {"customer_id": "NULL", "product_category": "\u202eBooks"}},
    )
    edited = datasets.read_records(ws, "transactions", version.id)
    row = edited[edited.record_number == number].iloc[0]
    assert pd.isna(row.customer_id)
    assert row.product_category == "Books"


def test_grid_edits_refuse_control_characters_in_ids_as_a_file_would(ws) -> None:
    """A file with ESC inside a customer id is refused; typed or pasted into the grid,
    the id was saved with it. The save is refused and names the cell; nothing changes."""
    base = datasets.head(ws, "transactions")
    number = int(datasets.read_records(ws, "transactions").record_number.iloc[0])
    with pytest.raises(
        InputError,
        match=r"customer_id: 'C\\x1b\[31m1' holds the control "
        r"character U\+001B",
    ):
        datasets.apply_edits(
            ws, "transactions", base.id, updates={number: {"customer_id": "C\x1b[31m1"}}
        )
    assert datasets.head(ws, "transactions").id == base.id
    # a tab at either end is trimmed, as in a file
    version = datasets.apply_edits(
        ws, "transactions", base.id, updates={number: {"customer_id": "\tC9 "}}
    )
    edited = datasets.read_records(ws, "transactions", version.id)
    assert edited[edited.record_number == number].iloc[0].customer_id == "C9"


def test_undoing_half_of_a_generate_or_reset_names_the_other_half(ws, write_file) -> None:
    """Generate and Reset save both datasets; undoing one left a mismatched pair (8
    transactions beside 250,000 generated events) without a word."""
    from mart import generate

    generate.generate(ws, customers=20, transactions=60, seed=3)
    before = datasets.head(ws, "transactions")
    datasets.undo(ws, "transactions")
    note = datasets.pairing_note(ws, "transactions", before)
    events = datasets.head(ws, "events")
    assert note == (
        f"events v{events.id} came from the same Generate and is still HEAD: undo events "
        "too to go back to the data before it."
    )
    datasets.undo(ws, "events")  # both undone: nothing left to say
    assert datasets.pairing_note(ws, "transactions", before) is None

    datasets.reset_to_sample(ws)
    reset = datasets.head(ws, "events")
    datasets.undo(ws, "events")
    assert "same Reset" in (datasets.pairing_note(ws, "events", reset) or "")

    # A load has no other half.
    datasets.load_file(ws, "transactions", write_file("a.csv", CSV + "T1,C1,2024-01-01,1,A\n"))
    loaded = datasets.head(ws, "transactions")
    datasets.undo(ws, "transactions")
    assert datasets.pairing_note(ws, "transactions", loaded) is None


def test_diff_says_when_added_records_repeat_ids_already_there(ws, write_file):
    """An append of rows already loaded was said to be "added 2" like new records."""
    datasets.load_file(ws, "transactions", write_file("a.csv", CSV + "T1,C1,2024-01-01,1,A\n"))
    first = datasets.head(ws, "transactions").id
    again = write_file("b.csv", CSV + "T1,C1,2024-01-01,1,A\nT2,C2,2024-01-02,2,B\n")
    datasets.load_file(ws, "transactions", again, mode="append")
    second = datasets.head(ws, "transactions").id
    result = datasets.diff(ws, "transactions", first, second)
    assert (result.added, result.added_repeats, result.unchanged) == (2, 1, 1)
    assert f"added 2 (1 with an id v{first} already has), removed 0" in result.to_text()
    back = datasets.diff(ws, "transactions", second, first)
    assert (back.removed, back.removed_repeats) == (2, 1)
    assert f"removed 2 (1 with an id v{first} still has)" in back.to_text()
    plain = datasets.diff(ws, "transactions", first, first)
    assert plain.counts_text() == "added 0, removed 0, changed 0, unchanged 1"

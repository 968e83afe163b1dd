"""What only shows across builds: SCD2 history, the incremental fact, vars and their checks."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import duckdb


def _execute(db_path, sql: str) -> None:
    with duckdb.connect(str(db_path)) as connection:
        connection.execute(sql)


def _fetch(db_path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.sql(sql).fetchall()


NO_AUTOLOAD = {"bronze_autoload": False}


def test_snapshot_records_a_segment_change(build_copy, dbt):
    db_path, target = build_copy
    # C002 buys 100.00 more: 424.99 -> 524.99, Medium Value -> High Value.
    _execute(
        db_path,
        """
        insert into bronze.raw_transactions
        select '{"transaction_id": "T009", "customer_id": "C002", "transaction_date":
                 "2024-02-25", "amount": 100.00, "product_category": "Audio"}'::json,
               now()::timestamp, 'test', 'test', 9
        """,
    )
    dbt(["build"], db_path, target, variables=NO_AUTOLOAD)
    history = _fetch(
        db_path,
        """
        select customer_segment, is_current, valid_to is null, lifetime_value
        from dim_customer_segment_history where customer_id = 'C002' order by valid_from
        """,
    )
    assert [(row[0], row[1], row[2]) for row in history] == [
        ("Medium Value", False, False),
        ("High Value", True, True),
    ]
    assert str(history[1][3]) == "524.99"
    # Customers that did not change keep a single, current row.
    assert _fetch(
        db_path, "select count(*) from dim_customer_segment_history where customer_id = 'C001'"
    ) == [(1,)]


def test_incremental_equals_full_refresh(build_copy, tmp_path, dbt):
    db_path, target = build_copy
    _execute(
        db_path,
        """
        delete from bronze.raw_transactions where raw_data->>'transaction_id' = 'T004';
        update bronze.raw_transactions
           set raw_data = json_merge_patch(raw_data, '{"amount": 80.00}')
         where raw_data->>'transaction_id' = 'T007';
        insert into bronze.raw_transactions
        select '{"transaction_id": "T010", "customer_id": "C005", "transaction_date":
                 "2024-02-26", "amount": 19.99, "product_category": "Audio"}'::json,
               now()::timestamp, 'test', 'test', 10;
        """,
    )
    dbt(["build"], db_path, target, variables=NO_AUTOLOAD)
    columns = "transaction_id, customer_id, product_category, amount, transaction_date"
    incremental = _fetch(db_path, f"select {columns} from fct_transactions order by 1")
    ids = [row[0] for row in incremental]
    assert "T004" not in ids and "T010" in ids
    assert dict((row[0], str(row[3])) for row in incremental)["T007"] == "80.00"

    full_target = tmp_path / "full"
    dbt(
        ["build", "--full-refresh", "--select", "fct_transactions"],
        db_path,
        full_target,
        variables=NO_AUTOLOAD,
    )
    full = _fetch(db_path, f"select {columns} from fct_transactions order by 1")
    assert incremental == full


def test_stale_incremental_fact_fails_its_check_with_the_rows(build_copy, dbt):
    """assert_incremental_matches_staging names every stale, missing and extra row once:
    a changed value (both versions), a lost row, a row staging never had, and one with
    no id; a null value equal on both sides is not a difference."""
    db_path, target = build_copy
    _execute(
        db_path,
        """
        update fct_transactions set amount = amount + 1 where transaction_id = 'T002';
        update fct_transactions set customer_id = null where transaction_id = 'T003';
        delete from fct_transactions where transaction_id = 'T004';
        insert into fct_transactions
        select * replace ('T099' as transaction_id) from fct_transactions
        where transaction_id = 'T005';
        insert into fct_transactions
        select * replace (null as transaction_id) from fct_transactions
        where transaction_id = 'T006';
        insert into fct_transactions  -- an exact duplicate: reported as nothing new
        select * from fct_transactions where transaction_id = 'T007';
        """,
    )
    check = "assert_incremental_matches_staging"
    result = dbt(["test", "--select", check], db_path, target, variables=NO_AUTOLOAD, check=False)
    assert result.returncode != 0
    assert _failed_tests(result.stdout) == {check}
    rows = _fetch(
        db_path,
        f"select problem, transaction_id, customer_id, amount from main_dbt_test__audit.{check}",
    )
    staging = dict(
        (row[0], row[1:])
        for row in _fetch(
            db_path, "select transaction_id, customer_id, amount from stg_transactions"
        )
    )
    t002_customer, t002_amount = staging["T002"]
    t003_customer, t003_amount = staging["T003"]
    t004_customer, t004_amount = staging["T004"]
    t005_customer, t005_amount = staging["T005"]
    t006_customer, t006_amount = staging["T006"]
    assert sorted(rows, key=str) == sorted(
        [
            ("missing from fct_transactions", "T002", t002_customer, t002_amount),
            ("not in staging", "T002", t002_customer, t002_amount + 1),
            ("missing from fct_transactions", "T003", t003_customer, t003_amount),
            ("not in staging", "T003", None, t003_amount),
            ("missing from fct_transactions", "T004", t004_customer, t004_amount),
            ("not in staging", "T099", t005_customer, t005_amount),
            ("not in staging", None, t006_customer, t006_amount),
        ],
        key=str,
    )
    # Rebuilt from staging, the fact passes its check again.
    dbt(
        ["build", "--full-refresh", "--select", f"fct_transactions {check}"],
        db_path,
        target,
        variables=NO_AUTOLOAD,
    )


def _raw_transaction(transaction_id: str, amount: str, number: int) -> str:
    return (
        "insert into bronze.raw_transactions select "
        f"""'{{"transaction_id": "{transaction_id}", "customer_id": "C005", """
        f""""transaction_date": "2024-02-26", "amount": {amount}, """
        f""""product_category": "Audio"}}'::json, now()::timestamp, 'test', 'test', {number};"""
    )


def test_duplicate_ids_leave_the_fact_once_the_source_is_fixed(build_copy, dbt):
    """A duplicate id, published anyway, used to stay in the fact for good: the merge
    matched the corrected record to one of the two rows and left the other, so every
    later build failed its checks on data that was already right."""
    db_path, target = build_copy
    columns = "transaction_id, customer_id, amount, _record_hash"
    compare = f"select {columns} from {{}} where transaction_id is not null order by all"
    # An existing id given a second record, and a new id held twice.
    _execute(
        db_path,
        _raw_transaction("T001", "999.00", 11)
        + _raw_transaction("T011", "10.00", 12)
        + _raw_transaction("T011", "15.00", 13),
    )
    # What a build published anyway does: the models run past the failing unique tests.
    dbt(["run"], db_path, target, variables=NO_AUTOLOAD)
    staging = _fetch(db_path, compare.format("stg_transactions"))
    assert [row[0] for row in staging].count("T001") == 2
    assert _fetch(db_path, compare.format("fct_transactions")) == staging
    # Fixed at the source: the fact follows, and the build passes again.
    _execute(
        db_path,
        "delete from bronze.raw_transactions where _record_number in (11, 13);",
    )
    dbt(["build"], db_path, target, variables=NO_AUTOLOAD)
    fixed = _fetch(db_path, compare.format("stg_transactions"))
    assert [row[0] for row in fixed].count("T001") == 1
    assert _fetch(db_path, compare.format("fct_transactions")) == fixed


def test_threshold_vars_change_segments(build_copy, dbt):
    db_path, target = build_copy
    dbt(
        ["build"],
        db_path,
        target,
        variables={**NO_AUTOLOAD, "high_value_threshold": 400, "medium_value_threshold": 355},
    )
    segments = dict(
        _fetch(db_path, "select customer_id, customer_segment from fct_customer_metrics")
    )
    assert segments == {
        "C001": "Medium Value",
        "C002": "High Value",
        "C003": "High Value",
        "C004": "Low Value",
    }


def test_bad_threshold_vars_fail_with_a_clear_message(build_copy, dbt):
    db_path, target = build_copy
    result = dbt(
        ["build", "--select", "fct_customer_metrics"],
        db_path,
        target,
        variables={**NO_AUTOLOAD, "high_value_threshold": 100, "medium_value_threshold": 200},
        check=False,
    )
    assert result.returncode != 0
    assert "must be greater than medium_value_threshold" in result.stdout

    result = dbt(
        ["build", "--select", "fct_customer_metrics"],
        db_path,
        target,
        variables={**NO_AUTOLOAD, "high_value_threshold": "lots"},
        check=False,
    )
    assert result.returncode != 0
    assert "must be a non-negative number" in result.stdout


def test_bad_as_of_date_fails_with_a_clear_message(build_copy, dbt):
    db_path, target = build_copy
    result = dbt(
        ["build", "--select", "fct_customer_metrics"],
        db_path,
        target,
        variables={**NO_AUTOLOAD, "as_of_date": "01/03/2024"},
        check=False,
    )
    assert result.returncode != 0
    assert "as_of_date must be a date written YYYY-MM-DD" in result.stdout


def _failed_tests(stdout: str) -> set[str]:
    return set(re.findall(r"FAIL \d+ (\S+)", stdout))


def test_semantic_problems_fail_the_named_tests(build_copy, dbt):
    db_path, target = build_copy
    _execute(
        db_path,
        """
        insert into bronze.raw_transactions values
        ('{"transaction_id": "T001", "customer_id": "C009", "transaction_date": "2024-02-01",
           "amount": 10.00, "product_category": "Audio"}', now()::timestamp, 't', 't', 9),
        ('{"transaction_id": "T011", "customer_id": "C009", "transaction_date": "2024-02-01",
           "amount": -5.00, "product_category": "Audio"}', now()::timestamp, 't', 't', 10),
        ('{"transaction_id": "T012", "customer_id": "C009", "transaction_date": "2024-05-01",
           "amount": 5.00, "product_category": "Audio"}', now()::timestamp, 't', 't', 11),
        ('{"transaction_id": "T013", "customer_id": null, "transaction_date": "2024-02-01",
           "amount": 5.00, "product_category": "Audio"}', now()::timestamp, 't', 't', 12)
        """,
    )
    result = dbt(["build"], db_path, target, variables=NO_AUTOLOAD, check=False)
    assert result.returncode != 0
    assert _failed_tests(result.stdout) == {
        "unique_stg_transactions_transaction_id",
        "not_negative_stg_transactions_amount",
        "not_after_as_of_date_stg_transactions_transaction_date",
        "not_null_stg_transactions_customer_id",
    }
    # the failing rows are kept for the app to show
    dupes = _fetch(
        db_path,
        "select * from main_dbt_test__audit.unique_stg_transactions_transaction_id",
    )
    assert dupes == [("T001", 2)]
    negatives = _fetch(
        db_path,
        "select transaction_id from main_dbt_test__audit.not_negative_stg_transactions_amount",
    )
    assert negatives == [("T011",)]


def test_unreadable_values_fail_the_source_test(build_copy, dbt):
    db_path, target = build_copy
    _execute(
        db_path,
        """
        insert into bronze.raw_transactions values
        ('{"transaction_id": "T013", "customer_id": "C009", "transaction_date": "someday",
           "amount": "12,50", "product_category": "Audio"}', now()::timestamp, 't', 't', 12)
        """,
    )
    result = dbt(["build"], db_path, target, variables=NO_AUTOLOAD, check=False)
    assert result.returncode != 0
    assert _failed_tests(result.stdout) == {"raw_transactions_fields_are_readable"}
    rows = _fetch(
        db_path,
        "select _record_number from main_dbt_test__audit.raw_transactions_fields_are_readable",
    )
    assert rows == [(12,)]


def test_amounts_are_read_exactly_from_json(build_copy, dbt):
    """18-digit amounts survive (a DOUBLE would turn 9999999999999999.99 into 1e16)."""
    db_path, target = build_copy
    _execute(
        db_path,
        """
        insert into bronze.raw_transactions values
        ('{"transaction_id": "X1", "customer_id": "C1", "transaction_date": "2024-02-01",
           "amount": 9999999999999999.99}', now()::timestamp, 't', 't', 1),
        ('{"transaction_id": "X2", "customer_id": "C1", "transaction_date": "2024-02-01",
           "amount": "0.10"}', now()::timestamp, 't', 't', 2),
        ('{"transaction_id": "X3", "customer_id": "C1", "transaction_date": "2024-02-01",
           "amount": 1.005}', now()::timestamp, 't', 't', 3)
        """,
    )
    dbt(["run", "--select", "stg_transactions"], db_path, target, variables=NO_AUTOLOAD)
    amounts = dict(
        _fetch(
            db_path,
            "select transaction_id, cast(amount as varchar) from stg_transactions "
            "where transaction_id like 'X%'",
        )
    )
    assert amounts == {"X1": "9999999999999999.99", "X2": "0.10", "X3": "1.01"}


def test_the_largest_amounts_build_the_whole_mart_exactly(build_copy, dbt):
    """Ten amounts of 9999999999999999.99 (DECIMAL(18,2)'s largest) for one customer: the
    readability test passes (as text the JSON number reads '1e+16'), the average works
    on a total of 10^17 (64-bit cents would overflow), segment averages of such totals
    fit, and the app's KPIs add them up, all to the cent."""
    db_path, target = build_copy
    rows = ",\n".join(
        f"""('{{"transaction_id": "B{index}", "customer_id": "BIG", "transaction_date":
            "2024-02-0{index}", "amount": 9999999999999999.99, "product_category": "Audio"}}',
            now()::timestamp, 't', 't', {100 + index})"""
        for index in range(1, 10)
    )
    _execute(db_path, f"insert into bronze.raw_transactions values {rows}")
    _execute(
        db_path,
        """insert into bronze.raw_transactions values ('{"transaction_id": "B0",
        "customer_id": "BIG", "transaction_date": "2024-02-01", "amount": 9999999999999999.99,
        "product_category": "Audio"}', now()::timestamp, 't', 't', 100)""",
    )
    dbt(["build"], db_path, target, variables=NO_AUTOLOAD)  # every test passes
    big = _fetch(
        db_path,
        "select lifetime_value::varchar, avg_order_value::varchar, transaction_count "
        "from fct_customer_metrics where customer_id = 'BIG'",
    )
    assert big == [("99999999999999999.90", "9999999999999999.99", 10)]
    high = _fetch(
        db_path,
        "select avg_lifetime_value::varchar from fct_segment_behaviour "
        "where customer_segment = 'High Value'",
    )[0][0]
    values = [
        row[0]
        for row in _fetch(
            db_path,
            "select lifetime_value from fct_customer_metrics where customer_segment = 'High Value'",
        )
    ]
    expected = (sum(values) / len(values)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert len(values) > 1 and high == str(expected)
    sample_total = _fetch(
        db_path,
        "select sum(lifetime_value) from fct_customer_metrics where customer_id <> 'BIG'",
    )[0][0]

    from mart import insights

    kpis = insights.kpis(str(db_path))
    assert kpis.revenue == Decimal("99999999999999999.90") + sample_total

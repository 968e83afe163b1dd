"""mart.sandbox: one read at a time, plain refusals, bounded rows and time."""

from __future__ import annotations

import math
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mart import db, sandbox
from mart.errors import InputError, NotFoundError, SandboxError


def _refusal(mart_db: Path, sql: str) -> str:
    with pytest.raises(SandboxError) as caught:
        sandbox.run_sql(mart_db, sql)
    message = str(caught.value)
    assert "Traceback" not in message
    return message


def _unchanged(mart_db: Path) -> None:
    counts = db.query_df(
        mart_db,
        "select (select count(*) from main.fct_transactions) as transactions, "
        "(select count(*) from duckdb_tables() where not internal) as tables",
    )
    assert counts.transactions[0] == 6
    assert counts.tables[0] == 7


# -- refusals -----------------------------------------------------------------------

FILE_READS = [
    "select * from read_csv('{secret}')",
    "select * from read_csv_auto('{secret}')",
    "select * from read_text('{secret}')",
    "select * from read_blob('{secret}')",
    "select * from read_parquet('{secret}')",
    "select * from read_json_auto('{secret}')",
    "select * from parquet_scan('{secret}')",
    "select * from glob('{secret_dir}/*')",
    "select * from sniff_csv('{secret}')",
    "select * from '{secret}'",
    "from '/etc/passwd'",
    'select * from "{secret}"',
    "select count(*) from main.fct_transactions where 1 in (select 1 from read_text('{secret}'))",
    "with leak as (select * from read_csv('{secret}')) select * from leak",
    "explain analyze select * from read_text('{secret}')",
]


@pytest.mark.parametrize("sql", FILE_READS)
def test_file_reads_are_refused(mart_db: Path, secret_file: Path, sql: str) -> None:
    statement = sql.format(secret=secret_file, secret_dir=secret_file.parent)
    message = _refusal(mart_db, statement)
    assert message.startswith("Reading files is not allowed in the console")
    assert "hunter2" not in message
    # Refused before anything runs, too (the connection alone: tests/sandbox/test_db.py).
    with pytest.raises(SandboxError, match="Reading files is not allowed"):
        sandbox.check_sql(statement)


def test_file_read_hidden_from_the_parser_is_stopped_by_the_connection(
    mart_db: Path, secret_file: Path
) -> None:
    # query_table() takes a name as a string, which DuckDB resolves with a replacement
    # scan. The parser layer now refuses it by name; the locked connection, under it,
    # refuses the file read itself.
    hidden = f"select * from query_table('{secret_file}')"
    assert "takes a table's name as text" in _refusal(mart_db, hidden)
    with sandbox.cached_cursor(mart_db) as cursor, pytest.raises(duckdb.Error) as caught:
        cursor.sql(hidden).fetchall()
    assert "hunter2" not in str(caught.value)
    assert "file" in str(caught.value).lower() or "external" in str(caught.value).lower()


def test_sql_hidden_in_a_string_is_refused(mart_db: Path, secret_file: Path) -> None:
    message = _refusal(
        mart_db, f"select * from query('select * from read_text(''{secret_file}'')')"
    )
    assert message.startswith("query() is not allowed in the console")
    assert _refusal(mart_db, "select * from query('select 1')").startswith("query() is not")


@pytest.mark.parametrize(
    "sql",
    [
        "select * from checkpoint()",
        "select * from force_checkpoint()",
        "select * from enable_logging()",
        "select * from truncate_duckdb_logs()",
        "select write_log('x')",
        "select * from enable_profiling()",
        "select * from json_execute_serialized_sql(json_serialize_sql('select 1'))",
        "select count(*) from main.fct_transactions where 0 < (select count(*) from checkpoint())",
    ],
)
def test_side_effect_functions_are_refused(mart_db: Path, sql: str) -> None:
    assert _refusal(mart_db, sql).startswith("Only reads are allowed in the console")


@pytest.mark.parametrize(
    "sql",
    [
        "with gone as (delete from main.fct_transactions returning *) select * from gone",
        "with changed as (update main.fct_transactions set amount = 0 returning *) select 1",
    ],
)
def test_writes_hidden_in_a_select_are_refused(mart_db: Path, sql: str) -> None:
    assert _refusal(mart_db, sql).startswith("Writes are not allowed")
    _unchanged(mart_db)


@pytest.mark.parametrize(
    ("sql", "keyword"),
    [
        ("copy main.fct_transactions to '{secret_dir}/out.csv'", "COPY"),
        ("copy (select 1) to '{secret_dir}/out.parquet' (format parquet)", "COPY"),
        ("copy main.fct_transactions from '{secret}'", "COPY"),
        ("export database '{secret_dir}/export'", "EXPORT"),
        ("attach '{secret_dir}/other.duckdb' as other", "ATTACH"),
        ("attach ':memory:' as scratch", "ATTACH"),
        ("detach bronze", "DETACH"),
        ("install httpfs", "INSTALL"),
        ("force install httpfs", "FORCE"),
        ("load httpfs", "LOAD"),
        ("set enable_external_access = true", "SET"),
        ("set lock_configuration = false", "SET"),
        ("reset threads", "RESET"),
        ("set variable leak = 1", "SET"),
        ("pragma threads = 1", "PRAGMA"),
        ("use bronze", "USE"),
    ],
)
def test_admin_statements_are_refused(
    mart_db: Path, secret_file: Path, sql: str, keyword: str
) -> None:
    statement = sql.format(secret=secret_file, secret_dir=secret_file.parent)
    message = _refusal(mart_db, statement)
    assert message.startswith("ATTACH/INSTALL/LOAD/SET/COPY are not allowed in the console")
    assert f"({keyword} refused)" in message
    assert sorted(path.name for path in secret_file.parent.iterdir()) == [
        "mart.duckdb",
        "secret.csv",
    ]


@pytest.mark.parametrize(
    ("sql", "keyword"),
    [
        ("create table main.x as select 1 as a", "CREATE"),
        ("create temp table x as select 1 as a", "CREATE"),
        ("create or replace view main.fct_transactions as select 1 as a", "CREATE"),
        ("create macro m(a) as a", "CREATE"),
        ("insert into main.fct_transactions (transaction_id) values ('T9')", "INSERT"),
        ("update main.fct_customer_metrics set lifetime_value = 0", "UPDATE"),
        ("update main.fct_customer_metrics set lifetime_value = 0 returning *", "UPDATE"),
        ("delete from main.fct_transactions", "DELETE"),
        ("drop table main.fct_transactions", "DROP"),
        ("alter table main.fct_transactions rename to t", "ALTER"),
        ("  -- a comment first\n/* and another */ DROP TABLE main.fct_transactions", "DROP"),
        (
            "merge into main.fct_transactions as target using main.fct_transactions as source "
            "on target.transaction_id = source.transaction_id when matched then delete",
            "MERGE",
        ),
        ("with x as (select 1 as a) insert into main.t select a from x", "INSERT"),
        ("with x as (select 1 as a) delete from main.fct_transactions", "DELETE"),
    ],
)
def test_writes_are_refused(mart_db: Path, sql: str, keyword: str) -> None:
    message = _refusal(mart_db, sql)
    assert message.startswith("Writes are not allowed")
    assert f"({keyword} refused)" in message
    _unchanged(mart_db)


@pytest.mark.parametrize(
    "sql",
    [
        "pragma enable_profiling",
        "pragma disable_checkpoint_on_shutdown",
        "call pragma_version()",
        "checkpoint",
        "vacuum",
        "analyze",
        "begin transaction",
        "prepare leak as select 1",
        "explain delete from main.fct_transactions",
        "update extensions",
    ],
)
def test_other_non_reads_are_refused(mart_db: Path, sql: str) -> None:
    assert _refusal(mart_db, sql).startswith("Only reads are allowed in the console")


@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("select 1; select 2", 2),
        ("select 1; drop table main.fct_transactions", 2),
        ("select 1;\ndrop table main.fct_transactions;", 2),
        ("select 1 -- a comment; that ends here\n; drop table main.fct_transactions", 2),
        ("select 1; /* hidden */ drop table main.fct_transactions", 2),
        ("select 1;;select 2;;select 3", 3),
    ],
)
def test_one_statement_at_a_time(mart_db: Path, sql: str, count: int) -> None:
    message = _refusal(mart_db, sql)
    assert message.startswith("Only one statement at a time")
    assert f"{count} statements" in message
    _unchanged(mart_db)


@pytest.mark.parametrize("sql", ["", "   ", ";", "; ;", ";;\n;", "-- only a comment", "/* x */ ;"])
def test_empty_text_is_refused(mart_db: Path, sql: str) -> None:
    assert _refusal(mart_db, sql).startswith("Enter a SQL query")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select 1 as answer;", 1),
        ("select 1 as answer;;", 1),
        ("select 1 as answer; -- drop table main.fct_transactions", 1),
        ("select 1 as answer /* ; drop table main.fct_transactions */", 1),
        (
            "select ';drop table main.fct_transactions' as answer",
            ";drop table main.fct_transactions",
        ),
        ("select $$; drop table x$$ as answer", "; drop table x"),
        ("-- the answer\nselect 42 as answer", 42),
        # the tokenizer's offsets are bytes: text before the end that is not ASCII
        ("select 'é日本' as answer; -- 日本", "é日本"),
        ("select 'é日本;' as answer ;", "é日本;"),
        ("select '日本' || repeat('y', 3) as answer", "日本yyy"),
    ],
)
def test_semicolons_and_comments_inside_one_statement(
    mart_db: Path, sql: str, expected: object
) -> None:
    result = sandbox.run_sql(mart_db, sql)
    assert result.dataframe.answer.tolist() == [expected]
    _unchanged(mart_db)


def test_refusals_are_input_errors() -> None:
    # The command line exits 1 for an InputError: a refused query is the user's input.
    assert issubclass(SandboxError, InputError)


# -- what is accepted, and its results ----------------------------------------------


def test_select_returns_correct_values(mart_db: Path) -> None:
    result = sandbox.run_sql(
        mart_db,
        "select customer_id, lifetime_value from main.fct_customer_metrics "
        "order by lifetime_value desc",
    )
    assert result.columns == ["customer_id", "lifetime_value"]
    assert result.dataframe.customer_id.tolist() == ["C001", "C002", "C003"]
    assert result.row_count == 3
    assert not result.truncated
    assert result.notice is None
    assert 0 <= result.elapsed_s < 10


def test_csv_download_writes_lists_and_structs_as_query_prints_them(mart_db: Path) -> None:
    """The console's CSV held NumPy's text of a list with a NULL (`[1.5 nan --]`) and
    Python's of a struct (`{'a': None}`)."""
    result = sandbox.run_sql(
        mart_db,
        "select [1.5, 'nan'::double, null] as l, {'a': null::int, 'b': 'x'} as s, "
        "map {1: 2} as m, ['=1+1'] as f, null::int[] as n, 'plain' as t",
    )
    assert sandbox.result_csv(result).decode().splitlines() == [
        "l,s,m,f,n,t",
        '"[1.5, nan, null]","{""a"": null, ""b"": ""x""}","{""1"": 2}","[""=1+1""]",,plain',
    ]


def test_nan_and_infinity_are_told_from_null(mart_db: Path) -> None:
    """pandas holds NULL in a DOUBLE column as NaN: `select 'nan'::double` showed NULL.
    The frame now holds NULL as None beside NaN, in the query's order, and the grid
    shows such a column as text (NaN and inf drew NULL and an empty cell)."""
    result = sandbox.run_sql(
        mart_db,
        "select * from (values ('nan'::double, 3, null::float, 'inf'::double, 1.0::double),"
        " (null, 1, 2.5::float, 1.0, null), (1.5, 2, 'nan'::float, 2.0, 2.0)) t(x, y, z, w, v)"
        " order by y desc",
    )
    frame = result.dataframe
    assert list(frame["y"]) == [3, 2, 1]  # the query's order
    x = list(frame["x"])
    assert math.isnan(x[0]) and x[1] == 1.5 and x[2] is None
    assert frame["z"][0] is None and math.isnan(frame["z"][1]) and frame["z"][2] == 2.5
    assert list(frame["w"]) == [math.inf, 2.0, 1.0]
    assert list(frame["v"]) == [1.0, 2.0, None]  # NULL, no NaN: not a text column
    assert result.non_finite_columns == ("x", "z", "w")
    shown = sandbox.display_frame(result)
    assert [None if pd.isna(v) else v for v in shown["x"]] == ["nan", "1.5", None]
    assert list(shown["w"]) == ["inf", "2.0", "1.0"]
    assert list(shown["v"]) == [1.0, 2.0, None]
    assert sandbox.result_csv(result).decode().splitlines()[1:] == [
        "nan,3,,inf,1.0",
        "1.5,2,nan,2.0,2.0",
        ",1,2.5,1.0,",
    ]
    # a FLOAT (float32) column with a NULL keeps its own precision: 1.1, not the
    # 1.100000023841858 a Python float of it writes
    single = sandbox.run_sql(
        mart_db,
        "select * from (values (1.1::float, 1), (null, 2), ('nan'::float, 3)) t(f, k) order by k",
    )
    assert sandbox.result_csv(single).decode().splitlines()[1:] == ["1.1,1", ",2", "nan,3"]
    assert list(sandbox.display_frame(single)["f"])[::2] == ["1.1", "nan"]
    # duplicate names keep DuckDB's own renaming
    again = sandbox.run_sql(mart_db, "select 1 as a, 2.5::double as a, null::double as a")
    assert again.columns == ["a", "a_1", "a_2"] and list(again.dataframe.iloc[0]) == [1, 2.5, None]


def test_deeply_nested_expressions_are_refused_plainly(mart_db: Path) -> None:
    """400 nested calls raised RecursionError (Python's JSON reader) from run_sql: the
    CLI and the app showed "RecursionError: maximum recursion depth exceeded"."""
    message = _refusal(mart_db, "select " + "abs(" * 400 + "1" + ")" * 400)
    assert message.startswith("The query nests its expressions too deeply")
    assert (
        sandbox.run_sql(mart_db, "select " + "abs(" * 50 + "-1" + ")" * 50).dataframe.iloc[0, 0]
        == 1
    )


@pytest.mark.parametrize("function", ["parquet_full_metadata", "parquet_page_index"])
def test_every_parquet_file_function_is_refused(mart_db: Path, function: str) -> None:
    """Missing from the list, these reached DuckDB, which opened the mart's own file."""
    message = _refusal(mart_db, f"select * from {function}('{mart_db}')")
    assert message.startswith("Reading files is not allowed")


def test_cte_with_aggregates(mart_db: Path) -> None:
    result = sandbox.run_sql(
        mart_db,
        """
        with per_customer as (
            select customer_id, sum(amount) as spend, count(*) as orders
            from main.fct_transactions
            group by customer_id
        )
        select customer_id, spend, orders
        from per_customer
        order by spend desc
        """,
    )
    rows = [
        (customer, Decimal(str(spend)).quantize(Decimal("0.01")), orders)
        for customer, spend, orders in result.dataframe.itertuples(index=False)
    ]
    assert rows == [
        ("C001", Decimal("1200.50"), 3),
        ("C002", Decimal("450.00"), 2),
        ("C003", Decimal("80.25"), 1),
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "pivot main.fct_transactions on product_category using sum(amount)",
        "select * from (pivot main.fct_transactions on product_category using count(*))",
    ],
)
def test_a_pivot_without_its_values_says_how_to_write_it(mart_db: Path, sql: str) -> None:
    message = _refusal(mart_db, sql)
    assert message.startswith("A PIVOT must list its values") and "IN ('a', 'b')" in message


def test_a_pivot_with_its_values_runs(mart_db: Path) -> None:
    result = sandbox.run_sql(
        mart_db,
        "pivot main.fct_transactions on product_category in ('Audio', 'Books') using count(*)",
    )
    assert "Audio" in result.columns


def test_import_database_is_named_as_such(mart_db: Path, secret_file: Path) -> None:
    message = _refusal(mart_db, f"import database '{secret_file.parent}'")
    assert "(IMPORT refused)" in message and "PRAGMA" not in message


@pytest.mark.parametrize(
    ("sql", "first_column"),
    [
        ("from main.fct_customer_metrics", "customer_id"),
        ("values (1, 'a')", "col0"),
        ("show tables", "name"),
        ("show all tables", "database"),
        ("describe main.fct_transactions", "column_name"),
        ("summarize main.fct_transactions", "column_name"),
        ("pragma show_tables", "name"),
        ("pragma database_list", "seq"),
        ("pragma user_agent", "user_agent"),
        ("pragma table_info('main.fct_transactions')", "cid"),
        ("explain select * from main.fct_transactions", "explain_key"),
        ("explain analyze select count(*) from main.fct_transactions", "explain_key"),
        ("(select 1 as a) union all (select 2)", "a"),
        ("select * from duckdb_settings() where name = 'lock_configuration'", "name"),
        ("select current_setting('enable_external_access') as setting", "setting"),
    ],
)
def test_read_shorthands_are_accepted(mart_db: Path, sql: str, first_column: str) -> None:
    result = sandbox.run_sql(mart_db, sql)
    assert result.columns[0] == first_column
    assert result.row_count >= 1


def test_types_numpy_cannot_hold_still_come_back(mart_db: Path) -> None:
    biggest = 2**128 - 1
    result = sandbox.run_sql(mart_db, f"select {biggest}::uhugeint as u")
    assert result.dataframe.iloc[0]["u"] == biggest


def test_sql_errors_keep_duckdbs_message(mart_db: Path) -> None:
    syntax = _refusal(mart_db, "selec * from main.fct_transactions")
    assert syntax.startswith("Parser Error: syntax error")
    missing = _refusal(mart_db, "select * from main.no_such_table")
    assert missing.startswith("Catalog Error") and "no_such_table" in missing
    column = _refusal(mart_db, "select no_such_column from main.fct_transactions")
    assert column.startswith("Binder Error") and "no_such_column" in column
    conversion = _refusal(mart_db, "select cast('abc' as integer)")
    assert conversion.startswith("Conversion Error")


@pytest.mark.parametrize(
    ("sql", "line"),
    [
        ("select 'abc'::int", 1),
        ("select 1,\n'abc'::int", 2),
        ("\n\n  select 1,\n 'abc'::int", 4),
        ("-- first\nselect 1 as a -- c\n, 'abc'::int;", 3),
        ("select 1 as a\nfrom main.fct_transactions\nwhere 'abc'::int = 1", 3),
    ],
)
def test_an_error_while_running_names_the_users_line(mart_db: Path, sql: str, line: int) -> None:
    """The row limit wraps the query in two more lines; errors found while it runs
    (a conversion) said LINE 3 for line 1."""
    message = _refusal(mart_db, sql)
    assert message.startswith("Conversion Error")
    assert f"LINE {line}: " in message, message
    shown = message.split(f"LINE {line}: ", 1)[1].splitlines()[0]
    assert "'abc'::int" in shown  # the line it names is the one with the cast
    syntax = _refusal(mart_db, "select 1,\n\n  2 +")  # found by the parser: untouched
    assert "LINE 3:" in syntax or "end of input" in syntax


def test_decimal_columns_come_with_their_scale(mart_db: Path) -> None:
    result = sandbox.run_sql(
        mart_db,
        "select 1.5::decimal(18, 2) as money, 0.25::decimal(9, 4) as share, "
        "0.5::double as ratio, 'x' as name",
    )
    assert result.decimal_places == {"money": 2, "share": 4}
    assert sandbox.run_sql(mart_db, "select 1 as n").decimal_places == {}


def test_date_columns_are_named_for_the_page(mart_db: Path) -> None:
    """The console showed a DATE as 2024-01-15 00:00:00: the frame holds a timestamp at
    midnight, so the result names its DATE columns (a TIMESTAMP is not one)."""
    result = sandbox.run_sql(
        mart_db,
        "select date '2024-01-15' as day, timestamp '2024-01-15 10:00' as moment, 1 as n",
    )
    assert result.date_columns == ("day",)
    assert sandbox.run_sql(mart_db, "select 1 as n").date_columns == ()


def test_a_byte_limit_cuts_long_text_rows_and_says_so(mart_db: Path) -> None:
    sql = "select repeat('x', 1000) as s, range as n from range(100)"
    result = sandbox.run_sql(mart_db, sql, max_bytes=50_000)
    assert result.truncated and 40 <= result.row_count <= 50
    assert result.dataframe["n"].tolist() == list(range(result.row_count))  # the first rows
    assert result.notice and "MB" in result.notice and "Select fewer" in result.notice
    assert not sandbox.run_sql(mart_db, sql).truncated  # no byte limit by default
    assert not sandbox.run_sql(mart_db, sql, max_bytes=10_000_000).truncated


def test_advice_to_change_a_setting_is_replaced(mart_db: Path) -> None:
    """DuckDB suggests SET max_expression_depth, which the console refuses."""
    deep = "select " + "+".join(["(1"] * 1200) + ")" * 1200
    message = _refusal(mart_db, deep)
    assert "expression depth" in message and "SET max_expression_depth" not in message
    assert "Settings cannot be changed in the console" in message


def test_missing_database_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        sandbox.run_sql(tmp_path / "nothing.duckdb", "select 1")


def test_statement_leaves_no_state_behind(mart_db: Path) -> None:
    # Each query runs on a fresh cursor: a refused USE could not change the schema, and
    # the next query still resolves unqualified names in main.
    _refusal(mart_db, "use bronze")
    assert (
        sandbox.run_sql(mart_db, "select count(*) as n from fct_transactions").dataframe.n[0] == 6
    )


# -- limits -------------------------------------------------------------------------


def test_row_limit_cuts_and_says_so(mart_db: Path) -> None:
    result = sandbox.run_sql(mart_db, "select * from main.big_20k order by id desc")
    assert result.row_count == 10_000
    assert len(result.dataframe) == 10_000
    assert result.truncated
    assert result.notice is not None and "10,000" in result.notice
    # The rows kept are the first ones in the query's order.
    assert result.dataframe.id.iloc[0] == 19_999
    assert result.dataframe.id.iloc[-1] == 10_000


def test_result_at_the_limit_is_not_cut(mart_db: Path) -> None:
    result = sandbox.run_sql(mart_db, "select * from main.big_10k")
    assert result.row_count == 10_000
    assert not result.truncated
    assert result.notice is None


def test_row_limit_is_a_parameter(mart_db: Path) -> None:
    result = sandbox.run_sql(mart_db, "select * from main.big_10k order by id", row_limit=25)
    assert result.row_count == 25 and result.truncated
    assert result.dataframe.id.tolist() == list(range(25))
    with pytest.raises(SandboxError):
        sandbox.run_sql(mart_db, "select 1", row_limit=0)


@pytest.mark.timeout(60)  # without the time limit the query would run for hours
def test_time_limit_interrupts_a_slow_query(mart_db: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(SandboxError, match=r"took longer than 0.5 s and was stopped"):
        sandbox.run_sql(
            mart_db,
            "select count(*) from range(1000000) as a, range(1000000) as b",
            timeout_s=0.5,
        )
    assert time.perf_counter() - started < 3.0
    # The connection is usable straight after.
    assert sandbox.run_sql(mart_db, "select 42 as answer").dataframe.answer[0] == 42


def test_fast_query_is_not_interrupted_later(mart_db: Path) -> None:
    for _ in range(3):
        assert sandbox.run_sql(mart_db, "select 1 as a", timeout_s=0.05).dataframe.a[0] == 1
    time.sleep(0.1)  # a stray timer must not hit the next query
    assert sandbox.run_sql(mart_db, "select 2 as a").dataframe.a[0] == 2


# -- sidebar and examples -----------------------------------------------------------


def test_list_relations(mart_db: Path) -> None:
    relations = {(item.schema, item.name): item for item in sandbox.list_relations(mart_db)}
    assert set(relations) == {
        ("main", "fct_customer_metrics"),
        ("main", "fct_transactions"),
        ("main", "fct_cohort_retention"),
        ("main", "fct_segment_behaviour"),
        ("main", "dim_customers"),
        ("main", "big_20k"),
        ("main", "big_10k"),
        ("bronze", "raw_transactions"),
    }
    assert relations[("main", "big_20k")].type == "table"
    assert relations[("main", "big_20k")].row_count == 20_000
    assert relations[("main", "dim_customers")].type == "view"
    assert relations[("main", "dim_customers")].row_count is None
    assert sandbox.list_relations(mart_db)[0].schema == "main"


@pytest.mark.parametrize("title", list(sandbox.EXAMPLE_QUERIES))
def test_example_queries_are_accepted_reads(mart_db: Path, title: str) -> None:
    sql = sandbox.EXAMPLE_QUERIES[title]
    assert sandbox.check_sql(sql) == "SELECT"
    result = sandbox.run_sql(mart_db, sql)
    assert result.row_count >= 1


def test_example_query_values(mart_db: Path) -> None:
    top = sandbox.run_sql(mart_db, sandbox.EXAMPLE_QUERIES["Top 10 customers by lifetime value"])
    assert top.dataframe.customer_id.tolist() == ["C001", "C002", "C003"]
    monthly = sandbox.run_sql(mart_db, sandbox.EXAMPLE_QUERIES["Monthly revenue"]).dataframe
    assert [round(float(value), 2) for value in monthly.revenue] == [1200.0, 200.5, 330.25]
    segments = sandbox.run_sql(mart_db, sandbox.EXAMPLE_QUERIES["Customers and revenue by segment"])
    # the mart's exact averages, DECIMAL to the cent (round(avg()) went through DOUBLE)
    assert segments.dataframe.customer_segment.tolist() == [
        "High Value",
        "Medium Value",
        "Low Value",
    ]
    assert segments.decimal_places["avg_lifetime_value"] == 2


def test_rows_past_the_limit_are_never_computed(mart_db: Path) -> None:
    # The statement is wrapped in a LIMIT, so DuckDB stops producing rows soon after
    # row_limit + 1; materialising the whole result would reach the error() rows.
    sql = (
        "select case when range < 500000 then range else error('computed past the limit') end "
        "as id from range(2000000)"
    )
    result = sandbox.run_sql(mart_db, sql)
    assert result.truncated and result.row_count == 10_000


WIDE = (
    "select 99999999999999.99::decimal(18, 2) as money, "
    "1234567890123456.78::decimal(18, 2) as biggest, "
    "123456789012345678901234567890::hugeint as huge, "
    "9007199254740993::bigint as past_2_53, "
    "12345678901234.56::decimal(18, 2) as past_15_digits, "
    "12.5::decimal(18, 2) as small, 0.1::double as ratio"
)


def test_values_a_float_cannot_hold_come_exactly(mart_db: Path) -> None:
    """A float holds about 15 digits: 99999999999999.99 would come back as
    100000000000000.00. Those columns hold exact Decimal and int objects instead."""
    result = sandbox.run_sql(mart_db, WIDE + " union all select 1, 2, null, null, 4, 3, 0.5")
    frame = result.dataframe
    assert set(result.exact_columns) == {"money", "biggest", "huge", "past_15_digits"}
    assert frame["past_15_digits"].iloc[0] == Decimal("12345678901234.56")
    assert list(frame["money"]) == [Decimal("99999999999999.99"), Decimal("1.00")]
    assert frame["biggest"].iloc[0] == Decimal("1234567890123456.78")
    assert frame["huge"].iloc[0] == 123456789012345678901234567890 and frame["huge"].iloc[1] is None
    assert frame["past_2_53"].iloc[0] == 9007199254740993  # pandas' Int64: exact already
    assert frame["small"].dtype.kind == "f"  # small values stay floats (fast, exact)
    assert result.decimal_places == {"money": 2, "biggest": 2, "past_15_digits": 2, "small": 2}
    # for a browser grid (floats), the exact columns are their exact text
    shown = sandbox.display_frame(result)
    assert list(shown["money"]) == ["99999999999999.99", "1.00"]
    assert list(shown["huge"]) == ["123456789012345678901234567890", None]
    assert shown["small"].dtype.kind == "f"
    # a result of small values is not fetched twice and has no exact columns
    plain = sandbox.run_sql(mart_db, "select 12.5::decimal(18, 2) as a, 2::hugeint as b")
    assert plain.exact_columns == () and sandbox.display_frame(plain) is plain.dataframe


def test_out_of_memory_is_said_plainly() -> None:
    """The read connection's memory_limit and max_temp_directory_size stop a huge query;
    DuckDB's advice to raise them (a SET, refused here) is not shown."""
    error = duckdb.OutOfMemoryException(
        "Out of Memory Error: failed to offload data block of size 256.0 KiB (3.7 GiB/3.7 GiB "
        "used).\nThis limit was set by the 'max_temp_directory_size' setting.\nYou can adjust "
        "this setting, by using (for example) PRAGMA max_temp_directory_size = '10GiB'"
    )
    message = sandbox._plain(error)
    assert message == sandbox.MSG_MEMORY and "PRAGMA" not in message and "2 GB" in message


# -- bounds outside DuckDB's limits (text length, nested values, long text) ---------------


def test_a_very_long_query_text_is_refused_before_it_is_planned(mart_db: Path) -> None:
    """DuckDB plans a statement without checking for an interrupt: a chain of 20,000
    UNION ALLs took 82 s and 10.7 GB before the time limit could stop it."""
    chain = "select 1 " + " ".join(["union all select 1"] * 20_000)
    started = time.perf_counter()
    message = _refusal(mart_db, chain)
    assert time.perf_counter() - started < 5  # refused on its length, not stopped late
    assert f"{len(chain):,} characters long" in message
    assert f"{sandbox.MAX_SQL_CHARS:,}" in message
    # Just under the limit still runs, and is right.
    fits = "select 1 as n " + " ".join(["union all select 1"] * 3_000)
    assert len(fits) <= sandbox.MAX_SQL_CHARS
    result = sandbox.run_sql(mart_db, fits)
    assert result.row_count == 3_001 and set(result.dataframe.n) == {1}


def test_a_result_with_huge_lists_is_refused_before_python_gets_it(mart_db: Path) -> None:
    """list(range(10^8)) took over 8 GB as Python objects, outside DuckDB's memory and
    time limits; 10 million values took 29 s to print."""
    message = _refusal(mart_db, "select list(range) as l from range(10000000)")
    assert "about 80 MB of list, struct or map values" in message  # 10^7 int64 values
    assert "Unnest or aggregate" in message
    # Lists of a sensible size come back whole, next to other columns.
    result = sandbox.run_sql(
        mart_db, "select range as n, list_value(range, range + 1) as pair from range(5000)"
    )
    assert result.row_count == 5_000
    assert list(result.dataframe.pair[4999]) == [4999, 5000]
    structs = sandbox.run_sql(mart_db, "select {'a': 1, 'b': 'x'} as s")
    assert structs.dataframe.s[0] == {"a": 1, "b": "x"}
    # Measured inside DuckDB, through every kind of nesting: text in a list, a list in
    # a struct, a map, a fixed-size array.
    for sql in (
        "select [repeat('x', 20000000)] as l",
        "select {'q''s': range(3000000)} as s",
        "select map([1], [range(3000000)]) as m",
        "select range(100000)::BIGINT[100000] as a from range(25)",
    ):
        assert "Unnest or aggregate" in _refusal(mart_db, sql), sql
    mixed = sandbox.run_sql(
        mart_db, "select map([1], [2]) as m, [[1, 2], [3]] as ll, {'q''s': ['x']} as s"
    )
    assert mixed.dataframe.s[0] == {"q's": ["x"]}


def test_a_huge_list_is_refused_without_python_holding_it(mart_db: Path) -> None:
    """select list(range) over 10^8 rows: the size is summed in DuckDB (about 0.8 GB
    there, under its memory limit), and Python never receives the list."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message = _refusal(mart_db, "select list(range) as l from range(100000000)")
    assert "about 800 MB of list, struct or map values" in message
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 2500, f"the process grew by {grown_mb:.0f} MB"


def test_the_console_cuts_very_long_values_and_says_so(mart_db: Path) -> None:
    """One 100 MB value crashed the browser tab: the console (max_bytes set) cuts text
    longer than MAX_CELL_CHARS; the command line (no max_bytes) keeps it whole."""
    limit = sandbox.MAX_CELL_CHARS
    sql = f"select repeat('x', {limit + 5}) as long, repeat('y', {limit}) as fits, 7 as n"
    result = sandbox.run_sql(mart_db, sql, max_bytes=100_000_000)
    row = result.dataframe.iloc[0]
    assert row["long"] == "x" * limit + "…"
    assert row["fits"] == "y" * limit and row["n"] == 7
    assert result.notice and f"Values longer than {limit:,} characters are cut" in result.notice
    assert "(1 in the result" in result.notice
    # Rows cut for size as well: both are said (the size notice used to replace this one).
    many = sandbox.run_sql(
        mart_db,
        f"select repeat('y', {2 * limit}) as s, i from range(3000) t(i)",
        max_bytes=20_000_000,
    )
    assert many.truncated and many.row_count < 3000
    assert many.notice.startswith(f"Showing the first {many.row_count:,} rows")
    assert "after cutting long ones" in many.notice
    assert "(3,000 in the result" in many.notice
    whole = sandbox.run_sql(mart_db, sql)
    assert whole.dataframe["long"][0] == "x" * (limit + 5) and whole.notice is None


def test_spreadsheet_safe_quotes_text_a_spreadsheet_would_run() -> None:
    """The console's CSV download: =HYPERLINK(...) from the data must not become a live
    formula in Excel. Numbers, including negative ones, stay numbers."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "customer_id": ['=HYPERLINK("http://evil","x")', "+1", "-cmd", "@sum", "C001", None],
            "amount": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    safe = sandbox.spreadsheet_safe(frame)
    assert safe.customer_id.tolist()[:5] == [
        '\'=HYPERLINK("http://evil","x")',
        "'+1",
        "'-cmd",
        "'@sum",
        "C001",
    ]
    assert pd.isna(safe.customer_id[5])
    assert safe.amount.tolist() == frame.amount.tolist()
    assert frame.customer_id[0].startswith("=")  # the original is left alone


def test_maps_with_number_keys_are_shown_as_text(mart_db: Path) -> None:
    """Arrow takes only text map keys: the grid's conversion failed with a traceback in
    the server log before Streamlit fell back."""
    import pyarrow as pa

    result = sandbox.run_sql(mart_db, "select map([1], [2]) as m, {'a': 1} as s, [1, 2] as l")
    shown = sandbox.display_frame(result)
    assert (shown.m[0], shown.s[0], shown.l[0]) == ('{"1": 2}', '{"a": 1}', "[1, 2]")
    pa.Table.from_pandas(shown)  # what st.dataframe does; raised ArrowTypeError before


def test_lists_and_structs_show_nan_null_and_infinity_as_text(mart_db: Path) -> None:
    """The grid drew [1.5, nan, NULL, -inf] as pills 1.5, (empty), 0, (empty): NumPy's
    masked filler for the NULL. A struct of NaN and NULL was drawn as {}."""
    result = sandbox.run_sql(
        mart_db,
        "select [1.5, 'nan'::double, null, '-inf'::double] as l, "
        "{'a': 'nan'::double, 'b': null::double} as s union all select null, null",
    )
    shown = sandbox.display_frame(result)
    assert shown.l[0] == "[1.5, nan, null, -inf]" and pd.isna(shown.l[1])
    assert shown.s[0] == '{"a": nan, "b": null}' and pd.isna(shown.s[1])


def test_names_copied_from_the_app_with_zero_width_spaces_still_run(mart_db: Path) -> None:
    """The sidebar and Docs break long names after underscores with U+200B; pasted into
    the console, "customer_\u200bsegment" was a syntax error."""
    result = sandbox.run_sql(
        mart_db, "select customer_\u200bsegment from fct_\u200bcustomer_\u200bmetrics"
    )
    assert result.row_count == 3 and result.columns == ["customer_segment"]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select ['café'] as v", ["café"]),
        ("select {'name': 'Zoë'} as v", {"name": "Zoë"}),
        ("select map(['ü'], [1]) as v", {"ü": 1}),
        ("select ['a\\x', 'b''c'] as v", ["a\\x", "b'c"]),
    ],
)
def test_nested_values_with_any_text_pass_the_size_check(
    mart_db: Path, sql: str, expected: object
) -> None:
    """The size check cast text to BLOB to count its bytes, which refuses a non-ASCII
    character or a backslash: ['café'] failed with a conversion error that showed the
    check's own SQL."""
    value = sandbox.run_sql(mart_db, sql).dataframe.v[0]
    shown = dict(value) if isinstance(value, dict) else value
    if not isinstance(expected, dict):
        shown = list(shown)
    elif not isinstance(shown, dict):  # a MAP comes back as key/value pairs
        shown = dict(zip(shown["key"], shown["value"], strict=True))
    assert shown == expected


def test_the_size_check_counts_bytes_of_non_ascii_text(mart_db: Path) -> None:
    """9 million 'é' are 18 MB of UTF-8: over the 16 MB limit, though 9 million characters."""
    with pytest.raises(SandboxError, match="about 18 MB"):
        sandbox.run_sql(mart_db, "select [repeat('é', 9000000)] as v")
    assert sandbox.run_sql(mart_db, "select [repeat('e', 9000000)] as v").row_count == 1


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        ("select 1 -- caf\udce9", "byte 0xE9 on line 1"),
        ("select 1\n, 'x\udc80' as y", "byte 0x80 on line 2"),
    ],
)
def test_sql_that_is_not_utf8_is_refused_with_a_plain_message(
    mart_db: Path, sql: str, where: str
) -> None:
    """Bytes that are not UTF-8 (a Latin-1 .sql file piped to ``query -``) reach Python
    as lone surrogates; the SQL parser raised a TypeError (an "internal error")."""
    with pytest.raises(SandboxError, match=where) as refused:
        sandbox.run_sql(mart_db, sql)
    assert "Save it as UTF-8" in str(refused.value)


def test_a_wide_result_comes_back_in_fewer_rows(mart_db: Path) -> None:
    """10,000 rows of a 6,000-column result are 60 million values: `query` took minutes
    and gigabytes to print them. At most MAX_CELLS values come back, the rows cut to
    fit, with a notice saying why; a narrow result keeps the row limit."""
    width = 1_000
    sql = "select " + ", ".join(f"i + {k} as c{k}" for k in range(width)) + " from range(5000) t(i)"
    result = sandbox.run_sql(mart_db, sql)
    fit = sandbox.MAX_CELLS // width
    assert result.row_count == fit < 5000 and result.truncated
    assert result.dataframe.shape == (fit, width)
    assert int(result.dataframe["c999"].iloc[-1]) == fit - 1 + 999
    assert result.notice == (
        f"Showing the first {fit:,} rows: the result has more, and with 1,000 columns at "
        f"most {sandbox.MAX_CELLS:,} values come back at once. Select fewer columns, or add "
        "a WHERE or a LIMIT."
    )
    # exactly as many rows as fit: nothing cut, no notice
    exact = sql.replace("range(5000)", f"range({fit})")
    whole = sandbox.run_sql(mart_db, exact)
    assert (whole.row_count, whole.truncated, whole.notice) == (fit, False, None)
    # a smaller row limit still wins, with its own notice
    few = sandbox.run_sql(mart_db, sql, row_limit=10)
    assert few.row_count == 10 and few.notice.startswith(
        "Showing the first 10 rows: the result has more and"
    )


def test_a_huge_list_inside_a_union_is_refused(mart_db: Path) -> None:
    """A UNION's value counted 8 bytes: a 24 MB list inside one went past the size check
    and took the app 17 s to show and 12 s to write as CSV."""
    message = _refusal(mart_db, "select union_value(k := range(3000000)) as u")
    assert "about 24 MB of list, struct or map values" in message
    small = sandbox.run_sql(mart_db, "select union_value(k := [1, 2]) as u, 1 as n")
    assert small.row_count == 1


def test_a_list_larger_when_fetched_than_when_measured_is_refused(mart_db: Path) -> None:
    """The size is summed in DuckDB by a query of its own: one whose values differ
    between the two runs (current_query(), random()) passed it small and came back
    large. What came back is counted too."""
    sql = (
        "select case when current_query() like '%' || 'coalesce(su' || 'm(%' "
        "then [] else range(3000000) end as l"
    )
    message = _refusal(mart_db, sql)
    assert "more than the 16 MB of list, struct or map values" in message


@pytest.mark.parametrize(
    "sql",
    [
        "select * from query_table('fct_customer_metrics')",
        "select * from histogram('fct_customer_metrics', lifetime_value)",
        "select * from histogram_values('fct_customer_metrics', lifetime_value)",
    ],
)
def test_table_functions_taking_a_name_as_text_are_refused(mart_db: Path, sql: str) -> None:
    """query_table('/path/mart.duckdb') opened the mart's own file, and a glob listed the
    spill folder, before DuckDB's lock refused: a table named by text may be a path."""
    message = _refusal(mart_db, sql)
    assert "takes a table's name as text, which may be a file's path" in message


def test_decimals_and_wide_integers_inside_lists_stay_exact(mart_db: Path) -> None:
    """A list of DECIMALs reached pandas as floats: [33.41, 136.9], [1e+16]."""
    from mart.values import nested_text

    result = sandbox.run_sql(
        mart_db,
        "select [9999999999999999.99::decimal(18,2), 136.90] as d, "
        "[170141183460469231731687303715884105727::hugeint] as h, "
        "map {'a': 1.50::decimal(4,2)} as m",
    )
    row = result.dataframe.iloc[0]
    assert nested_text(row["d"]) == "[9999999999999999.99, 136.90]"
    assert nested_text(row["h"]) == "[170141183460469231731687303715884105727]"
    # a map's value is exact, but DuckDB's JSON of it drops the scale's trailing zero
    assert nested_text(row["m"]) == '{"a": 1.5}'


def test_bits_and_blobs_are_text_and_cut_in_the_console(mart_db: Path) -> None:
    """'101'::bit printed DuckDB's inner bytes (\\x05fd); the console's CSV wrote a BLOB
    as bytearray(b'ab\\x00'), and a 25 MB BLOB went to the browser whole."""
    plain = sandbox.run_sql(mart_db, "select '101'::bit as t")
    assert plain.dataframe.iloc[0]["t"] == "101"
    console = sandbox.run_sql(
        mart_db,
        "select repeat('x', 25000000)::blob as b, 'ab\\x00'::blob as c",
        max_bytes=20_000_000,
    )
    big, small = console.dataframe.iloc[0]["b"], console.dataframe.iloc[0]["c"]
    assert small == "\\x616200"
    assert big.startswith("\\x7878") and big.endswith("…") and len(big) <= 10_001
    assert "1 in the result" in console.notice or "2 in the result" in console.notice
    assert sandbox.result_csv(console).decode().splitlines()[1].endswith(",\\x616200")


def test_a_carriage_return_in_a_value_is_quoted_in_csv(mart_db: Path) -> None:
    """pandas quotes a field holding its line ending only: a\\rb went out bare, and a
    CSV reader read it as two lines."""
    import csv
    import io

    from mart.cli_query import format_csv

    result = sandbox.run_sql(mart_db, "select 'a' || chr(13) || 'b' as r, 2 as n")
    for text in (sandbox.result_csv(result).decode(), format_csv(["r", "n"], [["a\rb", 2]])):
        assert list(csv.reader(io.StringIO(text, newline=""))) == [["r", "n"], ["a\rb", "2"]]


def test_the_result_carries_the_query_s_own_column_types(mart_db: Path) -> None:
    """query described the raw text again for the types: a DESCRIBE of ';select …'
    failed, and 12.50 printed as 12.5, a date as a timestamp."""
    result = sandbox.run_sql(mart_db, ";select 12.50::decimal(10,2) as d, '2024-01-15'::date as dt")
    assert result.column_types == ("DECIMAL(10,2)", "DATE")


def test_a_type_numpy_cannot_hold_leaves_the_other_columns_alone(mart_db: Path) -> None:
    """A UHUGEINT column made the whole result Python objects: an interval beside it
    printed as "360 days, 0:00:00", a TIMESTAMP_NS lost its nanoseconds, infinity
    became 9999-12-31."""
    from mart.cli_query import result_rows

    result = sandbox.run_sql(
        mart_db,
        "select interval '1 year' as i, 340282366920938463463374607431768211455::uhugeint as u,"
        " '2024-01-01 10:00:00.123456789'::timestamp_ns as ns, 'infinity'::timestamp as ts",
    )
    [row] = result_rows(result.dataframe, list(result.column_types))
    assert row == [
        "1 year",
        340282366920938463463374607431768211455,
        "2024-01-01T10:00:00.123456789",
        "infinity",
    ]


def test_an_infinite_date_is_a_value_not_an_error(mart_db: Path) -> None:
    """select 'infinity'::date failed with "Could not convert DATE (infinity) to
    microseconds"."""
    from mart.cli_query import result_rows

    result = sandbox.run_sql(mart_db, "select 'infinity'::date as d, '2024-01-15'::date as e")
    assert result_rows(result.dataframe, list(result.column_types)) == [["infinity", "2024-01-15"]]
    assert result.date_columns == ()  # text now: the console does not draw it as a date


@pytest.mark.parametrize(
    "sql",
    [
        "explain (format json) select 1",
        "explain (analyze) select 1",
        "EXPLAIN /* why */ ANALYZE select 1",
        "explain\n-- a note\nanalyse select 1",
    ],
)
def test_explain_with_options_or_comments_is_accepted(mart_db: Path, sql: str) -> None:
    """These are valid DuckDB; they were refused with a syntax error quoting text the
    user never typed ('at or near "format"')."""
    result = sandbox.run_sql(mart_db, sql)
    assert result.row_count >= 1
    write = sql.replace("select 1", "delete from fct_customer_metrics")
    assert "refused" in _refusal(mart_db, write)


def test_zero_width_spaces_are_kept_inside_string_literals(mart_db: Path) -> None:
    """They are dropped from names copied from the app (stg_<ZWSP>events), but were
    dropped inside literals too: 'a<ZWSP>b' = 'ab' was true."""
    zw = "\u200b"
    result = sandbox.run_sql(
        mart_db,
        f"select length('a{zw}b') as n, 'a{zw}b' = 'ab' as same, $$x{zw}$$ as d, "
        f"count(*) as c from fct_{zw}customer_metrics",
    )
    row = result.dataframe.iloc[0]
    assert (int(row["n"]), bool(row["same"]), row["d"]) == (3, False, f"x{zw}")


def test_exact_lists_come_from_the_same_run_as_their_rows(tmp_path: Path) -> None:
    """Lists of DECIMALs were fetched again and pasted beside the first run's rows: a
    GROUP BY without ORDER BY gave its rows in another order, and every customer got
    another customer's amounts. Lists of UHUGEINT failed; a list of 1.1 million
    DECIMALs (8.8 MB) was refused as over 16 MB."""
    path = tmp_path / "groups.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table tx as select (range % 2000)::varchar as customer_id, "
            "((range % 2000) * 1.00)::decimal(18,2) as amount from range(400000)"
        )
    for _ in range(3):
        frame = sandbox.run_sql(
            path, "select customer_id, list(amount) as amounts from tx group by customer_id"
        ).dataframe
        wrong = [
            customer
            for customer, amounts in zip(frame["customer_id"], frame["amounts"], strict=True)
            if {str(amount) for amount in amounts} != {f"{int(customer)}.00"}
        ]
        assert wrong == []
    row = sandbox.run_sql(path, "select [1::uhugeint] as u, [2::bignum] as b").dataframe.iloc[0]
    assert (list(row["u"]), list(row["b"])) == ([1], [2])
    big = sandbox.run_sql(path, "select list(range::decimal(18,2)) as l from range(1100000)")
    assert len(big.dataframe.iloc[0]["l"]) == 1_100_000


def test_zero_width_spaces_after_an_apostrophe_in_a_comment_are_dropped(mart_db: Path) -> None:
    """-- don't opened a "literal" that kept the zero-width space of the name after it."""
    result = sandbox.run_sql(mart_db, "-- don't\nselect i_\u200bx from (select 1 as i_x)")
    assert int(result.dataframe.iloc[0, 0]) == 1

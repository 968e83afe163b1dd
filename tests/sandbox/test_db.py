"""mart.db: every read connection is read-only, locked and unable to touch files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mart import db, money
from mart.errors import InputError, NotFoundError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _refused(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    with pytest.raises(duckdb.Error) as caught:
        con.execute(sql).fetchall()
    return str(caught.value)


# -- the configuration alone (no sandbox checks in front of it) ------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_csv('{secret}')",
        "select * from read_csv_auto('{secret}')",
        "select * from read_text('{secret}')",
        "select * from read_blob('{secret}')",
        "select * from read_json('{secret}')",
        "select * from read_parquet('{secret}')",
        "select * from glob('{secret_dir}/*')",
        "select * from sniff_csv('{secret}')",
        "copy (select 1) to '{secret_dir}/out.csv'",
        "copy main.fct_transactions from '{secret}'",
        "attach '{secret_dir}/other.duckdb' as other",
        "export database '{secret_dir}/export'",
    ],
)
def test_connection_cannot_touch_files(mart_db: Path, secret_file: Path, sql: str) -> None:
    statement = sql.format(secret=secret_file, secret_dir=secret_file.parent)
    with db.connect_readonly(mart_db) as con:
        message = _refused(con, statement)
    assert "disabled by configuration" in message or "Permission" in message, message
    assert not (secret_file.parent / "out.csv").exists()
    assert not (secret_file.parent / "other.duckdb").exists()
    assert not (secret_file.parent / "export").exists()


def test_replacement_scans_are_off(mart_db: Path, secret_file: Path) -> None:
    local_frame = pd.DataFrame({"x": [1]})  # noqa: F841 (DuckDB would find it by name)
    with db.connect_readonly(mart_db) as con:
        scan = _refused(con, f"select * from '{secret_file}'")
        assert "disabled by configuration" in scan or "does not exist" in scan, scan
        assert "does not exist" in _refused(con, "select * from '/etc/passwd'")
        assert "does not exist" in _refused(con, "select * from local_frame")
        assert "getenv" in _refused(con, "select getenv('HOME')")


def test_every_option_is_in_force(mart_db: Path) -> None:
    with db.connect_readonly(mart_db) as con:
        settings = dict(
            con.sql(
                "select name, value from duckdb_settings() where name in $names",
                params={"names": list(db.READ_CONFIG)},
            ).fetchall()
        )
    assert settings == {
        "enable_external_access": "false",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "allow_community_extensions": "false",
        "allow_extension_repositories": "forbidden",
        "allow_persistent_secrets": "false",
        "python_enable_replacements": "false",
        "allowed_configs": "[enable_progress_bar]",
        "memory_limit": "1.8 GiB",
        "max_temp_directory_size": "3.7 GiB",
        "lock_configuration": "true",
    }


@pytest.mark.parametrize(
    "sql",
    [
        "set enable_external_access = true",
        "set lock_configuration = false",
        "reset lock_configuration",
        "set allowed_directories = ['/']",
        "set allowed_paths = ['/etc/passwd']",
        "set allowed_configs = ['enable_external_access']",
        "set autoload_known_extensions = true",
        "set python_enable_replacements = true",
        "set global threads = 1",
        "set memory_limit = '100GB'",
        "set max_temp_directory_size = '1TB'",
        "pragma threads = 1",
        "pragma enable_profiling",
    ],
)
def test_configuration_is_locked(mart_db: Path, sql: str) -> None:
    with db.connect_readonly(mart_db) as con:
        assert "configuration has been locked" in _refused(con, sql)
        assert con.sql("select current_setting('enable_external_access')").fetchall() == [(False,)]


def test_extensions_cannot_be_installed_or_loaded(mart_db: Path) -> None:
    with db.connect_readonly(mart_db) as con:
        _refused(con, "install httpfs")
        _refused(con, "load httpfs")


@pytest.mark.parametrize(
    "sql",
    [
        "create table main.x (a int)",
        "insert into main.fct_transactions (transaction_id) values ('T9')",
        "update main.fct_customer_metrics set lifetime_value = 0",
        "delete from main.fct_transactions",
        "drop table main.fct_transactions",
    ],
)
def test_connection_is_read_only(mart_db: Path, sql: str) -> None:
    with db.connect_readonly(mart_db) as con:
        assert "read-only" in _refused(con, sql)
    assert db.query_df(mart_db, "select count(*) as n from main.fct_transactions").n[0] == 6


_PROGRESS_CHILD = textwrap.dedent(
    """
    import sys
    from mart import db
    setting = "select current_setting('enable_progress_bar')"
    with db.connect_readonly(sys.argv[1]) as con:
        print(con.sql(setting).fetchall()[0][0])
    with db.cached_cursor(sys.argv[1]) as cursor:
        print(cursor.sql(setting).fetchall()[0][0])
    """
)


def test_progress_bar_is_off_everywhere(mart_db: Path) -> None:
    # DuckDB prints it to stdout, which would corrupt `python -m mart query` output. It is
    # on by default in a plain process (not under pytest), so look from a child process.
    child = subprocess.run(
        [sys.executable, "-c", _PROGRESS_CHILD, str(mart_db)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert child.stdout.split() == ["False", "False"]


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="No published mart"):
        db.connect_readonly(tmp_path / "nope.duckdb")
    with pytest.raises(NotFoundError):
        db.query_df(tmp_path / "nope.duckdb", "select 1")
    assert not (tmp_path / "nope.duckdb").exists()


# -- query_df, table_preview and the connection cache ---------------------------------


def test_query_df_with_parameters(mart_db: Path) -> None:
    frame = db.query_df(
        mart_db,
        "select customer_id from main.fct_transactions where amount > ? order by 1",
        [200],
    )
    assert frame.customer_id.tolist() == ["C001", "C002"]
    named = db.query_df(
        mart_db,
        "select count(*) as n from main.fct_transactions where customer_id = $customer",
        {"customer": "C001"},
    )
    assert named.n[0] == 3


def test_readers_of_one_file_coexist_in_one_process(mart_db: Path) -> None:
    with db.connect_readonly(mart_db) as first, db.connect_readonly(mart_db) as second:
        assert db.query_df(mart_db, "select count(*) as n from main.big_10k").n[0] == 10_000
        assert first.sql("select count(*) from main.fct_transactions").fetchall() == [(6,)]
        assert second.sql("select count(*) from main.fct_customer_metrics").fetchall() == [(3,)]


def test_cache_follows_the_file_at_a_path(
    tmp_path: Path, mart_factory: Callable[[Path], Path]
) -> None:
    published = mart_factory(tmp_path / "mart.duckdb")
    assert db.query_df(published, "select count(*) as n from main.big_20k").n[0] == 20_000
    # A new file moved into place at the same path is read, not the cached old one.
    replacement = tmp_path / "next.duckdb"
    with duckdb.connect(str(replacement)) as con:
        con.execute("create table main.big_20k as select range as id from range(5)")
    os.replace(replacement, published)
    assert db.query_df(published, "select count(*) as n from main.big_20k").n[0] == 5
    assert db.cached_paths() == [str(published.resolve())]


def test_cache_keeps_few_files_and_closes_all(
    tmp_path: Path, mart_factory: Callable[[Path], Path]
) -> None:
    builds = [mart_factory(tmp_path / f"build{number}.duckdb") for number in range(4)]
    for build in builds:
        db.query_df(build, "select 1")
    assert db.cached_paths() == [str(path.resolve()) for path in builds[-db.MAX_CACHED_FILES :]]
    db.close_path(builds[-1])
    assert str(builds[-1].resolve()) not in db.cached_paths()
    db.close_all()
    assert db.cached_paths() == []
    # Nothing holds the old builds: another process may now open one for writing.
    with duckdb.connect(str(builds[0])) as writer:
        writer.execute("create table main.extra as select 1 as a")


def test_table_preview_keeps_dates_and_exact_decimals(mart_db: Path) -> None:
    """The Lineage page's data preview showed amounts 500 and 212.5 and dates as
    2025-09-23 00:00:00 (pandas' floats and timestamps); the failing rows beside it
    showed 212.50 and 2025-09-23."""
    with duckdb.connect(str(mart_db)) as con:
        con.execute(
            "create table main.typed as select * from (values "
            "(date '2025-09-23', 212.50::decimal(18, 2), 9999999999999999.99::decimal(18, 2)),"
            "(null, 500.00::decimal(18, 2), null)) t(day, amount, big)"
        )
    db.close_all()
    frame = db.table_preview(mart_db, "main.typed")
    assert frame.day.tolist() == [date(2025, 9, 23), None]
    assert frame.amount.tolist() == [Decimal("212.50"), Decimal("500.00")]
    assert frame.big.tolist()[0] == Decimal("9999999999999999.99")
    assert money.exact_text(frame).amount.tolist() == ["212.50", "500.00"]


def test_table_preview_quotes_names(mart_db: Path) -> None:
    with duckdb.connect(str(mart_db)) as con:
        con.execute('create table main."odd ""name" as select 42 as answer')
    db.close_all()
    assert db.table_preview(mart_db, ("main", 'odd "name')).answer.tolist() == [42]
    assert len(db.table_preview(mart_db, "main.big_20k", limit=7)) == 7
    assert len(db.table_preview(mart_db, "big_20k")) == 100
    assert db.table_preview(mart_db, "bronze.raw_transactions").shape == (1, 1)
    with pytest.raises(NotFoundError):
        db.table_preview(mart_db, "main.fct_transactions; drop table main.big_20k")
    with pytest.raises(InputError):
        db.table_preview(mart_db, "main..x")
    with pytest.raises(InputError):
        db.table_preview(mart_db, "main.big_20k", limit=-1)
    assert db.query_df(mart_db, "select count(*) as n from main.big_20k").n[0] == 20_000


def test_quote_relation() -> None:
    assert db.quote_relation("main.fct_transactions") == '"main"."fct_transactions"'
    assert db.quote_relation(["main", 'a"b']) == '"main"."a""b"'


# -- other processes: readers, and the build engine copying the published file ---------

_CHILD = textwrap.dedent(
    """
    import sys
    from mart import db
    con = db.connect_readonly(sys.argv[1])
    print(con.sql("select count(*) from main.big_20k").fetchall()[0][0], flush=True)
    sys.stdin.readline()  # hold the connection until the parent has read too
    print(con.sql("select count(*) from main.fct_transactions").fetchall()[0][0], flush=True)
    con.close()
    """
)


def test_readers_in_two_processes_and_a_copy_at_once(mart_db: Path, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(mart_db)],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "20000", child.stderr.read()
        # The child holds its read connection; this process reads the same file ...
        with db.connect_readonly(mart_db) as con:
            assert con.sql("select count(*) from main.fct_customer_metrics").fetchall() == [(3,)]
            assert db.query_df(mart_db, "select count(*) as n from main.big_10k").n[0] == 10_000
            # ... and a build copies it and writes into its copy meanwhile.
            copy = tmp_path / "builds" / "2" / "mart.duckdb"
            copy.parent.mkdir(parents=True)
            shutil.copyfile(mart_db, copy)
            with duckdb.connect(str(copy)) as writer:
                writer.execute("insert into main.big_10k values (10000)")
            assert con.sql("select count(*) from main.big_10k").fetchall() == [(10_000,)]
        assert db.query_df(copy, "select count(*) as n from main.big_10k").n[0] == 10_001
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "6"
        assert child.wait(timeout=20) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()

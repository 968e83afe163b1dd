"""Build speed: warm API rebuild vs the dbt CLI, and a 1M-transaction build vs hand SQL.

``python -m bench.bench_build [--runs 5] [--cli-runs 2] [--big 1000000]`` prints:

* ``api warm``: ``BuildManager.request_build(reuse=False)`` on the bundled sample with
  the worker already warm (after each build the bench waits until the next worker is
  warm and the previous build's docs are done, as an idle app would between clicks).
  ``reuse=False`` runs every node, the same work as the CLI's ``dbt build`` except the
  five unit tests (``unit_tests=False``: not re-run, as in the runs before reuse); the app's
  Rebuild reuses unchanged nodes (``mart.reuse``), timed separately: nothing changed,
  and a segment threshold changed;
* ``cli``: ``dbt build`` from the command line on the same sample, same machine;
* ``big``: a build of ``--big`` generated transactions (first build, then rebuilds on
  its state; the best rebuild counts) against hand-written DuckDB SQL that computes the
  exercise's core mart (both staging tables, the customer metrics, the customer
  dimension) from the same bronze tables, in the same run, with no worker running
  beside it. The hand tables are checked equal to the dbt build's first. The rebuilds
  compared with the hand SQL run every node (``reuse=False``); the reusing rebuilds
  (nothing changed, one transaction changed, ``as_of_date`` changed) are reported beside
  them and are not the comparison.

Targets (issue #4): api warm ≤ 1.0 s; cli / api ≥ 6; big rebuild ≤ 1.5 × hand SQL.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from mart.builds import PUBLISHED, BuildManager
from mart.workspace import DBT_PROJECT_DIR, PROJECT_ROOT, Workspace

AS_OF = "2025-01-01"  # the big builds' as_of_date var; the hand SQL uses the same day

# Hand-written DuckDB SQL for the exercise's core mart: the two staging tables (same
# cleaning as the dbt models: trimmed ids, 'Unknown' category, unreadable values null),
# the customer metrics (fct_customer_metrics: totals, exact average order value, favourite
# category with the same tie-break, ages, segment) and the customer dimension
# (dim_customers: every customer from transactions or events, engagement, recency).
# It is written as one would by hand for speed: one scan per staging table, customer
# totals rolled up from the per-category aggregate. bench_big() checks that its tables
# equal the dbt build's before it reports a ratio.
HAND_SQL = f"""
create or replace table hand_stg_transactions as
with parsed as (
    select json_transform(raw_data, '{{"transaction_id": "VARCHAR", "customer_id": "VARCHAR",
        "transaction_date": "VARCHAR", "amount": "DECIMAL(18,2)",
        "product_category": "VARCHAR"}}') as record
    from bronze.raw_transactions
)
select
    nullif(trim(record.transaction_id), '') as transaction_id,
    nullif(trim(record.customer_id), '') as customer_id,
    coalesce(nullif(trim(record.product_category), ''), 'Unknown') as product_category,
    record.amount as amount,
    try_cast(record.transaction_date as date) as transaction_date
from parsed;

create or replace table hand_stg_events as
with parsed as (
    select json_transform(raw_data, '{{"event_id": "VARCHAR", "customer_id": "VARCHAR",
        "session_id": "VARCHAR", "event_type": "VARCHAR", "event_timestamp": "VARCHAR",
        "product_category": "VARCHAR"}}') as record
    from bronze.raw_events
)
select
    nullif(trim(record.event_id), '') as event_id,
    nullif(trim(record.customer_id), '') as customer_id,
    nullif(trim(record.session_id), '') as session_id,
    lower(trim(record.event_type)) as event_type,
    nullif(trim(record.product_category), '') as product_category,
    try_cast(record.event_timestamp as timestamp) as event_at
from parsed;

create or replace table hand_customer_metrics as
with per_category as (
    select
        customer_id,
        product_category,
        count(*) as transactions,
        sum(amount) as spend,
        min(transaction_date) as first_date,
        max(transaction_date) as last_date
    from hand_stg_transactions
    where customer_id is not null
    group by customer_id, product_category
),
totals as (
    select
        customer_id,
        arg_min(product_category, (-spend, -transactions, product_category))
            as favorite_category,
        sum(transactions) as transaction_count,
        count(*) as categories_purchased,
        sum(spend) as lifetime_value,
        min(first_date) as first_purchase_date,
        max(last_date) as last_purchase_date
    from per_category
    group by customer_id
)
select
    customer_id,
    favorite_category,
    case
        when lifetime_value >= 500 then 'High Value'
        when lifetime_value >= 200 then 'Medium Value'
        else 'Low Value'
    end as customer_segment,
    transaction_count,
    categories_purchased,
    lifetime_value,
    -- exact, half away from zero: integer cents, never DOUBLE
    cast(cast(sign(lifetime_value) * ((2 * cast(abs(lifetime_value) * 100 as bigint)
        + transaction_count) // (2 * transaction_count)) as decimal(38, 0))
        * 0.01::decimal(38, 2) as decimal(18, 2)) as avg_order_value,
    date '{AS_OF}' - first_purchase_date as customer_age_days,
    date '{AS_OF}' - last_purchase_date as days_since_last_purchase,
    first_purchase_date,
    last_purchase_date
from totals;

create or replace table hand_dim_customers as
with activity as (
    select
        customer_id,
        count(*) as event_count,
        count(distinct session_id) as session_count,
        count(*) filter (where event_type = 'page_view') as page_view_count,
        count(*) filter (where event_type = 'product_view') as product_view_count,
        count(*) filter (where event_type = 'add_to_cart') as add_to_cart_count,
        count(*) filter (where event_type = 'purchase') as purchase_event_count,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from hand_stg_events
    where customer_id is not null
    group by customer_id
),
joined as (
    select
        coalesce(metrics.customer_id, activity.customer_id) as customer_id,
        metrics.favorite_category,
        coalesce(metrics.transaction_count, 0) as transaction_count,
        coalesce(metrics.lifetime_value, 0) as lifetime_value,
        metrics.avg_order_value,
        metrics.days_since_last_purchase,
        coalesce(activity.event_count, 0) as event_count,
        coalesce(activity.session_count, 0) as session_count,
        coalesce(activity.purchase_event_count, 0) as purchase_event_count,
        activity.first_event_at,
        activity.last_event_at
    from hand_customer_metrics as metrics
    full outer join activity on metrics.customer_id = activity.customer_id
)
select
    customer_id,
    case
        when lifetime_value >= 500 then 'High Value'
        when lifetime_value >= 200 then 'Medium Value'
        else 'Low Value'
    end as customer_segment,
    favorite_category,
    case
        when session_count >= 5 then 'High'
        when session_count >= 2 then 'Medium'
        when session_count = 1 then 'Low'
        else 'None'
    end as engagement_level,
    case
        when transaction_count = 0 then 'Prospect'
        when days_since_last_purchase <= 30 then 'Active'
        when days_since_last_purchase <= 90 then 'At Risk'
        else 'Churned'
    end as recency_status,
    transaction_count,
    lifetime_value,
    avg_order_value,
    event_count,
    session_count,
    purchase_event_count,
    first_event_at,
    last_event_at
from joined;
"""

# The hand tables must equal the dbt build's on these columns (every one the hand SQL
# computes); the counts of rows in either and not the other are reported.
HAND_CHECKS = {
    "hand_customer_metrics": (
        "fct_customer_metrics",
        "customer_id, favorite_category, customer_segment, transaction_count, "
        "categories_purchased, lifetime_value, avg_order_value, customer_age_days, "
        "days_since_last_purchase, first_purchase_date, last_purchase_date",
    ),
    "hand_dim_customers": (
        "dim_customers",
        "customer_id, customer_segment, favorite_category, engagement_level, recency_status, "
        "transaction_count, lifetime_value, avg_order_value, event_count, session_count, "
        "purchase_event_count, first_event_at, last_event_at",
    ),
}


def check_hand_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Raise unless every hand-written table equals the dbt table it stands for."""
    for hand, (mart, columns) in HAND_CHECKS.items():
        rows = con.execute(f"select count(*) from main.{mart}").fetchone()[0]
        differ = con.execute(
            f"select (select count(*) from (select {columns} from {hand} except all "
            f"select {columns} from main.{mart})), (select count(*) from (select {columns} "
            f"from main.{mart} except all select {columns} from {hand}))"
        ).fetchone()
        if differ != (0, 0) or not rows:
            raise RuntimeError(
                f"hand SQL {hand} differs from {mart} ({rows} rows): {differ[0]} rows only "
                f"in the hand table, {differ[1]} only in the mart"
            )
        print(f"  hand {hand} = dbt {mart}: {rows} rows, {columns.count(',') + 1} columns")


def _fmt(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s, min {min(values):.2f} s, "
        f"runs {', '.join(f'{value:.2f}' for value in values)}"
    )


def _settle(manager: BuildManager, build_id: int | None, timeout: float = 120.0) -> None:
    """Wait until the next worker is warm and the last build's docs are done."""
    manager.wait_warm(timeout)
    if build_id is None:
        return
    deadline = time.monotonic() + timeout
    docs = manager.get(build_id).build_dir / "docs.json"
    while time.monotonic() < deadline:
        status = json.loads(docs.read_text()) if docs.exists() else {}
        if status.get("status") in {"ready", "failed"}:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # let the machine go quiet


def _timed_build(manager: BuildManager, **options: Any) -> tuple[Any, float]:
    """One build to the end: (its record, seconds); raises unless it published."""
    started = time.perf_counter()
    record = manager.request_build(**options)
    elapsed = time.perf_counter() - started
    if record.status != PUBLISHED:
        raise RuntimeError(f"build {record.build_id} failed: {record.error}")
    return record, elapsed


def bench_api(
    root: Path, runs: int, threads: int | None = None
) -> tuple[list[float], dict[str, list[float]]]:
    """Warm rebuilds of the sample through the Python API: every node run (the
    comparison with the CLI), then reusing rebuilds (nothing changed; a threshold
    changed, alternating between two values)."""
    manager = BuildManager(Workspace.from_env(root / "api"), threads=threads)
    manager.prewarm()
    last: int | None = None
    times: list[float] = []
    reusing: dict[str, list[float]] = {"unchanged": [], "threshold": []}
    try:
        for index in range(runs + 1):  # the first build creates the state; not counted
            _settle(manager, last)
            record, elapsed = _timed_build(manager, reuse=False, unit_tests=False)
            last = record.build_id
            if index:
                times.append(elapsed)
                print(f"  api build {record.build_id}: {elapsed:.2f} s  timings {record.timings}")
        for index in range(runs):
            for label, build_vars in (
                ("unchanged", {}),
                ("threshold", {"high_value_threshold": 450 + 100 * (index % 2)}),
            ):
                _settle(manager, last)
                record, elapsed = _timed_build(manager, vars=build_vars, keep_published_vars=True)
                last = record.build_id
                reusing[label].append(elapsed)
                print(
                    f"  api reusing build {record.build_id} ({label}): {elapsed:.2f} s, "
                    f"{len(record.reused_nodes)} of {len(record.nodes)} nodes reused"
                )
        _settle(manager, last)
    finally:
        manager.shutdown()
    return times, reusing


def bench_back_to_back(
    root: Path,
    runs: int,
    gap: float = 1.0,
    same_vars: bool = False,
    prepare: bool = True,
    **manager_options: Any,
) -> list[float]:
    """Two clicks in a row, as an instructor changing a threshold twice would: from a
    settled app (every warm worker ready, docs done), one rebuild, then ``gap`` seconds
    after it ended a second, timed. Each changes ``high_value_threshold`` (reusing what
    it can, as the app's Rebuild does), with docs generation on, as in the app.

    ``same_vars``: the second click keeps the vars the first changed (a plain Rebuild
    after a threshold change, say after editing data). ``prepare=False`` turns off the
    spare's parse ahead for the new vars (``BuildManager.prepare``), for comparison.
    """
    manager = BuildManager(Workspace.from_env(root / "back-to-back"), **manager_options)
    if not prepare:  # measurement only: the manager as it was before it prepared spares
        manager._prepare_locked = lambda run_vars: False  # type: ignore[method-assign]
    manager.prewarm()
    times: list[float] = []
    try:
        record, _ = _timed_build(manager)
        for index in range(runs):
            _settle(manager, record.build_id)
            manager.wait_warm(120, all_workers=True)
            first = 400 - 50 * (index % 2) if same_vars else 400
            _timed_build(manager, vars={"high_value_threshold": first}, keep_published_vars=True)
            time.sleep(gap)
            build_vars = {} if same_vars else {"high_value_threshold": 450 + 100 * (index % 2)}
            record, elapsed = _timed_build(manager, vars=build_vars, keep_published_vars=True)
            times.append(elapsed)
            print(f"  second click, build {record.build_id}: {elapsed:.2f} s")
        _settle(manager, record.build_id)
    finally:
        manager.shutdown()
    return times


def bench_cli(root: Path, runs: int) -> list[float]:
    """``dbt build`` from the command line, on the same sample (bronze from data/)."""
    dbt = PROJECT_ROOT / ".venv" / "bin" / "dbt"
    if not dbt.exists():
        dbt = Path(shutil.which("dbt") or "dbt")
    times = []
    for index in range(runs):
        target = root / f"cli{index}"
        target.mkdir(parents=True)
        env = {**os.environ, "MART_DUCKDB_PATH": str(target / "mart.duckdb")}
        started = time.perf_counter()
        subprocess.run(
            [
                str(dbt),
                "build",
                "--target-path",
                str(target / "target"),
                "--log-path",
                str(target / "logs"),
            ],
            cwd=DBT_PROJECT_DIR,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
        time.sleep(0.5)
    return times


def bench_big(root: Path, transactions: int, rebuilds: int = 2) -> dict[str, float]:
    """A generated ``transactions``-row build vs hand-written SQL on the same bronze.

    The first build creates the state; ``rebuilds`` rebuilds follow on it (the best is
    reported). The build manager is shut down before the hand SQL runs, so no worker
    warms up beside it.
    """
    from mart.generate import generate

    ws = Workspace.from_env(root / "big")
    started = time.perf_counter()
    generate(
        ws, customers=max(100, transactions // 10), transactions=transactions, events=transactions
    )
    print(f"  generated {transactions} transactions in {time.perf_counter() - started:.1f} s")
    manager = BuildManager(ws, docs=False)
    manager.prewarm()
    result: dict[str, float] = {}

    def timed(label: str, **options: Any) -> None:
        _settle(manager, None)
        time.sleep(1)
        record, result[label] = _timed_build(manager, **options)
        print(
            f"  big {label} build: {result[label]:.2f} s, {len(record.reused_nodes)} of "
            f"{len(record.nodes)} nodes reused  timings {record.timings}"
        )

    try:
        timed("first", vars={"as_of_date": AS_OF})
        for index in range(1, rebuilds + 1):  # every node runs: the hand SQL's comparison
            timed(f"rebuild{index}", vars={"as_of_date": AS_OF}, reuse=False, unit_tests=False)
        path = manager.published_db_path()
        assert path is not None
        shutil.copyfile(path, root / "big-published.duckdb")
        # The app's Rebuild, reusing unchanged nodes (not the comparison).
        timed("reuse_unchanged", vars={"as_of_date": AS_OF})
        timed("reuse_as_of", vars={"as_of_date": "2025-01-02"})
        _change_one_transaction(ws)
        timed("reuse_one_transaction", vars={"as_of_date": "2025-01-02"})
    finally:
        manager.shutdown()
    path = root / "big-published.duckdb"
    result["rebuild"] = min(result[f"rebuild{index}"] for index in range(1, rebuilds + 1))
    copy = root / "hand" / "mart.duckdb"
    copy.parent.mkdir()
    shutil.copyfile(path, copy)
    time.sleep(1)
    hand = []
    for _ in range(3):
        con = duckdb.connect(str(copy))
        started = time.perf_counter()
        con.execute(HAND_SQL)
        con.execute("checkpoint")
        hand.append(time.perf_counter() - started)
        con.close()
    with duckdb.connect(str(copy)) as con:
        check_hand_tables(con)
    result["hand"] = min(hand)
    print(f"  hand SQL: {_fmt(hand)}")
    return result


def _change_one_transaction(ws: Workspace) -> None:
    """A new transactions version with one amount changed (as an edit in the grid)."""
    from mart import datasets

    source = datasets.version_path(ws, "transactions", datasets.head(ws, "transactions").id)

    def write(path: Path) -> None:
        with duckdb.connect() as con:
            con.execute(
                f"copy (select record_number, case when record_number = 1 then "
                f"json_merge_patch(raw_data, '{{\"amount\": 12.34}}')::varchar "
                f"else raw_data end as raw_data from read_parquet('{source}') "
                f"order by record_number) to '{path}' (format parquet)"
            )

    datasets.create_version(ws, "transactions", write, message="bench: one amount", kind="test")


def main(argv: list[str] | None = None) -> None:
    """Run the build benchmarks and print the numbers against the targets."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_build")
    parser.add_argument("--runs", type=int, default=5, help="warm API rebuilds to time")
    parser.add_argument("--cli-runs", type=int, default=2, help="dbt CLI builds to time")
    parser.add_argument(
        "--threads", type=int, default=None, help="dbt threads for the API builds (default: auto)"
    )
    parser.add_argument("--big", type=int, default=1_000_000, help="transactions (0: skip)")
    parser.add_argument(
        "--back-to-back-only",
        action="store_true",
        help="only time rebuilds clicked one second after the previous one ended",
    )
    args = parser.parse_args(argv if argv is not None else [])
    root = Path(tempfile.mkdtemp(prefix="bench-build-"))
    print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, scratch {root}")
    try:
        for workers in (1, 2):
            back = bench_back_to_back(root / f"w{workers}", args.runs, warm_workers=workers)
            print(
                f"api rebuild clicked 1 s after the previous one ended (threshold changed), "
                f"{workers} warm worker{'s' if workers > 1 else ''}: {_fmt(back)}"
            )
        for prepare in (False, True):
            back = bench_back_to_back(
                root / f"same-{prepare}", args.runs, same_vars=True, prepare=prepare, warm_workers=2
            )
            print(
                "api rebuild clicked 1 s after one that changed the threshold (vars kept), "
                f"2 warm workers, spare {'parses ahead' if prepare else 'does not parse ahead'}: "
                f"{_fmt(back)}"
            )
        if args.back_to_back_only:
            return
        api, reusing = bench_api(root, args.runs, args.threads)
        print(f"api warm rebuild (sample, every node): {_fmt(api)}   target <= 1.00 s")
        print(f"api reusing rebuild, nothing changed: {_fmt(reusing['unchanged'])}")
        print(f"api reusing rebuild, threshold changed: {_fmt(reusing['threshold'])}")
        cli = bench_cli(root, args.cli_runs)
        print(f"cli dbt build (sample):    {_fmt(cli)}")
        ratio = statistics.median(cli) / statistics.median(api)
        print(f"cli / api: {ratio:.1f}x   target >= 6x")
        if args.big:
            big = bench_big(root, args.big)
            print(
                f"big ({args.big} transactions): first {big['first']:.2f} s, rebuild "
                f"{big['rebuild']:.2f} s, hand SQL {big['hand']:.2f} s, rebuild/hand "
                f"{big['rebuild'] / big['hand']:.1f}x   target <= 1.5x"
            )
            print(
                f"big reusing rebuilds: nothing changed {big['reuse_unchanged']:.2f} s, "
                f"as_of_date changed {big['reuse_as_of']:.2f} s, one transaction changed "
                f"{big['reuse_one_transaction']:.2f} s"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

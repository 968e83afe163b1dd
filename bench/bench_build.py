"""Build speed: warm API rebuild vs the dbt CLI, and a 1M-transaction build vs hand SQL.

``python -m bench.bench_build [--runs 5] [--cli-runs 2] [--big 1000000]`` prints:

* ``api warm``: ``BuildManager.request_build()`` on the bundled sample with the worker
  already warm (after each build the bench waits until the next worker is warm and the
  previous build's docs are done, as an idle app would between clicks);
* ``cli``: ``dbt build`` from the command line on the same sample, same machine;
* ``big``: a build of ``--big`` generated transactions (first build and a rebuild on
  its state) against hand-written DuckDB SQL that computes the core mart (staging
  JSON parsing + per-customer metrics) from the same bronze tables, in the same run.

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

import duckdb

from mart.builds import PUBLISHED, BuildManager
from mart.workspace import DBT_PROJECT_DIR, PROJECT_ROOT, Workspace

HAND_SQL = """
create or replace table hand_stg_transactions as
with parsed as (
    select json_transform(raw_data, '{"transaction_id": "VARCHAR", "customer_id": "VARCHAR",
        "transaction_date": "VARCHAR", "amount": "VARCHAR", "product_category": "VARCHAR"}')
        as record
    from bronze.raw_transactions
)
select
    record.transaction_id as transaction_id,
    record.customer_id as customer_id,
    coalesce(record.product_category, 'Unknown') as product_category,
    cast(record.amount as decimal(18, 2)) as amount,
    cast(record.transaction_date as date) as transaction_date
from parsed;

create or replace table hand_stg_events as
with parsed as (
    select json_transform(raw_data, '{"event_id": "VARCHAR", "customer_id": "VARCHAR",
        "session_id": "VARCHAR", "event_type": "VARCHAR", "event_timestamp": "VARCHAR",
        "product_category": "VARCHAR"}') as record
    from bronze.raw_events
)
select
    record.event_id as event_id,
    record.customer_id as customer_id,
    record.session_id as session_id,
    record.event_type as event_type,
    record.product_category as product_category,
    cast(record.event_timestamp as timestamp) as event_at
from parsed;

create or replace table hand_customer_metrics as
with customer_totals as (
    select
        customer_id,
        count(*) as transaction_count,
        sum(amount) as lifetime_value,
        round(avg(amount), 2) as avg_order_value,
        min(transaction_date) as first_purchase_date,
        max(transaction_date) as last_purchase_date,
        count(distinct product_category) as categories_purchased
    from hand_stg_transactions
    group by customer_id
),
category_spend as (
    select customer_id, product_category, sum(amount) as category_spend
    from hand_stg_transactions
    group by customer_id, product_category
),
favorite as (
    select customer_id, arg_max(product_category, category_spend) as favorite_category
    from category_spend
    group by customer_id
)
select
    customer_totals.*,
    favorite.favorite_category,
    date '2025-01-01' - customer_totals.first_purchase_date as customer_age_days,
    date '2025-01-01' - customer_totals.last_purchase_date as days_since_last_purchase,
    case
        when customer_totals.lifetime_value >= 500 then 'High Value'
        when customer_totals.lifetime_value >= 200 then 'Medium Value'
        else 'Low Value'
    end as customer_segment
from customer_totals
left join favorite on customer_totals.customer_id = favorite.customer_id;
"""


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


def bench_api(root: Path, runs: int, threads: int | None = None) -> list[float]:
    """Warm rebuilds of the sample through the Python API."""
    manager = BuildManager(Workspace.from_env(root / "api"), threads=threads)
    manager.prewarm()
    last: int | None = None
    times: list[float] = []
    try:
        for index in range(runs + 1):  # the first build creates the state; not counted
            _settle(manager, last)
            started = time.perf_counter()
            record = manager.request_build()
            elapsed = time.perf_counter() - started
            if record.status != PUBLISHED:
                raise RuntimeError(f"build failed: {record.error}")
            last = record.build_id
            if index:
                times.append(elapsed)
                print(f"  api build {record.build_id}: {elapsed:.2f} s  timings {record.timings}")
        _settle(manager, last)
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


def bench_big(root: Path, transactions: int) -> dict[str, float]:
    """A generated ``transactions``-row build vs hand-written SQL on the same bronze."""
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
    try:
        for label in ("first", "rebuild"):
            _settle(manager, None)
            time.sleep(1)
            started = time.perf_counter()
            record = manager.request_build()
            result[label] = time.perf_counter() - started
            if record.status != PUBLISHED:
                raise RuntimeError(f"big build failed: {record.error}")
            print(f"  big {label} build: {result[label]:.2f} s  timings {record.timings}")
        path = manager.published_db_path()
        assert path is not None
        copy = root / "hand" / "mart.duckdb"
        copy.parent.mkdir()
        shutil.copyfile(path, copy)
        hand = []
        for _ in range(2):
            con = duckdb.connect(str(copy))
            started = time.perf_counter()
            con.execute(HAND_SQL)
            con.execute("checkpoint")
            hand.append(time.perf_counter() - started)
            con.close()
        result["hand"] = min(hand)
        print(f"  hand SQL: {_fmt(hand)}")
    finally:
        manager.shutdown()
    return result


def main(argv: list[str] | None = None) -> None:
    """Run the build benchmarks and print the numbers against the targets."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_build")
    parser.add_argument("--runs", type=int, default=5, help="warm API rebuilds to time")
    parser.add_argument("--cli-runs", type=int, default=2, help="dbt CLI builds to time")
    parser.add_argument(
        "--threads", type=int, default=None, help="dbt threads for the API builds (default: auto)"
    )
    parser.add_argument("--big", type=int, default=1_000_000, help="transactions (0: skip)")
    args = parser.parse_args(argv if argv is not None else [])
    root = Path(tempfile.mkdtemp(prefix="bench-build-"))
    print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, scratch {root}")
    try:
        api = bench_api(root, args.runs, args.threads)
        print(f"api warm rebuild (sample): {_fmt(api)}   target <= 1.00 s")
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
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

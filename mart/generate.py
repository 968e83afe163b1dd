"""Synthetic TechMart data: customers' transactions and a consistent events funnel.

Deterministic from ``seed``: the same arguments give byte-identical records. Shapes:

* **Customers**: about 80% of the N customers buy (at least once); the rest only
  browse (page and product views, some abandoned carts) and never buy.
* **Repeat purchases and churn**: each buyer is acquired on a day drawn from a growing,
  seasonal curve, stays active for an exponential lifetime (mean 240 days) and spreads
  repeat purchases over it; about a third buy once. Purchase counts per buyer are
  skewed (lognormal weights), so monthly cohorts and retention curves mean something.
* **Spend**: a lognormal spend level per customer times a category price factor times
  per-purchase lognormal noise; amounts are whole cents (2 decimals), at least 0.99.
* **Seasonality**: monthly weights with a November/December peak (and a January dip).
* **Categories**: Electronics, Accessories, Audio, Computers, Gaming, Smart Home,
  Cameras, Wearables; each customer has a favourite bought about half the time.
* **Events funnel**: page_view -> product_view -> add_to_cart -> purchase. Every
  transaction has exactly one purchase event, in its own session, for its customer, on
  its date, with the transaction's category, preceded by up to three funnel steps.
  The other events are abandoned carts (page_view, product_view, add_to_cart) and
  browse-only sessions (page_view, product_view); every non-buyer gets a browse
  session while the event budget lasts. So there are exactly as many purchase events
  as transactions, and ``events`` (default about 5 per transaction) is exact.
* **Dates**: ``days`` days (default 730) ending the day before ``as_of`` (default
  2025-01-01), so every date is in the past for an as_of_date of 2025-01-01 or later.

Ids: ``C000001`` customers, ``T0000001`` transactions (in date order), ``S…`` sessions,
``E…`` events (in time order), zero-padded to the width the counts need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from mart.datasets import Version, create_version, head
from mart.errors import InputError
from mart.loading import EVENT_TYPES, connect
from mart.workspace import Workspace

CATEGORIES = (
    "Electronics",
    "Accessories",
    "Audio",
    "Computers",
    "Gaming",
    "Smart Home",
    "Cameras",
    "Wearables",
)
CATEGORY_WEIGHTS = np.array([0.24, 0.22, 0.14, 0.10, 0.10, 0.08, 0.06, 0.06])
PRICE_FACTOR = np.array([2.2, 0.45, 1.2, 4.5, 1.6, 1.4, 3.0, 1.8])
MONTH_WEIGHTS = np.array([0.80, 0.78, 0.88, 0.92, 0.97, 0.95, 0.93, 1.00, 1.02, 1.08, 1.45, 1.80])
DEFAULT_AS_OF = date(2025, 1, 1)
DEFAULT_DAYS = 730
BUYER_SHARE = 0.8
ONE_TIME_SHARE = 0.33
MEAN_LIFETIME_DAYS = 240.0
FUNNEL = EVENT_TYPES  # the funnel, in order


@dataclass(frozen=True)
class GeneratedData:
    """Generated records as integer-coded Arrow tables, before JSON formatting.

    transactions: number, customer, day (offset from ``start``), cents, category.
    events: number, customer, session, step (index into FUNNEL), seconds (from the
    start of ``start``), category (-1 for none).
    """

    start: date
    customers: int
    transactions: pa.Table
    events: pa.Table


def _day_weights(start: date, days: int) -> np.ndarray:
    """Relative chance of a purchase on each day: growth times the month's weight."""
    months = np.array([(start + timedelta(days=int(d))).month for d in range(days)])
    growth = np.linspace(0.6, 1.4, days)
    weights = growth * MONTH_WEIGHTS[months - 1]
    return weights / weights.sum()


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight, busiest in the evening."""
    hours = np.where(rng.random(n) < 0.65, rng.normal(19.5, 2.5, n), rng.normal(12.5, 3.0, n))
    seconds = (hours * 3600).astype(np.int64)
    return np.clip(seconds, 7 * 3600, 23 * 3600)  # a session never crosses midnight


def generate_data(
    customers: int,
    transactions: int,
    events: int | None = None,
    *,
    seed: int = 0,
    as_of: date = DEFAULT_AS_OF,
    days: int = DEFAULT_DAYS,
) -> GeneratedData:
    """Integer-coded synthetic data (see the module docstring for its shapes)."""
    if customers < 1:
        raise InputError("--customers must be at least 1.")
    if transactions < 0:
        raise InputError("--transactions must be 0 or more.")
    if days < 1:
        raise InputError("--days must be at least 1.")
    if events is None:
        buyers_guess = min(transactions, max(1, round(BUYER_SHARE * customers)))
        events = 5 * transactions + 2 * (customers - buyers_guess)
    if events < transactions:
        raise InputError(
            f"The number of events ({events:,}) must be at least the number of "
            f"transactions ({transactions:,}): every transaction has a purchase event. "
            "Leave it out for about 5 events per transaction."
        )
    rng = np.random.default_rng(seed)
    start = as_of - timedelta(days=days)
    n_tx = transactions

    # Buyers, acquisition, lifetime (churn), purchase counts.
    n_buyers = min(n_tx, max(1, round(BUYER_SHARE * customers))) if n_tx else 0
    buyers = np.sort(rng.choice(customers, size=n_buyers, replace=False))
    non_buyers = np.setdiff1d(np.arange(customers), buyers, assume_unique=True)
    day_p = _day_weights(start, days)
    first_day = rng.choice(days, size=n_buyers, p=day_p)
    lifetime = rng.exponential(MEAN_LIFETIME_DAYS, n_buyers)
    span = np.minimum(lifetime, days - 1 - first_day).astype(np.int64)
    weight = rng.lognormal(0.0, 1.0, n_buyers) * (span + 1)
    weight[rng.random(n_buyers) < ONE_TIME_SHARE] = 0.0
    if weight.sum() == 0:
        weight[:] = 1.0
    extra = n_tx - n_buyers
    counts = np.ones(n_buyers, dtype=np.int64)
    if extra > 0:
        counts += rng.multinomial(extra, weight / weight.sum())
    owner = np.repeat(np.arange(n_buyers), counts)  # index into buyers
    is_first = np.zeros(n_tx, dtype=bool)
    if n_tx:
        is_first[np.concatenate(([0], np.cumsum(counts)[:-1]))] = True

    # Repeat purchase days inside each buyer's active span, thinned by season.
    tx_day = first_day[owner].copy()
    repeat = np.flatnonzero(~is_first)
    pending = repeat
    month_of_day = np.array([(start + timedelta(days=int(d))).month for d in range(days)])
    season = MONTH_WEIGHTS[month_of_day - 1] / MONTH_WEIGHTS.max()
    for _ in range(6):
        if pending.size == 0:
            break
        b = owner[pending]
        candidate = first_day[b] + (rng.random(pending.size) * (span[b] + 1)).astype(np.int64)
        tx_day[pending] = candidate
        pending = pending[rng.random(pending.size) > season[candidate]]

    # Categories and amounts.
    favourite = rng.choice(len(CATEGORIES), size=n_buyers, p=CATEGORY_WEIGHTS)
    category = np.where(
        rng.random(n_tx) < 0.5,
        favourite[owner],
        rng.choice(len(CATEGORIES), size=n_tx, p=CATEGORY_WEIGHTS),
    )
    level = rng.lognormal(3.5, 0.7, n_buyers)
    dollars = level[owner] * PRICE_FACTOR[category] * rng.lognormal(0.0, 0.45, n_tx)
    cents = np.maximum(99, np.round(dollars * 100)).astype(np.int64)
    tx_seconds = _time_of_day(rng, n_tx)

    order = np.lexsort((tx_seconds, tx_day))
    tx_customer = buyers[owner][order]
    tx_day, cents, category, tx_seconds = (
        tx_day[order],
        cents[order],
        category[order],
        tx_seconds[order],
    )

    # Events: purchase sessions first, then abandoned carts and browse-only sessions.
    budget = events - n_tx
    purchase_extra = min(3 * n_tx, round(0.65 * budget))
    base, rem = divmod(purchase_extra, n_tx) if n_tx else (0, 0)
    pre_steps = np.full(n_tx, base, dtype=np.int64)
    pre_steps[rng.permutation(n_tx)[:rem]] += 1
    rest = budget - purchase_extra
    n_abandoned = int(0.35 * rest) // 3
    n_browse, single = divmod(rest - 3 * n_abandoned, 2)

    parts: list[dict[str, np.ndarray]] = []
    # Purchase sessions: steps 3 - pre_steps .. 3, ending at the transaction time.
    size = pre_steps + 1
    session_of = np.repeat(np.arange(n_tx), size)
    position = np.arange(session_of.size) - np.repeat(np.cumsum(size) - size, size)
    step = 3 - pre_steps[session_of] + position
    end_seconds = tx_day.astype(np.int64) * 86400 + tx_seconds
    within = _within(rng.integers(20, 400, session_of.size), size)
    duration = within[np.cumsum(size) - 1] if n_tx else within
    back = duration[session_of] - within if n_tx else within
    parts.append(
        {
            "customer": tx_customer[session_of],
            "session_key": session_of,
            "step": step,
            "seconds": end_seconds[session_of] - back,
            "category": np.where(step == 0, -1, category[session_of]),
        }
    )

    # Non-purchase sessions: (customer, steps) with steps 3 (abandoned), 2 or 1 (browse).
    session_steps = np.concatenate(
        [np.full(n_abandoned, 3), np.full(n_browse, 2), np.full(single, 1)]
    ).astype(np.int64)
    n_other = session_steps.size
    other_customer = rng.integers(0, customers, n_other)
    browse_slots = np.arange(n_abandoned, n_other)
    take = min(non_buyers.size, browse_slots.size)
    other_customer[browse_slots[:take]] = non_buyers[:take]
    other_day = rng.choice(days, size=n_other, p=day_p)
    other_start = other_day.astype(np.int64) * 86400 + _time_of_day(rng, n_other)
    other_category = rng.choice(len(CATEGORIES), size=n_other, p=CATEGORY_WEIGHTS)
    session_of = np.repeat(np.arange(n_other), session_steps)
    position = np.arange(session_of.size) - np.repeat(
        np.cumsum(session_steps) - session_steps, session_steps
    )
    gaps = rng.integers(20, 400, session_of.size)
    parts.append(
        {
            "customer": other_customer[session_of],
            "session_key": n_tx + session_of,
            "step": position,
            "seconds": other_start[session_of] + _within(gaps, session_steps),
            "category": np.where(position == 0, -1, other_category[session_of]),
        }
    )

    ev = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = np.lexsort((ev["step"], ev["session_key"], ev["seconds"]))
    ev = {key: value[order] for key, value in ev.items()}
    # Sessions numbered by their first event's time.
    first_seen = np.unique(ev["session_key"], return_index=True)
    rank = np.empty(first_seen[0].size, dtype=np.int64)
    rank[np.argsort(first_seen[1], kind="stable")] = np.arange(first_seen[0].size)
    session_number = rank[np.searchsorted(first_seen[0], ev["session_key"])] + 1

    tx_table = pa.table(
        {
            "number": pa.array(np.arange(1, n_tx + 1, dtype=np.int64)),
            "customer": pa.array(tx_customer.astype(np.int64) + 1),
            "day": pa.array(tx_day.astype(np.int64)),
            "cents": pa.array(cents),
            "category": pa.array(category.astype(np.int64)),
        }
    )
    ev_table = pa.table(
        {
            "number": pa.array(np.arange(1, ev["step"].size + 1, dtype=np.int64)),
            "customer": pa.array(ev["customer"].astype(np.int64) + 1),
            "session": pa.array(session_number.astype(np.int64)),
            "step": pa.array(ev["step"].astype(np.int64)),
            "seconds": pa.array(ev["seconds"].astype(np.int64)),
            "category": pa.array(ev["category"].astype(np.int64)),
        }
    )
    return GeneratedData(start=start, customers=customers, transactions=tx_table, events=ev_table)


def _within(gaps: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Seconds from a session's start for each event: running sum of gaps, first is 0."""
    if gaps.size == 0:
        return gaps
    starts = np.cumsum(sizes) - sizes
    cum = np.cumsum(gaps)
    first = np.repeat(starts, sizes)
    at_start = np.repeat(cum[starts], sizes)
    return np.where(np.arange(gaps.size) == first, 0, cum - at_start)


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(max(n, 1))))


def _writer(
    con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, select: str
) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        con.register(name, table)
        target = "'" + str(path).replace("'", "''") + "'"
        con.execute(
            f"copy ({select}) to {target} (format parquet, compression zstd, row_group_size 200000)"
        )
        con.unregister(name)

    return write


def generate(
    ws: Workspace,
    *,
    customers: int,
    transactions: int,
    events: int | None = None,
    seed: int = 0,
    as_of: date = DEFAULT_AS_OF,
    days: int = DEFAULT_DAYS,
    message: str | None = None,
    on_progress: Callable[[float, str], None] | None = None,
) -> dict[str, Version]:
    """Generate data and save it as a new HEAD version of both datasets.

    ``on_progress(fraction, step)`` is called as each step starts (generating, writing
    transactions, writing events) and once more with 1.0 at the end.
    """

    def progress(fraction: float, step: str) -> None:
        if on_progress is not None:
            on_progress(fraction, step)

    progress(0.0, "Generating customers, transactions and events")
    data = generate_data(customers, transactions, events, seed=seed, as_of=as_of, days=days)
    for name in ("transactions", "events"):
        head(ws, name)  # seed version 1 first, so undo goes back to the sample
    n_tx, n_ev = data.transactions.num_rows, data.events.num_rows
    cw = _width(customers, 6)
    tw = _width(n_tx, 7)
    ew = _width(n_ev, 8)
    sw = _width(int(data.events.column("session").to_numpy().max(initial=0)), 7)
    categories = "[" + ", ".join(f"'{c}'" for c in CATEGORIES) + "]"
    funnel = "[" + ", ".join(f"'{s}'" for s in FUNNEL) + "]"
    start = f"DATE '{data.start.isoformat()}'"
    tx_select = (
        "select number as record_number, json_object("
        f"'transaction_id', 'T' || lpad(number::VARCHAR, {tw}, '0'), "
        f"'customer_id', 'C' || lpad(customer::VARCHAR, {cw}, '0'), "
        f"'transaction_date', strftime({start} + day::INTEGER, '%Y-%m-%d'), "
        "'amount', ((cents // 100)::VARCHAR || '.' || lpad((cents % 100)::VARCHAR, 2, '0'))"
        "::DECIMAL(18, 2), "
        f"'product_category', {categories}[category + 1]"
        ")::VARCHAR as raw_data from gen_transactions order by number"
    )
    ev_select = (
        "select number as record_number, json_object("
        f"'event_id', 'E' || lpad(number::VARCHAR, {ew}, '0'), "
        f"'customer_id', 'C' || lpad(customer::VARCHAR, {cw}, '0'), "
        f"'session_id', 'S' || lpad(session::VARCHAR, {sw}, '0'), "
        f"'event_type', {funnel}[step + 1], "
        f"'event_timestamp', strftime({start}::TIMESTAMP + to_seconds(seconds), "
        "'%Y-%m-%dT%H:%M:%S'), "
        f"'product_category', case when category >= 0 then {categories}[category + 1] end"
        ")::VARCHAR as raw_data from gen_events order by number"
    )
    label = message or (
        f"Generated: {customers} customers, {n_tx} transactions, {n_ev} events (seed {seed})"
    )
    summary = {
        "customers": customers,
        "transactions": n_tx,
        "events": n_ev,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "days": days,
    }
    # Writing costs about as much per record as generating; split the bar by rows.
    total = max(1, n_tx + n_ev)
    written = 0.5
    with connect() as con:
        progress(written, f"Writing {n_tx:,} transactions")
        versions = {
            "transactions": create_version(
                ws,
                "transactions",
                _writer(con, "gen_transactions", data.transactions, tx_select),
                message=label,
                kind="generate",
                source="generator",
                summary=summary,
            )
        }
        progress(written + 0.5 * n_tx / total, f"Writing {n_ev:,} events")
        versions["events"] = create_version(
            ws,
            "events",
            _writer(con, "gen_events", data.events, ev_select),
            message=label,
            kind="generate",
            source="generator",
            summary=summary,
        )
    progress(1.0, "Done")
    return versions

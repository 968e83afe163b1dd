"""Time ``mart.generate`` at scale: 1M transactions (about 4M events) into a temporary workspace.

Run: ``.venv/bin/python bench/bench_generate.py [TRANSACTIONS] [CUSTOMERS]``. The target
is 30 s or less for one million transactions on a 2-core machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mart.generate import generate, generate_data  # noqa: E402
from mart.workspace import Workspace  # noqa: E402


def main() -> None:
    transactions = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    customers = int(sys.argv[2]) if len(sys.argv) > 2 else transactions // 4
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.from_env(Path(tmp) / "workspace")
        started = time.perf_counter()
        data = generate_data(customers, transactions, seed=42)
        arrays = time.perf_counter() - started
        started = time.perf_counter()
        versions = generate(ws, customers=customers, transactions=transactions, seed=42)
        total = time.perf_counter() - started
        events = versions["events"].row_count
        print(f"numpy arrays only: {arrays:.2f} s ({data.events.num_rows} events)")
        print(
            f"generate {customers} customers, {transactions} transactions, {events} events "
            f"into two versions: {total:.2f} s"
        )


if __name__ == "__main__":
    main()

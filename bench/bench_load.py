"""Time loading a 1M-row transactions CSV (replace) through ``mart.datasets.load_file``.

Run: ``.venv/bin/python -m bench.bench_load [ROWS]``. Two files of the same records: a
clean one (ISO dates, plain amounts) and a spreadsheet export (US dates, ``$1,234.50``
amounts, padded ids, a few values with an accent), as the loader's slow paths see them.
The README's target is "seconds" for a 1M-row file.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from mart import datasets
from mart.workspace import Workspace

HEADER = "transaction_id,customer_id,transaction_date,amount,product_category\n"
CATEGORIES = ["Electronics", "Books", "Audio", "Home", "Toys", "Café", "Garden", "Sports"]


def write_files(folder: Path, rows: int) -> dict[str, Path]:
    rng = random.Random(42)
    clean, messy = folder / "clean.csv", folder / "export.csv"
    with clean.open("w", encoding="utf-8") as plain, messy.open("w", encoding="utf-8") as export:
        plain.write(HEADER)
        export.write(HEADER)
        for index in range(rows):
            customer = rng.randint(1, rows // 4 or 1)
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            cents = rng.randint(1, 500_000)
            category = CATEGORIES[index % len(CATEGORIES)]
            plain.write(
                f"T{index},C{customer},2024-{month:02d}-{day:02d},{cents // 100}.{cents % 100:02d},"
                f"{category}\n"
            )
            export.write(
                f'T{index}, C{customer} ,{month}/{day}/2024,"${cents // 100:,}.{cents % 100:02d}",'
                f"{category}\n"
            )
    return {"clean": clean, "export": messy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000, help="rows per file")
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(Path(tmp), rows)
        for label, path in files.items():
            ws = Workspace.from_env(Path(tmp) / f"ws-{label}")
            started = time.perf_counter()
            result = datasets.load_file(ws, "transactions", path)
            elapsed = time.perf_counter() - started
            size = path.stat().st_size / 1e6
            print(
                f"load {label} ({rows} rows, {size:.0f} MB): {elapsed:.2f} s, "
                f"{result.version.row_count} rows stored, {result.report.warning_count} warning(s)"
            )


if __name__ == "__main__":
    main()

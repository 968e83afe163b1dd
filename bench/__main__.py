"""Run every ``bench/bench_*.py`` module's ``main()``, in name order."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    """Run all benchmarks; the exit code is the number that raised."""
    failures = 0
    here = Path(__file__).resolve().parent
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda item: item.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        print(f"== {info.name}", flush=True)
        try:
            module.main()
        except Exception as exc:  # report and carry on with the next benchmark
            failures += 1
            print(f"{info.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    return failures


if __name__ == "__main__":
    sys.exit(main())

"""Dataset commands of ``python -m mart``: reset, load, generate, history, undo, restore, diff.

Results go to stdout, messages to stderr. A refused input raises ``InputError`` (exit
1, mapped by ``mart.cli.main``); nothing is changed when a command is refused.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from mart import datasets
from mart.loading import DATASETS, parse_assignments
from mart.workspace import Workspace


def _workspace(args: argparse.Namespace) -> Workspace:
    return Workspace.from_env(getattr(args, "workspace", None))


def _describe(version: datasets.Version, head_id: int | None = None) -> str:
    marker = "*" if head_id == version.id else " "
    parent = f"v{version.parent}" if version.parent is not None else "-"
    return (
        f"{marker} v{version.id:<5} {version.created_at}  {version.row_count:>9} rows  "
        f"parent {parent:<6} {version.kind:<12} {version.message}"
    )


def _cmd_reset(args: argparse.Namespace) -> int:
    versions = datasets.reset_to_sample(_workspace(args), message=args.message)
    for name, version in versions.items():
        print(f"{name}: v{version.id} ({version.row_count} rows) {version.message}")
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    mapping = {k: (v or None) for k, v in parse_assignments(args.map, "--map").items()}
    defaults = parse_assignments(args.default, "--default")
    result = datasets.load_file(
        _workspace(args),
        args.dataset,
        args.file,
        mode=args.mode,
        mapping=mapping,
        date_format=args.date_format,
        defaults=defaults,
        message=args.message,
        decimal_mark=args.decimal_mark,
    )
    print(result.report.to_text())
    version = result.version
    print(f"{args.dataset}: new HEAD v{version.id} ({version.row_count} rows) {version.message}")
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _cmd_generate(args: argparse.Namespace) -> int:
    from mart.generate import DEFAULT_AS_OF, DEFAULT_DAYS, generate

    versions = generate(
        _workspace(args),
        customers=args.customers,
        transactions=args.transactions,
        events=args.events,
        seed=args.seed,
        as_of=args.as_of or DEFAULT_AS_OF,
        days=args.days or DEFAULT_DAYS,
        message=args.message,
    )
    for name, version in versions.items():
        print(f"{name}: v{version.id} ({version.row_count} rows) {version.message}")
    return 0


def _names(dataset: str | None) -> tuple[str, ...]:
    return (dataset,) if dataset else DATASETS


def _cmd_history(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    for name in _names(args.dataset):
        current = datasets.head(ws, name)
        print(f"{name} (HEAD v{current.id}):")
        for version in reversed(datasets.list_versions(ws, name)):
            print("  " + _describe(version, current.id))
    return 0


def _cmd_undo(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    names = _names(args.dataset)
    for name in names:
        before = datasets.head(ws, name)
        after = datasets.undo(ws, name)
        print(f"{name}: HEAD v{before.id} -> v{after.id} ({after.row_count} rows) {after.message}")
        paired = None if len(names) > 1 else datasets.pairing_note(ws, name, before)
        if paired:
            print(f"note: {paired}", file=sys.stderr)
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    version = datasets.restore(_workspace(args), args.dataset, args.version, args.message)
    print(f"{args.dataset}: new HEAD v{version.id} ({version.row_count} rows) {version.message}")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    print(datasets.diff(_workspace(args), args.dataset, args.a, args.b).to_text())
    return 0


def _version_number(text: str) -> int:
    value = text.lstrip("vV")
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (e.g. 3 or v3)")
    return int(value)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the dataset commands to the ``python -m mart`` parser."""
    reset = subparsers.add_parser(
        "reset",
        help="new versions of both datasets equal to the bundled sample",
        description="Create a new version of transactions (the 8 sample transactions) and "
        "events (the sample events). History is kept; undo goes back.",
    )
    reset.add_argument("--message", help="version message")
    reset.set_defaults(func=_cmd_reset)

    load = subparsers.add_parser(
        "load",
        help="load a CSV/TSV, JSON or Parquet file as a new version",
        description="Validate FILE, map its columns onto the dataset's fields and save it "
        "as a new HEAD version. Structural problems refuse the load (exit 1, nothing "
        "changes); empty values, duplicates, negative amounts and future dates are let in "
        "with warnings.",
    )
    load.add_argument("dataset", choices=DATASETS, help="which dataset")
    load.add_argument("file", help="path of the file to load")
    load.add_argument(
        "--mode",
        choices=("replace", "append"),
        default="replace",
        help="replace HEAD's rows (default) or append to them",
    )
    load.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN",
        help="use COLUMN for FIELD (repeatable; FIELD= unmaps a guess)",
    )
    load.add_argument(
        "--date-format",
        metavar="FMT",
        help="format of the date column: strptime codes (%%d/%%m/%%Y, %%Y%%m%%d), "
        "spreadsheet letters (dd/mm/yyyy, mm/dd/yy hh:mm), or unix for Unix times "
        "(seconds to nanoseconds since 1970)",
    )
    load.add_argument(
        "--decimal-mark",
        choices=("point", "comma"),
        help="decimal mark of the amounts: comma reads 1.249,50 and 1.249 as 1249.50 and "
        "1249.00 (the point groups thousands); point reads 1,249.50 (default: detected, and "
        "asked when the file does not settle it)",
    )
    load.add_argument(
        "--default",
        action="append",
        metavar="FIELD=VALUE",
        help="value for FIELD when it has no column, is empty or unreadable (repeatable)",
    )
    load.add_argument("--message", help="version message")
    load.set_defaults(func=_cmd_load)

    gen = subparsers.add_parser(
        "generate",
        help="generate synthetic transactions and events as new versions",
        description="Generate deterministic synthetic data (seeded) with repeat purchases, "
        "churn, seasonality and a consistent events funnel; saves a new version of both "
        "datasets.",
    )
    gen.add_argument("--customers", type=_positive, required=True, help="number of customers")
    gen.add_argument("--transactions", type=_positive, required=True, help="number of transactions")
    gen.add_argument(
        "--events", type=_positive, help="number of events (default about 5 per transaction)"
    )
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.add_argument("--as-of", type=_date, help="dates end the day before (default 2025-01-01)")
    gen.add_argument("--days", type=_positive, help="length of the date range (default 730)")
    gen.add_argument("--message", help="version message")
    gen.set_defaults(func=_cmd_generate)

    history = subparsers.add_parser(
        "history",
        help="list the versions of a dataset (or both)",
        description="List versions newest first; * marks HEAD.",
    )
    history.add_argument("dataset", nargs="?", choices=DATASETS, help="which dataset")
    history.set_defaults(func=_cmd_history)

    undo = subparsers.add_parser(
        "undo",
        help="move HEAD back to its parent version",
        description="Move HEAD of DATASET (or of both) back to its parent. Nothing is "
        "deleted: restore brings the undone version back.",
    )
    undo.add_argument("dataset", nargs="?", choices=DATASETS, help="which dataset")
    undo.set_defaults(func=_cmd_undo)

    restore = subparsers.add_parser(
        "restore",
        help="make an old version HEAD again (as a new version)",
        description="Create a new HEAD version with the records of VERSION.",
    )
    restore.add_argument("dataset", choices=DATASETS, help="which dataset")
    restore.add_argument("version", type=_version_number, help="version number, e.g. 3")
    restore.add_argument("--message", help="version message")
    restore.set_defaults(func=_cmd_restore)

    diff = subparsers.add_parser(
        "diff",
        help="rows added, removed and changed between two versions",
        description="Compare version A with version B, matching records by "
        "transaction_id / event_id.",
    )
    diff.add_argument("dataset", choices=DATASETS, help="which dataset")
    diff.add_argument("a", type=_version_number, help="older version")
    diff.add_argument("b", type=_version_number, help="newer version")
    diff.set_defaults(func=_cmd_diff)

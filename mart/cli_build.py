"""Build commands of ``python -m mart``: ``build`` and ``status``.

``build`` exits 0 when the new mart was published, 1 when error-severity tests failed
(nothing published; the previous build stays live), 2 on any other failure (dbt or a
model failed, the build was cancelled or interrupted, ``--no-wait`` found another
build running, or a ``--var`` or option was refused: 1 means only failed tests, so a
script can tell them apart). Per-node progress goes to stderr, the outcome to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from mart.errors import InputError

EXIT_OK = 0
EXIT_TESTS_FAILED = 1
EXIT_ERROR = 2


def parse_var(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → (key, value); VALUE is JSON if it parses as JSON, else a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"--var expects KEY=VALUE, got {text!r}.")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)  # 1e3 and 1000.0 are the whole number 1000
    return key, value


def check_vars(variables: dict[str, Any]) -> None:
    """Refuse (InputError, exit 1) vars the dbt project would refuse at compile time.

    Without this, ``--var high_value_threshold=abc`` or ``--var as_of_date=2024-13-45``
    started a build that failed in dbt's parse: exit 2 and a ``RuntimeError`` in the
    summary for what is a typo. The rules are the project's (``macros/segmentation.sql``,
    ``macros/as_of_date.sql``).
    """
    from mart import insights

    if any(name in variables for name in insights.THRESHOLD_VARS):
        defaults = insights.default_thresholds()
        high = variables.get("high_value_threshold", defaults.high)
        medium = variables.get("medium_value_threshold", defaults.medium)
        if isinstance(high, bool) or isinstance(medium, bool):
            raise InputError("Thresholds must be finite numbers in dollars, such as 500 or 199.99.")
        try:
            insights.validate_thresholds(high, medium)
        except InputError as exc:
            raise InputError(
                f"{exc} (--var high_value_threshold={high}, medium_value_threshold={medium})"
            ) from None
    if "as_of_date" in variables:
        raw = variables["as_of_date"]
        text = "" if raw is None else str(raw).strip()
        if text.lower() in ("", "none", "null", "today"):
            return
        try:
            if len(text) != 10:
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise InputError(
                f"--var as_of_date must be a real date written YYYY-MM-DD (for example "
                f"2024-03-01), got {text!r}."
            ) from None
        from mart.loading import MAX_YEAR, MIN_YEAR

        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise InputError(
                f"--var as_of_date must have a year from {MIN_YEAR} to {MAX_YEAR}, as the "
                f"data's dates do; got {text!r}."
            )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``build`` and ``status`` to the ``python -m mart`` parser."""
    build = subparsers.add_parser(
        "build",
        help="build the mart from the HEAD dataset versions and publish it if tests pass",
        description=(
            "Build the mart with dbt into a new build directory; publish it if no "
            "error-severity test failed. Exit 0 published, 1 tests failed, 2 error."
        ),
    )
    build.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dbt var for this build (repeatable), e.g. --var high_value_threshold=300",
    )
    build.add_argument(
        "--default-vars",
        action="store_true",
        help=(
            "start from the project's default vars; by default the published build's "
            "vars are kept (as the app's Rebuild does) and --var changes them"
        ),
    )
    build.add_argument(
        "--publish-on-test-failure",
        action="store_true",
        help="publish even if error-severity tests fail",
    )
    build.add_argument(
        "--no-wait",
        action="store_true",
        help="exit 2 at once if another build is running instead of waiting for it",
    )
    build.add_argument(
        "--unit-tests",
        action="store_true",
        help=(
            "run dbt's unit tests even when an earlier build already passed them on the "
            "same project files and vars (by default they are not re-run then)"
        ),
    )
    build.add_argument(
        "--no-reuse",
        action="store_true",
        help=(
            "run every model, snapshot and test, the unit tests too; by default those "
            "whose data, SQL and vars are unchanged since the published build are reused"
        ),
    )
    # 1 is "tests failed": a usage mistake exits 2 (set on the parser for its own
    # errors, and as a default for the unrecognized arguments the top parser finds)
    build.set_defaults(func=cmd_build, usage_exit=EXIT_ERROR)
    build.usage_exit = EXIT_ERROR  # type: ignore[attr-defined]

    status = subparsers.add_parser(
        "status", help="dataset versions, the published build and the last build"
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=cmd_status)


def _manager(args: argparse.Namespace, **options: Any) -> Any:
    from mart.builds import BuildManager
    from mart.workspace import Workspace

    return BuildManager(Workspace.from_env(getattr(args, "workspace", None)), **options)


class _Progress:
    """Prints one stderr line per finished node, dbt-style: ``[ 5/84] OK   model x``."""

    def __init__(self) -> None:
        self.total = 0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "waiting":
            print(event.get("message", "waiting for another build"), file=sys.stderr)
        elif kind == "build_started":
            print(f"build {event.get('build_id')} started", file=sys.stderr)
        elif kind == "phase" and event.get("phase") == "parse":
            print("project or vars changed: parsed again", file=sys.stderr)
        elif kind == "phase" and event.get("phase") == "complete":
            self.total = int(event.get("total") or 0)
            print(
                f"tests failed: building the {event.get('models', 0)} models and snapshots "
                f"they held back, then running the {event.get('tests', 0)} tests they "
                "skipped (the build stays unpublished unless published anyway)",
                file=sys.stderr,
            )
        elif kind == "reused":
            print(
                f"reusing {event.get('count')} unchanged nodes from build "
                f"{event.get('from_build')} (same data, SQL and vars)",
                file=sys.stderr,
            )
        elif kind == "plan":
            self.total = int(event.get("total") or 0)
        elif kind == "node_finished":
            width = len(str(self.total or 0))
            status = str(event.get("status", "")).upper()
            detail = []
            if event.get("rows") is not None and event.get("resource_type") not in {
                "test",
                "unit_test",
            }:
                detail.append(f"{event['rows']} rows")
            if event.get("failures"):
                detail.append(f"{event['failures']} failing rows")
            if event.get("duration_s") is not None:
                detail.append(f"{event['duration_s']:.2f} s")
            suffix = f" ({', '.join(detail)})" if detail else ""
            print(
                f"[{event.get('index', 0):>{width}}/{self.total}] {status:<8} "
                f"{event.get('resource_type')} {event.get('name')}{suffix}",
                file=sys.stderr,
            )


def _warn_kept_as_of(manager: Any, published: Any, given: dict[str, Any]) -> None:
    """Say before the build when the as_of_date it keeps is behind the data (as the
    app's sidebar does): the build would fail the not_after_as_of_date tests."""

    from mart.builds import as_of_behind, as_of_that_fits

    if published is None or "as_of_date" in given:
        return
    behind = as_of_behind(manager.ws, published.vars or {})
    if behind is None:
        return
    kept, latest = behind
    fits = as_of_that_fits(latest).isoformat()
    print(
        f"warning: the data now runs to {latest}, after the as-of date {kept} this build "
        f"keeps from build {published.build_id}; it will fail the not_after_as_of_date "
        f"tests. Use --var as_of_date={fits} (or --var as_of_date=today).",
        file=sys.stderr,
    )


def _warn_last_build_vars(manager: Any, published: Any, given: dict[str, Any]) -> None:
    """Say before the build when the last build failed with vars this one does not use:
    a retry (``build --publish-on-test-failure`` after ``build --var as_of_date=…``
    failed) keeps the published build's vars, not the ones just tried."""
    from mart.builds import FAILED

    latest = manager.current_build()
    if latest is None or latest.status != FAILED or published is None:
        return
    if latest.build_id == published.build_id:
        return
    will_use = {**(published.vars or {}), **given}
    differ = {
        name: value
        for name, value in (latest.vars or {}).items()
        if name not in given and will_use.get(name) != value
    }
    if not differ:
        return
    tried = " ".join(f"--var {name}={value}" for name, value in sorted(differ.items()))
    kept = ", ".join(
        f"{name}={will_use[name]}" if name in will_use else f"{name} unset"
        for name in sorted(differ)
    )
    print(
        f"note: the last build, {latest.build_id}, failed with {tried.replace('--var ', '')}; "
        f"this build uses the vars of published build {published.build_id} ({kept}). "
        f"Add {tried} to build with the last build's.",
        file=sys.stderr,
    )


def cmd_build(args: argparse.Namespace) -> int:
    """Run one build to the end; its exit code says what happened."""
    try:
        return _build(args)
    except InputError as exc:  # a refused --var: exit 2, as 1 means tests failed
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _build(args: argparse.Namespace) -> int:
    from mart.builds import CANCELLED, INTERRUPTED, PUBLISHED, vars_text

    given = dict(parse_var(item) for item in args.var)
    manager = _manager(args, prewarm_after_build=False)
    # Like the app's Rebuild: the vars of the build published when this one starts
    # (after any wait) stay unless --var changes one; --default-vars drops them. The
    # check here is on today's published vars; the engine merges again after the wait.
    published = None if args.default_vars else manager.published()
    check_vars({**((published.vars or {}) if published is not None else {}), **given})
    _warn_kept_as_of(manager, published, given)
    _warn_last_build_vars(manager, published, given)
    build_id = manager.start_build(
        vars=given,
        keep_published_vars=not args.default_vars,
        publish_on_test_failure=args.publish_on_test_failure,
        wait=not args.no_wait,
        on_event=_Progress(),
        unit_tests=True if args.unit_tests else None,
        reuse=not args.no_reuse,
    )
    try:
        record = manager.wait(build_id)
    except KeyboardInterrupt:
        # Ctrl-C: cancel the build, so its record says cancelled now (not running
        # until the next start finds its process gone); exit 2 as for any cancel.
        print(f"\ninterrupted: cancelling build {build_id} …", file=sys.stderr)
        manager.cancel(build_id)
        record = manager.wait(build_id, timeout=30)
    print(record.summary())
    for note in record.notes:
        print(f"warning: {note}", file=sys.stderr)
    origin = record.vars_origin or {}
    note = ""
    if origin.get("kept"):
        note = (
            f" ({', '.join(origin['kept'])} kept from published build "
            f"{origin.get('from_build')}; --default-vars drops them)"
        )
    print(f"vars: {vars_text(record.vars)}{note}", file=sys.stderr)
    if origin.get("dropped"):
        print(
            f"dropped {', '.join(origin['dropped'])} of published build "
            f"{origin.get('from_build')}: dbt_project.yml no longer declares "
            + ("it" if len(origin["dropped"]) == 1 else "them"),
            file=sys.stderr,
        )
    reused = record.reuse_note()
    for note in (
        f"{reused} --no-reuse runs every node." if reused else None,
        record.unit_tests_note(),
        record.completion_note(),
    ):
        if note:
            print(note, file=sys.stderr)
    for test in record.failing_tests:
        print(
            f"  {test['status'].upper():<5} {test['name']}"
            + (
                f" ({test['failures']:,} failing row{'' if test['failures'] == 1 else 's'})"
                if test.get("failures")
                else ""
            )
            + (f" -> {test['relation']}" if test.get("relation") else ""),
            file=sys.stderr,
        )
    if record.failing_tests and record.status != PUBLISHED:
        print(
            f"  (the failing rows are in this build's file, not the published one: "
            f"{record.db_path})",
            file=sys.stderr,
        )
    if record.status == PUBLISHED:
        print(f"published: {record.db_path}")
        return EXIT_OK
    if record.status in (CANCELLED, INTERRUPTED) or record.failure != "tests":
        return EXIT_ERROR
    return EXIT_TESTS_FAILED


def _tests_text(tests: dict[str, int]) -> str:
    return ", ".join(f"{tests.get(key, 0)} {key}" for key in ("pass", "fail", "warn", "error"))


def cmd_status(args: argparse.Namespace) -> int:
    """Print the workspace summary (``--json`` for the machine-readable form)."""
    from mart.builds import damaged_file, vars_text

    manager = _manager(args)
    # status only reads: a read-only workspace (or a full disk) leaves stale records
    # as they are instead of failing the command
    with contextlib.suppress(OSError):
        manager.recover()
    status = manager.status()
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return EXIT_OK
    lines = ["datasets:"]
    for name, info in status["datasets"].items():
        lines.append(
            f"  {name}: version {info['version']}, {info['rows']} rows"
            if info
            else f"  {name}: no data"
        )
    published = status["published"]
    if published:
        lines.append(
            f"published: build {published['build_id']} ({published['finished_at']}) — "
            f"tests {_tests_text(published['tests'])}"
            + (
                f" (published anyway at {published.get('published_at')})"
                if published.get("published_anyway")
                else ""
            )
        )
        lines.append(f"  vars: {vars_text(published.get('vars'))}")
        lines.append(f"  {published['path']}")
        damage = damaged_file(Path(published["path"]))
        if damage is not None:
            lines.append(
                f"  warning: its file {damage}: queries may fail; the next build starts "
                "from the latest published build whose file is whole"
            )
    else:
        lines.append("published: nothing yet (run `python -m mart build`)")
    last = status["last_build"]
    if last:
        duration = f" in {last['duration_s']:.2f} s" if last.get("duration_s") else ""
        if last["status"] == "running":
            lines.append(f"last build: {last['build_id']} running (no test results yet)")
        else:
            lines.append(
                f"last build: {last['build_id']} {last['status']}"
                + (f" ({last['failure']})" if last.get("failure") else "")
                + f"{duration} — "
                f"tests {_tests_text(last['tests'])}"
                + (
                    f"; {last['reused_nodes']} unchanged nodes reused"
                    if last.get("reused_nodes")
                    else ""
                )
            )
    print("\n".join(lines))
    return EXIT_OK

"""The ``python -m mart`` command line.

Exit codes everywhere: 0 done; 1 refused or invalid input (or a build whose
error-severity tests failed); 2 any other failure. ``build`` is the exception: its 1
means only that tests failed, so a script can tell them from a mistyped ``--var``,
which exits 2 there (``cli_build``). Results go to stdout, messages to
stderr, and a user's mistake never prints a traceback.

Commands are registered by the modules that own them (``cli_data`` for the dataset
commands, ``cli_build`` for build/status, ``cli_query`` for query/analyses): each exposes
``register(subparsers)`` and sets ``func`` on its parser; ``func(args)`` returns
the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback
from collections.abc import Sequence

from mart.errors import BuildBusyError, InputError, MartError

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_ERROR = 2

COMMAND_MODULES = ("mart.cli_data", "mart.cli_build", "mart.cli_query")


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; a bad option is the user's mistake, so exit 1
    (``usage_exit``: a command whose 1 means something else sets its own)."""

    usage_exit = EXIT_REFUSED

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(self.usage_exit)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m mart",
        description="TechMart Mart Explorer: datasets, builds and queries from the command line.",
    )
    parser.add_argument(
        "--workspace",
        help="workspace directory (default: $MART_WORKSPACE or ./workspace)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


#: Control characters, and the Unicode ones that reorder or break text on a terminal
#: (U+202E showed a value reversed).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str, keep_lines: bool = False) -> str:
    """``text`` for the terminal, control characters written as escapes (``\\x1b``,
    ``\\u202e``), so a value cannot move the cursor, change colours, set the title or
    reverse what follows. ``keep_lines``: line breaks and tabs stay (an error message is
    laid out with them; a table cell is not)."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if keep_lines and char in "\n\t":
            return char
        code = ord(char)
        return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"

    return _CONTROLS.sub(escape, text)


def message_safe(text: str) -> str:
    """An error message for the terminal (:func:`terminal_safe`, keeping its lines): a
    value quoted in it (``select error(chr(27) || '[2J')``, a cast of such text) cannot
    clear the screen, set the title or overwrite the line."""
    return terminal_safe(text, keep_lines=True)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args, extras = parser.parse_known_args(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ERROR
    if extras:  # what parse_args does, with the exit code of the command given
        parser.usage_exit = getattr(args, "usage_exit", EXIT_REFUSED)  # type: ignore[attr-defined]
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # stdout closed early (``| head``): not an error. Point stdout at devnull so
        # Python's flush at exit does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except InputError as exc:
        print(f"error: {message_safe(str(exc))}", file=sys.stderr)
        return EXIT_REFUSED
    except BuildBusyError as exc:
        print(f"error: {message_safe(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except MartError as exc:
        print(f"error: {message_safe(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        # a full disk, a read-only workspace, a folder where a file should be: the
        # system's reason and the path, not "internal error: OSError: [Errno 28] …"
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {message_safe((exc.strerror or str(exc)) + where)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # an internal failure: say so, keep the details for bug reports
        print(f"internal error: {type(exc).__name__}: {message_safe(str(exc))}", file=sys.stderr)
        if "--debug" in sys.argv or __import__("os").environ.get("MART_DEBUG"):
            traceback.print_exc()
        return EXIT_ERROR

"""Fixes from a review, testable without dbt or Streamlit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mart import cli


@pytest.mark.parametrize(
    "var",
    [
        "high_value_threshold=abc",
        "high_value_threshold=100",  # not above the default medium (200)
        "medium_value_threshold=-5",
        "high_value_threshold=true",
        "as_of_date=2024-13-45",
        "as_of_date=01/03/2024",
        "as_of_date=0001-01-01",  # the data's dates have years 1000 to 9999
        "high_valu_threshold=400",  # a typo would build with the default and look fine
        "high_value_threshold=1234567890123456.78",  # above the largest threshold
        "bronze_autoload=true",  # the build engine's own var
    ],
)
def test_build_refuses_invalid_vars_before_starting_a_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], var: str
) -> None:
    workspace = tmp_path / "ws"
    code = cli.main(["--workspace", str(workspace), "build", "--var", var])
    captured = capsys.readouterr()
    assert code == 2, captured  # an error: build's 1 means only that tests failed
    assert captured.err.startswith("error: "), captured.err
    assert "Error:" not in captured.err and "Traceback" not in captured.err
    assert not (workspace / "builds").exists() or not any((workspace / "builds").iterdir())


def test_build_usage_errors_exit_2_and_other_commands_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = str(tmp_path / "ws")
    with pytest.raises(SystemExit) as build:
        cli.main(["--workspace", workspace, "build", "--no-such-option"])
    with pytest.raises(SystemExit) as history:
        cli.main(["--workspace", workspace, "history", "--no-such-option"])
    assert (build.value.code, history.value.code) == (2, 1)
    assert cli.main(["--workspace", workspace, "build", "--var", "=5"]) == 2
    assert "--var expects KEY=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize(
    "variables",
    [
        {"high_value_threshold": 400},
        {"high_value_threshold": 1000, "medium_value_threshold": 300.5},
        {"medium_value_threshold": 0},
        {"as_of_date": "2024-03-01"},
        {"as_of_date": "today"},
        {"other": "anything"},
    ],
)
def test_valid_build_vars_pass_the_check(variables: dict) -> None:
    from mart.cli_build import check_vars

    check_vars(variables)


def _euro_csv(tmp_path: Path) -> Path:
    path = tmp_path / "euro.csv"
    path.write_text(
        "Order No;Client;Date;Total\n1;C001;15/01/2024;1.234,56\n2;C002;01/02/2024;12,50\n",
        encoding="utf-8",
    )
    return path


def test_an_invalid_date_format_is_a_refusal_not_an_internal_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mart import loading

    report = loading.validate_file("transactions", _euro_csv(tmp_path), date_format="%Q")
    assert not report.ok
    assert any("not a valid strptime format" in p.problem for p in report.errors), [
        str(p) for p in report.errors
    ]
    code = cli.main(
        [
            "--workspace",
            str(tmp_path / "ws"),
            "load",
            "transactions",
            str(_euro_csv(tmp_path)),
            "--date-format",
            "%Q",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1, err
    assert "internal error" not in err and "'%Q' is not a valid strptime format" in err


def test_a_valid_date_format_still_loads(tmp_path: Path) -> None:
    from mart import loading

    report = loading.validate_file("transactions", _euro_csv(tmp_path), date_format="%d/%m/%Y")
    assert report.ok, [str(p) for p in report.errors]


def test_a_workspace_path_that_cannot_be_a_folder_is_a_plain_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for root, words in ((afile, "is a file, not a folder"), (afile / "sub", "cannot be used")):
        code = cli.main(["--workspace", str(root), "status"])
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("error: ") and words in err, err


def test_a_closed_stdout_is_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m mart status | head -1``: the reader went away; exit 0, no message."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed = os.fdopen(write_end, "w", buffering=1)
    with capsys.disabled():
        monkeypatch.setattr(sys, "stdout", closed)
        code = cli.main(["--workspace", str(tmp_path / "ws"), "status"])
    monkeypatch.undo()
    assert code == 0
    closed.close()


def test_a_build_published_anyway_names_the_models_it_did_not_rebuild() -> None:
    from mart.builds import BuildRecord

    nodes = [
        {"resource_type": "model", "name": "stg_transactions", "status": "success"},
        {"resource_type": "test", "name": "not_negative_amount", "status": "fail"},
        {"resource_type": "model", "name": "fct_customer_metrics", "status": "skipped"},
        {"resource_type": "snapshot", "name": "customers_snapshot", "status": "skipped"},
    ]
    record = BuildRecord(build_id=7, status="published", started_at="", nodes=nodes)
    assert record.stale_note() is None  # published normally: nothing to say
    record.published_anyway = True
    record.timings["based_on_build"] = 6
    assert record.not_rebuilt == ["fct_customer_metrics", "customers_snapshot"]
    note = record.stale_note()
    assert note and "still those of build 6" in note and "fct_customer_metrics" in note
    assert note in record.summary()


def test_tile_money_is_exact_below_a_million_and_compact_above() -> None:
    from decimal import Decimal

    from mart.money import tile_money

    assert tile_money(Decimal("1635.48")) == "$1,635.48"
    assert tile_money(Decimal("999999.99")) == "$999,999.99"
    assert tile_money(Decimal("8568688.64")) == "$8.57M"
    assert tile_money(Decimal("1005000.00")) == "$1.01M"  # half away from zero, on Decimal
    assert tile_money(Decimal("-2500000")) == "-$2.50M"
    assert tile_money(Decimal("-12.5")) == "-$12.50"
    assert tile_money(None) == "–"
    # larger totals stay short enough for a tile
    assert tile_money(Decimal("1234567890.12")) == "$1.23B"
    assert tile_money(Decimal("999999999.99")) == "$1.00B"  # not $1,000.00M
    assert tile_money(Decimal("2500000000000")) == "$2.50T"
    assert tile_money(Decimal("99999999999999999.90")) == "$1.00e17"
    assert tile_money(Decimal("-123456789012345678.90")) == "-$1.23e17"


def test_the_reuse_note_names_the_builds_that_really_ran_the_nodes() -> None:
    """Build #3 reused everything from #2, which had reused everything from #1: the
    note said "those of the builds that ran them (#2, #1)", but #2 ran nothing."""
    from mart.builds import BuildRecord

    nodes = [
        {"resource_type": "model", "name": "stg_transactions", "reused_from": 1},
        {"resource_type": "test", "name": "unique_id", "reused_from": 1},
    ]
    record = BuildRecord(build_id=3, status="published", started_at="", nodes=nodes)
    record.reuse = {"from_build": 2}
    note = record.reuse_note()
    assert note is not None
    assert note.startswith(
        "1 model (stg_transactions) and 1 test did not run again: their data, SQL and vars are as "
        "in build 2; they keep the results of build 1, where they last ran. "
    ), note
    assert "#2" not in note
    nodes.append({"resource_type": "model", "name": "dim_customers", "reused_from": 2})
    note = record.reuse_note()
    assert note is not None and "of the builds where they last ran (#2, #1)." in note
    del nodes[:2]
    note = record.reuse_note()
    assert note is not None and "are as in build 2, whose results they keep." in note


def test_ctrl_c_while_the_command_line_reads_its_arguments_is_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """^C in the first second of `build`, `status` or `query` printed a KeyboardInterrupt
    traceback through build_parser, outside main()'s handler."""
    from mart import cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["status"]) == cli.EXIT_ERROR
    assert capsys.readouterr().err == "interrupted\n"


def test_a_system_error_is_said_plainly_and_status_reads_a_read_only_workspace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A full disk printed "internal error: OSError: [Errno 28] …"; `status` on a
    read-only workspace failed in its recovery step, which writes the lock file."""
    import errno

    from mart import builds, cli

    def full(_args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.json"))

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(full))
    assert cli.main(["anything"]) == cli.EXIT_ERROR
    assert capsys.readouterr().err == f"error: No space left on device: {tmp_path / 'x.json'}\n"

    def read_only(self: object) -> list[int]:
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "build.lock"))

    monkeypatch.undo()  # the real parser again
    monkeypatch.setattr(builds.BuildManager, "recover", read_only)
    assert cli.main(["--workspace", str(tmp_path / "ws"), "status"]) == 0
    out = capsys.readouterr()
    assert "published: nothing yet" in out.out and "error" not in out.err


def _parser_running(func):  # noqa: ANN001, ANN202 - a stand-in parser for main()
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.set_defaults(func=func)
    return parser

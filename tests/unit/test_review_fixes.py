"""Fixes from a review, testable without dbt or Streamlit."""

from __future__ import annotations

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
    ],
)
def test_build_refuses_invalid_vars_before_starting_a_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], var: str
) -> None:
    workspace = tmp_path / "ws"
    code = cli.main(["--workspace", str(workspace), "build", "--var", var])
    captured = capsys.readouterr()
    assert code == 1, captured
    assert captured.err.startswith("error: "), captured.err
    assert "Error:" not in captured.err and "Traceback" not in captured.err
    assert not (workspace / "builds").exists() or not any((workspace / "builds").iterdir())


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

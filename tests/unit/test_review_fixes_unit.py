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

"""mart.values: one way to show a query result's values, for `query` and the console."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from mart.values import is_nested, json_value, nested_as_text, nested_text, normalise


def test_nested_as_text_writes_lists_structs_and_maps_and_keeps_the_rest() -> None:
    masked = np.ma.masked_array([1.5, 0.0, float("nan")], mask=[False, True, False])
    frame = pd.DataFrame(
        {
            "plain": pd.Series(["a", None, "c"], dtype=object),
            "mixed": [[1, 2], None, "text"],
            "struct": [{"a": float("nan")}, {"a": None}, {"a": 1}],
            "masked": [masked, np.array([], dtype=float), None],
            "number": [1.0, float("nan"), 3.0],
        }
    )
    out = nested_as_text(frame)
    assert out is not frame
    assert out["plain"].tolist() == ["a", None, "c"]
    # pandas may hold the NULL as NaN once the column is all text: both are a NULL
    assert out["mixed"].iloc[[0, 2]].tolist() == ["[1, 2]", "text"]
    assert pd.isna(out["mixed"].iloc[1])
    assert out["struct"].tolist() == ['{"a": nan}', '{"a": null}', '{"a": 1}']
    assert out["masked"].iloc[:2].tolist() == ["[1.5, null, nan]", "[]"]
    assert pd.isna(out["masked"].iloc[2])
    assert out["number"].iloc[0] == 1.0 and np.isnan(out["number"].iloc[1])
    # the caller's frame is untouched
    assert frame["mixed"].iloc[0] == [1, 2]


def test_nested_as_text_returns_the_frame_itself_when_nothing_is_nested() -> None:
    frame = pd.DataFrame({"a": ["x", "y"], "b": [1, 2]})
    assert nested_as_text(frame) is frame


def test_value_helpers_agree_on_nan_null_and_decimals() -> None:
    assert is_nested((1,)) and is_nested({}) and not is_nested("[1]")
    assert normalise(Decimal("1.50")) == Decimal("1.50")
    assert normalise(2.5, "DECIMAL(18,2)") == Decimal("2.50")
    assert json_value([Decimal("1.50"), float("inf"), None]) == "[1.50, null, null]"
    assert json_value([float("-inf")], strict=False) == "[-inf]"
    assert nested_text({"k": [float("nan"), None]}) == '{"k": [nan, null]}'

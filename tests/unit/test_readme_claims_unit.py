"""Sentences of the README that describe behaviour the code keeps on purpose."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _paragraph_with(text: str, needle: str) -> str:
    """The blank-line-separated paragraph of ``text`` holding ``needle``, on one line."""
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        if needle in flat:
            return flat
    raise AssertionError(f"no README paragraph says {needle!r}")


def test_readme_does_not_put_the_failure_advice_in_the_sidebar() -> None:
    """ui/sidebar.py leaves the general failure advice out (long for a 300 px sidebar on
    every page; Build & Tests has it): the README said it showed "in the same places"
    as the as-of hint, the sidebar among them."""
    paragraph = _paragraph_with(
        README.read_text(encoding="utf-8"), "Other failing tests get advice"
    )
    advice = paragraph[paragraph.index("Other failing tests get advice") :]
    assert "in the same places" not in advice, advice
    assert "Build & Tests" in advice and "command line" in advice
    assert "sidebar" in advice and "names only the failing tests" in advice, advice

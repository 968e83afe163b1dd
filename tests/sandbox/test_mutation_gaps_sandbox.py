"""The console's byte limit keeps every row that fits (found by mutation testing)."""

from __future__ import annotations

from pathlib import Path

from mart import sandbox


def test_the_byte_limit_keeps_exactly_the_rows_that_fit(mart_db: Path) -> None:
    """Each row is about 1,008 bytes (1,000 characters and a number counted as 8): a
    limit of 49 rows' bytes keeps 49 rows, one byte less keeps 48."""
    sql = "select repeat('x', 1000) as s, range as n from range(100)"
    row = 1000 + 8
    for limit, rows in ((49 * row, 49), (49 * row - 1, 48), (row - 1, 1)):
        result = sandbox.run_sql(mart_db, sql, max_bytes=limit)
        assert result.truncated and result.row_count == rows, limit
        assert result.dataframe["n"].tolist() == list(range(rows))
        assert result.notice and result.notice.startswith(f"Showing the first {rows:,} rows")

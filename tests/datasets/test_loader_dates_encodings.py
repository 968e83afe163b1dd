"""Dates and encodings the loader read wrongly or refused with the wrong advice."""

from __future__ import annotations

import datetime

import pytest

from tests.datasets.conftest import load

# --------------------------------------------------------------------------- Parquet


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
def test_parquet_zoned_timestamps_of_every_unit_warn_when_the_date_changes(
    ws, tmp_path, stored, unit
):
    """pandas' default, timestamp[ns, tz=...], is TIMESTAMPTZ_NS to DuckDB: it was read as
    the bare UTC moment, and 00:30 in Berlin became the day before without a word."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    zone = "Europe/Berlin"
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    moments = [
        datetime.datetime(2024, 1, 15, 12, 0, tzinfo=berlin),
        datetime.datetime(2024, 1, 16, 0, 30, tzinfo=berlin),  # 2024-01-15 23:30 UTC
    ]
    table = pa.table(
        {
            "transaction_id": ["T1", "T2"],
            "customer_id": ["C1", "C2"],
            "transaction_date": pa.array(moments, pa.timestamp(unit, tz=zone)),
            "amount": [10.0, 20.0],
        }
    )
    path = tmp_path / f"zoned-{unit}.parquet"
    pq.write_table(table, path, coerce_timestamps=None)
    assert str(pq.read_schema(path).field("transaction_date").type) == (
        f"timestamp[{unit}, tz={zone}]"
    )
    result = load(ws, path)
    assert [row["transaction_date"] for row in stored("transactions")] == [
        "2024-01-15",
        "2024-01-15",
    ]
    assert result.report.warning_summary == {"time zones converted": 1}
    [warning] = result.report.warnings
    assert (warning.row, warning.problem) == (
        2,
        "time zone converted to UTC: the date is 2024-01-15",
    )
    assert warning.value == f"2024-01-16 00:30:00.000000 {zone}"


def test_parquet_nanosecond_event_times_in_new_york_warn(ws, tmp_path, stored):
    """A purchase at 20:00 on 31 January in New York is 1 February 01:00 UTC: said."""
    import pandas as pd
    import pyarrow.parquet as pq

    frame = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "event_type": ["purchase"],
            "event_timestamp": pd.to_datetime(["2024-01-31 20:00:00"])
            .tz_localize("America/New_York")
            .as_unit("ns"),
        }
    )
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    assert "timestamp[ns, tz=America/New_York]" in str(pq.read_schema(path))
    result = load(ws, path, dataset="events")
    assert stored("events")[0]["event_timestamp"] == "2024-02-01T01:00:00"
    assert result.report.warning_summary == {"time zones converted": 1}
    assert result.report.warnings[0].problem == "time zone converted to UTC: 2024-02-01 01:00:00"

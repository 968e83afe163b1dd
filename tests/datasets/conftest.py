"""Fixtures for the dataset tests: a Workspace object over the per-test MART_WORKSPACE."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from mart import datasets
from mart.loading import LoadRefusedError
from mart.workspace import Workspace

#: The transactions header most loader tests write above their rows.
HEADER = "transaction_id,customer_id,transaction_date,amount,product_category\n"


def load(ws: Workspace, path: Path, dataset: str = "transactions", **kwargs) -> datasets.LoadResult:
    """Load ``path`` into ``dataset`` (a new version) and return the result."""
    return datasets.load_file(ws, dataset, path, **kwargs)


def refused(ws: Workspace, path: Path, dataset: str = "transactions", **kwargs) -> LoadRefusedError:
    """Load ``path`` expecting a refusal, check that it changed nothing (HEAD and the
    versions of a fresh workspace), and return the error."""
    before = datasets.head(ws, dataset).id
    with pytest.raises(LoadRefusedError) as caught:
        datasets.load_file(ws, dataset, path, **kwargs)
    assert datasets.head(ws, dataset).id == before, "a refused load must change nothing"
    assert len(datasets.list_versions(ws, dataset)) == 1
    return caught.value


@pytest.fixture
def ws(workspace: Path) -> Workspace:
    """The per-test workspace (tests/conftest.py) as a ``Workspace``."""
    return Workspace.from_env()


@pytest.fixture
def write_file(tmp_path: Path):
    """Write bytes or text to a file under tmp_path and return its path."""

    def write(name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
        path = tmp_path / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode(encoding) if isinstance(content, str) else content
        path.write_bytes(data)
        return path

    return write


def _stored(ws: Workspace, dataset: str, version_id: int | None = None) -> list[dict]:
    """The raw records of a version (default HEAD), parsed, in record_number order."""
    vid = version_id if version_id is not None else datasets.head(ws, dataset).id
    path = datasets.version_path(ws, dataset, vid)
    rows = duckdb.execute(
        "select record_number, raw_data from read_parquet(?) order by record_number",
        [str(path)],
    ).fetchall()
    return [json.loads(raw, parse_float=Decimal) for _, raw in rows]


def _stored_text(ws: Workspace, dataset: str, version_id: int | None = None) -> list[str]:
    """The raw_data texts of a version (default HEAD), in record_number order."""
    vid = version_id if version_id is not None else datasets.head(ws, dataset).id
    path = datasets.version_path(ws, dataset, vid)
    return [
        raw
        for (raw,) in duckdb.execute(
            "select raw_data from read_parquet(?) order by record_number", [str(path)]
        ).fetchall()
    ]


@pytest.fixture
def stored(ws: Workspace):
    """``stored(dataset, version_id=None)``: a version's raw records as dicts."""
    return lambda dataset, version_id=None: _stored(ws, dataset, version_id)


@pytest.fixture
def stored_text(ws: Workspace):
    """``stored_text(dataset, version_id=None)``: a version's raw_data texts."""
    return lambda dataset, version_id=None: _stored_text(ws, dataset, version_id)

"""dbt artifacts of one build as plain typed objects: lineage, model docs, test results.

A build's ``target/`` holds ``manifest.json`` (the project as dbt saw it, with the
compiled SQL of every node that ran), ``run_results.json`` (what happened to each node)
and, once docs were generated, ``catalog.json`` (the column types DuckDB reports).
:meth:`BuildArtifacts.load` reads them once into the dataclasses below; pages and the
CLI render those and never touch the JSON.

Notes on the artifacts this reads (dbt-core 1.11, dbt-duckdb 1.11):

- ``run_results.json`` is overwritten by every dbt command that writes a target dir.
  ``dbt docs generate`` without ``--no-compile`` replaces the build's results with
  "success" compile results, so statuses are taken only from build-like commands
  (:data:`BUILD_COMMANDS`); for any other command nodes show as not run.
- Analyses are not compiled by ``dbt build``; :func:`compiled_analysis_sql` renders
  their ``ref()``/``source()`` calls from the manifest instead.
- Relations are addressed as ``schema.table`` without the database part: the database
  name in the manifest is the file name dbt wrote to (``mart``), and a reader that opens
  a copy under another name would otherwise miss every table.

Parse cost on this project (84 manifest nodes + 4 unit tests, ~1 MB manifest, with
catalog), measured on a busy 2-core machine: 11-19 ms to parse (``load_ms``), plus
20-50 ms for the row counts with a warm DuckDB (about 130 ms for the very first
connection of a process; ``count_ms``). Cache the result per build
(:func:`load_cached`, or ``st.cache_resource`` keyed by the build id).
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mart.errors import InputError, MartError, NotFoundError
from mart.reuse import REUSED_FROM

BUILD_COMMANDS = frozenset({"build", "run", "test", "seed", "snapshot", "retry"})
"""dbt commands whose run_results statuses describe a build (not a compile)."""

LAYERS: tuple[str, ...] = (
    "sources",
    "seeds",
    "staging",
    "intermediate",
    "marts",
    "snapshots",
    "exposures",
    "analyses",
    "tests",
    "other",
)
"""Every layer a node can be in, in lineage order (left to right)."""

LAYER_LABELS: dict[str, str] = {
    "sources": "bronze sources",
    "seeds": "seeds",
    "staging": "staging",
    "intermediate": "intermediate",
    "marts": "marts",
    "snapshots": "snapshots",
    "exposures": "exposure",
    "analyses": "analyses",
    "tests": "tests",
    "other": "other models",
}
"""Column headers for the layers."""

MODEL_LAYERS = frozenset({"staging", "intermediate", "marts"})

RESOURCE_TYPES = (
    "source",
    "seed",
    "model",
    "snapshot",
    "test",
    "unit_test",
    "exposure",
    "analysis",
)
"""Resource types that appear in the lineage graph (hooks/operations do not)."""

TEST_TYPES = frozenset({"test", "unit_test"})

# Worst first: how bad a test status is when several tests are folded into one node.
_STATUS_RANK = {"error": 6, "fail": 5, "warn": 4, "skipped": 3, "pass": 1, "success": 1}

TEST_STATUSES = ("pass", "fail", "warn", "error", "skipped")


# -- the objects -------------------------------------------------------------------------


def reused_from(result: dict[str, Any]) -> int | None:
    """The build that ran a node whose result (a run_results.json entry) was reused."""
    value = (result.get("adapter_response") or {}).get(REUSED_FROM)
    return int(value) if isinstance(value, int) else None


@dataclass(frozen=True)
class Node:
    """One node of the lineage graph, with what the build did to it."""

    unique_id: str
    name: str
    resource_type: str
    layer: str
    package: str = ""
    path: str = ""
    materialization: str | None = None
    relation: str | None = None  # "schema.table"; None for tests without stored rows etc.
    status: str | None = None  # run_results status; None when the build did not run it
    execution_time: float | None = None
    rows_affected: int | None = None
    row_count: int | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    test_ids: tuple[str, ...] = ()  # tests attached to this node
    worst_test_status: str | None = None
    # The build that ran this node when this build reused it unchanged (mart.reuse).
    reused_from: int | None = None

    @property
    def is_test(self) -> bool:
        return self.resource_type in TEST_TYPES

    @property
    def test_count(self) -> int:
        return len(self.test_ids)

    @property
    def label(self) -> str:
        """Display name: sources as ``source.table``."""
        if self.resource_type == "source":
            parts = self.unique_id.split(".")
            return ".".join(parts[-2:])
        return self.name


@dataclass(frozen=True)
class LineageGraph:
    """Nodes by unique id and ``(parent, child)`` edges between them."""

    nodes: dict[str, Node]
    edges: tuple[tuple[str, str], ...]

    @functools.cached_property
    def _parents(self) -> dict[str, list[str]]:
        parents: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for parent, child in self.edges:
            parents.setdefault(child, []).append(parent)
        return parents

    @functools.cached_property
    def _children(self) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for parent, child in self.edges:
            children.setdefault(parent, []).append(child)
        return children

    def parents(self, node_id: str) -> list[str]:
        """Direct upstream nodes of ``node_id`` (in this graph)."""
        return list(self._parents.get(node_id, []))

    def children(self, node_id: str) -> list[str]:
        """Direct downstream nodes of ``node_id`` (in this graph)."""
        return list(self._children.get(node_id, []))

    def find(self, name_or_id: str) -> Node:
        """The node with this unique id or name; NotFoundError otherwise."""
        if name_or_id in self.nodes:
            return self.nodes[name_or_id]
        for node in self.nodes.values():
            if name_or_id in (node.name, node.label):
                return node
        raise NotFoundError(f"No node named {name_or_id!r} in the lineage.")

    def count_by_type(self) -> dict[str, int]:
        """How many nodes of each resource type."""
        counts: dict[str, int] = {}
        for node in self.nodes.values():
            counts[node.resource_type] = counts.get(node.resource_type, 0) + 1
        return counts


@dataclass(frozen=True)
class ColumnTest:
    """A data test on one column: its generic name and arguments."""

    unique_id: str
    test_name: str
    args: dict[str, Any]
    status: str | None


@dataclass(frozen=True)
class Column:
    """A column of a model: type from the catalog (else the YAML), docs, tests."""

    name: str
    data_type: str | None
    description: str = ""
    tests: tuple[ColumnTest, ...] = ()


@dataclass(frozen=True)
class ModelDetails:
    """Everything the model inspector shows for a model, snapshot, seed or source."""

    node: Node
    columns: tuple[Column, ...]
    raw_sql: str
    compiled_sql: str | None
    referenced_by: tuple[str, ...]
    tests: tuple[str, ...]  # every test attached to the node (column and model level)

    @property
    def unique_id(self) -> str:
        return self.node.unique_id

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def description(self) -> str:
        return self.node.description

    @property
    def relation(self) -> str | None:
        return self.node.relation

    @property
    def depends_on(self) -> tuple[str, ...]:
        return self.node.depends_on


@dataclass(frozen=True)
class TestResult:
    """One data test or unit test and its outcome in the build."""

    unique_id: str
    name: str
    kind: str  # "generic", "singular" or "unit"
    test_name: str  # generic test name ("unique", "relationships"); the name otherwise
    model_id: str | None  # the node the test is attached to
    model_name: str | None
    column_name: str | None
    args: dict[str, Any]
    status: str | None
    failures: int | None
    message: str | None
    compiled_sql: str | None
    severity: str
    # "schema.table" holding the failing rows; None when none are stored: the test does
    # not store failures, or it found no failing rows (the project's test
    # materialization writes the relation only for a test that found some).
    stored_failures_relation: str | None
    execution_time: float | None
    depends_on: tuple[str, ...]
    description: str = ""
    # The build that ran this test when this build reused its result (mart.reuse).
    reused_from: int | None = None

    @property
    def failed(self) -> bool:
        """Whether the test did not pass (fail, error or warn)."""
        return self.status in {"fail", "error", "warn"}


@dataclass(frozen=True)
class Analysis:
    """A dbt analysis: a saved question answered by one SELECT."""

    unique_id: str
    name: str
    description: str
    raw_sql: str
    compiled_sql: str | None
    depends_on: tuple[str, ...]
    path: str

    @property
    def summary(self) -> str:
        """The description on one line."""
        return " ".join(self.description.split())


@dataclass(frozen=True)
class BuildArtifacts:
    """The parsed artifacts of one build's target directory."""

    target_dir: Path
    db_path: Path | None
    dbt_version: str
    generated_at: str
    invocation_id: str
    run_command: str | None  # dbt command that wrote run_results.json ("build", ...)
    run_vars: dict[str, Any]
    elapsed_s: float | None
    has_catalog: bool
    graph: LineageGraph
    models: dict[str, ModelDetails]
    tests: dict[str, TestResult]
    analyses: dict[str, Analysis]
    relations_by_name: dict[str, str]
    load_ms: float = 0.0
    count_ms: float = 0.0

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        target_dir: str | os.PathLike[str],
        db_path: str | os.PathLike[str] | None = None,
        *,
        row_counter: Callable[[Sequence[str]], Mapping[str, int]] | None = None,
    ) -> BuildArtifacts:
        """Parse ``target_dir`` (manifest.json and run_results.json; catalog.json if there).

        Row counts come from ``row_counter`` (given ``schema.table`` names, returns
        counts) or else, with ``db_path``, from ``count(*)`` on a read-only connection to
        that DuckDB file; with neither, nodes have no row count. Raises NotFoundError
        when the directory has no manifest.json.
        """
        started = time.perf_counter()
        target = Path(target_dir)
        manifest = _read_json(target / "manifest.json")
        if manifest is None:
            raise NotFoundError(
                f"No dbt artifacts in {target}: manifest.json is missing. Build the mart first."
            )
        run_results = _read_json(target / "run_results.json") or {}
        catalog = _read_json(target / "catalog.json")
        artifacts = _parse(target, manifest, run_results, catalog)
        parsed = time.perf_counter()

        counts: Mapping[str, int] = {}
        counter = row_counter
        if counter is None and db_path is not None:
            path = Path(db_path)
            counter = functools.partial(count_rows, path)
        if counter is not None:
            wanted = [
                node.relation
                for node in artifacts.graph.nodes.values()
                if node.relation and _counts_rows(node)
            ]
            counts = counter(wanted) if wanted else {}
        nodes = {
            node_id: _replace(node, row_count=counts.get(node.relation or ""))
            if node.relation in counts
            else node
            for node_id, node in artifacts.graph.nodes.items()
        }
        graph = LineageGraph(nodes=nodes, edges=artifacts.graph.edges)
        models = {
            node_id: _replace(details, node=nodes[node_id])
            for node_id, details in artifacts.models.items()
        }
        finished = time.perf_counter()
        return _replace(
            artifacts,
            db_path=Path(db_path) if db_path is not None else None,
            graph=graph,
            models=models,
            load_ms=(parsed - started) * 1000,
            count_ms=(finished - parsed) * 1000,
        )

    # -- lookups -------------------------------------------------------------------------

    def model(self, name_or_id: str) -> ModelDetails:
        """Details of a model, snapshot, seed or source by name or unique id."""
        if name_or_id in self.models:
            return self.models[name_or_id]
        for details in self.models.values():
            if name_or_id in (details.node.name, details.node.label):
                return details
        raise NotFoundError(f"No model named {name_or_id!r} in this build.")

    def test(self, name_or_id: str) -> TestResult:
        """A test result by unique id or name."""
        if name_or_id in self.tests:
            return self.tests[name_or_id]
        for result in self.tests.values():
            if result.name == name_or_id:
                return result
        raise NotFoundError(f"No test named {name_or_id!r} in this build.")

    def analysis(self, name: str) -> Analysis:
        """An analysis by name; NotFoundError listing the known ones otherwise."""
        try:
            return self.analyses[name]
        except KeyError:
            known = ", ".join(sorted(self.analyses)) or "none"
            raise NotFoundError(f"No analysis named {name!r}. Known analyses: {known}.") from None

    def tests_for(self, node_id: str) -> list[TestResult]:
        """The tests attached to ``node_id``."""
        node = self.graph.nodes.get(node_id)
        return [self.tests[test_id] for test_id in (node.test_ids if node else ())]

    def test_summary(self) -> dict[str, int]:
        """Counts of data and unit tests by status: pass, fail, warn, error, skipped.

        A test the build did not run (or a run_results file from a non-build command)
        counts as skipped.
        """
        summary = dict.fromkeys(TEST_STATUSES, 0)
        for result in self.tests.values():
            status = result.status if result.status in summary else "skipped"
            summary[status] += 1
        return summary

    def failing_tests(self) -> list[TestResult]:
        """Tests that errored, failed or warned: errors and failures first, then by name."""
        rank = {"error": 0, "fail": 1, "warn": 2}
        found = [test for test in self.tests.values() if test.failed]
        return sorted(found, key=lambda test: (rank.get(test.status or "", 3), test.name))

    def compiled_analysis_sql(self, name: str) -> str:
        """Runnable SQL of analysis ``name`` (see :func:`compiled_analysis_sql`)."""
        return compiled_analysis_sql(self, name)


# -- module-level helpers ----------------------------------------------------------------


def load(
    target_dir: str | os.PathLike[str], db_path: str | os.PathLike[str] | None = None
) -> BuildArtifacts:
    """Shorthand for :meth:`BuildArtifacts.load`."""
    return BuildArtifacts.load(target_dir, db_path)


def load_cached(
    target_dir: str | os.PathLike[str], db_path: str | os.PathLike[str] | None = None
) -> BuildArtifacts:
    """:meth:`BuildArtifacts.load`, remembered until an artifact file changes.

    Keyed by the files' modification times, so docs generated later (a new
    catalog.json) are picked up.
    """
    target = Path(target_dir).resolve()
    stamps = tuple(
        _mtime(target / name) for name in ("manifest.json", "run_results.json", "catalog.json")
    )
    db = str(Path(db_path).resolve()) if db_path is not None else None
    db_stamp = _mtime(Path(db)) if db else None
    return _load_cached(str(target), db, stamps, db_stamp)


@functools.lru_cache(maxsize=8)
def _load_cached(
    target: str, db: str | None, stamps: tuple[int | None, ...], db_stamp: int | None
) -> BuildArtifacts:
    del stamps, db_stamp  # only part of the cache key
    return BuildArtifacts.load(target, db)


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_relation(relation: str) -> str:
    """``schema.table`` as a quoted SQL identifier pair."""
    schema, _, table = relation.partition(".")
    return f"{_quote(schema)}.{_quote(table)}" if table else _quote(schema)


def count_rows(db_path: str | os.PathLike[str], relations: Iterable[str]) -> dict[str, int]:
    """``count(*)`` of each ``schema.table`` that exists in the DuckDB file at ``db_path``.

    Opens one read-only connection (the app's locked read configuration, so it can
    coexist with the app's cached connections to the same file) and closes it.
    Relations that do not exist are left out.
    """
    from mart.db import connect_readonly  # lazily: only needed with a database

    wanted = list(dict.fromkeys(relations))
    if not wanted:
        return {}
    con = connect_readonly(db_path)
    try:
        existing = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select schema_name, table_name from duckdb_tables() "
                "where database_name = current_database() "
                "union all select schema_name, view_name from duckdb_views() "
                "where database_name = current_database() and not internal"
            ).fetchall()
        }
        present = [relation for relation in wanted if relation in existing]
        if not present:
            return {}
        sql = " union all ".join(
            f"select {index} as i, count(*) as n from {quote_relation(relation)}"
            for index, relation in enumerate(present)
        )
        return {present[index]: int(count) for index, count in con.execute(sql).fetchall()}
    finally:
        con.close()


def failing_rows(
    db_path: str | os.PathLike[str],
    test: TestResult | str,
    limit: int = 100,
    *,
    artifacts: BuildArtifacts | None = None,
) -> pd.DataFrame:
    """Up to ``limit`` stored failing rows of ``test`` from the build's DuckDB file.

    ``test`` is a :class:`TestResult` (or a test's unique id/name with ``artifacts``).
    The rows live in the view dbt stored (``store_failures_as: view``); they are read on
    a read-only connection that is closed before returning. A test that found no
    failing rows returns an empty frame (no relation is stored for it). Raises
    InputError for a unit test or a failed test whose rows are not stored,
    NotFoundError when the relation is not in the file.
    """
    from mart.db import connect_readonly, typed_frame

    if isinstance(test, str):
        if artifacts is None:
            raise InputError("Pass the build's artifacts to look a test up by name.")
        test = artifacts.test(test)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InputError(f"The row limit must be a whole number of rows, not {limit!r}.")
    if test.kind == "unit":
        raise InputError(
            f"{test.name} is a unit test: its expected and actual rows are in its message, "
            "not stored in the mart."
        )
    if not test.stored_failures_relation:
        if test.status in {"pass", "success"} or test.failures == 0:
            return pd.DataFrame()
        raise InputError(
            f"The failing rows of {test.name} are not stored: the test does not set store_failures."
        )
    con = connect_readonly(db_path)
    try:
        schema, _, table = test.stored_failures_relation.partition(".")
        exists = con.execute(
            "select count(*) from (select table_name from duckdb_tables() "
            "where database_name = current_database() and schema_name = ? and table_name = ? "
            "union all select view_name from duckdb_views() "
            "where database_name = current_database() and schema_name = ? and view_name = ?)",
            [schema, table, schema, table],
        ).fetchall()[0]
        if not exists or not exists[0]:
            raise NotFoundError(
                f"No stored failures for {test.name}: {test.stored_failures_relation} is not "
                "in this build's database (the test did not run)."
            )
        sql = f"select * from {quote_relation(test.stored_failures_relation)} limit {int(limit)}"
        return typed_frame(con.sql(sql))  # dates as dates, decimals exact
    finally:
        con.close()


_REF = re.compile(r"\{\{\s*ref\(\s*(['\"])([^'\"]+)\1\s*(?:,\s*(['\"])([^'\"]+)\3\s*)?\)\s*\}\}")
_SOURCE = re.compile(r"\{\{\s*source\(\s*(['\"])([^'\"]+)\1\s*,\s*(['\"])([^'\"]+)\3\s*\)\s*\}\}")
_JINJA = re.compile(r"\{\{|\{%|\{#")


def _markdown_cell(text: str) -> str:
    """One markdown table cell: whitespace collapsed, pipes escaped, never empty."""
    return " ".join(str(text).split()).replace("|", "\\|") or " "


#: A zero-width space: where a line may break inside an identifier.
BREAK = "\u200b"


def breakable(name: str) -> str:
    """``name`` that a narrow column may wrap after its underscores (zero-width spaces):
    ``days_since_last_purchase`` in one piece made the columns table 660 px wide in a
    564 px page on a 1024 px screen."""
    return name.replace("_", "_" + BREAK)


def columns_markdown(columns: Sequence[Column]) -> str:
    """Columns as a markdown table: name, type, description, tests with their status.
    Names and test names may wrap after their underscores (:func:`breakable`)."""
    marks = {"pass": "✓", "fail": "✗", "error": "✗", "warn": "!"}
    lines = ["| column | type | description | tests |", "|---|---|---|---|"]
    for column in columns:
        tests = ", ".join(
            f"{breakable(test.test_name)} {marks.get(test.status or '', '·')}"
            for test in column.tests
        )
        lines.append(
            f"| `{breakable(_markdown_cell(column.name))}` | "
            f"{_markdown_cell(column.data_type or '')} | "
            f"{_markdown_cell(column.description)} | {_markdown_cell(tests)} |"
        )
    return "\n".join(lines)


def render_refs(sql: str, relations: Mapping[str, str]) -> str:
    """``sql`` with ``{{ ref('x') }}`` / ``{{ source('s', 't') }}`` replaced by relations.

    ``relations`` maps a model name (``x``) or a source (``s.t``) to ``schema.table``.
    Raises NotFoundError for an unknown name and InputError when other Jinja remains.
    """

    def ref(match: re.Match[str]) -> str:
        name = match.group(4) or match.group(2)  # ref('pkg', 'x') names x
        if name not in relations:
            raise NotFoundError(f"ref('{name}') names no model of this build.")
        return quote_relation(relations[name])

    def source(match: re.Match[str]) -> str:
        key = f"{match.group(2)}.{match.group(4)}"
        if key not in relations:
            raise NotFoundError(f"source('{match.group(2)}', '{match.group(4)}') is unknown.")
        return quote_relation(relations[key])

    rendered = _SOURCE.sub(source, _REF.sub(ref, sql))
    leftover = _JINJA.search(rendered)
    if leftover:
        line = rendered.count("\n", 0, leftover.start()) + 1
        raise InputError(
            f"This SQL uses Jinja beyond ref() and source() (line {line}), which only dbt "
            "can render: run `dbt compile` for it, or replace the Jinja with table names."
        )
    return rendered


def compiled_analysis_sql(artifacts: BuildArtifacts, name: str) -> str:
    """Runnable SQL for analysis ``name`` against this build's DuckDB file.

    Uses the SQL dbt compiled (manifest or ``target/compiled``) when there is one;
    otherwise renders the raw SQL's ``ref()``/``source()`` calls with the manifest's
    relations. Raises NotFoundError for an unknown analysis and InputError when the
    analysis holds other Jinja.
    """
    analysis = artifacts.analysis(name)
    if analysis.compiled_sql:
        return analysis.compiled_sql
    return render_refs(analysis.raw_sql, artifacts.relations_by_name)


# -- parsing -----------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise MartError(
            f"{path} is not valid JSON ({exc}): the build's artifacts are damaged; rebuild."
        ) from None


def _replace(obj: Any, **changes: Any) -> Any:
    """dataclasses.replace that keeps cached properties out (frozen dataclasses)."""
    from dataclasses import replace

    return replace(obj, **changes)


def _counts_rows(node: Node) -> bool:
    """Whether a row count for ``node`` means something in this build."""
    if node.resource_type == "source":
        return True
    if node.resource_type not in {"model", "snapshot", "seed"}:
        return False
    # A skipped or failed model's table (if any) is the previous build's: no count.
    return node.status in {None, "success"}


def _layer(raw: dict[str, Any]) -> str:
    """The lineage layer of a manifest node, from its type, fqn and path."""
    resource_type = raw.get("resource_type")
    if resource_type == "source":
        return "sources"
    if resource_type == "seed":
        return "seeds"
    if resource_type == "snapshot":
        return "snapshots"
    if resource_type == "exposure":
        return "exposures"
    if resource_type == "analysis":
        return "analyses"
    if resource_type in TEST_TYPES:
        return "tests"
    fqn = raw.get("fqn") or []
    for part in fqn[1:-1]:
        if part in MODEL_LAYERS:
            return part
    parts = Path(raw.get("original_file_path") or "").parts
    for part in parts[:-1]:
        if part in MODEL_LAYERS:
            return part
    name = str(raw.get("name", ""))
    for prefix, layer in (("stg_", "staging"), ("int_", "intermediate")):
        if name.startswith(prefix):
            return layer
    if name.startswith(("fct_", "dim_")):
        return "marts"
    return "other"


def _relation(raw: dict[str, Any]) -> str | None:
    """``schema.table`` of a node that has a relation."""
    if not raw.get("relation_name") and raw.get("resource_type") != "source":
        return None
    schema = raw.get("schema")
    table = raw.get("identifier") or raw.get("alias") or raw.get("name")
    return f"{schema}.{table}" if schema and table else None


def _compiled_file(target: Path, raw: dict[str, Any]) -> str | None:
    """The compiled SQL file dbt wrote for a node, if it is there."""
    candidates: list[Path] = []
    compiled_path = raw.get("compiled_path")
    if compiled_path:
        parts = Path(compiled_path).parts
        if "compiled" in parts:
            index = len(parts) - 1 - parts[::-1].index("compiled")
            candidates.append(target.joinpath("compiled", *parts[index + 1 :]))
    package = raw.get("package_name") or ""
    original = raw.get("original_file_path") or ""
    if package and original:
        base = target / "compiled" / package / original
        candidates.append(base if original.endswith(".sql") else base / (raw.get("path") or ""))
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return None


def leading_comment(sql: str) -> str:
    """The ``--`` comment lines at the top of ``sql``, joined."""
    lines: list[str] = []
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith("--"):
            lines.append(stripped.lstrip("-").strip())
        elif stripped or lines:
            break
    return " ".join(part for part in lines if part)


def _parse(
    target: Path,
    manifest: dict[str, Any],
    run_results: dict[str, Any],
    catalog: dict[str, Any] | None,
) -> BuildArtifacts:
    metadata = manifest.get("metadata") or {}
    run_args = run_results.get("args") or {}
    run_command = run_args.get("which")
    is_build = run_command in BUILD_COMMANDS
    results: dict[str, dict[str, Any]] = {
        result["unique_id"]: result
        for result in run_results.get("results") or []
        if result.get("unique_id")
    }

    raw_nodes: dict[str, dict[str, Any]] = {}
    for section in ("nodes", "sources", "exposures", "unit_tests"):
        for node_id, raw in (manifest.get(section) or {}).items():
            if raw.get("resource_type") in RESOURCE_TYPES:
                raw_nodes[node_id] = raw

    catalog_nodes: dict[str, dict[str, Any]] = {}
    if catalog:
        catalog_nodes.update(catalog.get("nodes") or {})
        catalog_nodes.update(catalog.get("sources") or {})

    def status_of(node_id: str) -> tuple[str | None, dict[str, Any]]:
        result = results.get(node_id) or {}
        return (result.get("status") if is_build else None), result

    # Tests first: model nodes fold their tests' statuses in.
    tests: dict[str, TestResult] = {}
    for node_id, raw in raw_nodes.items():
        if raw["resource_type"] not in TEST_TYPES:
            continue
        status, result = status_of(node_id)
        tests[node_id] = _test_result(target, raw, status, result, raw_nodes)

    attached: dict[str, list[str]] = {}
    for test in tests.values():
        owners = [test.model_id] if test.model_id else list(test.depends_on)
        for owner in owners:
            attached.setdefault(owner, []).append(test.unique_id)

    nodes: dict[str, Node] = {}
    for node_id, raw in raw_nodes.items():
        status, result = status_of(node_id)
        adapter_response = result.get("adapter_response") or {}
        rows_affected = adapter_response.get("rows_affected")
        test_ids = tuple(sorted(attached.get(node_id, ()), key=lambda t: tests[t].name))
        worst = _worst(tests[test_id].status for test_id in test_ids)
        config = raw.get("config") or {}
        depends = tuple((raw.get("depends_on") or {}).get("nodes") or ())
        nodes[node_id] = Node(
            unique_id=node_id,
            name=str(raw.get("name", node_id)),
            resource_type=raw["resource_type"],
            layer=_layer(raw),
            package=str(raw.get("package_name") or ""),
            path=str(raw.get("original_file_path") or ""),
            materialization=config.get("materialized")
            if raw["resource_type"] in {"model", "snapshot", "seed"}
            else None,
            relation=_relation(raw)
            if raw["resource_type"] in {"model", "snapshot", "seed", "source"}
            else None,
            status=status,
            execution_time=result.get("execution_time")
            if status and status != "skipped" and reused_from(result) is None
            else None,
            rows_affected=int(rows_affected) if isinstance(rows_affected, int) else None,
            reused_from=reused_from(result),
            description=str(raw.get("description") or "").strip(),
            tags=tuple(raw.get("tags") or config.get("tags") or ()),
            depends_on=depends,
            test_ids=test_ids,
            worst_test_status=worst,
        )

    edges = tuple(
        (parent, node_id)
        for node_id, node in nodes.items()
        for parent in node.depends_on
        if parent in nodes
    )
    graph = LineageGraph(nodes=nodes, edges=edges)

    relations_by_name: dict[str, str] = {}
    for node in nodes.values():
        if node.relation and node.resource_type in {"model", "snapshot", "seed"}:
            relations_by_name.setdefault(node.name, node.relation)
        elif node.relation and node.resource_type == "source":
            relations_by_name[node.label] = node.relation

    models: dict[str, ModelDetails] = {}
    for node_id, node in nodes.items():
        if node.resource_type not in {"model", "snapshot", "seed", "source"}:
            continue
        raw = raw_nodes[node_id]
        _, result = status_of(node_id)
        compiled = raw.get("compiled_code") or result.get("compiled_code")
        if not compiled and node.resource_type != "source":
            compiled = _compiled_file(target, raw)
        models[node_id] = ModelDetails(
            node=node,
            columns=_columns(raw, catalog_nodes.get(node_id), tests, node.test_ids),
            raw_sql=str(raw.get("raw_code") or ""),
            compiled_sql=compiled or None,
            referenced_by=tuple(graph.children(node_id)),
            tests=node.test_ids,
        )

    analyses: dict[str, Analysis] = {}
    for node_id, raw in raw_nodes.items():
        if raw["resource_type"] != "analysis":
            continue
        raw_sql = str(raw.get("raw_code") or "")
        compiled = raw.get("compiled_code") or _compiled_file(target, raw)
        analyses[str(raw["name"])] = Analysis(
            unique_id=node_id,
            name=str(raw["name"]),
            description=str(raw.get("description") or "").strip() or leading_comment(raw_sql),
            raw_sql=raw_sql,
            compiled_sql=compiled or None,
            depends_on=tuple((raw.get("depends_on") or {}).get("nodes") or ()),
            path=str(raw.get("original_file_path") or ""),
        )
    analyses = dict(sorted(analyses.items()))

    return BuildArtifacts(
        target_dir=target,
        db_path=None,
        dbt_version=str(metadata.get("dbt_version") or ""),
        generated_at=str(metadata.get("generated_at") or ""),
        invocation_id=str(metadata.get("invocation_id") or ""),
        run_command=run_command,
        run_vars=dict(run_args.get("vars") or {}),
        elapsed_s=run_results.get("elapsed_time"),
        has_catalog=bool(catalog_nodes),
        graph=graph,
        models=models,
        tests=tests,
        analyses=analyses,
        relations_by_name=relations_by_name,
    )


def _worst(statuses: Iterable[str | None]) -> str | None:
    """The worst status among ``statuses`` (error > fail > warn > skipped > pass)."""
    worst: str | None = None
    for status in statuses:
        if status is None:
            continue
        if worst is None or _STATUS_RANK.get(status, 0) > _STATUS_RANK.get(worst, 0):
            worst = status
    return worst


def _test_result(
    target: Path,
    raw: dict[str, Any],
    status: str | None,
    result: dict[str, Any],
    raw_nodes: Mapping[str, dict[str, Any]],
) -> TestResult:
    node_id = str(raw["unique_id"])
    depends = tuple((raw.get("depends_on") or {}).get("nodes") or ())
    config = raw.get("config") or {}
    if raw["resource_type"] == "unit_test":
        kind = "unit"
        test_name = "unit_test"
        model_id: str | None = depends[0] if depends else None
        column = None
        args: dict[str, Any] = {}
        stores = False
    else:
        metadata = raw.get("test_metadata") or {}
        kind = "generic" if metadata else "singular"
        namespace = metadata.get("namespace")
        test_name = (
            f"{namespace}.{metadata['name']}" if namespace else str(metadata.get("name") or "")
        ) or str(raw.get("name"))
        args = {
            key: value
            for key, value in (metadata.get("kwargs") or {}).items()
            if key not in {"model", "column_name"}
        }
        model_id = raw.get("attached_node")
        if not model_id and kind == "generic" and len(depends) == 1:
            model_id = depends[0]
        column = raw.get("column_name")
        stores = bool(config.get("store_failures"))
    compiled = raw.get("compiled_code") or result.get("compiled_code")
    if not compiled and kind != "unit":
        compiled = _compiled_file(target, raw)
    failures = result.get("failures")
    relation = None
    if stores and status and isinstance(failures, int) and failures > 0:
        relation = _relation(raw)
    model_name = raw_nodes[model_id].get("name") if model_id in raw_nodes else None
    if model_id and model_id.startswith("source."):
        model_name = ".".join(model_id.split(".")[-2:])
    return TestResult(
        unique_id=node_id,
        name=str(raw.get("name")),
        kind=kind,
        test_name=test_name,
        model_id=model_id,
        model_name=model_name,
        column_name=column,
        args=args,
        status=status,
        failures=int(failures) if isinstance(failures, int) and status else None,
        message=result.get("message") if status else None,
        compiled_sql=compiled or None,
        severity=str(config.get("severity") or "ERROR").upper(),
        stored_failures_relation=relation,
        execution_time=result.get("execution_time")
        if status and reused_from(result) is None
        else None,
        depends_on=depends,
        description=str(raw.get("description") or "").strip(),
        reused_from=reused_from(result),
    )


def _columns(
    raw: dict[str, Any],
    catalog_node: dict[str, Any] | None,
    tests: Mapping[str, TestResult],
    test_ids: Sequence[str],
) -> tuple[Column, ...]:
    """Columns in catalog order (actual columns), then documented-only ones."""
    documented: dict[str, dict[str, Any]] = {
        str(name).lower(): column for name, column in (raw.get("columns") or {}).items()
    }
    by_column: dict[str, list[ColumnTest]] = {}
    for test_id in test_ids:
        test = tests[test_id]
        if test.column_name and test.model_id == raw.get("unique_id"):
            by_column.setdefault(test.column_name.lower(), []).append(
                ColumnTest(test_id, test.test_name, test.args, test.status)
            )

    ordered: list[tuple[str, str | None]] = []
    if catalog_node:
        catalog_columns = sorted(
            (catalog_node.get("columns") or {}).values(), key=lambda column: column.get("index", 0)
        )
        ordered = [(str(column["name"]), column.get("type")) for column in catalog_columns]
    seen = {name.lower() for name, _ in ordered}
    for key, column in documented.items():
        if key not in seen:
            ordered.append((str(column.get("name") or key), column.get("data_type")))
            seen.add(key)
    columns = []
    for name, data_type in ordered:
        doc = documented.get(name.lower()) or {}
        columns.append(
            Column(
                name=name,
                data_type=data_type or doc.get("data_type"),
                description=str(doc.get("description") or "").strip(),
                tests=tuple(by_column.get(name.lower(), ())),
            )
        )
    return tuple(columns)

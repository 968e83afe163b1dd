"""Reusing unchanged nodes: which of a build's nodes would come out exactly as they are.

Each build starts from a copy of the published build's DuckDB file, so every table of
the published mart is already in place. A node whose inputs and SQL are the same as
when the published build made it would come out the same again: same bronze rows,
same model SQL, same macros, same vars. Such a node is *reused*: dbt does not run it,
and its result (status, failures, message, compiled SQL) is carried over from the
build that ran it, marked with that build's number.

A node's fingerprint hashes everything its result depends on:

* its own definition: kind, raw SQL, the checksum of its file (a seed's CSV), config
  (materialization, hooks, severity …), generic-test arguments, column types and
  constraints, its relation;
* the values of the vars that its SQL and the macros it calls read, transitively (with
  the adapter implementations of dispatched macros, which dbt's static analysis leaves
  out); ``as_of_date`` unset means the day of the run, so it counts as that day;
* its parents' fingerprints; a source's is its relation and the key of the dataset
  version loaded into its bronze table (``mart.worker.load_bronze``);
* the global key: dbt, dbt-duckdb and DuckDB versions, ``dbt_project.yml``,
  ``profiles.yml`` and the text of every macro outside dbt and the adapter (dbt adds
  some of the macros a node calls to its ``depends_on`` only while compiling it, so a
  macro edit counts for all).

A var read with a computed name makes the node depend on every var. A node is reused
only when all its parents are too, and only statuses that say the node's table and
result are complete are recorded (models ``success``; tests ``pass``, ``warn`` and
``fail``). Unit tests and exposures are not fingerprinted; they keep their own rules.

``python -m mart build --no-reuse`` (``BuildManager.request_build(reuse=False)``) runs
every node, as ``dbt build`` from the command line does.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REUSE_FILE = "reuse.json"
# The key in a reused node's adapter_response (run_results.json) naming the build that
# ran it: mart.worker writes it, mart.artifacts reads it.
REUSED_FROM = "mart_reused_from"
REUSE_VERSION = 1

# Kinds of node dbt build runs that can be reused.
REUSABLE_KINDS = {"model", "snapshot", "seed", "test"}
# Statuses after which a node's table (or a test's result) is complete.
REUSABLE_STATUSES = {"success", "pass", "warn", "fail"}

_VAR_CALL = re.compile(r"\bvar\s*\(\s*(?P<arg>[^,)]*)")
_LITERAL = re.compile(r"""^\s*(['"])(?P<name>[A-Za-z_][A-Za-z0-9_]*)\1\s*$""")
_ALL_VARS = "*"
# Macro packages installed with dbt-core and the adapter (covered by their versions).
_SHIPPED_PACKAGES = {"dbt", "dbt_duckdb"}


def vars_read(text: str) -> set[str]:
    """The names of the vars ``text`` reads with ``var('name')``; ``{"*"}`` if a name is
    computed (then every var counts)."""
    names: set[str] = set()
    for match in _VAR_CALL.finditer(text or ""):
        literal = _LITERAL.match(match.group("arg"))
        names.add(literal.group("name") if literal else _ALL_VARS)
    return names


def effective_vars(variables: dict[str, Any]) -> dict[str, Any]:
    """A build's vars with an unset ``as_of_date`` read as the day of the run (as
    macros/as_of_date.sql does). Project defaults need not be merged in:
    ``dbt_project.yml`` is part of every fingerprint (``global_key``)."""
    merged = dict(variables or {})
    as_of = merged.get("as_of_date")
    if as_of is None or str(as_of).strip().lower() in ("", "none", "null", "today"):
        merged["as_of_date"] = _dt.date.today().isoformat()
    return merged


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _sha(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def global_key(project_dir: Path, manifest: Any, profiles_dir: Path | None = None) -> str:
    """What every node depends on: tool versions, dbt_project.yml, the project's macros."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ("dbt-core", "dbt-duckdb", "duckdb"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=?")
    for path in (
        Path(project_dir) / "dbt_project.yml",
        Path(profiles_dir or project_dir) / "profiles.yml",  # DuckDB settings, say
    ):
        parts.append(path.read_text() if path.exists() else "")
    # Every macro not shipped with dbt or the adapter (whose versions are above): which
    # macros a node calls is only partly known before it compiles (dbt adds some to
    # depends_on while compiling), so a macro edit counts for every node.
    for unique_id in sorted(manifest.macros):
        macro = manifest.macros[unique_id]
        if macro.package_name not in _SHIPPED_PACKAGES:
            parts.append(unique_id + "\n" + macro.macro_sql)
    return _sha(*parts)


class _MacroIndex:
    """The vars each macro reads, with the macros it calls, for one manifest."""

    def __init__(self, manifest: Any) -> None:
        self.macros = manifest.macros
        self._by_name: dict[tuple[str, str], list[str]] = {}
        for unique_id, macro in self.macros.items():
            if "__" in macro.name:
                base = macro.name.split("__", 1)[1]
                self._by_name.setdefault((macro.package_name, base), []).append(unique_id)
        self._vars: dict[str, set[str]] = {}

    def _direct(self, unique_id: str) -> list[str]:
        macro = self.macros.get(unique_id)
        if macro is None:
            return []
        found = list(getattr(macro.depends_on, "macros", []) or [])
        # adapter.dispatch: dbt records default__x only; add duckdb__x, snowflake__x …
        if macro.name.startswith("default__"):
            base = macro.name[len("default__") :]
            found += self._by_name.get((macro.package_name, base), [])
        return found

    def vars_read(self, roots: Iterable[str]) -> set[str]:
        """The vars read by the macros ``roots`` and every macro they call."""
        names: set[str] = set()
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            unique_id = stack.pop()
            if unique_id in seen:
                continue
            seen.add(unique_id)
            if unique_id not in self._vars:
                macro = self.macros.get(unique_id)
                self._vars[unique_id] = vars_read(macro.macro_sql) if macro else set()
            names |= self._vars[unique_id]
            stack.extend(self._direct(unique_id))
        return names


def _definition(node: Any) -> str:
    """A node's own definition, as text: what it runs and how."""
    config = getattr(node, "config", None)
    config_dict = config.to_dict(omit_none=True) if config is not None else {}
    columns = {
        name: [getattr(column, "data_type", None), _text(getattr(column, "constraints", []))]
        for name, column in (getattr(node, "columns", None) or {}).items()
    }
    metadata = getattr(node, "test_metadata", None)
    contract = getattr(node, "contract", None)
    checksum = getattr(node, "checksum", None)  # of the file: a seed's CSV, say
    return _text(
        {
            "kind": str(node.resource_type),
            "name": node.name,
            "raw_code": getattr(node, "raw_code", ""),
            "config": config_dict,
            "columns": columns,
            "test_metadata": metadata.to_dict() if metadata is not None else None,
            "contract": getattr(contract, "enforced", None),
            "relation": getattr(node, "relation_name", None),
            "checksum": getattr(checksum, "checksum", None),
        }
    )


def fingerprints(
    manifest: Any,
    variables: dict[str, Any],
    sources: dict[str, str],
    key: str,
) -> dict[str, str]:
    """The fingerprint of each reusable node of ``manifest`` (see the module docstring).

    ``variables`` are the effective vars (``effective_vars``); ``sources`` maps a source
    table's name (its identifier, e.g. ``raw_transactions``) to the key of the data
    loaded into it. A node that reads a source without a key gets no fingerprint, and
    neither does anything downstream of it.
    """
    macros = _MacroIndex(manifest)
    result: dict[str, str | None] = {}

    def source_print(unique_id: str) -> str | None:
        source = manifest.sources.get(unique_id)
        if source is None:
            return None
        loaded = sources.get(source.identifier) or sources.get(source.name)
        if loaded is None:
            return None
        # Where the source points (sources.yml may name another table) and its data.
        return _sha("source", unique_id, str(getattr(source, "relation_name", "")), loaded)

    def visit(unique_id: str) -> str | None:  # dbt refuses a project with a cycle
        if unique_id in result:
            return result[unique_id]
        if unique_id.startswith("source."):
            return source_print(unique_id)
        node = manifest.nodes.get(unique_id)
        if node is None or str(node.resource_type) not in REUSABLE_KINDS:
            result[unique_id] = None
            return None
        parents = []
        for parent in sorted(set(node.depends_on.nodes or [])):
            printed = visit(parent)
            if printed is None:
                result[unique_id] = None
                return None
            parents.append(printed)
        definition = _definition(node)
        names = vars_read(definition) | macros.vars_read(node.depends_on.macros or [])
        if _ALL_VARS in names:
            used = dict(sorted(variables.items()))
        else:
            used = {name: variables.get(name) for name in sorted(names)}
        result[unique_id] = _sha(key, definition, _text(used), *parents)
        return result[unique_id]

    for unique_id in manifest.nodes:
        visit(unique_id)
    return {unique_id: value for unique_id, value in result.items() if value is not None}


def read_state(build_dir: Path) -> dict[str, Any]:
    """A build's reuse file: ``{"build_id": N, "nodes": {unique_id: entry}}`` or empty."""
    path = Path(build_dir) / REUSE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get("version") != REUSE_VERSION:
        return {}
    return state


def write_state(build_dir: Path, build_id: int, nodes: dict[str, dict[str, Any]]) -> None:
    """Write a build's reuse file (atomically)."""
    path = Path(build_dir) / REUSE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": REUSE_VERSION, "build_id": build_id, "nodes": nodes}))
    tmp.replace(path)


def plan(manifest: Any, prints: dict[str, str], base: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The nodes to reuse: ``{unique_id: base entry}``.

    A node is reused when the base build recorded it with the same fingerprint and every
    parent node is reused too (a parent that runs again may come out differently only
    if its fingerprint changed, and then this node's changed as well; the check keeps
    the rule true even for a base file written by hand).
    """
    recorded = (base or {}).get("nodes") or {}
    reused: dict[str, dict[str, Any]] = {}

    def ok(unique_id: str) -> bool:
        if unique_id in reused:
            return True
        if unique_id.startswith("source."):
            return True  # the source's data is part of the fingerprint
        entry = recorded.get(unique_id)
        printed = prints.get(unique_id)
        if entry is None or printed is None or entry.get("fingerprint") != printed:
            return False
        if entry.get("status") not in REUSABLE_STATUSES:
            return False
        node = manifest.nodes.get(unique_id)
        if node is None:
            return False
        if not all(ok(parent) for parent in node.depends_on.nodes or []):
            return False
        reused[unique_id] = entry
        return True

    for unique_id in prints:
        ok(unique_id)
    return reused

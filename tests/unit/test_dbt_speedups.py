"""mart.dbt_speedups: each patch gives what dbt gives without it.

The patches change dbt process-wide, so every check runs in its own Python process
(the probes below), never in the test process itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from mart.workspace import DBT_PROJECT_DIR, PROJECT_ROOT

NAMES = {
    "quiet_events",
    "lazy_event_payloads",
    "template_cache",
    "macro_namespace",
    "plugin_modules",
    "deferred_sql_files",
    "type_testers",
    "parse_cache",
}


def run_probe(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object last."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_all_patches_apply_on_the_pinned_dbt() -> None:
    out = run_probe(
        """
        import json
        from mart import dbt_speedups
        print(json.dumps(dbt_speedups.apply()))
        """
    )
    assert out == dict.fromkeys(NAMES, "applied")


def test_switched_off_and_skipped_by_name() -> None:
    off = run_probe(
        """
        import json
        from mart import dbt_speedups
        print(json.dumps(dbt_speedups.apply()))
        """,
        MART_DBT_SPEEDUPS="0",
    )
    assert set(off) == NAMES
    assert all(value.startswith("skipped") for value in off.values())
    some = run_probe(
        """
        import gc, json
        from mart import dbt_speedups
        out = dbt_speedups.apply()
        out["paused"] = dbt_speedups.pause_gc()
        out["gc_enabled"] = gc.isenabled()
        print(json.dumps(out))
        """,
        MART_DBT_SPEEDUPS_SKIP="template_cache,gc",
    )
    assert some["template_cache"].startswith("skipped")
    assert some["quiet_events"] == "applied"
    assert some["paused"] is False and some["gc_enabled"] is True


def test_a_changed_dbt_function_is_left_alone() -> None:
    """A dbt whose function no longer looks as expected keeps its own function."""
    out = run_probe(
        """
        import json
        from dbt_common.events.event_manager import EventManager
        from dbt_common.clients import agate_helper

        def fire_event(self, event):  # a different signature
            return None

        EventManager.fire_event = fire_event
        agate_helper.build_type_tester = lambda columns: None
        from mart import dbt_speedups
        status = dbt_speedups.apply()
        status["kept"] = EventManager.fire_event is fire_event
        print(json.dumps(status))
        """
    )
    assert out["quiet_events"].startswith("skipped")
    assert out["type_testers"].startswith("skipped")
    assert out["kept"] is True
    assert out["template_cache"] == "applied"


def test_events_reach_every_callback_that_wants_them() -> None:
    out = run_probe(
        """
        import json
        from mart import dbt_speedups
        dbt_speedups.apply()
        from dbt_common.events.base_types import EventLevel
        from dbt_common.events.event_manager import EventManager
        from dbt_common.events.logger import LoggerConfig
        from dbt_common.events.types import Note

        def run(callbacks, logger=False):
            manager = EventManager()
            seen = []
            for wants in callbacks:
                def callback(msg, wants=wants):
                    seen.append((wants is None, msg.info.name, msg.info.level))
                if wants is not None:
                    callback.mart_wanted_events = frozenset(wants)
                manager.add_callback(callback)
            if logger:
                manager.add_logger(LoggerConfig(name="probe", level=EventLevel.DEBUG))
            manager.fire_event(Note(msg="debug line"), level=EventLevel.DEBUG)
            manager.fire_event(Note(msg="a warning"), level=EventLevel.WARN)
            return seen

        print(json.dumps({
            "says_nothing": run([None]),
            "wants_other": run([{"NodeStart"}]),
            "wants_note": run([{"Note"}]),
            "mixed": run([{"NodeStart"}, None]),
            "with_logger": run([{"NodeStart"}], logger=True),
        }))
        """
    )
    both = [["Note", "debug"], ["Note", "warn"]]
    assert [row[1:] for row in out["says_nothing"]] == both
    assert [row[1:] for row in out["wants_other"]] == [["Note", "warn"]]  # warnings always
    assert [row[1:] for row in out["wants_note"]] == both
    assert len(out["mixed"]) == 4  # one callback says nothing: everyone gets everything
    assert [row[1:] for row in out["with_logger"]] == both  # a logger: nothing dropped


def test_lazy_event_payloads_equal_dbts_own() -> None:
    out = run_probe(
        """
        import json
        from mart import dbt_speedups
        dbt_speedups.apply()
        from dbt_common.events.base_types import BaseEvent, msg_from_base_event
        from dbt.events.types import NodeStart, LogTestResult

        eager_init = BaseEvent.__init__.__wrapped__
        info = {"node_path": "models/a.sql", "node_name": "a", "unique_id": "model.p.a",
                "resource_type": "model", "materialized": "table", "node_status": "started",
                "node_started_at": "2026-11-26T01:02:03.456789", "node_finished_at": "",
                "meta": {}, "node_relation": {"database": "mart", "schema": "main",
                "alias": "a", "relation_name": '"mart"."main"."a"'}}
        result = {}
        for cls, kwargs in (
            (NodeStart, {"node_info": info}),
            (LogTestResult, {"name": "t", "status": "fail", "index": 3, "num_models": 9,
                             "execution_time": 0.25, "num_failures": 2, "node_info": info}),
        ):
            lazy = cls(**kwargs)
            eager = cls.__new__(cls)
            eager_init(eager, **kwargs)
            result[cls.__name__] = {
                "same_payload": lazy.pb_msg.SerializeToString(deterministic=True)
                == eager.pb_msg.SerializeToString(deterministic=True),
                "same_message": lazy.message() == eager.message(),
                "same_data": msg_from_base_event(lazy).data.SerializeToString(deterministic=True)
                == msg_from_base_event(eager).data.SerializeToString(deterministic=True),
                "field": lazy.node_info.unique_id,
            }
        print(json.dumps(result))
        """
    )
    for name, checks in out.items():
        assert checks == {
            "same_payload": True,
            "same_message": True,
            "same_data": True,
            "field": "model.p.a",
        }, name


def test_cached_templates_render_like_fresh_ones() -> None:
    out = run_probe(
        """
        import json
        from mart import dbt_speedups
        dbt_speedups.apply()
        from dbt_common.clients import jinja

        original = jinja.get_template.__wrapped__
        cases = [
            ("select {{ x }} from t", {"x": 1}, False),
            ("select {{ x }} from t", {"x": "y"}, False),
            ("{{ n + 1 }}", {"n": 1}, True),
            ("{{ [a, 2] }}", {"a": 1}, True),
            ("{% if flag %}yes{% else %}no{% endif %}", {"flag": False}, False),
        ]
        same = []
        for source, ctx, native in cases:
            new = jinja.render_template(jinja.get_template(source, ctx, native=native), ctx)
            old = jinja.render_template(original(source, ctx, native=native), ctx)
            same.append([repr(new), repr(old)])
        error = None
        try:
            jinja.get_template("{{ unclosed", {})
        except Exception as exc:
            error = type(exc).__name__
        cache = dbt_speedups.TEMPLATES
        print(json.dumps({"same": same, "hits": cache.hits, "misses": cache.misses,
                          "error": error}))
        """
    )
    for new, old in out["same"]:
        assert new == old
    assert out["same"][1][0] == "'select y from t'"  # the second render used its own ctx
    assert out["hits"] == 1 and out["misses"] == 4
    assert out["error"] == "CompilationError"  # a syntax error is dbt's own error


def test_type_testers_are_shared_and_equal() -> None:
    out = run_probe(
        """
        import json
        from mart import dbt_speedups
        dbt_speedups.apply()
        from dbt_common.clients import agate_helper

        data = [{"a": "005", "b": "2024-01-02", "c": "1.5"}, {"a": "", "b": None, "c": "x"}]
        table = agate_helper.table_from_data_flat(data, ["a", "b", "c"])
        first = agate_helper.build_type_tester(["a"], string_null_values=())
        print(json.dumps({
            "shared": first is agate_helper.build_type_tester(("a",), ()),
            "types": [type(t).__name__ for t in table.column_types],
            "rows": [[None if v is None else str(v) for v in row] for row in table.rows],
        }))
        """
    )
    assert out["shared"] is True
    assert out["types"] == ["Text", "Text", "Text"]  # as dbt: values kept as text
    assert out["rows"] == [["005", "2024-01-02", "1.5"], ["", None, "x"]]


def test_macro_namespace_equals_dbts_own_for_every_node() -> None:
    """Parse the real project and build each node's context both ways."""
    out = run_probe(
        f"""
        import json, os, tempfile
        os.environ["MART_DUCKDB_PATH"] = os.path.join(tempfile.mkdtemp(), "mart.duckdb")
        from mart import dbt_speedups
        dbt_speedups.apply()
        from dbt.cli.main import dbtRunner
        from dbt.context import macros
        from dbt.context.manifest import ManifestContext
        from dbt.context.providers import generate_runtime_model_context
        from dbt.flags import get_flags
        from dbt.config.runtime import RuntimeConfig, load_profile, load_project
        from dbt.adapters.factory import register_adapter
        from dbt.mp_context import get_mp_context

        project = {str(DBT_PROJECT_DIR)!r}
        target = tempfile.mkdtemp()
        result = dbtRunner().invoke(["--log-level", "none", "parse", "--project-dir", project,
                                     "--profiles-dir", project, "--target-path", target])
        manifest = result.result
        profile = load_profile(project, {{}}, None, None, None)
        config = RuntimeConfig.from_parts(load_project(project, False, profile, {{}}), profile,
                                          get_flags())
        register_adapter(config, get_mp_context())

        builder = macros.MacroNamespaceBuilder
        fast_build, fast_to_dict = builder.build_namespace, ManifestContext.to_dict

        def described(ctx):
            out = {{}}
            for key, value in ctx.items():
                if isinstance(value, macros.MacroGenerator):
                    out[key] = ["macro", value.macro.unique_id, value.context is ctx]
                elif isinstance(value, dict) and value and all(
                        isinstance(v, macros.MacroGenerator) for v in value.values()):
                    out[key] = ["package", sorted((k, v.macro.unique_id) for k, v in value.items())]
            return out

        nodes = [n for n in manifest.nodes.values() if n.resource_type in ("model", "test")]
        compared, differ = 0, []
        for node in nodes:
            fast = described(generate_runtime_model_context(node, config, manifest))
            builder.build_namespace = fast_build.__wrapped__
            ManifestContext.to_dict = fast_to_dict.__wrapped__
            try:
                slow = described(generate_runtime_model_context(node, config, manifest))
            finally:
                builder.build_namespace, ManifestContext.to_dict = fast_build, fast_to_dict
            compared += 1
            if fast != slow:
                differ.append(node.unique_id)
        print(json.dumps({{"compared": compared, "differ": differ,
                          "macros": len(manifest.macros)}}))
        """
    )
    assert out["compared"] > 50
    assert out["macros"] > 300
    assert out["differ"] == []


def test_macro_namespace_precedence_with_packages() -> None:
    """Same macro name in the node's package, the root project, another package and
    two internal ones: each name resolves as dbt resolves it."""
    out = run_probe(
        """
        import json
        from types import SimpleNamespace
        from mart import dbt_speedups
        dbt_speedups.apply()
        from dbt.context import macros
        from dbt.context.manifest import ManifestContext

        def macro(package, name):
            return SimpleNamespace(package_name=package, name=name,
                                   unique_id=f"macro.{package}.{name}")

        by_package = {}
        for package, names in {
            "dbt": ["m", "only_dbt", "shared_internal"],
            "dbt_duckdb": ["m", "shared_internal", "only_duckdb"],
            "root": ["m", "only_root", "root_and_local"],
            "local": ["m", "root_and_local", "only_local"],
            "other": ["m", "only_other"],
        }.items():
            by_package[package] = {n: macro(package, n) for n in names}

        def flatten(build):
            builder = macros.MacroNamespaceBuilder(
                "root", "local", macros.MacroStack(), ["dbt_duckdb", "dbt"], None)
            namespace = build(builder, by_package, {})
            holder = SimpleNamespace(namespace=namespace)
            return namespace, holder

        def describe(mapping):
            out = {}
            for key, value in mapping.items():
                if isinstance(value, dict):
                    out[key] = sorted((k, v.macro.unique_id) for k, v in value.items())
                else:
                    out[key] = value.macro.unique_id
            return out

        fast_build = macros.MacroNamespaceBuilder.build_namespace
        fast_ns, _ = flatten(fast_build)
        slow_ns, _ = flatten(fast_build.__wrapped__)
        # ManifestContext.to_dict's merge, without the rest of a context:
        merged = {}
        fast_to_dict = ManifestContext.to_dict
        class Probe(ManifestContext):
            def __init__(self, namespace):
                self.namespace = namespace
                self._ctx = {}
                self._context_members_ = {}
        fast = describe({k: v for k, v in Probe(fast_ns).to_dict().items()
                         if k not in ("context", "builtins")})
        print(json.dumps({"fast": fast, "slow": describe(dict(slow_ns))}))
        """
    )
    assert out["fast"] == out["slow"]
    assert out["slow"]["m"] == "macro.local.m"  # the node's own package first
    assert out["slow"]["root_and_local"] == "macro.local.root_and_local"
    assert out["slow"]["only_root"] == "macro.root.only_root"
    assert out["slow"]["shared_internal"] == "macro.dbt_duckdb.shared_internal"


def test_plugin_modules_listed_once_and_the_same() -> None:
    out = run_probe(
        """
        import json
        from mart import dbt_speedups
        dbt_speedups.apply()
        from dbt.plugins.manager import PluginManager

        original = PluginManager.get_prefixed_modules.__func__.__wrapped__
        first = PluginManager.get_prefixed_modules()
        first["scribble"] = None  # a caller changing its copy changes nothing
        print(json.dumps({
            "same": sorted(PluginManager.get_prefixed_modules()) == sorted(
                original(PluginManager)),
            "count": len(PluginManager.get_prefixed_modules()),
        }))
        """
    )
    assert out == {"same": True, "count": out["count"]}
    assert out["count"] > 0  # dbt_common, dbt_duckdb, ... are "dbt_" modules


def test_sql_files_held_until_flushed(tmp_path) -> None:  # noqa: ANN001
    out = run_probe(
        f"""
        import json, os
        from mart import dbt_speedups
        dbt_speedups.apply()
        from dbt.contracts.graph import nodes

        base = {str(tmp_path)!r}
        a, b = os.path.join(base, "compiled", "a.sql"), os.path.join(base, "run", "x", "b.sql")
        seen = {{}}
        with dbt_speedups.deferred_sql_files() as files:
            nodes.write_file(a, "select 1")
            nodes.write_file(b, "first")
            nodes.write_file(b, "second")  # a rewrite: the last one wins, as on disk
            seen["during"] = [os.path.exists(a), os.path.exists(b)]
            seen["flushed"] = files.flush()
            seen["after"] = [open(a).read(), open(b).read()]
            nodes.write_file(a, "select 2")  # after a flush: straight to disk
            seen["direct"] = open(a).read()
        print(json.dumps(seen))
        """
    )
    assert out == {
        "during": [False, False],
        "flushed": 2,
        "after": ["select 1", "second"],
        "direct": "select 2",
    }


def test_a_cached_reparse_gives_dbts_own_manifest(tmp_path) -> None:  # noqa: ANN001
    """With the parse caches on, a re-parse after a vars change (every macro and file
    a cache hit) gives the manifest a parse without them gives."""
    out = run_probe(
        f"""
        import json
        from pathlib import Path
        from dbt.cli.main import dbtRunner
        from dbt_common import tests as common_tests
        from mart import dbt_speedups
        from dbt_common.clients import jinja as common_jinja

        def parse(target, variables):
            result = dbtRunner().invoke([
                "--log-level", "none", "--no-send-anonymous-usage-stats", "parse",
                "--project-dir", {str(DBT_PROJECT_DIR)!r},
                "--profiles-dir", {str(DBT_PROJECT_DIR)!r},
                "--target-path", str(Path({str(tmp_path)!r}) / target),
                "--vars", json.dumps(variables),
            ])
            assert result.success, result.exception
            manifest = result.result.writable_manifest().to_dict()
            return {{
                kind: {{
                    key: {{k: v for k, v in value.items() if k != "created_at"}}
                    for key, value in manifest[kind].items()
                }}
                for kind in ("nodes", "sources", "macros", "unit_tests", "exposures", "docs")
            }}

        applied = dbt_speedups.apply()["parse_cache"]
        parse("a", {{"high_value_threshold": 600}})
        cached_trees = len(common_jinja._TESTING_PARSE_CACHE)
        cached = parse("a", {{"high_value_threshold": 700}})
        common_tests.disable_test_caching()
        fresh = parse("b", {{"high_value_threshold": 700}})
        print(json.dumps({{
            "applied": applied,
            "cached_trees": cached_trees,
            "same": cached == fresh,
            "nodes": len(fresh["nodes"]),
            "macros": len(fresh["macros"]),
        }}))
        """
    )
    assert out["applied"] == "applied"
    assert out["cached_trees"] > 100  # the macros' syntax trees were cached
    assert out["nodes"] > 50 and out["macros"] > 400
    assert out["same"] is True

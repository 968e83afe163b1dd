"""Speed-ups for dbt-core running inside the build worker: the same work, less Python.

A warm build of the sample spends under 0.4 s in DuckDB and about 2 s in dbt's own
Python. Profiling the worker (py-spy, 400 Hz, eight builds) showed where most of
that goes, and four places where dbt does work whose result nobody here uses, or
does the same work again on every node:

* **events nobody listens to.** dbt fires about 20 events per node (SQL query
  started, connection reused, ...). Each one is turned into a protobuf message
  twice, and its log line is formatted, even when no logger is installed. The
  worker runs dbt with ``--log-level none`` and no file log, and its callback says
  it reads only ``NodeStart`` and ``NodeFinished`` (``mart_wanted_events``). With no
  logger installed, a debug/info/test-level event no callback wants is dropped
  before any of that work. A callback that does not say what it wants gets every
  event. Warnings and errors are never dropped: dbt's ``--warn-error`` handling goes
  through them.
* **event payloads built eagerly.** The protobuf payload of an event is now built
  the first time something reads it, which for a dropped event is never.
* **Jinja templates compiled again on every node.** dbt compiles a node's SQL and
  each test argument (``{{ ref('stg_events') }}``) from source for every build. The
  compiled code depends only on the source text, so it is kept (LRU, 4096 entries)
  and a fresh template object is made from it for every render, with the node's own
  globals, exactly as ``jinja2.Environment.from_string`` does.
* **the macro namespace, built twice per node.** Every node's compile and run
  contexts wrap each of the project's ~540 macros in a ``MacroGenerator`` bound to
  that context, then copy them into the context dict through a search-order
  mapping (one generator and five dict probes per macro). The same generators are
  now made by setting their four attributes directly, and the context is filled
  by merging the five namespaces in reverse search order: the same objects, the
  same precedence, a third of the Python calls.
* **plugin discovery on every invocation.** ``dbt build`` looks for dbt plugins by
  listing every importable top-level module (``pkgutil.iter_modules``, ~400 of
  them here): 36 ms per build. The installed modules do not change while a worker
  lives, so the list is made once per process (dbt caches it the same way in its
  own test mode).
* **compiled SQL files written on the click's time.** dbt writes each node's SQL to
  ``target/compiled`` and ``target/run`` as it goes: about 160 new files per build,
  half a millisecond each on this machine. While a build runs in the worker
  (:func:`deferred_sql_files`), the files are kept in memory and written right after
  the result is reported, before the manifest; same paths, same contents.
* **the project parsed from scratch when the vars change.** dbt cannot reuse a parse
  across a vars change, so a rebuild with a new as-of date or new thresholds parsed
  the project and dbt's ~540 macros again: 1.1-1.3 s, most of it turning the same
  macro sources into Jinja syntax trees and scanning them for macro calls. dbt-common
  has caches for exactly that, keyed by the source text (the parse tree, the
  top-level blocks, the macro calls found, the plugin list), which dbt's own test
  framework turns on (``dbt_common.tests.enable_test_caching``). The worker turns
  them on too: a re-parse after a vars change takes 0.6 s. Every file is still read
  and every node is still rendered with the new vars; only the syntax trees of
  unchanged sources are reused.
* **agate type testers rebuilt for every query result.** Each one builds seven
  type objects, one of which sets up a ``parsedatetime`` calendar. They hold no
  state, so one is kept per set of text-only columns.

Besides the patches, the worker manages Python's cyclic garbage collector
(:func:`freeze_heap`, :func:`pause_gc`). A build allocates enough objects to set off
about 370 collections, one or two of them full ones that scan every object in the
process, the parsed manifest and dbt's modules included: 0.3-0.5 s of a 1.8 s
build, measured with ``gc.callbacks``. After the warm-up the heap is frozen (moved
out of the collector's sight: it lives as long as the process), and collection
pauses while a build runs. Reference counting still frees almost everything a
build allocates; the few cycles left are collected when the result is out.

None of this changes what dbt runs, in what order, or what it records (run results,
manifest, failing rows). ``tests/build/test_dbt_speedups.py`` builds the mart with and
without the speed-ups and compares every table and every test result.

The patches target dbt-core 1.11 (pinned in ``requirements.txt``); each checks that
the function it replaces still looks as expected and is skipped otherwise, so a dbt
upgrade makes builds slower, never wrong. ``MART_DBT_SPEEDUPS=0`` turns them all off;
``MART_DBT_SPEEDUPS_SKIP=quiet_events,template_cache`` leaves out the ones named
(``gc`` names the collector handling).
"""

from __future__ import annotations

import functools
import gc
import inspect
import os
import threading
from collections import OrderedDict
from typing import Any

#: Events the worker's progress callback reads (its ``mart_wanted_events``).
WANTED_EVENTS = frozenset({"NodeStart", "NodeFinished"})

#: Levels of events that may be dropped when no logger is installed.
DROPPABLE_LEVELS = frozenset({"debug", "info", "test"})

TEMPLATE_CACHE_SIZE = 4096

_lock = threading.Lock()
_applied: dict[str, str] = {}


def enabled() -> bool:
    """False when ``MART_DBT_SPEEDUPS=0`` (or ``false``/``no``/``off``)."""
    return os.environ.get("MART_DBT_SPEEDUPS", "1").strip().lower() not in {
        "0",
        "false",
        "no",
        "off",
    }


def _skipped_by_env() -> set[str]:
    """Names in ``MART_DBT_SPEEDUPS_SKIP`` (comma-separated), to measure one at a time."""
    return {
        name.strip() for name in os.environ.get("MART_DBT_SPEEDUPS_SKIP", "").split(",") if name
    }


def apply() -> dict[str, str]:
    """Install every speed-up that fits the installed dbt; idempotent.

    Returns ``{name: "applied" | "skipped: <why>"}``.
    """
    with _lock:
        if _applied:
            return dict(_applied)
        patches = (
            ("quiet_events", _patch_quiet_events),
            ("lazy_event_payloads", _patch_lazy_event_payloads),
            ("template_cache", _patch_template_cache),
            ("macro_namespace", _patch_macro_namespace),
            ("plugin_modules", _patch_plugin_modules),
            ("deferred_sql_files", _patch_node_file_writes),
            ("type_testers", _patch_type_testers),
            ("parse_cache", _patch_parse_cache),
        )
        for name, patch in patches:
            if not enabled():
                _applied[name] = "skipped: MART_DBT_SPEEDUPS=0"
                continue
            if name in _skipped_by_env():
                _applied[name] = "skipped: MART_DBT_SPEEDUPS_SKIP"
                continue
            try:
                why = patch()
            except Exception as exc:  # a dbt that changed shape: leave it alone
                why = f"{type(exc).__name__}: {exc}"
            _applied[name] = "applied" if why is None else f"skipped: {why}"
        return dict(_applied)


def _gc_enabled() -> bool:
    return enabled() and "gc" not in _skipped_by_env()


def freeze_heap() -> bool:
    """Collect once, then keep everything alive now out of later collections."""
    if not _gc_enabled():
        return False
    gc.collect()
    gc.freeze()
    return True


def unfreeze_heap() -> bool:
    """Undo :func:`freeze_heap` (before a re-parse's garbage can be collected)."""
    if not _gc_enabled():
        return False
    gc.unfreeze()
    return True


def pause_gc() -> bool:
    """Stop cyclic garbage collection; returns whether it was running before."""
    if not _gc_enabled() or not gc.isenabled():
        return False
    gc.disable()
    return True


def resume_gc(paused: bool) -> None:
    """Undo :func:`pause_gc` (a no-op when it paused nothing)."""
    if paused:
        gc.enable()


def status() -> dict[str, str]:
    """What :func:`apply` did in this process (empty before it ran)."""
    return dict(_applied)


def _has_parameters(function: Any, names: list[str]) -> bool:
    try:
        return list(inspect.signature(function).parameters)[: len(names)] == names
    except (TypeError, ValueError):
        return False


# -- events ------------------------------------------------------------------------


def _patch_quiet_events() -> str | None:
    from dbt_common.events.event_manager import EventManager

    original = EventManager.fire_event
    if getattr(original, "_mart_speedup", False):
        return None
    if not _has_parameters(
        original, ["self", "e", "level", "node", "force_warn_or_error_handling"]
    ):
        return "EventManager.fire_event has a different signature"

    from dbt.tracking import track_behavior_change_warn

    # What each callback reads. A callback that does not say (no ``mart_wanted_events``
    # attribute and not listed here) gets every event, as without the patch.
    known: dict[Any, frozenset[str]] = {
        track_behavior_change_warn: frozenset({"BehaviorChangeEvent"}),
    }

    def wanted(callback: Any, name: str) -> bool:
        events = getattr(callback, "mart_wanted_events", None)
        if events is None:
            try:
                events = known.get(callback)
            except TypeError:  # unhashable callable
                events = None
        return events is None or name in events

    def fire_event(
        self: Any,
        e: Any,
        level: Any = None,
        node: Any = None,
        force_warn_or_error_handling: bool = False,
    ) -> None:
        if (
            not self.loggers
            and not force_warn_or_error_handling
            and (level.value if level is not None else e.level_tag().value) in DROPPABLE_LEVELS
        ):
            name = type(e).__name__
            if not any(wanted(callback, name) for callback in self.callbacks):
                return None
        return original(self, e, level, node, force_warn_or_error_handling)

    fire_event._mart_speedup = True  # type: ignore[attr-defined]
    fire_event.__wrapped__ = original  # type: ignore[attr-defined]
    EventManager.fire_event = fire_event  # type: ignore[method-assign]
    return None


def _patch_lazy_event_payloads() -> str | None:
    from dbt_common.events import base_types

    base = base_types.BaseEvent
    original_init = base.__init__
    if getattr(original_init, "_mart_speedup", False):
        return None
    source = inspect.getsource(original_init)
    if "self.pb_msg = ParseDict(kwargs, msg_cls())" not in source:
        return "BaseEvent.__init__ no longer builds pb_msg with ParseDict"
    if "pb_msg" in base.__dict__:
        return "BaseEvent already defines pb_msg"

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if args:  # positional use (Formatting) keeps dbt's own path and its checks
            original_init(self, *args, **kwargs)
            return
        object.__setattr__(self, "_mart_kwargs", kwargs)

    def _get(self: Any) -> Any:
        values = self.__dict__
        if "_mart_pb_msg" not in values:
            kwargs = values.pop("_mart_kwargs", None)
            if kwargs is None:
                raise AttributeError("pb_msg")
            original_init(self, **kwargs)  # assigns pb_msg through _set
        return values["_mart_pb_msg"]

    def _set(self: Any, value: Any) -> None:
        self.__dict__["_mart_pb_msg"] = value

    __init__._mart_speedup = True  # type: ignore[attr-defined]
    __init__.__wrapped__ = original_init  # type: ignore[attr-defined]
    base.pb_msg = property(_get, _set)  # type: ignore[attr-defined]
    base.__init__ = __init__  # type: ignore[method-assign]
    return None


# -- Jinja ---------------------------------------------------------------------------


class _TemplateCache:
    """Compiled Jinja code per (native, source), least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.codes: OrderedDict[tuple[bool, str], Any] = OrderedDict()
        self.environments: dict[bool, Any] = {}
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def environment(self, native: bool) -> Any:
        from dbt_common.clients.jinja import get_environment

        env = self.environments.get(native)
        if env is None:
            env = self.environments[native] = get_environment(None, False, native=native)
        return env

    def code(self, env: Any, native: bool, source: str) -> Any:
        key = (native, source)
        with self.lock:
            code = self.codes.get(key)
            if code is not None:
                self.codes.move_to_end(key)
                self.hits += 1
                return code
        code = env.compile(source)
        with self.lock:
            self.misses += 1
            self.codes[key] = code
            while len(self.codes) > self.size:
                self.codes.popitem(last=False)
        return code


TEMPLATES = _TemplateCache(TEMPLATE_CACHE_SIZE)


def _patch_template_cache() -> str | None:
    import dbt.clients.jinja as dbt_jinja
    from dbt_common.clients import jinja as common_jinja

    original = common_jinja.get_template
    if getattr(original, "_mart_speedup", False):
        return None
    if not _has_parameters(original, ["string", "ctx", "node", "capture_macros", "native"]):
        return "dbt_common get_template has a different signature"
    source = inspect.getsource(original)
    if "env.from_string(template_source, globals=ctx)" not in source:
        return "dbt_common get_template no longer uses Environment.from_string"
    if getattr(dbt_jinja, "get_template", None) is not original:
        return "dbt.clients.jinja does not use dbt_common's get_template"

    def get_template(
        string: str,
        ctx: dict[str, Any],
        node: Any = None,
        capture_macros: bool = False,
        native: bool = False,
    ) -> Any:
        # capture_macros makes the environment depend on the node (parse time only).
        if capture_macros:
            return original(string, ctx, node, capture_macros, native)
        with common_jinja.catch_jinja(node):
            env = TEMPLATES.environment(native)
            code = TEMPLATES.code(env, native, str(string))
            # What Environment.from_string does after compiling.
            return env.template_class.from_code(env, code, env.make_globals(ctx), None)

    get_template._mart_speedup = True  # type: ignore[attr-defined]
    get_template.__wrapped__ = original  # type: ignore[attr-defined]
    common_jinja.get_template = get_template
    dbt_jinja.get_template = get_template  # type: ignore[attr-defined]
    return None


# -- macro namespace -------------------------------------------------------------------


_GENERATOR_FIELDS = {"context", "macro", "node", "stack"}


def _patch_macro_namespace() -> str | None:
    from dbt.context import macros as context_macros
    from dbt.context.macro_resolver import TestMacroNamespace
    from dbt.context.manifest import ManifestContext
    from dbt.include.global_project import PROJECT_NAME as GLOBAL_PROJECT_NAME

    builder_cls = context_macros.MacroNamespaceBuilder
    namespace_cls = context_macros.MacroNamespace
    generator_cls = context_macros.MacroGenerator
    original_build = builder_cls.build_namespace
    original_to_dict = ManifestContext.to_dict
    if getattr(original_build, "_mart_speedup", False):
        return None
    # The shortcut sets a generator's attributes itself: check that the constructor
    # sets exactly these, so a dbt that adds one makes this patch step aside.
    probe = generator_cls(None, {}, None, None)  # type: ignore[arg-type]
    if set(vars(probe)) != _GENERATOR_FIELDS:
        return f"MacroGenerator sets {sorted(vars(probe))}"
    for name in ("add_macro", "_add_macro_to", "build_namespace"):
        if name not in vars(builder_cls):
            return f"MacroNamespaceBuilder.{name} is gone"
    if "dct.update(self.namespace)" not in inspect.getsource(original_to_dict):
        return "ManifestContext.to_dict changed"
    if list(inspect.signature(namespace_cls.__init__).parameters) != [
        "self",
        "global_namespace",
        "local_namespace",
        "global_project_namespace",
        "packages",
    ]:
        return "MacroNamespace has a different constructor"
    duplicate_error = context_macros.DuplicateMacroNameError
    new = object.__new__

    def build_namespace(self: Any, macros_by_package: Any, ctx: dict[str, Any]) -> Any:
        # Exactly MacroNamespaceBuilder.add_macro for every macro, then build_namespace.
        internal_names = self.internal_package_names
        internal = self.internal_packages
        packages = self.packages
        local_names = self.locals
        global_names = self.globals
        search_package = self.search_package
        root_package = self.root_package
        node = self.node
        stack = self.thread_ctx
        for package in macros_by_package.values():
            for macro in package.values():
                generator = new(generator_cls)
                values = generator.__dict__
                values["context"] = ctx
                values["macro"] = macro
                values["node"] = node
                values["stack"] = stack
                package_name = macro.package_name
                hierarchy = internal if package_name in internal_names else packages
                namespace = hierarchy.get(package_name)
                if namespace is None:
                    namespace = hierarchy[package_name] = {}
                name = macro.name
                if name in namespace:
                    raise duplicate_error(macro, macro, package_name)  # as dbt does
                namespace[name] = generator
                if hierarchy is packages:
                    if package_name == search_package:
                        local_names[name] = generator
                    elif package_name == root_package:
                        global_names[name] = generator
        global_project_namespace: dict[str, Any] = {}
        for package_name in reversed(self.internal_package_names_order):
            if package_name in internal:
                global_project_namespace.update(internal[package_name])
        return namespace_cls(
            global_namespace=global_names,
            local_namespace=local_names,
            global_project_namespace=global_project_namespace,
            packages=packages,
        )

    def flat(namespace: Any) -> dict[str, Any]:
        # dict(namespace) resolves each key through MacroNamespace.__getitem__ (the
        # first of five namespaces that has it). Merging them in reverse search order
        # gives every key the same value.
        merged: dict[str, Any] = {}
        merged.update(namespace.global_project_namespace)
        merged[GLOBAL_PROJECT_NAME] = namespace.global_project_namespace
        merged.update(namespace.packages)
        merged.update(namespace.global_namespace)
        merged.update(namespace.local_namespace)
        return merged

    def to_dict(self: Any) -> dict[str, Any]:
        dct = super(ManifestContext, self).to_dict()
        if isinstance(self.namespace, TestMacroNamespace):
            dct.update(self.namespace.local_namespace)
            dct.update(self.namespace.project_namespace)
        elif type(self.namespace) is namespace_cls:
            dct.update(flat(self.namespace))
        else:
            dct.update(self.namespace)
        return dct

    build_namespace._mart_speedup = True  # type: ignore[attr-defined]
    build_namespace.__wrapped__ = original_build  # type: ignore[attr-defined]
    to_dict._mart_speedup = True  # type: ignore[attr-defined]
    to_dict.__wrapped__ = original_to_dict  # type: ignore[attr-defined]
    builder_cls.build_namespace = build_namespace  # type: ignore[method-assign]
    ManifestContext.to_dict = to_dict  # type: ignore[method-assign]
    return None


# -- plugins -----------------------------------------------------------------------------


def _patch_plugin_modules() -> str | None:
    from dbt.plugins.manager import PluginManager

    original = PluginManager.__dict__.get("get_prefixed_modules")
    if not isinstance(original, classmethod):
        return "PluginManager.get_prefixed_modules is not a classmethod"
    if getattr(original.__func__, "_mart_speedup", False):
        return None
    found: dict[type, dict[str, Any]] = {}

    def get_prefixed_modules(cls: type) -> dict[str, Any]:
        if cls not in found:
            found[cls] = original.__func__(cls)
        return dict(found[cls])

    get_prefixed_modules._mart_speedup = True  # type: ignore[attr-defined]
    get_prefixed_modules.__wrapped__ = original.__func__  # type: ignore[attr-defined]
    PluginManager.get_prefixed_modules = classmethod(get_prefixed_modules)  # type: ignore[assignment]
    return None


def _patch_parse_cache() -> str | None:
    from dbt.clients import jinja_static
    from dbt_common import tests as common_tests
    from dbt_common.clients import jinja as common_jinja

    expected = (
        (common_tests, "enable_test_caching"),
        (common_tests, "test_caching_enabled"),
        (common_jinja, "_TESTING_PARSE_CACHE"),
        (common_jinja, "_TESTING_BLOCKS_CACHE"),
        (jinja_static, "_TESTING_MACRO_CACHE"),
    )
    for module, name in expected:
        if not hasattr(module, name):
            return f"{module.__name__}.{name} is missing"
    common_tests.enable_test_caching()
    return None


# -- compiled SQL files ---------------------------------------------------------------------


class _DeferredFiles:
    """The node SQL files dbt writes, held while a build runs (see deferred_sql_files)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = False
        self.pending: dict[str, str] = {}  # path -> contents; insertion order kept
        self.write: Any = None  # dbt_common's write_file

    def take(self, path: str, contents: str) -> bool:
        with self.lock:
            if not self.active:
                return False
            self.pending.pop(path, None)  # a rewrite goes last, as on disk
            self.pending[path] = contents
            return True

    def flush(self) -> int:
        with self.lock:
            self.active = False
            pending, self.pending = self.pending, {}
        for path, contents in pending.items():
            self.write(path, contents)
        return len(pending)


_FILES = _DeferredFiles()


def _patch_node_file_writes() -> str | None:
    from dbt.contracts.graph import nodes

    original = getattr(nodes, "write_file", None)
    if original is None:
        return "dbt.contracts.graph.nodes no longer imports write_file"
    if getattr(original, "_mart_speedup", False):
        return None
    if "write_file(full_path, compiled_code)" not in inspect.getsource(nodes.ParsedNode.write_node):
        return "ParsedNode.write_node no longer calls write_file"

    def write_file(path: str, contents: str = "") -> bool:
        if _FILES.take(path, contents):
            return True
        return original(path, contents)

    write_file._mart_speedup = True  # type: ignore[attr-defined]
    write_file.__wrapped__ = original  # type: ignore[attr-defined]
    _FILES.write = original
    nodes.write_file = write_file  # type: ignore[attr-defined]
    return None


class deferred_sql_files:  # noqa: N801  (used like a function)
    """Hold dbt's compiled/run SQL files in memory until :meth:`flush`.

    ``files = deferred_sql_files().start()`` then ``files.flush()`` when the files may
    be written; or ``with deferred_sql_files() as files:`` (leaving the block flushes
    what is left). Without the patch (or with it skipped) files are written as dbt
    goes, and flush writes nothing.
    """

    def start(self) -> deferred_sql_files:
        """Hold the files from now on."""
        if _applied.get("deferred_sql_files") == "applied":
            with _FILES.lock:
                _FILES.active = True
        return self

    def __enter__(self) -> deferred_sql_files:
        return self.start()

    def flush(self) -> int:
        """Write the held files now; returns how many."""
        if _FILES.write is None:
            return 0
        return _FILES.flush()

    def __exit__(self, *exc: object) -> None:
        self.flush()


# -- agate ---------------------------------------------------------------------------


def _patch_type_testers() -> str | None:
    from dbt_common.clients import agate_helper

    original = agate_helper.build_type_tester
    if getattr(original, "_mart_speedup", False):
        return None
    if not _has_parameters(original, ["text_columns", "string_null_values"]):
        return "build_type_tester has a different signature"

    @functools.lru_cache(maxsize=256)
    def cached(text_columns: tuple[str, ...], null_values: tuple[str, ...] | None) -> Any:
        return original(text_columns, null_values)

    def build_type_tester(text_columns: Any, string_null_values: Any = ("null", "")) -> Any:
        nulls = None if string_null_values is None else tuple(string_null_values)
        return cached(tuple(sorted(text_columns)), nulls)

    build_type_tester._mart_speedup = True  # type: ignore[attr-defined]
    build_type_tester.__wrapped__ = original  # type: ignore[attr-defined]
    agate_helper.build_type_tester = build_type_tester
    return None

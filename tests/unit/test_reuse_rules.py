"""mart.reuse on small hand-made manifests: fingerprints and which nodes are reused."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace as NS

from mart import reuse


class Config:
    def __init__(self, **values):
        self.values = values
        self.enabled = True

    def to_dict(self, omit_none: bool = True):
        return dict(self.values)


def node(uid: str, raw: str = "select 1", parents=(), macros=(), kind: str = "model"):
    return NS(
        unique_id=uid,
        name=uid.split(".")[-1],
        resource_type=kind,
        raw_code=raw,
        config=Config(materialized="table"),
        depends_on=NS(nodes=list(parents), macros=list(macros)),
        columns={},
        test_metadata=None,
        contract=None,
        relation_name=f'"mart"."main"."{uid.split(".")[-1]}"',
    )


def macro(uid: str, sql: str, calls=(), package: str = "techmart"):
    return NS(
        name=uid.split(".")[-1],
        package_name=package,
        macro_sql=sql,
        depends_on=NS(macros=list(calls)),
    )


def manifest(nodes, macros=()):
    return NS(
        nodes={item.unique_id: item for item in nodes},
        sources={"source.p.bronze.raw": NS(identifier="raw", name="raw")},
        macros={uid: item for uid, item in macros},
        exposures={},
    )


def project():
    macros = [
        ("macro.techmart.as_of", macro("macro.techmart.as_of", "{{ var('as_of_date') }}")),
        (
            "macro.techmart.segment",
            macro("macro.techmart.segment", "x", calls=["macro.techmart.default__threshold"]),
        ),
        ("macro.techmart.default__threshold", macro("macro.techmart.default__threshold", "1")),
        # A dispatched implementation dbt's static analysis does not list.
        (
            "macro.techmart.duckdb__threshold",
            macro("macro.techmart.duckdb__threshold", '{{ var("high") }}'),
        ),
    ]
    nodes = [
        node("model.p.stg", "select * from {{ source('bronze', 'raw') }}", ["source.p.bronze.raw"]),
        node("model.p.ages", "{{ as_of() }}", ["model.p.stg"], ["macro.techmart.as_of"]),
        node("model.p.seg", "{{ segment() }}", ["model.p.stg"], ["macro.techmart.segment"]),
        node("model.p.both", "x", ["model.p.ages", "model.p.seg"]),
    ]
    return manifest(nodes, macros)


def prints(man, variables, loaded="v1"):
    return reuse.fingerprints(man, variables, {"raw": loaded}, "key")


def test_vars_read_finds_literal_names_and_flags_computed_ones() -> None:
    assert reuse.vars_read("{{ var('a') }} {{ var( \"b\" , 3) }}") == {"a", "b"}
    assert reuse.vars_read("{{ var(name) }}") == {"*"}
    assert reuse.vars_read("select 1 -- no vars") == set()
    assert reuse.vars_read("{{ my_var('x') }}") == set()  # another function


def test_an_unset_as_of_date_means_the_day_of_the_run() -> None:
    today = dt.date.today().isoformat()
    for value in (None, "", "today", " NULL "):
        assert reuse.effective_vars({"as_of_date": value})["as_of_date"] == today
    assert reuse.effective_vars({})["as_of_date"] == today
    assert reuse.effective_vars({"as_of_date": "2024-01-02"})["as_of_date"] == "2024-01-02"


def test_a_var_changes_only_the_nodes_that_read_it_and_their_downstream() -> None:
    man = project()
    base = prints(man, {"as_of_date": "2024-01-01", "high": 500})
    as_of = prints(man, {"as_of_date": "2024-02-01", "high": 500})
    high = prints(man, {"as_of_date": "2024-01-01", "high": 600})
    changed = lambda new: {uid for uid in base if base[uid] != new[uid]}  # noqa: E731
    assert changed(as_of) == {"model.p.ages", "model.p.both"}
    # read through the dispatched duckdb__ implementation
    assert changed(high) == {"model.p.seg", "model.p.both"}
    assert prints(man, {"as_of_date": "2024-01-01", "high": 500}) == base  # stable


def test_new_source_data_or_an_edited_node_changes_it_and_its_downstream() -> None:
    man = project()
    variables = {"as_of_date": "2024-01-01", "high": 500}
    base = prints(man, variables)
    assert set(base) == set(man.nodes)
    new_data = prints(man, variables, loaded="v2")
    assert all(new_data[uid] != base[uid] for uid in base)
    man.nodes["model.p.seg"].raw_code += " -- edited"
    edited = prints(man, variables)
    assert {uid for uid in base if edited[uid] != base[uid]} == {"model.p.seg", "model.p.both"}


def test_a_source_without_loaded_data_leaves_its_downstream_unprinted() -> None:
    man = project()
    assert reuse.fingerprints(man, {}, {}, "key") == {}


def test_plan_reuses_only_matching_complete_nodes_whose_parents_are_reused() -> None:
    man = project()
    printed = prints(man, {"as_of_date": "2024-01-01", "high": 500})

    def entry(uid, status="success", fingerprint=None):
        return {"fingerprint": fingerprint or printed[uid], "status": status, "ran_in": 1}

    everything = {"nodes": {uid: entry(uid) for uid in printed}}
    assert set(reuse.plan(man, printed, everything)) == set(printed)
    # stg errored in the base: nothing downstream can be reused either.
    broken = {"nodes": {**everything["nodes"], "model.p.stg": entry("model.p.stg", "error")}}
    assert reuse.plan(man, printed, broken) == {}
    # ages changed: it and "both" run, stg and seg are reused.
    moved = {
        "nodes": {**everything["nodes"], "model.p.ages": entry("model.p.ages", fingerprint="x")}
    }
    assert set(reuse.plan(man, printed, moved)) == {"model.p.stg", "model.p.seg"}
    # Nothing recorded, nothing reused.
    assert reuse.plan(man, printed, {}) == {}


def test_global_key_covers_the_project_file_and_project_macros(tmp_path) -> None:
    (tmp_path / "dbt_project.yml").write_text("name: p\n")
    man = project()
    key = reuse.global_key(tmp_path, man)
    man.macros["macro.techmart.as_of"].macro_sql += " "
    assert reuse.global_key(tmp_path, man) != key
    shipped = reuse.global_key(tmp_path, man)
    man.macros["macro.dbt.x"] = macro("macro.dbt.x", "shipped", package="dbt")
    assert reuse.global_key(tmp_path, man) == shipped  # covered by the dbt version
    (tmp_path / "dbt_project.yml").write_text("name: p\nvars: {a: 1}\n")
    assert reuse.global_key(tmp_path, man) != shipped


def test_state_round_trips_and_ignores_other_versions(tmp_path) -> None:
    reuse.write_state(tmp_path, 7, {"model.p.stg": {"fingerprint": "f", "status": "success"}})
    state = reuse.read_state(tmp_path)
    assert state["build_id"] == 7 and state["nodes"]["model.p.stg"]["fingerprint"] == "f"
    (tmp_path / reuse.REUSE_FILE).write_text('{"version": 0, "nodes": {}}')
    assert reuse.read_state(tmp_path) == {}
    (tmp_path / reuse.REUSE_FILE).write_text("not json")
    assert reuse.read_state(tmp_path) == {}
    assert reuse.read_state(tmp_path / "missing") == {}


def test_a_changed_file_checksum_or_source_relation_changes_the_fingerprints() -> None:
    man = project()
    variables = {"as_of_date": "2024-01-01", "high": 500}
    man.nodes["model.p.seg"].checksum = NS(checksum="a")  # e.g. a seed's CSV
    base = prints(man, variables)
    man.nodes["model.p.seg"].checksum = NS(checksum="b")
    assert {uid for uid, value in prints(man, variables).items() if value != base[uid]} == {
        "model.p.seg",
        "model.p.both",
    }
    man.nodes["model.p.seg"].checksum = NS(checksum="a")
    # sources.yml pointed at another table, same loaded key: everything downstream.
    man.sources["source.p.bronze.raw"].relation_name = '"mart"."bronze"."other"'
    moved = prints(man, variables)
    assert all(moved[uid] != base[uid] for uid in base)

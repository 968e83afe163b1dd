{#-
    The table materialization for DuckDB, in one statement: `create or replace table`.

    dbt-duckdb's own version builds the model as `<name>__dbt_tmp`, renames the old
    table to `<name>__dbt_backup`, renames the new one into place and drops the
    backup, with catalog queries for indexes and foreign keys in between: about ten
    statements per model, and as many dbt macro calls. Here a build never changes the
    published mart: it works on a copy of the DuckDB file, which is published by one
    pointer swap after the audit. The swap inside the file buys nothing, and DuckDB's
    `create or replace table` is atomic on its own (inside the model's transaction).

    Anything this short path does not cover goes to dbt-duckdb's materialization:
    Python models, enforced contracts, partitioned_by / sorted_by, indexes, and a
    table other tables point foreign keys at.
-#}
{%- materialization table, adapter="duckdb", supported_languages=['sql', 'python'] -%}

  {%- set contract_config = config.get('contract') -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- if model['language'] != 'sql'
        or (contract_config and contract_config.enforced)
        or config.get('partitioned_by') or config.get('sorted_by') or config.get('indexes')
        or (existing_relation is not none and existing_relation.is_table
            and may_be_foreign_key_target(existing_relation)) -%}
    {{ return(dbt.materialization_table_duckdb()) }}
  {%- endif -%}

  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set sql_header = config.get('sql_header', none) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- if existing_relation is not none and not existing_relation.is_table %}
    {{ adapter.drop_relation(existing_relation) }}
  {%- endif %}

  {% call statement('main') -%}
    {{ sql_header if sql_header is not none }}
    create or replace table {{ target_relation }} as (
      {{ compiled_code }}
    );
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}

  -- `COMMIT` happens here
  {{ adapter.commit() }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{%- endmaterialization -%}

{#-
    The data test materialization, with failing rows stored only when there are any.

    dbt's built-in version (global_project/macros/materializations/tests/test.sql)
    drops and re-creates the store-failures relation of every test, passing or not,
    before it counts the failures: three statements and two commits per test, which
    is most of a test's cost on a small mart. This version counts first and writes
    the failing rows only for a test that found some. A passing test leaves no
    relation behind: one stored by an earlier run is dropped (found through dbt's
    relation cache, so a passing test that never failed runs no DDL at all).
    The result, messages and severity handling are the built-in ones.
-#}
{%- materialization test, default -%}

  {% set relations = [] %}
  {% set limit = config.get('limit') %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}
  {% set fail_calc = config.get('fail_calc') %}
  {% set warn_if = config.get('warn_if') %}
  {% set error_if = config.get('error_if') %}

  {% set sql_with_limit %}
    {{ get_limit_subquery_sql(sql, limit) }}
  {% endset %}

  {% call statement('main', fetch_result=True) -%}
    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ get_test_sql(sql_with_limit, fail_calc, warn_if, error_if, limit=none) }}
  {%- endcall %}

  {% if should_store_failures() %}
    {% set store_failures_as = config.get('store_failures_as') %}
    {% if store_failures_as == none %}{% set store_failures_as = 'table' %}{% endif %}
    {% if store_failures_as not in ['table', 'view'] %}
      {{ exceptions.raise_compiler_error(
          "'" ~ store_failures_as ~ "' is not a valid value for `store_failures_as`. "
          "Accepted values are: ['ephemeral', 'table', 'view']"
      ) }}
    {% endif %}

    {% set result = load_result('main') %}
    {% set failures = result['data'][0][0] if result and result['data'] else none %}
    {% set old_relation = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) %}
    {% if old_relation %}
      {% do adapter.drop_relation(old_relation) %}
    {% endif %}

    {% if failures is none or failures != 0 %}
      {% set target_relation = api.Relation.create(
          identifier=model['alias'], schema=schema, database=database, type=store_failures_as) %}
      {% do adapter.create_schema(target_relation) %}
      {% call statement(auto_begin=True) %}
        {% if sql_header %}{{ sql_header }}{% endif %}
        {{ get_create_sql(target_relation, sql_with_limit) }}
      {% endcall %}
      {% do relations.append(target_relation) %}
    {% endif %}
    {% if old_relation or relations %}
      {{ adapter.commit() }}
    {% endif %}
  {% endif %}

  {{ return({'relations': relations}) }}

{%- endmaterialization -%}

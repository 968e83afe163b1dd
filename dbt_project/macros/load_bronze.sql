{#-
    Bronze loading for standalone runs (`cd dbt_project && dbt build`).

    Creates bronze.raw_transactions and bronze.raw_events when they are absent and, when
    they are empty, fills them from the newline-delimited JSON files in the raw data
    directory: $MART_RAW_DATA_DIR, or ../data next to this project. Each record keeps its
    JSON in raw_data with load metadata (_loaded_at, _batch_id, _source_file,
    _record_number), as the exercise's BRONZE tables do.

    Non-empty tables are left alone, so data loaded by someone else (the app's build
    engine, which also passes bronze_autoload: false) is never replaced.
-#}
{% macro load_bronze_from_files() %}
    {{ return(adapter.dispatch('load_bronze_from_files', 'techmart')()) }}
{% endmacro %}

{% macro default__load_bronze_from_files() %}
    {%- if not execute or not var('bronze_autoload', true) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set data_dir = env_var('MART_RAW_DATA_DIR', '') -%}
    {%- if not data_dir -%}
        {%- set data_dir = (flags.PROJECT_DIR or '.') ~ '/../data' -%}
    {%- endif -%}
    {%- set statements = ['create schema if not exists bronze'] -%}
    {%- for table, file in [('raw_transactions', 'transactions.jsonl'), ('raw_events', 'events.jsonl')] -%}
        {%- set path = (data_dir ~ '/' ~ file) | replace("'", "''") -%}
        {%- do statements.append(
            'create table if not exists bronze.' ~ table ~ ' ('
            ~ 'raw_data json, _loaded_at timestamp, _batch_id varchar, '
            ~ '_source_file varchar, _record_number bigint)'
        ) -%}
        {%- do statements.append(
            'insert into bronze.' ~ table
            ~ " select json, cast(current_timestamp as timestamp), 'file:" ~ file ~ "', '"
            ~ file ~ "', row_number() over () from read_ndjson_objects('" ~ path ~ "')"
            ~ ' where not exists (select 1 from bronze.' ~ table ~ ')'
        ) -%}
    {%- endfor -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {{ return('') }}
{% endmacro %}

{% macro snowflake__load_bronze_from_files() %}
    {#- On Snowflake the BRONZE tables are loaded by COPY INTO from a stage, outside dbt. -#}
    {{ return('') }}
{% endmacro %}

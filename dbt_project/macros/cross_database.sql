{#-
    Adapter-specific SQL behind dispatched macros. The default__ implementations are
    DuckDB's; snowflake__ ones use the exercise's raw_data:field::TYPE form, so the same
    models run on Snowflake by switching the dbt target.
-#}

{#-
    Parse a JSON column once into a record whose fields json_field() reads.
    fields: a list of keys (read as text) or a mapping of key to SQL type. On DuckDB,
    typed keys are read straight from the JSON text: a DECIMAL amount never goes through
    DOUBLE (1.005 → 1.01, exactly), and unreadable values become null.
-#}
{% macro json_record(column, fields) %}
    {{ return(adapter.dispatch('json_record', 'techmart')(column, fields)) }}
{% endmacro %}

{% macro default__json_record(column, fields) %}
    {%- set structure = {} -%}
    {%- for field in fields -%}
        {%- set data_type = fields[field] if fields is mapping else 'varchar' -%}
        {%- do structure.update({field: data_type | upper | replace(' ', '')}) -%}
    {%- endfor -%}
    json_transform({{ column }}, '{{ tojson(structure) }}')
{%- endmacro %}

{% macro snowflake__json_record(column, fields) %}
    {{ column }}
{%- endmacro %}

{#- One typed field of a parsed record; unreadable values become null (tests catch them). -#}
{% macro json_field(record, field, data_type) %}
    {{ return(adapter.dispatch('json_field', 'techmart')(record, field, data_type)) }}
{% endmacro %}

{% macro default__json_field(record, field, data_type) %}
    {%- if data_type | lower in ('varchar', 'string', 'text') -%}
        {{ record }}.{{ field }}
    {%- else -%}
        try_cast({{ record }}.{{ field }} as {{ data_type }})
    {%- endif -%}
{%- endmacro %}

{% macro snowflake__json_field(record, field, data_type) %}
    {%- if data_type | lower in ('varchar', 'string', 'text') -%}
        {{ record }}:{{ field }}::string
    {%- else -%}
        try_cast({{ record }}:{{ field }}::string as {{ data_type }})
    {%- endif -%}
{%- endmacro %}

{#-
    The keyword that makes a CTE be computed once. DuckDB otherwise inlines a CTE into each
    place that reads it: a filter pushed into the scan then runs json_transform once per
    condition (a 1M-row readability test: 0.9 s instead of 0.2 s). Snowflake computes a CTE
    read once as it is, and has no such keyword.
-#}
{% macro cte_materialized() %}
    {{ return(adapter.dispatch('cte_materialized', 'techmart')()) }}
{% endmacro %}

{% macro default__cte_materialized() %}materialized{% endmacro %}

{% macro snowflake__cte_materialized() %}{% endmacro %}

{#- The JSON text of a raw record, for hashing. -#}
{% macro json_text(column) %}
    {{ return(adapter.dispatch('json_text', 'techmart')(column)) }}
{% endmacro %}

{% macro default__json_text(column) %}
    cast({{ column }} as varchar)
{%- endmacro %}

{% macro snowflake__json_text(column) %}
    to_json({{ column }})
{%- endmacro %}

{#-
    An integer type wide enough for any DECIMAL(38, 2) total counted in cents: 64 bits
    overflow above about 9.2 * 10^16 units (a total of 92 trillion at two places).
-#}
{% macro wide_integer_type() %}
    {{ return(adapter.dispatch('wide_integer_type', 'techmart')()) }}
{% endmacro %}

{% macro default__wide_integer_type() %}hugeint{% endmacro %}

{% macro snowflake__wide_integer_type() %}number(38, 0){% endmacro %}

{#- Integer division rounding toward zero, for non-negative operands. -#}
{% macro integer_divide(numerator, denominator) %}
    {{ return(adapter.dispatch('integer_divide', 'techmart')(numerator, denominator)) }}
{% endmacro %}

{% macro default__integer_divide(numerator, denominator) %}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{#- Snowflake rounds a quotient of integers to 6 decimals before floor() sees it: a
    quotient within 5e-7 below a whole number (a denominator over 2,000,000: twice the
    revenue in cents past $10,000) came out one too many. Subtracting the remainder
    first leaves a division with no remainder, exact in any scale. (The operands are not
    negative where it is used: money.sql passes absolute units.) -#}
{% macro snowflake__integer_divide(numerator, denominator) %}
    ((({{ numerator }}) - mod(({{ numerator }}), ({{ denominator }}))) / ({{ denominator }}))
{%- endmacro %}

{#-
    "Today" for every age and recency metric: the as_of_date var (YYYY-MM-DD), or the date
    of the run when it is unset. Rendered as a literal so compiled SQL is reproducible.
-#}
{% macro as_of_date_value() %}
    {%- set raw = var('as_of_date', none) -%}
    {%- if raw is none or (raw | string | trim | lower) in ('', 'none', 'null', 'today') -%}
        {{ return(modules.datetime.date.today().isoformat()) }}
    {%- endif -%}
    {%- set text = raw | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error(
            "var as_of_date must be a date written YYYY-MM-DD (for example 2024-03-01), got '"
            ~ text ~ "'"
        ) }}
    {%- endif -%}
    {%- set parts = text.split('-') -%}
    {%- set month = parts[1] | int -%}
    {%- set day = parts[2] | int -%}
    {%- if month < 1 or month > 12 or day < 1 or day > 31 -%}
        {{ exceptions.raise_compiler_error("var as_of_date is not a real date: '" ~ text ~ "'") }}
    {%- endif -%}
    {{ return(text) }}
{% endmacro %}

{% macro as_of_date() %}
    cast('{{ as_of_date_value() }}' as date)
{%- endmacro %}

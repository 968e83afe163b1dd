{#-
    Exact average of a DECIMAL total over a count, rounded half away from zero to `scale`
    places. Works on integers of the smallest unit (cents), so it never goes through
    DOUBLE: DuckDB's avg() and decimal division do, and then round(1.005, 2) gives 1.0.

    total: a DECIMAL expression with at most `scale` decimals (e.g. sum(amount))
    count:  a positive integer expression (e.g. count(*))
    precision: digits of the result; 18 holds any average of amounts, an average of
               per-customer totals needs 38
-#}
{% macro decimal_average(total, count, scale=2, precision=18) %}
    {%- set factor = 10 ** scale -%}
    {%- set units = 'cast(abs(' ~ total ~ ') * ' ~ factor ~ ' as ' ~ wide_integer_type() ~ ')' -%}
    {#- multiply by 10^-scale as a DECIMAL literal: exact, where division would not be -#}
    cast(
        cast(
            sign({{ total }}) * {{ integer_divide('2 * ' ~ units ~ ' + (' ~ count ~ ')', '2 * (' ~ count ~ ')') }}
            as decimal(38, 0)
        ) * cast({{ '%.*f' | format(scale, 1 / factor) }} as decimal(38, {{ scale }}))
        as decimal({{ precision }}, {{ scale }})
    )
{%- endmacro %}

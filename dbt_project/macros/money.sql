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


{#-
    Exact ratio of two exact numbers, rounded half away from zero to `scale` places, as
    DECIMAL(precision, scale); null when the denominator is 0 or null. Like
    decimal_average it works on integers: DuckDB's decimal division returns a DOUBLE, and
    3 / 20000 = 0.00015 then rounded to 0.0001 instead of 0.0002.

    numerator, denominator: integer or DECIMAL expressions with at most `input_scale`
    decimals (0 for counts, 2 for amounts); either sign.
-#}
{% macro decimal_ratio(numerator, denominator, scale=4, precision=7, input_scale=0) %}
    {%- set to_units = 10 ** input_scale -%}
    {%- set top = 'cast(abs(' ~ numerator ~ ') * ' ~ to_units ~ ' as ' ~ wide_integer_type() ~ ')' -%}
    {%- set bottom = 'cast(abs(' ~ denominator ~ ') * ' ~ to_units ~ ' as ' ~ wide_integer_type() ~ ')' -%}
    case when ({{ denominator }}) <> 0 then
        cast(
            cast(
                sign({{ numerator }}) * sign({{ denominator }})
                * {{ integer_divide('2 * ' ~ top ~ ' * ' ~ 10 ** scale ~ ' + ' ~ bottom, '2 * ' ~ bottom) }}
                as decimal(38, 0)
            ) * cast({{ '%.*f' | format(scale, 1 / 10 ** scale) }} as decimal(38, {{ scale }}))
            as decimal({{ precision }}, {{ scale }})
        )
    end
{%- endmacro %}

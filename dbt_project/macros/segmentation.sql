{#-
    Customer segmentation, the one place the rule lives.

    High Value:   lifetime value >= high_value_threshold   (default 500)
    Medium Value: lifetime value >= medium_value_threshold (default 200)
    Low Value:    everything else, including customers who never purchased (value 0)

    Thresholds come from vars so the app can rebuild with new ones; they must be
    numbers with high > medium >= 0, or compilation stops with a clear message.
-#}
{% macro segment_names() %}
    {{ return(['High Value', 'Medium Value', 'Low Value']) }}
{% endmacro %}

{% macro _threshold(name) %}
    {%- set raw = var(name) -%}
    {%- set text = raw | string | trim -%}
    {%- if raw is none or raw is boolean or not modules.re.match('^[0-9]+(\\.[0-9]+)?$', text) -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be a non-negative number such as 500 or 199.99, got '"
            ~ text ~ "'"
        ) }}
    {%- endif -%}
    {{ return(text) }}
{% endmacro %}

{% macro segment_thresholds() %}
    {%- set high = _threshold('high_value_threshold') -%}
    {%- set medium = _threshold('medium_value_threshold') -%}
    {%- if (high | float) <= (medium | float) -%}
        {{ exceptions.raise_compiler_error(
            "Segment thresholds are not ordered: high_value_threshold (" ~ high
            ~ ") must be greater than medium_value_threshold (" ~ medium ~ ")"
        ) }}
    {%- endif -%}
    {{ return({'high': high, 'medium': medium}) }}
{% endmacro %}

{% macro customer_segment(lifetime_value) %}
    {%- set thresholds = segment_thresholds() -%}
    case
        when {{ lifetime_value }} >= {{ thresholds.high }} then 'High Value'
        when {{ lifetime_value }} >= {{ thresholds.medium }} then 'Medium Value'
        else 'Low Value'
    end
{%- endmacro %}

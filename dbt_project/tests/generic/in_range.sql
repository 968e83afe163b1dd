{#- Every value lies within [min_value, max_value] (either bound may be omitted). -#}
{% test in_range(model, column_name, min_value=none, max_value=none) %}

select *
from {{ model }}
where
    {% if min_value is not none %}{{ column_name }} < {{ min_value }}{% else %}false{% endif %}
    or {% if max_value is not none %}{{ column_name }} > {{ max_value }}{% else %}false{% endif %}

{% endtest %}

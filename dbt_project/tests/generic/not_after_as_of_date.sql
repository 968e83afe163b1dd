{#- The date (or timestamp) is not later than the as_of_date var: no future records. -#}
{% test not_after_as_of_date(model, column_name) %}

select *
from {{ model }}
where cast({{ column_name }} as date) > {{ as_of_date() }}

{% endtest %}

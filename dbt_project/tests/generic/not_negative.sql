{#-
    The column is never below zero. Zero is allowed: zero-amount transactions are valid
    promotions. Nulls are left to not_null.
-#}
{% test not_negative(model, column_name) %}

select *
from {{ model }}
where {{ column_name }} < 0

{% endtest %}

{#-
    Every raw JSON record's typed fields can be read: a field that has a value but cannot
    be cast to its type (a date like '2024-13-45', an amount like 'abc') would silently
    become null in staging, so it fails here with the offending records.
    fields: a mapping of JSON key to SQL type, e.g. {amount: 'decimal(18, 2)'}.
-#}
{% test json_fields_readable(model, column_name, fields) %}

with

parsed as {{ cte_materialized() }} (
    select
        {{ json_record(column_name, fields.keys() | list) }} as record,
        *
    from {{ model }}
)

select * exclude (record)
from parsed
where
    {% for field, data_type in fields.items() %}
    (
        nullif(trim({{ json_field('record', field, 'varchar') }}), '') is not null
        and {{ json_field('record', field, data_type) }} is null
    ){% if not loop.last %} or{% endif %}
    {% endfor %}

{% endtest %}

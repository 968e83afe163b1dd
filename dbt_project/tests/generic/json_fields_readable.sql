{#-
    Every raw JSON record's typed fields can be read: a field that has a value but cannot
    be cast to its type (a date like '2024-13-45', an amount like 'abc') would silently
    become null in staging, so it fails here with the offending records.
    fields: a mapping of JSON key to SQL type, e.g. {amount: 'decimal(18, 2)'}.

    Fields are parsed as text, then cast. Staging reads a DECIMAL straight from the JSON
    text instead: as text, a JSON number near 10^16 has gone through DOUBLE ('1e+16') and
    no longer fits. So a DECIMAL whose text did not cast is read again the staging way,
    on those records only (a CASE: an AND would parse every record again), and fails
    only if that is null too.
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
    {%- if (data_type | lower).startswith(('decimal', 'numeric')) %}
    case
        when
            nullif(trim({{ json_field('record', field, 'varchar') }}), '') is not null
            and {{ json_field('record', field, data_type) }} is null
            then {{ json_field('(' ~ json_record(column_name, {field: data_type}) ~ ')', field, data_type) }} is null
        else false
    end
    {%- else %}
    (
        nullif(trim({{ json_field('record', field, 'varchar') }}), '') is not null
        and {{ json_field('record', field, data_type) }} is null
    )
    {%- endif %}{% if not loop.last %} or{% endif %}
    {% endfor %}

{% endtest %}

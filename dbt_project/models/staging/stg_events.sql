{#- One row per raw event record, typed; the same single-parse pattern as transactions. -#}
with

source as (
    select * from {{ source('bronze', 'raw_events') }}
),

parsed as (
    select
        {{ json_record('raw_data', [
            'event_id', 'customer_id', 'session_id', 'event_type', 'event_timestamp',
            'product_category',
        ]) }} as record,
        _loaded_at,
        _batch_id,
        _source_file,
        _record_number
    from source
),

typed as (
    select
        nullif(trim({{ json_field('record', 'event_id', 'varchar') }}), '') as event_id,
        nullif(trim({{ json_field('record', 'customer_id', 'varchar') }}), '') as customer_id,
        nullif(trim({{ json_field('record', 'session_id', 'varchar') }}), '') as session_id,
        lower(trim({{ json_field('record', 'event_type', 'varchar') }})) as event_type,
        nullif(trim({{ json_field('record', 'product_category', 'varchar') }}), '') as product_category,
        {{ json_field('record', 'event_timestamp', 'timestamp') }} as event_at,
        _batch_id,
        _source_file,
        _record_number,
        _loaded_at,
        {{ dbt.current_timestamp() }} as _processed_at
    from parsed
)

select
    *,
    cast(event_at as date) as event_date
from typed

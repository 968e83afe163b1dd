{#-
    One row per raw transaction record, typed. Each JSON record is parsed once
    (json_record) and its fields read from the parsed record; the amount is read as
    DECIMAL straight from the JSON text. Values that cannot be read
    become null so the tests name the rows instead of the build crashing.
-#}
with

source as (
    select * from {{ source('bronze', 'raw_transactions') }}
),

parsed as (
    select
        {{ json_record('raw_data', {
            'transaction_id': 'varchar',
            'customer_id': 'varchar',
            'transaction_date': 'varchar',
            'amount': 'decimal(18, 2)',
            'product_category': 'varchar',
        }) }} as record,
        raw_data,
        _loaded_at,
        _batch_id,
        _source_file,
        _record_number
    from source
),

typed as (
    select
        nullif(trim({{ json_field('record', 'transaction_id', 'varchar') }}), '') as transaction_id,
        nullif(trim({{ json_field('record', 'customer_id', 'varchar') }}), '') as customer_id,
        coalesce(
            nullif(trim({{ json_field('record', 'product_category', 'varchar') }}), ''),
            'Unknown'
        ) as product_category,
        {{ json_field('record', 'amount', 'decimal(18, 2)') }} as amount,
        {{ json_field('record', 'transaction_date', 'date') }} as transaction_date,
        {{ dbt.hash(json_text('raw_data')) }} as _record_hash,
        _batch_id,
        _source_file,
        _record_number,
        _loaded_at,
        {{ dbt.current_timestamp() }} as _processed_at
    from parsed
)

select * from typed

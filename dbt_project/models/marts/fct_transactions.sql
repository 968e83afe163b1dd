{#-
    Transaction-grain fact, built incrementally: new and changed records (by _record_hash)
    are merged on transaction_id, and transactions that left the source are deleted, so an
    incremental build always equals a full refresh (tests/assert_incremental_matches_staging).
-#}
{{
    config(
        materialized='incremental',
        unique_key='transaction_id',
        incremental_strategy='merge',
        on_schema_change='sync_all_columns',
        post_hook=[
            "delete from {{ this }} where transaction_id not in (select transaction_id from "
            ~ "{{ ref('stg_transactions') }} where transaction_id is not null)",
        ],
    )
}}

with

transactions as (
    select * from {{ ref('stg_transactions') }}
    where transaction_id is not null
),

changed as (
    select transactions.*
    from transactions
    {% if is_incremental() %}
        left join {{ this }} as existing
            on transactions.transaction_id = existing.transaction_id
            and transactions._record_hash = existing._record_hash
        where existing.transaction_id is null
    {% endif %}
),

final as (
    select
        transaction_id,
        customer_id,
        product_category,
        amount,
        amount < 0 as is_refund,
        transaction_date,
        cast({{ dbt.date_trunc('month', 'transaction_date') }} as date) as transaction_month,
        _record_hash,
        _batch_id,
        {{ dbt.current_timestamp() }} as _refreshed_at
    from changed
)

select * from final

{#- SCD Type 2 history of each customer's segment and attributes, from the snapshot. -#}
with

snapshot as (
    select * from {{ ref('customers_snapshot') }}
),

final as (
    select
        dbt_scd_id as history_id,
        customer_id,
        customer_segment,
        favorite_category,
        transaction_count,
        lifetime_value,
        is_repeat_customer,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to,
        dbt_valid_to is null as is_current
    from snapshot
)

select * from final

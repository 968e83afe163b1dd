{#- Per-customer purchase aggregates: the exercise's customer-level metrics. -#}
with

transactions as (
    select * from {{ ref('stg_transactions') }}
    where customer_id is not null
),

customer_aggregates as (
    select
        customer_id,
        count(*) as transaction_count,
        count(distinct product_category) as categories_purchased,
        count(distinct transaction_date) as purchase_days,
        sum(amount) as total_spend,
        {{ decimal_average('sum(amount)', 'count(*)') }} as avg_order_value,
        min(transaction_date) as first_purchase_date,
        max(transaction_date) as last_purchase_date
    from transactions
    group by customer_id
)

select * from customer_aggregates

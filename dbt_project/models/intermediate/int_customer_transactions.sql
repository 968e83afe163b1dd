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
        count(amount) as priced_transaction_count,
        count(distinct product_category) as categories_purchased,
        count(distinct transaction_date) as purchase_days,
        sum(amount) as total_spend,
        -- over the transactions with an amount, as the exercise's AVG(amount): one with
        -- none (it fails not_null, so only in a mart published anyway) does not halve it
        case
            when count(amount) > 0 then {{ decimal_average('sum(amount)', 'count(amount)') }}
        end as avg_order_value,
        min(transaction_date) as first_purchase_date,
        max(transaction_date) as last_purchase_date
    from transactions
    group by customer_id
)

select * from customer_aggregates

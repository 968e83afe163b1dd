{#-
    Spend per customer and product category, ranked within the customer: rank 1 is the
    favourite category (highest spend; ties: more transactions, then category name A→Z).
-#}
with

transactions as (
    select * from {{ ref('stg_transactions') }}
    where customer_id is not null
),

category_spend as (
    select
        customer_id,
        product_category,
        count(*) as transaction_count,
        sum(amount) as category_spend,
        max(transaction_date) as last_purchase_date
    from transactions
    group by customer_id, product_category
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id
            order by category_spend desc, transaction_count desc, product_category asc
        ) as category_rank
    from category_spend
)

select * from ranked

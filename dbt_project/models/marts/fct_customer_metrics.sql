{#- Customer-level metrics and segmentation: the exercise's fact table. -#}
with

customer_transactions as (
    select * from {{ ref('int_customer_transactions') }}
),

favorite_categories as (
    select
        customer_id,
        product_category as favorite_category
    from {{ ref('int_customer_category_spend') }}
    where category_rank = 1
),

final as (
    select
        customer_transactions.customer_id,
        favorite_categories.favorite_category,
        {{ customer_segment('customer_transactions.total_spend') }} as customer_segment,
        customer_transactions.transaction_count,
        customer_transactions.categories_purchased,
        customer_transactions.total_spend as lifetime_value,
        customer_transactions.avg_order_value,
        {{ dbt.datediff('customer_transactions.first_purchase_date', as_of_date(), 'day') }}
            as customer_age_days,
        {{ dbt.datediff('customer_transactions.last_purchase_date', as_of_date(), 'day') }}
            as days_since_last_purchase,
        customer_transactions.first_purchase_date,
        customer_transactions.last_purchase_date,
        {{ dbt.current_timestamp() }} as _refreshed_at
    from customer_transactions
    left join favorite_categories
        on customer_transactions.customer_id = favorite_categories.customer_id
)

select * from final

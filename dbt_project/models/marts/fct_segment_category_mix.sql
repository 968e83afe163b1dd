{#- Category mix per segment (business question 3): where each segment spends. -#}
with

transactions as (
    select * from {{ ref('stg_transactions') }}
    where customer_id is not null
),

customers as (
    select
        customer_id,
        customer_segment
    from {{ ref('fct_customer_metrics') }}
),

mix as (
    select
        customers.customer_segment,
        transactions.product_category,
        count(*) as transaction_count,
        count(distinct transactions.customer_id) as customer_count,
        sum(transactions.amount) as revenue
    from transactions
    inner join customers
        on transactions.customer_id = customers.customer_id
    group by customers.customer_segment, transactions.product_category
),

final as (
    select
        customer_segment,
        product_category,
        transaction_count,
        customer_count,
        revenue,
        {{ decimal_ratio('revenue', 'sum(revenue) over (partition by customer_segment)', input_scale=2) }}
            as share_of_segment_revenue
    from mix
)

select * from final

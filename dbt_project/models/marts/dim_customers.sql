{#-
    Every known customer — from transactions or events — with derived attributes, the
    segment, engagement from events and the repeat-customer flag.
-#}
with

customer_metrics as (
    select * from {{ ref('fct_customer_metrics') }}
),

customer_events as (
    select * from {{ ref('int_customer_events') }}
),

known_customers as (
    select customer_id from customer_metrics
    union
    select customer_id from customer_events
),

joined as (
    select
        known_customers.customer_id,
        customer_metrics.favorite_category,
        coalesce(customer_metrics.transaction_count, 0) as transaction_count,
        coalesce(customer_metrics.categories_purchased, 0) as categories_purchased,
        coalesce(customer_metrics.lifetime_value, cast(0 as decimal(18, 2))) as lifetime_value,
        customer_metrics.avg_order_value,
        customer_metrics.days_since_last_purchase,
        coalesce(customer_events.event_count, 0) as event_count,
        coalesce(customer_events.session_count, 0) as session_count,
        coalesce(customer_events.page_view_count, 0) as page_view_count,
        coalesce(customer_events.product_view_count, 0) as product_view_count,
        coalesce(customer_events.add_to_cart_count, 0) as add_to_cart_count,
        coalesce(customer_events.purchase_event_count, 0) as purchase_event_count,
        customer_metrics.first_purchase_date,
        customer_metrics.last_purchase_date,
        customer_events.first_event_at,
        customer_events.last_event_at
    from known_customers
    left join customer_metrics
        on known_customers.customer_id = customer_metrics.customer_id
    left join customer_events
        on known_customers.customer_id = customer_events.customer_id
),

final as (
    select
        customer_id,
        {{ customer_segment('lifetime_value') }} as customer_segment,
        favorite_category,
        case
            when session_count >= 5 then 'High'
            when session_count >= 2 then 'Medium'
            when session_count = 1 then 'Low'
            else 'None'
        end as engagement_level,
        case
            when transaction_count = 0 then 'Prospect'
            when days_since_last_purchase <= 30 then 'Active'
            when days_since_last_purchase <= 90 then 'At Risk'
            else 'Churned'
        end as recency_status,
        transaction_count,
        categories_purchased,
        lifetime_value,
        avg_order_value,
        event_count,
        session_count,
        page_view_count,
        product_view_count,
        add_to_cart_count,
        purchase_event_count,
        transaction_count > 0 as has_purchased,
        transaction_count >= 2 as is_repeat_customer,
        first_purchase_date,
        last_purchase_date,
        first_event_at,
        last_event_at,
        {{ dbt.current_timestamp() }} as _refreshed_at
    from joined
)

select * from final

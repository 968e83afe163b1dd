{#-
    Purchase behaviour by segment (business question 3): size, value, order value and
    frequency. Every segment has a row, empty ones with zeros.
-#}
with

customers as (
    select * from {{ ref('fct_customer_metrics') }}
),

segments as (
    {% for name in segment_names() %}
        select
            '{{ name }}' as customer_segment,
            {{ loop.index }} as segment_order
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

per_segment as (
    select
        customer_segment,
        count(*) as customer_count,
        cast(sum(transaction_count) as {{ dbt.type_bigint() }}) as transaction_count,
        sum(lifetime_value) as total_revenue,
        cast(sum(categories_purchased) as {{ dbt.type_bigint() }}) as categories_total
    from customers
    group by customer_segment
),

totals as (
    select
        count(*) as all_customers,
        sum(lifetime_value) as all_revenue
    from customers
),

final as (
    select
        segments.customer_segment,
        segments.segment_order,
        coalesce(per_segment.customer_count, 0) as customer_count,
        coalesce(per_segment.transaction_count, 0) as transaction_count,
        coalesce(per_segment.total_revenue, cast(0 as decimal(18, 2))) as total_revenue,
        case
            when per_segment.transaction_count > 0
                then {{ decimal_average('per_segment.total_revenue', 'per_segment.transaction_count') }}
        end as avg_order_value,
        case
            when per_segment.customer_count > 0
                then {{ decimal_average('per_segment.total_revenue', 'per_segment.customer_count', precision=38) }}
        end as avg_lifetime_value,
        cast(
            round(cast(per_segment.transaction_count as decimal(18, 6)) / per_segment.customer_count, 2)
            as decimal(10, 2)
        ) as avg_transactions_per_customer,
        cast(
            round(cast(per_segment.categories_total as decimal(18, 6)) / per_segment.customer_count, 2)
            as decimal(10, 2)
        ) as avg_categories_per_customer,
        cast(
            round(cast(coalesce(per_segment.customer_count, 0) as decimal(18, 6)) / nullif(totals.all_customers, 0), 4)
            as decimal(7, 4)
        ) as share_of_customers,
        cast(
            round(cast(coalesce(per_segment.total_revenue, 0) as decimal(38, 6)) / nullif(totals.all_revenue, 0), 4)
            as decimal(7, 4)
        ) as share_of_revenue
    from segments
    cross join totals
    left join per_segment
        on segments.customer_segment = per_segment.customer_segment
)

select * from final

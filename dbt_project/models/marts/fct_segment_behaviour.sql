{#-
    Purchase behaviour by segment (business question 3): size, value, order value and
    frequency. Every segment has a row, empty ones with zeros.
-#}
with

customers as (
    select
        metrics.*,
        purchases.priced_transaction_count
    from {{ ref('fct_customer_metrics') }} as metrics
    inner join {{ ref('int_customer_transactions') }} as purchases
        on metrics.customer_id = purchases.customer_id
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
        cast(sum(priced_transaction_count) as {{ dbt.type_bigint() }}) as priced_transaction_count,
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
            when per_segment.priced_transaction_count > 0
                then {{ decimal_average('per_segment.total_revenue', 'per_segment.priced_transaction_count') }}
        end as avg_order_value,
        case
            when per_segment.customer_count > 0
                then {{ decimal_average('per_segment.total_revenue', 'per_segment.customer_count', precision=38) }}
        end as avg_lifetime_value,
        {{ decimal_ratio('per_segment.transaction_count', 'per_segment.customer_count', scale=2, precision=10) }}
            as avg_transactions_per_customer,
        {{ decimal_ratio('per_segment.categories_total', 'per_segment.customer_count', scale=2, precision=10) }}
            as avg_categories_per_customer,
        {{ decimal_ratio('coalesce(per_segment.customer_count, 0)', 'totals.all_customers') }}
            as share_of_customers,
        {{ decimal_ratio('coalesce(per_segment.total_revenue, 0)', 'totals.all_revenue', input_scale=2) }}
            as share_of_revenue
    from segments
    cross join totals
    left join per_segment
        on segments.customer_segment = per_segment.customer_segment
)

select * from final

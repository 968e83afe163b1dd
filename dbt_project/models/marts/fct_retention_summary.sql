{#- The overall retention numbers as one row (business question 4). -#}
with

customers as (
    select * from {{ ref('fct_customer_metrics') }}
),

retention as (
    select * from {{ ref('fct_cohort_retention') }}
),

customer_counts as (
    select
        count(*) as purchasing_customers,
        count(case when transaction_count >= 2 then 1 end) as repeat_customers,
        count(case when days_since_last_purchase <= 90 then 1 end) as active_last_90_days
    from customers
),

next_month as (
    select
        cast(sum(cohort_size) as {{ dbt.type_bigint() }}) as customers_with_month_1,
        cast(sum(active_customers) as {{ dbt.type_bigint() }}) as retained_month_1
    from retention
    -- only cohorts whose month 1 is over: one that began yesterday would count as lost
    where months_since_first_purchase = 1 and is_complete_month
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        customer_counts.purchasing_customers,
        customer_counts.repeat_customers,
        customer_counts.active_last_90_days,
        {{ decimal_ratio('customer_counts.repeat_customers', 'customer_counts.purchasing_customers') }}
            as repeat_purchase_rate,
        coalesce(next_month.customers_with_month_1, 0) as customers_with_month_1,
        coalesce(next_month.retained_month_1, 0) as retained_month_1,
        {{ decimal_ratio('next_month.retained_month_1', 'next_month.customers_with_month_1') }}
            as month_1_retention_rate
    from customer_counts
    cross join next_month
)

select * from final

{#-
    Monthly cohort retention (business question 4). One row per cohort month and month
    since first purchase, from 0 up to the month of as_of_date, zeros included; the month
    of as_of_date is marked as not complete unless as_of_date is its last day.
-#}
with recursive

transactions as (
    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'transaction_date') }} as date) as activity_month
    from {{ ref('stg_transactions') }}
    where
        customer_id is not null
        and transaction_date is not null
        and transaction_date <= {{ as_of_date() }}
),

first_months as (
    select
        customer_id,
        min(activity_month) as cohort_month
    from transactions
    group by customer_id
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from first_months
    group by cohort_month
),

month_offsets (months_since_first_purchase) as (
    select 0
    union all
    select months_since_first_purchase + 1
    from month_offsets
    where months_since_first_purchase < (
        select
            {{ dbt.datediff(
                'min(cohort_month)',
                'cast(' ~ dbt.date_trunc('month', as_of_date()) ~ ' as date)',
                'month',
            ) }}
        from cohort_sizes
    )
),

activity as (
    select
        first_months.cohort_month,
        {{ dbt.datediff('first_months.cohort_month', 'transactions.activity_month', 'month') }}
            as months_since_first_purchase,
        count(distinct transactions.customer_id) as active_customers
    from transactions
    inner join first_months
        on transactions.customer_id = first_months.customer_id
    group by
        first_months.cohort_month,
        {{ dbt.datediff('first_months.cohort_month', 'transactions.activity_month', 'month') }}
),

grid as (
    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_size,
        month_offsets.months_since_first_purchase
    from cohort_sizes
    cross join month_offsets
    where
        {{ dbt.dateadd('month', 'month_offsets.months_since_first_purchase', 'cohort_sizes.cohort_month') }}
        <= {{ as_of_date() }}
),

final as (
    select
        grid.cohort_month,
        grid.months_since_first_purchase,
        cast({{ dbt.dateadd('month', 'grid.months_since_first_purchase', 'grid.cohort_month') }} as date)
            as activity_month,
        -- whether as_of_date has reached the activity month's last day: the month as of
        -- that date is still running, and its retention can only grow
        {{ dbt.dateadd(
            'day', -1,
            dbt.dateadd('month', 'grid.months_since_first_purchase + 1', 'grid.cohort_month'),
        ) }} <= {{ as_of_date() }} as is_complete_month,
        grid.cohort_size,
        {{ decimal_ratio('coalesce(activity.active_customers, 0)', 'grid.cohort_size') }}
            as retention_rate,
        coalesce(activity.active_customers, 0) as active_customers
    from grid
    left join activity
        on
            grid.cohort_month = activity.cohort_month
            and grid.months_since_first_purchase = activity.months_since_first_purchase
)

select * from final

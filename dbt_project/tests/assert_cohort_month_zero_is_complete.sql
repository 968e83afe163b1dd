-- In its own first month every cohort customer is active: month 0 retention is 100%,
-- and cohort sizes add up to the purchasing customers.
with

month_zero as (
    select * from {{ ref('fct_cohort_retention') }}
    where months_since_first_purchase = 0
),

sizes as (
    select sum(cohort_size) as cohort_customers from month_zero
),

purchasers as (
    select count(distinct customer_id) as purchasing_customers
    from {{ ref('stg_transactions') }}
    where
        customer_id is not null
        and transaction_date <= {{ as_of_date() }}
)

select
    'month 0 below 100%' as problem,
    cohort_month,
    active_customers,
    cohort_size
from month_zero
where active_customers != cohort_size
union all
select
    'cohort sizes do not add up' as problem,
    null as cohort_month,
    cast(sizes.cohort_customers as bigint) as active_customers,
    purchasers.purchasing_customers as cohort_size
from sizes
cross join purchasers
where coalesce(sizes.cohort_customers, 0) != purchasers.purchasing_customers

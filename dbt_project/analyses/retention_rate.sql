-- Business question 4: what is the customer retention rate? The repeat-purchase rate and
-- month-1 retention overall, with the cohort table behind them.
select
    'overall' as cohort_month,
    null as months_since_first_purchase,
    purchasing_customers as customers,
    repeat_customers as retained_customers,
    repeat_purchase_rate as rate,
    'repeat-purchase rate (2+ transactions)' as measure
from {{ ref('fct_retention_summary') }}
union all
select
    'overall',
    1,
    customers_with_month_1,
    retained_month_1,
    month_1_retention_rate,
    'month-1 retention'
from {{ ref('fct_retention_summary') }}
union all
select
    cast(cohort_month as varchar),
    months_since_first_purchase,
    cohort_size,
    active_customers,
    retention_rate,
    'cohort retention'
from {{ ref('fct_cohort_retention') }}
order by measure desc, cohort_month, months_since_first_purchase

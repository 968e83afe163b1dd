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
    'overall' as cohort_month,
    1 as months_since_first_purchase,
    customers_with_month_1 as customers,
    retained_month_1 as retained_customers,
    month_1_retention_rate as rate,
    'month-1 retention' as measure
from {{ ref('fct_retention_summary') }}
union all
select
    cast(cohort_month as varchar) as cohort_month,
    months_since_first_purchase,
    cohort_size as customers,
    active_customers as retained_customers,
    retention_rate as rate,
    case
        when is_complete_month then 'cohort retention'
        else 'cohort retention (month in progress)'
    end as measure
from {{ ref('fct_cohort_retention') }}
-- the two overall rates first, then each cohort's months in order (a month in
-- progress where it falls, not ahead of every complete one)
order by
    cohort_month = 'overall' desc,
    cohort_month asc,
    months_since_first_purchase asc nulls first

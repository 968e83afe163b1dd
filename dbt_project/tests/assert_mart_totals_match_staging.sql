-- Revenue and transaction counts agree across layers: staging = customer fact =
-- transaction fact = segment behaviour. Returns a row when any total differs.
with

staging as (
    select
        count(*) as transaction_count,
        sum(amount) as revenue
    from {{ ref('stg_transactions') }}
    where customer_id is not null
),

customer_fact as (
    select
        sum(transaction_count) as transaction_count,
        sum(lifetime_value) as revenue
    from {{ ref('fct_customer_metrics') }}
),

transaction_fact as (
    select
        count(*) as transaction_count,
        sum(amount) as revenue
    from {{ ref('fct_transactions') }}
    where customer_id is not null
),

segments as (
    select
        sum(transaction_count) as transaction_count,
        sum(total_revenue) as revenue
    from {{ ref('fct_segment_behaviour') }}
)

select
    staging.transaction_count as staging_transactions,
    staging.revenue as staging_revenue,
    customer_fact.revenue as customer_fact_revenue,
    transaction_fact.revenue as transaction_fact_revenue,
    segments.revenue as segment_revenue
from staging
cross join customer_fact
cross join transaction_fact
cross join segments
where
    staging.transaction_count != customer_fact.transaction_count
    or staging.transaction_count != transaction_fact.transaction_count
    or staging.transaction_count != segments.transaction_count
    or coalesce(staging.revenue, 0) != coalesce(customer_fact.revenue, 0)
    or coalesce(staging.revenue, 0) != coalesce(transaction_fact.revenue, 0)
    or coalesce(staging.revenue, 0) != coalesce(segments.revenue, 0)

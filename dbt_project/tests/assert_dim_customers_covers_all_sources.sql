-- dim_customers holds every customer seen in transactions or events, exactly once.
with

source_customers as (
    select customer_id from {{ ref('stg_transactions') }}
    where customer_id is not null
    union
    select customer_id from {{ ref('stg_events') }}
    where customer_id is not null
)

select source_customers.customer_id
from source_customers
left join {{ ref('dim_customers') }} as customers
    on source_customers.customer_id = customers.customer_id
where customers.customer_id is null

-- Business question 1: who are our most valuable customers? The top 5 by lifetime value
-- (ties broken by customer id so the answer is stable).
select
    customer_id,
    customer_segment,
    lifetime_value,
    transaction_count,
    avg_order_value,
    favorite_category
from {{ ref('fct_customer_metrics') }}
order by lifetime_value desc, customer_id asc
limit 5

-- Business question 3 (size): how many customers are in each segment and what is the total
-- value per segment? All three segments, empty ones included with zeros.
select
    customer_segment,
    customer_count,
    total_revenue,
    share_of_customers,
    share_of_revenue,
    avg_order_value,
    avg_transactions_per_customer
from {{ ref('fct_segment_behaviour') }}
order by segment_order

-- What is the most popular favourite category? Customers per favourite category, most
-- popular first (ties by category name).
select
    favorite_category,
    count(*) as customer_count,
    sum(lifetime_value) as lifetime_value
from {{ ref('fct_customer_metrics') }}
group by favorite_category
order by customer_count desc, favorite_category asc

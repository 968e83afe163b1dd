-- Every customer's segment agrees with the thresholds, checked independently of the
-- segmentation macro's CASE (only the validated threshold values are shared).
{% set thresholds = segment_thresholds() %}

with

customers as (
    select
        customer_id,
        lifetime_value,
        customer_segment
    from {{ ref('dim_customers') }}
),

expected as (
    select
        *,
        case
            when lifetime_value >= {{ thresholds.high }} then 'High Value'
            when lifetime_value < {{ thresholds.medium }} then 'Low Value'
            else 'Medium Value'
        end as expected_segment
    from customers
)

select *
from expected
where customer_segment != expected_segment

-- The incremental transaction fact equals a full refresh: the same transactions with the
-- same values as staging, none missing, none extra, none stale.
with

expected as (
    select
        transaction_id,
        customer_id,
        product_category,
        amount,
        transaction_date,
        _record_hash
    from {{ ref('stg_transactions') }}
    where transaction_id is not null
),

actual as (
    select
        transaction_id,
        customer_id,
        product_category,
        amount,
        transaction_date,
        _record_hash
    from {{ ref('fct_transactions') }}
),

missing as (
    select
        'missing from fct_transactions' as problem,
        *
    from (
        select * from expected
        except
        select * from actual
    ) as only_expected
),

extra as (
    select
        'not in staging' as problem,
        *
    from (
        select * from actual
        except
        select * from expected
    ) as only_actual
)

select * from missing
union all
select * from extra

-- The incremental transaction fact equals a full refresh: the same transactions with the
-- same values as staging, none missing, none extra, none stale.
--
-- One full outer join on every compared column (nulls equal) finds the rows on one side
-- only: the rows two EXCEPTs would, at about a third of the CPU on a million records.
with

expected as (
    select
        transaction_id,
        customer_id,
        product_category,
        amount,
        transaction_date,
        _record_hash,
        true as in_expected
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
        _record_hash,
        true as in_actual
    from {{ ref('fct_transactions') }}
),

unmatched as {{ cte_materialized() }} (
    select
        expected.transaction_id as expected_transaction_id,
        actual.transaction_id as actual_transaction_id,
        expected.customer_id as expected_customer_id,
        actual.customer_id as actual_customer_id,
        expected.product_category as expected_product_category,
        actual.product_category as actual_product_category,
        expected.amount as expected_amount,
        actual.amount as actual_amount,
        expected.transaction_date as expected_transaction_date,
        actual.transaction_date as actual_transaction_date,
        expected._record_hash as expected__record_hash,
        actual._record_hash as actual__record_hash,
        expected.in_expected,
        actual.in_actual
    from expected
    full outer join actual
        on
            expected.transaction_id = actual.transaction_id
            and expected.customer_id is not distinct from actual.customer_id
            and expected.product_category is not distinct from actual.product_category
            and expected.amount is not distinct from actual.amount
            and expected.transaction_date is not distinct from actual.transaction_date
            and expected._record_hash is not distinct from actual._record_hash
    where expected.in_expected is null or actual.in_actual is null
),

missing as (
    select distinct
        'missing from fct_transactions' as problem,
        expected_transaction_id as transaction_id,
        expected_customer_id as customer_id,
        expected_product_category as product_category,
        expected_amount as amount,
        expected_transaction_date as transaction_date,
        expected__record_hash as _record_hash
    from unmatched
    where in_actual is null
),

extra as (
    select distinct
        'not in staging' as problem,
        actual_transaction_id as transaction_id,
        actual_customer_id as customer_id,
        actual_product_category as product_category,
        actual_amount as amount,
        actual_transaction_date as transaction_date,
        actual__record_hash as _record_hash
    from unmatched
    where in_expected is null
)

select * from missing
union all
select * from extra

{#-
    decimal_ratio on values where DOUBLE arithmetic rounds the wrong way: 3 / 20000 is
    0.00015 exactly, half away from zero 0.0002 (through a DOUBLE, 0.0001). Returns every
    case whose result differs from the exact one. Constant SQL: it reads no data.
-#}
with

cases as (
    select
        'a rate on a tie' as case_name,
        {{ decimal_ratio('3', '20000') }} as result,
        cast(0.0002 as decimal(7, 4)) as expected
    union all
    select
        'a negative rate on a tie' as case_name,
        {{ decimal_ratio('-3', '20000') }} as result,
        cast(-0.0002 as decimal(7, 4)) as expected
    union all
    select
        'a negative denominator' as case_name,
        {{ decimal_ratio('3', '-20000') }} as result,
        cast(-0.0002 as decimal(7, 4)) as expected
    union all
    select
        'a per-customer average on a tie (2 places)' as case_name,
        {{ decimal_ratio('1', '8', scale=2, precision=10) }} as result,
        cast(0.13 as decimal(10, 2)) as expected
    union all
    select
        'a share of amounts on a tie' as case_name,
        {{ decimal_ratio(
            'cast(0.03 as decimal(38, 2))', 'cast(200.00 as decimal(38, 2))', input_scale=2
        ) }} as result,
        cast(0.0002 as decimal(7, 4)) as expected
    union all
    select
        'a share of large amounts' as case_name,
        {{ decimal_ratio(
            'cast(9999999999999999.99 as decimal(38, 2))',
            'cast(19999999999999999.98 as decimal(38, 2))',
            input_scale=2
        ) }} as result,
        cast(0.5000 as decimal(7, 4)) as expected
    union all
    select
        'a zero denominator' as case_name,
        {{ decimal_ratio('1', '0') }} as result,
        cast(null as decimal(7, 4)) as expected
)

select
    case_name,
    result,
    expected
from cases
where result is distinct from expected

-- Retention by cohort: the people who first opened the app on cohort_date, and the share of them
-- who opened it again exactly 1, 7 and 30 days later. A day not yet observed (cohort_date plus N
-- is after the last day in the data) is null, not zero.
{% set retention_days = [1, 7, 30] %}

with opens as (
    select distinct person_id, event_date
    from {{ ref('stg_app_opened') }}
),

cohorts as (
    select person_id, min(event_date) as cohort_date
    from opens
    group by person_id
),

returns as (
    select
        cohorts.cohort_date,
        cohorts.person_id,
        {{ dbt.datediff('cohorts.cohort_date', 'opens.event_date', 'day') }} as day_number
    from cohorts
    inner join opens on opens.person_id = cohorts.person_id
),

last_day as (
    select max(event_date) as last_observed_date
    from opens
)

select
    returns.cohort_date,
    count(distinct returns.person_id) as cohort_size,
    {%- for n in retention_days %}
    case
        when {{ dbt.datediff('returns.cohort_date', 'last_day.last_observed_date', 'day') }} >= {{ n }}
            then count(distinct case when returns.day_number = {{ n }} then returns.person_id end)
    end as retained_day_{{ n }},
    {%- endfor %}
    {%- for n in retention_days %}
    case
        when {{ dbt.datediff('returns.cohort_date', 'last_day.last_observed_date', 'day') }} >= {{ n }}
            then round(
                count(distinct case when returns.day_number = {{ n }} then returns.person_id end)
                / count(distinct returns.person_id),
                4
            )
    end as day_{{ n }}_retention{{ "," if not loop.last }}
    {%- endfor %}
from returns
cross join last_day
group by returns.cohort_date, last_day.last_observed_date

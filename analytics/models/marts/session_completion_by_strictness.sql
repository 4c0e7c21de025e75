-- Focus sessions per UTC day and strictness: how many ended, how many ran to their planned end,
-- and the minutes planned and actually focused.
select
    event_date as session_date,
    strictness,
    count(*) as sessions,
    cast(sum(case when outcome = 'completed' then 1 else 0 end) as {{ dbt.type_bigint() }})
        as completed_sessions,
    cast(sum(case when outcome = 'cancelled' then 1 else 0 end) as {{ dbt.type_bigint() }})
        as cancelled_sessions,
    round(sum(case when outcome = 'completed' then 1 else 0 end) / count(*), 4) as completion_rate,
    cast(sum(planned_minutes) as {{ dbt.type_bigint() }}) as planned_minutes,
    cast(sum(focused_minutes) as {{ dbt.type_bigint() }}) as focused_minutes
from {{ ref('stg_session_completed') }}
group by event_date, strictness

-- Minutes focused per UTC day (every session that ended that day, completed or not) over the
-- people active that day: the mean focus an active person gets from the app.
with focus as (
    select
        event_date,
        cast(sum(focused_minutes) as {{ dbt.type_bigint() }}) as focused_minutes,
        count(distinct person_id) as focusing_people
    from {{ ref('stg_session_completed') }}
    group by event_date
)

select
    active.activity_date,
    active.daily_active_people as active_people,
    coalesce(focus.focusing_people, 0) as focusing_people,
    coalesce(focus.focused_minutes, 0) as focused_minutes,
    round(coalesce(focus.focused_minutes, 0) / active.daily_active_people, 2)
        as focus_minutes_per_active_person
from {{ ref('active_people_daily') }} as active
left join focus on focus.event_date = active.activity_date

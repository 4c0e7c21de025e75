-- Emergency passes per ISO week (Monday to Sunday, UTC): passes used per active person, and the
-- share of active people who used at least one. The first and last weeks may be partial
-- (days_observed).
with active as (
    select
        {{ week_start('event_date') }} as week_start,
        count(distinct person_id) as active_people,
        count(distinct event_date) as days_observed
    from {{ ref('stg_app_opened') }}
    group by {{ week_start('event_date') }}
),

passes as (
    select
        {{ week_start('event_date') }} as week_start,
        count(*) as passes_used,
        count(distinct person_id) as people_using_passes
    from {{ ref('stg_emergency_pass_used') }}
    group by {{ week_start('event_date') }}
)

select
    active.week_start,
    active.days_observed,
    active.active_people,
    coalesce(passes.passes_used, 0) as passes_used,
    coalesce(passes.people_using_passes, 0) as people_using_passes,
    round(coalesce(passes.passes_used, 0) / active.active_people, 4) as passes_per_active_person,
    round(coalesce(passes.people_using_passes, 0) / active.active_people, 4)
        as share_of_active_people_using_passes
from active
left join passes on passes.week_start = active.week_start

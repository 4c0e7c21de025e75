-- Pro per ISO week (Monday, UTC): people who became Pro (an entitlement change to pro after none
-- or a lapsed one) and who lost it (a change from pro to not pro). A renewal (pro after pro) is
-- neither. Conversion is over the week's active people, churn over the Pro people at its start.
with changes as (
    select
        person_id,
        event_date,
        pro,
        lag(pro) over (partition by person_id order by event_time, event_id) as was_pro
    from {{ ref('stg_entitlement_changed') }}
    where pro is not null
),

transitions as (
    select
        {{ week_start('event_date') }} as week_start,
        person_id,
        case when pro and not coalesce(was_pro, false) then 1 else 0 end as became_pro,
        case when not pro and coalesce(was_pro, false) then 1 else 0 end as lost_pro
    from changes
),

weekly_transitions as (
    select
        week_start,
        count(distinct case when became_pro = 1 then person_id end) as people_becoming_pro,
        count(distinct case when lost_pro = 1 then person_id end) as people_losing_pro,
        cast(sum(became_pro) - sum(lost_pro) as {{ dbt.type_bigint() }}) as net_pro_change
    from transitions
    group by week_start
),

active as (
    select
        {{ week_start('event_date') }} as week_start,
        count(distinct person_id) as active_people
    from {{ ref('stg_app_opened') }}
    group by {{ week_start('event_date') }}
),

weeks as (
    select distinct week_start
    from (
        select week_start from active
        union all
        select week_start from weekly_transitions
    ) as both_weeks
),

pro_people as (
    select
        weeks.week_start,
        coalesce(active.active_people, 0) as active_people,
        coalesce(weekly_transitions.people_becoming_pro, 0) as people_becoming_pro,
        coalesce(weekly_transitions.people_losing_pro, 0) as people_losing_pro,
        cast(sum(coalesce(weekly_transitions.net_pro_change, 0)) over (
            order by weeks.week_start rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as pro_people_at_week_end,
        coalesce(weekly_transitions.net_pro_change, 0) as net_pro_change
    from weeks
    left join active on active.week_start = weeks.week_start
    left join weekly_transitions on weekly_transitions.week_start = weeks.week_start
)

select
    week_start,
    active_people,
    people_becoming_pro,
    people_losing_pro,
    pro_people_at_week_end - net_pro_change as pro_people_at_week_start,
    pro_people_at_week_end,
    case when active_people > 0 then round(people_becoming_pro / active_people, 4) end
        as conversion_rate,
    case
        when pro_people_at_week_end - net_pro_change > 0
            then round(people_losing_pro / (pro_people_at_week_end - net_pro_change), 4)
    end as churn_rate
from pro_people

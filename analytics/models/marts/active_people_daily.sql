-- Active people per UTC day: daily (opened the app that day), weekly (in the 7 days ending that
-- day) and monthly (in the 30 days ending that day). One row per day on which anyone opened the app.
with opens as (
    select distinct person_id, event_date
    from {{ ref('stg_app_opened') }}
),

days as (
    select distinct event_date as activity_date
    from opens
),

first_day as (
    select min(activity_date) as first_activity_date
    from days
)

select
    days.activity_date,
    count(distinct case when opens.event_date = days.activity_date then opens.person_id end)
        as daily_active_people,
    count(distinct case
        when {{ dbt.datediff('opens.event_date', 'days.activity_date', 'day') }} < 7
            then opens.person_id
    end) as weekly_active_people,
    count(distinct opens.person_id) as monthly_active_people,
    -- Whether all 30 days behind this one are in the data: earlier, WAU and MAU are partial.
    {{ dbt.datediff('first_day.first_activity_date', 'days.activity_date', 'day') }} >= 29
        as full_month_observed
from days
cross join first_day
inner join opens
    on opens.event_date <= days.activity_date
    and {{ dbt.datediff('opens.event_date', 'days.activity_date', 'day') }} < 30
group by days.activity_date, first_day.first_activity_date

-- A focus session ended: completed, or cancelled before its planned end.
select
    event_id,
    person_id,
    event_time,
    event_date,
    platform,
    {{ json_property('properties', 'strictness') }} as strictness,
    {{ json_property('properties', 'outcome') }} as outcome,
    {{ dbt.safe_cast(json_property('properties', 'planned_minutes'), dbt.type_int()) }} as planned_minutes,
    {{ dbt.safe_cast(json_property('properties', 'focused_minutes'), dbt.type_int()) }} as focused_minutes
from {{ ref('stg_events') }}
where event_name = 'session_completed'

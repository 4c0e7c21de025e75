-- A person used an emergency pass to leave a strict session early.
select
    event_id,
    person_id,
    event_time,
    event_date,
    platform
from {{ ref('stg_events') }}
where event_name = 'emergency_pass_used'

-- A person opened the app (the `launch` callable): what "active" means in every mart.
select
    event_id,
    person_id,
    event_time,
    event_date,
    platform,
    app_version
from {{ ref('stg_events') }}
where event_name = 'app_opened'

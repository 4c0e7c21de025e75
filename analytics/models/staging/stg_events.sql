-- One row per product event, typed. Delivery is at least once (a retried publish or a redelivered
-- message is a second row with the same event_id: the id is derived from the fact), so the first
-- row ingested of each event_id is kept.
with raw_events as (
    select *
    from {{ source('raw', 'events') }}
    where event_time >= cast('{{ var("events_from") }}' as {{ dbt.type_timestamp() }})
),

deliveries as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(event_name as {{ dbt.type_string() }}) as event_name,
        cast(schema_version as {{ dbt.type_int() }}) as schema_version,
        cast(event_time as {{ dbt.type_timestamp() }}) as event_time,
        cast(ingest_time as {{ dbt.type_timestamp() }}) as ingest_time,
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(app_version as {{ dbt.type_string() }}) as app_version,
        cast(platform as {{ dbt.type_string() }}) as platform,
        properties,
        row_number() over (
            partition by event_id order by ingest_time, event_time
        ) as delivery_number
    from raw_events
)

select
    event_id,
    event_name,
    schema_version,
    event_time,
    -- The UTC day the fact became true: every daily figure is per UTC day.
    cast(event_time as date) as event_date,
    ingest_time,
    person_id,
    app_version,
    platform,
    properties
from deliveries
where delivery_number = 1

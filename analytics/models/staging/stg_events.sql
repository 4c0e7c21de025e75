-- One row per product event, typed. Delivery is at least once (a retried publish or a redelivered
-- message is a second row with the same event_id: the id is derived from the fact), so the first
-- row ingested of each event_id is kept.
--
-- Incremental, so a daily run reads a few days of raw events instead of all of them: it reads the
-- run's day and the lookback_days before it (macros/incremental_window.sql) and replaces those
-- events by event_id. Every copy of an event has the same event_time (the fact's), so all its
-- deliveries fall in or out of the window together and the one kept is the one a full refresh
-- keeps. On BigQuery a merge whose target is pruned to the window's partitions (partitioned by
-- event_date, clustered like analytics.events); on DuckDB delete+insert.
{{ config(
    materialized='incremental',
    unique_key='event_id',
    on_schema_change='fail',
    incremental_strategy='merge' if target.type == 'bigquery' else 'delete+insert',
    incremental_predicates=(
        ['DBT_INTERNAL_DEST.event_date >= ' ~ incremental_window_start()]
        if target.type == 'bigquery' else none
    ),
    partition_by=(
        {'field': 'event_date', 'data_type': 'date', 'granularity': 'day'}
        if target.type == 'bigquery' else none
    ),
    partition_expiration_days=var('retention_days') if target.type == 'bigquery' else none,
    cluster_by=['event_name', 'person_id'] if target.type == 'bigquery' else none,
) }}

with raw_events as (
    select *
    from {{ source('raw', 'events') }}
    where event_time >= cast('{{ var("events_from") }}' as {{ dbt.type_timestamp() }})
    {%- if is_incremental() %}
        and event_time >= cast({{ incremental_window_start() }} as {{ dbt.type_timestamp() }})
    {%- endif %}
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

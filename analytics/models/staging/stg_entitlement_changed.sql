-- A person's Pro entitlement changed (a purchase, a renewal, an expiry, a refund ...). `pro` is the
-- entitlement after the change; the marts find conversions and churn by comparing consecutive ones.
select
    event_id,
    person_id,
    event_time,
    event_date,
    {{ dbt.safe_cast(json_property('properties', 'pro'), dbt.type_boolean()) }} as pro,
    {{ json_property('properties', 'store') }} as store,
    {{ json_property('properties', 'state') }} as state
from {{ ref('stg_events') }}
where event_name = 'entitlement_changed'

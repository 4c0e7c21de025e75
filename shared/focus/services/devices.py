"""Devices: ``users/{uid}/devices/{deviceId}``, registered by the app; the server keeps the cap."""

from __future__ import annotations

from datetime import datetime

from focus.adapters import clients, logs, paths, store, tracing
from focus.domain import devices as devices_domain

ALL_DEVICES = store.QuerySpec("devices of a person", paths.DEVICES)
# How many devices one run looks at when over the cap: bounds its reads even for an account that
# piled up devices before the cap existed (each further registration then trims more).
SCAN_LIMIT = 100


@tracing.traced("firestore.devices.enforce_cap")
def enforce_cap(uid: str, registering: str) -> list[str]:
    """After ``registering`` was created: remove the devices seen least recently while the person
    holds more than the cap (never ``registering``); the ids removed.

    A count aggregation per registration (one read); over the cap, a read of up to
    ``SCAN_LIMIT`` small device documents and one batch of deletes.
    """
    db = clients.firestore()
    profile_ref = db.document(paths.user(uid))
    held = store.count(ALL_DEVICES, profile_ref)
    if held <= devices_domain.MAX_DEVICES_PER_PERSON:
        return []
    snapshots = store.query(ALL_DEVICES, profile_ref, limit=SCAN_LIMIT)
    seen = [(snap.id, _last_seen(snap.to_dict())) for snap in snapshots]
    evicted = devices_domain.evictions(seen, registering)
    if evicted:
        batch = db.batch()
        out = store.writes(batch)
        for device_id in evicted:
            out.delete(profile_ref.collection(paths.DEVICES).document(device_id))
        batch.commit()
    logs.get_logger().warning(
        "devices over the cap removed",
        owner=logs.pseudonymous_user_id(uid),
        devices=held,
        cap=devices_domain.MAX_DEVICES_PER_PERSON,
        removed=len(evicted),
    )
    return evicted


def _last_seen(data: dict[str, object] | None) -> datetime | None:
    """A device's ``lastSeenAt``; None when it is missing or not a time (a device document is
    client-written: any junk just makes it the first to go)."""
    value = (data or {}).get("lastSeenAt")
    return value if isinstance(value, datetime) and value.tzinfo is not None else None

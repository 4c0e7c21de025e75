"""The profile's server-owned day boundary (``users/{uid}.dayBoundary``, focus.domain.local_days).

Settings are client-written; the record of which of them are in effect is not. The trigger on the
profile calls ``needs_observing`` on the event's data (no read) and, only when the settings ask for
something the record does not know yet, ``observe`` in a transaction.
"""

from __future__ import annotations

import contextlib
from typing import Any

from google.cloud import firestore as gcf
from pydantic import ValidationError

from focus.adapters import clients, logs, paths, store, tracing
from focus.domain.local_days import BoundaryRecord
from focus.domain.profiles import Profile
from focus.services import profiles, tolerant


def needs_observing(uid: str, data: dict[str, Any]) -> bool:
    """Whether a stored profile's settings ask for a boundary its record does not hold (or it has
    no record yet). Pure: most profile writes are the server's own and end here."""
    profile = profiles.read(uid, data)
    return (
        profile.day_boundary is None
        or profile.day_boundary.latest() != profile.settings.day_boundary()
    )


@tracing.traced("firestore.profiles.observe_day_boundary")
def observe(uid: str, before: dict[str, Any] | None) -> BoundaryRecord | None:
    """Record what the profile's settings ask for now; the record written, or None if nothing
    changed (or the profile is gone).

    The change is observed at the profile's last update time as read: never earlier than the
    settings change itself, so its effect is never brought forward. A profile without a record
    (created before it existed) starts from ``before``, the settings before this event's write.
    """
    db = clients.firestore()
    ref = db.document(paths.user(uid))

    def run(tx: gcf.Transaction) -> BoundaryRecord | None:
        snapshot = store.get(ref, tx)
        if not snapshot.exists:
            return None  # erased meanwhile: never re-create a profile
        profile = profiles.read(uid, snapshot.to_dict())
        record = profile.day_boundary or _first_record(uid, before, profile)
        observed = record.observe(profile.settings.day_boundary(), snapshot.update_time)
        if observed == profile.day_boundary:
            return None
        store.writes(tx).update(ref, {"dayBoundary": observed.to_firestore()})
        return observed

    return store.transactional(run, name="day_boundaries.observe")


def _first_record(uid: str, before: dict[str, Any] | None, now: Profile) -> BoundaryRecord:
    earlier = now
    if before is not None:
        with contextlib.suppress(ValidationError):  # unreadable: start from the current settings
            earlier = profiles.read(uid, before)
    return BoundaryRecord(in_effect=earlier.settings.day_boundary())


def profile_updated(uid: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """The profile changed (``before``/``after`` its data, None where it did not exist): if its
    settings now ask for another day boundary, record it as pending until the next local day.

    Most profile writes are the server's own (totals, streak, sync marker, this record): they
    end at ``needs_observing``, without a read."""
    if after is None:
        return
    run = tolerant.Isolation("on_profile_updated")
    with run.item("profile", uid, retry_others=True):
        if not needs_observing(uid, after):
            return
        if (record := observe(uid, before)) is not None:
            logs.get_logger().info(
                "day boundary change observed",
                pending=record.pending is not None,
                pendingFrom=record.pending_from.isoformat() if record.pending_from else None,
            )

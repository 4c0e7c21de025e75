"""Firestore triggers: server-owned results computed from what devices write.

Each function reads its event and calls one service (``focus.services``), where the rules live.
Firestore triggers are never retried: whatever can contend or fail is handed to a task there."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from firebase_functions import firestore_fn
from firebase_functions.core import Change
from google.cloud.firestore_v1 import DocumentSnapshot

from focus.adapters import logs
from focus.entrypoints.handlers import background, write_time
from focus.entrypoints.runtime import start_codebase
from focus.services import blocks, completions, day_boundaries, days, devices

start_codebase("triggers", cpu=1, memory=256, concurrency=20, max_instances=200)

DocumentChange = firestore_fn.Event[Change[DocumentSnapshot[Any] | None]]


def _data(snapshot: DocumentSnapshot[Any] | None) -> dict[str, Any] | None:
    """A document's data as the event carries it; None when it does not exist (deleted)."""
    return (snapshot.to_dict() or {}) if snapshot is not None and snapshot.exists else None


@firestore_fn.on_document_written(document="users/{uid}/sessions/{sessionId}")
@background("firestore")
def on_session_written(event: DocumentChange) -> None:
    """A device wrote one of its sessions: schedule its end, or hand its count to a task once it
    completed (``completions.session_written``)."""
    uid, session_id = event.params["uid"], event.params["sessionId"]
    logs.bind_user(uid)
    completions.session_written(
        uid,
        session_id,
        _data(event.data.after),
        write_time(event),
        datetime.now(UTC),
        before=_data(event.data.before),
    )


@firestore_fn.on_document_written(document="users/{uid}/blocks/{blockId}")
@background("firestore")
def on_block_written(event: DocumentChange) -> None:
    """A block changed on one device: move the sync marker the person's other devices watch and
    owe them a silent push. A new block over the per-person cap is removed (rules cannot count a
    collection)."""
    uid = event.params["uid"]
    logs.bind_user(uid)
    blocks.block_written(
        uid,
        event.params["blockId"],
        _data(event.data.before),
        _data(event.data.after),
        write_time(event),
        datetime.now(UTC),
    )


@firestore_fn.on_document_created(document="users/{uid}/devices/{deviceId}")
@background("firestore")
def on_device_created(event: firestore_fn.Event[DocumentSnapshot[Any] | None]) -> None:
    """A device registered: over the per-person cap, the devices seen least recently go (rules
    cannot count a collection; on creation only, so frequent lastSeenAt updates cost nothing)."""
    uid = event.params["uid"]
    logs.bind_user(uid)
    devices.enforce_cap(uid, event.params["deviceId"])


@firestore_fn.on_document_updated(document="users/{uid}")
@background("firestore")
def on_profile_updated(event: DocumentChange) -> None:
    """The profile changed: if its settings now ask for another day boundary (day-start hour,
    timezone, week start), record it as pending until the next local day (focus.domain.local_days;
    ``day_boundaries.profile_updated``)."""
    uid = event.params["uid"]
    logs.bind_user(uid)
    day_boundaries.profile_updated(uid, _data(event.data.before), _data(event.data.after))


@firestore_fn.on_document_created(document="users/{uid}/dayChanges/{changeId}")
@background("firestore")
def on_days_changed(event: firestore_fn.Event[DocumentSnapshot[Any] | None]) -> None:
    """An upload changed some days: hand the derivation to a retried task (Firestore triggers are
    never retried; ``days.hand_off``)."""
    uid, change_id = event.params["uid"], event.params["changeId"]
    logs.bind_user(uid)
    days.hand_off(uid, change_id, datetime.now(UTC))

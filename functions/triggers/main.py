"""Firestore triggers: server-owned results computed from what devices write."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from firebase_functions import firestore_fn
from firebase_functions.core import Change
from google.cloud.firestore_v1 import DocumentSnapshot

from focus.adapters import logs, messaging
from focus.domain.sessions import FocusSession, SessionStatus
from focus.entrypoints.handlers import background, write_time
from focus.entrypoints.runtime import start_codebase
from focus.services import blocks, day_boundaries, devices, tolerant

start_codebase("triggers", cpu=1, memory=256, concurrency=20, max_instances=200)

COMPLETE_SESSION_TASK = "completeSessionAtPlannedEnd"
COUNT_SESSION_TASK = "countCompletedSession"
DERIVE_DAYS_TASK = "deriveDays"
DocumentChange = firestore_fn.Event[Change[DocumentSnapshot[Any] | None]]


@firestore_fn.on_document_written(document="users/{uid}/sessions/{sessionId}")
@background("firestore")
def on_session_written(event: DocumentChange) -> None:
    """A device wrote one of its sessions: schedule its end, or hand its count to a task once it
    completed."""
    uid, session_id = event.params["uid"], event.params["sessionId"]
    logs.bind_user(uid)
    after = event.data.after
    if after is None or not after.exists:
        return
    data = after.to_dict() or {}
    if data.get("status") == SessionStatus.COMPLETED.value:
        if "result" not in data:  # not counted yet (our own write of the result fires this too)
            _hand_off_count(uid, session_id, write_time(event))
        return
    # A session no model accepts is a poison item: logged and counted, not a failed run (the
    # sweep and the planned-end task skip it the same way).
    run = tolerant.Isolation("on_session_written")
    with run.item("session", uid, session_id, retry_others=True):
        _session_written(uid, session_id, FocusSession.model_validate(data))


def _hand_off_count(uid: str, session_id: str, written: datetime) -> None:
    """Firestore triggers are never retried (the Python SDK deploys them with retry off), so the
    count, which contends on the person's profile, runs in a task the queue retries. This step is
    one enqueue, with nothing to contend on; one named task per session, so a redelivered event
    enqueues nothing. The session is not validated here: a malformed one reaches the task, which
    dead-letters it rather than dropping it. If this enqueue fails, the planned-end task and the
    sweep still count the session."""
    messaging.enqueue(
        COUNT_SESSION_TASK,
        {"userId": uid, "sessionId": session_id, "eventTime": written.isoformat()},
        at=datetime.now(UTC),
        task_id=messaging.task_id("count", uid, session_id),
    )


def _session_written(uid: str, session_id: str, session: FocusSession) -> None:
    if session.status is SessionStatus.ACTIVE:
        # Devices go offline or get uninstalled; the server still ends the session on time.
        messaging.enqueue(
            COMPLETE_SESSION_TASK,
            {"userId": uid, "sessionId": session_id},
            at=session.planned_end,
            task_id=messaging.task_id("complete", uid, session_id, session.planned_end.isoformat()),
        )


@firestore_fn.on_document_written(document="users/{uid}/blocks/{blockId}")
@background("firestore")
def on_block_written(event: DocumentChange) -> None:
    """A block changed on one device: move the sync marker the person's other devices watch.
    A new block over the per-person cap is removed (rules cannot count a collection)."""
    uid = event.params["uid"]
    logs.bind_user(uid)
    blocks.mark_changed(uid, write_time(event))
    before, after = event.data.before, event.data.after
    created = (before is None or not before.exists) and after is not None and after.exists
    if created:
        blocks.enforce_cap(uid, event.params["blockId"])


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
    timezone, week start), record it as pending until the next local day (focus.domain.local_days).

    Most profile writes are the server's own (totals, streak, sync marker, this record): they
    end at the comparison below, without a read."""
    uid = event.params["uid"]
    logs.bind_user(uid)
    before, after = event.data.before, event.data.after
    if after is None or not after.exists:
        return
    run = tolerant.Isolation("on_profile_updated")
    with run.item("profile", uid, retry_others=True):
        if not day_boundaries.needs_observing(uid, after.to_dict() or {}):
            return
        earlier = before.to_dict() if before is not None and before.exists else None
        if (record := day_boundaries.observe(uid, earlier)) is not None:
            logs.get_logger().info(
                "day boundary change observed",
                pending=record.pending is not None,
                pendingFrom=record.pending_from.isoformat() if record.pending_from else None,
            )


@firestore_fn.on_document_created(document="users/{uid}/dayChanges/{changeId}")
@background("firestore")
def on_days_changed(event: firestore_fn.Event[DocumentSnapshot[Any] | None]) -> None:
    """An upload changed some days: hand the derivation to a retried task (Firestore triggers are
    never retried). Cheap and contention-free; the task derives every pending change of the person
    at once, and the sweep covers a hand-off that failed here."""
    uid, change_id = event.params["uid"], event.params["changeId"]
    logs.bind_user(uid)
    messaging.enqueue(
        DERIVE_DAYS_TASK,
        {"userId": uid},
        at=datetime.now(UTC),
        task_id=messaging.task_id("derive-days", uid, change_id),
    )

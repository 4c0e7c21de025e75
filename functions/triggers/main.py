"""Firestore triggers: server-owned results computed from what devices write."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from firebase_functions import firestore_fn
from firebase_functions.core import Change
from google.cloud.firestore_v1 import DocumentSnapshot

from focus.domain.sessions import FocusSession, SessionStatus
from focus.platform import logs, messaging, tolerant
from focus.platform.handlers import background, write_time
from focus.platform.repositories import blocks, days, sessions
from focus.platform.repositories.days import only_derived_fields_changed
from focus.platform.runtime import start_codebase

start_codebase("triggers", cpu=1, memory=256, concurrency=20, max_instances=200)

COMPLETE_SESSION_TASK = "completeSessionAtPlannedEnd"
DocumentChange = firestore_fn.Event[Change[DocumentSnapshot[Any] | None]]


@firestore_fn.on_document_written(document="users/{uid}/sessions/{sessionId}")
@background("firestore")
def on_session_written(event: DocumentChange) -> None:
    """A device wrote one of its sessions: schedule its end, or count it once it completed."""
    uid, session_id = event.params["uid"], event.params["sessionId"]
    logs.bind_user(uid)
    after = event.data.after
    if after is None or not after.exists:
        return
    # A session no model accepts is a poison item: logged and counted, not a failed run (the
    # sweep and the planned-end task skip it the same way).
    run = tolerant.Isolation("on_session_written")
    with run.item("session", uid, session_id, retry_others=True):
        _session_written(uid, session_id, FocusSession.model_validate(after.to_dict()))


def _session_written(uid: str, session_id: str, session: FocusSession) -> None:
    if session.status is SessionStatus.ACTIVE:
        # Devices go offline or get uninstalled; the server still ends the session on time.
        messaging.enqueue(
            COMPLETE_SESSION_TASK,
            {"userId": uid, "sessionId": session_id},
            at=session.planned_end,
            task_id=messaging.task_id("complete", uid, session_id, session.planned_end.isoformat()),
        )
        return
    completed = sessions.count_completed(uid, session_id, datetime.now(UTC))
    if completed is not None:
        messaging.publish(completed)


@firestore_fn.on_document_written(document="users/{uid}/blocks/{blockId}")
@background("firestore")
def on_block_written(event: DocumentChange) -> None:
    """A block changed on one device: move the sync marker the person's other devices watch."""
    logs.bind_user(event.params["uid"])
    blocks.mark_changed(event.params["uid"], write_time(event))


@firestore_fn.on_document_written(document="users/{uid}/days/{day}")
@background("firestore")
def on_day_written(event: DocumentChange) -> None:
    """A day's merged totals changed: bring its streak, week, community count and milestones up
    to date (from the stored day, not the event, so duplicates and reordering change nothing)."""
    uid = event.params["uid"]
    logs.bind_user(uid)
    before, after = event.data.before, event.data.after
    if after is None or not after.exists:
        return
    if (
        before is not None
        and before.exists
        and only_derived_fields_changed(before.to_dict(), after.to_dict())
    ):
        return  # our own write of derived fields: nothing new to derive (saves five reads)
    changed = days.derive(uid, event.params["day"], datetime.now(UTC))
    logs.get_logger().info("day derived", **changed)

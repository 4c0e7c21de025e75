"""Every completed session is completed on time, counted once and added to hours saved once.

The path and its backstops (Firestore triggers are never retried, tasks and Pub/Sub are):

* ``session_written`` (trigger ``on_session_written``): an active session gets a task for its
  planned end; a completed, uncounted one is handed to the count task. One enqueue each, with
  nothing to contend on.
* ``count_for_task`` (task ``countCompletedSession``): counts it into its owner's totals
  (``sessions.ensure_counted``) and publishes the completion; retried by its queue, dead-lettered
  when it can never succeed.
* ``reach_planned_end`` (task ``completeSessionAtPlannedEnd``): completes a session no device
  completed (offline or uninstalled devices) and makes sure it was counted.
* ``sweep_uncounted`` (schedule ``sweep_uncounted_sessions``): whatever all of that missed.
* ``receive_completion`` (Pub/Sub ``on_session_completed``): adds the minutes to hours saved.

Counting, completing and adding are idempotent, so any of them may run twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from focus.adapters import logs, messaging
from focus.domain import workers
from focus.domain.analytics_events import completed_session
from focus.domain.events import SessionCompleted, UnreadableEvent, validation_summary
from focus.domain.notifications import MessageKind, SyncChange, SyncScope, still_worth_showing
from focus.domain.outbox import session_finished_entry_id as visible_entry_id_for_session
from focus.domain.sessions import FocusSession, SessionStatus, focused_minutes
from focus.domain.wires import Task
from focus.services import analytics, hours_saved, outbox, push_sync, sessions, tolerant


def session_written(
    uid: str,
    session_id: str,
    data: dict[str, Any] | None,
    written: datetime,
    now: datetime,
    *,
    before: dict[str, Any] | None = None,
) -> None:
    """A device wrote one of its sessions (``data``; None once deleted, ``written`` when): owe the
    person's other devices a silent sync when it started or changed, schedule its end, or hand
    its count to a task once it completed."""
    if data is None:
        return
    try:
        _schedule_end_or_count(uid, session_id, data, written, now)
    finally:
        _sync_other_devices(uid, before, data, written, now)
        _record_cancelled(uid, session_id, before, data)


def _record_cancelled(
    uid: str, session_id: str, before: dict[str, Any] | None, data: dict[str, Any]
) -> None:
    """A session that has just ended early (by the person, or the emergency pass) is a
    ``session_completed`` product event with the outcome ``cancelled``; a completed one is
    recorded when it is counted (``sessions.count_completed``). A redelivered trigger sees the
    same change and gives the same event id. Never raises (analytics)."""
    cancelled = SessionStatus.CANCELLED.value
    if data.get("status") != cancelled or (before or {}).get("status") == cancelled:
        return
    try:
        session = FocusSession.model_validate(data)
    except ValidationError:
        return  # a session no model accepts states nothing reliable
    analytics.record_all(uid, [completed_session(session_id, session, focused_minutes(session))])


def _sync_other_devices(
    uid: str, before: dict[str, Any] | None, data: dict[str, Any], written: datetime, now: datetime
) -> None:
    """Owe the person's other devices a silent sync when the session started or changed. Best
    effort, after the session's own scheduling (this trigger is not retried): a failure is
    logged, and the devices still re-read their sessions on launch."""
    if not _changed_for_devices(before, data):
        return
    made_by = data.get("updatedBy")
    change = SyncChange(
        what=SyncScope.SESSIONS,
        changed_at=written,
        changed_by=made_by if isinstance(made_by, str) else None,
    )
    try:
        outbox.hand_off_all(uid, push_sync.changed(uid, change, now))
    except Exception as exc:
        logs.get_logger().error("sync push not recorded", error=f"{type(exc).__name__}: {exc}")


def _schedule_end_or_count(
    uid: str, session_id: str, data: dict[str, Any], written: datetime, now: datetime
) -> None:
    if data.get("status") == SessionStatus.COMPLETED.value:
        if "result" not in data:  # not counted yet (our own write of the result fires this too)
            _hand_off_count(uid, session_id, written, now)
        return
    # A session no model accepts is a poison item: logged and counted, not a failed run (the
    # sweep and the planned-end task skip it the same way).
    run = tolerant.Isolation("on_session_written")
    with run.item("session", uid, session_id, retry_others=True):
        session = FocusSession.model_validate(data)
        if session.status is SessionStatus.ACTIVE:
            # Devices go offline or get uninstalled; the server still ends the session on time.
            messaging.enqueue(
                Task.COMPLETE_SESSION_AT_PLANNED_END,
                {"userId": uid, "sessionId": session_id},
                at=workers.planned_end_task_due(session.planned_end, f"{uid}/{session_id}", now),
                task_id=messaging.task_id(
                    "complete", uid, session_id, session.planned_end.isoformat()
                ),
            )


# What a device shows of a session; the server's ``result`` (its count) is not news to devices.
_SHOWN = ("status", "plannedStart", "plannedEnd", "breaks", "endedAt", "endReason", "strictness")


def _changed_for_devices(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    return before is None or any(before.get(field) != after.get(field) for field in _SHOWN)


def _hand_off_count(uid: str, session_id: str, written: datetime, now: datetime) -> None:
    """Firestore triggers are never retried (the Python SDK deploys them with retry off), so the
    count, which contends on the person's profile, runs in a task the queue retries. This step is
    one enqueue, with nothing to contend on; one named task per session, so a redelivered event
    enqueues nothing. The session is not validated here: a malformed one reaches the task, which
    dead-letters it rather than dropping it. If this enqueue fails, the planned-end task and the
    sweep still count the session."""
    messaging.enqueue(
        Task.COUNT_COMPLETED_SESSION,
        {"userId": uid, "sessionId": session_id, "eventTime": written.isoformat()},
        at=now,
        task_id=messaging.task_id("count", uid, session_id),
    )


def _hand_off_finished(uid: str, counted: list[SessionCompleted], now: datetime) -> None:
    """Send the "session finished" pushes the count recorded (``sessions.count_completed``); a
    republished completion hands off an entry already handed off: the same task id, a no-op."""
    for event in counted:
        if still_worth_showing(MessageKind.SESSION_FINISHED, event.completed_at, now):
            outbox.hand_off(uid, visible_entry_id_for_session(event.session_id), now)


class TaskNotDue(messaging.RetryLater):
    """The task arrived before its session's planned end: failing makes the queue retry it."""


def reach_planned_end(uid: str, session_id: str, now: datetime) -> None:
    """At a session's planned end, complete it if no device has, and make sure it was counted:
    this task is a backstop for a lost hand-off to the count task (both steps are idempotent).

    A task that arrives before the planned end (clock skew, a manual run; the Tasks emulator
    always) waits: it fails with ``TaskNotDue`` so the queue retries it with backoff, or, when the
    end is further away than those retries reach, re-enqueues itself once for the planned end. A
    session that stays active anyway is completed by ``sweep_uncounted``."""
    # A session no model accepts never becomes valid by retrying: it is logged and the task
    # ends; any other failure is raised, so Cloud Tasks retries it.
    run = tolerant.Isolation("completeSessionAtPlannedEnd")
    with run.item("session", uid, session_id, retry_others=True):
        found = sessions.at_planned_end(uid, session_id, now)
        if found.waits_until is not None:
            _wait_for(uid, session_id, found.waits_until, now)
            return
        if found.settled:  # ended, and counted (or never to count): the usual case
            logs.get_logger().info("planned end reached", completedByServer=False, published=0)
            return
        completed = sessions.complete_if_due(uid, session_id, now)
        pending = sessions.ensure_counted(uid, session_id, now)
    if run.poison:
        return
    for event in pending:
        messaging.publish(event)  # the worker adds it to hours saved once, whoever publishes
    _hand_off_finished(uid, pending, now)
    logs.get_logger().info(
        "planned end reached", completedByServer=completed, published=len(pending)
    )


def _wait_for(uid: str, session_id: str, planned_end: datetime, now: datetime) -> None:
    early = planned_end - now
    log = logs.get_logger()
    if workers.defers_early_task(planned_end, now):
        # One deferred task per planned end (a deterministic id): if it exists already, this is
        # that task arriving early again (the Tasks emulator dispatches at once), and it must not
        # re-enqueue itself in a loop: it waits by failing like a nearly-due task.
        deferred = messaging.enqueue(
            Task.COMPLETE_SESSION_AT_PLANNED_END,
            {"userId": uid, "sessionId": session_id},
            at=workers.planned_end_task_due(planned_end, f"{uid}/{session_id}", now),
            task_id=messaging.task_id(
                "complete", uid, session_id, planned_end.isoformat(), "deferred"
            ),
        )
        if deferred:
            log.info("task early: deferred", earlySeconds=round(early.total_seconds()))
            return
    log.info("task early: retrying", earlySeconds=round(early.total_seconds()))
    raise TaskNotDue(f"due in {round(early.total_seconds())} s")


def count_for_task(
    uid: str, session_id: str, data: Mapping[str, Any], attempt: int, now: datetime
) -> None:
    """Count a completed session into its owner's totals and publish its completion, once
    (``data`` is the task's payload, ``attempt`` its delivery attempt from 1).

    Idempotent: the session's ``result`` marks it counted, and a duplicate only republishes a
    completion that never reached hours saved. A session no model accepts, or a count failing
    past ``workers.COUNT_MAX_EVENT_AGE``, is dead-lettered (replayed with
    ``scripts/dead-letters replay countCompletedSession``); any other failure is raised, so the
    queue retries it."""
    try:
        pending = sessions.ensure_counted(uid, session_id, now)
        for event in pending:
            messaging.publish(event)  # a lost publish fails the task: the retry republishes
        _hand_off_finished(uid, pending, now)
    except ValidationError as exc:
        _count_dead_letter(data, "poisonDocument", validation_summary(exc))
        return
    except Exception as exc:
        if workers.retries_count(workers.task_event_time(data, now), attempt, now):
            raise  # the queue retries it with backoff
        _count_dead_letter(data, "tooOld", f"{type(exc).__name__}: {exc}"[:500])
        return
    logs.get_logger().info("session counted", published=len(pending))


def _count_dead_letter(data: Mapping[str, Any], reason: str, error: str) -> None:
    messaging.dead_letter(
        Task.COUNT_COMPLETED_SESSION,
        json.dumps(dict(data)).encode(),
        kind="task",
        reason=reason,
        error=error,
        function="countCompletedSession",
    )


def sweep_uncounted(now: datetime) -> None:
    """Count sessions whose hand-off and backstops failed, e.g. ones an offline device wrote
    already completed, and complete active sessions whose planned-end task never did
    (``workers.uncounted_window``, ``workers.overdue_window``). Counting and completing are
    idempotent.

    Each session is its own item: a malformed one (a junk break, say) is logged as a poison
    item, counted and skipped, and any other failure of one item is logged and skipped too, so
    one person's document never stops the run for everyone else. A session planted with an
    ``endedAt`` far ahead only enters the window when that time comes, and is isolated then."""
    repaired = completed = 0
    run = tolerant.Isolation("sweep_uncounted_sessions")
    overdue, uncounted = workers.overdue_window(now), workers.uncounted_window(now)
    for uid, session_id in sessions.overdue_active(overdue.since, overdue.until):
        with run.item("session", uid, session_id):
            completed += sessions.complete_if_due(uid, session_id, now)
            # Counted in the next loop when it ended within the window; here otherwise.
            pending = sessions.ensure_counted(uid, session_id, now)
            for completion in pending:
                messaging.publish(completion)
                repaired += 1
    for uid, session_id in sessions.needing_count(uncounted.since, uncounted.until):
        with run.item("session", uid, session_id):
            pending = sessions.ensure_counted(uid, session_id, now)
            for completion in pending:
                messaging.publish(completion)
                repaired += 1
    logs.get_logger().info(
        "uncounted sessions swept", repaired=repaired, completed=completed, **run.counts()
    )


def receive_completion(raw: bytes, attributes: dict[str, str], now: datetime) -> None:
    """Add a completed session's minutes (``raw``, a ``SessionCompleted`` message's data) to the
    global hours-saved counter, once per session."""
    try:
        completed = SessionCompleted.read(raw)
    except UnreadableEvent as exc:
        # Retrying never makes it readable, and acknowledging it would lose the fact: it is kept
        # with the error for a replay after the fix (scripts/dead-letters), and counted.
        messaging.dead_letter(
            SessionCompleted.topic,
            raw,
            kind="pubsub",
            reason=exc.reason,
            error=exc.error,
            function="on_session_completed",
            attributes=attributes,
        )
        return
    logs.bind_user(completed.user_id)
    # Anything failing from here (a malformed stored session, an outage) raises: Pub/Sub retries
    # the delivery and, after the last attempt, moves it to the dead letters itself.
    added = hours_saved.add_session(completed, now)
    logs.get_logger().info(
        "hours saved contribution", added=added, minutes=completed.focused_minutes
    )

"""Workers: Pub/Sub consumers, task-queue functions and scheduled jobs."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from firebase_functions import options, pubsub_fn, scheduler_fn, tasks_fn
from firebase_functions.core import CloudEvent
from firebase_functions.https_fn import CallableRequest
from firebase_functions.options import Timezone
from pydantic import ValidationError

from focus.adapters import logs, messaging
from focus.domain.events import SessionCompleted, UnreadableEvent, validation_summary
from focus.domain.sessions import COUNTED_MEMORY
from focus.entrypoints.handlers import background
from focus.entrypoints.runtime import start_codebase, task_rate_limits
from focus.services import community, days, hours_saved, sessions, tolerant
from focus.services.privacy import erasure, export

SWEEP_WINDOW = timedelta(minutes=50)
SWEEP_GRACE = timedelta(minutes=15)

start_codebase("jobs", cpu=1, memory=256, concurrency=20, max_instances=100)


@pubsub_fn.on_message_published(topic=SessionCompleted.topic, retry=True)
@background("pubsub")
def on_session_completed(event: CloudEvent[pubsub_fn.MessagePublishedData[object]]) -> None:
    """Add a completed session's minutes to the global hours-saved counter (once per session)."""
    message = event.data.message
    raw = base64.b64decode(message.data or "")
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
            attributes=dict(message.attributes or {}),
        )
        return
    logs.bind_user(completed.user_id)
    # Anything failing from here (a malformed stored session, an outage) raises: Pub/Sub retries
    # the delivery and, after the last attempt, moves it to the dead letters itself.
    added = hours_saved.add_session(completed, datetime.now(UTC))
    logs.get_logger().info(
        "hours saved contribution", added=added, minutes=completed.focused_minutes
    )


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=10, min_backoff_seconds=10, max_backoff_seconds=300, max_doublings=4
    ),
    rate_limits=task_rate_limits(50),
)
@background("task")
def completeSessionAtPlannedEnd(request: CallableRequest[dict[str, str]]) -> None:
    """At a session's planned end, complete it if no device has (offline or uninstalled devices),
    and make sure it was counted: Firestore triggers are never retried, so this task is a
    backstop for a lost hand-off to countCompletedSession (both steps are idempotent).

    A task that arrives before the planned end (clock skew, a manual run; the Tasks emulator
    always) waits: it fails with ``TaskNotDue`` so the queue retries it with backoff, or, when the
    end is further away than those retries reach, re-enqueues itself once for the planned end. A
    session that stays active anyway is completed by ``sweep_uncounted_sessions``."""
    uid, session_id = request.data["userId"], request.data["sessionId"]
    logs.bind_user(uid)
    now = datetime.now(UTC)
    # A session no model accepts never becomes valid by retrying: it is logged and the task
    # ends; any other failure is raised, so Cloud Tasks retries it.
    run = tolerant.Isolation("completeSessionAtPlannedEnd")
    with run.item("session", uid, session_id, retry_others=True):
        planned_end = sessions.not_yet_due(uid, session_id, now)
        if planned_end is not None:
            _wait_for(planned_end, request.data, now)
            return
        completed = sessions.complete_if_due(uid, session_id, now)
        pending = sessions.ensure_counted(uid, session_id, now)
    if run.poison:
        return
    for event in pending:
        messaging.publish(event)  # the worker adds it to hours saved once, whoever publishes
    logs.get_logger().info(
        "planned end reached", completedByServer=completed, published=len(pending)
    )


class TaskNotDue(Exception):
    """The task arrived before its session's planned end: failing makes the queue retry it."""


# How far ahead of the planned end an early task still waits by failing: the queue's backoff for
# completeSessionAtPlannedEnd (10 s doubling 4 times to 160 s, then 300 s; 10 attempts) spans
# about 25 minutes. Earlier than this, the task re-enqueues itself for the planned end instead.
EARLY_RETRY_REACH = timedelta(minutes=20)


def _wait_for(planned_end: datetime, data: dict[str, str], now: datetime) -> None:
    early = planned_end - now
    log = logs.get_logger()
    if early > EARLY_RETRY_REACH:
        # One deferred task per planned end (a deterministic id): if it exists already, this is
        # that task arriving early again (the Tasks emulator dispatches at once), and it must not
        # re-enqueue itself in a loop: it waits by failing like a nearly-due task.
        deferred = messaging.enqueue(
            "completeSessionAtPlannedEnd",
            {"userId": data["userId"], "sessionId": data["sessionId"]},
            at=planned_end,
            task_id=messaging.task_id(
                "complete", data["userId"], data["sessionId"], planned_end.isoformat(), "deferred"
            ),
        )
        if deferred:
            log.info("task early: deferred", earlySeconds=round(early.total_seconds()))
            return
    log.info("task early: retrying", earlySeconds=round(early.total_seconds()))
    raise TaskNotDue(f"due in {round(early.total_seconds())} s")


@scheduler_fn.on_schedule(schedule="every 5 minutes", timezone=Timezone("UTC"))
@background("schedule")
def roll_up_hours_saved(event: scheduler_fn.ScheduledEvent) -> None:
    """Sum the hours-saved shards into the one document every app launch reads."""
    if event.job_name is None:
        # The worker's start-up health probe runs schedule bodies once with no scheduler headers.
        return
    summary = hours_saved.roll_up(datetime.now(UTC))
    logs.get_logger().info(
        "hours saved rolled up", totalMinutes=summary.total_minutes, shards=summary.shards_read
    )


@scheduler_fn.on_schedule(schedule="every 30 minutes", timezone=Timezone("UTC"))
@background("schedule")
def sweep_uncounted_sessions(event: scheduler_fn.ScheduledEvent) -> None:
    """Count sessions whose hand-off and backstops failed, e.g. ones an offline device wrote
    already completed, and complete active sessions whose planned-end task never did. The window
    of completed sessions overlaps the previous run's by five minutes and leaves the last fifteen
    to the tasks; active sessions past their planned end are looked at back to the counted-focus
    memory (48 h), so overlap with sessions counted earlier is still excluded. Counting and
    completing are idempotent.

    Each session is its own item: a malformed one (a junk break, say) is logged as a poison
    item, counted and skipped, and any other failure of one item is logged and skipped too, so
    one person's document never stops the run for everyone else. A session planted with an
    ``endedAt`` far ahead only enters the window when that time comes, and is isolated then."""
    if event.job_name is None:
        return  # the worker's start-up health probe, not Cloud Scheduler
    now = datetime.now(UTC)
    repaired = completed = 0
    run = tolerant.Isolation("sweep_uncounted_sessions")
    for uid, session_id in sessions.overdue_active(now - COUNTED_MEMORY, now - SWEEP_GRACE):
        with run.item("session", uid, session_id):
            completed += sessions.complete_if_due(uid, session_id, now)
            # Counted in the next loop when it ended within the window; here otherwise.
            pending = sessions.ensure_counted(uid, session_id, now)
            for completion in pending:
                messaging.publish(completion)
                repaired += 1
    for uid, session_id in sessions.needing_count(now - SWEEP_WINDOW, now - SWEEP_GRACE):
        with run.item("session", uid, session_id):
            pending = sessions.ensure_counted(uid, session_id, now)
            for completion in pending:
                messaging.publish(completion)
                repaired += 1
    logs.get_logger().info(
        "uncounted sessions swept", repaired=repaired, completed=completed, **run.counts()
    )


# A count still failing this long after its session completed will not succeed by retrying (a
# bug, a long outage): it goes to the dead letters for a person to look at, instead of retrying
# for days (docs/runbooks/dead-letters.md). The queue's attempts outlast it (5 s doubling 4 times
# to 80 s, then 300 s: 100 attempts take over 8 hours), so this limit is what ends the retries;
# the attempt count only matters if the limit is raised past it.
COUNT_MAX_EVENT_AGE = timedelta(hours=6)
COUNT_MAX_ATTEMPTS = 100


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=100, min_backoff_seconds=5, max_backoff_seconds=300, max_doublings=4
    ),
    rate_limits=task_rate_limits(100),
)
@background("task")
def countCompletedSession(request: CallableRequest[dict[str, str]]) -> None:
    """Count a completed session into its owner's totals and publish its completion, once.

    ``on_session_written`` hands every completed, uncounted session here (a named task per
    session): Firestore triggers are never retried, this queue is, so contention on the person's
    profile or an outage delays the count instead of losing it. Idempotent: the session's
    ``result`` marks it counted, and a duplicate only republishes a completion that never reached
    hours saved. A session no model accepts, or a count failing past ``COUNT_MAX_EVENT_AGE``, is
    dead-lettered (replayed with ``scripts/dead-letters replay countCompletedSession``)."""
    uid, session_id = request.data["userId"], request.data["sessionId"]
    logs.bind_user(uid)
    now = datetime.now(UTC)
    try:
        pending = sessions.ensure_counted(uid, session_id, now)
        for event in pending:
            messaging.publish(event)  # a lost publish fails the task: the retry republishes
    except ValidationError as exc:
        _count_dead_letter(request, "poisonDocument", validation_summary(exc))
        return
    except Exception as exc:
        age = now - _task_event_time(request.data, now)
        attempt = int(request.raw_request.headers.get("X-CloudTasks-TaskRetryCount") or 0) + 1
        if age < COUNT_MAX_EVENT_AGE and attempt < COUNT_MAX_ATTEMPTS:
            raise  # the queue retries it with backoff
        _count_dead_letter(request, "tooOld", f"{type(exc).__name__}: {exc}"[:500])
        return
    logs.get_logger().info("session counted", published=len(pending))


def _task_event_time(data: dict[str, str], now: datetime) -> datetime:
    """When the fact behind a task happened (``eventTime``, the trigger's event time): retries
    are bounded by its age. A task without one (dispatched by hand) is as old as now."""
    try:
        moment = datetime.fromisoformat(data["eventTime"])
    except (KeyError, TypeError, ValueError):
        return now
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count_dead_letter(request: CallableRequest[dict[str, str]], reason: str, error: str) -> None:
    messaging.dead_letter(
        "countCompletedSession",
        json.dumps(request.data).encode(),
        kind="task",
        reason=reason,
        error=error,
        function="countCompletedSession",
    )


@scheduler_fn.on_schedule(schedule="every 10 minutes", timezone=Timezone("UTC"))
@background("schedule")
def roll_up_community(event: scheduler_fn.ScheduledEvent) -> None:
    """Sum the community histogram shards of the local days in progress into their summaries."""
    if event.job_name is None:
        return  # the worker's start-up health probe, not Cloud Scheduler
    now = datetime.now(UTC)
    # Local days in progress somewhere on Earth: UTC yesterday, today and tomorrow.
    for offset in (-1, 0, 1):
        local_day = (now + timedelta(days=offset)).date().isoformat()
        summary = community.roll_up(local_day, now)
        logs.get_logger().info("community rolled up", day=local_day, people=summary.people)


ERASE_STEP_BUDGET_SECONDS = 30.0


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=20, min_backoff_seconds=5, max_backoff_seconds=300
    ),
    rate_limits=task_rate_limits(20),
)
@background("task")
def eraseAccount(request: CallableRequest[dict[str, Any]]) -> None:
    """Erase an account in resumable steps; re-enqueues itself until nothing is left.

    ``attempt`` numbers restarts of a stalled erasure (``erasure.request``); ``sweepUserId``
    marks the sweep an hour after the erasure (documents written meanwhile with a still-valid
    token). ``batchSize`` and ``chain`` exist so tests can interrupt an erasure half-way."""
    erasure_id = str(request.data["erasureId"])
    sweep_uid = request.data.get("sweepUserId")
    batch_size = int(request.data.get("batchSize", erasure.MAX_BATCH))
    chain = bool(request.data.get("chain", True))
    deadline = time.monotonic() + ERASE_STEP_BUDGET_SECONDS
    attempt = int(request.data.get("attempt", 0))
    step = int(request.data.get("step", 0))

    def steps(holder: str | None) -> bool:
        """Run steps until the erasure is done (True) or the budget is spent (False)."""
        nonlocal step
        while True:
            result = erasure.run_step(
                erasure_id,
                datetime.now(UTC),
                batch_size,
                holder=holder,
                sweep_uid=str(sweep_uid) if sweep_uid is not None else None,
            )
            step += 1
            if result.done or not chain:
                return True
            if time.monotonic() > deadline:
                return False

    if sweep_uid is not None:
        finished = steps(None)  # each sweep batch is one counting transaction: no lease needed
    else:
        # A duplicate delivery running at the same moment raises LeaseHeld here: the queue
        # retries it later, when the erasure is finished (no-op) or the holder's lease expired.
        with erasure.leased(erasure_id, datetime.now(UTC)) as holder:
            if holder is None:
                return  # finished earlier: a redelivered task does nothing
            finished = steps(holder)
    if finished:
        return
    # Enqueued after the lease is released, so the follow-up does not wait for it to expire.
    follow_up: dict[str, Any] = {"erasureId": erasure_id, "batchSize": batch_size, "step": step}
    if sweep_uid is not None:
        follow_up["sweepUserId"] = str(sweep_uid)
    if attempt:
        follow_up["attempt"] = attempt
    # Ids unique per attempt and phase: a restart never collides with its predecessor.
    parts = [str(step)] if not attempt else ["attempt", str(attempt), str(step)]
    messaging.enqueue(
        "eraseAccount",
        follow_up,
        at=datetime.now(UTC),
        task_id=messaging.task_id(
            "erase", erasure_id, *(["sweep"] if sweep_uid is not None else []), *parts
        ),
    )


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=5, min_backoff_seconds=30, max_backoff_seconds=300
    ),
    rate_limits=task_rate_limits(10),
)
@background("task")
def buildExport(request: CallableRequest[dict[str, str]]) -> None:
    """Gather everything the registry marks exportable into the person's export bundle, one
    bounded step per invocation: the rest goes back to the end of the queue, so other people's
    exports run between the steps of a large one (``focus.services.privacy.export``)."""
    uid, export_id = request.data["userId"], request.data["exportId"]
    logs.bind_user(uid)
    now = datetime.now(UTC)
    step = export.build_step(uid, export_id, now)
    if not step.done:
        messaging.enqueue(
            "buildExport",
            {"userId": uid, "exportId": export_id},
            at=now,
            task_id=messaging.task_id("export", uid, export_id, str(step.steps)),
        )
    logs.get_logger().info("export step", done=step.done, chunks=step.chunks, steps=step.steps)


@scheduler_fn.on_schedule(schedule="every 60 minutes", timezone=Timezone("UTC"))
@background("schedule")
def check_open_erasures(event: scheduler_fn.ScheduledEvent) -> None:
    """The erasure SLO's measure and backstop: log every open erasure's age, restart stalled
    ones (``erasure.check_open``); ``erasures checked`` proves the check runs (an alert fires if
    it stops, docs/runbooks/erasure-overdue.md)."""
    if event.job_name is None:
        return  # the worker's start-up health probe, not Cloud Scheduler
    found, counts = erasure.check_open(datetime.now(UTC))
    logs.get_logger().info(
        "erasures checked",
        open=len(found),
        overdue=sum(e.age > erasure.SLO for e in found),
        restarted=sum(e.restarted for e in found),
        **counts,
    )


DAY_CHANGES_GRACE = timedelta(minutes=5)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=10, min_backoff_seconds=5, max_backoff_seconds=300
    ),
    rate_limits=task_rate_limits(100),
)
@background("task")
def deriveDays(request: CallableRequest[dict[str, str]]) -> None:
    """Derive what a person's uploaded days imply (streaks, weeks, community, milestones): every
    pending change at once. Retried by the queue on failure (contention included); change
    documents left after the last attempt are the sweep's."""
    uid = request.data["userId"]
    logs.bind_user(uid)
    run = tolerant.Isolation("deriveDays")
    with run.item("days", uid, "pending", retry_others=True):
        derived = days.derive_pending(uid, datetime.now(UTC))
        logs.get_logger().info("days derived", **derived)


@scheduler_fn.on_schedule(schedule="every 10 minutes", timezone=Timezone("UTC"))
@background("schedule")
def sweep_day_changes(event: scheduler_fn.ScheduledEvent) -> None:
    """Derive day changes a failed trigger run or task left behind (older than five minutes):
    each person is an item, so one person's malformed day never stops the others."""
    if event.job_name is None:
        return  # the worker's start-up health probe, not Cloud Scheduler
    now = datetime.now(UTC)
    run = tolerant.Isolation("sweep_day_changes")
    repaired = 0
    for uid in days.left_behind(now - DAY_CHANGES_GRACE):
        with run.item("days", uid, "pending"):
            repaired += days.derive_pending(uid, now)["changes"]
    logs.get_logger().info("day changes swept", repaired=repaired, **run.counts())

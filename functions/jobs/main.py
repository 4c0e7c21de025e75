"""Workers: Pub/Sub consumers, task-queue functions and scheduled jobs."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from firebase_functions import options, pubsub_fn, scheduler_fn, tasks_fn
from firebase_functions.core import CloudEvent
from firebase_functions.https_fn import CallableRequest
from firebase_functions.options import Timezone
from pydantic import ValidationError

from focus.domain.events import SessionCompleted
from focus.platform import erasure, export, logs, messaging, tolerant
from focus.platform.handlers import background
from focus.platform.repositories import community, hours_saved, sessions
from focus.platform.runtime import start_codebase

SWEEP_WINDOW = timedelta(minutes=50)
SWEEP_GRACE = timedelta(minutes=15)

start_codebase("jobs", cpu=1, memory=256, concurrency=20, max_instances=100)


@pubsub_fn.on_message_published(topic=SessionCompleted.topic, retry=True)
@background("pubsub")
def on_session_completed(event: CloudEvent[pubsub_fn.MessagePublishedData[object]]) -> None:
    """Add a completed session's minutes to the global hours-saved counter (once per session)."""
    try:
        completed = SessionCompleted.model_validate_json(base64.b64decode(event.data.message.data))
    except (ValueError, ValidationError):
        # A malformed message never becomes valid: retrying it would only block the subscription.
        logs.get_logger().error(
            "malformed message dropped", messageId=event.data.message.message_id
        )
        return
    logs.bind_user(completed.user_id)
    added = hours_saved.add_session(completed, datetime.now(UTC))
    logs.get_logger().info(
        "hours saved contribution", added=added, minutes=completed.focused_minutes
    )


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=5, min_backoff_seconds=10, max_backoff_seconds=300
    ),
    rate_limits=options.RateLimits(max_concurrent_dispatches=50),
)
@background("task")
def completeSessionAtPlannedEnd(request: CallableRequest[dict[str, str]]) -> None:
    """At a session's planned end, complete it if no device has (offline or uninstalled devices),
    and make sure it was counted: Firestore triggers are never retried, so this task is the
    backstop for a trigger run that failed (both steps are idempotent)."""
    uid, session_id = request.data["userId"], request.data["sessionId"]
    logs.bind_user(uid)
    now = datetime.now(UTC)
    # A session no model accepts never becomes valid by retrying: it is logged and the task
    # ends; any other failure is raised, so Cloud Tasks retries it.
    run = tolerant.Isolation("completeSessionAtPlannedEnd")
    with run.item("session", uid, session_id, retry_others=True):
        completed = sessions.complete_if_due(uid, session_id, now)
        pending = sessions.ensure_counted(uid, session_id, now)
    if run.poison:
        return
    if pending is not None:
        messaging.publish(pending)  # the worker adds it to hours saved once, whoever publishes
    logs.get_logger().info(
        "planned end reached", completedByServer=completed, republished=pending is not None
    )


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
    """Count sessions whose trigger run failed (Firestore triggers are never retried), e.g. ones
    an offline device wrote already completed. The window overlaps the previous run's by five
    minutes and leaves the last fifteen to the triggers; counting is idempotent.

    Each session is its own item: a malformed one (a junk break, say) is logged as a poison
    item, counted and skipped, and any other failure of one item is logged and skipped too, so
    one person's document never stops the run for everyone else. A session planted with an
    ``endedAt`` far ahead only enters the window when that time comes, and is isolated then."""
    if event.job_name is None:
        return  # the worker's start-up health probe, not Cloud Scheduler
    now = datetime.now(UTC)
    repaired = 0
    run = tolerant.Isolation("sweep_uncounted_sessions")
    for uid, session_id in sessions.needing_count(now - SWEEP_WINDOW, now - SWEEP_GRACE):
        with run.item("session", uid, session_id):
            pending = sessions.ensure_counted(uid, session_id, now)
            if pending is not None:
                messaging.publish(pending)
                repaired += 1
    logs.get_logger().info("uncounted sessions swept", repaired=repaired, **run.counts())


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
    rate_limits=options.RateLimits(max_concurrent_dispatches=20),
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
    while True:
        result = erasure.run_step(
            erasure_id,
            datetime.now(UTC),
            batch_size,
            sweep_uid=str(sweep_uid) if sweep_uid is not None else None,
        )
        step += 1
        if result.done or not chain:
            return
        if time.monotonic() > deadline:
            follow_up: dict[str, Any] = {
                "erasureId": erasure_id,
                "batchSize": batch_size,
                "step": step,
            }
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
            return


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=5, min_backoff_seconds=30, max_backoff_seconds=300
    ),
    rate_limits=options.RateLimits(max_concurrent_dispatches=10),
)
@background("task")
def buildExport(request: CallableRequest[dict[str, str]]) -> None:
    """Gather everything the registry marks exportable into the person's export bundle, one
    bounded step per invocation: the rest goes back to the end of the queue, so other people's
    exports run between the steps of a large one (``focus.platform.export``)."""
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

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
from focus.platform import erasure, export, logs, messaging
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
    completed = sessions.complete_if_due(uid, session_id, now)
    pending = sessions.ensure_counted(uid, session_id, now)
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
    minutes and leaves the last fifteen to the triggers; counting is idempotent."""
    if event.job_name is None:
        return  # the worker's start-up health probe, not Cloud Scheduler
    now = datetime.now(UTC)
    repaired = 0
    for uid, session_id in sessions.needing_count(now - SWEEP_WINDOW, now - SWEEP_GRACE):
        pending = sessions.ensure_counted(uid, session_id, now)
        if pending is not None:
            messaging.publish(pending)
            repaired += 1
    logs.get_logger().info("uncounted sessions swept", repaired=repaired)


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

    ``batchSize`` and ``chain`` exist so tests can interrupt an erasure half-way."""
    erasure_id = str(request.data["erasureId"])
    batch_size = int(request.data.get("batchSize", erasure.MAX_BATCH))
    chain = bool(request.data.get("chain", True))
    deadline = time.monotonic() + ERASE_STEP_BUDGET_SECONDS
    step = int(request.data.get("step", 0))
    while True:
        result = erasure.run_step(erasure_id, datetime.now(UTC), batch_size)
        step += 1
        if result.done or not chain:
            return
        if time.monotonic() > deadline:
            messaging.enqueue(
                "eraseAccount",
                {"erasureId": erasure_id, "batchSize": batch_size, "step": step},
                at=datetime.now(UTC),
                task_id=messaging.task_id("erase", erasure_id, str(step)),
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
    """Gather everything the registry marks exportable into the person's export bundle."""
    uid = request.data["userId"]
    logs.bind_user(uid)
    chunks = export.build(uid, request.data["exportId"], datetime.now(UTC))
    logs.get_logger().info("export built", chunks=chunks)

"""Workers: Pub/Sub consumers, task-queue functions and scheduled jobs.

Each function reads its event and calls one service (``focus.services``), where the rules,
loops and budgets live; a task-queue function's name is its queue's (``focus.domain.wires``)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from firebase_functions import options, pubsub_fn, scheduler_fn, tasks_fn
from firebase_functions.core import CloudEvent
from firebase_functions.https_fn import CallableRequest
from firebase_functions.options import Timezone

from focus.adapters import logs
from focus.domain.wires import Task, Topic
from focus.entrypoints.handlers import background
from focus.entrypoints.runtime import start_codebase, task_rate_limits
from focus.services import (
    campaigns,
    community,
    completions,
    days,
    hours_saved,
    outbox,
    push_tokens,
)
from focus.services.privacy import erasure, export

start_codebase("jobs", cpu=1, memory=256, concurrency=20, max_instances=100)


@pubsub_fn.on_message_published(topic=Topic.SESSION_COMPLETED, retry=True)
@background("pubsub")
def on_session_completed(event: CloudEvent[pubsub_fn.MessagePublishedData[object]]) -> None:
    """Add a completed session's minutes to the global hours-saved counter (once per session);
    an unreadable message goes to the dead letters (``completions.receive_completion``)."""
    message = event.data.message
    completions.receive_completion(
        base64.b64decode(message.data or ""), dict(message.attributes or {}), datetime.now(UTC)
    )


def _reach_planned_end(request: CallableRequest[dict[str, str]]) -> None:
    uid, session_id = request.data["userId"], request.data["sessionId"]
    logs.bind_user(uid)
    completions.reach_planned_end(uid, session_id, datetime.now(UTC))


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=10, min_backoff_seconds=10, max_backoff_seconds=300, max_doublings=4
    ),
    rate_limits=task_rate_limits(50, lane_of=Task.COMPLETE_SESSION_AT_PLANNED_END),
)
@background("task")
def completeSessionAtPlannedEnd(request: CallableRequest[dict[str, str]]) -> None:
    """At a session's planned end, complete it if no device has (offline or uninstalled devices)
    and make sure it was counted; a task arriving early waits (``completions.reach_planned_end``).
    The queue's backoff (10 s doubling 4 times to 160 s, then 300 s; 10 attempts, about 25
    minutes) is what ``workers.EARLY_RETRY_REACH`` relies on; every lane has the same."""
    _reach_planned_end(request)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=10, min_backoff_seconds=10, max_backoff_seconds=300, max_doublings=4
    ),
    rate_limits=task_rate_limits(50, lane_of=Task.COMPLETE_SESSION_AT_PLANNED_END),
)
@background("task")
def completeSessionAtPlannedEnd2(request: CallableRequest[dict[str, str]]) -> None:
    """``completeSessionAtPlannedEnd``'s second lane (``focus.domain.wires.LANES``)."""
    _reach_planned_end(request)


@scheduler_fn.on_schedule(schedule="every 5 minutes", timezone=Timezone("UTC"))
@background("schedule")
def roll_up_hours_saved(event: scheduler_fn.ScheduledEvent) -> None:
    """Sum the hours-saved shards into the one document every app launch reads."""
    summary = hours_saved.roll_up(datetime.now(UTC))
    logs.get_logger().info(
        "hours saved rolled up", totalMinutes=summary.total_minutes, shards=summary.shards_read
    )


@scheduler_fn.on_schedule(schedule="every 30 minutes", timezone=Timezone("UTC"))
@background("schedule")
def sweep_uncounted_sessions(event: scheduler_fn.ScheduledEvent) -> None:
    """Count sessions whose hand-off and backstops failed and complete active sessions whose
    planned-end task never did, each session its own item (``completions.sweep_uncounted``)."""
    completions.sweep_uncounted(datetime.now(UTC))


def _count_completed_session(request: CallableRequest[dict[str, str]]) -> None:
    uid, session_id = request.data["userId"], request.data["sessionId"]
    logs.bind_user(uid)
    attempt = int(request.raw_request.headers.get("X-CloudTasks-TaskRetryCount") or 0) + 1
    completions.count_for_task(uid, session_id, request.data, attempt, datetime.now(UTC))


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=100, min_backoff_seconds=5, max_backoff_seconds=300, max_doublings=4
    ),
    rate_limits=task_rate_limits(100, lane_of=Task.COUNT_COMPLETED_SESSION),
)
@background("task")
def countCompletedSession(request: CallableRequest[dict[str, str]]) -> None:
    """Count a completed session into its owner's totals and publish its completion, once.

    ``on_session_written`` hands every completed, uncounted session here (a named task per
    session): Firestore triggers are never retried, this queue is, so contention on the person's
    profile or an outage delays the count instead of losing it. What can never be counted is
    dead-lettered (``completions.count_for_task``); the queue's attempts (5 s doubling 4 times to
    80 s, then 300 s: 100 attempts take over 8 hours) outlast ``workers.COUNT_MAX_EVENT_AGE``."""
    _count_completed_session(request)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=100, min_backoff_seconds=5, max_backoff_seconds=300, max_doublings=4
    ),
    rate_limits=task_rate_limits(100, lane_of=Task.COUNT_COMPLETED_SESSION),
)
@background("task")
def countCompletedSession2(request: CallableRequest[dict[str, str]]) -> None:
    """``countCompletedSession``'s second lane (``focus.domain.wires.LANES``)."""
    _count_completed_session(request)


@scheduler_fn.on_schedule(schedule="every 10 minutes", timezone=Timezone("UTC"))
@background("schedule")
def roll_up_community(event: scheduler_fn.ScheduledEvent) -> None:
    """Sum the community histogram shards of the local days in progress into their summaries."""
    community.roll_up_days_in_progress(datetime.now(UTC))


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=20, min_backoff_seconds=5, max_backoff_seconds=300
    ),
    rate_limits=task_rate_limits(20),
)
@background("task")
def eraseAccount(request: CallableRequest[dict[str, Any]]) -> None:
    """Erase an account in resumable steps; re-enqueues itself until nothing is left
    (``erasure.erase_for_task``; the payload is ``focus.domain.workers.ErasureTask``)."""
    erasure.erase_for_task(request.data)


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
    export.build_for_task(uid, export_id, datetime.now(UTC))


@scheduler_fn.on_schedule(schedule="every 60 minutes", timezone=Timezone("UTC"))
@background("schedule")
def check_open_erasures(event: scheduler_fn.ScheduledEvent) -> None:
    """The erasure SLO's measure and backstop: log every open erasure's age, restart stalled
    ones (``erasure.check_open``); ``erasures checked`` proves the check runs (an alert fires if
    it stops, docs/runbooks/erasure-overdue.md)."""
    erasure.check_and_report(datetime.now(UTC))


def _derive_days(request: CallableRequest[dict[str, str]]) -> None:
    uid = request.data["userId"]
    logs.bind_user(uid)
    days.derive_for_task(uid, datetime.now(UTC))


# ~0.4 s tasks: 200 at once reach Cloud Tasks' 500 dispatches/s per queue (scripts/limits-sim).
@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=10, min_backoff_seconds=5, max_backoff_seconds=300
    ),
    rate_limits=task_rate_limits(200, lane_of=Task.DERIVE_DAYS),
)
@background("task")
def deriveDays(request: CallableRequest[dict[str, str]]) -> None:
    """Derive what a person's uploaded days imply (streaks, weeks, community, milestones): every
    pending change at once. Retried by the queue on failure (contention included); change
    documents left after the last attempt are the sweep's."""
    _derive_days(request)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=10, min_backoff_seconds=5, max_backoff_seconds=300
    ),
    rate_limits=task_rate_limits(200, lane_of=Task.DERIVE_DAYS),
)
@background("task")
def deriveDays2(request: CallableRequest[dict[str, str]]) -> None:
    """``deriveDays``'s second lane (``focus.domain.wires.LANES``)."""
    _derive_days(request)


@scheduler_fn.on_schedule(schedule="every 10 minutes", timezone=Timezone("UTC"))
@background("schedule")
def sweep_day_changes(event: scheduler_fn.ScheduledEvent) -> None:
    """Derive day changes a failed trigger run or task left behind (older than five minutes):
    each person is an item, so one person's malformed day never stops the others."""
    days.sweep_left_behind(datetime.now(UTC))


@scheduler_fn.on_schedule(schedule="every day 03:30", timezone=Timezone("UTC"))
@background("schedule")
def prune_push_tokens(event: scheduler_fn.ScheduledEvent) -> None:
    """Delete push tokens not refreshed for a month (the app refreshes its token on every launch):
    each token its own item (``push_tokens.prune``)."""
    push_tokens.prune(datetime.now(UTC))


def _send_push(request: CallableRequest[dict[str, str]]) -> None:
    uid, entry_id = request.data["userId"], request.data["entryId"]
    logs.bind_user(uid)
    outbox.send_for_task(uid, entry_id, datetime.now(UTC))


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=30, min_backoff_seconds=5, max_backoff_seconds=60, max_doublings=3
    ),
    rate_limits=task_rate_limits(250, lane_of=Task.SEND_PUSH),
)
@background("task")
def sendPush(request: CallableRequest[dict[str, str]]) -> None:
    """Send one outbox entry (a silent sync to a device, or a visible message to the person's
    devices) when it is due, once, whatever the number of deliveries (``outbox.send_for_task``).
    Throttling (429 Retry-After) and FCM errors schedule a new task for the entry; an early or
    leased delivery fails and the queue's backoff (5 s doubling to 40 s, then 60 s) retries it."""
    _send_push(request)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=30, min_backoff_seconds=5, max_backoff_seconds=60, max_doublings=3
    ),
    rate_limits=task_rate_limits(250, lane_of=Task.SEND_PUSH),
)
@background("task")
def sendPush2(request: CallableRequest[dict[str, str]]) -> None:
    """``sendPush``'s second lane (``focus.domain.wires.LANES``)."""
    _send_push(request)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=30, min_backoff_seconds=5, max_backoff_seconds=60, max_doublings=3
    ),
    rate_limits=task_rate_limits(250, lane_of=Task.SEND_PUSH),
)
@background("task")
def sendPush3(request: CallableRequest[dict[str, str]]) -> None:
    """``sendPush``'s third lane (``focus.domain.wires.LANES``)."""
    _send_push(request)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=30, min_backoff_seconds=5, max_backoff_seconds=60, max_doublings=3
    ),
    rate_limits=task_rate_limits(250, lane_of=Task.SEND_PUSH),
)
@background("task")
def sendPush4(request: CallableRequest[dict[str, str]]) -> None:
    """``sendPush``'s fourth lane (``focus.domain.wires.LANES``)."""
    _send_push(request)


@scheduler_fn.on_schedule(schedule="every 10 minutes", timezone=Timezone("UTC"))
@background("schedule")
def sweep_outbox(event: scheduler_fn.ScheduledEvent) -> None:
    """Hand off again pushes whose task was lost (pending five minutes past due): each entry its
    own item (``outbox.sweep``)."""
    outbox.sweep(datetime.now(UTC))


@scheduler_fn.on_schedule(schedule="every 15 minutes", timezone=Timezone("UTC"))
@background("schedule")
def plan_campaigns(event: scheduler_fn.ScheduledEvent) -> None:
    """Plan the campaign waves starting within half an hour (the weekly report at Monday 09:00,
    the streak reminder at 20:00, in each time zone) under the FCM quota and enqueue their
    batches (``campaigns.plan_campaigns``)."""
    campaigns.plan_campaigns(datetime.now(UTC))


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=5, min_backoff_seconds=30, max_backoff_seconds=300
    ),
    rate_limits=task_rate_limits(20),
)
@background("task")
def sendCampaignBatch(request: CallableRequest[dict[str, Any]]) -> None:
    """Send a campaign's message to one uid range of a wave at its planned moment (the pacing
    lives in the schedule times; 20 dispatches a second is a backstop above the plan's 19):
    each person's message is one outbox entry (``campaigns.send_batch``)."""
    campaigns.send_batch(request.data, datetime.now(UTC))

"""AI-written insights and nudges: the weekly batch and the online nudge.

The model client (google-genai) is imported only by this codebase, and only on a model call,
so it never weighs on the mobile API's cold start (docs/adr/0009). Each function reads its event
and calls one service; the flow is in docs/insights.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from firebase_functions import options, scheduler_fn, tasks_fn
from firebase_functions.https_fn import CallableRequest
from firebase_functions.options import Timezone

from focus.entrypoints.handlers import background
from focus.entrypoints.runtime import start_codebase, task_rate_limits
from focus.services import insight_runs, nudges

# Model calls wait seconds on Vertex AI: many concurrent requests per instance, few instances.
start_codebase("insights", cpu=1, memory=512, concurrency=40, max_instances=20)


@scheduler_fn.on_schedule(schedule="every day 00:30", timezone=Timezone("UTC"))
@background("schedule")
def plan_weekly_insights(event: scheduler_fn.ScheduledEvent) -> None:
    """Start today's weekly-insight run: one ``prepareInsights`` task per page of people who
    granted AI processing (``insight_runs.plan``)."""
    insight_runs.plan(datetime.now(UTC))


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=5, min_backoff_seconds=60, max_backoff_seconds=600
    ),
    rate_limits=task_rate_limits(20),
)
@background("task")
def prepareInsights(request: CallableRequest[dict[str, Any]]) -> None:
    """Write one part of the run's batch input: each person's week, figures only, each person
    its own item (``insight_runs.prepare``)."""
    insight_runs.prepare(request.data, datetime.now(UTC))


@scheduler_fn.on_schedule(schedule="every 30 minutes", timezone=Timezone("UTC"))
@background("schedule")
def follow_insight_batches(event: scheduler_fn.ScheduledEvent) -> None:
    """Submit prepared runs as Vertex AI batch prediction jobs and collect finished ones
    (``insight_runs.follow``)."""
    insight_runs.follow(datetime.now(UTC))


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=insight_runs.APPLY_ATTEMPTS, min_backoff_seconds=60, max_backoff_seconds=600
    ),
    rate_limits=task_rate_limits(20),
)
@background("task")
def applyInsightResults(request: CallableRequest[dict[str, Any]]) -> None:
    """Check and store one output file's answers, or the fallback for one part of a failed job
    (``insight_runs.apply``; dead-lettered on its last attempt)."""
    attempt = int(request.raw_request.headers.get("X-CloudTasks-TaskRetryCount") or 0) + 1
    insight_runs.apply(request.data, datetime.now(UTC), attempt)


@tasks_fn.on_task_dispatched(
    retry_config=options.RetryConfig(
        max_attempts=3, min_backoff_seconds=30, max_backoff_seconds=120
    ),
    # ~150 nudges/s on the busiest evening (scripts/limits-sim) of ~2 s model calls: 400 at once
    # fit the codebase's 20 instances x 40 requests.
    rate_limits=task_rate_limits(400),
)
@background("task")
def writeNudge(request: CallableRequest[dict[str, Any]]) -> None:
    """Write a person's streak-at-risk nudge with the model (budgeted, a short timeout, the
    template otherwise) and send it through the outbox (``nudges.write``)."""
    nudges.write(request.data, datetime.now(UTC))

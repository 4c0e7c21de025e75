"""Event-driven functions (Firestore, Pub/Sub, task queue, schedule): ``background`` runs each
invocation of a handler inside ``focus.entrypoints.invocation`` (one span, one request line, the
severity policy), with what the event says: the trace its sender put in it and, when it carries
its time, the event's age: how long the platform took to deliver it, the freshness the on-call
engineer watches.

A scheduled function is also invoked once by the worker's start-up health probe (the Functions
emulator GETs each new worker, which the SDK turns into a scheduled event without a job name).
``background("schedule")`` answers the probe without running the job: no span and no request
line (it is not a run of the job: counted, it would add an instant, successful "run" to the
job-success SLO and a zero to the event-age metric), only one ``start-up probe skipped`` line.
Cloud Scheduler always names its job (``X-CloudScheduler-JobName``, a "Force run" too).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from focus.adapters import logs
from focus.domain.wires import has_lanes, task_of_lane
from focus.entrypoints.invocation import Kind, invocation

F = TypeVar("F", bound=Callable[..., Any])


def _task_eta(event: Any) -> datetime | None:
    """When a task was due: Cloud Tasks sends epoch seconds, the Tasks emulator the RFC 3339 time
    it was enqueued with."""
    raw_request = getattr(event, "raw_request", None)
    header = raw_request.headers.get("X-CloudTasks-TaskETA") if raw_request is not None else None
    if not header:
        return None
    try:
        return datetime.fromtimestamp(float(header), UTC)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(header.replace("Z", "+00:00"))
    except ValueError:
        return None


def _event_time(event: Any) -> datetime | None:
    value = getattr(event, "time", None) or getattr(event, "schedule_time", None)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return _task_eta(event)


def _carrier(event: Any) -> dict[str, str]:
    """Where the sender put its trace context: task request headers, or Pub/Sub message attributes.
    Firestore and schedule events carry none the SDK exposes: they start a new trace."""
    raw_request = getattr(event, "raw_request", None)
    if raw_request is not None:
        return dict(raw_request.headers)
    message = getattr(getattr(event, "data", None), "message", None)
    attributes = getattr(message, "attributes", None)
    return dict(attributes) if isinstance(attributes, dict) else {}


def _start_up_probe(function: str, event: Any) -> bool:
    """Whether a scheduled invocation is the worker's start-up probe (see the module docstring);
    if so, says so in one line."""
    if getattr(event, "job_name", None) is not None:
        return False
    logs.bind_invocation(function=function)
    logs.get_logger().info("start-up probe skipped", kind="schedule")
    return True


def background(kind: Kind) -> Callable[[F], F]:
    """Run each invocation of an event handler of ``kind`` (firestore, pubsub, task, schedule) as
    one ``invocation``; a scheduled handler never runs for the start-up probe."""

    def decorate(handler: F) -> F:
        name = handler.__name__
        # A task's lanes log as the task (``function``), each with its own ``queue``, the first
        # lane (named as the task) too.
        function = task_of_lane(name) if kind == "task" else name
        queue = name if kind == "task" and has_lanes(function) else None

        @functools.wraps(handler)
        def run(event: Any, *args: Any, **kwargs: Any) -> Any:
            if kind == "schedule" and _start_up_probe(name, event):
                return None
            with invocation(
                function, kind, carrier=_carrier(event), event_time=_event_time(event), queue=queue
            ):
                return handler(event, *args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate


def write_time(event: Any) -> datetime:
    """When the document write behind a Firestore event happened, to the microsecond.

    ``event.time`` has whole-second precision, too coarse to order two edits made within a
    second. A delete has no update time: it happened after the last write, so one microsecond
    after it (never before the event time). The result depends only on the event, so a
    redelivered event yields the same time.
    """
    after, before = event.data.after, event.data.before
    if after is not None and after.exists:
        return _aware(after.update_time)
    event_time = _aware(event.time)
    if before is None or before.update_time is None:
        return event_time
    return max(event_time, _aware(before.update_time) + timedelta(microseconds=1))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

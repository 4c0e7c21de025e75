"""Instrumentation for event-driven functions (Firestore, Pub/Sub, task queue, schedule).

Wrap the body of every background function with ``background`` so it runs in one span and logs
exactly one request line (function, codebase, outcome, error code, latency, trace) and, when the
event carries its time, the event's age: how long the platform took to deliver it, the freshness
the on-call engineer watches.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from focus.adapters import logs, store, tracing
from focus.entrypoints.errors import error_code

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


def background(kind: str) -> Callable[[F], F]:
    """Log one line per invocation of an event handler of ``kind`` (firestore, pubsub, task, ...),
    inside the invocation's span."""

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        def run(event: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            usage = store.begin_usage()
            name = handler.__name__
            with tracing.invocation(name, kind=kind, carrier=_carrier(event)) as trace:
                logs.bind_invocation(function=name, trace=trace)
                log = logs.get_logger()
                fields: dict[str, Any] = {"kind": kind}
                if (sent := _event_time(event)) is not None:
                    age = (datetime.now(UTC) - sent).total_seconds() * 1000
                    fields["eventAgeMs"] = round(age, 1)
                outcome, code = "ok", "OK"
                try:
                    return handler(event, *args, **kwargs)
                except Exception as exc:
                    outcome, code = "error", error_code(exc)
                    log.exception("handler failed", errorType=type(exc).__name__)
                    raise
                finally:
                    log.info(
                        "request",
                        outcome=outcome,
                        errorCode=code,
                        latencyMs=round((time.perf_counter() - started) * 1000, 1),
                        firestoreReads=usage.reads,
                        firestoreWrites=usage.writes,
                        **fields,
                    )

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

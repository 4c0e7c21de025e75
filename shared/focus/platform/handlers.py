"""Instrumentation for event-driven functions (Firestore, Pub/Sub, task queue, schedule).

Wrap the body of every background function with ``background`` so it logs exactly one request line
(function, codebase, outcome, latency) and, when the event carries its time, the event's age: how
long the platform took to deliver it, the freshness the on-call engineer watches.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from focus.platform import logs, store

F = TypeVar("F", bound=Callable[..., Any])


def _event_time(event: Any) -> datetime | None:
    value = getattr(event, "time", None) or getattr(event, "schedule_time", None)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def background(kind: str) -> Callable[[F], F]:
    """Log one line per invocation of an event handler of ``kind`` (firestore, pubsub, task, ...)."""

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        def run(event: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            usage = store.begin_usage()
            logs.bind_invocation(function=handler.__name__)
            log = logs.get_logger()
            fields: dict[str, Any] = {"kind": kind}
            if (sent := _event_time(event)) is not None:
                fields["eventAgeMs"] = round((datetime.now(UTC) - sent).total_seconds() * 1000, 1)
            outcome = "ok"
            try:
                return handler(event, *args, **kwargs)
            except Exception as exc:
                outcome = "error"
                log.exception("handler failed", errorType=type(exc).__name__)
                raise
            finally:
                log.info(
                    "request",
                    outcome=outcome,
                    latencyMs=round((time.perf_counter() - started) * 1000, 1),
                    firestoreReads=usage.reads,
                    firestoreWrites=usage.writes,
                    **fields,
                )

        return run  # type: ignore[return-value]

    return decorate

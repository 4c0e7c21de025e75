"""Publishing domain events to Pub/Sub and enqueueing tasks on Cloud Tasks queues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from focus.domain.events import DomainEvent
from focus.platform import clients, tracing
from focus.platform.environment import is_emulated

PUBLISH_TIMEOUT_SECONDS = 10


def publish(event: DomainEvent) -> str:
    """Publish ``event`` to its topic and wait for the server's ack; the message id."""
    with tracing.span("pubsub.publish", topic=event.topic):
        # The worker continues this trace from the message's ``traceparent`` attribute.
        future = clients.publisher().publish(
            clients.topic_path(event.topic),
            data=event.model_dump_json(by_alias=True).encode(),
            **tracing.outgoing_headers(),
        )
        return str(future.result(timeout=PUBLISH_TIMEOUT_SECONDS))


def enqueue(function_name: str, payload: dict[str, Any], *, at: datetime, task_id: str) -> bool:
    """Schedule ``payload`` for the task-queue function ``function_name`` at ``at``.

    ``task_id`` deduplicates: enqueueing the same id twice is a no-op (False the second time),
    which makes the enqueueing trigger safe to run twice. The body is wrapped as ``{"data": ...}``
    because task-queue functions read the callable format and the Python Admin SDK sends the
    payload as given.
    """
    from datetime import UTC

    from firebase_admin import exceptions
    from firebase_admin.functions import TaskOptions

    with tracing.span("tasks.enqueue", function=function_name):
        # The task function continues this trace from the ``traceparent`` header.
        options = TaskOptions(
            schedule_time=at.astimezone(UTC), task_id=task_id, headers=tracing.outgoing_headers()
        )
        try:
            clients.task_queue(function_name).enqueue({"data": payload}, options)
        except (exceptions.AlreadyExistsError, exceptions.ConflictError):
            # Production answers 409 ALREADY_EXISTS; the emulator a bare 409 (CONFLICT).
            return False
        except ValueError as exc:
            # Admin SDK 7.7 + the Tasks emulator: for a named task the emulator echoes the name
            # without the leading '/' the SDK strips, so parsing the (successful) answer fails.
            # Production answers differently; only this exact emulator case counts as enqueued.
            if not (is_emulated() and str(exc) == "Invalid resource name format."):
                raise
    return True


def task_id(*parts: str) -> str:
    """A deterministic task id for deduplication: hashed, so ids carry no user data and are not
    sequential (sequential task names hot-spot Cloud Tasks)."""
    import hashlib

    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

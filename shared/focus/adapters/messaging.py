"""Publishing domain events to Pub/Sub, enqueueing tasks on Cloud Tasks queues, and
dead-lettering what a consumer or task can never apply."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from focus.adapters import clients, logs, tracing
from focus.adapters.environment import is_emulated
from focus.domain import wires
from focus.domain.events import DomainEvent
from focus.domain.wires import Task, Topic


class RetryLater(Exception):
    """Raised by a Pub/Sub or task handler to have the delivery retried later (its work is not
    due yet, another delivery holds its lease): a failure by design, logged at WARNING rather
    than ERROR (focus.entrypoints.invocation)."""


PUBLISH_TIMEOUT_SECONDS = 10

# Dead letters: topic ``<source>-dead-letter`` (infra/terraform/pubsub.tf), where ``source`` is the
# topic a message came from or the task-queue function a task was for. Pub/Sub puts its own there
# after the last delivery attempt; ``dead_letter`` puts ours there, with these attributes, which
# scripts/dead-letters shows and strips again on replay (scripts/lib/dead_letters.py, same names).
DEAD_LETTER_SUFFIX = wires.DEAD_LETTER_SUFFIX
DEAD_LETTER_KIND = "focusDeadLetterKind"  # "pubsub" (replay: republish) or "task" (re-enqueue)
DEAD_LETTER_REASON = "focusDeadLetterReason"  # e.g. invalidEvent, poisonDocument, tooOld
DEAD_LETTER_ERROR = "focusDeadLetterError"  # what failed, by field (never the values)
DEAD_LETTER_FUNCTION = "focusDeadLetterFunction"  # who gave up on it
MAX_ATTRIBUTE_CHARS = 1000  # Pub/Sub allows 1024 bytes per attribute value


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


class PublishFailed(Exception):
    """Pub/Sub did not take a ``publish_data`` request. ``final``: retrying never helps (no such
    topic, no permission, a message the topic's schema refuses)."""

    def __init__(self, reason: str, *, final: bool) -> None:
        super().__init__(reason)
        self.final = final


MAX_MESSAGES_PER_PUBLISH = 1000  # Pub/Sub's limit per request


def publish_data(topic: Topic, messages: Sequence[bytes], *, timeout: float) -> list[str]:
    """Publish ``messages``, already in ``topic``'s own format (its schema), in one request, all
    or none: their message ids; ``PublishFailed`` otherwise. Over Pub/Sub's REST API, so every
    codebase can publish a few messages a request without loading the gRPC client (the api and
    triggers codebases have none). No trace headers: nothing but a BigQuery subscription reads
    such a topic."""
    import base64

    import requests

    if len(messages) > MAX_MESSAGES_PER_PUBLISH:
        raise ValueError(f"at most {MAX_MESSAGES_PER_PUBLISH} messages per publish")
    body = {"messages": [{"data": base64.b64encode(m).decode()} for m in messages]}
    with tracing.span("pubsub.publish", topic=topic):
        try:
            response = clients.pubsub_http().post(
                clients.pubsub_url(f"{clients.topic_path(topic)}:publish"),
                json=body,
                timeout=timeout,
            )
        except requests.RequestException as exc:
            raise PublishFailed(f"{type(exc).__name__}", final=False) from exc
    if response.status_code != 200:
        # 400 (refused by the schema), 403, 404: as final as it gets; 429 and 5xx pass.
        final = response.status_code in (400, 403, 404)
        raise PublishFailed(f"HTTP {response.status_code}: {response.text[:200]}", final=final)
    return [str(i) for i in response.json().get("messageIds", [])]


def dead_letter(
    source: Task | Topic,
    data: bytes,
    *,
    kind: str,
    reason: str,
    error: str,
    function: str,
    attributes: dict[str, str] | None = None,
) -> str:
    """Keep ``data`` (raw, as received) on ``source``'s dead-letter topic with why it failed, and
    log the structured ``dead letter`` line the ``focus/dead_letters`` metric counts (its alert
    pages nobody but opens a ticket); the dead letter's message id.

    For what can never succeed as it is (an unreadable message, a document no model accepts, an
    event past its retry age): acknowledging it instead would lose the fact. Raises if the publish
    fails, so the delivery is retried rather than dropped."""
    from google.api_core import exceptions

    topic = source + DEAD_LETTER_SUFFIX
    marks = {
        DEAD_LETTER_KIND: kind,
        DEAD_LETTER_REASON: reason,
        DEAD_LETTER_ERROR: error[:MAX_ATTRIBUTE_CHARS] or "-",
        DEAD_LETTER_FUNCTION: function,
    }
    with tracing.span("pubsub.dead_letter", topic=topic):
        headers = {**(attributes or {}), **tracing.outgoing_headers(), **marks}
        try:
            future = clients.publisher().publish(clients.topic_path(topic), data=data, **headers)
            message_id = str(future.result(timeout=PUBLISH_TIMEOUT_SECONDS))
        except exceptions.NotFound:
            if not is_emulated():
                raise
            # Terraform creates dead-letter topics in production; the Pub/Sub emulator starts
            # with only the topics functions listen on.
            with contextlib.suppress(exceptions.AlreadyExists):
                clients.publisher().create_topic(name=clients.topic_path(topic))
            future = clients.publisher().publish(clients.topic_path(topic), data=data, **headers)
            message_id = str(future.result(timeout=PUBLISH_TIMEOUT_SECONDS))
    logs.get_logger().error(
        "dead letter",
        source=source,
        kind=kind,
        reason=reason,
        error=error[:MAX_ATTRIBUTE_CHARS],
        deadLetterId=message_id,
    )
    return message_id


def enqueue(function_name: Task, payload: dict[str, Any], *, at: datetime, task_id: str) -> bool:
    """Schedule ``payload`` for the task-queue function ``function_name`` at ``at``.

    ``task_id`` deduplicates: enqueueing the same id twice is a no-op (False the second time),
    which makes the enqueueing trigger safe to run twice. A task with lanes (``wires.LANES``)
    goes to the lane of the person it is for, ``payload["userId"]``, so the same id always meets
    its twin in the same queue. The body is wrapped as ``{"data": ...}``
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
            queue = clients.task_queue(function_name, person=payload.get("userId"))
            queue.enqueue({"data": payload}, options)
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

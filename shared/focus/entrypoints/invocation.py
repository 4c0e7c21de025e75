"""One invocation of any function, whatever called it: what the on-call engineer reads about it.

Callables (``focus.entrypoints.callables``), web endpoints (``focus.entrypoints.web``) and event
handlers (``focus.entrypoints.handlers``: Firestore, Pub/Sub, task queue, schedule) all run their
work inside ``invocation``, which owns, once for all of them:

- the log context: function, codebase, trace, and the (pseudonymous) user when known;
- one span (``focus.adapters.tracing``), continuing the caller's trace when the request or
  message carries one; spans are flushed when it ends;
- one ``request`` line, written last: ``kind``, ``outcome``, ``errorCode``, ``latencyMs``,
  ``firestoreReads``, ``firestoreWrites``, ``transactionAborts`` and, for events and tasks that
  carry their time, ``eventAgeMs`` (how long the platform took to deliver). The log-based
  metrics, SLOs and alerts read these fields (infra/terraform/metrics.tf);
- the error code (``focus.entrypoints.errors``) and the one severity policy below.

A worker's start-up health probe is no invocation: it never gets here (a scheduled job's probe
is skipped by ``handlers.background``, a web endpoint's GET is answered 405 by ``web``), so it
writes no span and no request line.

Severity policy. The request line is always INFO: it is a measurement, and a failure's weight is
in its ``outcome``. A failure is *expected* when it is an answer the system means to give: a
product rule's refusal (``DomainError``), a deliberate ``HttpsError``, or a transient database
failure that a retry heals (contention, a deadline); where a client waits for the answer
(callables, web), also its invalid input; where the platform delivers again after a failure
(Pub/Sub, tasks), also a request to be redelivered later (``RetryLater``, ``LeaseHeld``). Anything
else is unexpected: a bug, poison data, an outage no retry heals.

- callable, web: an expected failure adds no line (the client got the answer, the request line
  has its code); an unexpected one logs ``unhandled error`` at ERROR with the stack trace.
- events, tasks, schedules: an expected failure logs ``handler failed`` at WARNING
  (``errorType``, ``errorCode``); an unexpected one logs ``handler failed`` at ERROR with the
  stack trace.

``outcome`` is ``ok``, or for a failure: ``client_error`` (the answer is not INTERNAL) or
``error`` (INTERNAL) where a client waits for the answer; always ``error`` in an event handler,
where nobody else acts on it (the job-success SLO counts every failed delivery).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from firebase_functions import https_fn
from pydantic import ValidationError

from focus.adapters import logs, store, tracing
from focus.adapters.messaging import RetryLater
from focus.domain.errors import DomainError
from focus.entrypoints.errors import error_code, transient

Kind = Literal["callable", "web", "firestore", "pubsub", "task", "schedule"]
# Someone waits for the answer and acts on its error code.
ANSWERED: frozenset[Kind] = frozenset({"callable", "web"})
# The platform delivers again after a failure (Firestore triggers are never retried, and a
# failed scheduled run waits for the next one).
REDELIVERED: frozenset[Kind] = frozenset({"pubsub", "task"})


@dataclass
class Invocation:
    """One invocation under way: what its request line will say."""

    function: str
    kind: Kind
    usage: store.Usage  # its Firestore reads and writes so far
    outcome: str = "ok"
    error_code: str = "OK"


@contextmanager
def invocation(
    function: str,
    kind: Kind,
    *,
    carrier: Mapping[str, str] | None = None,
    user_id: str | None = None,
    event_time: datetime | None = None,
    queue: str | None = None,
) -> Iterator[Invocation]:
    """Run the body as one invocation of ``function``: its span (continuing the trace found in
    ``carrier``, the request headers or message attributes), its log context (``user_id``, if
    known yet; ``logs.bind_user`` adds it later), and its request line, with the event's age
    when ``event_time`` says when the event happened or the task was due; ``queue``: the lane a
    task came from when its task runs on several (``focus.domain.wires.LANES``).

    An exception leaving the body is logged by the severity policy, recorded in the request line
    and raised again: the caller decides what answers it."""
    started = time.perf_counter()
    call = Invocation(function, kind, store.begin_usage())
    with tracing.invocation(function, kind=kind, carrier=carrier) as trace:
        logs.bind_invocation(function=function, trace=trace, user_id=user_id, queue=queue)
        age_ms = _age_ms(event_time)  # on arrival, before the work
        try:
            yield call
        except Exception as exc:
            call.outcome, call.error_code = _failed(exc, kind)
            raise
        finally:
            _request_line(call, started, age_ms)


def _age_ms(event_time: datetime | None) -> float | None:
    if event_time is None:
        return None
    sent = event_time if event_time.tzinfo else event_time.replace(tzinfo=UTC)
    return round((datetime.now(UTC) - sent).total_seconds() * 1000, 1)


def expected(exc: Exception, kind: Kind) -> bool:
    """Whether a failure is one the system means to give (see the module docstring)."""
    if isinstance(exc, (DomainError, https_fn.HttpsError)) or transient(exc) is not None:
        return True
    if kind in ANSWERED:
        return isinstance(exc, ValidationError)  # the client's input: the answer says what
    if kind in REDELIVERED:
        return isinstance(exc, RetryLater)  # LeaseHeld and TaskNotDue included
    return False


def _failed(exc: Exception, kind: Kind) -> tuple[str, str]:
    """Log a failure by the severity policy; its request line's outcome and error code."""
    code = error_code(exc)
    log = logs.get_logger()
    answered = kind in ANSWERED
    if not expected(exc, kind):
        message = "unhandled error" if answered else "handler failed"
        log.exception(message, errorType=type(exc).__name__)
    elif not answered:
        log.warning("handler failed", errorType=type(exc).__name__, errorCode=code)
    if answered and code != "INTERNAL":
        return "client_error", code
    return "error", code


def _request_line(call: Invocation, started: float, age_ms: float | None) -> None:
    fields: dict[str, object] = {
        "kind": call.kind,
        "outcome": call.outcome,
        "errorCode": call.error_code,
        "latencyMs": round((time.perf_counter() - started) * 1000, 1),
        "firestoreReads": call.usage.reads,
        "firestoreWrites": call.usage.writes,
        "transactionAborts": call.usage.aborts,  # contention, per call (scripts/bench-contention)
    }
    if age_ms is not None:
        fields["eventAgeMs"] = age_ms
    logs.get_logger().info("request", **fields)

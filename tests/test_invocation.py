"""Every invocation, however it arrives (callable, web endpoint, Firestore event, Pub/Sub message,
task, schedule), looks the same to the on-call engineer: one span, one `request` line, and one
severity policy: failures the system means (a refusal, contention a retry heals, a delivery to
retry later) are never logged at ERROR; bugs are, with their stack trace
(focus.entrypoints.invocation). A scheduled job never runs for the worker's start-up probe."""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from emulator_log import SPAN_KEY, Line, json_lines, requests, spans, trace_id, wait_for_lines
from pydantic import TypeAdapter

from firebase_emulator_harness import EmulatorSuite, wait_for
from firebase_emulator_harness.http import TIMEOUT_S, session
from focus.adapters import logs, tracing
from focus.adapters.leases import LeaseHeld
from focus.adapters.messaging import RetryLater
from focus.adapters.store import Contention
from focus.domain.errors import NotFound
from focus.entrypoints.invocation import Kind, invocation
from focus.services.privacy import erasure

# --- The severity policy, read from the lines one invocation writes -------------------------


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Our log lines as written, spans included (as on the emulators: one line per span)."""
    os.environ.setdefault("GCLOUD_PROJECT", "demo-focus")
    monkeypatch.setenv("FUNCTIONS_EMULATOR", "true")
    tracing._provider.cache_clear()
    stream = io.StringIO()
    logs.configure("jobs", stream=stream)
    yield stream
    tracing._provider.cache_clear()


def written(stream: io.StringIO) -> dict[str, Line]:
    """The lines of one invocation by message (each message once)."""
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_message = {line["message"]: line for line in lines}
    assert len(by_message) == len(lines), lines
    return by_message


def fail(kind: Kind, error: Exception, **context: Any) -> None:
    with pytest.raises(type(error)), invocation("countCompletedSession", kind, **context):
        raise error


def not_an_int() -> Exception:
    try:
        TypeAdapter(int).validate_python("twelve")
    except Exception as exc:
        return exc
    raise AssertionError("validated")


EXPECTED_IN_HANDLERS: list[tuple[Kind, Callable[[], Exception], str]] = [
    ("task", lambda: Contention("sessions.count", 8), "ABORTED"),  # the queue's retry heals it
    ("pubsub", lambda: Contention("hours_saved.add", 8), "ABORTED"),
    ("task", lambda: LeaseHeld("another delivery works on it"), "INTERNAL"),
    ("task", lambda: RetryLater("not due yet"), "INTERNAL"),
    ("firestore", lambda: NotFound("no such session"), "NOT_FOUND"),  # a product rule's refusal
]
UNEXPECTED_IN_HANDLERS: list[tuple[Kind, Callable[[], Exception]]] = [
    ("task", lambda: KeyError("userId")),  # a bug
    ("pubsub", not_an_int),  # our own stored data no model accepts: poison, not a client's input
    ("firestore", lambda: LeaseHeld("held")),  # a trigger is never delivered again
    ("schedule", lambda: RetryLater("later")),  # nor is a scheduled run: the next run is another
]


@pytest.mark.parametrize(("kind", "error", "code"), EXPECTED_IN_HANDLERS)
def test_an_expected_failure_of_an_event_handler_is_a_warning(
    log_lines: io.StringIO, kind: Kind, error: Callable[[], Exception], code: str
) -> None:
    exc = error()
    fail(kind, exc)

    lines = written(log_lines)
    failed, request = lines["handler failed"], lines["request"]
    assert (failed["severity"], failed["errorType"], failed["errorCode"]) == (
        "WARNING",
        type(exc).__name__,
        code,
    )
    assert "exception" not in failed  # no stack trace: nothing to debug
    assert (request["kind"], request["outcome"], request["errorCode"]) == (kind, "error", code)
    assert request["severity"] == "INFO"


@pytest.mark.parametrize(("kind", "error"), UNEXPECTED_IN_HANDLERS)
def test_an_unexpected_failure_of_an_event_handler_is_an_error_with_its_stack_trace(
    log_lines: io.StringIO, kind: Kind, error: Callable[[], Exception]
) -> None:
    exc = error()
    fail(kind, exc)

    lines = written(log_lines)
    failed = lines["handler failed"]
    assert (failed["severity"], failed["errorType"]) == ("ERROR", type(exc).__name__)
    assert "Traceback" in failed["exception"]
    assert lines["request"]["outcome"] == "error"


@pytest.mark.parametrize(
    ("error", "outcome", "code"),
    [
        (not_an_int, "client_error", "INVALID_ARGUMENT"),  # the client's input
        (lambda: Contention("rate_limits.consume", 8), "client_error", "ABORTED"),
        (lambda: NotFound("no such export"), "client_error", "NOT_FOUND"),
    ],
)
def test_a_refused_call_adds_nothing_to_its_request_line(
    log_lines: io.StringIO, error: Callable[[], Exception], outcome: str, code: str
) -> None:
    for kind in ("callable", "web"):
        log_lines.seek(0)
        log_lines.truncate()
        fail(kind, error())

        lines = written(log_lines)
        assert set(lines) == {"request", "span"}  # the answer says it all
        assert (lines["request"]["outcome"], lines["request"]["errorCode"]) == (outcome, code)


def test_a_bug_in_a_call_is_an_unhandled_error_with_its_stack_trace(
    log_lines: io.StringIO,
) -> None:
    fail("web", RuntimeError("boom"))

    lines = written(log_lines)
    unhandled = lines["unhandled error"]
    assert (unhandled["severity"], unhandled["errorType"]) == ("ERROR", "RuntimeError")
    assert "Traceback" in unhandled["exception"]
    assert (lines["request"]["outcome"], lines["request"]["errorCode"]) == ("error", "INTERNAL")


def test_one_request_line_inside_one_span_with_the_events_age(log_lines: io.StringIO) -> None:
    sent = datetime.now(UTC) - timedelta(seconds=3)
    with invocation("on_session_completed", "pubsub", event_time=sent, user_id="uid-ada"):
        pass

    lines = written(log_lines)
    request, span = lines["request"], lines["span"]
    assert request["function"] == span["name"] == "on_session_completed"
    assert request[SPAN_KEY] == span["spanId"] and span["status"] == "UNSET"
    assert request["user"] == logs.pseudonymous_user_id("uid-ada")
    assert request["eventAgeMs"] >= 3000
    assert (request["outcome"], request["errorCode"], request["firestoreReads"]) == ("ok", "OK", 0)


@pytest.mark.parametrize(
    ("function_name", "queue"),
    [("sendPush", "sendPush"), ("sendPush3", "sendPush3"), ("buildExport", None)],
)
def test_a_task_on_lanes_logs_as_its_task_and_names_its_lane(
    log_lines: io.StringIO, function_name: str, queue: str | None
) -> None:
    """The on-call engineer filters on ``function="sendPush"`` for all its lanes and tells them
    apart by ``queue`` (the first lane as well); a task on one queue has no ``queue``."""
    from focus.entrypoints.handlers import background

    def handler(event: Any) -> None:
        return None

    handler.__name__ = function_name
    background("task")(handler)(object())

    request = written(log_lines)["request"]
    assert request["function"] == function_name.rstrip("0123456789")
    assert request.get("queue") == queue


# --- What the on-call engineer reads in the emulator log ----------------------------------


def traceparent() -> tuple[str, str, str]:
    """A sampled W3C traceparent as a browser or a task would carry it, with its trace and span."""
    trace, span = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace}-{span}-01", trace, span


def post(firebase: EmulatorSuite, function: str, method: str = "POST", **kwargs: Any) -> int:
    """POST (or ``method``) to an HTTPS (web or task-queue) function; the HTTP status."""
    url = f"{firebase.functions.base_url}/{firebase.functions.project}"
    url += f"/{firebase.functions.region}/{function}"
    return session().request(method, url, timeout=TIMEOUT_S, **kwargs).status_code


def errors_in(trace: str) -> list[Line]:
    return [
        line for line in json_lines() if trace_id(line) == trace and line["severity"] == "ERROR"
    ]


def test_a_web_request_has_its_span_and_the_same_request_line_as_a_callable(
    firebase: EmulatorSuite,
) -> None:
    header, trace, browser_span = traceparent()

    status = post(firebase, "deleteAccountWeb", headers={"traceparent": header})  # signed out

    assert status == 401
    (line,) = wait_for_lines(requests("deleteAccountWeb", trace), message="web request line")
    assert {key: line.get(key) for key in ("codebase", "kind", "outcome", "errorCode")} == {
        "codebase": "api",
        "kind": "web",
        "outcome": "client_error",
        "errorCode": "UNAUTHENTICATED",
    }
    assert line["severity"] == "INFO" and isinstance(line["latencyMs"], float)
    assert (line["firestoreReads"], line["firestoreWrites"]) == (0, 0)
    (span,) = wait_for_lines(
        lambda line: spans(trace)(line) and line["name"] == "deleteAccountWeb",
        message="web span",
    )
    assert span["parentSpanId"] == browser_span  # the browser's trace continues
    assert line[SPAN_KEY] == span["spanId"]
    assert span["status"] == "ERROR"
    assert errors_in(trace) == []  # a refusal is an answer, not an error to look at


def test_a_web_endpoint_answers_other_methods_without_counting_them(
    firebase: EmulatorSuite,
) -> None:
    """Only POST acts: a GET (a browser's, or the worker's start-up probe) is answered 405 and is
    no request line, so it never counts as a served web request."""
    get, ignored, _ = traceparent()
    post_header, counted, _ = traceparent()

    assert post(firebase, "deleteAccountWeb", "GET", headers={"traceparent": get}) == 405
    assert post(firebase, "deleteAccountWeb", headers={"traceparent": post_header}) == 401

    wait_for_lines(requests("deleteAccountWeb", counted), message="the POST's request line")
    assert [line for line in json_lines() if trace_id(line) == ignored] == []


def test_a_task_refused_while_another_delivery_holds_its_job_is_a_warning_not_an_error(
    firebase: EmulatorSuite,
) -> None:
    """Tasks are delivered at least once: a duplicate delivery finds the job leased and fails, so
    the queue retries it later. That failed delivery is counted (job-success) and explained at
    WARNING; nothing is logged at ERROR."""
    person = firebase.auth.sign_up_anonymously()
    eid = erasure.request(person.uid, datetime.now(UTC), via="app", enqueue=False).erasure_id
    until = datetime.now(UTC) + timedelta(minutes=2)
    firebase.firestore.as_owner().update(
        f"erasures/{eid}", {"lease": {"holder": "another delivery", "until": until}}
    )
    header, trace, _ = traceparent()

    status = post(
        firebase, "eraseAccount", json={"data": {"erasureId": eid}}, headers={"traceparent": header}
    )

    assert status == 500  # the queue retries it
    (line,) = wait_for_lines(requests("eraseAccount", trace), message="task request line")
    assert (line["kind"], line["outcome"]) == ("task", "error")
    failed = [
        entry
        for entry in json_lines()
        if trace_id(entry) == trace and entry["message"] == "handler failed"
    ]
    assert [(entry["severity"], entry["errorType"]) for entry in failed] == [
        ("WARNING", "LeaseHeld")
    ]
    assert errors_in(trace) == []


JOB = "roll_up_hours_saved"


def test_the_start_up_probe_of_a_scheduled_job_runs_nothing_and_counts_as_no_run(
    firebase: EmulatorSuite,
) -> None:
    """Each new worker is probed once at start-up (the emulator GETs it; the SDK hands the
    scheduled function an event without a job name). The job does not run for it, and no request
    line counts it as a run: one ``start-up probe skipped`` line says it happened."""
    start = len(json_lines())
    firebase.functions.recycle_idle_workers()  # the job's next run starts a new worker

    firebase.functions.run_scheduled(JOB)

    def of_job(message: str) -> list[Line]:
        return [
            line
            for line in json_lines()[start:]
            if line.get("function") == JOB and line.get("message") == message
        ]

    (run,) = wait_for(lambda: of_job("request") or None, message=f"{JOB} request line", timeout=90)
    wait_for(lambda: of_job("hours saved rolled up") or None, message=f"{JOB} ran")
    assert (run["kind"], run["outcome"]) == ("schedule", "ok")
    (probe,) = of_job("start-up probe skipped")
    assert (probe["kind"], probe["severity"]) == ("schedule", "INFO")
    assert len(of_job("request")) == len(of_job("hours saved rolled up")) == 1

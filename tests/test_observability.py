"""What operators see, read from the real emulator log: one request line per invocation with the
fields dashboards and alerts use, spans that continue the caller's trace across Pub/Sub and Cloud
Tasks, and no personal data anywhere in our log lines."""

from __future__ import annotations

import json
import secrets
from typing import Any

from conftest import envelope, session_doc
from emulator_log import SPAN_KEY, Line, json_lines, requests, spans, trace_id, wait_for_lines

from firebase_emulator_harness import EmulatorSuite, User
from focus.adapters import logs

CALLABLE_FIELDS = {
    "function": "launch",
    "codebase": "api",
    "kind": "callable",
    "outcome": "ok",
    "errorCode": "OK",
    "apiVersion": "2026-11-29",
    "appVersion": "3.4.0",
    "platform": "ios",
}


def traceparent() -> tuple[str, str, str]:
    """A sampled W3C traceparent as a client would send it, with its trace and span ids."""
    trace, span = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace}-{span}-01", trace, span


def trace_spans(trace: str, *, until: str) -> dict[str, Line]:
    """The spans of ``trace`` by name, once the span ``until`` (an invocation's, written last) is
    in; the first of each name (a later hop may enqueue again: a count hands off its push)."""
    wait_for_lines(
        lambda line: spans(trace)(line) and line["name"] == until, message=f"span {until}"
    )
    named: dict[str, Line] = {}
    for line in json_lines():
        if spans(trace)(line):
            named.setdefault(line["name"], line)
    return named


def worker_request(function: str, user: User) -> Line:
    """The first request line ``function`` wrote while acting for ``user``."""
    pseudonym = logs.pseudonymous_user_id(user.uid)
    (line, *_) = wait_for_lines(
        lambda line: (
            line.get("message") == "request"
            and line.get("function") == function
            and line.get("user") == pseudonym
        ),
        message=f"{function} request line",
        # Generous: after a test disables and re-enables triggers the emulator reloads every
        # codebase, which takes a while on a busy machine.
        timeout=90,
    )
    return line


def test_a_callable_logs_one_request_line_with_its_context_and_the_callers_trace(
    firebase: EmulatorSuite,
) -> None:
    user = firebase.auth.sign_up_anonymously()
    header, trace, caller_span = traceparent()

    firebase.functions.call("launch", envelope(), user=user, headers={"traceparent": header})

    (line,) = wait_for_lines(requests("launch", trace), message="launch request line")
    assert {key: line.get(key) for key in CALLABLE_FIELDS} == CALLABLE_FIELDS
    assert line["user"] == logs.pseudonymous_user_id(user.uid)
    assert isinstance(line["latencyMs"], float) and line["latencyMs"] > 0
    assert line["severity"] == "INFO"
    assert line["logging.googleapis.com/trace"] == f"projects/demo-focus/traces/{trace}"
    named = trace_spans(trace, until="launch")
    assert named["launch"]["parentSpanId"] == caller_span
    assert line[SPAN_KEY] == named["launch"]["spanId"]
    firestore = named["firestore.profiles.get_or_create"]
    assert firestore["parentSpanId"] == named["launch"]["spanId"]
    assert firestore["durationMs"] <= named["launch"]["durationMs"]


def test_a_failed_call_logs_its_error_code(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()
    header, trace, _ = traceparent()

    result = firebase.functions.call(
        "launch", envelope({"timezone": 42}), user=user, headers={"traceparent": header}
    )

    assert result.code == "INVALID_ARGUMENT"
    (line,) = wait_for_lines(requests("launch", trace), message="failed launch request line")
    assert (line["outcome"], line["errorCode"]) == ("client_error", "INVALID_ARGUMENT")
    assert trace_spans(trace, until="launch")["launch"]["status"] == "ERROR"


def test_a_pubsub_worker_continues_the_trace_of_the_trigger_that_published(
    firebase: EmulatorSuite, user: User
) -> None:
    firebase.firestore.as_owner().create(
        f"users/{user.uid}/sessions/traced", session_doc(status="completed", minutes=30)
    )

    worker = worker_request("on_session_completed", user)
    trace = trace_id(worker)
    assert trace is not None
    assert worker["outcome"] == "ok" and worker["codebase"] == "jobs"
    assert worker["eventAgeMs"] >= 0
    named = trace_spans(trace, until="on_session_completed")
    trigger, enqueue, count, publish, consume = (
        named["on_session_written"],
        named["tasks.enqueue"],
        named["countCompletedSession"],
        named["pubsub.publish"],
        named["on_session_completed"],
    )
    assert trigger["parentSpanId"] is None  # Firestore events start the trace
    assert enqueue["parentSpanId"] == trigger["spanId"]  # the hand-off to the retried task
    assert count["parentSpanId"] == enqueue["spanId"]
    assert publish["parentSpanId"] == count["spanId"]
    assert consume["parentSpanId"] == publish["spanId"]
    assert named["firestore.hours_saved.add_session"]["parentSpanId"] == consume["spanId"]
    assert worker[SPAN_KEY] == consume["spanId"]


def test_a_task_continues_the_trace_of_the_trigger_that_enqueued_it(
    firebase: EmulatorSuite, user: User
) -> None:
    firebase.firestore.as_owner().create(  # a device that went quiet an hour ago
        f"users/{user.uid}/sessions/due",
        session_doc(status="active", started_minutes_ago=25, minutes=25),
    )

    task = worker_request("completeSessionAtPlannedEnd", user)
    trace = trace_id(task)
    assert trace is not None
    assert task["eventAgeMs"] >= 0  # due at the planned end, which had passed: dispatched at once
    named = trace_spans(trace, until="completeSessionAtPlannedEnd")
    assert named["tasks.enqueue"]["parentSpanId"] == named["on_session_written"]["spanId"]
    assert named["completeSessionAtPlannedEnd"]["parentSpanId"] == named["tasks.enqueue"]["spanId"]


def test_no_personal_data_reaches_the_logs(firebase: EmulatorSuite) -> None:
    tag = secrets.token_hex(4)
    email, display_name = f"grace.{tag}@example.com", f"Grace Hopper {tag}"
    user = firebase.auth.create_user(email)
    header, trace, _ = traceparent()
    firebase.functions.call("launch", envelope(), user=user).unwrap()
    firebase.firestore.as_user(user).update(f"users/{user.uid}", {"displayName": display_name})
    firebase.firestore.as_owner().create(
        f"users/{user.uid}/sessions/s1", session_doc(status="completed", minutes=20)
    )
    answer = firebase.functions.call(
        "launch", envelope(), user=user, headers={"traceparent": header}
    ).unwrap()

    assert answer["data"]["profile"]["displayName"] == display_name  # the data did flow
    wait_for_lines(requests("launch", trace), message="launch request line")
    worker_request("on_session_written", user)
    worker_request("on_session_completed", user)
    ours = json_lines()
    leaks = [line for line in ours if _mentions(line, user.uid, email, display_name)]
    assert leaks == []
    pseudonym = logs.pseudonymous_user_id(user.uid)
    assert sum(line.get("user") == pseudonym for line in ours) >= 3


def _mentions(line: dict[str, Any], *secrets_: str) -> bool:
    text = json.dumps(line)
    return any(secret in text for secret in secrets_)

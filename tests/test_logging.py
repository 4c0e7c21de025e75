"""Log lines as Cloud Logging reads them: severity, message, trace correlation, no personal data."""

from __future__ import annotations

import io
import json
import os

import pytest

from focus.adapters import logs


@pytest.fixture
def log_lines() -> io.StringIO:
    os.environ.setdefault("GCLOUD_PROJECT", "demo-focus")
    stream = io.StringIO()
    logs.configure("api", stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_line_carries_severity_trace_and_context_but_no_user_id(
    log_lines: io.StringIO,
) -> None:
    trace = logs.trace_from_headers(
        {"X-Cloud-Trace-Context": "4bf92f3577b34da6a3ce929d0e0e4736/1234;o=1"}
    )
    logs.bind_invocation(
        function="launch", trace=trace, user_id="uid-ada-123", app_version="3.4.0", platform="ios"
    )

    logs.get_logger().warning("request", outcome="client_error", errorCode="INVALID_ARGUMENT")

    (line,) = lines(log_lines)
    assert line["severity"] == "WARNING"
    assert line["message"] == "request"
    assert line["codebase"] == "api"
    assert line["function"] == "launch"
    assert line["appVersion"] == "3.4.0"
    assert line["platform"] == "ios"
    assert (
        line["logging.googleapis.com/trace"]
        == "projects/demo-focus/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    )
    assert line["logging.googleapis.com/spanId"] == format(1234, "016x")
    assert line["logging.googleapis.com/trace_sampled"] is True
    assert "uid-ada-123" not in json.dumps(line)
    assert line["user"] == logs.pseudonymous_user_id("uid-ada-123")


def test_w3c_traceparent_is_understood() -> None:
    trace = logs.trace_from_headers(
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}
    )

    assert trace == logs.TraceContext("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", False)


def test_missing_or_garbled_trace_headers_mean_no_trace() -> None:
    assert logs.trace_from_headers({}) is None
    assert logs.trace_from_headers({"X-Cloud-Trace-Context": "not-a-trace"}) is None


def test_pseudonyms_are_stable_and_distinct() -> None:
    os.environ.setdefault("GCLOUD_PROJECT", "demo-focus")
    assert logs.pseudonymous_user_id("a") == logs.pseudonymous_user_id("a")
    assert logs.pseudonymous_user_id("a") != logs.pseudonymous_user_id("b")


def test_each_invocation_starts_with_fresh_context(log_lines: io.StringIO) -> None:
    logs.bind_invocation(function="first", user_id="u1", platform="android")
    logs.bind_invocation(function="second")

    logs.get_logger().info("hello")

    (line,) = lines(log_lines)
    assert line["function"] == "second"
    assert "user" not in line and "platform" not in line


def test_a_missing_pseudonym_key_fails_loudly_outside_the_emulators(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in (logs.PSEUDONYM_KEY_SECRET, "FIRESTORE_EMULATOR_HOST", "FUNCTIONS_EMULATOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(logs, "project_id", lambda: "focus-production")

    with pytest.raises(logs.MissingPseudonymKey, match="USER_PSEUDONYM_KEY"):
        logs.pseudonymous_user_id("uid-ada-123")

    monkeypatch.setenv(logs.PSEUDONYM_KEY_SECRET, "a-long-random-production-key")
    keyed = logs.pseudonymous_user_id("uid-ada-123")
    monkeypatch.setattr(logs, "project_id", lambda: "demo-focus")
    monkeypatch.delenv(logs.PSEUDONYM_KEY_SECRET)
    # A demo project (never real data) uses the emulator's key; it differs from the real one.
    assert logs.pseudonymous_user_id("uid-ada-123") != keyed


def test_sampled_spans_are_exported_when_the_invocation_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Production batches spans in a background thread that a throttled instance may never run:
    each sampled invocation flushes its spans before it returns."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from focus.adapters import tracing

    exporter = InMemorySpanExporter()
    # A batch that would wait a minute before exporting on its own.
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    for var in ("FIRESTORE_EMULATOR_HOST", "FUNCTIONS_EMULATOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(tracing, "_exporter_processor", lambda: processor)
    tracing._provider.cache_clear()
    try:
        sampled = {"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"}
        with (
            tracing.invocation("countCompletedSession", kind="task", carrier=sampled),
            tracing.span("firestore.sessions.count"),
        ):
            pass
        names = [span.name for span in exporter.get_finished_spans()]
        assert names == ["firestore.sessions.count", "countCompletedSession"]

        unsampled = {"traceparent": f"00-{'ef' * 16}-{'cd' * 8}-00"}
        with tracing.invocation("deriveDays", kind="task", carrier=unsampled):
            pass
        assert len(exporter.get_finished_spans()) == 2  # nothing recorded, nothing flushed
    finally:
        processor.shutdown()
        tracing._provider.cache_clear()

"""Traces: one span per invocation, child spans around Firestore, Pub/Sub and Cloud Tasks calls.

The trace continues across hops: an invocation continues the trace of its caller (W3C
``traceparent`` or Google's ``X-Cloud-Trace-Context``, from request headers or Pub/Sub message
attributes), and ``outgoing_headers`` hands the current span on to the messages and tasks it sends.

Where spans go:
  production  Cloud Trace, if ``opentelemetry-exporter-gcp-trace`` is installed (imported only
              there, on first use: it costs ~0.2 s to import), sampled at
              ``FOCUS_TRACE_SAMPLE_RATIO`` (default 1%) unless the caller already decided;
  emulator    every span is sampled and logged as one JSON line (``message: "span"``) so tests and
              developers see traces in the emulator log without any backend.

OpenTelemetry itself (~50 ms to import) is imported on the first invocation, not at cold start.

Spans are exported in batches, in a background thread; after an invocation answers, Cloud Run
throttles the instance's CPU, so a batch left waiting might never be sent. ``invocation``
therefore flushes at the end of every sampled invocation (``FLUSH_TIMEOUT_MILLIS`` at most).
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from focus.adapters import logs
from focus.adapters.environment import is_emulated
from focus.adapters.iam import Need

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.trace import Span, Tracer

TRACER_NAME = "focus"
DEFAULT_SAMPLE_RATIO = 0.01
FLUSH_TIMEOUT_MILLIS = 2000
F = TypeVar("F", bound=Callable[..., Any])


def _log_span(span: ReadableSpan) -> None:
    context = span.get_span_context()
    if context is None or span.start_time is None or span.end_time is None:
        return
    logs.get_logger().info(
        "span",
        name=span.name,
        traceId=format(context.trace_id, "032x"),
        spanId=format(context.span_id, "016x"),
        parentSpanId=format(span.parent.span_id, "016x") if span.parent else None,
        durationMs=round((span.end_time - span.start_time) / 1e6, 2),
        status=span.status.status_code.name,
    )


# IAM (focus_tools.permissions): exporting spans writes them to Cloud Trace.
NEEDS = {"_exporter_processor": (Need("cloudtrace.traces.patch", why="export spans"),)}


def _exporter_processor() -> Any | None:
    """A batch processor exporting to Cloud Trace, or None when the exporter is not installed."""
    try:
        from opentelemetry.exporter.cloud_trace import CloudTraceSpanExporter
    except ImportError:
        return None
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(CloudTraceSpanExporter())  # type: ignore[no-untyped-call]


@functools.cache
def _provider() -> TracerProvider:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased

    class LogSpanProcessor(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            _log_span(span)

    if is_emulated():
        provider = TracerProvider(sampler=ALWAYS_ON)
        provider.add_span_processor(LogSpanProcessor())
        return provider
    ratio = float(os.environ.get("FOCUS_TRACE_SAMPLE_RATIO", DEFAULT_SAMPLE_RATIO))
    provider = TracerProvider(sampler=ParentBased(root=TraceIdRatioBased(ratio)))
    if (processor := _exporter_processor()) is not None:
        provider.add_span_processor(processor)
    return provider


def _tracer() -> Tracer:
    return _provider().get_tracer(TRACER_NAME)


def _remote_parent(carrier: Mapping[str, str]) -> Any:
    """The OpenTelemetry context of the caller's span, or None to start a new trace."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    incoming = logs.trace_from_headers(carrier)
    if incoming is None:
        return None
    # X-Cloud-Trace-Context may name no span; a made-up parent id still keeps the trace id.
    span_id = int(incoming.span_id, 16) if incoming.span_id else random.getrandbits(64)
    parent = SpanContext(
        trace_id=int(incoming.trace_id, 16),
        span_id=span_id,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED if incoming.sampled else TraceFlags.DEFAULT),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


def _trace_context(span: Span) -> logs.TraceContext:
    context = span.get_span_context()
    return logs.TraceContext(
        trace_id=format(context.trace_id, "032x"),
        span_id=format(context.span_id, "016x"),
        sampled=context.trace_flags.sampled,
    )


@contextmanager
def invocation(
    name: str, *, kind: str, carrier: Mapping[str, str] | None = None
) -> Iterator[logs.TraceContext]:
    """The span of one function invocation, continuing the caller's trace found in ``carrier``
    (headers or message attributes). Yields the trace context to bind into the logs."""
    from opentelemetry.trace import SpanKind

    span_kind = SpanKind.CONSUMER if kind in ("pubsub", "task") else SpanKind.SERVER
    sampled = False
    try:
        with _tracer().start_as_current_span(
            name,
            context=_remote_parent(carrier or {}),
            kind=span_kind,
            attributes={"focus.kind": kind, "faas.name": name},
        ) as span:
            sampled = span.get_span_context().trace_flags.sampled
            yield _trace_context(span)
    finally:
        if sampled:
            flush()


def flush() -> None:
    """Export every finished span now (before the instance is throttled); on the emulators,
    spans are logged as they end and there is nothing to do."""
    if not is_emulated():
        _provider().force_flush(timeout_millis=FLUSH_TIMEOUT_MILLIS)


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[None]:
    """A child span around one outgoing call (a Firestore transaction, a publish, an enqueue)."""
    from opentelemetry.trace import SpanKind

    with _tracer().start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
        yield


def traced(name: str) -> Callable[[F], F]:
    """Decorate a repository or client call so it runs in a child span called ``name``."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with span(name):
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate


def outgoing_headers() -> dict[str, str]:
    """``traceparent`` for the current span, to send with a message or task (empty outside a span)."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier

"""One logging configuration for every codebase: one JSON object per line, as Cloud Logging reads it.

Cloud Logging lifts ``severity``, ``message`` and the ``logging.googleapis.com/*`` keys out of a
JSON line written to stdout, which correlates the line with the request's trace. Context (function,
codebase, pseudonymous user, app version/platform, trace) is bound once per invocation with
``bind_invocation`` and carried by contextvars into every line the invocation writes.

No personal data goes into logs: users appear only as a keyed hash (``pseudonymous_user_id``),
made with the current key of a versioned key ring (``pseudonyms_of``: under every key still held).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from focus.adapters.environment import is_emulated, project_id
from focus.adapters.iam import SECRET, Need

_SEVERITY = {
    "debug": "DEBUG",
    "info": "INFO",
    "warning": "WARNING",
    "warn": "WARNING",
    "error": "ERROR",
    "exception": "ERROR",
    "critical": "CRITICAL",
}
_TRACE_KEY = "logging.googleapis.com/trace"
_SPAN_KEY = "logging.googleapis.com/spanId"
_SAMPLED_KEY = "logging.googleapis.com/trace_sampled"


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str | None
    sampled: bool


_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d+))?(?:;o=([01]))?")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def trace_from_headers(headers: Mapping[str, str]) -> TraceContext | None:
    """The trace a request belongs to, from W3C ``traceparent`` or ``X-Cloud-Trace-Context``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if match := _TRACEPARENT.match(lowered.get("traceparent", "").strip()):
        return TraceContext(match[1], match[2], match[3] == "01")
    if match := _CLOUD_TRACE.match(lowered.get("x-cloud-trace-context", "").strip()):
        span = format(int(match[2]), "016x") if match[2] else None
        return TraceContext(match[1].lower(), span, match[3] == "1")
    return None


PSEUDONYM_KEY_SECRET = "USER_PSEUDONYM_KEY"
# IAM (focus_tools.permissions): reading the keys is reading their Secret Manager secret.
NEEDS = {
    "_pseudonym_keys": (
        Need("secretmanager.versions.access", SECRET, PSEUDONYM_KEY_SECRET, why="pseudonyms"),
    ),
}


class MissingPseudonymKey(RuntimeError):
    """``USER_PSEUDONYM_KEY`` is not set outside the emulators: nothing may be pseudonymised
    (logged users, erasure ids) with a key anyone can compute."""


class MalformedPseudonymKeys(RuntimeError):
    """``USER_PSEUDONYM_KEY`` looks like a key ring but cannot be read: nothing is pseudonymised
    rather than with a key guessed from it. The message never contains key material."""


@dataclass(frozen=True)
class PseudonymKey:
    version: int
    secret: bytes = field(repr=False)


# The secret's value is a key ring: entries ``v<N>:<key>`` separated by spaces, commas or new
# lines, the current key (every new pseudonym) first, then the retained ones (pseudonyms they made
# are still found: erasure ids, log lines). A value not starting ``v<N>:`` is a single key, version
# 1: the format before rotation existed, so its pseudonyms are unchanged.
# docs/runbooks/pseudonym-key-rotation.md
_KEY_RING = re.compile(r"v[1-9][0-9]*:")
_KEY_ENTRY = re.compile(r"v([1-9][0-9]*):(\S+)")


def parse_key_ring(value: str) -> tuple[PseudonymKey, ...]:
    """The keys a ``USER_PSEUDONYM_KEY`` value holds, the current one first."""
    if not _KEY_RING.match(value.lstrip()):
        return (PseudonymKey(1, value.encode()),)
    keys = []
    for position, entry in enumerate(re.split(r"[\s,]+", value.strip()), start=1):
        match = _KEY_ENTRY.fullmatch(entry)
        if match is None:
            raise MalformedPseudonymKeys(
                f"{PSEUDONYM_KEY_SECRET}: entry {position} is not v<version>:<key>"
            )
        keys.append(PseudonymKey(int(match[1]), match[2].encode()))
    versions = [key.version for key in keys]
    if len(set(versions)) != len(versions):
        raise MalformedPseudonymKeys(f"{PSEUDONYM_KEY_SECRET}: a key version appears twice")
    return tuple(keys)


def _pseudonym_keys() -> tuple[PseudonymKey, ...]:
    # In production the key ring is a Secret Manager secret exposed as this variable. On the
    # emulators (and for demo projects, which never hold real data) the key scripts/setup gives
    # the emulator is derived from the demo project id, so tests, scripts and functions compute
    # the same pseudonyms. Anywhere else a missing key fails loudly: a key derived from the
    # project id is public, and erasure ids are pseudonyms too.
    value = os.environ.get(PSEUDONYM_KEY_SECRET)
    if value:
        return parse_key_ring(value)
    project = project_id()
    if is_emulated() or project.startswith("demo-"):
        return (PseudonymKey(1, f"emulator:{project}".encode()),)
    raise MissingPseudonymKey(
        f"{PSEUDONYM_KEY_SECRET} is not set for project {project}: set the secret "
        "(npx firebase functions:secrets:set USER_PSEUDONYM_KEY) or the variable"
    )


def _pseudonym(key: PseudonymKey, uid: str) -> str:
    digest = hmac.new(key.secret, uid.encode(), hashlib.sha256).hexdigest()[:20]
    # Version 1 pseudonyms keep the form they had before key versions (erasure audit records
    # are keyed by them for three years); later ones say which key made them.
    return digest if key.version == 1 else f"v{key.version}-{digest}"


def pseudonymous_user_id(uid: str) -> str:
    """A stable, non-reversible id for a user in logs: joinable across lines, not to a person.
    Made with the current key."""
    return _pseudonym(_pseudonym_keys()[0], uid)


def pseudonyms_of(uid: str) -> tuple[str, ...]:
    """The user's pseudonym under every key the service still holds, the current one first:
    what finds the records made before a key rotation (erasure ids, log lines)."""
    return tuple(_pseudonym(key, uid) for key in _pseudonym_keys())


def _cloud_logging_fields(_: Any, method: str, event: MutableMapping[str, Any]) -> Any:
    event["severity"] = _SEVERITY.get(method, "DEFAULT")
    event["message"] = event.pop("event", "")
    trace = event.pop("trace", None)
    if isinstance(trace, TraceContext):
        event[_TRACE_KEY] = f"projects/{project_id()}/traces/{trace.trace_id}"
        if trace.span_id:
            event[_SPAN_KEY] = trace.span_id
        event[_SAMPLED_KEY] = trace.sampled
    return event


_configured = False
# The process serves one codebase; requests run on worker threads whose contextvars start empty,
# so the codebase is process state rather than context.
_codebase: str | None = None


def _add_codebase(_: Any, __: str, event: MutableMapping[str, Any]) -> Any:
    if _codebase is not None:
        event.setdefault("codebase", _codebase)
    return event


def configure(codebase: str, *, stream: Any = None) -> None:
    """Configure structlog once per process for ``codebase`` (``stream`` defaults to stdout)."""
    global _configured, _codebase
    _codebase = codebase
    if _configured and stream is None:
        return
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_codebase,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
            structlog.processors.format_exc_info,
            _cloud_logging_fields,
            structlog.processors.JSONRenderer(sort_keys=False, default=str),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.WriteLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
    _configured = True


def bind_invocation(
    *,
    function: str,
    trace: TraceContext | None = None,
    user_id: str | None = None,
    app_version: str | None = None,
    platform: str | None = None,
    api_version: str | None = None,
    queue: str | None = None,
) -> None:
    """Bind one invocation's context; everything logged until the next bind carries it."""
    structlog.contextvars.clear_contextvars()
    context: dict[str, Any] = {"function": function}
    if queue is not None:
        context["queue"] = queue
    if trace is not None:
        context["trace"] = trace
    if user_id is not None:
        context["user"] = pseudonymous_user_id(user_id)
    if app_version is not None:
        context["appVersion"] = app_version
    if platform is not None:
        context["platform"] = platform
    if api_version is not None:
        context["apiVersion"] = api_version
    structlog.contextvars.bind_contextvars(**context)


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)


def get_logger() -> Any:
    return structlog.get_logger()


def bind_user(uid: str) -> None:
    """Attach the (pseudonymised) user an event handler acts for."""
    structlog.contextvars.bind_contextvars(user=pseudonymous_user_id(uid))

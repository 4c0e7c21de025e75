"""A local server that speaks Firebase Cloud Messaging's HTTP v1 send API.

FCM has no emulator. This server lets the production client (the Admin SDK, or any HTTP client)
send to ``POST /v1/projects/{project}/messages:send`` on this machine: it answers as Google does,
records every message it receives, and fails on demand with Google's own error responses
(``{"error": {"code", "message", "status", "details"}}`` with an ``FcmError`` detail, the shape
the Admin SDK maps to ``UnregisteredError``, ``QuotaExceededError`` and the rest).

    with FcmServer() as fcm:
        os.environ["MY_FCM_ENDPOINT"] = fcm.url   # however the code under test selects it
        ...
        fcm.fail("token-1", FcmError.UNREGISTERED)
        fcm.received()

Any ``Authorization: Bearer ...`` is accepted (there is nobody to check it against); a request
without one is refused with 401, as Google refuses it. ``quota(limit, window_seconds)`` answers
429 ``QUOTA_EXCEEDED`` with ``Retry-After`` beyond ``limit`` messages per window.

A test in another process steers the same server over HTTP, through its control API under
``/_fcm/`` (no FCM path starts so): ``GET /_fcm/messages`` answers ``{"messages": [...]}``
(each a ``ReceivedMessage.to_json()``); ``POST /_fcm/fail`` (``{"token", "error", "times",
"retry_after"}``), ``POST /_fcm/quota`` (``{"limit", "window_seconds"}``) and ``POST /_fcm/reset``
do what the methods of the same names do and answer ``{}``; a malformed request is answered
400 ``{"error": "<what is wrong>"}``. ``fcm_control.FcmRemote(url)`` is its client, with the
methods of ``FcmServer``.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler
from typing import Any

from firebase_emulator_harness.local_server import (
    JsonHandler,
    LocalServer,
    answer_control,
    enum_field,
    take_failure,
)
from firebase_emulator_harness.values import JsonObject

_SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
CONTROL_PATH = "/_fcm/"  # the control API's paths: kept apart from FCM's own
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


class FcmError(StrEnum):
    """The FCM v1 error codes the server can answer with (FCM's ``ErrorCode`` enum)."""

    UNREGISTERED = "UNREGISTERED"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    SENDER_ID_MISMATCH = "SENDER_ID_MISMATCH"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


# HTTP status, canonical gRPC status and message of each, as FCM answers them.
_ANSWERS: dict[FcmError, tuple[int, str, str]] = {
    FcmError.UNREGISTERED: (404, "NOT_FOUND", "Requested entity was not found."),
    FcmError.INVALID_ARGUMENT: (
        400,
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    FcmError.SENDER_ID_MISMATCH: (403, "PERMISSION_DENIED", "SenderId mismatch"),
    FcmError.QUOTA_EXCEEDED: (429, "RESOURCE_EXHAUSTED", "Quota exceeded for sending messages."),
    FcmError.UNAVAILABLE: (503, "UNAVAILABLE", "The service is currently unavailable."),
    FcmError.INTERNAL: (500, "INTERNAL", "Internal error encountered."),
}


@dataclass(frozen=True)
class ReceivedMessage:
    """One send request that reached the server with a bearer and a well-formed body.
    ``status`` is the HTTP status answered; ``name`` the message name when it was accepted."""

    at: datetime
    project: str
    message: JsonObject
    validate_only: bool
    status: int
    name: str | None

    @property
    def token(self) -> str | None:
        token = self.message.get("token")
        return token if isinstance(token, str) else None

    @property
    def accepted(self) -> bool:
        return self.status == 200

    def to_json(self) -> JsonObject:
        """How the control API lists it (``GET /_fcm/messages``)."""
        return {
            "at": self.at.isoformat(),
            "project": self.project,
            "message": self.message,
            "validate_only": self.validate_only,
            "status": self.status,
            "name": self.name,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> ReceivedMessage:
        """The inverse of ``to_json``; ``ValueError`` if ``data`` is not one."""
        at, project, message = data.get("at"), data.get("project"), data.get("message")
        validate_only, status = data.get("validate_only"), data.get("status")
        name = data.get("name")
        if not (
            isinstance(at, str)
            and isinstance(project, str)
            and isinstance(message, dict)
            and isinstance(validate_only, bool)
            and isinstance(status, int)
            and (name is None or isinstance(name, str))
        ):
            raise ValueError(f"not a received message: {data!r}")
        return cls(datetime.fromisoformat(at), project, message, validate_only, status, name)


@dataclass
class _Failure:
    error: FcmError
    remaining: int | None  # requests left to fail; None: until reset
    retry_after: int


class FcmServer(LocalServer):
    """The local FCM endpoint; ``url`` (``http://127.0.0.1:<port>``) is its base URL once
    started (``start``/``stop``, or ``with``). Thread-safe: the client may send concurrently
    (``send_each`` does)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        # send_each opens one connection per message, up to 500 at once: a small backlog would
        # refuse most of them.
        super().__init__(host, port, name="FCM", backlog=1024)
        self._lock = threading.Lock()
        self._received: list[ReceivedMessage] = []
        self._failures: dict[str | None, _Failure] = {}  # None: every token
        self._quota: tuple[int, float] | None = None
        self._window: tuple[float, int] = (0.0, 0)  # start (monotonic), messages counted

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- what tests ask of it

    def received(self) -> list[ReceivedMessage]:
        """Every message received so far, in arrival order (failed ones included)."""
        with self._lock:
            return list(self._received)

    def fail(
        self,
        token: str | None,
        error: FcmError,
        *,
        times: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Answer ``error`` to messages for ``token`` (``None``: for every token), the next
        ``times`` of them or until ``reset()``. ``retry_after`` (seconds) goes into the
        ``Retry-After`` header of ``QUOTA_EXCEEDED`` answers."""
        with self._lock:
            self._failures[token] = _Failure(error, times, retry_after)

    def quota(self, limit: int, window_seconds: float) -> None:
        """Accept at most ``limit`` messages per ``window_seconds`` (a window opens with the
        first message after the previous one closed); beyond that answer 429 ``QUOTA_EXCEEDED``
        with ``Retry-After``: the whole seconds until the window closes."""
        with self._lock:
            self._quota = (limit, window_seconds)
            self._window = (0.0, 0)

    def reset(self) -> None:
        """Forget received messages, injected failures and the quota."""
        with self._lock:
            self._received.clear()
            self._failures.clear()
            self._quota = None
            self._window = (0.0, 0)

    # -- answering (called by the request handler threads)

    def _answer(self, project: str, body: JsonObject) -> tuple[int, JsonObject, dict[str, str]]:
        message = body["message"]
        assert isinstance(message, dict)
        token = message.get("token")
        validate_only = body.get("validate_only") is True
        with self._lock:
            status, answer, headers = self._decide(project, token, validate_only)
            name = answer.get("name")
            self._received.append(
                ReceivedMessage(
                    at=datetime.now(UTC),
                    project=project,
                    message=message,
                    validate_only=validate_only,
                    status=status,
                    name=name if isinstance(name, str) else None,
                )
            )
        return status, answer, headers

    def _decide(
        self, project: str, token: Any, validate_only: bool
    ) -> tuple[int, JsonObject, dict[str, str]]:
        failure = take_failure(self._failures, token)
        if failure is not None:
            headers = (
                {"Retry-After": str(failure.retry_after)}
                if failure.error is FcmError.QUOTA_EXCEEDED
                else {}
            )
            return *fcm_error_body(failure.error), headers
        if self._quota is not None and not validate_only:
            limit, window = self._quota
            now = time.monotonic()
            start, count = self._window
            if now - start >= window:
                start, count = now, 0
            if count >= limit:
                wait = max(1, math.ceil(start + window - now))
                return *fcm_error_body(FcmError.QUOTA_EXCEEDED), {"Retry-After": str(wait)}
            self._window = (start, count + 1)
        # A dry run validates without sending; FCM names it with this fixed id.
        message_id = "fake_message_id" if validate_only else uuid.uuid4().hex
        return 200, {"name": f"projects/{project}/messages/{message_id}"}, {}


def fcm_error_body(error: FcmError) -> tuple[int, JsonObject]:
    """The HTTP status and JSON body FCM answers for ``error``."""
    code, status, message = _ANSWERS[error]
    details: list[Any] = [{"@type": _FCM_ERROR_TYPE, "errorCode": error.value}]
    if error is FcmError.INVALID_ARGUMENT:
        violation = {"field": "message.token", "description": "Invalid registration token"}
        details.append({"@type": _BAD_REQUEST_TYPE, "fieldViolations": [violation]})
    return code, _google_error(code, status, message, details)


def _google_error(code: int, status: str, message: str, details: list[Any]) -> JsonObject:
    error: JsonObject = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def _invalid_body(field: str, description: str) -> tuple[int, JsonObject]:
    violation = {"field": field, "description": description}
    details = [{"@type": _BAD_REQUEST_TYPE, "fieldViolations": [violation]}]
    message = f"Invalid JSON payload received. {description}"
    return 400, _google_error(400, "INVALID_ARGUMENT", message, details)


def _shape_problem(body: Any) -> tuple[int, JsonObject] | None:
    """What is wrong with a send request's body, minimally: a ``message`` object with exactly
    one target (``token``, ``fid``, ``topic`` or ``condition``) and an optional boolean ``validate_only``."""
    if not isinstance(body, dict):
        return _invalid_body("", "The request body must be a JSON object.")
    unknown = set(body) - {"message", "validate_only"}
    if unknown:
        return _invalid_body(sorted(unknown)[0], "Unknown name: cannot find field.")
    if "validate_only" in body and not isinstance(body["validate_only"], bool):
        return _invalid_body("validate_only", "validate_only must be a boolean.")
    message = body.get("message")
    if not isinstance(message, dict):
        return _invalid_body("message", "message must be an object.")
    targets = [key for key in ("token", "fid", "topic", "condition") if key in message]
    if len(targets) != 1 or not isinstance(message[targets[0]], str) or not message[targets[0]]:
        return _invalid_body(
            "message", "Exactly one of token, fid, topic or condition is required."
        )
    return None


def _steer_fail(fcm: FcmServer, body: JsonObject) -> None:
    token = body.get("token")
    if "token" not in body or not (token is None or isinstance(token, str)):
        raise ValueError("token must be a string, or null for every token")
    fcm.fail(
        token,
        enum_field(FcmError, body.get("error"), "error"),
        times=_optional_count(body.get("times"), "times"),
        retry_after=_count(body.get("retry_after", 1), "retry_after"),
    )


def _steer_quota(fcm: FcmServer, body: JsonObject) -> None:
    window = body.get("window_seconds")
    if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
        raise ValueError("window_seconds must be a positive number")
    fcm.quota(_count(body.get("limit"), "limit"), float(window))


# The control API's actions (``POST /_fcm/<action>``): each does what the method of its name does.
_CONTROL_ACTIONS: dict[str, Callable[[FcmServer, JsonObject], None]] = {
    "fail": _steer_fail,
    "quota": _steer_quota,
    "reset": lambda fcm, _: fcm.reset(),
}


def _optional_count(value: Any, field: str) -> int | None:
    return None if value is None else _count(value, field)


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{field} must be a whole number >= 0, got {value!r}")
    return value


def _handler_for(fcm: FcmServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            if self._request_path() == f"{CONTROL_PATH}messages":
                self._reply(200, {"messages": [m.to_json() for m in fcm.received()]})
            else:
                self._reply(404, _google_error(404, "NOT_FOUND", "Not found.", []))

        def do_POST(self) -> None:  # noqa: N802
            raw = self._request_body()
            path = self._request_path()
            if path.startswith(CONTROL_PATH):
                action = path.removeprefix(CONTROL_PATH)
                self._reply(*answer_control(fcm, _CONTROL_ACTIONS, action, raw))
                return
            match = _SEND_PATH.match(path)
            if match is None:
                self._reply(404, _google_error(404, "NOT_FOUND", "Not found.", []))
                return
            if not self._has_bearer():
                message = (
                    "Request is missing required authentication credential. Expected OAuth 2 "
                    "access token, login cookie or other valid authentication credential."
                )
                self._reply(401, _google_error(401, "UNAUTHENTICATED", message, []))
                return
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                self._reply(*_invalid_body("", "The request body is not JSON."))
                return
            problem = _shape_problem(body)
            if problem is not None:
                self._reply(*problem)
                return
            self._reply(*fcm._answer(match["project"], body))

    return Handler

"""A local server that speaks Vertex AI's ``generateContent`` (Gemini), answering what a test scripts.

Vertex AI has no emulator. This server answers
``POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent``
(and the same under ``/v1beta1/``, the SDK's default version) with the shapes Vertex uses, so the
production client (``google.genai.Client(vertexai=True, project=..., location=...,
credentials=<any token>, http_options=HttpOptions(base_url=<this server's url>, ...))``, or any
HTTP client) talks to it unchanged. As Vertex does, it answers 401 to a request without
``Authorization: Bearer ...`` (any bearer is accepted: there is nobody to check it against) and
400 ``INVALID_ARGUMENT`` to a body that is no JSON object with ``contents``.

A model's answers cannot be predicted, so a test scripts them, in order, one per request:

* ``answer(text)``: a candidate whose only part is ``text`` (valid JSON or not: the server does
  not look), finished ``STOP`` unless ``finish_reason`` says otherwise (``MAX_TOKENS`` ...);
* ``block(reason)``: the prompt was blocked: no candidate, ``promptFeedback.blockReason``;
* ``stop_for_safety()``: a candidate stopped with ``finishReason: SAFETY`` and no content;
* ``fail(error)``: Google's error body and status (``VertexError``: 429, 500, 503, 400).

Each may wait ``delay_seconds`` before answering (for a client's timeout). With nothing
scripted, a request gets ``DEFAULT_ANSWER`` (``{}``, finished ``STOP``): the server knows no
product and no schema, so an unscripted request gets an answer that is valid JSON and fits
nothing useful, which a caller validating its answers must refuse. Every answer but an error
carries ``usageMetadata``, counted as a quarter token per character (``tokens``) of the prompt
(every ``text`` part of ``contents`` and ``systemInstruction``) and of the answer, so a caller's
cost accounting has figures to check.

    with VertexServer() as vertex:
        vertex.answer('{"headline": "..."}')
        vertex.fail(VertexError.RESOURCE_EXHAUSTED)
        ...
        [first, second] = vertex.requests()
        first.prompt, first.generation_config["responseMimeType"]

A test in another process steers the same server through its control API under ``/_vertex/`` (no
Google path starts so; no bearer needed): ``POST /_vertex/answer`` (``{"text", "finishReason",
"delaySeconds"}``), ``POST /_vertex/block`` (``{"reason", "delaySeconds"}``), ``POST
/_vertex/safety`` (``{"delaySeconds"}``), ``POST /_vertex/fail`` (``{"error", "delaySeconds"}``)
and ``POST /_vertex/reset`` do what the methods of the same names do and answer ``{}``; ``GET
/_vertex/requests`` answers ``{"requests": [...]}`` (each a ``ReceivedRequest.to_json()``). A
malformed control request is answered 400 ``{"error": "<what is wrong>"}`` and changes nothing.
``VertexRemote(url)`` is its client, with the methods of ``VertexServer``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler

from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.local_server import (
    TIMEOUT_S,
    ControlClient,
    JsonHandler,
    LocalServer,
    answer_control,
    enum_field,
)
from firebase_emulator_harness.values import JsonObject, JsonValue, json_object

CONTROL_PATH = "/_vertex/"  # the control API's paths: kept apart from Google's own
_GENERATE_PATH = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/google/models/(?P<model>[^/:]+):generateContent$"
)
DEFAULT_ANSWER = "{}"  # what a request gets when nothing is scripted
CHARACTERS_PER_TOKEN = 4  # roughly, for Gemini's tokenizer on English text


class VertexError(StrEnum):
    """What the server can answer instead of a generation, as Vertex answers it."""

    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"  # 429: quota or shared capacity, try later
    INTERNAL = "INTERNAL"  # 500
    UNAVAILABLE = "UNAVAILABLE"  # 503
    INVALID_ARGUMENT = "INVALID_ARGUMENT"  # 400: the request itself is wrong


# HTTP status and message of each.
_ERRORS: dict[VertexError, tuple[int, str]] = {
    VertexError.RESOURCE_EXHAUSTED: (
        429,
        "Resource exhausted. Please try again later. Please refer to "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
    ),
    VertexError.INTERNAL: (500, "Internal error encountered."),
    VertexError.UNAVAILABLE: (503, "The service is currently unavailable."),
    VertexError.INVALID_ARGUMENT: (400, "Request contains an invalid argument."),
}


class BlockReason(StrEnum):
    """``promptFeedback.blockReason`` of a blocked prompt."""

    SAFETY = "SAFETY"
    PROHIBITED_CONTENT = "PROHIBITED_CONTENT"
    BLOCKLIST = "BLOCKLIST"
    OTHER = "OTHER"


_SAFETY_RATINGS: list[JsonValue] = [
    {
        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
        "probability": "HIGH",
        "probabilityScore": 0.93,
        "severity": "HARM_SEVERITY_HIGH",
        "severityScore": 0.88,
        "blocked": True,
    }
]


@dataclass(frozen=True)
class _Scripted:
    """One scripted answer: exactly one of ``text``, ``block``, ``safety`` and ``error``."""

    text: str | None = None
    finish_reason: str = "STOP"
    block: BlockReason | None = None
    safety: bool = False
    error: VertexError | None = None
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    """One ``generateContent`` request, as it arrived: the path's parts, the JSON ``body`` and
    the ``X-Server-Timeout`` header (seconds, as the SDK sends its timeout), if any."""

    api_version: str
    project: str
    location: str
    model: str
    body: JsonObject
    server_timeout: str | None

    @property
    def prompt(self) -> str:
        """Every ``text`` part of the user's ``contents``, joined by newlines."""
        return "\n".join(_texts(self.body.get("contents")))

    @property
    def system_instruction(self) -> str | None:
        instruction = self.body.get("systemInstruction")
        return "\n".join(_texts([instruction])) if instruction is not None else None

    @property
    def generation_config(self) -> JsonObject:
        config = self.body.get("generationConfig")
        return config if isinstance(config, dict) else {}

    def to_json(self) -> JsonObject:
        return {
            "apiVersion": self.api_version,
            "project": self.project,
            "location": self.location,
            "model": self.model,
            "body": self.body,
            "serverTimeout": self.server_timeout,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> ReceivedRequest:
        """The request ``to_json`` gave; ``ValueError`` if ``data`` is not one."""
        names = ("apiVersion", "project", "location", "model")
        parts = [data.get(name) for name in names]
        body, timeout = data.get("body"), data.get("serverTimeout")
        if not (
            all(isinstance(part, str) for part in parts)
            and isinstance(body, dict)
            and (timeout is None or isinstance(timeout, str))
        ):
            raise ValueError(f"not a received request: {data!r}")
        version, project, location, model = (str(part) for part in parts)
        return cls(version, project, location, model, body, timeout)


def _texts(contents: JsonValue) -> list[str]:
    """The ``text`` of every part of every content in ``contents`` (a list of contents)."""
    found: list[str] = []
    for content in contents if isinstance(contents, list) else []:
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                found.append(str(part["text"]))
    return found


def tokens(text: str) -> int:
    """The tokens the server counts for ``text``: a quarter per character, at least one for any
    text."""
    return max(1, len(text) // CHARACTERS_PER_TOKEN) if text else 0


class VertexServer(LocalServer):
    """The local Vertex AI ``generateContent``; ``url`` (``http://127.0.0.1:<port>``) is its base
    URL once started (``start``/``stop``, or ``with``). Thread-safe."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, name="Vertex")
        self._lock = threading.Lock()
        self._script: deque[_Scripted] = deque()
        self._requests: list[ReceivedRequest] = []
        self._answered = 0  # numbers responseId

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- what tests ask of it

    def answer(self, text: str, *, finish_reason: str = "STOP", delay_seconds: float = 0) -> None:
        """Script the next answer: a candidate whose only part is ``text``,
        finished ``finish_reason``."""
        self._push(_Scripted(text=text, finish_reason=finish_reason, delay_seconds=delay_seconds))

    def block(self, reason: BlockReason = BlockReason.SAFETY, *, delay_seconds: float = 0) -> None:
        """Script the next answer: a blocked prompt, no candidate,
        ``promptFeedback.blockReason`` ``reason``."""
        self._push(_Scripted(block=reason, delay_seconds=delay_seconds))

    def stop_for_safety(self, *, delay_seconds: float = 0) -> None:
        """Script the next answer: a candidate stopped for safety, with no content."""
        self._push(_Scripted(safety=True, delay_seconds=delay_seconds))

    def fail(self, error: VertexError, *, delay_seconds: float = 0) -> None:
        """Script the next answer: ``error``, in Google's error format."""
        self._push(_Scripted(error=error, delay_seconds=delay_seconds))

    def requests(self) -> list[ReceivedRequest]:
        """Every ``generateContent`` request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget scripted answers and received requests."""
        with self._lock:
            self._script.clear()
            self._requests.clear()

    def _push(self, scripted: _Scripted) -> None:
        if scripted.delay_seconds < 0:
            raise ValueError(f"delay_seconds must not be negative, got {scripted.delay_seconds}")
        with self._lock:
            self._script.append(scripted)

    # -- answering (called by the request handler threads)

    def _generate(self, request: ReceivedRequest) -> tuple[float, int, JsonObject]:
        """How long to wait, then the status and body to answer ``request`` with."""
        with self._lock:
            self._requests.append(request)
            scripted = self._script.popleft() if self._script else _Scripted(text=DEFAULT_ANSWER)
            self._answered += 1
            answered = self._answered
        return scripted.delay_seconds, *_answer(scripted, request, answered)


def _answer(scripted: _Scripted, request: ReceivedRequest, number: int) -> tuple[int, JsonObject]:
    if scripted.error is not None:
        return vertex_error_body(scripted.error)
    prompt_tokens = tokens("\n".join([request.prompt, request.system_instruction or ""]).strip())
    if scripted.block is not None:
        return 200, {
            "promptFeedback": {
                "blockReason": scripted.block.value,
                "blockReasonMessage": "The prompt was blocked because of safety reasons.",
                "safetyRatings": _SAFETY_RATINGS,
            },
            "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
        }
    candidate: JsonObject
    answer_tokens = 0
    if scripted.safety:
        candidate = {"finishReason": "SAFETY", "safetyRatings": _SAFETY_RATINGS}
    else:
        text = scripted.text or ""
        answer_tokens = tokens(text)
        candidate = {
            "content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": scripted.finish_reason,
            "avgLogprobs": -0.25,
        }
    return 200, {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": answer_tokens,
            "totalTokenCount": prompt_tokens + answer_tokens,
            "trafficType": "ON_DEMAND",
        },
        "modelVersion": request.model,
        "createTime": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "responseId": f"local-{number}",
    }


def vertex_error_body(error: VertexError) -> tuple[int, JsonObject]:
    """The HTTP status and JSON body Vertex answers for ``error``."""
    code, message = _ERRORS[error]
    return _google_error(code, error.value, message)


def _google_error(code: int, status: str, message: str) -> tuple[int, JsonObject]:
    return code, {"error": {"code": code, "message": message, "status": status}}


def _unauthenticated() -> tuple[int, JsonObject]:
    message = (
        "Request is missing required authentication credential. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential."
    )
    return _google_error(401, "UNAUTHENTICATED", message)


# -- the control API


def _delay(body: JsonObject) -> float:
    delay = body.get("delaySeconds", 0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ValueError(f"delaySeconds must be a number of seconds, not negative, got {delay!r}")
    return float(delay)


def _steer_answer(vertex: VertexServer, body: JsonObject) -> None:
    text, finish = body.get("text"), body.get("finishReason", "STOP")
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    if not isinstance(finish, str) or not finish:
        raise ValueError("finishReason must be a non-empty string")
    vertex.answer(text, finish_reason=finish, delay_seconds=_delay(body))


def _steer_block(vertex: VertexServer, body: JsonObject) -> None:
    reason = enum_field(BlockReason, body.get("reason", BlockReason.SAFETY.value), "reason")
    vertex.block(reason, delay_seconds=_delay(body))


def _steer_fail(vertex: VertexServer, body: JsonObject) -> None:
    vertex.fail(enum_field(VertexError, body.get("error"), "error"), delay_seconds=_delay(body))


# The control API's actions (``POST /_vertex/<action>``): each does what the method of its name
# does (``safety``: ``stop_for_safety``).
_CONTROL_ACTIONS: dict[str, Callable[[VertexServer, JsonObject], None]] = {
    "answer": _steer_answer,
    "block": _steer_block,
    "safety": lambda vertex, body: vertex.stop_for_safety(delay_seconds=_delay(body)),
    "fail": _steer_fail,
    "reset": lambda vertex, _: vertex.reset(),
}


def _handler_for(vertex: VertexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            if self._request_path() == f"{CONTROL_PATH}requests":
                listed: list[JsonValue] = [r.to_json() for r in vertex.requests()]
                self._reply(200, {"requests": listed})
            else:
                self._reply(*_google_error(404, "NOT_FOUND", "Not Found"))

        def do_POST(self) -> None:  # noqa: N802
            raw = self._request_body()
            path = self._request_path()
            if path.startswith(CONTROL_PATH):
                action = path.removeprefix(CONTROL_PATH)
                self._reply(*answer_control(vertex, _CONTROL_ACTIONS, action, raw))
                return
            match = _GENERATE_PATH.match(path)
            if match is None:
                self._reply(*_google_error(404, "NOT_FOUND", "Not Found"))
                return
            if not self._has_bearer():
                self._reply(*_unauthenticated())
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
                self._reply(*vertex_error_body(VertexError.INVALID_ARGUMENT))
                return
            request = ReceivedRequest(
                api_version=match["version"],
                project=match["project"],
                location=match["location"],
                model=match["model"],
                body=body,
                server_timeout=self.headers.get("X-Server-Timeout"),
            )
            delay, status, answer = vertex._generate(request)
            if delay:
                time.sleep(delay)
            try:
                self._reply(status, answer)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped waiting (its timeout)

    return Handler


class VertexRemote:
    """The local Vertex server at ``url`` (``VertexServer.url`` of the process that started it),
    steered over its control API with the methods of ``VertexServer``. Raises
    ``EmulatorNotRunning`` if nothing answers there, ``EmulatorError`` if the server refuses a
    request. Plain ``urllib``, so it needs nothing installed."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_S) -> None:
        self._control = ControlClient(url, CONTROL_PATH, name="Vertex", timeout=timeout)
        self.url = self._control.url

    def answer(self, text: str, *, finish_reason: str = "STOP", delay_seconds: float = 0) -> None:
        """Script the next answer: ``text`` (``VertexServer.answer``)."""
        body: JsonObject = {"text": text, "finishReason": finish_reason}
        self._control.call("POST", "answer", body | {"delaySeconds": delay_seconds})

    def block(self, reason: BlockReason = BlockReason.SAFETY, *, delay_seconds: float = 0) -> None:
        """Script the next answer: a blocked prompt (``VertexServer.block``)."""
        body: JsonObject = {"reason": reason.value, "delaySeconds": delay_seconds}
        self._control.call("POST", "block", body)

    def stop_for_safety(self, *, delay_seconds: float = 0) -> None:
        """Script the next answer: a candidate stopped for safety."""
        self._control.call("POST", "safety", {"delaySeconds": delay_seconds})

    def fail(self, error: VertexError, *, delay_seconds: float = 0) -> None:
        """Script the next answer: ``error`` (``VertexServer.fail``)."""
        self._control.call("POST", "fail", {"error": error.value, "delaySeconds": delay_seconds})

    def requests(self) -> list[ReceivedRequest]:
        """Every ``generateContent`` request received so far, in arrival order."""
        listed = self._control.call("GET", "requests").get("requests")
        if not isinstance(listed, list):
            raise EmulatorError(f"{self.url} did not list requests", body=listed)
        return [ReceivedRequest.from_json(json_object(r, "a received request")) for r in listed]

    def reset(self) -> None:
        """Forget scripted answers and received requests."""
        self._control.call("POST", "reset", {})

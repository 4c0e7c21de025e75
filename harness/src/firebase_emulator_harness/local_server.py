"""What the local stand-ins for Google services without an emulator (``fcm``, ``play``) share.

* ``LocalServer``: an HTTP server on this machine answering on a daemon thread, with ``url``,
  ``start``, ``stop`` and a context manager; a subclass gives its request handler.
* ``JsonHandler``: a request handler answering JSON over keep-alive HTTP/1.1, as Google does.
* ``take_failure``: the failure a test injected for a request, counted down.
* ``answer_control``: a control request (``POST <control path><action>``) answered by calling the
  action it names, with ``{}``, or 400 ``{"error": "<what is wrong>"}``.
* ``ControlClient``: that control API's client, for a test in another process.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, Self, TypeVar

from firebase_emulator_harness.errors import EmulatorError, EmulatorNotRunning
from firebase_emulator_harness.values import JsonObject, JsonValue, json_object

TIMEOUT_S = 10.0  # of one control request
# The server is always on this machine: an http_proxy in the environment must not be used.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

S = TypeVar("S")
E = TypeVar("E", bound=StrEnum)


class InjectedFailure(Protocol):
    """What a test asked a server to answer instead (its ``fail(token, error, times=...)``)."""

    remaining: int | None  # requests left to fail; None: until reset


F = TypeVar("F", bound=InjectedFailure)


class LocalServer(ABC):
    """An HTTP server on ``host``:``port`` (0: any free port) answering on a daemon thread;
    ``url`` (``http://127.0.0.1:<port>``) is its base URL once started. ``name`` says which
    server it is in errors and names its thread; ``backlog``: how many connections may wait to
    be accepted."""

    def __init__(self, host: str, port: int, *, name: str, backlog: int = 128) -> None:
        self._address = (host, port)
        self._name = name
        self._backlog = backlog
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @abstractmethod
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """The class whose instances answer this server's requests."""

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {self._name} server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _ThreadingServer(self._address, self._handler(), self._backlog)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=self._name.lower(), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()  # an exception from the block goes on


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True  # a connection left open never keeps the process alive

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        backlog: int,
    ) -> None:
        self.request_queue_size = backlog  # read as it starts listening, within __init__
        super().__init__(address, handler)


class JsonHandler(BaseHTTPRequestHandler):
    """Answers JSON over keep-alive HTTP/1.1, as Google's front end does, and logs nothing (a
    benchmark sends thousands of requests)."""

    protocol_version = "HTTP/1.1"

    def _request_path(self) -> str:
        """The request's path, without its query."""
        return self.path.split("?")[0]

    def _request_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _has_bearer(self) -> bool:
        """Whether the request carries ``Authorization: Bearer ...`` (any bearer will do: there is
        nobody to check it against)."""
        return (self.headers.get("Authorization") or "").startswith("Bearer ")

    def _reply(self, status: int, body: JsonObject, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def take_failure(failures: dict[str | None, F], token: object) -> F | None:
    """The failure to answer a request about ``token`` with: the one injected for that token,
    else the one for every token (key ``None``), if any. The request counts: a failure is
    forgotten once it has answered its ``remaining`` requests. The caller holds its lock."""
    key = token if isinstance(token, str) and token in failures else None
    failure = failures.get(key)
    if failure is not None and failure.remaining is not None:
        failure.remaining -= 1
        if failure.remaining <= 0:
            del failures[key]
    return failure


def answer_control(
    server: S,
    actions: Mapping[str, Callable[[S, JsonObject], None]],
    action: str,
    raw: bytes,
) -> tuple[int, JsonObject]:
    """Answer a control request for ``action`` with body ``raw`` by calling ``actions[action]``
    with ``server`` and the body: 200 ``{}`` when it returns, 400 ``{"error": ...}`` when the
    body is no JSON object or the action raises ``ValueError`` (it must then change nothing),
    404 for an action not in ``actions``."""
    try:
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        steer = actions.get(action)
        if steer is None:
            return 404, {"error": f"no control action {action!r} ({', '.join(actions)})"}
        steer(server, body)
    except ValueError as exc:  # JSON and field errors alike
        return 400, {"error": str(exc)}
    return 200, {}


def enum_field(enum: type[E], value: Any, field: str) -> E:
    """``value`` of a control request's ``field`` as a member of ``enum``; ``ValueError`` if it
    names none."""
    if not isinstance(value, str) or value not in {member.value for member in enum}:
        raise ValueError(f"{field} must be one of {', '.join(enum)}, got {value!r}")
    return enum(value)


class ControlClient:
    """The control API of the local ``name`` server at ``url``, under ``path``: JSON in and out,
    over plain ``urllib`` (nothing to install). Raises ``EmulatorNotRunning`` if nothing answers
    there, ``EmulatorError`` if the server refuses a request."""

    def __init__(self, url: str, path: str, *, name: str, timeout: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._path = path
        self._name = name
        self._timeout = timeout

    def call(self, method: str, action: str, body: JsonObject | None = None) -> JsonObject:
        """The server's answer to ``method`` on the action ``action``, with ``body`` if any."""
        url = f"{self.url}{self._path}{action}"
        request = urllib.request.Request(
            url,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        try:
            with _OPENER.open(request, timeout=self._timeout) as response:
                return json_object(json.loads(response.read()), url)
        except urllib.error.HTTPError as exc:
            answer = _json_or_text(exc.read())
            problem = answer.get("error") if isinstance(answer, dict) else answer
            raise EmulatorError(
                f"the local {self._name} server refused {method} {url} ({exc.code}): {problem}",
                status=exc.code,
                body=answer,
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise EmulatorNotRunning(
                f"no local {self._name} server answers at {self.url} ({reason})"
            ) from None


def _json_or_text(raw: bytes) -> JsonValue:
    try:
        value: JsonValue = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
    return value

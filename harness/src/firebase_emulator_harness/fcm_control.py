"""Steering a local FCM server that runs in another process, through its control API.

A suite runner starts an ``FcmServer`` beside the emulators and hands its URL to everything it
starts (the Functions emulator's workers send there); the tests, a child process, cannot reach
that object. ``FcmRemote(url)`` has the same methods with the same results, over the server's
control API (``/_fcm/``, described in ``fcm``), so a test steers it exactly as it steers an
in-process server::

    fcm = FcmRemote(os.environ["MY_FCM_ENDPOINT"])
    fcm.reset()
    fcm.fail("uninstalled-token", FcmError.UNREGISTERED)
    ...
    assert [m.token for m in fcm.received()] == ["uninstalled-token"]

Plain ``urllib``, so it needs nothing installed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from firebase_emulator_harness.errors import EmulatorError, EmulatorNotRunning
from firebase_emulator_harness.fcm import CONTROL_PATH, FcmError, ReceivedMessage
from firebase_emulator_harness.values import JsonObject, JsonValue, json_object

TIMEOUT_S = 10.0
# The server is always on this machine: an http_proxy in the environment must not be used.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FcmRemote:
    """The local FCM server at ``url`` (``FcmServer.url`` of the process that started it).
    Raises ``EmulatorNotRunning`` if nothing answers there, ``EmulatorError`` if the server
    refuses a request."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout

    def received(self) -> list[ReceivedMessage]:
        """Every message received so far, in arrival order (failed ones included)."""
        messages = self._call("GET", "messages").get("messages")
        if not isinstance(messages, list):
            raise EmulatorError(f"{self.url} did not list messages", body=messages)
        return [ReceivedMessage.from_json(json_object(m, "a received message")) for m in messages]

    def fail(
        self,
        token: str | None,
        error: FcmError,
        *,
        times: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Answer ``error`` to messages for ``token`` (``None``: for every token), the next
        ``times`` of them or until ``reset()``; ``retry_after`` seconds in ``QUOTA_EXCEEDED``
        answers (``FcmServer.fail``)."""
        body: JsonObject = {
            "token": token,
            "error": error.value,
            "times": times,
            "retry_after": retry_after,
        }
        self._call("POST", "fail", body)

    def quota(self, limit: int, window_seconds: float) -> None:
        """Accept at most ``limit`` messages per ``window_seconds``, then answer 429
        ``QUOTA_EXCEEDED`` with ``Retry-After`` (``FcmServer.quota``)."""
        self._call("POST", "quota", {"limit": limit, "window_seconds": window_seconds})

    def reset(self) -> None:
        """Forget received messages, injected failures and the quota."""
        self._call("POST", "reset", {})

    def _call(self, method: str, action: str, body: JsonObject | None = None) -> JsonObject:
        url = f"{self.url}{CONTROL_PATH}{action}"
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
                f"the local FCM server refused {method} {url} ({exc.code}): {problem}",
                status=exc.code,
                body=answer,
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise EmulatorNotRunning(
                f"no local FCM server answers at {self.url} ({reason})"
            ) from None


def _json_or_text(raw: bytes) -> JsonValue:
    try:
        value: JsonValue = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
    return value

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

from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.fcm import CONTROL_PATH, FcmError, ReceivedMessage
from firebase_emulator_harness.local_server import TIMEOUT_S, ControlClient
from firebase_emulator_harness.values import JsonObject, json_object


class FcmRemote:
    """The local FCM server at ``url`` (``FcmServer.url`` of the process that started it).
    Raises ``EmulatorNotRunning`` if nothing answers there, ``EmulatorError`` if the server
    refuses a request."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_S) -> None:
        self._control = ControlClient(url, CONTROL_PATH, name="FCM", timeout=timeout)
        self.url = self._control.url

    def received(self) -> list[ReceivedMessage]:
        """Every message received so far, in arrival order (failed ones included)."""
        messages = self._control.call("GET", "messages").get("messages")
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
        self._control.call("POST", "fail", body)

    def quota(self, limit: int, window_seconds: float) -> None:
        """Accept at most ``limit`` messages per ``window_seconds``, then answer 429
        ``QUOTA_EXCEEDED`` with ``Retry-After`` (``FcmServer.quota``)."""
        self._control.call("POST", "quota", {"limit": limit, "window_seconds": window_seconds})

    def reset(self) -> None:
        """Forget received messages, injected failures and the quota."""
        self._control.call("POST", "reset", {})

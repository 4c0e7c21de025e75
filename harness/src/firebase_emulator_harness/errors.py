"""Errors the harness raises."""

from __future__ import annotations

from firebase_emulator_harness.values import JsonValue


class EmulatorError(Exception):
    """An emulator answered with an unexpected error."""

    def __init__(self, message: str, *, status: int | None = None, body: JsonValue = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class EmulatorNotRunning(EmulatorError):
    """The hub (or an emulator the test needs) is not reachable."""


class PermissionDenied(EmulatorError):
    """Firestore refused the request under the security rules."""


class CallableError(EmulatorError):
    """A callable function answered with a typed error (``{"error": {"status": ...}}``)."""

    def __init__(self, code: str, message: str, details: JsonValue, *, status: int) -> None:
        super().__init__(f"{code}: {message}", status=status, body=details)
        self.code = code
        self.message = message
        self.details = details

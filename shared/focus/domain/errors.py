"""Domain errors. Each carries the callable error code the platform layer answers with and, in
``details.reason``, one of ``Reason``: the value the mobile apps switch on.

The codes are the Firebase callable protocol's canonical status names, kept as plain strings so the
domain needs no Firebase import; ``focus.entrypoints.errors`` maps them to ``HttpsError``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class Reason(StrEnum):
    """Every ``details.reason`` a callable answers with: its value (on the wire, which the apps
    depend on: never rename one), its code and what it tells the mobile engineer (docs/api.md).

    Nothing else spells a reason: raise ``SomeError(..., reason=Reason.X)`` with the error class
    of ``Reason.X.code`` (a test checks both)."""

    code: str
    meaning: str

    def __new__(cls, value: str, code: str, meaning: str) -> Reason:
        member = str.__new__(cls, value)
        member._value_ = value
        member.code = code
        member.meaning = meaning
        return member

    SCHEMA_VIOLATION = (
        "SCHEMA_VIOLATION",
        "INVALID_ARGUMENT",
        "not what the version's schema accepts; `fields[]`",
    )
    INVALID_VALUE = (
        "INVALID_VALUE",
        "INVALID_ARGUMENT",
        "well-formed but not acceptable; `fields[].type` names the rule: `unknown_timezone`, "
        "`duplicate_day` (one day twice in a batch)",
    )
    DAY_OUT_OF_RANGE = (
        "DAY_OUT_OF_RANGE",
        "INVALID_ARGUMENT",
        "a day outside the last 30 days; `day`, `fields[]`",
    )
    AS_OF_IN_FUTURE = (
        "AS_OF_IN_FUTURE",
        "INVALID_ARGUMENT",
        "a measurement from the future; `fields[]`",
    )
    AS_OF_BEFORE_DAY = (
        "AS_OF_BEFORE_DAY",
        "INVALID_ARGUMENT",
        "measured before its day began; `fields[]`",
    )
    NO_SUCH_CHUNK = (
        "NO_SUCH_CHUNK",
        "INVALID_ARGUMENT",
        "an export chunk past the last; `fields[]`",
    )
    IDEMPOTENCY_KEY_REQUIRED = (
        "IDEMPOTENCY_KEY_REQUIRED",
        "INVALID_ARGUMENT",
        "a mutating call without `idempotencyKey`; `fields[]`",
    )
    IDEMPOTENCY_KEY_REUSED = (
        "IDEMPOTENCY_KEY_REUSED",
        "INVALID_ARGUMENT",
        "the key was used for another request; `fields[]`",
    )
    UNSUPPORTED_API_VERSION = (
        "UNSUPPORTED_API_VERSION",
        "FAILED_PRECONDITION",
        "`apiVersion` before the first or past its sunset; `oldestSupported`. A date after the "
        "newest version is served as the newest (`meta.apiVersion` says which)",
    )
    UPGRADE_REQUIRED = (
        "UPGRADE_REQUIRED",
        "FAILED_PRECONDITION",
        "build too old; `minimumBuild`, `updateUrl`",
    )
    PROFILE_MISSING = (
        "PROFILE_MISSING",
        "FAILED_PRECONDITION",
        "call `launch` once first",
    )
    DEVICE_NOT_REGISTERED = (
        "DEVICE_NOT_REGISTERED",
        "FAILED_PRECONDITION",
        "write `users/{uid}/devices/{deviceId}` before uploading its reports",
    )
    EMERGENCY_PASS_USED = (
        "EMERGENCY_PASS_USED",
        "FAILED_PRECONDITION",
        "used this week; `nextAvailableAt`",
    )
    EXPORT_NOT_FOUND = (
        "EXPORT_NOT_FOUND",
        "NOT_FOUND",
        "no such export (kept 7 days)",
    )
    INSIGHT_NOT_FOUND = (
        "INSIGHT_NOT_FOUND",
        "NOT_FOUND",
        "no insight is ready for that week (none was written, or it was deleted when AI "
        "processing was withdrawn)",
    )
    RATE_LIMITED = (
        "RATE_LIMITED",
        "RESOURCE_EXHAUSTED",
        "too many calls; `retryAfterSeconds`",
    )
    ACCOUNT_ERASED = (
        "ACCOUNT_ERASED",
        "UNAUTHENTICATED",
        "the account is being erased or was erased; `state` (`erasing`, `erased`). Sign out",
    )
    SUBSCRIPTION_IN_USE = (
        "SUBSCRIPTION_IN_USE",
        "FAILED_PRECONDITION",
        "the purchase is bound to another account (one subscription serves one account); "
        "sign in to that account, or contact support",
    )
    PURCHASE_NOT_VERIFIED = (
        "PURCHASE_NOT_VERIFIED",
        "FAILED_PRECONDITION",
        "the store did not confirm the purchase (a forged or foreign receipt, another app or "
        "environment, an unknown purchase token); nothing was granted",
    )
    REQUEST_IN_PROGRESS = (
        "REQUEST_IN_PROGRESS",
        "ABORTED",
        "the same key is still being served: retry it shortly",
    )
    CONTENTION = (
        "CONTENTION",
        "ABORTED",
        "too many concurrent changes to the same data (e.g. several devices uploading at once); "
        "nothing was applied. `retryAfterSeconds`: retry with the same idempotency key",
    )
    TEMPORARILY_UNAVAILABLE = (
        "TEMPORARILY_UNAVAILABLE",
        "UNAVAILABLE",
        "the database timed out or was unavailable; nothing was applied or the retry replays it. "
        "`retryAfterSeconds`: retry with the same idempotency key",
    )


class DomainError(Exception):
    """A failure the caller can understand and act on (never a bug)."""

    code: ClassVar[str] = "FAILED_PRECONDITION"

    def __init__(
        self, message: str, *, reason: Reason | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        # The plain value: details are stored (idempotent replays) and sent as they are.
        self.details = ({"reason": reason.value} if reason is not None else {}) | (details or {})

    def to_answer(self) -> dict[str, Any]:
        """The error as stored for replay (idempotent retries get the same answer)."""
        return {"code": self.code, "message": self.message, "details": self.details}

    @staticmethod
    def from_answer(answer: dict[str, Any]) -> DomainError:
        kind = next((k for k in _all_errors() if k.code == answer["code"]), FailedPrecondition)
        return kind(answer["message"], details=answer.get("details") or None)


class InvalidArgument(DomainError):
    """Bad input. ``details`` always holds ``reason`` and ``fields[] = {path, message, type}``."""

    code = "INVALID_ARGUMENT"

    @classmethod
    def at(
        cls, path: str, message: str, *, reason: Reason, type: str = "value_error", **extra: Any
    ) -> InvalidArgument:
        """A refusal of the one field at ``path`` (dotted camelCase, relative to the caller)."""
        field = {"path": path, "message": message, "type": type}
        return cls(message, reason=reason, details={"fields": [field], **extra})

    def within(self, prefix: str) -> InvalidArgument:
        """The same refusal with its field paths under ``prefix`` (e.g. ``payload``)."""
        fields = [{**f, "path": f"{prefix}.{f['path']}"} for f in self.details.get("fields", [])]
        return InvalidArgument(self.message, details={**self.details, "fields": fields})


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"


class NotFound(DomainError):
    code = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    code = "FAILED_PRECONDITION"


class ResourceExhausted(DomainError):
    code = "RESOURCE_EXHAUSTED"


class Aborted(DomainError):
    code = "ABORTED"


def _all_errors() -> list[type[DomainError]]:
    return [
        InvalidArgument,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        ResourceExhausted,
        Aborted,
    ]

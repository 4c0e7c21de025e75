"""Domain errors. Each carries the callable error code the platform layer answers with.

The codes are the Firebase callable protocol's canonical status names, kept as plain strings so the
domain needs no Firebase import; ``focus.entrypoints.errors`` maps them to ``HttpsError``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A failure the caller can understand and act on (never a bug)."""

    code: ClassVar[str] = "FAILED_PRECONDITION"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

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
        cls, path: str, message: str, *, reason: str, type: str = "value_error", **extra: Any
    ) -> InvalidArgument:
        """A refusal of the one field at ``path`` (dotted camelCase, relative to the caller)."""
        field = {"path": path, "message": message, "type": type}
        return cls(message, details={"reason": reason, "fields": [field], **extra})

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

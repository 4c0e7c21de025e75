"""Domain events published to Pub/Sub. Each names its topic; consumers must be idempotent.

Every event carries ``schemaVersion``. Publishers and consumers live in codebases deployed one at
a time, so during a deploy a consumer meets messages of the version before its own: it accepts
``version - 1`` as well (``read``), upgraded to the head shape. Deploy consumers (``jobs``) before
publishers. A message no accepted version reads (not JSON, an unknown version, a renamed or
missing field) raises ``UnreadableEvent``: the consumer dead-letters it with the raw payload and
the error (``focus.adapters.messaging.dead_letter``), never drops it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import Field, ValidationError

from focus.domain.model import Contract
from focus.domain.wires import Topic

# Why a message was dead-lettered (an attribute on the dead letter, a label on the metric).
UNREADABLE_JSON = "notJson"
UNKNOWN_VERSION = "unknownSchemaVersion"
INVALID_EVENT = "invalidEvent"


class UnreadableEvent(Exception):
    """A message no accepted schema version of its event reads: retrying never helps."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error


def validation_summary(error: ValidationError) -> str:
    """What failed, by field path and error type, without the values (they hold user ids)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']} ({e['type']})"
        for e in error.errors(include_url=False, include_input=False)[:10]
    )


class DomainEvent(Contract):
    topic: ClassVar[Topic]
    version: ClassVar[int]  # the head version this code publishes

    schema_version: int

    @classmethod
    def upgrade_previous(cls, data: dict[str, Any]) -> dict[str, Any]:
        """A message of version ``version - 1`` (its wire dict) in the head's shape. Versions
        before that are refused: a deploy only ever overlaps two."""
        raise NotImplementedError

    @classmethod
    def read(cls, raw: bytes) -> Self:
        """The event in ``raw`` (a message's data) if its version is the head or the one before
        (a publisher not yet deployed); ``UnreadableEvent`` otherwise."""
        try:
            data = json.loads(raw)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            raise UnreadableEvent(UNREADABLE_JSON, str(exc)[:200]) from None
        if not isinstance(data, dict):
            raise UnreadableEvent(UNREADABLE_JSON, f"a JSON {type(data).__name__}, not an object")
        version = data.get("schemaVersion", 1)  # version 1 did not carry its version
        if version == cls.version - 1:
            data = cls.upgrade_previous(data)
        elif version != cls.version:
            raise UnreadableEvent(
                UNKNOWN_VERSION,
                f"schemaVersion {version!r}; this consumer reads {cls.version - 1} and {cls.version}",
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise UnreadableEvent(INVALID_EVENT, validation_summary(exc)) from None


class SessionCompleted(DomainEvent):
    """A session was counted for its owner. Feeds the global counter (and later insights, analytics)."""

    topic: ClassVar[Topic] = Topic.SESSION_COMPLETED
    version: ClassVar[int] = 2

    schema_version: int = Field(default=2, ge=2, le=2)
    user_id: str = Field(min_length=1, max_length=128)
    session_id: str = Field(min_length=1, max_length=128)
    focused_minutes: int = Field(ge=0)
    completed_at: datetime

    @classmethod
    def upgrade_previous(cls, data: dict[str, Any]) -> dict[str, Any]:
        # Version 1 had the same fields and no ``schemaVersion``.
        return {**data, "schemaVersion": 2}

    @property
    def contribution_key(self) -> str:
        return f"{self.user_id}/{self.session_id}"

"""Domain events published to Pub/Sub. Each names its topic; consumers must be idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from focus.domain.model import Contract


class DomainEvent(Contract):
    topic: ClassVar[str]


class SessionCompleted(DomainEvent):
    """A session was counted for its owner. Feeds the global counter (and later insights, analytics)."""

    topic: ClassVar[str] = "session-completed"

    user_id: str = Field(min_length=1, max_length=128)
    session_id: str = Field(min_length=1, max_length=128)
    focused_minutes: int = Field(ge=0)
    completed_at: datetime

    @property
    def contribution_key(self) -> str:
        return f"{self.user_id}/{self.session_id}"

"""Focus sessions: a one-off block of distracting apps from a planned start to a planned end.

The device writes its own session documents (offline-first) within what its strictness allows
(firestore.rules enforce it); the server computes what no client may claim for itself (how many
minutes counted), once per session, and ends sessions the emergency pass or the clock ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field, model_validator

from focus.domain.blocks import Strictness
from focus.domain.model import Document

SESSION_SCHEMA_VERSION = 1
MAX_SESSION_MINUTES = 24 * 60
MAX_BREAKS = 50


class SessionStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EndReason(StrEnum):
    COMPLETED = "completed"  # ran to its planned end
    CANCELLED = "cancelled"  # ended early by the person (never for hardcore)
    EMERGENCY = "emergency"  # ended by the emergency pass (server only)


class Break(Document):
    start: datetime
    end: datetime | None = None  # None while the break is running


class SessionResult(Document):
    """Server-owned: what the session counted for. Its presence means it has been counted."""

    focused_minutes: int = Field(ge=0)
    counted_at: datetime
    # Set once the minutes have been added to the global hours-saved counter.
    added_to_hours_saved_at: datetime | None = None


class FocusSession(Document):
    schema_version: int = SESSION_SCHEMA_VERSION
    status: SessionStatus
    strictness: Strictness = Strictness.EASY
    block_id: str | None = None  # the schedule that started it, if any
    planned_start: datetime
    planned_end: datetime
    breaks: list[Break] = Field(default_factory=list, max_length=MAX_BREAKS)
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    result: SessionResult | None = None

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> FocusSession:
        if self.planned_end <= self.planned_start:
            raise ValueError("plannedEnd must be after plannedStart")
        return self

    @property
    def is_counted(self) -> bool:
        return self.result is not None


def focused_minutes(session: FocusSession) -> int:
    """Whole minutes the session actually blocked: start to end, minus breaks, never beyond plan."""
    end = min(session.ended_at or session.planned_end, session.planned_end)
    blocked = end - session.planned_start
    for pause in session.breaks:
        pause_end = min(pause.end or end, end)
        if pause_end > pause.start:
            blocked -= pause_end - max(pause.start, session.planned_start)
    minutes = int(max(blocked, timedelta(0)).total_seconds() // 60)
    return min(minutes, MAX_SESSION_MINUTES)


def should_count(session: FocusSession) -> bool:
    """A session adds to the person's totals once, when it has ended by completing."""
    return session.status is SessionStatus.COMPLETED and not session.is_counted


def completion_due(session: FocusSession, now: datetime) -> bool:
    """An active session whose planned end has passed is complete even if no device said so."""
    return session.status is SessionStatus.ACTIVE and now >= session.planned_end


def completion_fields(session: FocusSession) -> dict[str, object]:
    """The fields that complete a session at its planned end (server-side auto-completion)."""
    return {
        "status": SessionStatus.COMPLETED.value,
        "endedAt": session.planned_end,
        "endReason": EndReason.COMPLETED.value,
    }


def emergency_end_fields(now: datetime) -> dict[str, object]:
    """The fields that end an active session through the emergency pass."""
    return {
        "status": SessionStatus.CANCELLED.value,
        "endedAt": now,
        "endReason": EndReason.EMERGENCY.value,
    }

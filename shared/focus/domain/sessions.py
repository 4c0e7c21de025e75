"""Focus sessions: a one-off block of distracting apps from a planned start to a planned end.

The device writes its own session documents (offline-first) within what its strictness allows
(firestore.rules enforce it); the server computes what no client may claim for itself (how many
minutes counted), once per session, and ends sessions the emergency pass or the clock ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field, model_validator

from focus.domain.blocks import Strictness
from focus.domain.milestones import Milestone, MilestoneKind, newly_reached
from focus.domain.model import Document

SESSION_SCHEMA_VERSION = 1
MAX_SESSION_MINUTES = 24 * 60
MAX_BREAKS = 50
# Counted focus time is remembered this long, so a late-counted session (its trigger failed and the
# sweep counted it) still cannot overlap one counted before it; bounded in number too.
COUNTED_MEMORY = timedelta(hours=48)
MAX_COUNTED_INTERVALS = 100


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


class FocusInterval(Document):
    """A stretch of time already counted as focused for the person (server-owned)."""

    start: datetime
    end: datetime


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
    # The device that wrote it last (the app sends its device id): its other devices are told.
    updated_by: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> FocusSession:
        if self.planned_end <= self.planned_start:
            raise ValueError("plannedEnd must be after plannedStart")
        return self

    @property
    def is_counted(self) -> bool:
        return self.result is not None

    @property
    def finished_at(self) -> datetime:
        """When the session ended: as recorded, or at its planned end if no end was recorded."""
        return self.ended_at or self.planned_end


Span = tuple[datetime, datetime]


def focused_spans(session: FocusSession, counted: Sequence[FocusInterval] = ()) -> list[Span]:
    """The stretches the session blocked (start to end, never beyond its plan), without its breaks
    and without time already ``counted`` for another session: overlapping sessions count once."""
    end = min(session.ended_at or session.planned_end, session.planned_end)
    spans: list[Span] = [(session.planned_start, end)] if end > session.planned_start else []
    for pause in session.breaks:
        spans = _minus(spans, (pause.start, min(pause.end or end, end)))
    for interval in counted:
        spans = _minus(spans, (interval.start, interval.end))
    return spans


def focused_minutes(session: FocusSession, counted: Sequence[FocusInterval] = ()) -> int:
    """Whole minutes the session actually blocked that no other session has counted."""
    blocked = sum((e - s for s, e in focused_spans(session, counted)), timedelta(0))
    return min(int(blocked.total_seconds() // 60), MAX_SESSION_MINUTES)


def remember_counted(
    counted: Sequence[FocusInterval], spans: Sequence[Span], now: datetime
) -> list[FocusInterval]:
    """The person's counted intervals after counting ``spans``: merged, recent, bounded."""
    merged: list[Span] = []
    for start, end in sorted([(i.start, i.end) for i in counted] + list(spans)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    recent = [(s, e) for s, e in merged if e >= now - COUNTED_MEMORY][-MAX_COUNTED_INTERVALS:]
    return [FocusInterval(start=s, end=e) for s, e in recent]


def _minus(spans: list[Span], cut: Span) -> list[Span]:
    out: list[Span] = []
    for start, end in spans:
        if cut[1] <= start or cut[0] >= end:
            out.append((start, end))
            continue
        if cut[0] > start:
            out.append((start, cut[0]))
        if cut[1] < end:
            out.append((cut[1], end))
    return out


def should_count(session: FocusSession) -> bool:
    """A session adds to the person's totals once, when it has ended by completing."""
    return session.status is SessionStatus.COMPLETED and not session.is_counted


@dataclass(frozen=True)
class CountedSession:
    session_id: str
    session: FocusSession
    result: SessionResult  # to store on the session: it marks the session counted


@dataclass(frozen=True)
class Count:
    """What counting some of a person's sessions together adds to their totals."""

    sessions: list[CountedSession]  # in the order the sessions ended
    counted_focus: list[FocusInterval]  # the person's counted intervals afterwards
    added_minutes: int
    milestones: list[Milestone]  # focused-hours milestones reached for the first time


def count_sessions(
    uncounted: Mapping[str, FocusSession],
    counted_focus: Sequence[FocusInterval],
    focused_minutes_before: int,
    now: datetime,
) -> Count:
    """Count ``uncounted`` sessions (ones ``should_count`` accepts, by id) into a person's totals.

    In the order they ended, each counts only the time no earlier one (and no session counted
    before, ``counted_focus``) counted; the focused-hours milestones are those the person's total
    crosses by these minutes, so each is reached once however the sessions are grouped."""
    counted = list(counted_focus)
    total = focused_minutes_before
    done = []
    for session_id, session in sorted(uncounted.items(), key=lambda item: item[1].finished_at):
        minutes = focused_minutes(session, counted)
        counted = remember_counted(counted, focused_spans(session, counted), now)
        total += minutes
        result = SessionResult(focused_minutes=minutes, counted_at=now)
        done.append(CountedSession(session_id, session, result))
    hours = newly_reached(
        MilestoneKind.FOCUSED_HOURS, focused_minutes_before // 60, total // 60, now
    )
    return Count(done, counted, total - focused_minutes_before, hours)


class CountingStage(StrEnum):
    """How far a completed session has been counted: first into its owner's totals (its
    ``result``), then its minutes into the global hours saved (``result.addedToHoursSavedAt``)."""

    UNCOUNTED = "uncounted"
    PENDING_HOURS_SAVED = "pendingHoursSaved"  # counted, its minutes not yet in hours saved
    DONE = "done"


ADDED_TO_HOURS_SAVED = "addedToHoursSavedAt"  # the field of ``SessionResult`` as stored


def counting_stage(session: FocusSession) -> CountingStage:
    if session.result is None:
        return CountingStage.UNCOUNTED
    if session.result.added_to_hours_saved_at is None:
        return CountingStage.PENDING_HOURS_SAVED
    return CountingStage.DONE


def stored_counting_stage(stored: Mapping[str, object]) -> CountingStage:
    """``counting_stage`` of a stored session read as raw fields: queries over many sessions must
    see the stage of one that no model accepts too (its own task then dead-letters it)."""
    result = stored.get("result")
    if not isinstance(result, Mapping):
        return CountingStage.UNCOUNTED
    if result.get(ADDED_TO_HOURS_SAVED) is None:
        return CountingStage.PENDING_HOURS_SAVED
    return CountingStage.DONE


def settled(session: FocusSession) -> bool:
    """Nothing is left to do for the session at its planned end: it has ended, and it is counted
    and in hours saved, or it is never to be counted (cancelled)."""
    if session.status is SessionStatus.ACTIVE:
        return False
    return session.status is not SessionStatus.COMPLETED or (
        counting_stage(session) is CountingStage.DONE
    )


def completion_due(session: FocusSession, now: datetime) -> bool:
    """An active session whose planned end has passed is complete even if no device said so."""
    return session.status is SessionStatus.ACTIVE and now >= session.planned_end


def due_later(session: FocusSession, now: datetime) -> datetime | None:
    """When an active session not yet due becomes due (its planned end); None once it is due or
    no longer active. For an active session exactly one of this and ``completion_due`` holds."""
    if session.status is SessionStatus.ACTIVE and now < session.planned_end:
        return session.planned_end
    return None


def planned_end_task_waits(session: FocusSession, now: datetime) -> datetime | None:
    """Until when the planned-end task, arriving at ``now``, waits: the planned end while it is
    ahead and the session is not settled, whatever the devices did meanwhile (a session completed
    early is the count task's to count; this task is the backstop at the planned end, and comes
    early only by clock skew or on the Tasks emulator). None when it is to act now, or settled."""
    if settled(session) or now >= session.planned_end:
        return None
    return session.planned_end


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

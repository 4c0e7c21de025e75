"""Milestones: focused hours and streak lengths worth celebrating, each reached once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from focus.domain.model import Document

FOCUSED_HOURS = (1, 10, 50, 100, 250, 500, 1000)
STREAK_DAYS = (3, 7, 14, 30, 100, 365)


class MilestoneKind(StrEnum):
    FOCUSED_HOURS = "focusedHours"
    STREAK_DAYS = "streakDays"


class Milestone(Document):
    kind: MilestoneKind
    threshold: int
    reached_at: datetime

    @property
    def key(self) -> str:
        """The document id: reaching the same milestone twice writes the same document."""
        return f"{self.kind.value}-{self.threshold}"


def thresholds(kind: MilestoneKind) -> tuple[int, ...]:
    return FOCUSED_HOURS if kind is MilestoneKind.FOCUSED_HOURS else STREAK_DAYS


def newly_reached(kind: MilestoneKind, before: int, after: int, now: datetime) -> list[Milestone]:
    """The milestones a value reaches by going from ``before`` to ``after`` (focused hours, the
    longest streak): the thresholds above ``before`` and up to ``after``. One already reached
    before is not reached again, and a value that stays or falls reaches none."""
    return [
        Milestone(kind=kind, threshold=t, reached_at=now)
        for t in thresholds(kind)
        if before < t <= after
    ]

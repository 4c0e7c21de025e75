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


def reached(kind: MilestoneKind, value: int, now: datetime) -> list[Milestone]:
    thresholds = FOCUSED_HOURS if kind is MilestoneKind.FOCUSED_HOURS else STREAK_DAYS
    return [Milestone(kind=kind, threshold=t, reached_at=now) for t in thresholds if value >= t]

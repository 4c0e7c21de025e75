"""Streaks: consecutive local days meeting the daily screen-time goal.

Days are the person's local days (their timezone and day-start hour, computed on the device), so
a streak follows them as they travel. Two local days continue a streak when they are consecutive
dates, or when exactly one date lies between them and the timezone changed: flying far enough
east (or across the date line) skips a local date, which must not break a streak. A day without
any report breaks it.

Each day stores the length of the run that ends on it, so a new or late upload recomputes one
day from its predecessor and walks forward only while later days change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class DayMark:
    day: str  # YYYY-MM-DD, local
    timezone: str
    met_goal: bool
    streak: int | None = None


def continues(previous: DayMark, current: DayMark) -> bool:
    gap = (date.fromisoformat(current.day) - date.fromisoformat(previous.day)).days
    return gap == 1 or (gap == 2 and previous.timezone != current.timezone)


def run_length(previous: DayMark | None, current: DayMark) -> int:
    """The streak that ends on ``current`` given the closest earlier day with a report."""
    if not current.met_goal:
        return 0
    if previous is None or not continues(previous, current):
        return 1
    return (previous.streak or 0) + 1

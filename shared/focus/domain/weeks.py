"""Weekly summaries: ISO weeks of local days, rebuilt from each day's latest totals."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from focus.domain.model import Document


def week_of(day: str) -> str:
    """The ISO week a local day belongs to, e.g. ``2026-W48``."""
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


class WeekDay(Document):
    screen_time_minutes: int
    pickups: int
    focused_minutes: int
    score: int
    met_goal: bool
    revision: int


class Week(Document):
    schema_version: int = 1
    week: str
    days: dict[str, WeekDay] = Field(default_factory=dict)
    screen_time_minutes: int = 0
    pickups: int = 0
    focused_minutes: int = 0
    average_score: int = 0
    days_met_goal: int = 0


def with_day(week: Week, day: str, summary: WeekDay) -> Week | None:
    """The week with ``day`` set to ``summary``; None if it already reflects that revision."""
    current = week.days.get(day)
    if current is not None and current.revision >= summary.revision:
        return None
    days = {**week.days, day: summary}
    return week.model_copy(
        update={
            "days": days,
            "screen_time_minutes": sum(d.screen_time_minutes for d in days.values()),
            "pickups": sum(d.pickups for d in days.values()),
            "focused_minutes": sum(d.focused_minutes for d in days.values()),
            "average_score": round(sum(d.score for d in days.values()) / len(days)),
            "days_met_goal": sum(d.met_goal for d in days.values()),
        }
    )

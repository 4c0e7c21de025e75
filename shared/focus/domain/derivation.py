"""What a person's merged days imply, decided once for a whole batch of changed days.

An upload may change up to 31 days at once. Everything derived from them (each day's streak and
community mark, the ISO week summaries, the profile's streak summary, streak milestones) is
decided here in one pass over the person's days, so a batch costs one derivation, not one per
day: the bound on server work per upload call (docs/data-model.md, "Cost per flow").

Pure: the caller reads the documents, calls ``derive`` and writes what it returns. Running it
again on its own output changes nothing (every part compares with what is stored).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from focus.domain import community, streaks, weeks
from focus.domain.milestones import Milestone, MilestoneKind, newly_reached
from focus.domain.profiles import StreakSummary
from focus.domain.reports import CommunityMark, Day
from focus.domain.weeks import Week, WeekDay

# A person counts in the community histogram of a day only if their account was at least this old
# when the day began: fresh accounts (anonymous ones cost nothing) cannot tilt the comparison
# everyone sees. Uploads come only from registered devices, so every counted day has one.
COMMUNITY_MIN_ACCOUNT_AGE = timedelta(days=7)


def counts_in_community(account_created_at: datetime, local_day: str) -> bool:
    """Whether a day of a person whose account began at ``account_created_at`` is counted."""
    day_start = datetime.combine(date.fromisoformat(local_day), time.min, UTC)
    return account_created_at + COMMUNITY_MIN_ACCOUNT_AGE <= day_start


@dataclass(frozen=True)
class CommunityMove:
    """One day's histogram change for one person: bucket -> +1 / -1."""

    day: str
    moves: dict[int, int]


@dataclass
class Derivation:
    day_updates: dict[str, dict[str, object]] = field(default_factory=dict)  # day -> fields
    weeks: dict[str, Week] = field(default_factory=dict)  # only weeks that changed
    community: list[CommunityMove] = field(default_factory=list)
    streak_summary: StreakSummary | None = None  # None: unchanged
    milestones: list[Milestone] = field(default_factory=list)


def _mark(day: Day, streak: int | None = None) -> streaks.DayMark:
    return streaks.DayMark(
        day.day, day.timezone, day.met_goal, day.streak if streak is None else streak
    )


def _week_day(day: Day) -> WeekDay:
    return WeekDay(
        screen_time_minutes=day.totals.screen_time_minutes,
        pickups=day.totals.pickups,
        focused_minutes=day.totals.focused_minutes,
        score=day.score,
        met_goal=day.met_goal,
        revision=day.revision,
    )


def _community_mark(day: Day, counted: bool) -> tuple[CommunityMark, dict[int, int]] | None:
    """The day's new mark and histogram moves; None if the mark is already at its revision."""
    if day.community is not None and day.community.revision >= day.revision:
        return None
    bucket = community.bucket_of(day.totals.screen_time_minutes) if counted else None
    old = day.community.bucket if day.community is not None else None
    moves: dict[int, int] = {}
    if old != bucket:
        if bucket is not None:
            moves[bucket] = 1
        if old is not None:
            moves[old] = -1
    return CommunityMark(bucket=bucket, revision=day.revision), moves


def derive(
    changed: Collection[str],
    previous: Day | None,
    days: Sequence[Day],
    stored_weeks: dict[str, Week],
    streak: StreakSummary,
    account_created_at: datetime,
    now: datetime,
) -> Derivation:
    """Everything derived from the ``changed`` days.

    ``days`` are the person's stored days from the earliest changed one on, in order (uploads
    reach back at most 30 days, so this is at most about a month); ``previous`` the closest
    stored day before them; ``stored_weeks`` the week summaries of the changed days (missing
    ones are new).
    """
    result = Derivation()
    updated_weeks = dict(stored_weeks)
    prior = _mark(previous) if previous is not None else None
    runs: dict[str, int] = {}
    for day in days:
        run = streaks.run_length(prior, _mark(day))
        runs[day.day] = run
        updates: dict[str, object] = {}
        if run != day.streak:
            updates["streak"] = run
        if day.day in changed:
            key = weeks.week_of(day.day)
            week = updated_weeks.get(key) or Week(week=key)
            if (with_day := weeks.with_day(week, day.day, _week_day(day))) is not None:
                updated_weeks[key] = with_day
                result.weeks[key] = with_day
            counted = counts_in_community(account_created_at, day.day)
            if (marked := _community_mark(day, counted)) is not None:
                mark, moves = marked
                updates["community"] = mark.to_firestore()
                if moves:
                    result.community.append(CommunityMove(day.day, moves))
        if updates:
            result.day_updates[day.day] = updates
        prior = _mark(day, run)

    if not days:
        return result
    latest = days[-1]
    longest = max(streak.longest, *runs.values())
    summary = StreakSummary(current=runs[latest.day], longest=longest, last_day=latest.day)
    if summary != streak:
        result.streak_summary = summary
    result.milestones = newly_reached(MilestoneKind.STREAK_DAYS, streak.longest, longest, now)
    return result

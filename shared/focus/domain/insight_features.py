"""What an AI-written weekly insight may know about a person: one week of aggregated figures.

A model sees only a ``WeekFeatures``: numbers, booleans and product vocabulary (weekday names,
strictness, parts of the day), built here from the stored days and sessions. No names, emails,
uids, device ids, app tokens, timezone names, dates or free text: the type admits no free text at
all (tests/test_insight_privacy.py fails if a field that could carry one is added).

What exists decides what is modelled. Apple lets the app upload daily totals only (screen time,
pickups, focused minutes per local day; no per-app and no hourly usage), so there is no "after
20:00" in the features. The only timing we know is when focus sessions started; it is reduced to
parts of the day (morning, afternoon, evening, night) in the person's own time zone, counted.

The week is the person's week: seven local days from the first day of their week
(``settings.weekStartsOn``), not the ISO week the stored summaries use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field

from focus.domain.blocks import Strictness
from focus.domain.model import Contract
from focus.domain.notifications import Language, language_of
from focus.domain.profiles import Settings
from focus.domain.reports import Day
from focus.domain.sessions import FocusSession, SessionStatus, focused_minutes

# Raised whenever the features, the prompt or the checks change meaning: cached insights keyed by
# an older fingerprint are then not served for the new rules.
INSIGHTS_VERSION = 1
DAYS_PER_WEEK = 7
WEEK = timedelta(days=DAYS_PER_WEEK)


class DayName(StrEnum):
    """Weekdays by their English abbreviation (clear to a model, language-neutral in the app)."""

    MON = "Mon"
    TUE = "Tue"
    WED = "Wed"
    THU = "Thu"
    FRI = "Fri"
    SAT = "Sat"
    SUN = "Sun"

    @property
    def iso(self) -> int:
        """ISO weekday: 1 Monday ... 7 Sunday (what a schedule rule's ``weekdays`` hold)."""
        return list(DayName).index(self) + 1

    @classmethod
    def of(cls, day: date) -> DayName:
        return list(cls)[day.isoweekday() - 1]


class PartOfDay(StrEnum):
    """When a focus session started, in the person's local time: coarse on purpose, so no moment
    of anyone's life reaches a model, only a habit."""

    MORNING = "morning"  # 05:00-12:00
    AFTERNOON = "afternoon"  # 12:00-17:00
    EVENING = "evening"  # 17:00-22:00
    NIGHT = "night"  # 22:00-05:00


def part_of_day(hour: int) -> PartOfDay:
    if 5 <= hour < 12:
        return PartOfDay.MORNING
    if 12 <= hour < 17:
        return PartOfDay.AFTERNOON
    if 17 <= hour < 22:
        return PartOfDay.EVENING
    return PartOfDay.NIGHT


class _Features(Contract):
    # Frozen: a feature set is a value (fingerprinted, cached), never edited in place.
    model_config = ConfigDict(frozen=True)


class DayFeatures(_Features):
    """One weekday of the person's week; the figures are None when no device reported that day."""

    day: DayName
    screen_time_minutes: int | None = None
    pickups: int | None = None
    focused_minutes: int | None = None
    met_goal: bool | None = None


class Amounts(_Features):
    screen_time_minutes: int = 0
    pickups: int = 0
    focused_minutes: int = 0


class StrictnessCounts(_Features):
    completed: int = 0
    abandoned: int = 0


class SessionFeatures(_Features):
    """The week's focus sessions by outcome. Abandoned: ended early by the person or the emergency
    pass; still-running sessions are not counted yet."""

    completed: int = 0
    abandoned: int = 0
    completed_minutes: int = 0
    abandoned_minutes: int = 0  # focused before giving up
    by_strictness: dict[Strictness, StrictnessCounts] = Field(default_factory=dict)
    started: dict[PartOfDay, int] = Field(default_factory=dict)


class WeekFeatures(_Features):
    """Everything a weekly insight may use; ``week`` is for storing and caching only: neither the
    prompt nor the fingerprint carries it (a model needs no calendar date)."""

    week: date  # the first local day of the person's week
    language: Language
    daily_goal_minutes: int
    days: tuple[DayFeatures, ...] = Field(min_length=DAYS_PER_WEEK, max_length=DAYS_PER_WEEK)
    days_reported: int
    days_met_goal: int
    totals: Amounts
    averages: Amounts  # per reported day
    average_score: int | None
    best_day: DayName | None  # fewest minutes over (or most under) the day's goal
    weakest_day: DayName | None  # most minutes over (or fewest under) the day's goal
    # Average daily screen time against the previous week's; None without a previous week.
    screen_time_change_percent: int | None
    streak_days: int
    sessions: SessionFeatures

    def day(self, name: DayName) -> DayFeatures:
        return next(day for day in self.days if day.day is name)


def week_start(day: date, week_starts_on: int) -> date:
    """The first day of the person's week that ``day`` belongs to (``week_starts_on``: ISO)."""
    return day - timedelta(days=(day.isoweekday() - week_starts_on) % DAYS_PER_WEEK)


def local_day_of(moment: datetime, settings: Settings) -> date:
    """The person's local day of a moment: their zone, and a day beginning at ``dayStartHour``."""
    local = moment.astimezone(ZoneInfo(settings.timezone))
    return (local - timedelta(hours=settings.day_start_hour)).date()


def _days_of_week(days: Sequence[Day], first: date) -> dict[date, Day]:
    """The week's days by date; of two copies of a day, the later revision."""
    found: dict[date, Day] = {}
    for day in days:
        on = date.fromisoformat(day.day)
        if first <= on < first + WEEK and (on not in found or day.revision > found[on].revision):
            found[on] = day
    return found


def _over_goal(day: Day) -> int:
    # Against the goal that applied that day (stored with it): a later goal change does not
    # rewrite how a past day went. A difference, not a ratio: a goal may be 0.
    return day.totals.screen_time_minutes - day.goal_minutes


def _average(total: int, count: int) -> int:
    return round(total / count) if count else 0


def _average_screen_time(days: Sequence[Day]) -> float | None:
    return sum(d.totals.screen_time_minutes for d in days) / len(days) if days else None


def _streak(week: dict[date, Day]) -> int:
    """The streak as of the week's last reported day: as derived, or, while derivation has not
    run yet (minutes after an upload), the run of goal days ending there within the week."""
    if not week:
        return 0
    last = max(week)
    if week[last].streak is not None:
        return week[last].streak or 0
    run, on = 0, last
    while on in week and week[on].met_goal:
        run, on = run + 1, on - timedelta(days=1)
    return run


def session_features(
    sessions: Sequence[FocusSession], first: date, settings: Settings
) -> SessionFeatures:
    """The week's sessions (by the local day they started on), aggregated."""
    counts = {"completed": 0, "abandoned": 0, "completed_minutes": 0, "abandoned_minutes": 0}
    by_strictness: dict[Strictness, StrictnessCounts] = {}
    started: dict[PartOfDay, int] = {}
    for session in sessions:
        in_week = first <= local_day_of(session.planned_start, settings) < first + WEEK
        if not in_week or session.status is SessionStatus.ACTIVE:
            continue
        # Cancelled covers both early ends: by the person and by the emergency pass.
        outcome = "completed" if session.status is SessionStatus.COMPLETED else "abandoned"
        minutes = session.result.focused_minutes if session.result else focused_minutes(session)
        counts[outcome] += 1
        counts[f"{outcome}_minutes"] += minutes
        previous = by_strictness.get(session.strictness, StrictnessCounts())
        by_strictness[session.strictness] = previous.model_copy(
            update={outcome: getattr(previous, outcome) + 1}
        )
        part = part_of_day(session.planned_start.astimezone(ZoneInfo(settings.timezone)).hour)
        started[part] = started.get(part, 0) + 1
    return SessionFeatures(**counts, by_strictness=by_strictness, started=started)


def features_of(
    days: Sequence[Day],
    sessions: Sequence[FocusSession],
    week: date,
    previous_week: Sequence[Day],
    settings: Settings,
) -> WeekFeatures:
    """The features of the person's week containing ``week`` (any of its days).

    ``days`` and ``previous_week`` may hold more days than the week (and the week before): only
    the week's own days count. ``sessions`` count by the local day they started on."""
    first = week_start(week, settings.week_starts_on)
    this_week = _days_of_week(days, first)
    before = list(_days_of_week(previous_week, first - WEEK).values())
    reported = [this_week[on] for on in sorted(this_week)]
    per_day = []
    for offset in range(DAYS_PER_WEEK):
        on = first + timedelta(days=offset)
        day = this_week.get(on)
        per_day.append(
            DayFeatures(day=DayName.of(on))
            if day is None
            else DayFeatures(
                day=DayName.of(on),
                screen_time_minutes=day.totals.screen_time_minutes,
                pickups=day.totals.pickups,
                focused_minutes=day.totals.focused_minutes,
                met_goal=day.met_goal,
            )
        )
    totals = Amounts(
        screen_time_minutes=sum(d.totals.screen_time_minutes for d in reported),
        pickups=sum(d.totals.pickups for d in reported),
        focused_minutes=sum(d.totals.focused_minutes for d in reported),
    )
    count = len(reported)
    # Ties go to the earlier day of the week (max and min keep the first): the same week always
    # names the same day. A best day only where days differ: one day is not "best" of itself.
    weakest = max(reported, key=_over_goal) if reported else None
    best = min(reported, key=_over_goal) if reported else None
    if best is None or weakest is None or _over_goal(best) == _over_goal(weakest):
        best = None
    now_average, then_average = _average_screen_time(reported), _average_screen_time(before)
    change = (
        round(100 * (now_average - then_average) / then_average)
        if now_average is not None and then_average
        else None
    )
    return WeekFeatures(
        week=first,
        language=language_of(settings.locale),
        daily_goal_minutes=settings.daily_goal_minutes,
        days=tuple(per_day),
        days_reported=count,
        days_met_goal=sum(d.met_goal for d in reported),
        totals=totals,
        averages=Amounts(
            screen_time_minutes=_average(totals.screen_time_minutes, count),
            pickups=_average(totals.pickups, count),
            focused_minutes=_average(totals.focused_minutes, count),
        ),
        average_score=_average(sum(d.score for d in reported), count) if count else None,
        best_day=DayName.of(date.fromisoformat(best.day)) if best else None,
        weakest_day=DayName.of(date.fromisoformat(weakest.day)) if weakest else None,
        screen_time_change_percent=change,
        streak_days=_streak(this_week),
        sessions=session_features(sessions, first, settings),
    )


def model_view(features: WeekFeatures) -> dict[str, object]:
    """The features as a model sees them: camelCase JSON without the week's date and without
    empty values (fewer tokens, nothing the model needs)."""
    return features.model_dump(mode="json", by_alias=True, exclude={"week"}, exclude_none=True)


def features_key(features: WeekFeatures) -> str:
    """A stable fingerprint of what a model would see (and of the rules' version): the same
    figures in the same language get the same insight from the cache, whatever the week."""
    canonical = json.dumps(
        {"v": INSIGHTS_VERSION, "features": model_view(features)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()

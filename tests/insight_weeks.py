"""The evaluation set for weekly insights: synthetic person-weeks, each with what any insight
written for it must satisfy.

Each ``PersonWeek`` is data (a locale, a goal, where the week starts, a week of daily screen time
in the person's week order, focus sessions by local hour) plus its expected properties: the
weakest day, and for the fallback the action it proposes. ``violations`` states the properties
every insight must keep, whoever wrote it (the fallback here; a model in an evaluation run):

* it names the weakest day (in the person's language);
* its action is one the app can carry out (``check`` accepts it) and, for a schedule, covers the
  weakest day;
* headline and body stay within ``MAX_HEADLINE`` and ``MAX_BODY`` characters;
* it echoes nothing of the person (their display name and email are part of each week, though no
  insight input carries them).

tests/test_insight_rules.py runs them over every week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from focus.domain.blocks import Strictness
from focus.domain.insight_fallback import day_name
from focus.domain.insight_features import DayName, WeekFeatures, features_of, week_start
from focus.domain.insights import (
    MAX_BODY,
    MAX_HEADLINE,
    Insight,
    ProposeSchedule,
    Refusal,
    check,
)
from focus.domain.profiles import Settings
from focus.domain.reports import Day, DayTotals
from focus.domain.scoring import focus_score
from focus.domain.sessions import EndReason, FocusSession, SessionStatus

# Any day of the week the evaluation looks at; each person's week is the one containing it.
ANCHOR = date(2026, 11, 18)

SCHEDULE, GOAL, SESSION = "proposeSchedule", "setDailyGoal", "startFocusSession"


@dataclass(frozen=True)
class Focus:
    """A focus session: ``day`` (0 = the first day of the person's week), local start ``hour``."""

    day: int
    hour: int
    minutes: int = 30
    strictness: Strictness = Strictness.EASY
    completed: bool = True


@dataclass(frozen=True)
class PersonWeek:
    name: str
    locale: str
    goal: int
    screen: tuple[int | None, ...]  # per day of the person's week; None: no report
    weakest: DayName | None  # expected
    action: str  # the fallback's expected action kind
    window: tuple[str, str] | None = None  # the fallback's expected schedule, if any
    week_starts_on: int = 1
    timezone: str = "Europe/Berlin"
    day_start_hour: int = 4
    sessions: tuple[Focus, ...] = ()
    previous: tuple[int | None, ...] = ()
    display_name: str = "Robin Example"
    email: str = "robin.example@example.com"

    @property
    def first_day(self) -> date:
        return week_start(ANCHOR, self.week_starts_on)

    def settings(self) -> Settings:
        return Settings(
            locale=self.locale,
            timezone=self.timezone,
            daily_goal_minutes=self.goal,
            week_starts_on=self.week_starts_on,
            day_start_hour=self.day_start_hour,
        )

    def days(self) -> list[Day]:
        return _days(self.first_day, self.screen, self.goal, self.timezone)

    def previous_days(self) -> list[Day]:
        return _days(self.first_day - timedelta(days=7), self.previous, self.goal, self.timezone)

    def focus_sessions(self) -> list[FocusSession]:
        zone = ZoneInfo(self.timezone)
        sessions = []
        for focus in self.sessions:
            on = self.first_day + timedelta(days=focus.day)
            start = datetime(on.year, on.month, on.day, focus.hour, tzinfo=zone)
            end = start + timedelta(minutes=focus.minutes)
            ended = end if focus.completed else start + timedelta(minutes=focus.minutes // 2)
            sessions.append(
                FocusSession(
                    status=SessionStatus.COMPLETED if focus.completed else SessionStatus.CANCELLED,
                    strictness=focus.strictness,
                    planned_start=start,
                    planned_end=end,
                    ended_at=ended,
                    end_reason=EndReason.COMPLETED if focus.completed else EndReason.CANCELLED,
                )
            )
        return sessions

    def features(self) -> WeekFeatures:
        return features_of(
            self.days(), self.focus_sessions(), ANCHOR, self.previous_days(), self.settings()
        )


def _days(first: date, screen: tuple[int | None, ...], goal: int, timezone: str) -> list[Day]:
    days = []
    for offset, minutes in enumerate(screen):
        if minutes is None:
            continue
        totals = DayTotals(screen_time_minutes=minutes, pickups=minutes // 3, focused_minutes=20)
        days.append(
            Day(
                day=(first + timedelta(days=offset)).isoformat(),
                timezone=timezone,
                totals=totals,
                goal_minutes=goal,
                met_goal=minutes <= goal,
                score=focus_score(totals, goal),
                revision=1,
            )
        )
    return days


D = DayName
N = None
# The fallback's schedule windows: where the person usually starts focus sessions (evening when
# they have none).
EVENING = ("19:00", "21:00")
MORNING = ("09:00", "11:00")
AFTERNOON = ("14:00", "16:00")
NIGHT = ("22:00", "06:00")

WEEKS: tuple[PersonWeek, ...] = (
    PersonWeek(
        "a Tuesday spike", "en-GB", 120, (100, 250, 130, 90, 110, 150, 80), D.TUE, SCHEDULE, EVENING
    ),
    PersonWeek(
        "heavy weekend", "de-DE", 120, (90, 100, 95, 110, 130, 300, 260), D.SAT, SCHEDULE, EVENING
    ),
    PersonWeek(
        "a Sunday-first week in Canada",
        "fr-CA",
        150,
        (320, 140, 120, 100, 90, 130, 200),
        D.SUN,
        SCHEDULE,
        EVENING,
        week_starts_on=7,
        timezone="America/Toronto",
    ),
    PersonWeek(
        "every goal met with room to spare", "es-ES", 180, (60, 70, 55, 80, 90, 75, 65), D.FRI, GOAL
    ),
    PersonWeek(
        "every goal met just", "en-US", 120, (110, 115, 100, 120, 118, 90, 105), D.THU, SESSION
    ),
    PersonWeek("no report at all", "de-DE", 120, (N, N, N, N, N, N, N), None, SESSION),
    PersonWeek(
        "one day reported, over", "en-GB", 90, (N, N, 200, N, N, N, N), D.WED, SCHEDULE, EVENING
    ),
    PersonWeek("one day reported, well under", "fr-FR", 240, (N, 60, N, N, N, N, N), D.TUE, GOAL),
    PersonWeek(
        "a tie goes to the earlier day",
        "es-ES",
        100,
        (180, 90, 100, 180, 95, 60, 70),
        D.MON,
        SCHEDULE,
        EVENING,
    ),
    PersonWeek(
        "a tie in a Sunday-first week",
        "en-US",
        100,
        (180, 90, 100, 95, 60, 70, 180),
        D.SUN,
        SCHEDULE,
        EVENING,
        week_starts_on=7,
        timezone="America/Chicago",
    ),
    PersonWeek("a goal of zero", "de-AT", 0, (30, 45, 20, 60, 15, 10, 5), D.THU, SCHEDULE, EVENING),
    PersonWeek(
        "evening focus habit",
        "en-GB",
        120,
        (100, 130, 220, 90, 100, 110, 95),
        D.WED,
        SCHEDULE,
        EVENING,
        sessions=(Focus(0, 19), Focus(1, 20), Focus(3, 18)),
    ),
    PersonWeek(
        "morning focus habit",
        "en-GB",
        120,
        (100, 130, 90, 90, 240, 110, 95),
        D.FRI,
        SCHEDULE,
        MORNING,
        sessions=(Focus(0, 7), Focus(1, 8), Focus(2, 9), Focus(4, 20)),
    ),
    PersonWeek(
        "night focus habit",
        "de-DE",
        120,
        (100, 130, 90, 90, 100, 110, 260),
        D.SUN,
        SCHEDULE,
        NIGHT,
        sessions=(Focus(0, 23), Focus(2, 23), Focus(4, 22)),
    ),
    PersonWeek(
        "afternoon focus habit",
        "fr-FR",
        120,
        (200, 130, 90, 90, 100, 110, 95),
        D.MON,
        SCHEDULE,
        AFTERNOON,
        sessions=(Focus(1, 14), Focus(2, 15, strictness=Strictness.HARDER)),
    ),
    PersonWeek(
        "an unsupported language writes English",
        "it-IT",
        120,
        (100, 110, 260, 90, 100, 110, 95),
        D.WED,
        SCHEDULE,
        EVENING,
    ),
    PersonWeek(
        "Brazilian Portuguese, Sunday first",
        "pt-BR",
        120,
        (100, 110, 90, 90, 100, 240, 95),
        D.FRI,
        SCHEDULE,
        EVENING,
        week_starts_on=7,
        timezone="America/Sao_Paulo",
    ),
    PersonWeek(
        "Saturday-first week",
        "ar-EG",
        120,
        (250, 110, 90, 90, 100, 115, 95),
        D.SAT,
        SCHEDULE,
        EVENING,
        week_starts_on=6,
        timezone="Africa/Cairo",
    ),
    PersonWeek(
        "Mexico, Sunday first",
        "es-MX",
        150,
        (100, 110, 90, 290, 100, 120, 95),
        D.WED,
        SCHEDULE,
        EVENING,
        week_starts_on=7,
        timezone="America/Mexico_City",
    ),
    PersonWeek(
        "a heavy user", "en-US", 180, (600, 720, 650, 900, 700, 800, 640), D.THU, SCHEDULE, EVENING
    ),
    PersonWeek(
        "a light user at a small goal", "de-DE", 60, (20, 30, 40, 25, 35, 30, 20), D.WED, SESSION
    ),
    PersonWeek(
        "days missing mid-week",
        "fr-FR",
        120,
        (100, N, 210, N, 90, N, 110),
        D.WED,
        SCHEDULE,
        EVENING,
    ),
    PersonWeek(
        "better than last week",
        "es-ES",
        120,
        (100, 130, 90, 90, 150, 110, 95),
        D.FRI,
        SCHEDULE,
        EVENING,
        previous=(200, 180, 160, 150, 210, 190, 170),
    ),
    PersonWeek(
        "worse than last week",
        "en-GB",
        120,
        (200, 180, 160, 150, 210, 190, 170),
        D.FRI,
        SCHEDULE,
        EVENING,
        previous=(100, 130, 90, 90, 150, 110, 95),
    ),
    PersonWeek(
        "hardcore sessions given up",
        "de-DE",
        120,
        (100, 200, 90, 90, 100, 110, 95),
        D.TUE,
        SCHEDULE,
        EVENING,
        sessions=(
            Focus(1, 19, 60, Strictness.HARDCORE, completed=False),
            Focus(1, 20, 60, Strictness.HARDCORE, completed=False),
        ),
    ),
    PersonWeek("the largest goal", "en-US", 1440, (200, 300, 250, 240, 220, 260, 210), D.TUE, GOAL),
    PersonWeek(
        "a big Friday", "fr-FR", 120, (100, 110, 90, 90, 480, 110, 95), D.FRI, SCHEDULE, EVENING
    ),
    PersonWeek(
        "a Sunday in a Monday week",
        "es-ES",
        120,
        (100, 110, 90, 90, 100, 110, 300),
        D.SUN,
        SCHEDULE,
        EVENING,
    ),
    PersonWeek(
        "Austria, a Thursday",
        "de-AT",
        150,
        (100, 110, 90, 260, 100, 110, 95),
        D.THU,
        SCHEDULE,
        EVENING,
    ),
    PersonWeek(
        "British Wednesday",
        "en-GB",
        120,
        (100, 110, 190, 90, 100, 110, 95),
        D.WED,
        SCHEDULE,
        EVENING,
    ),
    PersonWeek(
        "only the weekend", "fr-BE", 120, (N, N, N, N, N, 150, 200), D.SUN, SCHEDULE, EVENING
    ),
    PersonWeek(
        "only the last day", "es-ES", 120, (N, N, N, N, N, N, 130), D.SUN, SCHEDULE, EVENING
    ),
    PersonWeek(
        "New York evenings",
        "en-US",
        120,
        (100, 110, 90, 90, 100, 210, 95),
        D.FRI,
        SCHEDULE,
        EVENING,
        week_starts_on=7,
        timezone="America/New_York",
        sessions=(Focus(1, 19), Focus(2, 20)),
    ),
    PersonWeek(
        "days start at midnight, a 01:00 session",
        "de-DE",
        120,
        (100, 110, 90, 90, 100, 110, 250),
        D.SUN,
        SCHEDULE,
        NIGHT,
        day_start_hour=0,
        sessions=(Focus(3, 1), Focus(4, 1)),
    ),
)


# Well-formed model answers for some weeks, as a model would return them (raw JSON), each stating
# only figures of its week: ``check`` accepts them and they keep every property.
MODEL_ANSWERS: dict[str, str] = {
    "a Tuesday spike": """{
        "headline": "Tuesday was your heaviest screen day",
        "body": "On Tuesday you spent 4 h 10 min on screens, 2 h 10 min over your goal of 2 h. \
The other days stayed close to it. Try a focus schedule on Tuesdays from 19:00 to 21:00.",
        "suggestedAction": {"kind": "proposeSchedule", "weekdays": [2], "start": "19:00", "end": "21:00"},
        "language": "en"
    }""",
    "heavy weekend": """{
        "headline": "Dein Wochenende braucht einen Plan",
        "body": "Am Samstag warst du 5 h am Bildschirm, am Sonntag 4 h 20 min. Unter der Woche \
hast du dein Ziel von 2 h fast immer erreicht. Probier samstags einen Zeitplan von 10:00 bis 12:00.",
        "suggestedAction": {"kind": "proposeSchedule", "weekdays": [6, 7], "start": "10:00", "end": "12:00"},
        "language": "de"
    }""",
    "every goal met with room to spare": """{
        "headline": "Una semana redonda",
        "body": "Cumpliste tu objetivo todos los días. El viernes fue tu día más alto, con 1 h 30 min \
de pantalla. ¿Y si pruebas un objetivo diario de 1 h 30 min?",
        "suggestedAction": {"kind": "setDailyGoal", "minutes": 90},
        "language": "es"
    }""",
    "a Sunday-first week in Canada": """{
        "headline": "Le dimanche pèse sur ta semaine",
        "body": "Dimanche, tu as passé 5 h 20 min sur tes écrans, bien plus que ton objectif de \
2 h 30 min. Lance une session de concentration de 45 min dimanche prochain.",
        "suggestedAction": {"kind": "startFocusSession", "minutes": 45},
        "language": "fr"
    }""",
    "worse than last week": """{
        "headline": "Friday was your toughest day",
        "body": "Your screen time rose 64% on last week. Friday was the peak with 3 h 30 min, \
1 h 30 min over your goal. A focus session of 50 min on Friday could help you keep the week in check.",
        "suggestedAction": {"kind": "startFocusSession", "minutes": 50},
        "language": "en"
    }""",
}


def violations(insight: Insight | Refusal, week: PersonWeek) -> list[str]:
    """The properties ``insight`` breaks for ``week``; empty when it keeps them all."""
    if isinstance(insight, Refusal):
        return [f"check refused it: {insight.value}"]
    features = week.features()
    broken = []
    text = f"{insight.headline}\n{insight.body}"
    if week.weakest is not None:
        name = day_name(features.language, week.weakest)
        if name.lower() not in text.lower():
            broken.append(f"does not name the weakest day ({name})")
    if check(insight, features) != insight:
        broken.append("check does not accept it")
    action = insight.suggested_action
    misses = week.weakest is not None and week.weakest.iso not in getattr(action, "weekdays", [])
    if isinstance(action, ProposeSchedule) and misses:
        broken.append("the schedule misses the weakest day")
    if len(insight.headline) > MAX_HEADLINE or len(insight.body) > MAX_BODY:
        broken.append("too long")
    for personal in (week.display_name, week.email, *week.display_name.split()):
        if personal.lower() in text.lower():
            broken.append(f"echoes {personal!r}")
    return broken

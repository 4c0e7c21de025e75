"""Weekly insights (focus.domain.insight_features, focus.domain.insights): a person's week becomes
a handful of figures in their own week and time zone; a model's answer is used only when it is
well-formed, short, in the person's language, states only figures of the week, echoes nothing
personal and suggests something the app can do; otherwise a localised template stands in, and it
always passes the same checks. Pure: fixed dates, named zones, no clock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from insight_weeks import MODEL_ANSWERS, WEEKS, violations

from focus.domain.blocks import Strictness
from focus.domain.insight_fallback import day_name, fallback
from focus.domain.insight_features import (
    DayName,
    PartOfDay,
    WeekFeatures,
    features_key,
    features_of,
    week_start,
)
from focus.domain.insights import (
    GOAL_MAX,
    MAX_BODY,
    MAX_HEADLINE,
    Insight,
    NoAction,
    ProposeSchedule,
    Refusal,
    SetDailyGoal,
    StartFocusSession,
    answer_schema,
    check,
    prompt_for,
)
from focus.domain.notifications import Language
from focus.domain.profiles import Settings
from focus.domain.reports import Day, DayTotals
from focus.domain.sessions import EndReason, FocusSession, SessionResult, SessionStatus

PURE = settings(max_examples=200, derandomize=True, database=None, deadline=None)
BERLIN = "Europe/Berlin"
MONDAY = date(2026, 11, 16)  # a Monday; the week of 16-22 November 2026


def a_day(
    on: date, screen: int, *, goal: int = 120, focused: int = 20, revision: int = 1, **extra: Any
) -> Day:
    totals = DayTotals(screen_time_minutes=screen, pickups=screen // 3, focused_minutes=focused)
    return Day(
        day=on.isoformat(),
        timezone=BERLIN,
        totals=totals,
        goal_minutes=goal,
        met_goal=screen <= goal,
        score=60,
        revision=revision,
        **extra,
    )


def a_week(first: date, screen: Sequence[int | None], **extra: Any) -> list[Day]:
    return [
        a_day(first + timedelta(days=offset), minutes, **extra)
        for offset, minutes in enumerate(screen)
        if minutes is not None
    ]


def a_session(
    start: datetime,
    minutes: int = 30,
    *,
    status: SessionStatus = SessionStatus.COMPLETED,
    end_reason: EndReason | None = EndReason.COMPLETED,
    strictness: Strictness = Strictness.EASY,
    **extra: Any,
) -> FocusSession:
    end = start + timedelta(minutes=minutes)
    return FocusSession(
        status=status,
        strictness=strictness,
        planned_start=start,
        planned_end=end,
        ended_at=None if status is SessionStatus.ACTIVE else end,
        end_reason=end_reason,
        **extra,
    )


def berlin(on: date, hour: int, minute: int = 0) -> datetime:
    return datetime(on.year, on.month, on.day, hour, minute, tzinfo=ZoneInfo(BERLIN))


def person(**values: Any) -> Settings:
    return Settings.model_validate({"timezone": BERLIN, "weekStartsOn": 1, **values})


def features(
    screen: Sequence[int | None],
    *,
    sessions: list[FocusSession] | None = None,
    previous: Sequence[int | None] | None = None,
    **values: Any,
) -> WeekFeatures:
    return features_of(
        a_week(MONDAY, screen),
        sessions or [],
        MONDAY,
        a_week(MONDAY - timedelta(days=7), previous or []),
        person(**values),
    )


TUESDAY_SPIKE = [100, 250, 130, 90, 110, 150, 80]


def answer(**changes: Any) -> dict[str, Any]:
    """A well-formed English answer for the Tuesday-spike week."""
    base: dict[str, Any] = {
        "headline": "Tuesday was your heaviest screen day",
        "body": "On Tuesday you spent 4 h 10 min on screens, 2 h 10 min over your goal of 2 h. "
        "Try a focus schedule on Tuesdays from 19:00 to 21:00.",
        "suggestedAction": {
            "kind": "proposeSchedule",
            "weekdays": [2],
            "start": "19:00",
            "end": "21:00",
        },
        "language": "en",
    }
    return base | changes


# --- The week's features -------------------------------------------------------------------------


def test_a_week_runs_from_the_persons_first_weekday_whichever_day_is_asked_for() -> None:
    wednesday = MONDAY + timedelta(days=2)
    assert week_start(wednesday, 1) == MONDAY
    assert week_start(wednesday, 7) == MONDAY - timedelta(days=1)  # the Sunday before
    assert week_start(wednesday, 6) == MONDAY - timedelta(days=2)  # the Saturday before
    assert week_start(MONDAY, 1) == MONDAY


def test_the_days_follow_the_persons_week_and_days_outside_it_do_not_count() -> None:
    sunday = MONDAY - timedelta(days=1)
    days = a_week(sunday - timedelta(days=7), [999] * 21)  # three weeks from a Sunday
    week = features_of(days, [], MONDAY + timedelta(days=3), [], person(weekStartsOn=7))

    assert week.week == sunday
    assert [day.day.value for day in week.days] == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    assert week.days_reported == 7
    assert week.totals.screen_time_minutes == 7 * 999


def test_a_day_without_a_report_has_no_figures_and_does_not_lower_the_averages() -> None:
    week = features([100, None, 200, None, None, None, None])

    assert week.day(DayName.TUE).screen_time_minutes is None
    assert week.day(DayName.TUE).met_goal is None
    assert week.days_reported == 2
    assert week.averages.screen_time_minutes == 150
    assert week.totals.screen_time_minutes == 300


def test_the_weakest_day_is_the_one_furthest_over_its_own_goal() -> None:
    # Tuesday had more screen time, but Thursday's goal (stored with the day) was far lower.
    days = [
        a_day(MONDAY + timedelta(days=1), 200, goal=180),
        a_day(MONDAY + timedelta(days=3), 150, goal=60),
        a_day(MONDAY + timedelta(days=4), 50, goal=120),
    ]
    week = features_of(days, [], MONDAY, [], person())

    assert week.weakest_day is DayName.THU
    assert week.best_day is DayName.FRI


def test_ties_name_the_earlier_day_of_the_persons_week() -> None:
    sunday_first = features_of(
        a_week(MONDAY - timedelta(days=1), [180, 90, 100, 95, 60, 70, 180]),
        [],
        MONDAY,
        [],
        person(weekStartsOn=7),
    )
    assert sunday_first.weakest_day is DayName.SUN  # Sunday and Saturday tie: Sunday comes first

    even = features([100, 100, 100, None, None, None, None])
    assert even.weakest_day is DayName.MON
    assert even.best_day is None  # no day was better than another


def test_no_report_means_no_weakest_day_score_or_change() -> None:
    week = features([None] * 7, previous=[100] * 7)

    assert week.weakest_day is None and week.best_day is None
    assert week.average_score is None
    assert week.screen_time_change_percent is None
    assert week.days_reported == 0 and week.streak_days == 0


def test_the_change_compares_average_daily_screen_time_with_the_week_before() -> None:
    # 5 days at 150 min against 7 days at 100 min: 50% more per day, whatever was reported.
    assert features([150] * 5 + [None] * 2, previous=[100] * 7).screen_time_change_percent == 50
    assert features([75] * 7, previous=[100] * 7).screen_time_change_percent == -25
    assert features([75] * 7).screen_time_change_percent is None  # no week before
    assert features([75] * 7, previous=[0] * 7).screen_time_change_percent is None


def test_the_later_revision_of_a_day_counts() -> None:
    days = [a_day(MONDAY, 100, revision=2), a_day(MONDAY, 300, revision=1)]
    assert features_of(days, [], MONDAY, [], person()).totals.screen_time_minutes == 100


def test_the_streak_is_the_derived_one_or_the_run_of_goal_days_at_the_weeks_end() -> None:
    derived = a_week(MONDAY, [100] * 7, streak=12)
    assert features_of(derived, [], MONDAY, [], person()).streak_days == 12

    assert features([200, 100, 200, 100, 100, 100, None]).streak_days == 3
    assert features([100, 100, 100, 100, 100, 100, 200]).streak_days == 0


def test_sessions_count_by_outcome_strictness_and_part_of_the_day_in_the_persons_zone() -> None:
    tuesday = MONDAY + timedelta(days=1)
    sessions = [
        a_session(berlin(tuesday, 8), 45, strictness=Strictness.HARDER),
        a_session(berlin(tuesday, 19), 30),
        a_session(
            berlin(tuesday, 20), 60, status=SessionStatus.CANCELLED, end_reason=EndReason.CANCELLED
        ),
        a_session(
            berlin(tuesday, 23),
            60,
            status=SessionStatus.CANCELLED,
            end_reason=EndReason.EMERGENCY,
            strictness=Strictness.HARDCORE,
        ),
        a_session(berlin(tuesday, 14), 90, status=SessionStatus.ACTIVE, end_reason=None),
    ]
    week = features(TUESDAY_SPIKE, sessions=sessions).sessions

    assert (week.completed, week.abandoned) == (2, 2)
    assert week.completed_minutes == 75
    assert week.abandoned_minutes == 120  # their ends are recorded at their planned ends here
    assert week.by_strictness[Strictness.HARDER].completed == 1
    assert week.by_strictness[Strictness.HARDCORE].abandoned == 1
    assert week.started == {PartOfDay.MORNING: 1, PartOfDay.EVENING: 2, PartOfDay.NIGHT: 1}


def test_a_counted_session_brings_the_minutes_it_was_counted_for() -> None:
    counted = a_session(
        berlin(MONDAY, 10),
        60,
        result=SessionResult(focused_minutes=35, counted_at=berlin(MONDAY, 12)),
    )
    assert features(TUESDAY_SPIKE, sessions=[counted]).sessions.completed_minutes == 35


def test_a_session_belongs_to_the_local_day_it_started_on() -> None:
    # 02:00 Berlin on Monday is still Sunday for a person whose days start at 04:00: last week.
    before_day_start = a_session(berlin(MONDAY, 2))
    # 23:30 UTC on Sunday is 00:30 Monday in Berlin; for a person whose days start at midnight,
    # that is Monday: this week.
    monday_in_berlin = a_session(datetime(2026, 11, 15, 23, 30, tzinfo=UTC))

    night_owl = features(TUESDAY_SPIKE, sessions=[before_day_start, monday_in_berlin])
    assert night_owl.sessions.completed == 0
    midnight = features(
        TUESDAY_SPIKE, sessions=[before_day_start, monday_in_berlin], dayStartHour=0
    )
    assert midnight.sessions.completed == 2
    assert midnight.sessions.started == {PartOfDay.NIGHT: 2}


def test_the_language_is_the_locales_language_and_english_for_others() -> None:
    assert features(TUESDAY_SPIKE, locale="de-AT").language is Language.DE
    assert features(TUESDAY_SPIKE, locale="fr_CA").language is Language.FR
    assert features(TUESDAY_SPIKE, locale="es-419").language is Language.ES
    assert features(TUESDAY_SPIKE, locale="it-IT").language is Language.EN


def test_identical_figures_have_one_fingerprint_whatever_the_week_or_the_input_order() -> None:
    this_week = features_of(a_week(MONDAY, TUESDAY_SPIKE), [], MONDAY, [], person())
    shuffled = features_of(list(reversed(a_week(MONDAY, TUESDAY_SPIKE))), [], MONDAY, [], person())
    next_monday = MONDAY + timedelta(days=7)
    next_week = features_of(a_week(next_monday, TUESDAY_SPIKE), [], next_monday, [], person())

    assert features_key(this_week) == features_key(shuffled) == features_key(next_week)
    assert len(features_key(this_week)) == 64
    assert features_key(features(TUESDAY_SPIKE, locale="de")) != features_key(this_week)
    assert features_key(features([101, *TUESDAY_SPIKE[1:]])) != features_key(this_week)


# --- The prompt ----------------------------------------------------------------------------------


def test_the_prompt_asks_in_the_persons_language_for_the_answers_shape_with_the_figures() -> None:
    week = features(TUESDAY_SPIKE, locale="de-DE")
    prompt = prompt_for(week)
    facts = json.loads(prompt.split("Facts: ", 1)[1])

    assert 'German ("de")' in prompt
    assert all(kind in prompt for kind in ("proposeSchedule", "setDailyGoal", "startFocusSession"))
    assert facts["weakestDay"] == "Tue"
    assert facts["days"][1] == {
        "day": "Tue",
        "screenTimeMinutes": 250,
        "pickups": 83,
        "focusedMinutes": 20,
        "metGoal": False,
    }
    assert "week" not in facts and MONDAY.isoformat() not in prompt  # no calendar date


def test_the_prompt_stays_short() -> None:
    sessions = [a_session(berlin(MONDAY + timedelta(days=d), 19)) for d in range(7)]
    prompt = prompt_for(features(TUESDAY_SPIKE, sessions=sessions, previous=TUESDAY_SPIKE))
    assert len(prompt) < 2_200  # about 600 tokens


def test_the_answer_schema_is_the_insight_with_its_limits() -> None:
    schema = answer_schema()
    assert schema["properties"]["headline"]["maxLength"] == MAX_HEADLINE
    assert schema["properties"]["body"]["maxLength"] == MAX_BODY
    assert set(schema["required"]) == {"headline", "body", "suggestedAction", "language"}


# --- Checking a model's answer -------------------------------------------------------------------


def test_a_well_formed_answer_is_accepted_as_json_text_parsed_json_or_an_insight() -> None:
    week = features(TUESDAY_SPIKE)
    accepted = check(json.dumps(answer()), week)

    assert isinstance(accepted, Insight)
    assert accepted.suggested_action == ProposeSchedule(weekdays=[2], start="19:00", end="21:00")
    assert check(answer(), week) == accepted
    assert check(f"```json\n{json.dumps(answer())}\n```", week) == accepted
    assert check(json.dumps(answer()).encode(), week) == accepted
    assert check(accepted, week) == accepted


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"headline": "T" * (MAX_HEADLINE + 1)}, Refusal.TOO_LONG),
        ({"body": "On Tuesday you spent 4 h 10 min on screens. " * 10}, Refusal.TOO_LONG),
        ({"headline": ""}, Refusal.INVALID),
        ({"mood": "cheerful"}, Refusal.INVALID),  # not the shape
        ({"language": "it"}, Refusal.INVALID),  # a language the app does not speak
    ],
)
def test_an_answer_of_the_wrong_shape_or_length_is_refused(
    changes: dict[str, Any], reason: Refusal
) -> None:
    assert check(answer(**changes), features(TUESDAY_SPIKE)) is reason


@pytest.mark.parametrize(
    "raw",
    ["I'm sorry, but I can't help with that.", "", "{", "[]", '{"headline": "Hi"}'],
)
def test_a_refusal_in_prose_or_broken_json_is_refused(raw: str) -> None:
    assert check(raw, features(TUESDAY_SPIKE)) is Refusal.INVALID


def test_an_answer_not_in_the_persons_language_is_refused() -> None:
    german = features(TUESDAY_SPIKE, locale="de-DE")

    assert check(answer(), german) is Refusal.WRONG_LANGUAGE  # declared English
    assert check(answer(language="de"), german) is Refusal.WRONG_LANGUAGE  # declared, not written
    written = answer(
        language="de",
        headline="Dienstag war dein schwierigster Tag",
        body="Am Dienstag warst du 4 h 10 min am Bildschirm, 2 h 10 min über deinem Ziel von "
        "2 h. Probier dienstags einen Zeitplan von 19:00 bis 21:00.",
    )
    assert isinstance(check(written, german), Insight)


@pytest.mark.parametrize(
    "echo",
    [
        "robin.example@example.com",
        "Xk3b9QpL2mZ7vR1tY8wN4cD6eF0g",  # a Firebase uid
        "3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c",  # a device id (UUID)
        "https://example.com/you",
        "@robin_example",
        "+49 170 1234567",
    ],
)
def test_an_answer_echoing_anything_personal_looking_is_refused(echo: str) -> None:
    body = f"Hi {echo}! On Tuesday you spent 4 h 10 min on screens, over your goal of 2 h."
    assert check(answer(body=body), features(TUESDAY_SPIKE)) is Refusal.PERSONAL_DATA


@pytest.mark.parametrize(
    "action",
    [
        {"kind": "startFocusSession", "minutes": 500},
        {"kind": "startFocusSession", "minutes": 2},
        {"kind": "setDailyGoal", "minutes": GOAL_MAX + 1},
        {"kind": "proposeSchedule", "weekdays": [8], "start": "19:00", "end": "21:00"},
        {"kind": "proposeSchedule", "weekdays": [], "start": "19:00", "end": "21:00"},
        {"kind": "proposeSchedule", "weekdays": [2], "start": "7pm", "end": "9pm"},
        {"kind": "blockInstagram"},
        {"kind": "none", "minutes": 5},
    ],
)
def test_an_action_the_app_cannot_do_is_refused(action: dict[str, Any]) -> None:
    assert check(answer(suggestedAction=action), features(TUESDAY_SPIKE)) is Refusal.INVALID


@pytest.mark.parametrize(
    "action",
    [
        {"kind": "proposeSchedule", "weekdays": [2], "start": "19:00", "end": "19:00"},  # 24 h
        {"kind": "proposeSchedule", "weekdays": [2], "start": "06:00", "end": "21:00"},  # 15 h
        {"kind": "proposeSchedule", "weekdays": [2, 2], "start": "19:00", "end": "21:00"},
        {"kind": "setDailyGoal", "minutes": 120},  # the goal already set
        {"kind": "setDailyGoal", "minutes": 0},
    ],
)
def test_an_action_the_app_could_do_but_no_one_should_suggest_is_refused(
    action: dict[str, Any],
) -> None:
    body = "On Tuesday you spent 4 h 10 min on screens, 2 h 10 min over your goal of 2 h."
    refused = check(answer(body=body, suggestedAction=action), features(TUESDAY_SPIKE))
    assert refused is Refusal.UNUSABLE_ACTION


@pytest.mark.parametrize(
    "body",
    [
        # Daily totals have no hours: "after 20:00" is an invention (20:00 is not the schedule).
        "On Tuesday you spent 4 h 10 min on screens, mostly after 20:00. Try a schedule.",
        "On Tuesday you spent 6 h 30 min on screens. Try a focus schedule.",
        "On Tuesday you spent 9 h on screens. Try a focus schedule.",
        "On Tuesday you spent 333 min on screens. Try a focus schedule.",
        "Your screen time on Tuesday rose 80% on the week before.",
    ],
)
def test_an_answer_stating_figures_the_week_does_not_have_is_refused(body: str) -> None:
    assert check(answer(body=body), features(TUESDAY_SPIKE)) is Refusal.IMPLAUSIBLE_FIGURE


def test_rounded_figures_of_the_week_pass() -> None:
    # 250 min on Tuesday as "4 h" (to the hour) or "4 h 10 min"; the 130 over as "130 min".
    body = (
        "On Tuesday you spent about 4 h on screens (4 h 10 min), 130 min over your goal of "
        "2 h, and you met your goal on 57% of days. Try a schedule on Tuesdays from 19:00 to 21:00."
    )
    assert isinstance(check(answer(body=body), features(TUESDAY_SPIKE)), Insight)

    german = answer(
        language="de",
        headline="Dienstag war dein schwierigster Tag",
        body="Am Dienstag warst du 4 Std. 10 Min. am Bildschirm, über deinem Ziel von 2 Std.",
        suggestedAction={"kind": "none"},
    )
    assert isinstance(check(german, features(TUESDAY_SPIKE, locale="de")), Insight)


# --- The fallback --------------------------------------------------------------------------------


@pytest.mark.parametrize("language", list(Language))
def test_the_fallback_names_the_weakest_day_and_proposes_a_schedule_on_it(language: str) -> None:
    week = features(TUESDAY_SPIKE, locale=language)
    insight = fallback(week)

    assert insight.language is Language(language)
    assert day_name(week.language, DayName.TUE).lower() in insight.headline.lower()
    assert insight.suggested_action == ProposeSchedule(weekdays=[2], start="19:00", end="21:00")
    assert check(insight, week) == insight


def test_the_fallback_reads_naturally_in_each_language() -> None:
    texts = {
        lang: fallback(features(TUESDAY_SPIKE, locale=lang)) for lang in ("en", "de", "fr", "es")
    }

    assert texts["en"].headline == "Tuesday was your toughest day"
    assert texts["en"].body == (
        "On Tuesday you spent 4 h 10 min on screens; your daily goal is 2 h. You met it on 4 of 7"
        " days. Try a focus schedule on Tuesdays from 19:00 to 21:00."
    )
    assert texts["de"].headline == "Dienstag war dein schwierigster Tag"
    assert "4 h 10 Min." in texts["de"].body and "dienstags von 19:00 bis 21:00" in texts["de"].body
    assert texts["fr"].headline == "Mardi a été ta journée la plus difficile"
    assert "4 jours sur 7" in texts["fr"].body and "le mardi de 19:00 à 21:00" in texts["fr"].body
    assert texts["es"].headline == "El martes fue tu día más difícil"
    assert "los martes de 19:00 a 21:00" in texts["es"].body


def test_the_fallback_schedules_where_the_person_usually_starts_focus_sessions() -> None:
    mornings = [a_session(berlin(MONDAY + timedelta(days=d), 8)) for d in range(3)]
    action = fallback(features(TUESDAY_SPIKE, sessions=mornings)).suggested_action
    assert action == ProposeSchedule(weekdays=[2], start="09:00", end="11:00")


def test_when_every_day_met_the_goal_the_fallback_suggests_a_lower_goal_if_the_week_allows() -> (
    None
):
    roomy = fallback(features([60, 70, 55, 80, 95, 75, 65], daily_goal_minutes=180))
    assert roomy.suggested_action == SetDailyGoal(minutes=105)  # the week's most, to 15 minutes
    assert "Friday" in roomy.body

    tight = fallback(features([110, 115, 100, 120, 118, 90, 105]))
    assert tight.suggested_action == StartFocusSession(minutes=25)
    assert "Thursday" in tight.body


def test_without_any_report_the_fallback_suggests_a_focus_session() -> None:
    insight = fallback(features([None] * 7, locale="fr"))
    assert insight.suggested_action == StartFocusSession(minutes=25)
    assert insight.headline == "Aucun temps d'écran mesuré cette semaine"


weeks_of_any_shape = st.builds(
    lambda screen, goal, start, locale, hours: (screen, goal, start, locale, hours),
    st.lists(st.none() | st.integers(0, 1440), min_size=7, max_size=7),
    st.integers(0, 1440),
    st.integers(1, 7),
    st.sampled_from(["en", "de-DE", "fr-FR", "es-ES", "it", "ja-JP"]),
    st.lists(st.integers(0, 23), max_size=6),
)


@PURE
@given(weeks_of_any_shape)
def test_the_fallback_passes_every_check_for_any_week(
    week: tuple[list[int | None], int, int, str, list[int]],
) -> None:
    screen, goal, week_starts_on, locale, hours = week
    first = week_start(MONDAY, week_starts_on)
    sessions = [
        a_session(berlin(first + timedelta(days=i % 7), hour)) for i, hour in enumerate(hours)
    ]
    features_ = features_of(
        a_week(first, screen, goal=goal),
        sessions,
        MONDAY,
        [],
        person(locale=locale, dailyGoalMinutes=goal, weekStartsOn=week_starts_on),
    )
    insight = fallback(features_)

    assert check(insight, features_) == insight
    if features_.weakest_day is not None:
        name = day_name(features_.language, features_.weakest_day).lower()
        assert name in f"{insight.headline} {insight.body}".lower()
    else:
        assert insight.suggested_action == StartFocusSession(minutes=25)


def test_no_action_is_a_valid_suggestion() -> None:
    body = "On Tuesday you spent 4 h 10 min on screens, 2 h 10 min over your goal of 2 h."
    none = answer(body=body, suggestedAction={"kind": "none"})
    assert isinstance(check(none, features(TUESDAY_SPIKE)), Insight)
    assert NoAction().kind == "none"


# --- The evaluation set --------------------------------------------------------------------------


def test_the_evaluation_set_covers_enough_weeks_languages_and_week_starts() -> None:
    assert len(WEEKS) >= 30
    assert len({week.name for week in WEEKS}) == len(WEEKS)
    assert {week.features().language for week in WEEKS} == set(Language)
    assert {week.week_starts_on for week in WEEKS} >= {1, 6, 7}
    assert {week.action for week in WEEKS} == {
        "proposeSchedule",
        "setDailyGoal",
        "startFocusSession",
    }


@pytest.mark.parametrize("week", WEEKS, ids=lambda week: week.name)
def test_every_evaluation_week_gets_a_fallback_with_every_property(week: Any) -> None:
    features_ = week.features()
    insight = fallback(features_)

    assert features_.weakest_day is week.weakest
    assert insight.suggested_action.kind == week.action
    if week.window is not None:
        assert isinstance(insight.suggested_action, ProposeSchedule)
        assert (insight.suggested_action.start, insight.suggested_action.end) == week.window
    assert violations(insight, week) == []


@pytest.mark.parametrize("name", sorted(MODEL_ANSWERS))
def test_well_formed_model_answers_are_accepted_and_keep_every_property(name: str) -> None:
    week = next(week for week in WEEKS if week.name == name)
    accepted = check(MODEL_ANSWERS[name], week.features())

    assert isinstance(accepted, Insight)
    assert violations(accepted, week) == []


def test_a_model_answer_echoing_the_person_is_refused() -> None:
    week = WEEKS[0]
    echoed = json.loads(MODEL_ANSWERS[week.name])
    echoed["body"] = f"{week.email}: " + echoed["body"][: MAX_BODY - len(week.email) - 2]

    assert check(echoed, week.features()) is Refusal.PERSONAL_DATA

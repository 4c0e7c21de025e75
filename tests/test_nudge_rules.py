"""Nudges (focus.domain.nudges): the streak-at-risk push's body, written by a model from three
figures (the streak's days, the daily goal, the language) and nothing personal; used only when it
is well-formed, one short line, in the person's language, echoes nothing personal and states no
figure but those; otherwise the template's body stands. Pure: fixed dates, no clock."""

from __future__ import annotations

import json
from datetime import date

import pytest

from focus.domain.insights import Refusal
from focus.domain.notifications import MAX_NOTE, Language, StreakAtRisk, localised
from focus.domain.nudges import (
    MAX_TEXT,
    Nudge,
    NudgeFigures,
    answer_schema,
    check,
    figures_of,
    prompt_for,
    wanted,
    with_note,
)
from focus.domain.profiles import Settings

EVENING = date(2026, 11, 24)
AT_RISK = StreakAtRisk(day=EVENING, streak_days=6, goal_met_today=False)
ENGLISH = NudgeFigures(language=Language.EN, streak_days=6, daily_goal_minutes=90)


def answer(text: str) -> str:
    return json.dumps({"text": text}, ensure_ascii=False)


# --- Who gets one and what a model sees ----------------------------------------------------------


def test_only_a_streak_someone_can_still_keep_is_nudged() -> None:
    assert wanted(AT_RISK)
    assert not wanted(AT_RISK.model_copy(update={"goal_met_today": True}))
    assert not wanted(AT_RISK.model_copy(update={"streak_days": 0}))


def test_a_model_sees_the_streak_the_goal_and_the_language_only() -> None:
    settings = Settings(
        timezone="Pacific/Chatham", locale="de-CH", daily_goal_minutes=95, day_start_hour=3
    )
    figures = figures_of(AT_RISK, settings)
    prompt = prompt_for(figures)
    facts = json.loads(prompt.split("Facts: ", 1)[1])

    assert figures == NudgeFigures(language=Language.DE, streak_days=6, daily_goal_minutes=95)
    assert facts == {"streakDays": 6, "dailyGoalMinutes": 95}
    assert 'German ("de")' in prompt and f"at most {MAX_TEXT} characters" in prompt
    assert "Chatham" not in prompt and "de-CH" not in prompt
    assert EVENING.isoformat() not in prompt  # no calendar date


def test_the_prompt_stays_short() -> None:
    assert len(prompt_for(ENGLISH)) < 800  # about 200 tokens: an online call per person


def test_the_answer_schema_is_one_line_of_text_as_long_as_a_push_body_may_be() -> None:
    schema = answer_schema()

    assert schema["required"] == ["text"]
    assert schema["properties"]["text"]["maxLength"] == MAX_TEXT == MAX_NOTE


# --- Checking a model's answer -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text"),
    [
        (Language.EN, "Keep your 6-day streak alive: stay within your goal of 1 h 30 min today."),
        (Language.DE, "Deine Serie von 6 Tagen ist in Gefahr: bleib heute unter 90 Min."),
        (Language.FR, "Ta série de 6 jours est en jeu, reste sous ton objectif de 1 h 30 min."),
        (Language.ES, "Tu racha de 6 días sigue viva: cumple hoy tu objetivo de 90 min."),
    ],
)
def test_a_short_nudge_in_the_persons_language_with_their_figures_is_accepted(
    language: Language, text: str
) -> None:
    figures = ENGLISH.model_copy(update={"language": language})

    assert check(answer(text), figures) == Nudge(text=text)
    assert check(f"```json\n{answer(text)}\n```", figures) == Nudge(text=text)
    assert check(answer(text).encode(), figures) == Nudge(text=text)


def test_tomorrows_streak_may_be_named() -> None:
    text = "Make it 7 days: keep today within your goal and your streak goes on."
    assert check(answer(text), ENGLISH) == Nudge(text=text)


@pytest.mark.parametrize(
    "raw",
    [
        None,  # the model wrote nothing
        "",
        "I'm sorry, but I can't help with that.",
        '{"text": ""}',
        '{"message": "Keep your streak!"}',
        "[]",
    ],
)
def test_no_answer_broken_json_or_the_wrong_shape_is_refused(raw: str | None) -> None:
    assert check(raw, ENGLISH) is Refusal.INVALID


def test_a_nudge_longer_than_a_push_body_may_be_is_refused() -> None:
    text = "Keep your 6-day streak: stay within your goal today, you can do it. " * 2
    assert len(text) > MAX_TEXT
    assert check(answer(text), ENGLISH) is Refusal.TOO_LONG


def test_a_nudge_not_in_the_persons_language_is_refused() -> None:
    english = "Keep your 6-day streak alive: stay within your goal of 1 h 30 min today."
    german = ENGLISH.model_copy(update={"language": Language.DE})

    assert check(answer(english), german) is Refusal.WRONG_LANGUAGE


@pytest.mark.parametrize(
    "echo",
    [
        "robin.example@example.com",
        "Xk3b9QpL2mZ7vR1tY8wN4cD6eF0g",  # a Firebase uid
        "https://example.com/you",
        "@robin_example",
        "+49 170 1234567",
    ],
)
def test_a_nudge_echoing_anything_personal_looking_is_refused(echo: str) -> None:
    text = f"Hi {echo}, keep your 6-day streak: stay within your goal today."
    assert check(answer(text), ENGLISH) is Refusal.PERSONAL_DATA


@pytest.mark.parametrize(
    "text",
    [
        "Keep your 5-day streak: stay within your goal today.",  # not the streak
        "Keep your 6-day streak: stay within 2 h today.",  # not the goal
        "Keep your 6-day streak: put the phone down by 21:30.",  # a time no one knows
        "You are 80% of the way there: keep your 6-day streak today.",  # made up
    ],
)
def test_a_nudge_stating_figures_the_facts_do_not_have_is_refused(text: str) -> None:
    assert check(answer(text), ENGLISH) is Refusal.IMPLAUSIBLE_FIGURE


# --- The push ------------------------------------------------------------------------------------


def test_an_accepted_nudge_is_the_pushs_body_under_the_same_title() -> None:
    nudge = Nudge(text="Keep your 6-day streak alive: stay within your goal today.")
    nudged = with_note(AT_RISK, nudge)

    assert localised(nudged, "en-GB") == ("Your streak is at risk", nudge.text)
    assert localised(with_note(AT_RISK, nudge), "de")[0] == "Deine Serie ist in Gefahr"


def test_without_a_nudge_the_template_is_the_body() -> None:
    assert with_note(AT_RISK, None) == AT_RISK
    assert localised(with_note(AT_RISK, None), "en") == (
        "Your streak is at risk",
        "Meet today's goal to keep your 6-day streak.",
    )


def test_a_note_is_bounded_like_a_nudge() -> None:
    with pytest.raises(ValueError):
        StreakAtRisk(day=EVENING, streak_days=6, goal_met_today=False, note="x" * (MAX_NOTE + 1))
    with pytest.raises(ValueError):
        StreakAtRisk(day=EVENING, streak_days=6, goal_met_today=False, note="")

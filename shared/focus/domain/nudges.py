"""AI-written nudges: the streak-at-risk push's body, written by a model for a person who granted
AI processing, checked before it is sent; the template's body whenever it cannot be trusted.

The flow (the service, ``focus.services.nudges``, owns the I/O, the consent check and the budget):

1. ``figures_of`` reduces what the push is about to ``NudgeFigures``: the streak's days, the
   daily goal in minutes and the language; numbers and product vocabulary only, nothing personal
   (tests/test_insight_privacy.py);
2. ``prompt_for`` turns them into one short prompt; ``answer_schema`` is the structured-output
   schema to pass alongside it;
3. ``check`` parses and validates the answer: its length, language, no personal-looking strings,
   no figure the facts do not state (the weekly insight's checks, ``focus.domain.insights``);
4. ``with_note`` puts a checked nudge into the message; without one the message keeps the
   template's body (``notifications.localised``).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeGuard

from pydantic import ConfigDict, Field, ValidationError

from focus.domain.insights import LANGUAGE_NAMES, Refusal, has_personal_data, reads_as, unfenced
from focus.domain.model import Contract
from focus.domain.notifications import (
    MAX_NOTE,
    Language,
    StreakAtRisk,
    VisibleMessage,
    language_of,
)
from focus.domain.profiles import Settings

MAX_TEXT = MAX_NOTE


def wanted(message: VisibleMessage) -> TypeGuard[StreakAtRisk]:
    """Whether ``message`` is a streak-at-risk push someone needs (a streak, today's goal not met
    yet): the only message a nudge rewrites."""
    return (
        isinstance(message, StreakAtRisk) and message.streak_days > 0 and not message.goal_met_today
    )


class NudgeFigures(Contract):
    """What a model knows when it writes a nudge: the streak's days, the daily goal and the
    language to write in. No name, no date, no time zone, nothing the person typed."""

    model_config = ConfigDict(frozen=True)
    language: Language
    streak_days: int = Field(ge=1)
    daily_goal_minutes: int = Field(ge=0, le=24 * 60)


def figures_of(message: StreakAtRisk, settings: Settings) -> NudgeFigures:
    """The figures of a streak-at-risk push (``wanted``) for a person with ``settings``."""
    return NudgeFigures(
        language=language_of(settings.locale),
        streak_days=message.streak_days,
        daily_goal_minutes=settings.daily_goal_minutes,
    )


class Nudge(Contract):
    """A model's nudge: the push's body, one short line."""

    model_config = ConfigDict(frozen=True)
    text: str = Field(min_length=1, max_length=MAX_TEXT)


def answer_schema() -> dict[str, Any]:
    """The JSON Schema of an answer, for the model's structured-output parameter."""
    return Nudge.model_json_schema(by_alias=True)


# Short on purpose: every nudge is an online call, paid per token. The figures come last and are
# the only part that varies (providers cache a stable prompt prefix). The goal is a ceiling on
# screen time (``reports.Day.met_goal``).
_INSTRUCTION = """\
Write the body of a push notification from a focus app, in {language} ("{code}"): one sentence, \
second person, warm, encouraging, no emoji, no hashtags, at most {limit} characters.
The person's streak (facts: streakDays) ends tonight unless today's screen time stays within \
their daily goal (dailyGoalMinutes). Use only figures from the facts; write durations as \
"1 h 30 min" or "45 min".
Answer JSON only: {{"text": <={limit} chars}}.
Facts: """


def prompt_for(figures: NudgeFigures) -> str:
    """The whole prompt: the instruction and the figures as compact JSON, nothing else."""
    facts = json.dumps(
        figures.model_dump(mode="json", by_alias=True, exclude={"language"}),
        separators=(",", ":"),
    )
    code = figures.language.value
    language = LANGUAGE_NAMES[figures.language]
    return _INSTRUCTION.format(language=language, code=code, limit=MAX_TEXT) + facts


_NUMBER = re.compile(r"\d+")


def _stated(figures: NudgeFigures) -> set[int]:
    """Every number the facts state: the streak's days (and the day it would reach), the goal in
    minutes, or as hours and minutes ("1 h 30 min")."""
    hours, minutes = divmod(figures.daily_goal_minutes, 60)
    stated = {figures.streak_days, figures.streak_days + 1, figures.daily_goal_minutes}
    if hours:
        stated.add(hours)
        if minutes:
            stated.add(minutes)
    return stated


def check(answer: str | bytes | None, figures: NudgeFigures) -> Nudge | Refusal:
    """The nudge in ``answer`` (a model's raw JSON) if it may be sent for ``figures``; otherwise
    the first reason it may not. Every number in it must be one the facts state: a clock time,
    a percentage or a made-up duration is refused."""
    if answer is None:
        return Refusal.INVALID
    text = answer.decode("utf-8", errors="replace") if isinstance(answer, bytes) else answer
    try:
        nudge = Nudge.model_validate_json(unfenced(text))
    except ValidationError as exc:
        too_long = any(error["type"] == "string_too_long" for error in exc.errors())
        return Refusal.TOO_LONG if too_long else Refusal.INVALID
    if not reads_as(nudge.text, figures.language):
        return Refusal.WRONG_LANGUAGE
    if has_personal_data(nudge.text):
        return Refusal.PERSONAL_DATA
    stated = _stated(figures)
    if any(int(number) not in stated for number in _NUMBER.findall(nudge.text)):
        return Refusal.IMPLAUSIBLE_FIGURE
    return nudge


def with_note(message: StreakAtRisk, nudge: Nudge | None) -> StreakAtRisk:
    """``message`` with the nudge's text as its body; unchanged (the template) without one."""
    return message if nudge is None else message.model_copy(update={"note": nudge.text})

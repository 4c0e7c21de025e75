"""AI-written weekly insights: the prompt a model gets, the answer it must give, the checks every
answer passes before it is stored, and the template used whenever a model cannot be trusted.

The flow (the service owns the I/O and the consent check, ``Purpose.AI_PROCESSING``):

1. ``insight_features.features_of`` reduces a person's week to ``WeekFeatures`` (numbers only);
2. ``prompt_for`` turns them into one short prompt, ``answer_schema`` is the structured-output
   schema to pass alongside it;
3. ``check`` parses and validates the answer: shape and lengths, language, plausible figures, no
   personal-looking strings, an action the app can carry out; a ``Refusal`` says why not;
4. ``insight_fallback.fallback`` writes a deterministic insight in the person's language for every case in which
   the model failed, timed out, refused or answered something ``check`` refuses. It always passes
   ``check`` (tests/test_insight_rules.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import ConfigDict, Field, ValidationError

from focus.domain.blocks import ScheduleRule
from focus.domain.insight_features import WeekFeatures, model_view
from focus.domain.model import Contract
from focus.domain.notifications import Language
from focus.domain.profiles import Settings

MAX_HEADLINE = 80
MAX_BODY = 400
MIN_SESSION_MINUTES, MAX_SESSION_MINUTES = 5, 180
# A suggestion, not a lockout: a proposed schedule blocks at most half a day, and a proposed goal
# leaves at least a quarter of an hour (0 is a valid setting, never useful advice).
MAX_SUGGESTED_SCHEDULE_MINUTES = 12 * 60
MIN_SUGGESTED_GOAL = 15


def _setting_bounds(field: str) -> tuple[int, int]:
    """A setting's bounds as ``Settings`` declares them, so a suggestion can never ask for a goal
    the settings would refuse, even after the bounds change."""
    metadata = Settings.model_fields[field].metadata
    low = next(m.ge for m in metadata if isinstance(m, Ge))
    high = next(m.le for m in metadata if isinstance(m, Le))
    if not isinstance(low, int) or not isinstance(high, int):
        raise TypeError(f"{field} is not bounded by whole numbers")
    return low, high


GOAL_MIN, GOAL_MAX = _setting_bounds("daily_goal_minutes")


# --- What a model answers ------------------------------------------------------------------------


class _Action(Contract):
    model_config = ConfigDict(frozen=True)


class ProposeSchedule(ScheduleRule):
    """A schedule block's rule (weekdays ISO 1-7, local HH:MM start and end), validated exactly as
    one: the app turns it into a schedule the person confirms."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["proposeSchedule"] = "proposeSchedule"


class SetDailyGoal(_Action):
    kind: Literal["setDailyGoal"] = "setDailyGoal"
    minutes: int = Field(ge=GOAL_MIN, le=GOAL_MAX)


class StartFocusSession(_Action):
    kind: Literal["startFocusSession"] = "startFocusSession"
    minutes: int = Field(ge=MIN_SESSION_MINUTES, le=MAX_SESSION_MINUTES)


class NoAction(_Action):
    kind: Literal["none"] = "none"


SuggestedAction = Annotated[
    ProposeSchedule | SetDailyGoal | StartFocusSession | NoAction, Field(discriminator="kind")
]


class Insight(Contract):
    """One weekly insight: a headline, a short paragraph and one action the app can do."""

    model_config = ConfigDict(frozen=True)
    headline: str = Field(min_length=1, max_length=MAX_HEADLINE)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    suggested_action: SuggestedAction
    language: Language


def answer_schema() -> dict[str, Any]:
    """The JSON Schema of an answer, for the model's structured-output parameter."""
    return Insight.model_json_schema(by_alias=True)


# --- The prompt ----------------------------------------------------------------------------------

LANGUAGE_NAMES = {
    Language.EN: "English",
    Language.DE: "German",
    Language.FR: "French",
    Language.ES: "Spanish",
}

# Short on purpose: every weekly insight pays for these tokens. The answer's shape is stated once
# in a line (providers' structured output enforces the full schema, answer_schema()). The figures
# come last and are the only part that varies: providers cache a stable prompt prefix. Durations
# and times in one format the checks can read in every language.
_INSTRUCTION = """\
Write a weekly insight for a person using a focus app, in {language} ("{code}"), \
second person, warm, specific.
Facts (JSON below): daily totals of one week in the person's week order; weakestDay/bestDay \
compare screen time with the goal; sessions.started counts focus sessions by part of the day. \
No hourly or per-app data exists: never claim a time of day or name an app.
Name the weakest day. Use only figures from the facts. Write durations as "2 h 40 min" or \
"45 min", times as HH:MM.
Answer JSON only: {{"headline": <=80 chars, "body": <=400 chars, "language": "{code}", \
"suggestedAction": one of {{"kind":"proposeSchedule","weekdays":[1-7, 1=Mon],"start":"HH:MM",\
"end":"HH:MM"}} (blocks distracting apps, at most 12 h), {{"kind":"setDailyGoal","minutes":n}}, \
{{"kind":"startFocusSession","minutes":5-180}}, {{"kind":"none"}}}}.
Facts: """


def prompt_for(features: WeekFeatures) -> str:
    """The whole prompt: the instruction and the features as compact JSON, nothing else (no text
    the person wrote, no identifier, no date)."""
    facts = json.dumps(model_view(features), separators=(",", ":"), ensure_ascii=False)
    code = features.language.value
    return _INSTRUCTION.format(language=LANGUAGE_NAMES[features.language], code=code) + facts


# --- Checking an answer --------------------------------------------------------------------------


class Refusal(StrEnum):
    """Why an answer is not used (logged; the person then gets the fallback)."""

    INVALID = "invalid"  # not JSON, not the shape, a value out of range, a refusal in prose
    TOO_LONG = "too_long"
    WRONG_LANGUAGE = "wrong_language"
    PERSONAL_DATA = "personal_data"  # something shaped like an email, id, token, link, number
    IMPLAUSIBLE_FIGURE = "implausible_figure"  # a duration, time or percentage not in the facts
    UNUSABLE_ACTION = "unusable_action"  # valid for the app, but no sensible suggestion


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Common words per language, weekday names included. Only the words no other of these languages
# shares count (_OWN_WORDS): "de", "la", "en", "a" say nothing. The heuristic: the declared
# language must match the person's, its own words must appear at least twice, and more often than
# any other language's. Cheap and explainable; it catches an answer in the wrong language, not
# every mixed sentence.
_COMMON_WORDS: Mapping[Language, frozenset[str]] = {
    Language.EN: _words(
        "the and you your to of is on with for this that was were week day days try more less "
        "than goal it in at keep start ready every from monday tuesday wednesday thursday friday "
        "saturday sunday"
    ),
    Language.DE: _words(
        "der die das und du dein deine deinem deinen deiner ist mit für nicht woche tag tage "
        "tagen am ein eine einen zu auf von ziel war mehr weniger als probier bleib diese keinen "
        "um bis montag dienstag mittwoch donnerstag freitag samstag sonntag"
    ),
    Language.FR: _words(
        "le les des et ton ta tes est avec pour pas semaine jour jours une un ce cette sur au "
        "aux objectif plus moins tu as essaie continue été lance lundi mardi mercredi jeudi "
        "vendredi samedi dimanche"
    ),
    Language.ES: _words(
        "el los las y tu tus es con para por semana día días una un este esta del al objetivo "
        "más menos prueba fue sigue pasaste cumpliste lunes martes miércoles jueves viernes "
        "sábado sábados domingo domingos"
    ),
}
_OWN_WORDS: Mapping[Language, frozenset[str]] = {
    language: words.difference(
        *(other for key, other in _COMMON_WORDS.items() if key is not language)
    )
    for language, words in _COMMON_WORDS.items()
}
MIN_OWN_WORDS = 2
_WORD = re.compile(r"[^\W\d_]+")


def language_words(text: str) -> dict[Language, int]:
    """How many words of ``text`` are each language's own common words."""
    words = _WORD.findall(text.lower())
    return {language: sum(w in own for w in words) for language, own in _OWN_WORDS.items()}


def reads_as(text: str, language: Language) -> bool:
    """Whether ``text`` reads as ``language``: the heuristic above."""
    counts = language_words(text)
    ours = counts.pop(language)
    return ours >= MIN_OWN_WORDS and all(ours > other for other in counts.values())


# Shapes of personal data. Features hold none, so any of these in an answer is an echo of training
# data or an invention: either way not for the person's screen.
_PERSONAL = (
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # email
    re.compile(r"(?<![\w@])@\w{2,}"),  # handle
    re.compile(r"https?://|www\.", re.IGNORECASE),  # link
)
# uids, device ids, tokens, UUIDs: long runs of letters and digits, several of each ("25-Minuten-
# Sitzung" is a word, "Xk3b9QpL2mZ7vR1tY8wN4cD6eF0g" is not).
_OPAQUE = re.compile(r"[A-Za-z0-9_-]{16,}")
_LONG_NUMBER = re.compile(r"\+?\d[\d ()./-]{7,}\d")  # phone numbers and the like: 9+ digits


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def has_personal_data(text: str) -> bool:
    """Whether ``text`` holds something shaped like personal data (the shapes above)."""
    if any(pattern.search(text) for pattern in _PERSONAL):
        return True
    if any(
        _digits(m[0]) >= 3 and sum(c.isalpha() for c in m[0]) >= 3 for m in _OPAQUE.finditer(text)
    ):
        return True
    return any(_digits(m[0]) >= 9 for m in _LONG_NUMBER.finditer(text))


_CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_HOURS = re.compile(
    r"(\d{1,3})\s*(?:h|hrs?|hours?|std|stunden?|heures?|horas?)\b\.?"
    r"(?:\s*(\d{1,2})\s*(?:min|m)\b)?",
    re.IGNORECASE,
)
_MINUTES = re.compile(r"(\d{1,4})\s*(?:min|mins|minutes?|minuten|minutos)\b", re.IGNORECASE)
_PERCENT = re.compile(r"(\d{1,4})\s*%")
HOUR_ONLY_TOLERANCE = 30  # "3 h" is a rounding of anything from 2 h 30 min to 3 h 30 min
MINUTE_TOLERANCE = 5
PERCENT_TOLERANCE = 2


def _action_minutes(action: SuggestedAction) -> list[int]:
    if isinstance(action, SetDailyGoal | StartFocusSession):
        return [action.minutes]
    if isinstance(action, ProposeSchedule):
        start, end = action.window()
        return [end - start]
    return []


def _known_minutes(features: WeekFeatures, action: SuggestedAction) -> set[int]:
    """Every duration the facts (and the suggested action) state or imply at a glance."""
    goal = features.daily_goal_minutes
    known = {goal, *_action_minutes(action)}
    for amounts in (features.totals, features.averages):
        known |= {amounts.screen_time_minutes, amounts.focused_minutes}
        known.add(abs(amounts.screen_time_minutes - goal))
    for day in features.days:
        if day.screen_time_minutes is not None:
            known |= {day.screen_time_minutes, abs(day.screen_time_minutes - goal)}
        if day.focused_minutes is not None:
            known.add(day.focused_minutes)
    sessions = features.sessions
    known |= {sessions.completed_minutes, sessions.abandoned_minutes}
    known.add(sessions.completed_minutes + sessions.abandoned_minutes)
    return known


def _plausible(text: str, features: WeekFeatures, action: SuggestedAction) -> bool:
    """Clock times only as the proposed schedule's; durations and percentages near a figure of
    the facts (rounding allowed). Counts of days or sessions are not checked."""
    times = {action.start, action.end} if isinstance(action, ProposeSchedule) else set()
    for match in _CLOCK.finditer(text):
        if f"{int(match[1]):02d}:{match[2]}" not in times:
            return False
    text = _CLOCK.sub(" ", text)
    known = _known_minutes(features, action)

    def near(minutes: int, tolerance: int) -> bool:
        return any(abs(minutes - figure) <= tolerance for figure in known)

    for match in _HOURS.finditer(text):
        hours_only = match[2] is None
        minutes = int(match[1]) * 60 + (0 if hours_only else int(match[2]))
        if not near(minutes, HOUR_ONLY_TOLERANCE if hours_only else MINUTE_TOLERANCE):
            return False
    for match in _MINUTES.finditer(_HOURS.sub(" ", text)):
        minutes = int(match[1])
        if not near(minutes, max(MINUTE_TOLERANCE, round(0.05 * minutes))):
            return False
    change, score = features.screen_time_change_percent, features.average_score
    percentages = {abs(value) for value in (change, score) if value is not None}
    if features.days_reported:
        percentages.add(round(100 * features.days_met_goal / features.days_reported))
    return all(
        any(abs(int(m[1]) - p) <= PERCENT_TOLERANCE for p in percentages)
        for m in _PERCENT.finditer(text)
    )


def _usable(action: SuggestedAction, features: WeekFeatures) -> bool:
    if isinstance(action, ProposeSchedule):
        start, end = action.window()
        unique = len(set(action.weekdays)) == len(action.weekdays)
        return unique and end - start <= MAX_SUGGESTED_SCHEDULE_MINUTES
    if isinstance(action, SetDailyGoal):
        return (
            action.minutes >= MIN_SUGGESTED_GOAL and action.minutes != features.daily_goal_minutes
        )
    return True


Answer = Insight | str | bytes | Mapping[str, Any]


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def unfenced(answer: str) -> str:
    """The JSON in ``answer``: some models wrap it in a Markdown fence even when asked for JSON
    only."""
    fenced = _FENCE.match(answer)
    return fenced[1] if fenced else answer


def _parsed(answer: Answer) -> Insight | Refusal:
    try:
        if isinstance(answer, bytes):
            answer = answer.decode("utf-8", errors="replace")
        if isinstance(answer, str):
            return Insight.model_validate_json(unfenced(answer))
        if isinstance(answer, Insight):
            # Validated again: an instance may have been built without validation.
            return Insight.model_validate(answer.model_dump(by_alias=True))
        return Insight.model_validate(dict(answer))
    except ValidationError as exc:
        too_long = any(error["type"] == "string_too_long" for error in exc.errors())
        return Refusal.TOO_LONG if too_long else Refusal.INVALID


def check(answer: Answer, features: WeekFeatures) -> Insight | Refusal:
    """The insight in ``answer`` (a model's raw JSON, its parsed JSON, or an ``Insight``) if it may
    be stored and shown for ``features``; otherwise the first reason it may not."""
    insight = _parsed(answer)
    if isinstance(insight, Refusal):
        return insight
    text = f"{insight.headline}\n{insight.body}"
    if insight.language is not features.language or not reads_as(text, features.language):
        return Refusal.WRONG_LANGUAGE
    if has_personal_data(text):
        return Refusal.PERSONAL_DATA
    if not _usable(insight.suggested_action, features):
        return Refusal.UNUSABLE_ACTION
    if not _plausible(text, features, insight.suggested_action):
        return Refusal.IMPLAUSIBLE_FIGURE
    return insight

"""The insight written when a model cannot be trusted (it failed, timed out, refused, or answered
something ``insights.check`` refuses): deterministic, in the person's language (en, de, fr, es;
others get English), naming the weakest day and proposing an action the app can carry out. It
always passes ``insights.check`` (tests/test_insight_rules.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from focus.domain.insight_features import DayName, PartOfDay, WeekFeatures
from focus.domain.insights import (
    MIN_SUGGESTED_GOAL,
    Insight,
    ProposeSchedule,
    SetDailyGoal,
    StartFocusSession,
    SuggestedAction,
)
from focus.domain.notifications import Language


@dataclass(frozen=True)
class FallbackTexts:
    """One language's fallback. ``days``: weekday names Monday first, as in a sentence;
    ``every``: "on Tuesdays" forms; ``minute``: the minute abbreviation."""

    days: tuple[str, ...]
    every: tuple[str, ...]
    minute: str
    day_word: tuple[str, str]  # singular, plural
    weak_headline: str
    weak_body: str
    schedule: str
    met_headline: str
    met_body: str
    lower_goal: str
    focus: str
    empty_headline: str
    empty_body: str


_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DE_DAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_ES_DAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")

# fr: a non-breaking space before ";", "?" and ":" as French typography wants.
FALLBACK_TEXTS: Mapping[Language, FallbackTexts] = {
    Language.EN: FallbackTexts(
        days=tuple(_EN_DAYS),
        every=tuple(f"on {day}s" for day in _EN_DAYS),
        minute="min",
        day_word=("day", "days"),
        weak_headline="{day} was your toughest day",
        weak_body="On {day} you spent {screen} on screens; your daily goal is {goal}. "
        "You met it on {met} of {reported} {reported_days}.",
        schedule=" Try a focus schedule {every} from {start} to {end}.",
        met_headline="You met your goal every day you reported",
        met_body="{day} came closest to your goal of {goal}, with {screen} of screen time.",
        lower_goal=" Ready for more? Try a daily goal of {new_goal}.",
        focus=" Keep it going: start a focus session of {minutes}.",
        empty_headline="No screen time reported this week",
        empty_body="Your devices sent no daily report for this week. "
        "Start a focus session of {minutes} to get going.",
    ),
    Language.DE: FallbackTexts(
        days=tuple(_DE_DAYS),
        every=tuple(f"{day.lower()}s" for day in _DE_DAYS),
        minute="Min.",
        day_word=("Tag", "Tagen"),
        weak_headline="{day} war dein schwierigster Tag",
        weak_body="Am {day} warst du {screen} am Bildschirm; dein Tagesziel ist {goal}. "
        "Du hast es an {met} von {reported} {reported_days} erreicht.",
        schedule=" Probier einen Fokus-Zeitplan {every} von {start} bis {end}.",
        met_headline="Ziel an jedem gemessenen Tag erreicht",
        met_body="Am {day} warst du mit {screen} am nächsten an deinem Ziel von {goal}.",
        lower_goal=" Bereit für mehr? Probier ein Tagesziel von {new_goal}.",
        focus=" Bleib dran: starte eine Fokus-Sitzung von {minutes}.",
        empty_headline="Diese Woche kam kein Bericht",
        empty_body="Deine Geräte haben für diese Woche keinen Tagesbericht gesendet. "
        "Starte eine Fokus-Sitzung von {minutes}, um loszulegen.",
    ),
    Language.FR: FallbackTexts(
        days=tuple(_FR_DAYS),
        every=tuple(f"le {day}" for day in _FR_DAYS),
        minute="min",
        day_word=("jour", "jours"),
        weak_headline="{day} a été ta journée la plus difficile",
        weak_body="Le {day}, tu as passé {screen} sur tes écrans\u00a0; ton objectif quotidien "
        "est de {goal}. Tu l'as atteint {met} {met_days} sur {reported}.",
        schedule=" Essaie un programme de concentration {every} de {start} à {end}.",
        met_headline="Objectif atteint tous les jours mesurés",
        met_body="C'est le {day} que tu as été le plus près de ton objectif de {goal}, "
        "avec {screen} d'écran.",
        lower_goal=" Prêt pour plus\u00a0? Essaie un objectif quotidien de {new_goal}.",
        focus=" Continue ainsi\u00a0: lance une session de concentration de {minutes}.",
        empty_headline="Aucun temps d'écran mesuré cette semaine",
        empty_body="Tes appareils n'ont envoyé aucun bilan quotidien cette semaine. "
        "Lance une session de concentration de {minutes} pour commencer.",
    ),
    Language.ES: FallbackTexts(
        days=tuple(_ES_DAYS),
        every=tuple(f"los {day}" if day.endswith("s") else f"los {day}s" for day in _ES_DAYS),
        minute="min",
        day_word=("día", "días"),
        weak_headline="El {day} fue tu día más difícil",
        weak_body="El {day} pasaste {screen} frente a la pantalla; tu objetivo diario es "
        "{goal}. Lo cumpliste {met} de {reported} {reported_days}.",
        schedule=" Prueba un horario de concentración {every} de {start} a {end}.",
        met_headline="Cumpliste tu objetivo todos los días medidos",
        met_body="El {day} fue cuando más te acercaste a tu objetivo de {goal}, "
        "con {screen} de pantalla.",
        lower_goal=" ¿Listo para más? Prueba un objetivo diario de {new_goal}.",
        focus=" Sigue así: empieza una sesión de concentración de {minutes}.",
        empty_headline="Sin tiempo de pantalla medido esta semana",
        empty_body="Tus dispositivos no enviaron ningún informe diario esta semana. "
        "Empieza una sesión de concentración de {minutes} para arrancar.",
    ),
}

FALLBACK_SESSION_MINUTES = 25  # one pomodoro: a first step anyone can take
# Where a proposed schedule sits: in the part of the day the person usually starts focus sessions
# (a habit they already have, now on the day they need it); the evening without sessions. Night:
# a bedtime schedule, overnight.
_SCHEDULE_WINDOWS: Mapping[PartOfDay, tuple[str, str]] = {
    PartOfDay.MORNING: ("09:00", "11:00"),
    PartOfDay.AFTERNOON: ("14:00", "16:00"),
    PartOfDay.EVENING: ("19:00", "21:00"),
    PartOfDay.NIGHT: ("22:00", "06:00"),
}
_PARTS_BY_PREFERENCE = (PartOfDay.EVENING, PartOfDay.AFTERNOON, PartOfDay.MORNING, PartOfDay.NIGHT)


def day_name(language: Language, day: DayName) -> str:
    """The weekday as the fallback writes it in ``language``."""
    return FALLBACK_TEXTS[language].days[day.iso - 1]


def duration(minutes: int, language: Language) -> str:
    """``2 h 40 min``, ``2 h``, ``45 min`` (``Min.`` in German): readable in every language and
    the format ``check`` reads."""
    unit = FALLBACK_TEXTS[language].minute
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} {unit}"
    return f"{hours} h" if not rest else f"{hours} h {rest} {unit}"


def _usual_part(features: WeekFeatures) -> PartOfDay:
    started = features.sessions.started
    return max(_PARTS_BY_PREFERENCE, key=lambda part: started.get(part, 0))


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def fallback(features: WeekFeatures) -> Insight:
    """A deterministic insight in the person's language naming the weakest day, with one action:
    a schedule on that weekday when it went over the goal; when every day met it, a lower goal if
    the week leaves room for one, otherwise a focus session; without any report, a session."""
    language = features.language
    texts = FALLBACK_TEXTS[language]
    goal = duration(features.daily_goal_minutes, language)
    session = StartFocusSession(minutes=FALLBACK_SESSION_MINUTES)
    if features.weakest_day is None:
        minutes = duration(session.minutes, language)
        return Insight(
            headline=texts.empty_headline,
            body=texts.empty_body.format(minutes=minutes),
            suggested_action=session,
            language=language,
        )
    weakest = features.day(features.weakest_day)
    name = day_name(language, features.weakest_day)
    screen = duration(weakest.screen_time_minutes or 0, language)
    action: SuggestedAction
    if not weakest.met_goal:
        start, end = _SCHEDULE_WINDOWS[_usual_part(features)]
        action = ProposeSchedule(weekdays=[features.weakest_day.iso], start=start, end=end)
        reported, met = features.days_reported, features.days_met_goal
        headline = texts.weak_headline.format(day=name)
        body = texts.weak_body.format(
            day=name,
            screen=screen,
            goal=goal,
            met=met,
            reported=reported,
            met_days=texts.day_word[0 if met in (0, 1) else 1],
            reported_days=texts.day_word[0 if reported == 1 else 1],
        ) + texts.schedule.format(
            every=texts.every[features.weakest_day.iso - 1], start=start, end=end
        )
    else:
        most = max(day.screen_time_minutes or 0 for day in features.days)
        new_goal = max(MIN_SUGGESTED_GOAL, math.ceil(most / 15) * 15)
        headline = texts.met_headline
        body = texts.met_body.format(day=name, goal=goal, screen=screen)
        if new_goal <= features.daily_goal_minutes - 30:
            action = SetDailyGoal(minutes=new_goal)
            body += texts.lower_goal.format(new_goal=duration(new_goal, language))
        else:
            action = session
            body += texts.focus.format(minutes=duration(session.minutes, language))
    return Insight(
        headline=_first_upper(headline),
        body=_first_upper(body),
        suggested_action=action,
        language=language,
    )

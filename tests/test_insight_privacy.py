"""No personal data reaches a model (issue #13): a weekly insight's prompt is built from
aggregated figures only, never from names, emails, uids, device ids, app tokens, timezone names,
dates, moments or anything the person typed. A nudge's prompt (the streak-at-risk push) likewise:
from the streak's days, the daily goal and the language only (``NudgeFigures``, from the profile).

Three guards, from the most general to the most concrete:

1. **Every personal collection is classified.** Each personal entry of the privacy registry is
   either an insight input (``INPUTS``, with the model its documents are read with) or listed in
   ``NOT_READ`` with the reason. A new collection fails here until someone decides.
2. **The features cannot hold free text.** ``WeekFeatures`` is walked field by field: every leaf
   is a number, a boolean, or closed product vocabulary (an enum). A new ``str`` field, however
   it is filled, fails here.
3. **Planted documents.** Realistic input documents are built; then every string in them (values
   and map keys, at any depth) that the document's model accepts in its place is replaced by a
   unique email-shaped sentinel. This is automatic: a string field added to ``Day``,
   ``DeviceDay``, ``FocusSession``, ``Settings`` or ``Profile`` is planted without editing this
   test. Strings a model constrains (dates, IANA timezone names, enum values) keep their
   realistic value; those that are not product vocabulary (dates, the timezone name) must not
   appear either, nor any moment of the documents (date or clock time, local or UTC).

Not automatic, by design: numbers. The features are the person's own figures (minutes, pickups),
sent under their AI-processing consent; numbers elsewhere in the documents are not planted. The
uid and document ids live in paths, not in document contents, and ``features_of`` takes contents
only; blocks (app tokens), devices and push tokens are never read (``NOT_READ``), which the
signature of ``features_of`` enforces and guard 2 keeps true for anything added to the features.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import types
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any, TypeVar, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from focus.domain.blocks import Strictness
from focus.domain.entitlements import Entitlements, Store, SubscriptionState
from focus.domain.insight_features import WeekFeatures, features_key, features_of, model_view
from focus.domain.insights import prompt_for
from focus.domain.local_days import BoundaryRecord
from focus.domain.notifications import StreakAtRisk
from focus.domain.nudges import NudgeFigures
from focus.domain.nudges import figures_of as nudge_figures_of
from focus.domain.nudges import prompt_for as nudge_prompt_for
from focus.domain.profiles import Profile, Settings, StreakSummary
from focus.domain.reports import CommunityMark, Day, DayTotals, DeviceDay
from focus.domain.sessions import (
    Break,
    EndReason,
    FocusSession,
    SessionResult,
    SessionStatus,
)
from focus.services.privacy.registry import REGISTRY

# Where a weekly insight's inputs come from, and the model each document is read with.
INPUTS: dict[str, type[BaseModel]] = {
    "users/{uid}": Profile,  # its settings only: locale, goal, timezone, day start, week start
    "users/{uid}/days/{day}": Day,
    "users/{uid}/sessions/{sessionId}": FocusSession,
}
NOT_READ: dict[str, str] = {
    "users/{uid}/devices/{deviceId}": "devices: not needed (days are already merged)",
    "users/{uid}/pushTokens/{deviceId}": "push tokens: delivery, not content",
    "users/{uid}/outbox/{entryId}": "pushes sent: delivery, not content",
    "users/{uid}/preferences/{name}": "notification settings: decide delivery, not content",
    "users/{uid}/subscriptions/{subscriptionKey}": "subscriptions: whether insights run (Pro)",
    "users/{uid}/blocks/{blockId}": "blocks hold app tokens and names the person typed",
    "users/{uid}/turns/{name}": "counting turns: times only, operational",
    "users/{uid}/dayChanges/{changeId}": "pending derivations: operational",
    "users/{uid}/weeks/{week}": "ISO-week summaries: the person's week is rebuilt from days",
    "users/{uid}/milestones/{milestone}": "milestones: not in the features",
    "users/{uid}/consents/{purpose}": "consent: decides whether insights run, never content",
    "users/{uid}/consents/{purpose}/history/{entry}": "consent history: accountability only",
    "users/{uid}/analyticsKeys/{key}": "analytics key: a secret, never content",
    "users/{uid}/exports/{exportId}": "exports: right of access only",
    "users/{uid}/exports/{exportId}/chunks/{n}": "exports: right of access only",
    "users/{uid}/idempotency/{key}": "replay answers: operational",
    "users/{uid}/rateLimits/{callable}": "call counts: operational",
    "erasures/{erasureId}": "erasures: operational",
    "purchaseAccounts/{token}": "purchase tokens: subscriptions only",
    "storeSubscriptions/{subscriptionKey}": "store bindings: subscriptions only",
    "users/{uid}/insights/{week}": "insights written earlier: outputs, never fed back",
    "users/{uid}/modelUse/{day}": "model call counts: the budget, operational",
    "insightRuns/{run}/parts/{part}": "batch key maps: hold the features built from the inputs",
}


def test_every_personal_collection_is_an_input_or_deliberately_not_read() -> None:
    personal = {entry.path for entry in REGISTRY if entry.personal}

    assert personal == set(INPUTS) | set(NOT_READ)
    assert not set(INPUTS) & set(NOT_READ)


# --- 2. The features cannot hold free text ------------------------------------------------------


def leaf_types(annotation: Any) -> Iterator[Any]:
    """The types at the leaves of an annotation: through unions, containers, Annotated, models."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from leaf_types(get_args(annotation)[0])
    elif origin is not None:  # unions, tuple[...], dict[...], list[...]
        for argument in get_args(annotation):
            if argument is not Ellipsis:
                yield from leaf_types(argument)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for field in annotation.model_fields.values():
            yield from leaf_types(field.annotation)
    else:
        yield annotation


def test_the_features_hold_numbers_booleans_and_product_vocabulary_only() -> None:
    fields = dict(WeekFeatures.model_fields)
    # The week's first day: for storing and caching; neither the prompt nor the fingerprint has it.
    assert fields.pop("week").annotation is date
    leaves = {leaf for field in fields.values() for leaf in leaf_types(field.annotation)}
    free = {
        leaf
        for leaf in leaves
        if leaf not in (int, bool, types.NoneType)
        and not (isinstance(leaf, type) and issubclass(leaf, Enum))
    }

    assert free == set()
    assert str not in leaves
    assert Strictness in leaves  # the walk does reach nested models and map keys


def test_a_nudges_figures_hold_numbers_and_product_vocabulary_only() -> None:
    leaves = {
        leaf
        for field in NudgeFigures.model_fields.values()
        for leaf in leaf_types(field.annotation)
    }
    assert all(leaf in (int, bool) or issubclass(leaf, Enum) for leaf in leaves), leaves


# --- 3. Planted documents ------------------------------------------------------------------------

ZONE = "Pacific/Chatham"  # +12:45/+13:45: its clock times are no one else's
MONDAY = date(2026, 11, 16)
SENTINEL = re.compile(r"zq\d{4}q@sentinel\.example")


def realistic_documents() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A profile, a week of days (two devices each) and sessions, as stored, by alias."""
    zone = ZoneInfo(ZONE)
    settings = Settings(timezone=ZONE, locale="de-CH", daily_goal_minutes=95, week_starts_on=1)
    profile = Profile(
        created_at=datetime(2026, 1, 3, 7, 41, 13, tzinfo=UTC),
        display_name="Robin Example",
        settings=settings,
        streak=StreakSummary(current=0, longest=9, last_day="2026-11-22"),
        entitlements=Entitlements(
            pro=True,
            pro_until=datetime(2027, 1, 3, 7, 41, 13, tzinfo=UTC),
            source=Store.APP_STORE,
            state=SubscriptionState.ACTIVE,
            product_id="focus.pro.yearly",
        ),
        day_boundary=BoundaryRecord(in_effect=settings.day_boundary()),
    )
    days = []
    for offset in range(-7, 7):  # this week and the one before
        on = MONDAY + timedelta(days=offset)
        as_of = datetime(on.year, on.month, on.day, 22, 17, 29, tzinfo=zone)
        devices = {
            f"iphone-{offset}": DeviceDay(
                screen_time_minutes=90 + 7 * offset,
                pickups=40,
                focused_minutes=25,
                as_of=as_of,
                timezone=ZONE,
            ),
            f"mac-{offset}": DeviceDay(
                screen_time_minutes=31, pickups=3, focused_minutes=20, as_of=as_of, timezone=ZONE
            ),
        }
        totals = DayTotals(screen_time_minutes=121 + 7 * offset, pickups=43, focused_minutes=25)
        day = Day(
            day=on.isoformat(),
            timezone=ZONE,
            devices=devices,
            totals=totals,
            goal_minutes=95,
            met_goal=False,
            score=55,
            revision=3,
            streak=0,
            community=CommunityMark(bucket=4, revision=3),
        )
        days.append(day.model_dump(by_alias=True))
    sessions = []
    for offset, hour in ((1, 19), (3, 7), (5, 23)):
        on = MONDAY + timedelta(days=offset)
        start = datetime(on.year, on.month, on.day, hour, 37, 42, tzinfo=zone)
        session = FocusSession(
            status=SessionStatus.COMPLETED,
            strictness=Strictness.HARDER,
            block_id="evening-block",
            planned_start=start,
            planned_end=start + timedelta(minutes=53),
            breaks=[Break(start=start + timedelta(minutes=9), end=start + timedelta(minutes=13))],
            ended_at=start + timedelta(minutes=53),
            end_reason=EndReason.COMPLETED,
            result=SessionResult(focused_minutes=49, counted_at=start + timedelta(hours=1)),
            updated_by="iphone-1",
        )
        sessions.append(session.model_dump(by_alias=True))
    return profile.model_dump(by_alias=True), days, sessions


Model = TypeVar("Model", bound=BaseModel)


class Planter:
    """Replaces every string of a document that its model keeps (values and map keys, at any
    depth) by a unique sentinel; remembers the sentinels and the strings it had to keep."""

    def __init__(self) -> None:
        self.sentinels: list[str] = []
        self.kept: list[str] = []
        self._numbers = itertools.count(1)

    def plant(self, document: dict[str, Any], model: type[Model]) -> Model:
        planted = copy.deepcopy(document)

        def kept_by_model(sentinel: str) -> bool:
            # Accepted, and not merely ignored: the sentinel is in what the model holds.
            try:
                held = model.model_validate(planted).model_dump_json()
            except ValidationError:
                return False
            return sentinel in held

        self._visit(planted, kept_by_model)
        return model.model_validate(planted)

    def _next(self) -> str:
        return f"zq{next(self._numbers):04d}q@sentinel.example"

    def _visit(self, node: Any, kept_by_model: Callable[[str], bool]) -> None:
        slots: list[Any] = list(node) if isinstance(node, dict) else list(range(len(node)))
        for slot in slots:
            value = node[slot]
            if isinstance(value, str):
                sentinel = self._next()
                node[slot] = sentinel
                if kept_by_model(sentinel):
                    self.sentinels.append(sentinel)
                else:
                    node[slot] = value
                    self.kept.append(value)
            elif isinstance(value, dict | list):
                self._visit(value, kept_by_model)
        if isinstance(node, dict):
            for key in [key for key in node if isinstance(key, str)]:
                sentinel = self._next()
                node[sentinel] = node.pop(key)
                if kept_by_model(sentinel):
                    self.sentinels.append(sentinel)  # a map key: a device id, say
                else:
                    node[key] = node.pop(sentinel)  # a field name: the schema, not data


def moments(node: Any) -> Iterator[datetime]:
    if isinstance(node, datetime):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from moments(value)
    elif isinstance(node, list):
        for value in node:
            yield from moments(value)


def planted_week() -> tuple[Planter, Profile, list[Day], list[FocusSession]]:
    profile_document, day_documents, session_documents = realistic_documents()
    planter = Planter()
    profile = planter.plant(profile_document, Profile)
    days = [planter.plant(document, Day) for document in day_documents]
    sessions = [planter.plant(document, FocusSession) for document in session_documents]
    return planter, profile, days, sessions


def test_the_planting_reaches_every_personal_string_of_the_inputs() -> None:
    planter, profile, days, sessions = planted_week()

    assert profile.display_name is not None and SENTINEL.fullmatch(profile.display_name)
    assert SENTINEL.fullmatch(profile.settings.locale)
    assert all(SENTINEL.fullmatch(device) for day in days for device in day.devices)
    assert all(SENTINEL.fullmatch(day.timezone) for day in days)
    assert all(SENTINEL.fullmatch(d.timezone) for day in days for d in day.devices.values())
    assert all(SENTINEL.fullmatch(s.block_id or "") for s in sessions)
    assert all(SENTINEL.fullmatch(s.updated_by or "") for s in sessions)
    # What the models constrain keeps its realistic value: the timezone, dates, vocabulary.
    assert profile.settings.timezone == ZONE
    assert {"harder", "completed"} <= set(planter.kept)
    assert len(planter.sentinels) >= 40


def test_no_planted_value_name_date_moment_or_timezone_reaches_the_prompt() -> None:
    planter, profile, days, sessions = planted_week()
    week = features_of(days, sessions, MONDAY, days, profile.settings)
    prompt = prompt_for(week)
    seen_by_model = json.dumps(model_view(week))

    assert week.days_reported == 7 and week.sessions.completed == 3  # the inputs were used
    for sentinel in planter.sentinels:
        assert sentinel not in prompt
        assert sentinel not in week.model_dump_json()  # not even in the stored features
    assert "sentinel" not in prompt and "@" not in prompt
    vocabulary = re.compile(r"[a-z]+")
    for kept in planter.kept:
        if not vocabulary.fullmatch(kept):
            assert kept not in prompt, kept  # dates, the timezone name
    assert "Chatham" not in prompt
    zone = ZoneInfo(ZONE)
    documents = [profile.model_dump(), *(d.model_dump() for d in days)]
    for moment in moments([*documents, *(s.model_dump() for s in sessions)]):
        for shown in (moment.astimezone(zone), moment.astimezone(UTC)):
            assert shown.date().isoformat() not in prompt
            assert shown.strftime("%H:%M") not in prompt
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}", seen_by_model)
    assert features_key(week) == features_key(week.model_copy(update={"week": MONDAY}))


def test_no_planted_value_name_date_moment_or_timezone_reaches_a_nudges_prompt() -> None:
    planter, profile, _days, _sessions = planted_week()
    at_risk = StreakAtRisk(day=MONDAY + timedelta(days=3), streak_days=6, goal_met_today=False)
    prompt = nudge_prompt_for(nudge_figures_of(at_risk, profile.settings))

    assert '"streakDays":6' in prompt and '"dailyGoalMinutes":95' in prompt  # the inputs were used
    for sentinel in planter.sentinels:
        assert sentinel not in prompt
    assert "sentinel" not in prompt and "@" not in prompt and "Chatham" not in prompt
    for kept in planter.kept:
        if not re.fullmatch(r"[a-z]+", kept):
            assert kept not in prompt, kept  # dates, the timezone name
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}", prompt)

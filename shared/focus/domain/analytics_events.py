"""Product events: the pseudonymous, consented facts the warehouse is built from (docs/analytics.md).

One event is one message on the ``product-events`` topic, one row of BigQuery ``analytics.events``
and one row of the local DuckDB ``raw_events``: the same snake_case fields everywhere
(``ProductEvent``). The topic validates every message against ``avro_schema()`` (Terraform writes
it from this function: scripts/lib/analytics_schema.py), and ``to_message`` writes exactly that
schema's JSON encoding.

The catalogue (``CATALOGUE``) gives each event its schema version and its properties' model:
aggregated numbers, booleans and closed product vocabulary (enums) only, never a uid, a token, a
name or free text. A property model forbids unknown fields, so nothing else can slip in.

Ids, and why every one is keyed with the person's own secret (``users/{uid}/analyticsKeys``):

* ``person_id(uid, secret)``: HMAC-SHA256 of the uid. Deleting the secret at erasure makes every
  row of the person unlinkable to anyone, us included (crypto-shredding).
* ``fact_id(secret, *parts)``: the fact an event states (a session, a day's revision, ...), keyed
  the same way. An event id built from the raw fact would let anyone who knows the fact (the uid
  and a day, a store's notification id) find the person's rows again after the secret is gone.
* ``event_id(event_name, fact_id)``: uuid5, deterministic. A retried publish, a redelivered
  trigger or the backfill of the same fact gives the same id; the models keep one row per id.

The raw fact of each event (what services and the backfill pass to ``fact_id``) is listed in
``CATALOGUE`` and built by the ``*_fact`` functions below, so both agree.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from focus.domain import sessions
from focus.domain.blocks import BlockKind, Strictness
from focus.domain.entitlements import Store, SubscriptionState
from focus.domain.insight_labels import InsightSource, Rating
from focus.domain.notifications import MessageKind
from focus.domain.reports import Day
from focus.domain.sessions import FocusSession, SessionStatus

SECRET_BYTES = 32  # the per-person key: 256 random bits, as long as HMAC-SHA256's output
# Fixed forever: changing it would give every fact a new event id (duplicates in the warehouse).
EVENT_ID_NAMESPACE = uuid.UUID("6f1d7c2e-4b1a-5e0c-9a57-0c3f4d2b8e61")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_APP_VERSION = 32  # as the callable envelope allows (focus.contracts.envelope.ClientInfo)


class EventName(StrEnum):
    APP_OPENED = "app_opened"
    SESSION_COMPLETED = "session_completed"
    DAY_MERGED = "day_merged"
    EMERGENCY_PASS_USED = "emergency_pass_used"
    BLOCK_CHANGED = "block_changed"
    ENTITLEMENT_CHANGED = "entitlement_changed"
    NOTIFICATION_SENT = "notification_sent"
    INSIGHT_RATED = "insight_rated"
    ERASURE_COMPLETED = "erasure_completed"


class Platform(StrEnum):
    """The calling client's platform (``web``: the web erasure path)."""

    IOS = "ios"
    ANDROID = "android"
    MACOS = "macos"
    WEB = "web"


class SessionOutcome(StrEnum):
    COMPLETED = "completed"  # ran to its planned end (counted)
    CANCELLED = "cancelled"  # ended early, by the person or the emergency pass


class BlockChange(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class Properties(BaseModel):
    """An event's properties: snake_case, closed (unknown fields are refused), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoProperties(Properties):
    """The fact itself is the information (``app_opened``, ``emergency_pass_used``, ...)."""


class SessionCompletedProperties(Properties):
    strictness: Strictness
    outcome: SessionOutcome
    planned_minutes: int = Field(ge=0)
    focused_minutes: int = Field(ge=0)


class DayMergedProperties(Properties):
    screen_time_minutes: int = Field(ge=0)
    pickups: int = Field(ge=0)
    focused_minutes: int = Field(ge=0)
    met_goal: bool
    score: int


class BlockChangedProperties(Properties):
    kind: BlockKind
    strictness: Strictness
    change: BlockChange


class EntitlementChangedProperties(Properties):
    pro: bool  # after the change
    store: Store | None
    state: SubscriptionState  # the subscription's state after the store's fact


class NotificationSentProperties(Properties):
    kind: MessageKind


class InsightRatedProperties(Properties):
    rating: Rating
    source: InsightSource


@dataclass(frozen=True)
class EventSpec:
    version: int  # schema_version of this event name; a change of its properties adds one
    properties: type[Properties]
    fact: str  # the raw fact its id is keyed from (see the module docstring)


CATALOGUE: dict[EventName, EventSpec] = {
    EventName.APP_OPENED: EventSpec(1, NoProperties, "the server's UTC day"),
    EventName.SESSION_COMPLETED: EventSpec(1, SessionCompletedProperties, "the session id"),
    EventName.DAY_MERGED: EventSpec(1, DayMergedProperties, "the local day and its revision"),
    EventName.EMERGENCY_PASS_USED: EventSpec(1, NoProperties, "the pass's use number"),
    EventName.BLOCK_CHANGED: EventSpec(1, BlockChangedProperties, "block id and write time"),
    EventName.ENTITLEMENT_CHANGED: EventSpec(
        1, EntitlementChangedProperties, "the store's event key"
    ),
    EventName.NOTIFICATION_SENT: EventSpec(1, NotificationSentProperties, "the outbox entry id"),
    EventName.INSIGHT_RATED: EventSpec(1, InsightRatedProperties, "the week and the rating"),
    EventName.ERASURE_COMPLETED: EventSpec(1, NoProperties, "the person id (one per person)"),
}


# --- Ids -----------------------------------------------------------------------------------------


def new_secret() -> bytes:
    import secrets

    return secrets.token_bytes(SECRET_BYTES)


def _keyed(secret: bytes, text: str) -> str:
    if len(secret) < SECRET_BYTES:
        raise ValueError("an analytics key holds at least 32 bytes")
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def person_id(uid: str, secret: bytes) -> str:
    """The person's id in the warehouse: HMAC-SHA256 (hex) of the uid with their own secret."""
    return _keyed(secret, uid)


def fact_id(secret: bytes, *parts: str) -> str:
    """The id of a fact of the person's (its raw parts, e.g. a session id), keyed with their
    secret: stable while the secret exists, unrelated to anything once it is deleted."""
    return _keyed(secret, "fact\x1f" + "\x1f".join(parts))


def event_id(event_name: str, fact_id: str) -> str:
    """The event's id: the same fact of the same event always gets the same id."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{event_name}\x1f{fact_id}"))


# The raw facts, one function per event that has parts beyond a single id (services and the
# backfill both build them here).
def app_opened_fact(now: datetime) -> tuple[str, ...]:
    return (now.astimezone(UTC).date().isoformat(),)


def day_merged_fact(day: str, revision: int) -> tuple[str, ...]:
    return (day, str(revision))


def block_changed_fact(block_id: str, written: datetime) -> tuple[str, ...]:
    return (block_id, _micros_text(written))


def insight_rated_fact(week: str, rating: Rating) -> tuple[str, ...]:
    return (week, rating.value)


# --- Properties from the domain's own models ------------------------------------------------------


def session_properties(session: FocusSession, focused_minutes: int) -> SessionCompletedProperties:
    """A session that ended: completed (counted, ``focused_minutes`` as counted) or cancelled."""
    planned = (session.planned_end - session.planned_start) // timedelta(minutes=1)
    return SessionCompletedProperties(
        strictness=session.strictness,
        outcome=(
            SessionOutcome.COMPLETED
            if session.status is SessionStatus.COMPLETED
            else SessionOutcome.CANCELLED
        ),
        planned_minutes=max(0, planned),
        focused_minutes=max(0, focused_minutes),
    )


# --- Facts and events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFact:
    """What a service knows when a fact becomes true, before consent and the person's key: the
    event, the fact's raw parts (``CATALOGUE``'s ``fact``), its properties and when it became
    true."""

    event_name: EventName
    fact: tuple[str, ...]
    properties: Properties
    event_time: datetime

    def __post_init__(self) -> None:
        expected = CATALOGUE[self.event_name].properties
        if type(self.properties) is not expected:
            raise TypeError(f"{self.event_name} carries {expected.__name__}")
        if not self.fact or not all(self.fact):
            raise ValueError(f"{self.event_name}: a fact has non-empty parts")


# The facts stored documents state, built once for the live paths and the backfill alike (so a
# backfilled fact has the live event's id, properties and time).
def completed_session(session_id: str, session: FocusSession, focused_minutes: int) -> ProductFact:
    """``session_completed`` for a session that ended: counted (``focused_minutes`` as counted)
    or cancelled."""
    return ProductFact(
        EventName.SESSION_COMPLETED,
        (session_id,),
        session_properties(session, focused_minutes),
        session.finished_at,
    )


def stored_session(session_id: str, session: FocusSession) -> ProductFact | None:
    """What a stored session states, as the live paths state it: a counted session its counted
    minutes (``sessions.count_completed``), a cancelled one its own (``completions``); an active
    session, or a completed one not counted yet, nothing yet."""
    if session.status is SessionStatus.CANCELLED:
        return completed_session(session_id, session, sessions.focused_minutes(session))
    if session.status is SessionStatus.COMPLETED and session.result is not None:
        return completed_session(session_id, session, session.result.focused_minutes)
    return None


def merged_day(day: Day, merged_at: datetime) -> ProductFact:
    """``day_merged`` for one revision of a person's day, merged at ``merged_at``."""
    return ProductFact(
        EventName.DAY_MERGED,
        day_merged_fact(day.day, day.revision),
        DayMergedProperties(
            screen_time_minutes=day.totals.screen_time_minutes,
            pickups=day.totals.pickups,
            focused_minutes=day.totals.focused_minutes,
            met_goal=day.met_goal,
            score=day.score,
        ),
        merged_at,
    )


class ProductEvent(BaseModel):
    """One product event, as the topic, the table and the local store hold it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=36, max_length=36)
    event_name: EventName
    schema_version: int = Field(ge=1)
    event_time: datetime
    ingest_time: datetime
    person_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    app_version: str | None = Field(default=None, max_length=MAX_APP_VERSION)
    platform: Platform | None = None
    properties: Properties

    @field_validator("event_time", "ingest_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("an event time has a time zone")
        return value.astimezone(UTC)

    @classmethod
    def of(
        cls,
        fact: ProductFact,
        *,
        person: str,
        secret: bytes,
        ingest_time: datetime,
        app_version: str | None = None,
        platform: Platform | None = None,
    ) -> ProductEvent:
        """The event stating ``fact`` for the person (``person``: their ``person_id``)."""
        return cls(
            event_id=event_id(fact.event_name, fact_id(secret, *fact.fact)),
            event_name=fact.event_name,
            schema_version=CATALOGUE[fact.event_name].version,
            event_time=fact.event_time,
            ingest_time=ingest_time,
            person_id=person,
            app_version=app_version,
            platform=platform,
            properties=fact.properties,
        )


def properties_json(properties: Properties) -> str:
    """The properties as the ``properties`` field carries them: a compact JSON object."""
    return json.dumps(properties.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)


# --- The wire: Avro's JSON encoding of avro_schema() ------------------------------------------------

# Every field of ProductEvent, in order, with its Avro type. Times are Avro timestamp-micros: a
# `long` of microseconds since the epoch, which a BigQuery subscription writes to a TIMESTAMP
# column as it is (an RFC 3339 string would need an Avro `string`, and BigQuery to parse it).
# Optional fields are [null, T] unions, written `null` or `{"T": value}` in Avro's JSON encoding,
# which is what a topic with JSON encoding validates against.
_TIMESTAMP: dict[str, str] = {"type": "long", "logicalType": "timestamp-micros"}
_AVRO_TYPES: dict[str, Any] = {
    "event_id": "string",
    "event_name": "string",
    "schema_version": "int",
    "event_time": _TIMESTAMP,
    "ingest_time": _TIMESTAMP,
    "person_id": "string",
    "app_version": ["null", "string"],
    "platform": ["null", "string"],
    "properties": "string",  # a JSON object (a JSON column in BigQuery)
}


def avro_schema() -> dict[str, Any]:
    """The topic's Avro schema (Terraform: infra/terraform/schemas/product-events.avsc)."""
    fields: list[dict[str, Any]] = []
    for name in ProductEvent.model_fields:
        kind = _AVRO_TYPES[name]
        field: dict[str, Any] = {"name": name, "type": kind}
        if isinstance(kind, list):
            field["default"] = None
        fields.append(field)
    return {
        "type": "record",
        "name": "ProductEvent",
        "namespace": "app.focus.analytics",
        "fields": fields,
    }


def micros(moment: datetime) -> int:
    """A time as Avro timestamp-micros: whole microseconds since the epoch, UTC."""
    return (moment.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)


def _micros_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _optional(value: str | None) -> dict[str, str] | None:
    return None if value is None else {"string": value}


def to_message(event: ProductEvent) -> bytes:
    """The message's data: the event in Avro's JSON encoding of ``avro_schema()``."""
    record = {
        "event_id": event.event_id,
        "event_name": event.event_name.value,
        "schema_version": event.schema_version,
        "event_time": micros(event.event_time),
        "ingest_time": micros(event.ingest_time),
        "person_id": event.person_id,
        "app_version": _optional(event.app_version),
        "platform": _optional(event.platform.value if event.platform else None),
        "properties": properties_json(event.properties),
    }
    return json.dumps(record, separators=(",", ":")).encode()

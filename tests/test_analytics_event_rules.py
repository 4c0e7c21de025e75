"""Product events, as pure rules (focus.domain.analytics_events; docs/analytics.md): ids that are
deterministic per fact and keyed with the person's own secret, properties that can only hold
numbers, booleans and product vocabulary, and a message that is exactly what the topic's Avro
schema (JSON encoding) accepts and what the local collector reads. No emulator."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import types
import uuid
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any, Union, get_args, get_origin

import iac
import pytest
from pydantic import ValidationError

from focus.domain.analytics_events import (
    CATALOGUE,
    BlockChange,
    BlockChangedProperties,
    EventName,
    NoProperties,
    Platform,
    ProductEvent,
    ProductFact,
    Properties,
    SessionCompletedProperties,
    SessionOutcome,
    app_opened_fact,
    avro_schema,
    event_id,
    fact_id,
    micros,
    new_secret,
    person_id,
    session_properties,
    to_message,
)
from focus.domain.blocks import BlockKind, Strictness
from focus.domain.sessions import FocusSession, SessionStatus

ADA = "uid-ada-7f3a"
SECRET = bytes(range(32))
MOMENT = datetime(2026, 3, 29, 1, 2, 3, 456789, tzinfo=timezone(timedelta(hours=2)))


def a_session(status: str = "completed", minutes: int = 45) -> FocusSession:
    start = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    return FocusSession.model_validate(
        {
            "status": status,
            "strictness": "hardcore",
            "plannedStart": start,
            "plannedEnd": start + timedelta(minutes=minutes),
            "endedAt": start + timedelta(minutes=minutes if status == "completed" else 20),
            "endReason": status,
        }
    )


def an_event(fact: ProductFact, *, secret: bytes = SECRET, uid: str = ADA) -> ProductEvent:
    return ProductEvent.of(
        fact,
        person=person_id(uid, secret),
        secret=secret,
        ingest_time=MOMENT + timedelta(seconds=1),
        app_version="3.4.0",
        platform=Platform.IOS,
    )


SESSION = ProductFact(
    EventName.SESSION_COMPLETED,
    ("session-1",),
    SessionCompletedProperties(
        strictness=Strictness.HARDER,
        outcome=SessionOutcome.COMPLETED,
        planned_minutes=45,
        focused_minutes=40,
    ),
    MOMENT,
)


# --- Ids ---------------------------------------------------------------------------------------


def test_the_same_fact_of_the_same_event_always_has_the_same_event_id() -> None:
    first = an_event(SESSION)
    again = an_event(SESSION)  # a retried publish, a redelivered trigger, the backfill

    assert first.event_id == again.event_id
    assert uuid.UUID(first.event_id).version == 5
    assert event_id("session_completed", "f") == event_id("session_completed", "f")
    assert event_id("session_completed", "f") != event_id("day_merged", "f")
    assert event_id("session_completed", "f") != event_id("session_completed", "g")


def test_another_fact_or_another_persons_fact_has_another_id() -> None:
    other_session = ProductFact(
        SESSION.event_name, ("session-2",), SESSION.properties, SESSION.event_time
    )

    assert an_event(other_session).event_id != an_event(SESSION).event_id
    # The same raw fact (a session id) under another person's key: another event.
    assert an_event(SESSION, secret=new_secret()).event_id != an_event(SESSION).event_id


def test_person_id_is_the_hmac_sha256_of_the_uid_with_the_persons_own_secret() -> None:
    expected = hmac.new(SECRET, ADA.encode(), hashlib.sha256).hexdigest()

    assert person_id(ADA, SECRET) == expected
    assert len(expected) == 64
    assert person_id(ADA, new_secret()) != expected  # a new key: a stranger
    with pytest.raises(ValueError, match="32 bytes"):
        person_id(ADA, b"short")


def test_without_the_secret_no_id_can_be_recomputed_from_the_uid_or_the_fact() -> None:
    """Crypto-shredding: what a row holds is keyed with the secret, so once it is deleted, knowing
    the uid and the fact (a day the person opened the app) finds nothing."""
    day = app_opened_fact(MOMENT)
    event = an_event(ProductFact(EventName.APP_OPENED, day, NoProperties(), MOMENT))
    guesses = {
        event_id(EventName.APP_OPENED, guess)
        for guess in (ADA, day[0], f"{ADA}/{day[0]}", f"{ADA}\x1f{day[0]}", person_id(ADA, SECRET))
    }

    assert event.event_id not in guesses
    assert event.event_id == event_id(EventName.APP_OPENED, fact_id(SECRET, *day))
    assert ADA not in to_message(event).decode()


def test_app_opened_is_one_fact_per_utc_day() -> None:
    late = datetime(2026, 3, 29, 23, 59, tzinfo=UTC)

    assert app_opened_fact(MOMENT) == ("2026-03-28",)  # 01:02 at +02:00 is the 28th in UTC
    assert app_opened_fact(late) == app_opened_fact(late - timedelta(hours=23))
    assert app_opened_fact(late) != app_opened_fact(late + timedelta(minutes=1))


# --- Properties ----------------------------------------------------------------------------------


def _leaves(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return [leaf for arg in get_args(annotation) for leaf in _leaves(arg)]
    return [annotation]


def test_properties_hold_only_numbers_booleans_and_product_vocabulary() -> None:
    """A ``str`` property, however it were filled, could carry a name or free text: none exists."""
    for name, spec in CATALOGUE.items():
        for field_name, field in spec.properties.model_fields.items():
            for leaf in _leaves(field.annotation):
                allowed = leaf in (int, bool, type(None)) or (
                    isinstance(leaf, type) and issubclass(leaf, Enum)
                )
                assert allowed, f"{name}.{field_name}: {leaf}"


def test_properties_refuse_anything_outside_their_model() -> None:
    with pytest.raises(ValidationError):
        BlockChangedProperties.model_validate(
            {"kind": "appLock", "strictness": "easy", "change": "created", "name": "Work apps"}
        )
    with pytest.raises(ValidationError):
        BlockChangedProperties.model_validate(
            {"kind": "a free text", "strictness": "easy", "change": "created"}
        )
    with pytest.raises(ValidationError):
        NoProperties.model_validate({"uid": ADA})


def test_a_fact_carries_the_properties_of_its_event() -> None:
    with pytest.raises(TypeError, match="SessionCompletedProperties"):
        ProductFact(EventName.SESSION_COMPLETED, ("s",), NoProperties(), MOMENT)
    with pytest.raises(ValueError, match="non-empty"):
        ProductFact(EventName.APP_OPENED, ("",), NoProperties(), MOMENT)


def test_a_session_states_its_strictness_outcome_and_minutes_only() -> None:
    completed = session_properties(a_session("completed", 45), 43)
    cancelled = session_properties(a_session("cancelled", 60), 20)

    assert completed == SessionCompletedProperties(
        strictness=Strictness.HARDCORE,
        outcome=SessionOutcome.COMPLETED,
        planned_minutes=45,
        focused_minutes=43,
    )
    assert cancelled.outcome is SessionOutcome.CANCELLED
    assert cancelled.planned_minutes == 60
    assert a_session("cancelled").status is SessionStatus.CANCELLED


# --- The wire ------------------------------------------------------------------------------------


def test_the_avro_schema_is_the_envelope_field_for_field() -> None:
    schema = avro_schema()
    fields = {f["name"]: f for f in schema["fields"]}

    assert schema["type"] == "record"
    assert list(fields) == list(ProductEvent.model_fields)
    for name, model_field in ProductEvent.model_fields.items():
        optional = type(None) in _leaves(model_field.annotation)
        kind = fields[name]["type"]
        assert isinstance(kind, list) == optional, name
        if optional:
            assert kind[0] == "null" and fields[name]["default"] is None, name
    assert fields["event_time"]["type"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert fields["ingest_time"]["type"] == fields["event_time"]["type"]
    assert fields["properties"]["type"] == "string"
    # Terraform's copy is written from it (tests/test_infra.py checks the file).
    written = json.loads((iac.ROOT / "infra/terraform/schemas/product-events.avsc").read_text())
    assert written == schema


AVRO_INT = (-(2**31), 2**31 - 1)
AVRO_LONG = (-(2**63), 2**63 - 1)


def avro_json_problems(value: Any, kind: Any, where: str) -> list[str]:
    """Why ``value`` is not ``kind`` in Avro's JSON encoding (the subset the schema uses)."""
    if isinstance(kind, list):  # a union: null, or {"<branch>": value}
        if value is None:
            return [] if "null" in kind else [f"{where}: null outside the union"]
        if not (isinstance(value, dict) and len(value) == 1):
            return [f"{where}: a union value is written {{branch: value}}"]
        ((branch, inner),) = value.items()
        if branch not in kind:
            return [f"{where}: no branch {branch}"]
        return avro_json_problems(inner, branch, where)
    if isinstance(kind, dict) and kind.get("type") == "record":
        fields = {f["name"]: f["type"] for f in kind["fields"]}
        problems = [f"{where}.{extra}: not in the schema" for extra in set(value) - set(fields)]
        for name, field_kind in fields.items():
            problems += avro_json_problems(value.get(name), field_kind, f"{where}.{name}")
        return problems
    if isinstance(kind, dict):
        return avro_json_problems(value, kind["type"], where)
    ok = {
        "string": isinstance(value, str),
        "int": isinstance(value, int)
        and not isinstance(value, bool)
        and AVRO_INT[0] <= value <= AVRO_INT[1],
        "long": isinstance(value, int)
        and not isinstance(value, bool)
        and AVRO_LONG[0] <= value <= AVRO_LONG[1],
    }[kind]
    return [] if ok else [f"{where}: {value!r} is not {kind}"]


def test_every_message_is_what_the_topic_schema_accepts_in_json_encoding() -> None:
    schema = avro_schema()
    anonymous = ProductEvent.of(
        ProductFact(EventName.APP_OPENED, ("2026-03-28",), NoProperties(), MOMENT),
        person=person_id(ADA, SECRET),
        secret=SECRET,
        ingest_time=MOMENT,
    )
    for event in (an_event(SESSION), anonymous):
        message = json.loads(to_message(event))
        assert avro_json_problems(message, schema, "event") == []
        assert isinstance(json.loads(message["properties"]), dict)
    assert json.loads(to_message(anonymous))["platform"] is None
    assert json.loads(to_message(an_event(SESSION)))["platform"] == {"string": "ios"}


def test_times_travel_as_utc_microseconds_since_the_epoch() -> None:
    message = json.loads(to_message(an_event(SESSION)))
    expected = datetime(2026, 3, 28, 23, 2, 3, 456789, tzinfo=UTC)

    assert message["event_time"] == micros(expected)
    assert datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=message["event_time"]) == (
        expected
    )
    assert message["ingest_time"] - message["event_time"] == 1_000_000
    with pytest.raises(ValidationError, match="time zone"):
        ProductEvent.of(
            ProductFact(EventName.APP_OPENED, ("d",), NoProperties(), MOMENT.replace(tzinfo=None)),
            person=person_id(ADA, SECRET),
            secret=SECRET,
            ingest_time=MOMENT,
        )


def _collector() -> Any:
    sys.path.insert(0, str(iac.ROOT / "scripts" / "lib"))
    import analytics_collect

    return analytics_collect


def test_the_catalogue_is_the_one_the_local_collector_and_the_models_expect() -> None:
    """The same events and properties on both sides of the topic (scripts/lib/analytics_collect.py
    refuses what is off the contract)."""
    collector = _collector()

    assert set(collector.CATALOGUE) == {name.value for name in EventName}
    for name, spec in CATALOGUE.items():
        assert set(collector.CATALOGUE[name]) == set(spec.properties.model_fields), name
        for field_name, field in spec.properties.model_fields.items():
            rule = collector.CATALOGUE[name][field_name]
            enums = [
                leaf
                for leaf in _leaves(field.annotation)
                if isinstance(leaf, type) and issubclass(leaf, Enum)
            ]
            if isinstance(rule, frozenset):
                assert {e.value for enum in enums for e in enum} == set(rule), (
                    f"{name}.{field_name}"
                )
    assert {p.value for p in Platform} == set(collector.PLATFORMS)


def test_the_local_collector_reads_every_message_as_it_was_meant() -> None:
    collector = _collector()
    block = ProductFact(
        EventName.BLOCK_CHANGED,
        ("block-1", "2026-03-28T23:02:03.456789Z"),
        BlockChangedProperties(
            kind=BlockKind.APP_LOCK, strictness=Strictness.EASY, change=BlockChange.UPDATED
        ),
        MOMENT,
    )
    for fact in (SESSION, block):
        event = an_event(fact)
        row = collector.check(to_message(event))

        assert row["event_id"] == event.event_id
        assert row["event_time"] == "2026-03-28T23:02:03.456789Z"
        assert row["platform"] == "ios" and row["app_version"] == "3.4.0"
        assert json.loads(row["properties"]) == fact.properties.model_dump(mode="json")


def test_every_catalogued_event_has_a_version_and_a_documented_fact() -> None:
    assert set(CATALOGUE) == set(EventName)
    for spec in CATALOGUE.values():
        assert spec.version >= 1 and spec.fact
        assert issubclass(spec.properties, Properties)

"""Product events, end to end through the emulators (docs/analytics.md): each fact the server
makes true is published once on ``product-events`` (a duplicate call or a redelivered trigger
states it again under the same event id), only while the person consents to analytics, never
with anything personal in it; erasing the account deletes the person's key, so nobody can tell
their rows any more; and publishing can fail without failing the person's call.

Messages are read from a pull subscription of our own on the topic, as the BigQuery subscription
and scripts/analytics-collect read them."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, get_args

import pytest
from conftest import block_doc, envelope, launched_user, session_doc
from emulator_log import json_lines, wait_for_lines

from firebase_emulator_harness import EmulatorSuite, User, wait_for
from firebase_emulator_harness.http import session
from focus.adapters import clients, logs
from focus.domain.analytics_events import CATALOGUE, EventName, Platform, person_id
from focus.domain.entitlements import Store, StoreFact, SubscriptionState, purchase_account_token
from focus.services import analytics, blocks, completions, subscriptions
from focus.services.privacy.registry import REGISTRY

TOPIC = "product-events"  # focus.domain.wires.Topic.PRODUCT_EVENTS; scripts/lib/suite.py makes it
SUBSCRIPTION = "product-events-spec"
CONSENT = {"purpose": "analytics", "granted": True, "policyVersion": "2026-11"}


class ProductEvents:
    """Every product event published since the module started, read from our subscription."""

    def __init__(self, firebase: EmulatorSuite) -> None:
        self.base = f"{firebase.endpoints['pubsub'].url}/v1/projects/{firebase.project}"
        self.topic = f"projects/{firebase.project}/topics/{TOPIC}"
        self.received: list[dict[str, Any]] = []

    @classmethod
    def from_now(cls, firebase: EmulatorSuite) -> ProductEvents:
        """Collecting every event published from now on (what was published before is drained)."""
        events = cls(firebase)
        events.ensure()
        events.pull()
        events.received.clear()
        return events

    def ensure(self) -> None:
        for path, body in (
            (f"topics/{TOPIC}", {}),
            (f"subscriptions/{SUBSCRIPTION}", {"topic": self.topic}),
        ):
            response = session().put(f"{self.base}/{path}", json=body, timeout=10)
            assert response.status_code in (200, 409), response.text

    def pull(self) -> None:
        while True:
            response = session().post(
                f"{self.base}/subscriptions/{SUBSCRIPTION}:pull",
                json={"maxMessages": 500, "returnImmediately": True},
                timeout=10,
            )
            response.raise_for_status()
            messages = response.json().get("receivedMessages", [])
            if not messages:
                return
            for received in messages:
                data = base64.b64decode(received["message"].get("data", ""))
                self.received.append(json.loads(data))
            session().post(
                f"{self.base}/subscriptions/{SUBSCRIPTION}:acknowledge",
                json={"ackIds": [m["ackId"] for m in messages]},
                timeout=10,
            ).raise_for_status()

    def of(self, person: str, name: EventName | None = None) -> list[dict[str, Any]]:
        self.pull()
        return [
            m
            for m in self.received
            if m["person_id"] == person and (name is None or m["event_name"] == name.value)
        ]

    def wait(
        self, person: str, name: EventName, count: int = 1, timeout: float = 30
    ) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            found = self.of(person, name)
            return found if len(found) >= count else None

        return wait_for(enough, timeout=timeout, message=f"{count} {name.value} event(s)")


@pytest.fixture(scope="module")
def product_events(firebase_suite: EmulatorSuite) -> ProductEvents:
    return ProductEvents.from_now(firebase_suite)


def consenting(firebase: EmulatorSuite) -> tuple[User, str]:
    """A person who opened the app and then granted analytics; their warehouse id."""
    user = launched_user(firebase)
    firebase.functions.call("setConsent", envelope(CONSENT), user=user).unwrap()
    return user, person_of(firebase, user)


def person_of(firebase: EmulatorSuite, user: User) -> str:
    key = firebase.firestore.as_owner().get(f"users/{user.uid}/analyticsKeys/current")
    assert key is not None and isinstance(key["secret"], bytes) and len(key["secret"]) == 32
    return person_id(user.uid, key["secret"])


def properties(message: dict[str, Any]) -> dict[str, Any]:
    parsed = json.loads(message["properties"])
    assert isinstance(parsed, dict)
    return parsed


def ids(messages: list[dict[str, Any]]) -> set[str]:
    return {m["event_id"] for m in messages}


def quietly(seconds: float = 3.0) -> None:
    """Time for a background function that should publish nothing to have done so anyway."""
    time.sleep(seconds)


# --- Once per fact ---------------------------------------------------------------------------------


def test_opening_the_app_states_one_app_opened_a_day(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)

    for _ in range(3):
        firebase.functions.call("launch", envelope(), user=user).unwrap()

    (opened, *again) = product_events.wait(person, EventName.APP_OPENED)
    quietly()
    assert ids(product_events.of(person, EventName.APP_OPENED)) == {opened["event_id"]}
    assert all(m["event_id"] == opened["event_id"] for m in again)
    assert properties(opened) == {}
    assert opened["schema_version"] == 1
    assert opened["platform"] == {"string": "ios"} and opened["app_version"] == {"string": "3.4.0"}
    now_us = datetime.now(UTC).timestamp() * 1e6
    assert now_us - 60e6 < opened["event_time"] <= opened["ingest_time"] < now_us + 60e6


def test_a_completed_session_is_stated_once_when_counted(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    done = session_doc(status="completed", minutes=30, strictness="harder")

    # As an offline device's sync lands it: already completed (rules let devices start sessions
    # only; the server's own path writes it here).
    firebase.firestore.as_owner().set(f"users/{user.uid}/sessions/s-done", done)

    (completed,) = product_events.wait(person, EventName.SESSION_COMPLETED)
    assert properties(completed) == {
        "strictness": "harder",
        "outcome": "completed",
        "planned_minutes": 30,
        "focused_minutes": 30,
    }
    wait_for(
        lambda: (firebase.firestore.as_owner().get(f"users/{user.uid}/sessions/s-done") or {}).get(
            "result"
        ),
        message="the session counted",
    )
    # The count's backstops run again (the planned-end task, the sweep): nothing new is true.
    firebase.functions.call("launch", envelope(), user=user).unwrap()
    quietly()
    assert product_events.of(person, EventName.SESSION_COMPLETED) == [completed]


def test_a_cancelled_session_is_stated_once_whatever_the_redeliveries(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    running = session_doc(status="active", minutes=60, strictness="easy")
    path = f"users/{user.uid}/sessions/s-cancel"
    firebase.firestore.as_user(user).set(path, running)
    ended = datetime.now(UTC)
    cancelled = running | {"status": "cancelled", "endedAt": ended, "endReason": "cancelled"}

    firebase.firestore.as_user(user).set(path, cancelled)

    (stated,) = product_events.wait(person, EventName.SESSION_COMPLETED)
    assert properties(stated)["outcome"] == "cancelled"
    assert properties(stated)["planned_minutes"] == 60
    # Firestore delivers the same change again: the same fact, the same event id.
    completions.session_written(
        user.uid, "s-cancel", cancelled, ended, datetime.now(UTC), before=running
    )
    again = product_events.wait(person, EventName.SESSION_COMPLETED, count=2)
    assert ids(again) == {stated["event_id"]}


def test_each_merged_revision_of_a_day_is_stated_once(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    as_of = datetime.now(UTC)
    first = {
        "day": day,
        "timezone": "Europe/Berlin",
        "screenTimeMinutes": 90,
        "pickups": 40,
        "focusedMinutes": 60,
        "asOf": as_of.isoformat(),
    }

    def upload(report: dict[str, Any]) -> None:
        payload = {"deviceId": "iphone-1", "reports": [report]}
        firebase.functions.call("uploadDailyReports", envelope(payload), user=user).unwrap()

    upload(first)
    upload(first)  # the app retries (a new idempotency key): nothing changes
    (merged,) = product_events.wait(person, EventName.DAY_MERGED)
    assert properties(merged) | {"met_goal": None, "score": None} == {
        "screen_time_minutes": 90,
        "pickups": 40,
        "focused_minutes": 60,
        "met_goal": None,
        "score": None,
    }
    assert isinstance(properties(merged)["met_goal"], bool)
    assert isinstance(properties(merged)["score"], int)

    upload(first | {"screenTimeMinutes": 120, "asOf": (as_of + timedelta(minutes=5)).isoformat()})

    both = product_events.wait(person, EventName.DAY_MERGED, count=2)
    assert len(ids(both)) == 2
    assert properties(both[-1])["screen_time_minutes"] == 120


def test_the_emergency_pass_is_stated_once_per_use(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    key = "pass-key-0123456789"

    for _ in range(2):  # the same call retried with its idempotency key: answered from it
        firebase.functions.call("useEmergencyPass", envelope(key=key), user=user).unwrap()

    (used,) = product_events.wait(person, EventName.EMERGENCY_PASS_USED)
    quietly()
    assert product_events.of(person, EventName.EMERGENCY_PASS_USED) == [used]
    assert properties(used) == {}


def test_a_blocks_creation_change_and_deletion_are_each_stated_once(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    mine = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/blocks/b-1"

    mine.set(path, block_doc("appLock", strictness="harder"))
    product_events.wait(person, EventName.BLOCK_CHANGED)
    mine.update(path, {"name": "Evening apps"})
    product_events.wait(person, EventName.BLOCK_CHANGED, count=2)
    mine.delete(path)

    stated = product_events.wait(person, EventName.BLOCK_CHANGED, count=3)
    assert [properties(m) for m in stated] == [
        {"kind": "appLock", "strictness": "harder", "change": change}
        for change in ("created", "updated", "deleted")
    ]
    assert len(ids(stated)) == 3
    # The deletion's trigger delivered again (same write time): the same event id.
    written = datetime.fromtimestamp(stated[-1]["event_time"] / 1e6, UTC)
    before = block_doc("appLock", strictness="harder") | {"name": "Evening apps"}
    blocks.block_written(user.uid, "b-1", before, None, written, datetime.now(UTC))
    again = product_events.wait(person, EventName.BLOCK_CHANGED, count=4)
    assert again[-1]["event_id"] == stated[-1]["event_id"]


def test_rating_an_insight_is_stated_once_per_week_and_rating(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    week = "2026-11-16"
    firebase.firestore.as_owner().set(
        f"users/{user.uid}/insights/{week}",
        {
            "week": week,
            "state": "ready",
            "source": "fallback",
            "createdAt": datetime.now(UTC),
            "readyAt": datetime.now(UTC),
        },
    )

    def rate(rating: str) -> None:
        payload = {"week": week, "rating": rating}
        firebase.functions.call("rateInsight", envelope(payload), user=user).unwrap()

    rate("up")
    rate("up")
    rate("down")

    stated = product_events.wait(person, EventName.INSIGHT_RATED, count=3)
    assert len(ids(stated)) == 2
    assert {json.dumps(properties(m), sort_keys=True) for m in stated} == {
        json.dumps({"rating": r, "source": "fallback"}, sort_keys=True) for r in ("up", "down")
    }


def test_an_entitlement_change_is_stated_once_per_store_event(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    now = datetime.now(UTC)
    fact = StoreFact(
        store=Store.APP_STORE,
        event_id=f"notification-{user.uid[:6]}",
        subscription_id=f"original-{user.uid}",
        account_token=purchase_account_token(user.uid),
        product_id="focus.pro.monthly",
        state=SubscriptionState.ACTIVE,
        expires_at=now + timedelta(days=30),
        occurred_at=now,
    )

    subscriptions.apply(fact, now, claimant=user.uid)
    subscriptions.apply(fact, now, claimant=user.uid)  # the store delivers it again

    (changed,) = product_events.wait(person, EventName.ENTITLEMENT_CHANGED)
    assert properties(changed) == {"pro": True, "store": "app_store", "state": "active"}
    assert changed["platform"] is None  # a store's notification: no app is calling


# --- Consent -------------------------------------------------------------------------------------


def test_nothing_is_published_for_a_person_who_never_consented(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user = launched_user(firebase)
    firebase.functions.call("launch", envelope(), user=user).unwrap()
    firebase.firestore.as_user(user).set(f"users/{user.uid}/blocks/b-1", block_doc())
    firebase.firestore.as_owner().set(
        f"users/{user.uid}/sessions/s-1", session_doc(status="completed")
    )
    quietly()

    # Every event needs the person's key, and none was ever made: nothing could be published.
    assert firebase.firestore.as_owner().get(f"users/{user.uid}/analyticsKeys/current") is None
    assert analytics.consented_key(user.uid, create=True) is None


def test_withdrawing_consent_stops_the_events_at_once(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    firebase.firestore.as_user(user).set(f"users/{user.uid}/blocks/b-1", block_doc())
    product_events.wait(person, EventName.BLOCK_CHANGED)

    withdrawn = CONSENT | {"granted": False}
    firebase.functions.call("setConsent", envelope(withdrawn), user=user).unwrap()
    firebase.firestore.as_user(user).set(f"users/{user.uid}/blocks/b-2", block_doc())
    firebase.functions.call("useEmergencyPass", envelope(), user=user).unwrap()
    quietly()

    assert [m["event_name"] for m in product_events.of(person)] == ["block_changed"]


def test_the_profile_mirrors_the_consent_from_its_creation_through_every_change(
    firebase: EmulatorSuite,
) -> None:
    """The paths that have read the profile publish by its mirror (no consent read), so the mirror
    must say what the consent says: from the profile's creation, and at each grant and withdrawal."""
    early = firebase.auth.sign_up_anonymously()
    firebase.functions.call("setConsent", envelope(CONSENT), user=early).unwrap()
    firebase.functions.call("launch", envelope(), user=early).unwrap()
    late = launched_user(firebase)

    def mirror(user: User) -> object:
        return (firebase.firestore.as_owner().get(f"users/{user.uid}") or {}).get(
            "analyticsConsent"
        )

    assert (mirror(early), mirror(late)) == (True, False)
    firebase.functions.call("setConsent", envelope(CONSENT), user=late).unwrap()
    assert mirror(late) is True
    firebase.functions.call(
        "setConsent", envelope(CONSENT | {"granted": False}), user=late
    ).unwrap()
    assert mirror(late) is False


def test_a_profile_from_before_the_mirror_still_publishes_by_the_consent_itself(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    profile = firebase.firestore.as_owner().get(f"users/{user.uid}") or {}
    del profile["analyticsConsent"]
    firebase.firestore.as_owner().set(f"users/{user.uid}", profile)

    firebase.firestore.as_user(user).set(f"users/{user.uid}/blocks/b-1", block_doc())

    product_events.wait(person, EventName.BLOCK_CHANGED)


# --- Nothing personal ------------------------------------------------------------------------------


def _pairs(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (field name, value) at any depth of a document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from _pairs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _pairs(item)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    for key, item in _pairs(value):
        yield key
        if isinstance(item, str):
            yield item


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _personal_documents(firebase: EmulatorSuite, uid: str) -> list[dict[str, Any]]:
    """The person's documents in every registered personal collection directly under them."""
    owner = firebase.firestore.as_owner()
    found = [owner.get(f"users/{uid}") or {}]
    for entry in REGISTRY:
        parts = entry.path.split("/")
        if entry.personal and entry.user_scoped and len(parts) == 4:
            found += [data for _, data in owner.query(f"users/{uid}/{parts[2]}")]
    return found


# Product vocabulary: values an event may share with a document because they are the same closed
# words for everyone: every enum an event's properties use, the platforms, the app's release.
VOCABULARY = (
    {
        member.value
        for spec in CATALOGUE.values()
        for field in spec.properties.model_fields.values()
        for leaf in get_args(field.annotation) or (field.annotation,)
        if isinstance(leaf, type) and issubclass(leaf, Enum)
        for member in leaf
    }
    | {platform.value for platform in Platform}
    | {"3.4.0"}
)


def test_no_event_carries_a_registered_personal_field_or_value(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user = launched_user(firebase, anonymous=False)  # ada@example.com
    owner = firebase.firestore.as_owner()
    owner.update(f"users/{user.uid}", {"displayName": "Ada Lovelace"})
    firebase.functions.call("setConsent", envelope(CONSENT), user=user).unwrap()
    person = person_of(firebase, user)
    mine = firebase.firestore.as_user(user)
    mine.set(f"users/{user.uid}/blocks/b-secret", block_doc("schedule", strictness="easy"))
    owner.set(f"users/{user.uid}/sessions/s-secret", session_doc(status="completed"))
    firebase.functions.call("launch", envelope(), user=user).unwrap()
    product_events.wait(person, EventName.SESSION_COMPLETED)
    product_events.wait(person, EventName.BLOCK_CHANGED)
    product_events.wait(person, EventName.APP_OPENED)

    # In the person's registered documents: every field holding text (a name, an id, a token,
    # a time zone, a version) and every such value, besides the ids in their paths.
    pairs = [pair for doc in _personal_documents(firebase, user.uid) for pair in _pairs(doc)]
    free = {(k, v) for k, v in pairs if isinstance(v, str) and v not in VOCABULARY}
    personal_fields = {k for k, _ in free} | {_snake(k) for k, _ in free}
    personal_values = {v for _, v in free} | {
        user.uid,
        "ada@example.com",
        "Ada Lovelace",
        "b-secret",
        "s-secret",
        "iphone-1",
    }
    assert {"displayName", "name", "timezone"} <= personal_fields  # the check sees them

    every_message = product_events.of(person)
    assert {m["event_name"] for m in every_message} >= {"app_opened", "block_changed"}
    for message in every_message:
        carried = properties(message)
        assert set(carried) & personal_fields == set(), message["event_name"]
        texts = set(_strings(message)) | set(_strings(carried))
        assert texts & personal_values == set(), message["event_name"]
        assert not any(
            secret in text for text in texts for secret in personal_values if len(secret) > 4
        )


# --- Erasure ---------------------------------------------------------------------------------------


def test_erasure_deletes_the_key_and_names_the_rows_to_delete(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    firebase.functions.call("launch", envelope(), user=user).unwrap()
    product_events.wait(person, EventName.APP_OPENED)

    firebase.functions.call("deleteAccount", envelope(), user=user).unwrap()

    (erased,) = product_events.wait(person, EventName.ERASURE_COMPLETED, timeout=60)
    assert properties(erased) == {}
    assert firebase.firestore.as_owner().get(f"users/{user.uid}/analyticsKeys/current") is None
    # The person id can no longer be made from the uid: the key that made it is gone.
    assert analytics.erasure_person_id(user.uid) is None
    assert analytics.consented_key(user.uid, create=False) is None


# --- Never the person's problem ------------------------------------------------------------------


def test_an_unusable_key_fails_nothing_but_the_event(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, _ = consenting(firebase)
    firebase.firestore.as_owner().set(
        f"users/{user.uid}/analyticsKeys/current", {"secret": "not a key", "createdAt": 1}
    )

    def dropped(line: dict[str, Any]) -> bool:
        return line.get("message") == "analytics event dropped" and "ValueError" in str(
            line.get("reason")
        )

    before = len([line for line in json_lines() if dropped(line)])
    answer = firebase.functions.call("launch", envelope(), user=user).unwrap()

    assert isinstance(answer, dict) and isinstance(answer["data"], dict)
    assert answer["data"]["profileCreated"] is False
    wait_for_lines(dropped, count=before + 1, message="the dropped event counted")


@pytest.fixture
def unreachable_pubsub(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """This process's Pub/Sub pointed at a port nobody listens on; log lines captured."""
    monkeypatch.setenv(clients.PUBSUB_EMULATOR_SETTING, "127.0.0.1:9")
    monkeypatch.setattr(analytics, "_paused_until", 0.0)
    clients.pubsub_http.cache_clear()
    stream = io.StringIO()
    logs.configure("jobs", stream=stream)
    yield stream
    clients.pubsub_http.cache_clear()


def test_a_failing_publish_is_retried_then_dropped_never_raised(
    firebase: EmulatorSuite, product_events: ProductEvents, unreachable_pubsub: io.StringIO
) -> None:
    user, person = consenting(firebase)
    started = time.monotonic()

    published = analytics.record(
        user.uid, EventName.EMERGENCY_PASS_USED, ("1",), None, datetime.now(UTC)
    )

    assert published == 0
    assert time.monotonic() - started < 10
    lines = [json.loads(line) for line in unreachable_pubsub.getvalue().splitlines()]
    (line,) = [line for line in lines if line["message"] == "analytics event dropped"]
    assert line["eventName"] == "emergency_pass_used"
    assert user.uid not in json.dumps(line) and person not in json.dumps(line)
    # Right after a drop, this instance does not wait on Pub/Sub again for a while.
    started = time.monotonic()
    assert analytics.record(user.uid, EventName.APP_OPENED, ("d",), None, datetime.now(UTC)) == 0
    assert time.monotonic() - started < 1

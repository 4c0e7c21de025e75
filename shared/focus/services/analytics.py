"""Publishing product events (focus.domain.analytics_events; docs/analytics.md).

A service calls ``record`` (or ``record_all``, for several facts of one person) after the fact it
states is committed. Then, for each person:

* **Consent.** Nothing is published unless their ``analytics`` consent is granted (no record: no;
  the same rule as ``consents.require``). A caller that has just read the person's profile passes
  its mirror of the consent (``consent=profile.analytics_consent``, kept with the consent by
  ``consents.record``): then nothing is read for it. Otherwise (the mirror unknown, or no profile
  at hand) it is read once per call however many facts the call carries (one read a person). The
  key is read only when the instance has not read it before.
* **The key.** ``users/{uid}/analyticsKeys/current`` holds their secret (32 random bytes), which
  keys their person id and every event id. It is created when they grant the consent and, for a
  consent granted before keys existed, by the callables they make (``create_key=True``), never by
  a background path: a trigger fired by an erasure deleting their documents must not put a new
  key back under an account being erased. It is deleted with the account (crypto-shredding).
* **Never the user's problem.** A call's events go in one request to Pub/Sub's REST API
  (``messaging.publish_data``; every codebase has it, not every one the gRPC client), awaited
  (an instance's CPU may be throttled once the request is answered, so nothing is left to a
  background thread), retried a few times with jitter unless retrying cannot help, then dropped:
  one ``analytics event dropped`` line (eventName, reason) per event, the metric's source, never
  an exception. After a drop the instance publishes nothing for ``PAUSE_AFTER_DROP``, so an
  outage costs each request nothing rather than the retries' time.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from focus.adapters import clients, logs, messaging, paths, store, tracing
from focus.domain.analytics_events import (
    CATALOGUE,
    EventName,
    NoProperties,
    Platform,
    ProductEvent,
    ProductFact,
    Properties,
    app_opened_fact,
    event_id,
    new_secret,
    person_id,
    to_message,
)
from focus.domain.consent import Consent, Purpose, allows
from focus.domain.wires import Topic

if TYPE_CHECKING:
    from focus.contracts.envelope import ClientInfo

PUBLISH_ATTEMPTS = 3
ATTEMPT_TIMEOUT_SECONDS = 1.0  # Pub/Sub answers in tens of milliseconds when it is well
BACKOFF_SECONDS = 0.05  # before the second attempt; doubling, with full jitter
KEYS_PER_READ = 250  # people per read round trip (two documents each)
PAUSE_AFTER_DROP = 30.0  # seconds this instance publishes nothing after dropping an event
EVENTS_PER_PUBLISH = 500  # per request (Pub/Sub takes 1,000 messages or 10 MB; ours are < 1 KB)

_paused_until = 0.0  # time.monotonic() before which this instance publishes nothing
# Keys this instance has read, by uid (``consented_keys``): ~100 bytes each.
_keys: dict[str, bytes] = {}
MAX_KEYS_REMEMBERED = 20_000  # forgotten all at once when full (then read again, one by one)
ANALYTICS = Purpose.ANALYTICS.value


def record(
    uid: str,
    event_name: EventName,
    fact: tuple[str, ...],
    properties: Properties | None,
    event_time: datetime,
    client: ClientInfo | None = None,
    *,
    create_key: bool = False,
    consent: bool | None = None,
) -> int:
    """Publish one fact of the person's as a product event, if they consent; how many events were
    published (0 or 1). Never raises."""
    return record_all(
        uid,
        [ProductFact(event_name, fact, properties or NoProperties(), event_time)],
        client,
        create_key=create_key,
        consent=consent,
    )


def record_all(
    uid: str,
    facts: Sequence[ProductFact],
    client: ClientInfo | None = None,
    *,
    create_key: bool = False,
    consent: bool | None = None,
) -> int:
    """Publish the person's ``facts`` as product events, if they consent (one consent read for
    all, none when ``consent`` says it: the profile's mirror); how many were published. Never
    raises: analytics never fails the person's request."""
    if consent is False or not facts:
        return 0
    known = {} if consent is None else {uid: consent}
    return record_people({uid: facts}, client, create_key=create_key, consents=known)


def record_people(
    facts_by_person: Mapping[str, Sequence[ProductFact]],
    client: ClientInfo | None = None,
    *,
    create_key: bool = False,
    consents: Mapping[str, bool] | None = None,
) -> int:
    """``record_all`` for several people at once (a campaign's batch): their consents (unless
    ``consents`` knows them) and keys in one read round trip, every event published before
    waiting for any. Never raises."""
    people = {uid: facts for uid, facts in facts_by_person.items() if facts}
    if not people:
        return 0
    try:
        keys = consented_keys(list(people), create=create_key, consents=consents)
        events = events_of(people, keys, datetime.now(UTC), client)
    except Exception as exc:  # a read failing, a malformed key: the facts stay true, unreported
        for facts in people.values():
            for fact in facts:
                _dropped(fact.event_name, _reason(exc))
        return 0
    return publish(events) if events else 0


def events_of(
    facts_by_person: Mapping[str, Sequence[ProductFact]],
    keys: Mapping[str, bytes | None],
    ingest_time: datetime,
    client: ClientInfo | None = None,
) -> list[ProductEvent]:
    """The events stating each person's facts, for the people with a key in ``keys`` (what
    ``consented_keys`` answered: None for a person who does not consent or has no key)."""
    app_version, platform = _client_fields(client)
    return [
        ProductEvent.of(
            fact,
            person=person_id(uid, secret),
            secret=secret,
            ingest_time=ingest_time,
            app_version=app_version,
            platform=platform,
        )
        for uid, facts in facts_by_person.items()
        if (secret := keys.get(uid)) is not None
        for fact in facts
    ]


@tracing.traced("firestore.analytics.consented_keys")
def consented_keys(
    uids: Sequence[str], *, create: bool = False, consents: Mapping[str, bool] | None = None
) -> dict[str, bytes | None]:
    """Each person's analytics secret if their analytics consent is granted, else None; created
    if missing when ``create`` (only where the person is signed in and not being erased).

    The consent is read every time (one read a person; a page of people per round trip) unless
    ``consents`` has it (the profile's mirror, read by the caller just now): it is the gate, and
    erasure deletes it with the key. The key, once read, is remembered by the
    instance (``_keys``), so a person's event usually costs that one read; it is safe to keep
    because without the consent it is never used, and it never changes while the account lives."""
    db = clients.firestore()
    found: dict[str, bytes | None] = {}
    for start in range(0, len(uids), KEYS_PER_READ):
        page = uids[start : start + KEYS_PER_READ]
        consenting = _consenting(page, consents or {})
        known = {uid: _keys[uid] for uid in consenting if uid in _keys}
        unknown = [uid for uid in consenting if uid not in known]
        keys = store.get_all([db.document(paths.analytics_key(uid)) for uid in unknown])
        for uid, snap in zip(unknown, keys, strict=True):
            if snap.exists:
                known[uid] = _secret_of(snap.to_dict())
            elif create:
                known[uid] = ensure_key(uid)
            if uid in known:
                _remember(uid, known[uid])
        found |= dict.fromkeys(page) | {uid: known.get(uid) for uid in consenting}
    return found


def _consenting(uids: Sequence[str], known: Mapping[str, bool]) -> list[str]:
    """Who of ``uids`` consents: as ``known`` says, else as their consent document says."""
    db = clients.firestore()
    unknown = [uid for uid in uids if uid not in known]
    snaps = store.get_all([db.document(paths.consent(uid, ANALYTICS)) for uid in unknown])
    read = {
        uid: snap.exists and allows(Consent.model_validate(snap.to_dict()))
        for uid, snap in zip(unknown, snaps, strict=True)
    }
    return [uid for uid in uids if known.get(uid, read.get(uid, False))]


def _remember(uid: str, secret: bytes) -> None:
    if len(_keys) >= MAX_KEYS_REMEMBERED:
        _keys.clear()
    _keys[uid] = secret


def consented_key(uid: str, *, create: bool = False) -> bytes | None:
    """One person's ``consented_keys``."""
    return consented_keys([uid], create=create)[uid]


def ensure_key(uid: str) -> bytes:
    """The person's analytics secret, created now if they have none (exactly once: two racing
    first calls both end with the one that was created)."""
    from google.api_core import exceptions

    ref = clients.firestore().document(paths.analytics_key(uid))
    snapshot = store.get(ref)
    if snapshot.exists:
        return _secret_of(snapshot.to_dict())
    # Created meanwhile by another call (AlreadyExists; Conflict on the emulator): that one is it.
    with contextlib.suppress(exceptions.AlreadyExists, exceptions.Conflict):
        store.create_now(ref, {"secret": new_secret(), "createdAt": datetime.now(UTC)})
    return _secret_of(store.get(ref).to_dict())


def _secret_of(data: dict[str, Any] | None) -> bytes:
    secret = (data or {}).get("secret")
    if not isinstance(secret, bytes):
        raise ValueError("the analytics key holds no secret")
    return secret


def _client_fields(client: ClientInfo | None) -> tuple[str | None, Platform | None]:
    if client is None:
        return None, None
    return client.app_version, Platform(client.platform.value)


def publish(events: Sequence[ProductEvent]) -> int:
    """Publish the events (one request per page), retrying a failed page with jitter; how many
    Pub/Sub took. The others are logged as dropped. Never raises."""
    global _paused_until
    if time.monotonic() < _paused_until:
        for event in events:
            _dropped(event.event_name, "paused after a drop")
        return 0
    published = 0
    for start in range(0, len(events), EVENTS_PER_PUBLISH):
        page = events[start : start + EVENTS_PER_PUBLISH]
        reason = publish_page(page)
        if reason is None:
            published += len(page)
            continue
        for event in page:
            _dropped(event.event_name, reason)
        _paused_until = time.monotonic() + PAUSE_AFTER_DROP
    return published


def publish_page(page: Sequence[ProductEvent]) -> str | None:
    """Publish one page, all or nothing, within ``PUBLISH_ATTEMPTS``; None, or why it failed."""
    reason = "not attempted"
    for attempt in range(PUBLISH_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** (attempt - 1)))
        try:
            messaging.publish_data(
                Topic.PRODUCT_EVENTS,
                [to_message(event) for event in page],
                timeout=ATTEMPT_TIMEOUT_SECONDS,
            )
            return None
        except messaging.PublishFailed as exc:
            reason = _reason(exc)
            if exc.final:
                return reason
        except Exception as exc:  # anything else unexpected: counted, never the caller's
            return _reason(exc)
    return reason


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def _dropped(event_name: EventName, reason: str) -> None:
    """The ``analytics event dropped`` line the ``focus/analytics_dropped`` metric counts (by
    event name); the reason holds no personal data (an exception's type and message)."""
    logs.get_logger().warning(
        "analytics event dropped",
        eventName=event_name.value,
        schemaVersion=CATALOGUE[event_name].version,
        reason=reason,
    )


# --- Events with more to them than one fact -------------------------------------------------------

# Per instance: the UTC day each person's ``app_opened`` was last published for. Launches repeat
# through the day; the event id makes repeats one row anyway, this saves their reads and messages.
_opened_on: dict[str, str] = {}
MAX_OPENED_REMEMBERED = 50_000  # ~5 MB at most; forgotten all at once (a repeat is only a repeat)


def app_opened(
    uid: str, now: datetime, client: ClientInfo | None = None, *, consent: bool | None = None
) -> int:
    """The person opened the app (the ``launch`` callable): one ``app_opened`` per UTC day."""
    day = app_opened_fact(now)
    if _opened_on.get(uid) == day[0]:
        return 0
    published = record(
        uid, EventName.APP_OPENED, day, None, now, client, create_key=True, consent=consent
    )
    if published:
        if len(_opened_on) >= MAX_OPENED_REMEMBERED:
            _opened_on.clear()
        _opened_on[uid] = day[0]
    return published


def erasure_person_id(uid: str) -> str | None:
    """At an erasure's request, before anything is deleted: the person's id in the warehouse if
    they have a key (else no row is theirs), for ``erasure_completed`` to name once the key is
    gone. Asked whatever their consent is now: rows published while they consented are theirs
    too, and deleting them is the erasure's duty, not analytics. Never raises (None)."""
    try:
        snapshot = store.get(clients.firestore().document(paths.analytics_key(uid)))
        return person_id(uid, _secret_of(snapshot.to_dict())) if snapshot.exists else None
    except Exception as exc:
        _dropped(EventName.ERASURE_COMPLETED, _reason(exc))
        return None


def erasure_completed(person: str, now: datetime) -> int:
    """The erasure of the person ``person`` (their warehouse id, from ``erasure_person_id``) is
    complete: the warehouse's cue to delete their rows. Their key is gone, so the fact's id is
    the person id itself (itself keyed). Never raises."""
    try:
        event = ProductEvent(
            event_id=event_id(EventName.ERASURE_COMPLETED, person),
            event_name=EventName.ERASURE_COMPLETED,
            schema_version=CATALOGUE[EventName.ERASURE_COMPLETED].version,
            event_time=now,
            ingest_time=datetime.now(UTC),
            person_id=person,
            properties=NoProperties(),
        )
    except ValueError as exc:  # a malformed id in the progress document
        _dropped(EventName.ERASURE_COMPLETED, _reason(exc))
        return 0
    return publish([event])

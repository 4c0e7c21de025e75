"""Two deliveries of one erasure task never both do the work: the task holds a lease on the
erasure's progress document, and the audit counts are what was actually deleted, exactly once
(focus.adapters.leases, focus.services.privacy.erasure)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import envelope, session_doc

from firebase_emulator_harness import EmulatorError, EmulatorSuite, User, wait_for
from focus.adapters import clients
from focus.services.privacy import erasure, tombstones
from focus_tools.erasure_scan import scan

SESSIONS = 24


@pytest.fixture
def person(firebase: EmulatorSuite) -> Iterator[User]:
    """A person who opened the app; then no trigger runs, so exactly what the test writes exists
    (an erasure needs none)."""
    user = firebase.auth.create_user("lease.me@example.com")
    firebase.functions.call("launch", envelope({"timezone": "Europe/Berlin"}), user=user).unwrap()
    with firebase.functions.background_triggers_disabled():
        yield user


def seed(firebase: EmulatorSuite, user: User) -> Counter[str]:
    """Documents of several kinds under the person; what exists under ``users/{uid}`` per
    collection, the profile as ``users``."""
    db = firebase.firestore.as_owner()
    for n in range(SESSIONS):
        db.create(
            f"users/{user.uid}/sessions/s{n}",
            session_doc(status="completed", minutes=25, started_minutes_ago=60 * (n + 1)),
        )
    for name in ("iphone-1", "mac-1"):
        db.create(f"users/{user.uid}/devices/{name}", {"platform": "ios"})
    # A document that exists only as the parent of a subcollection is nothing to count.
    db.create(f"users/{user.uid}/consents/analytics/history/h1", {"granted": True})
    return existing_under(user.uid)


def existing_under(uid: str) -> Counter[str]:
    counts: Counter[str] = Counter()

    def walk(ref: Any) -> None:
        for collection in ref.collections():
            for doc in collection.list_documents():
                walk(doc)
                if doc.get().exists:
                    counts[collection.id] += 1

    profile = clients.firestore().document(f"users/{uid}")
    walk(profile)
    if profile.get().exists:
        counts["users"] += 1
    return counts


def erased(firebase: EmulatorSuite, user: User) -> dict[str, Any] | None:
    audit = firebase.firestore.as_owner().get(f"erasureAudit/{tombstones.erasure_id(user.uid)}")
    return audit if audit is not None and audit.get("state") == "erased" else None


def deliver(firebase: EmulatorSuite, data: dict[str, Any]) -> int:
    """One delivery of the task; its HTTP status (a refused duplicate fails, so the queue
    retries it)."""
    try:
        return firebase.functions.dispatch_task("eraseAccount", data)
    except EmulatorError as exc:
        return exc.status or 0


def test_two_deliveries_of_one_erasure_at_once_erase_once_with_exact_counts(
    firebase: EmulatorSuite, person: User
) -> None:
    expected = seed(firebase, person)
    assert expected["sessions"] == SESSIONS and "consents" not in expected
    eid = erasure.request(person.uid, datetime.now(UTC), via="app", enqueue=False).erasure_id
    # Small batches make the erasure take several steps, so the two deliveries overlap.
    task = {"erasureId": eid, "batchSize": 5}
    start = threading.Barrier(2)

    def duplicate(_: int) -> int:
        start.wait()
        return deliver(firebase, task)

    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(duplicate, range(2)))

    audit = wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")
    assert audit["documentsDeleted"] == dict(expected)
    # Each delivery either did the work or was refused while the other held the lease; the
    # queue's retry of a refused one finds the erasure finished and changes nothing.
    assert 200 in statuses and set(statuses) <= {200, 500}, statuses
    assert deliver(firebase, task) == 200
    assert erased(firebase, person) == audit
    assert scan([person.uid, "lease.me@example.com"]) == []


def test_a_delivery_waits_for_a_live_lease_and_takes_over_an_expired_one(
    firebase: EmulatorSuite, person: User
) -> None:
    expected = seed(firebase, person)
    eid = erasure.request(person.uid, datetime.now(UTC), via="app", enqueue=False).erasure_id
    progress = f"erasures/{eid}"
    now = datetime.now(UTC)

    # Another delivery is at work (its lease runs): this one fails and deletes nothing.
    firebase.firestore.as_owner().update(
        progress, {"lease": {"holder": "another", "until": now + timedelta(minutes=2)}}
    )
    assert deliver(firebase, {"erasureId": eid}) == 500
    assert existing_under(person.uid) == expected

    # That delivery died: once its lease expired, the queue's retry takes over and finishes.
    firebase.firestore.as_owner().update(
        progress, {"lease": {"holder": "another", "until": now - timedelta(seconds=1)}}
    )
    assert deliver(firebase, {"erasureId": eid}) == 200
    audit = erased(firebase, person) or {}
    assert audit["documentsDeleted"] == dict(expected)
    assert scan([person.uid, "lease.me@example.com"]) == []

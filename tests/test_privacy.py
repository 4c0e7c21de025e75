"""GDPR from day one: erasure that can be proven (and survives interruption), export of
everything registered, consent with history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import block_doc, envelope, session_doc

from firebase_emulator_harness import EmulatorSuite, User, assert_denied, wait_for
from focus.platform import erasure
from focus.platform.erasure_scan import scan
from focus.privacy.registry import REGISTRY

YESTERDAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def long_history(firebase: EmulatorSuite, user: User, sessions: int = 12) -> None:
    """A person who used the app a while: every kind of document they can come to own."""
    db = firebase.firestore.as_user(user)
    db.create(
        f"users/{user.uid}/devices/iphone-1",
        {
            "schemaVersion": 1,
            "platform": "ios",
            "appVersion": "3.4.0",
            "osVersion": "26.1",
            "lastSeenAt": datetime.now(UTC),
        },
    )
    db.create(f"users/{user.uid}/blocks/evenings", block_doc("schedule"))
    for n in range(sessions):
        db.create(
            f"users/{user.uid}/sessions/s{n}", session_doc(status="completed", minutes=25 + n)
        )
    reports = [
        {
            "day": (datetime.now(UTC).date() - timedelta(days=d)).isoformat(),
            "timezone": "Europe/Berlin",
            "screenTimeMinutes": 60,
            "pickups": 20,
            "focusedMinutes": 50,
            "asOf": datetime.now(UTC).isoformat(),
        }
        for d in range(1, 5)
    ]
    firebase.functions.call(
        "uploadDailyReports", envelope({"deviceId": "iphone-1", "reports": reports}), user=user
    ).unwrap()
    firebase.functions.call(
        "setConsent",
        envelope({"purpose": "analytics", "granted": True, "policyVersion": "2026-11"}),
        user=user,
    ).unwrap()
    wait_for(
        lambda: counted_sessions(firebase, user) == sessions, timeout=30, message="history counted"
    )
    wait_for(
        lambda: len(firebase.firestore.as_owner().query(f"users/{user.uid}/weeks")) >= 1,
        message="weeks",
    )


def counted_sessions(firebase: EmulatorSuite, user: User) -> int:
    docs = firebase.firestore.as_owner().query(f"users/{user.uid}/sessions")
    return sum(1 for _, d in docs if (d.get("result") or {}).get("addedToHoursSavedAt"))


def erased(firebase: EmulatorSuite, user: User) -> dict[str, Any] | None:
    return firebase.firestore.as_owner().get(f"erasureAudit/{erasure.erasure_id(user.uid)}")


@pytest.fixture
def person(firebase: EmulatorSuite) -> User:
    user = firebase.auth.create_user("erase.me@example.com")
    firebase.functions.call("launch", envelope({"timezone": "Europe/Berlin"}), user=user).unwrap()
    return user


def test_an_erased_account_leaves_no_trace_but_anonymous_totals(
    firebase: EmulatorSuite, person: User
) -> None:
    long_history(firebase, person)
    hours_before = sum(
        d["minutes"] for _, d in firebase.firestore.as_owner().query("hoursSavedShards")
    )

    answer = firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()["data"]

    assert answer["started"] is True
    audit = wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")
    assert scan([person.uid, "erase.me@example.com"]) == []
    assert firebase.auth.lookup(person.uid) is None
    assert audit["documentsDeleted"]["sessions"] == 12
    assert person.uid not in json.dumps(audit, default=str) and "erase.me" not in json.dumps(
        audit, default=str
    )
    hours_after = sum(
        d["minutes"] for _, d in firebase.firestore.as_owner().query("hoursSavedShards")
    )
    assert hours_after == hours_before  # the community keeps its anonymous total


def test_an_interrupted_erasure_resumes_without_loss_or_double_work(
    firebase: EmulatorSuite, person: User
) -> None:
    long_history(firebase, person, sessions=20)
    eid, started = erasure.request(person.uid, datetime.now(UTC), via="app")
    assert started

    # Two small steps, then the worker "crashes" (no follow-up task) ...
    for _ in range(2):
        firebase.functions.dispatch_task(
            "eraseAccount", {"erasureId": eid, "batchSize": 7, "chain": False}
        )
    progress = firebase.firestore.as_owner().get(f"erasures/{eid}") or {}
    assert sum(progress["deleted"].values()) == 14
    assert firebase.auth.lookup(person.uid) is not None  # Auth goes last
    # ... and a redelivery of the task resumes where it stopped.
    firebase.functions.dispatch_task("eraseAccount", {"erasureId": eid, "batchSize": 7})

    audit = wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")
    assert scan([person.uid, "erase.me@example.com"]) == []
    assert audit["documentsDeleted"]["sessions"] == 20
    firebase.functions.dispatch_task("eraseAccount", {"erasureId": eid})  # a late duplicate: no-op
    assert erased(firebase, person) == audit


def test_asking_twice_starts_one_erasure(firebase: EmulatorSuite, person: User) -> None:
    first = firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()["data"]
    second = firebase.functions.call("deleteAccount", envelope(), user=person)

    assert first["started"] is True
    # The second either sees the erasure under way, or the account already gone.
    assert (
        second.ok and second.result["data"]["started"] is False
    ) or second.code == "UNAUTHENTICATED"
    wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")


def test_the_web_path_erases_a_signed_in_person_only(firebase: EmulatorSuite, person: User) -> None:
    assert firebase.functions.post("deleteAccountWeb")[0] == 401
    assert firebase.functions.post("deleteAccountWeb", user=person, method="GET")[0] == 405

    status, body = firebase.functions.post("deleteAccountWeb", user=person)

    assert status == 200 and body["result"]["started"] is True
    wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")
    assert scan([person.uid, "erase.me@example.com"]) == []


def test_an_export_holds_every_registered_path_and_nothing_of_anyone_else(
    firebase: EmulatorSuite, person: User
) -> None:
    long_history(firebase, person, sessions=3)
    stranger = firebase.auth.create_user("stranger@example.com")
    firebase.functions.call("launch", envelope(), user=stranger).unwrap()
    firebase.firestore.as_user(stranger).create(
        f"users/{stranger.uid}/sessions/x", session_doc(status="completed")
    )

    export_id = firebase.functions.call("requestExport", envelope(), user=person).unwrap()["data"][
        "exportId"
    ]

    def ready() -> dict[str, Any] | None:
        answer = firebase.functions.call(
            "getExport", envelope({"exportId": export_id}), user=person
        ).unwrap()["data"]
        return answer if answer["state"] == "ready" else None

    first = wait_for(ready, timeout=30, message="export ready")
    text = "".join(
        firebase.functions.call(
            "getExport", envelope({"exportId": export_id, "chunk": n}), user=person
        ).unwrap()["data"]["data"]
        for n in range(first["chunks"])
    )
    bundle = json.loads(text)
    exportable = {entry.path for entry in REGISTRY if entry.export}
    assert set(bundle["data"]) == exportable
    assert bundle["account"]["email"] == "erase.me@example.com"
    assert len(bundle["data"]["users/{uid}/sessions/{sessionId}"]) == 3
    assert bundle["data"]["users/{uid}/consents/{purpose}"][0]["granted"] is True
    assert len(bundle["data"]["users/{uid}/days/{day}"]) == 4
    assert stranger.uid not in text and "stranger@example.com" not in text
    assert (
        firebase.functions.call("getExport", envelope({"exportId": export_id}), user=stranger).code
        == "NOT_FOUND"
    )


def test_consent_is_per_purpose_versioned_and_keeps_its_history(
    firebase: EmulatorSuite, person: User
) -> None:
    for granted, version in ((True, "2026-06"), (False, "2026-11")):
        firebase.functions.call(
            "setConsent",
            envelope({"purpose": "aiProcessing", "granted": granted, "policyVersion": version}),
            user=person,
        ).unwrap()

    mine = firebase.firestore.as_user(person)
    current = mine.get(f"users/{person.uid}/consents/aiProcessing") or {}
    history = mine.query(f"users/{person.uid}/consents/aiProcessing/history")
    assert (current["granted"], current["policyVersion"]) == (False, "2026-11")
    assert sorted((d["granted"], d["policyVersion"]) for _, d in history) == [
        (False, "2026-11"),
        (True, "2026-06"),
    ]
    assert_denied(lambda: mine.set(f"users/{person.uid}/consents/aiProcessing", {"granted": True}))
    other = firebase.auth.sign_up_anonymously()
    assert_denied(
        lambda: firebase.firestore.as_user(other).get(f"users/{person.uid}/consents/aiProcessing")
    )
    bad = firebase.functions.call(
        "setConsent",
        envelope({"purpose": "selling", "granted": True, "policyVersion": "1"}),
        user=person,
    )
    assert bad.code == "INVALID_ARGUMENT"

"""GDPR from day one: erasure that can be proven (and survives interruption) and is final (a
still-valid token of an erased person gets nothing back), export of everything registered,
consent with history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import block_doc, device_doc, envelope, session_doc

from firebase_emulator_harness import EmulatorError, EmulatorSuite, User, assert_denied, wait_for
from focus.services.privacy import erasure, tombstones
from focus.services.privacy.registry import REGISTRY
from focus_tools.erasure_scan import scan

PUSH_TOKEN = "fcm-token-of-the-person:APA91b"
YESTERDAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def long_history(firebase: EmulatorSuite, user: User, sessions: int = 12) -> None:
    """A person who used the app a while: every kind of document they can come to own."""
    db = firebase.firestore.as_user(user)
    db.create(f"users/{user.uid}/devices/iphone-1", device_doc())
    firebase.functions.call(
        "registerPushToken", envelope({"deviceId": "iphone-1", "token": PUSH_TOKEN}), user=user
    ).unwrap()
    db.create(f"users/{user.uid}/blocks/evenings", block_doc("schedule"))
    db.set(f"users/{user.uid}/preferences/notifications", {"weeklyReport": False})
    # Sessions of past hours: devices create them running, so history is seeded by the server.
    history = firebase.firestore.as_owner()
    for n in range(sessions):
        history.create(
            f"users/{user.uid}/sessions/s{n}",
            session_doc(status="completed", minutes=25 + n, started_minutes_ago=60 * (n + 1)),
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
    # Seeded at once, the sessions' counts contend on the profile: one delivery takes the
    # person's counting turn and counts them all, the others wait for their queue's retry (5 s,
    # then doubling), so this can take a while on a cold emulator.
    wait_for(
        lambda: counted_sessions(firebase, user) == sessions, timeout=90, message="history counted"
    )
    wait_for(
        lambda: len(firebase.firestore.as_owner().query(f"users/{user.uid}/weeks")) >= 1,
        message="weeks",
    )


def counted_sessions(firebase: EmulatorSuite, user: User) -> int:
    docs = firebase.firestore.as_owner().query(f"users/{user.uid}/sessions")
    return sum(1 for _, d in docs if (d.get("result") or {}).get("addedToHoursSavedAt"))


def erased(firebase: EmulatorSuite, user: User) -> dict[str, Any] | None:
    """The audit record of the person's completed erasure (None while it is under way)."""
    audit = firebase.firestore.as_owner().get(f"erasureAudit/{tombstones.erasure_id(user.uid)}")
    return audit if audit is not None and audit.get("state") == "erased" else None


def documents_under(firebase: EmulatorSuite, user: User) -> list[str]:
    """Every document path under ``users/{uid}`` (the profile included), as the scan sees them."""
    return [path for path in scan([user.uid]) if path.startswith(f"users/{user.uid}")]


def refused_as_erased(answer: Any, state: str) -> bool:
    details = (answer.error or {}).get("details") or {}
    return bool(
        answer.code == "UNAUTHENTICATED"
        and details.get("reason") == "ACCOUNT_ERASED"
        and details.get("state") == state
    )


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
    assert audit["documentsDeleted"]["pushTokens"] == 1  # the device's push token too
    # The "session finished" push owed for the session that ended within the hour, and the
    # notification settings.
    assert audit["documentsDeleted"]["outbox"] >= 1
    assert audit["documentsDeleted"]["preferences"] == 1
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
    requested = erasure.request(person.uid, datetime.now(UTC), via="app", enqueue=False)
    eid = requested.erasure_id
    assert requested.started

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


def test_asking_twice_starts_one_erasure_and_says_how_far_it_is(
    firebase: EmulatorSuite, person: User
) -> None:
    first = firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()["data"]
    second = firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()["data"]

    assert (first["started"], first["state"]) == (True, "erasing")
    assert second["erasureId"] == first["erasureId"] and second["started"] is False
    assert second["state"] in ("erasing", "erased")
    audit = wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")

    # Asked again with the ID token the app still holds: the truth, and no second erasure.
    third = firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()["data"]
    assert (third["erasureId"], third["started"], third["state"]) == (
        first["erasureId"],
        False,
        "erased",
    )
    assert firebase.firestore.as_owner().get(f"erasures/{first['erasureId']}") is None
    assert erased(firebase, person) == audit
    assert scan([person.uid, "erase.me@example.com"]) == []


def test_an_erased_persons_token_gets_nothing_and_writes_nothing(
    firebase: EmulatorSuite, person: User
) -> None:
    firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()
    wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")

    # The app's ID token is valid for up to an hour more; every callable refuses it.
    calls = {
        "launch": envelope({"timezone": "Europe/Berlin"}),
        "uploadDailyReports": envelope(
            {
                "deviceId": "iphone-1",
                "reports": [
                    {
                        "day": YESTERDAY,
                        "timezone": "Europe/Berlin",
                        "screenTimeMinutes": 60,
                        "pickups": 20,
                        "focusedMinutes": 50,
                        "asOf": datetime.now(UTC).isoformat(),
                    }
                ],
            }
        ),
        "useEmergencyPass": envelope(),
        "setConsent": envelope(
            {"purpose": "analytics", "granted": True, "policyVersion": "2026-11"}
        ),
        "requestExport": envelope(),
        "getCommunityComparison": envelope({"day": YESTERDAY}),
    }
    for name, request in calls.items():
        answer = firebase.functions.call(name, request, user=person)
        assert refused_as_erased(answer, "erased"), (name, answer.code, answer.error)

    # Not even a rate-limit window or an idempotency record: nothing exists under the id.
    assert documents_under(firebase, person) == []
    assert scan([person.uid, "erase.me@example.com"]) == []


def test_while_erasing_the_account_is_disabled_and_a_lost_task_is_queued_again(
    firebase: EmulatorSuite, person: User
) -> None:
    # The erasure is recorded, but its task is lost (never enqueued).
    requested = erasure.request(person.uid, datetime.now(UTC), via="app", enqueue=False)
    assert (requested.started, requested.state) == (True, "erasing")

    account = firebase.auth.lookup(person.uid) or {}
    assert account.get("disabled") is True  # no sign-in, no token refresh
    with pytest.raises(EmulatorError):
        firebase.auth.refresh(person)
    launched = firebase.functions.call("launch", envelope(), user=person)
    assert refused_as_erased(launched, "erasing")
    status, body = firebase.functions.post("deleteAccountWeb", user=person)
    assert status == 401 and body["error"]["status"] == "UNAUTHENTICATED"

    # Asking again answers truthfully and queues the lost work; the erasure completes.
    again = firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()["data"]
    assert (again["erasureId"], again["started"], again["state"]) == (
        requested.erasure_id,
        False,
        "erasing",
    )
    wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")
    assert scan([person.uid, "erase.me@example.com"]) == []


def test_a_stalled_erasure_is_restarted_when_asked_again_and_counts_every_document_once(
    firebase: EmulatorSuite, person: User
) -> None:
    long_history(firebase, person, sessions=9)
    requested = erasure.request(person.uid, datetime.now(UTC), via="app", enqueue=False)
    firebase.functions.dispatch_task(
        "eraseAccount", {"erasureId": requested.erasure_id, "batchSize": 5, "chain": False}
    )
    # Its task then exhausted its retries: no progress for longer than the stall limit.
    firebase.firestore.as_owner().update(
        f"erasures/{requested.erasure_id}",
        {"updatedAt": datetime.now(UTC) - erasure.STALLED_AFTER - timedelta(minutes=1)},
    )

    again = firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()["data"]

    assert (again["started"], again["state"]) == (False, "erasing")
    audit = wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")
    assert audit["documentsDeleted"]["sessions"] == 9
    assert scan([person.uid, "erase.me@example.com"]) == []


def test_documents_written_with_the_old_token_after_erasure_are_swept_away(
    firebase: EmulatorSuite, person: User
) -> None:
    stranger = firebase.auth.create_user("stranger@example.com")
    firebase.functions.call("launch", envelope(), user=stranger).unwrap()
    firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()
    wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")
    eid = tombstones.erasure_id(person.uid)

    # A device still holding the token writes straight to Firestore (the rules cannot see the
    # erasure), and a launch that passed its check just before the erasure began re-created the
    # profile.
    firebase.firestore.as_user(person).create(f"users/{person.uid}/devices/ipad-2", device_doc())
    firebase.firestore.as_owner().set(f"users/{person.uid}", {"displayName": "back again"})
    # (No count here: the Tasks emulator runs the erasure's own sweep at once instead of an hour
    # later, so it may already be removing these.)

    # The sweep cannot be pointed at anyone who was not erased ...
    firebase.functions.dispatch_task(
        "eraseAccount", {"erasureId": eid, "sweepUserId": stranger.uid}
    )
    assert firebase.firestore.as_owner().get(f"users/{stranger.uid}") is not None
    # ... and, an hour later (every token issued before the erasure has expired), it removes
    # what was written meanwhile and accounts for it.
    firebase.functions.dispatch_task("eraseAccount", {"erasureId": eid, "sweepUserId": person.uid})

    assert documents_under(firebase, person) == []
    assert scan([person.uid, "erase.me@example.com"]) == []
    audit = erased(firebase, person) or {}
    assert audit["documentsDeletedAfterErasure"] == {"devices": 1, "users": 1}


def test_the_web_path_answers_401_while_erasing_and_404_once_erased(
    firebase: EmulatorSuite, person: User
) -> None:
    assert firebase.functions.post("deleteAccountWeb", user=person)[0] == 200

    status, body = firebase.functions.post("deleteAccountWeb", user=person)
    assert status in (401, 404) and body["error"]["status"] in ("UNAUTHENTICATED", "NOT_FOUND")
    wait_for(lambda: erased(firebase, person), timeout=40, message="erasure finished")

    status, body = firebase.functions.post("deleteAccountWeb", user=person)
    assert (status, body["error"]["status"]) == (404, "NOT_FOUND")


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
    firebase.firestore.as_owner().create(  # history of a stranger
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

    first = wait_for(ready, timeout=30, interval=1.5, message="export ready")  # as the app polls
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
    # The push token is the person's own data, and the export reaches only them: exported as is.
    (token,) = bundle["data"]["users/{uid}/pushTokens/{deviceId}"]
    assert (token["path"], token["token"]) == ("pushTokens/iphone-1", PUSH_TOKEN)
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

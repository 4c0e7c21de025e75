"""The emergency pass: once per rolling week, server-enforced, the only early way out of hardcore."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from conftest import block_doc, envelope, make_pro, session_doc

from firebase_emulator_harness import EmulatorSuite, User, assert_denied


def test_a_hardcore_session_cannot_be_ended_early_by_the_device(
    firebase: EmulatorSuite, user: User
) -> None:
    make_pro(firebase, user)
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/sessions/deep-work"
    doc = session_doc(status="active", strictness="hardcore", minutes=60)
    db.create(path, doc)
    now = datetime.now(UTC)

    assert_denied(
        lambda: db.update(path, {"status": "cancelled", "endedAt": now, "endReason": "cancelled"})
    )
    assert_denied(
        lambda: db.update(path, {"status": "completed", "endedAt": now, "endReason": "completed"})
    )
    assert_denied(lambda: db.update(path, {"plannedEnd": now + timedelta(minutes=1)}))
    assert_denied(lambda: db.update(path, {"breaks": [{"start": now}]}))
    assert_denied(
        lambda: db.update(
            path, {"status": "completed", "endedAt": doc["plannedEnd"], "endReason": "completed"}
        )
    )  # not yet: its planned end is an hour away
    db.update(path, {"plannedEnd": doc["plannedEnd"] + timedelta(minutes=15)})  # longer is fine


def test_the_pass_ends_every_active_session_and_suspends_limits_and_locks(
    firebase: EmulatorSuite, user: User
) -> None:
    make_pro(firebase, user)
    db = firebase.firestore.as_user(user)
    db.create(f"users/{user.uid}/sessions/hard", session_doc(strictness="hardcore", minutes=120))
    db.create(f"users/{user.uid}/sessions/easy", session_doc(minutes=90))
    firebase.firestore.as_owner().create(  # history: devices create sessions running
        f"users/{user.uid}/sessions/done", session_doc(status="completed")
    )
    db.create(f"users/{user.uid}/blocks/limit", block_doc("timeLimit"))
    db.create(f"users/{user.uid}/blocks/lock", block_doc("appLock"))
    db.create(f"users/{user.uid}/blocks/workdays", block_doc("schedule"))

    answer = firebase.functions.call("useEmergencyPass", envelope(), user=user).unwrap()["data"]

    assert sorted(answer["sessionsEnded"]) == ["easy", "hard"]
    assert sorted(answer["blocksSuspended"]) == ["limit", "lock"]
    owner = firebase.firestore.as_owner()
    hard = owner.get(f"users/{user.uid}/sessions/hard") or {}
    assert (hard["status"], hard["endReason"]) == ("cancelled", "emergency")
    assert (owner.get(f"users/{user.uid}/sessions/done") or {})["status"] == "completed"
    assert "suspendedUntil" in (owner.get(f"users/{user.uid}/blocks/limit") or {})
    assert "suspendedUntil" not in (owner.get(f"users/{user.uid}/blocks/workdays") or {})
    launch = firebase.functions.call("launch", envelope(), user=user).unwrap()["data"]
    assert launch["emergencyPass"]["available"] is False
    assert launch["activeSessions"] == []


def test_the_pass_works_once_per_rolling_week(firebase: EmulatorSuite, user: User) -> None:
    first = firebase.functions.call("useEmergencyPass", envelope(), user=user)
    second = firebase.functions.call("useEmergencyPass", envelope(), user=user)

    assert first.ok
    assert second.code == "FAILED_PRECONDITION"
    assert second.error is not None
    assert second.error["details"]["reason"] == "EMERGENCY_PASS_USED"
    next_at = datetime.fromisoformat(second.error["details"]["nextAvailableAt"])
    assert timedelta(days=6, hours=23) < next_at - datetime.now(UTC) <= timedelta(days=7)


def test_a_new_device_or_reinstall_does_not_bring_the_pass_back(firebase: EmulatorSuite) -> None:
    person = firebase.auth.create_user("kai@example.com")
    firebase.functions.call("launch", envelope(), user=person).unwrap()
    firebase.functions.call("useEmergencyPass", envelope(), user=person).unwrap()

    # The same account signs in again on a new phone: a fresh token, the same uid.
    firebase.auth.refresh(person)
    again = firebase.functions.call(
        "useEmergencyPass",
        envelope(client={"platform": "android", "appVersion": "3.4.0", "build": 9}),
        user=person,
    )

    assert again.code == "FAILED_PRECONDITION"


def test_four_devices_using_the_pass_at_the_same_moment_exactly_one_succeeds(
    firebase: EmulatorSuite, user: User
) -> None:
    """The others wait for its transaction (they take the person's pass turn in order, instead of
    aborting one another) and are told the pass is used; the turn is given back."""
    firebase.firestore.as_user(user).create(f"users/{user.uid}/sessions/s", session_doc())

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(
                lambda _: firebase.functions.call("useEmergencyPass", envelope(), user=user),
                range(4),
            )
        )

    assert sorted(a.code for a in answers) == ["FAILED_PRECONDITION"] * 3 + ["OK"]
    refused = [a.error for a in answers if not a.ok]
    assert all((e or {}).get("details", {}).get("reason") == "EMERGENCY_PASS_USED" for e in refused)
    profile = firebase.firestore.as_owner().get(f"users/{user.uid}") or {}
    assert profile["emergencyPass"]["timesUsed"] == 1
    assert firebase.firestore.as_owner().get(f"users/{user.uid}/turns/emergencyPass") is None


def test_a_pass_turn_left_by_a_crashed_call_does_not_keep_the_person_from_the_pass(
    firebase: EmulatorSuite, user: User
) -> None:
    """A call that died holding the turn (its minute long over) is taken over by the next."""
    left = datetime(2020, 1, 1, tzinfo=UTC)  # long past, whatever the clock says
    firebase.firestore.as_owner().set(
        f"users/{user.uid}/turns/emergencyPass", {"until": left, "expireAt": left}
    )

    assert firebase.functions.call("useEmergencyPass", envelope(), user=user).ok


def test_the_pass_needs_a_signed_in_person_with_a_profile(firebase: EmulatorSuite) -> None:
    assert firebase.functions.call("useEmergencyPass", envelope()).code == "UNAUTHENTICATED"
    newcomer = firebase.auth.sign_up_anonymously()
    assert (
        firebase.functions.call("useEmergencyPass", envelope(), user=newcomer).code
        == "FAILED_PRECONDITION"
    )
    assert (
        firebase.functions.call("useEmergencyPass", envelope({"now": "please"}), user=newcomer).code
        == "INVALID_ARGUMENT"
    )


def test_the_pass_suspends_every_limit_and_lock_even_beyond_one_transactions_writes(
    firebase: EmulatorSuite, user: User
) -> None:
    """An account that piled up blocks before the cap (100) existed: 161 limits and locks, one of
    them malformed, and active sessions. The pass suspends 150 in its own transaction (with the
    profile and up to 50 sessions: well under the 500 writes a transaction holds) and the rest in
    further transactions of 150."""
    owner = firebase.firestore.as_owner()
    base = f"users/{user.uid}"
    with firebase.functions.background_triggers_disabled():  # arranging, and 161 sync markers
        for n in range(160):
            owner.set(f"{base}/blocks/b{n:03d}", block_doc("timeLimit" if n % 2 else "appLock"))
        owner.set(f"{base}/blocks/broken", block_doc("appLock") | {"appLock": "???"})
        owner.set(f"{base}/blocks/workdays", block_doc("schedule"))
        for n in range(3):
            owner.set(f"{base}/sessions/s{n}", session_doc())

        answer = firebase.functions.call("useEmergencyPass", envelope(), user=user)

        assert answer.ok, answer.error
        data = answer.unwrap()["data"]
        assert len(data["blocksSuspended"]) == len(set(data["blocksSuspended"])) == 161
        assert "broken" in data["blocksSuspended"]
        assert sorted(data["sessionsEnded"]) == ["s0", "s1", "s2"]
        until = datetime.fromisoformat(data["suspendedUntil"].replace("Z", "+00:00"))
        stored = {path.rsplit("/", 1)[1]: doc for path, doc in owner.query(f"{base}/blocks")}
        assert {bid for bid, doc in stored.items() if doc.get("suspendedUntil") == until} == (
            set(stored) - {"workdays"}
        )

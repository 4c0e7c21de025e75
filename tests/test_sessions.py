"""A focus session's life on the server: counted once when it completes, completed on time even
when no device says so, and feeding the global hours-saved counter (trigger -> count task -> Pub/Sub
worker -> scheduled roll-up), whatever the order or number of deliveries. Concurrency, early
tasks and redelivered events: tests/test_no_lost_session.py.

Devices can only start a session now (tests/test_session_integrity.py): sessions of the past are
seeded with the Admin SDK, as the history a device left behind."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import envelope, session_doc

from firebase_emulator_harness import EmulatorSuite, User, wait_for
from focus.domain import hours_saved


def counted(
    firebase: EmulatorSuite, path: str, *, hours_saved: bool = False
) -> dict[str, Any] | None:
    session = firebase.firestore.as_owner().get(path)
    result = (session or {}).get("result")
    if result is None or (hours_saved and "addedToHoursSavedAt" not in result):
        return None
    return session


def shard_minutes(firebase: EmulatorSuite, user: User, session_id: str) -> int:
    """The minutes on the shard this session's contribution lands on (other tests' late
    contributions may land on other shards)."""
    shard = hours_saved.shard_for(f"{user.uid}/{session_id}")
    return int(
        (firebase.firestore.as_owner().get(f"hoursSavedShards/{shard}") or {}).get("minutes", 0)
    )


def stats(firebase: EmulatorSuite, user: User) -> dict[str, int]:
    """The person's session counters."""
    profile = firebase.firestore.as_owner().get(f"users/{user.uid}")
    assert profile is not None
    return {k: profile["stats"][k] for k in ("completedSessions", "focusedMinutes")}


def test_a_completed_session_counts_its_focused_minutes_once(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/morning"

    firebase.firestore.as_owner().create(
        path, session_doc(status="completed", started_minutes_ago=50, minutes=45)
    )

    session = wait_for(lambda: counted(firebase, path, hours_saved=True), message="session counted")
    assert session["result"]["focusedMinutes"] == 45
    assert stats(firebase, user) == {"completedSessions": 1, "focusedMinutes": 45}


def test_breaks_do_not_count_as_focused_time(firebase: EmulatorSuite, user: User) -> None:
    path = f"users/{user.uid}/sessions/with-break"
    doc = session_doc(status="completed", started_minutes_ago=61, minutes=60)
    pause = {"start": doc["plannedStart"] + timedelta(minutes=20)}
    pause["end"] = pause["start"] + timedelta(minutes=10)

    firebase.firestore.as_owner().create(path, doc | {"breaks": [pause]})

    session = wait_for(lambda: counted(firebase, path), message="session counted")
    assert session["result"]["focusedMinutes"] == 50


def test_a_cancelled_session_counts_nothing(firebase: EmulatorSuite, user: User) -> None:
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/sessions/given-up"
    db.create(path, session_doc(status="active", minutes=60))

    db.update(path, {"status": "cancelled", "endedAt": datetime.now(UTC), "endReason": "cancelled"})
    time.sleep(1.0)  # the trigger runs and finds nothing to count

    assert counted(firebase, path) is None
    assert stats(firebase, user) == {"completedSessions": 0, "focusedMinutes": 0}


def test_redelivered_trigger_events_do_not_count_a_session_twice(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/twice"
    firebase.firestore.as_owner().create(
        path, session_doc(status="completed", minutes=30, started_minutes_ago=40)
    )
    wait_for(lambda: counted(firebase, path, hours_saved=True), message="session counted")

    # Every further write fires the trigger again, as a redelivery would.
    for n in range(3):
        firebase.firestore.as_owner().update(path, {"syncedAt": datetime.now(UTC), "touch": n})
    wait_for(
        lambda: (firebase.firestore.as_owner().get(path) or {}).get("touch") == 2,
        message="writes applied",
    )
    time.sleep(1.5)  # let the three trigger runs finish

    assert stats(firebase, user) == {"completedSessions": 1, "focusedMinutes": 30}
    assert shard_minutes(firebase, user, "twice") == 30


def test_the_server_completes_a_session_at_its_planned_end_when_no_device_does(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/forgotten"

    firebase.firestore.as_owner().create(
        path, session_doc(status="active", started_minutes_ago=25, minutes=25)
    )

    session = wait_for(lambda: counted(firebase, path), timeout=30, message="server completion")
    assert session["status"] == "completed"
    assert session["endReason"] == "completed"
    assert session["result"]["focusedMinutes"] == 25


def test_a_session_still_running_is_not_completed_early(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/running"
    firebase.firestore.as_owner().create(
        path, session_doc(status="active", started_minutes_ago=5, minutes=60)
    )

    answer = firebase.functions.call("launch", envelope(), user=user).unwrap()

    assert [s["id"] for s in answer["data"]["activeSessions"]] == ["running"]
    assert (firebase.firestore.as_owner().get(path) or {})["status"] == "active"


def test_a_redelivered_completion_message_adds_to_hours_saved_once(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/s"
    firebase.firestore.as_owner().create(
        path, session_doc(status="completed", minutes=40, started_minutes_ago=60)
    )
    wait_for(lambda: counted(firebase, path, hours_saved=True), message="session counted")
    message = {
        "userId": user.uid,
        "sessionId": "s",
        "focusedMinutes": 40,
        "completedAt": datetime.now(UTC).isoformat(),
    }

    firebase.pubsub.publish("session-completed", message)
    firebase.pubsub.publish("session-completed", b"{not json")
    marker = firebase.pubsub.publish("session-completed", {**message, "sessionId": "unknown"})

    assert marker
    time.sleep(1.5)  # no-ops (the junk one is dead-lettered): nothing to wait for but time
    assert shard_minutes(firebase, user, "s") == 40


def test_the_scheduled_roll_up_publishes_the_community_total_to_every_launch(
    firebase: EmulatorSuite,
) -> None:
    owner = firebase.firestore.as_owner()
    for shard, minutes in {"3": 60, "17": 45, "230": 15}.items():
        owner.set(f"hoursSavedShards/{shard}", {"minutes": minutes})

    firebase.functions.run_scheduled("roll_up_hours_saved")

    summary = owner.get("aggregates/hoursSaved")
    assert summary is not None
    assert (summary["totalMinutes"], summary["shardsRead"]) == (120, 3)
    someone = firebase.auth.sign_up_anonymously()
    assert (
        firebase.functions.call("launch", envelope(), user=someone).unwrap()["data"][
            "communityHoursSaved"
        ]
        == 2.0
    )


def test_with_background_triggers_disabled_nothing_is_counted(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/quiet"

    with firebase.functions.background_triggers_disabled():
        firebase.firestore.as_owner().create(path, session_doc(status="completed"))
        time.sleep(1.0)

    assert counted(firebase, path) is None
    assert stats(firebase, user) == {"completedSessions": 0, "focusedMinutes": 0}


def test_a_session_whose_trigger_never_ran_is_counted_at_its_planned_end(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/missed"
    with firebase.functions.background_triggers_disabled():  # as if the trigger run had failed
        firebase.firestore.as_owner().create(path, session_doc(status="completed", minutes=35))

    firebase.functions.dispatch_task(
        "completeSessionAtPlannedEnd", {"userId": user.uid, "sessionId": "missed"}
    )

    session = wait_for(
        lambda: counted(firebase, path, hours_saved=True), message="counted by the task"
    )
    assert session["result"]["focusedMinutes"] == 35
    assert stats(firebase, user) == {"completedSessions": 1, "focusedMinutes": 35}
    assert shard_minutes(firebase, user, "missed") == 35


def test_the_sweep_counts_sessions_whose_trigger_never_ran(
    firebase: EmulatorSuite, user: User
) -> None:
    missed = f"users/{user.uid}/sessions/offline"
    fine = f"users/{user.uid}/sessions/fine"
    firebase.firestore.as_owner().create(fine, session_doc(status="completed", minutes=10))
    wait_for(lambda: counted(firebase, fine, hours_saved=True), message="normal count")
    with firebase.functions.background_triggers_disabled():  # as if the trigger run had failed
        # Written by a device that was offline: already completed, ended 20 minutes ago.
        firebase.firestore.as_owner().create(
            missed, session_doc(status="completed", minutes=40, started_minutes_ago=60)
        )

    firebase.functions.run_scheduled("sweep_uncounted_sessions")

    session = wait_for(lambda: counted(firebase, missed, hours_saved=True), message="swept")
    assert session["result"]["focusedMinutes"] == 40
    assert stats(firebase, user) == {"completedSessions": 2, "focusedMinutes": 50}

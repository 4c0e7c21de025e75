"""No completed session is lost: its count never rides only on an unretried delivery.

Firestore triggers are never retried (the Python SDK deploys them with retry off), so
``on_session_written`` only hands a completed session to ``countCompletedSession``, a task the
queue retries; contention on the person's profile then delays a count instead of losing it. A
planned-end task that arrives early waits instead of doing nothing, and the sweep completes active
sessions whose planned end passed. The emulators never retry a failed Pub/Sub delivery: the
harness delivers the same event again to show what a retry does.

Sessions are written by the person's device under the rules (started now, completed at their
planned end), as the app does; times are relative to now, never to the date or time of day.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import session_doc
from emulator_log import wait_for_lines
from test_sessions import counted, shard_minutes, stats

from firebase_emulator_harness import EmulatorSuite, User, wait_for
from focus.adapters.logs import pseudonymous_user_id
from focus.domain import hours_saved

TOPIC = "session-completed"


def now() -> datetime:
    return datetime.now(UTC)


def test_ten_sessions_of_one_person_completed_at_once_are_each_counted_once(
    firebase: EmulatorSuite, user: User
) -> None:
    db, base = firebase.firestore.as_user(user), f"users/{user.uid}/sessions"
    # All end together, 40 s from now (a device may complete a session from a minute before its
    # planned end); two start at each of the five whole minutes before that. Overlapping focus
    # counts once, so together they count exactly the five minutes that passed.
    end = now() + timedelta(seconds=40)
    ids = [f"s{n}" for n in range(10)]
    starts = {sid: end - timedelta(minutes=n % 5 + 1) for n, sid in enumerate(ids)}
    for sid in ids:
        db.create(f"{base}/{sid}", session_doc() | {"plannedStart": starts[sid], "plannedEnd": end})

    def complete(sid: str) -> None:
        db.update(
            f"{base}/{sid}", {"status": "completed", "endedAt": end, "endReason": "completed"}
        )

    with ThreadPoolExecutor(max_workers=10) as pool:  # at once, as ten devices would
        list(pool.map(complete, ids))

    def all_counted() -> list[dict[str, Any]] | None:
        found = [counted(firebase, f"{base}/{sid}", hours_saved=True) for sid in ids]
        return [f for f in found if f] if all(found) else None

    sessions = wait_for(
        all_counted, timeout=120, message="all ten counted and added to hours saved"
    )
    minutes = {sid: s["result"]["focusedMinutes"] for sid, s in zip(ids, sessions, strict=True)}
    assert sum(minutes.values()) == 5
    assert stats(firebase, user) == {"completedSessions": 10, "focusedMinutes": 5}
    # Their planned-end tasks (early at first, so retried) run after the end and change nothing.
    time.sleep(max(0.0, (end - now()).total_seconds()) + 12)
    assert stats(firebase, user) == {"completedSessions": 10, "focusedMinutes": 5}
    for sid in ids:
        assert (firebase.firestore.as_owner().get(f"{base}/{sid}") or {})["result"][
            "focusedMinutes"
        ] == minutes[sid]
    expected: dict[int, int] = {}  # each session's minutes on its hours-saved shard, once
    for sid in ids:
        shard = hours_saved.shard_for(f"{user.uid}/{sid}")
        expected[shard] = expected.get(shard, 0) + minutes[sid]
    owner = firebase.firestore.as_owner()
    on_shards = {s: (owner.get(f"hoursSavedShards/{s}") or {}).get("minutes", 0) for s in expected}
    assert on_shards == expected


def test_an_early_planned_end_task_completes_its_session_after_the_planned_end(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/early"
    start = now() - timedelta(minutes=2)
    planned_end = now() + timedelta(seconds=20)

    # The trigger enqueues the planned-end task; the Tasks emulator dispatches it at once.
    firebase.firestore.as_user(user).create(
        path, session_doc() | {"plannedStart": start, "plannedEnd": planned_end}
    )

    (early,) = wait_for_lines(
        lambda line: (
            line.get("message") == "task early: retrying"
            and line.get("user") == pseudonymous_user_id(user.uid)
        ),
        message="the task arrived early and waits",
    )
    assert 0 < early["earlySeconds"] <= 20
    assert (firebase.firestore.as_owner().get(path) or {})["status"] == "active"
    session = wait_for(
        lambda: counted(firebase, path, hours_saved=True),
        timeout=90,
        message="the retried task completes the session once its planned end passed",
    )
    assert (session["status"], session["endReason"]) == ("completed", "completed")
    assert session["endedAt"] == planned_end
    assert session["result"]["countedAt"] >= planned_end
    assert stats(firebase, user) == {"completedSessions": 1, "focusedMinutes": 2}


def test_the_sweep_completes_an_active_session_whose_planned_end_passed(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/stuck"
    with firebase.functions.background_triggers_disabled():  # its planned-end task never ran
        firebase.firestore.as_owner().create(
            path, session_doc(status="active", started_minutes_ago=60, minutes=30)
        )

    firebase.functions.run_scheduled("sweep_uncounted_sessions")

    session = wait_for(lambda: counted(firebase, path, hours_saved=True), message="swept")
    assert (session["status"], session["endReason"]) == ("completed", "completed")
    assert session["endedAt"] == session["plannedEnd"]
    assert stats(firebase, user) == {"completedSessions": 1, "focusedMinutes": 30}


def counted_but_unreadable(firebase: EmulatorSuite, user: User, minutes: int) -> str:
    """A session counted for its owner whose stored document the worker cannot read (a break
    that is not a time): adding it to hours saved fails until someone repairs it."""
    path = f"users/{user.uid}/sessions/flaky"
    doc = session_doc(status="completed", minutes=minutes, started_minutes_ago=minutes + 5)
    doc["result"] = {"focusedMinutes": minutes, "countedAt": now()}
    firebase.firestore.as_owner().set(path, doc | {"breaks": [{"start": "soon"}]})
    return path


def test_a_worker_failing_once_then_succeeding_counts_the_message_once(
    firebase: EmulatorSuite, user: User
) -> None:
    path = counted_but_unreadable(firebase, user, minutes=25)
    event = firebase.pubsub.message_event(
        TOPIC,
        {
            "schemaVersion": 2,
            "userId": user.uid,
            "sessionId": "flaky",
            "focusedMinutes": 25,
            "completedAt": now().isoformat(),
        },
    )

    first = firebase.functions.deliver_event("on_session_completed", event)
    assert first >= 500  # failed: Pub/Sub would redeliver it (the emulator never does)
    assert shard_minutes(firebase, user, "flaky") == 0

    firebase.firestore.as_owner().update(path, {"breaks": []})  # the cause goes away
    second = firebase.functions.deliver_event("on_session_completed", event)
    third = firebase.functions.deliver_event("on_session_completed", event)  # a duplicate

    assert (second, third) == (200, 200)
    assert counted(firebase, path, hours_saved=True)
    assert shard_minutes(firebase, user, "flaky") == 25


def test_the_previous_event_version_is_still_applied_during_a_deploy(
    firebase: EmulatorSuite, user: User
) -> None:
    path = f"users/{user.uid}/sessions/v1"
    doc = session_doc(status="completed", minutes=15, started_minutes_ago=20)
    doc["result"] = {"focusedMinutes": 15, "countedAt": now()}
    firebase.firestore.as_owner().set(path, doc)
    # As a publisher not yet deployed sends it: version 1 carried no schemaVersion.
    version_1: dict[str, Any] = {
        "userId": user.uid,
        "sessionId": "v1",
        "focusedMinutes": 15,
        "completedAt": now().isoformat(),
    }

    status = firebase.functions.deliver_event(
        "on_session_completed", firebase.pubsub.message_event(TOPIC, version_1)
    )

    assert status == 200
    assert counted(firebase, path, hours_saved=True)
    assert shard_minutes(firebase, user, "v1") == 15

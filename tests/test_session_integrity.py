"""A modified app cannot fake a session's time: the server's clock decides what counts.

A device may only start a session now, end it now (completing needs its planned end to have
passed), and start or end a break now; "now" is the server's request time within five minutes.
Counted minutes come from those times, and time counted for one session is never counted again for
another, so overlapping sessions add no more than the time that passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import make_pro, session_doc
from test_rules_matrix import each_denied
from test_sessions import counted, stats

from firebase_emulator_harness import EmulatorSuite, User, assert_allowed, assert_denied
from firebase_emulator_harness.waiting import wait_for


def now() -> datetime:
    return datetime.now(UTC)


def test_a_device_starts_sessions_now_never_in_the_past_or_future(
    firebase: EmulatorSuite, user: User
) -> None:
    db, base = firebase.firestore.as_user(user), f"users/{user.uid}/sessions"

    each_denied(
        {
            "already completed": lambda: db.create(f"{base}/a", session_doc(status="completed")),
            "already cancelled": lambda: db.create(f"{base}/b", session_doc(status="cancelled")),
            "started an hour ago": lambda: db.create(
                f"{base}/c", session_doc(started_minutes_ago=60)
            ),
            "started years ago": lambda: db.create(
                f"{base}/d", session_doc(started_minutes_ago=3 * 365 * 24 * 60, minutes=60)
            ),
            "starting in an hour": lambda: db.create(
                f"{base}/e", session_doc(started_minutes_ago=-60)
            ),
            "with breaks taken": lambda: db.create(
                f"{base}/f", session_doc(breaks=[{"start": now()}])
            ),
        }
    )
    assert_allowed(lambda: db.create(f"{base}/now", session_doc(started_minutes_ago=0)))
    assert_allowed(lambda: db.create(f"{base}/skewed", session_doc(started_minutes_ago=3)))


def test_a_device_ends_a_session_now_and_completes_it_only_after_its_planned_end(
    firebase: EmulatorSuite, user: User
) -> None:
    db, path = firebase.firestore.as_user(user), f"users/{user.uid}/sessions/s"
    doc = session_doc(minutes=60)
    db.create(path, doc)

    def end(status: str, ended_at: Any) -> Any:
        return lambda: db.update(path, {"status": status, "endedAt": ended_at, "endReason": status})

    each_denied(
        {
            "completed early": end("completed", doc["plannedEnd"]),
            "completed with a future end": end("completed", now() + timedelta(days=400)),
            "cancelled an hour ago": end("cancelled", now() - timedelta(hours=1)),
            "cancelled in a year": end("cancelled", now() + timedelta(days=365)),
            "cancelled at no time": end("cancelled", "now"),
        }
    )
    assert_allowed(end("cancelled", now()))


def test_a_device_completes_a_session_now_once_its_planned_end_has_passed(
    firebase: EmulatorSuite, user: User
) -> None:
    db, path = firebase.firestore.as_user(user), f"users/{user.uid}/sessions/short"
    start = now() - timedelta(minutes=4)  # within the skew: a three-minute session
    doc = session_doc(minutes=3) | {
        "plannedStart": start,
        "plannedEnd": start + timedelta(minutes=3),
    }

    def complete(ended_at: datetime) -> Any:
        return lambda: db.update(
            path, {"status": "completed", "endedAt": ended_at, "endReason": "completed"}
        )

    with firebase.functions.background_triggers_disabled():  # the server would complete it first
        db.create(path, doc)
        assert_denied(complete(doc["plannedEnd"] - timedelta(seconds=30)))  # ended before its end
        assert_allowed(complete(now()))


def test_breaks_are_started_and_ended_now_and_never_rewritten(
    firebase: EmulatorSuite, user: User
) -> None:
    db, path = firebase.firestore.as_user(user), f"users/{user.uid}/sessions/s"
    db.create(path, session_doc(minutes=90))
    first = {"start": now()}

    each_denied(
        {
            "two at once": lambda: db.update(path, {"breaks": [first, {"start": now()}]}),
            "back-dated": lambda: db.update(
                path, {"breaks": [{"start": now() - timedelta(hours=1)}]}
            ),
            "already ended": lambda: db.update(path, {"breaks": [first | {"end": now()}]}),
            "junk item": lambda: db.update(path, {"breaks": ["coffee"]}),
            "extra field": lambda: db.update(path, {"breaks": [first | {"minutes": 600}]}),
        }
    )
    assert_allowed(lambda: db.update(path, {"breaks": [first]}))
    ended = first | {"end": now()}
    each_denied(
        {
            "end back-dated": lambda: db.update(
                path, {"breaks": [first | {"end": now() - timedelta(hours=1)}]}
            ),
            "start moved": lambda: db.update(
                path, {"breaks": [{"start": now() - timedelta(minutes=2), "end": now()}]}
            ),
            "end not a time": lambda: db.update(path, {"breaks": [first | {"end": "soon"}]}),
            "replaced by junk": lambda: db.update(path, {"breaks": [42]}),
            "ended with a second started": lambda: db.update(
                path, {"breaks": [ended, {"start": now()}, {"start": now()}]}
            ),
        }
    )
    assert_allowed(lambda: db.update(path, {"breaks": [ended]}))
    second = {"start": now()}
    each_denied(
        {
            "first ended twice": lambda: db.update(path, {"breaks": [first | {"end": now()}]}),
            "first rewritten while starting another": lambda: db.update(
                path, {"breaks": [first | {"end": now() + timedelta(minutes=1)}, second]}
            ),
        }
    )
    assert_allowed(lambda: db.update(path, {"breaks": [ended, second]}))
    each_denied(
        {
            "first rewritten while ending the second": lambda: db.update(
                path,
                {
                    "breaks": [
                        first | {"end": now() + timedelta(minutes=1)},
                        second | {"end": now()},
                    ]
                },
            ),
        }
    )
    assert_allowed(lambda: db.update(path, {"breaks": [ended, second | {"end": now()}]}))


def test_a_hardcore_session_still_starts_now(firebase: EmulatorSuite, user: User) -> None:
    make_pro(firebase, user)
    db, base = firebase.firestore.as_user(user), f"users/{user.uid}/sessions"

    assert_denied(
        lambda: db.create(f"{base}/h1", session_doc(strictness="hardcore", started_minutes_ago=90))
    )
    assert_allowed(lambda: db.create(f"{base}/h2", session_doc(strictness="hardcore")))


def test_overlapping_sessions_count_the_time_that_passed_once(
    firebase: EmulatorSuite, user: User
) -> None:
    # Three sessions over the same past hours (a device ran them side by side): 90 minutes passed.
    history = firebase.firestore.as_owner()
    base, end = f"users/{user.uid}/sessions", now() - timedelta(minutes=5)

    def ran(minutes: int) -> dict[str, Any]:
        start = end - timedelta(minutes=minutes)
        done = {"plannedStart": start, "plannedEnd": end, "endedAt": end}
        return session_doc(status="completed", minutes=minutes) | done

    history.create(f"{base}/a", ran(60))
    wait_for(lambda: counted(firebase, f"{base}/a", hours_saved=True), message="first counted")
    history.create(f"{base}/b", ran(60))
    history.create(f"{base}/c", ran(90))

    b = wait_for(lambda: counted(firebase, f"{base}/b", hours_saved=True), message="b counted")
    c = wait_for(lambda: counted(firebase, f"{base}/c", hours_saved=True), message="c counted")

    assert b["result"]["focusedMinutes"] == 0  # the same hour as a
    assert c["result"]["focusedMinutes"] == 30  # only its first half hour was new
    assert stats(firebase, user) == {"completedSessions": 3, "focusedMinutes": 90}

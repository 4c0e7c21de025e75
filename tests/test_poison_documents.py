"""One malformed document never stops a job for everyone, nor the person's own app.

A modified app (or a raw REST call) can store values no model accepts: a break that is not a
time, a timezone that is not an IANA name. The owner (admin) client writes them here, as the
rules of the day might have let through. Jobs skip such a document as a logged, counted poison
item and carry on with everyone else; ``launch`` and the emergency pass read the person's
documents tolerantly (a bad setting falls back to its default) and answer OK.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import block_doc, envelope, make_pro, session_doc
from emulator_log import wait_for_lines

from firebase_emulator_harness import EmulatorSuite, User, wait_for
from focus.adapters.logs import pseudonymous_user_id

NOT_A_TIMEZONE = "Mars/Olympus_Mons"


def counted(firebase: EmulatorSuite, path: str) -> dict[str, Any] | None:
    session = firebase.firestore.as_owner().get(path) or {}
    result = session.get("result") or {}
    return session if result.get("addedToHoursSavedAt") else None


def launched(firebase: EmulatorSuite, user: User) -> User:
    firebase.functions.call("launch", envelope({"timezone": "Europe/Berlin"}), user=user).unwrap()
    return user


@pytest.fixture
def people(firebase: EmulatorSuite) -> list[User]:
    return [launched(firebase, firebase.auth.sign_up_anonymously()) for _ in range(3)]


def with_a_bad_timezone(firebase: EmulatorSuite, user: User) -> None:
    firebase.firestore.as_owner().update(f"users/{user.uid}", {"settings.timezone": NOT_A_TIMEZONE})


def test_the_sweep_skips_a_poison_session_and_counts_everyone_elses(
    firebase: EmulatorSuite, people: list[User]
) -> None:
    poisoner, odd_profile, ordinary = people
    with_a_bad_timezone(firebase, odd_profile)
    owner = firebase.firestore.as_owner()
    ended_long_ago = session_doc(status="completed", minutes=40, started_minutes_ago=75)
    junk_break = ended_long_ago | {"breaks": [{"start": "junk"}, 7]}
    planted = session_doc(status="completed", minutes=30, started_minutes_ago=60) | {
        "endedAt": datetime.now(UTC) + timedelta(days=3650)
    }
    with firebase.functions.background_triggers_disabled():  # as if every trigger run had failed
        # Ordered by endedAt, the poison comes first: it used to fail the run before the others.
        owner.set(f"users/{poisoner.uid}/sessions/poison", junk_break)
        owner.set(f"users/{poisoner.uid}/sessions/planted", planted)
        for person in (odd_profile, ordinary):
            owner.set(
                f"users/{person.uid}/sessions/offline",
                session_doc(status="completed", minutes=40, started_minutes_ago=60),
            )

    firebase.functions.run_scheduled("sweep_uncounted_sessions")

    for person in (odd_profile, ordinary):
        session = wait_for(
            lambda p=person: counted(firebase, f"users/{p.uid}/sessions/offline"),
            message="swept despite the poison",
        )
        assert session["result"]["focusedMinutes"] == 40
        stats = (owner.get(f"users/{person.uid}") or {})["stats"]
        assert (stats["completedSessions"], stats["focusedMinutes"]) == (1, 40)
    assert "result" not in (owner.get(f"users/{poisoner.uid}/sessions/poison") or {})
    assert "result" not in (owner.get(f"users/{poisoner.uid}/sessions/planted") or {})
    (skipped,) = wait_for_lines(
        lambda line: (
            line.get("message") == "poison item skipped"
            and line.get("owner") == pseudonymous_user_id(poisoner.uid)
        ),
        message="the poison item is logged",
    )
    assert (skipped["job"], skipped["item"], skipped["severity"]) == (
        "sweep_uncounted_sessions",
        "poison",
        "ERROR",
    )
    assert {f["path"] for f in skipped["fields"]} == {"breaks.0.start", "breaks.1"}
    assert poisoner.uid not in str(skipped)  # pseudonymous, like every log line
    (summary,) = wait_for_lines(
        lambda line: line.get("message") == "uncounted sessions swept" and line.get("poison"),
        message="the run's summary",
    )
    assert (summary["repaired"], summary["poison"], summary["failed"]) == (2, 1, 0)


def test_the_planned_end_task_drops_a_poison_session_instead_of_retrying_it(
    firebase: EmulatorSuite, user: User
) -> None:
    with firebase.functions.background_triggers_disabled():
        firebase.firestore.as_owner().set(
            f"users/{user.uid}/sessions/junk",
            session_doc(status="completed", minutes=20) | {"breaks": "not a list"},
        )

    status = firebase.functions.dispatch_task(
        "completeSessionAtPlannedEnd", {"userId": user.uid, "sessionId": "junk"}
    )

    assert status < 300  # done with it: Cloud Tasks does not redeliver it five times
    wait_for_lines(
        lambda line: (
            line.get("message") == "poison item skipped"
            and line.get("job") == "completeSessionAtPlannedEnd"
            and line.get("item") == "junk"
        ),
        message="the poison item is logged",
    )


def test_launch_answers_for_a_person_whose_stored_timezone_is_not_an_iana_name(
    firebase: EmulatorSuite, user: User
) -> None:
    launched(firebase, user)
    with_a_bad_timezone(firebase, user)
    firebase.firestore.as_owner().set(
        f"users/{user.uid}/sessions/running",
        session_doc(status="active", minutes=60) | {"breaks": [{"start": "soon"}]},
    )

    answer = firebase.functions.call("launch", envelope(), user=user)

    assert answer.ok, answer.error
    data = answer.unwrap()["data"]
    assert data["profile"]["settings"]["timezone"] == "UTC"  # the default, until the app fixes it
    assert [s["id"] for s in data["activeSessions"]] == ["running"]
    wait_for_lines(
        lambda line: (
            line.get("message") == "malformed document read tolerantly"
            and line.get("kind") == "profile"
            and line.get("owner") == pseudonymous_user_id(user.uid)
        ),
        message="the tolerant read is logged",
    )


def test_the_emergency_pass_works_despite_malformed_profile_sessions_and_blocks(
    firebase: EmulatorSuite, user: User
) -> None:
    launched(firebase, user)
    make_pro(firebase, user)
    with_a_bad_timezone(firebase, user)
    owner = firebase.firestore.as_owner()
    owner.set(
        f"users/{user.uid}/sessions/hard",
        session_doc(strictness="hardcore", minutes=120) | {"breaks": [{"start": 12}]},
    )
    owner.set(f"users/{user.uid}/sessions/bare", {"status": "active"})  # no times at all
    owner.set(f"users/{user.uid}/blocks/limit", block_doc("timeLimit"))
    owner.set(f"users/{user.uid}/blocks/broken", block_doc("appLock") | {"appLock": "???"})

    answer = firebase.functions.call("useEmergencyPass", envelope(), user=user)

    assert answer.ok, answer.error
    data = answer.unwrap()["data"]
    assert sorted(data["sessionsEnded"]) == ["bare", "hard"]
    assert sorted(data["blocksSuspended"]) == ["broken", "limit"]
    # The local day ends by the default timezone (UTC) while the stored one is unusable: at the
    # day start hour (4) UTC, not Berlin's.
    until = datetime.fromisoformat(data["suspendedUntil"].replace("Z", "+00:00"))
    assert (until.hour, until.minute) == (4, 0)
    assert timedelta(0) < until - datetime.now(UTC) <= timedelta(hours=24)
    hard = owner.get(f"users/{user.uid}/sessions/hard") or {}
    assert (hard["status"], hard["endReason"]) == ("cancelled", "emergency")

"""What a client may read and write directly, enforced by firestore.rules in the emulator."""

from __future__ import annotations

from conftest import session_doc

from firebase_emulator_harness import EmulatorSuite, User, assert_allowed, assert_denied


def test_a_user_reads_their_own_profile_but_not_another_users(
    firebase: EmulatorSuite, user: User
) -> None:
    other = firebase.auth.sign_up_anonymously()

    profile = assert_allowed(lambda: firebase.firestore.as_user(user).get(f"users/{user.uid}"))
    assert profile is not None
    assert_denied(lambda: firebase.firestore.as_user(other).get(f"users/{user.uid}"))
    assert_denied(lambda: firebase.firestore.unauthenticated().get(f"users/{user.uid}"))


def test_a_user_edits_their_name_and_settings(firebase: EmulatorSuite, user: User) -> None:
    db = firebase.firestore.as_user(user)

    assert_allowed(
        lambda: db.update(
            f"users/{user.uid}", {"displayName": "Ada", "settings.dailyGoalMinutes": 90}
        )
    )

    stored = firebase.firestore.as_owner().get(f"users/{user.uid}")
    assert stored is not None
    assert stored["displayName"] == "Ada"
    assert stored["settings"]["dailyGoalMinutes"] == 90


def test_server_owned_profile_fields_cannot_be_written_by_the_client(
    firebase: EmulatorSuite, user: User
) -> None:
    db = firebase.firestore.as_user(user)

    assert_denied(lambda: db.update(f"users/{user.uid}", {"stats.focusedMinutes": 10_000}))
    assert_denied(lambda: db.update(f"users/{user.uid}", {"schemaVersion": 99}))
    # The consent's mirror: only setConsent changes it, with the consent itself.
    assert_denied(lambda: db.update(f"users/{user.uid}", {"analyticsConsent": True}))
    assert_denied(lambda: db.update(f"users/{user.uid}", {"settings.dailyGoalMinutes": 5000}))
    assert_denied(lambda: db.update(f"users/{user.uid}", {"settings.theme": "dark"}))


def test_profiles_are_created_by_the_launch_call_not_by_clients(firebase: EmulatorSuite) -> None:
    newcomer = firebase.auth.sign_up_anonymously()

    assert_denied(
        lambda: firebase.firestore.as_user(newcomer).set(
            f"users/{newcomer.uid}", {"displayName": "x"}
        )
    )


def test_a_user_writes_their_own_sessions_and_only_their_own(
    firebase: EmulatorSuite, user: User
) -> None:
    other = firebase.auth.sign_up_anonymously()

    assert_allowed(
        lambda: firebase.firestore.as_user(user).create(
            f"users/{user.uid}/sessions/s1", session_doc()
        )
    )
    assert_denied(
        lambda: firebase.firestore.as_user(other).create(
            f"users/{user.uid}/sessions/s2", session_doc()
        )
    )
    assert_denied(lambda: firebase.firestore.as_user(other).get(f"users/{user.uid}/sessions/s1"))
    assert_denied(
        lambda: firebase.firestore.unauthenticated().create(
            f"users/{user.uid}/sessions/s3", session_doc()
        )
    )


def test_a_session_cannot_claim_its_own_result_or_an_invalid_shape(
    firebase: EmulatorSuite, user: User
) -> None:
    db = firebase.firestore.as_user(user)
    base = f"users/{user.uid}/sessions"

    assert_denied(lambda: db.create(f"{base}/a", session_doc(result={"focusedMinutes": 600})))
    assert_denied(lambda: db.create(f"{base}/b", session_doc(status="paused")))
    assert_denied(lambda: db.create(f"{base}/c", session_doc(minutes=-5)))
    assert_denied(lambda: db.create(f"{base}/d", session_doc(minutes=25 * 60)))
    assert_denied(
        lambda: db.create(f"{base}/e", session_doc(status="cancelled", endReason="emergency"))
    )
    assert_denied(
        lambda: db.create(f"{base}/f", session_doc(status="completed", started_minutes_ago=30))
    )


def test_an_ended_session_is_history_and_cannot_be_changed(
    firebase: EmulatorSuite, user: User
) -> None:
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/sessions/done"
    with firebase.functions.background_triggers_disabled():
        firebase.firestore.as_owner().create(path, session_doc(status="cancelled"))

    assert_denied(lambda: db.update(path, {"status": "active"}))
    assert_denied(lambda: db.delete(path))


def test_the_community_counter_is_not_client_writable(firebase: EmulatorSuite, user: User) -> None:
    db = firebase.firestore.as_user(user)

    assert_denied(lambda: db.set("aggregates/hoursSaved", {"totalMinutes": 1}))
    assert_denied(lambda: db.set("hoursSavedShards/1", {"minutes": 1}))
    assert_denied(lambda: db.get("hoursSavedShards/1"))

"""The launch call: what the app needs on open, in one round trip, creating the profile once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from conftest import envelope, session_doc

from firebase_emulator_harness import EmulatorSuite
from focus.domain.profiles import PROFILE_SCHEMA_VERSION


def test_first_launch_of_an_anonymous_account_creates_its_profile_from_device_hints(
    firebase: EmulatorSuite,
) -> None:
    user = firebase.auth.sign_up_anonymously()

    answer = firebase.functions.call(
        "launch", envelope({"timezone": "Europe/Berlin", "locale": "de-DE"}), user=user
    ).unwrap()

    assert answer["data"]["profileCreated"] is True
    assert answer["data"]["profile"]["settings"]["timezone"] == "Europe/Berlin"
    assert answer["data"]["profile"]["settings"]["locale"] == "de-DE"
    assert answer["data"]["profile"]["settings"]["weekStartsOn"] == 1  # Monday, as in Germany
    assert answer["meta"]["apiVersion"] == "2026-11-29"
    stored = firebase.firestore.as_owner().get(f"users/{user.uid}")
    assert stored is not None
    assert stored["schemaVersion"] == PROFILE_SCHEMA_VERSION
    assert stored["stats"] == {"completedSessions": 0, "focusedMinutes": 0, "countedFocus": []}


def test_later_launches_return_the_same_profile_without_creating_it_again(
    firebase: EmulatorSuite,
) -> None:
    user = firebase.auth.create_user("grace@example.com")
    first = firebase.functions.call(
        "launch", envelope({"timezone": "Asia/Tokyo"}), user=user
    ).unwrap()

    again = firebase.functions.call(
        "launch", envelope({"timezone": "America/Lima"}), user=user
    ).unwrap()

    assert again["data"]["profileCreated"] is False
    assert again["data"]["profile"]["createdAt"] == first["data"]["profile"]["createdAt"]
    assert again["data"]["profile"]["settings"]["timezone"] == "Asia/Tokyo"


def test_two_devices_launching_at_once_create_exactly_one_profile(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(
                lambda _: firebase.functions.call("launch", envelope(), user=user).unwrap(),
                range(4),
            )
        )

    assert sum(a["data"]["profileCreated"] for a in answers) == 1
    assert len({a["data"]["profile"]["createdAt"] for a in answers}) == 1


def test_an_unusable_timezone_hint_falls_back_to_utc(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()

    answer = firebase.functions.call(
        "launch", envelope({"timezone": "Mars/Olympus"}), user=user
    ).unwrap()

    assert answer["data"]["profile"]["settings"]["timezone"] == "UTC"


def test_launch_lists_active_sessions_and_the_community_total(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()
    owner = firebase.firestore.as_owner()
    with firebase.functions.background_triggers_disabled():
        owner.set(
            f"users/{user.uid}/sessions/now",
            session_doc(status="active", started_minutes_ago=5, minutes=60),
        )
        owner.set(f"users/{user.uid}/sessions/old", session_doc(status="cancelled"))
        owner.set(
            "aggregates/hoursSaved",
            {"totalMinutes": 90, "shardsRead": 3, "updatedAt": session_doc()["plannedStart"]},
        )

    answer = firebase.functions.call("launch", envelope(), user=user).unwrap()["data"]

    assert [s["id"] for s in answer["activeSessions"]] == ["now"]
    assert answer["communityHoursSaved"] == 1.5


def test_calling_without_signing_in_is_unauthenticated_and_writes_nothing(
    firebase: EmulatorSuite,
) -> None:
    answer = firebase.functions.call("launch", envelope())

    assert answer.code == "UNAUTHENTICATED"
    assert firebase.firestore.as_owner().query("users") == []


def test_an_invalid_payload_names_each_bad_field_and_writes_nothing(
    firebase: EmulatorSuite,
) -> None:
    user = firebase.auth.sign_up_anonymously()

    answer = firebase.functions.call(
        "launch", envelope({"timezone": 7, "colour": "red"}), user=user
    )

    assert answer.code == "INVALID_ARGUMENT"
    paths = {field["path"] for field in answer.error["details"]["fields"]}
    assert paths == {"payload.timezone", "payload.colour"}
    assert firebase.firestore.as_owner().get(f"users/{user.uid}") is None


def test_an_invalid_envelope_is_rejected_with_the_field_path(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()

    answer = firebase.functions.call(
        "launch",
        envelope(client={"platform": "windows", "appVersion": "1.0", "build": 1}),
        user=user,
    )

    assert answer.code == "INVALID_ARGUMENT"
    assert [f["path"] for f in answer.error["details"]["fields"]] == ["client.platform"]
    assert firebase.firestore.as_owner().get(f"users/{user.uid}") is None


def test_a_request_that_is_not_an_object_is_invalid(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()

    answer = firebase.functions.call("launch", ["not", "an", "object"], user=user)

    assert answer.code == "INVALID_ARGUMENT"

"""What every callable does before its own work: the upgrade gate, idempotent retries, rate
limits, and a clear typed error for a malformed envelope."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import IPHONE, envelope

from firebase_emulator_harness import EmulatorSuite, User

PIXEL = {"platform": "android", "appVersion": "3.1.0", "build": 290}
YESTERDAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def upload_payload(screen: int = 80) -> dict[str, Any]:
    return {
        "deviceId": "iphone-1",
        "reports": [
            {
                "day": YESTERDAY,
                "timezone": "Europe/Berlin",
                "screenTimeMinutes": screen,
                "pickups": 12,
                "focusedMinutes": 30,
                "asOf": datetime.now(UTC).isoformat(),
            }
        ],
    }


def test_builds_below_the_minimum_must_update_and_others_are_served(
    firebase: EmulatorSuite, user: User
) -> None:
    firebase.firestore.as_owner().set(
        "config/clients",
        {"minimumBuild": {"ios": 500}, "updateUrl": {"ios": "https://apps.apple.com/app/focus"}},
    )

    old_iphone = firebase.functions.call("launch", envelope(client=IPHONE), user=user)
    android = firebase.functions.call("launch", envelope(client=PIXEL), user=user)
    anonymous_old_iphone = firebase.functions.call("launch", envelope(client=IPHONE))

    assert old_iphone.code == "FAILED_PRECONDITION"
    assert old_iphone.error["details"] == {
        "reason": "UPGRADE_REQUIRED",
        "minimumBuild": 500,
        "updateUrl": "https://apps.apple.com/app/focus",
    }
    assert android.ok
    assert anonymous_old_iphone.code == "FAILED_PRECONDITION"  # told to update before signing in


def test_the_gate_configuration_is_not_client_readable_or_writable(
    firebase: EmulatorSuite, user: User
) -> None:
    from firebase_emulator_harness import assert_denied

    firebase.firestore.as_owner().set("config/clients", {"minimumBuild": {"ios": 1}})

    assert_denied(lambda: firebase.firestore.as_user(user).get("config/clients"))
    assert_denied(
        lambda: firebase.firestore.as_user(user).set("config/clients", {"minimumBuild": {}})
    )


def test_a_retried_upload_returns_the_first_answer_and_applies_once(
    firebase: EmulatorSuite, user: User
) -> None:
    request = envelope(upload_payload(), key="retry-key-0000000001")

    first = firebase.functions.call("uploadDailyReports", request, user=user).unwrap()
    retry = firebase.functions.call("uploadDailyReports", request, user=user).unwrap()

    assert retry["data"] == first["data"]
    assert first["data"]["days"][0]["revision"] == 1


def test_a_retry_racing_the_original_is_applied_once(firebase: EmulatorSuite, user: User) -> None:
    request = envelope(upload_payload(), key="race-key-00000000001")

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(
                lambda _: firebase.functions.call("uploadDailyReports", request, user=user),
                range(2),
            )
        )

    assert [a.code for a in answers] == ["OK", "OK"]
    assert answers[0].result["data"] == answers[1].result["data"]
    stored = firebase.firestore.as_owner().get(f"users/{user.uid}/days/{YESTERDAY}") or {}
    assert stored["revision"] == 1


def test_a_retried_refusal_is_refused_the_same_way(firebase: EmulatorSuite, user: User) -> None:
    firebase.functions.call("useEmergencyPass", envelope(), user=user).unwrap()
    request = envelope(key="second-pass-00000001")

    first = firebase.functions.call("useEmergencyPass", request, user=user)
    retry = firebase.functions.call("useEmergencyPass", request, user=user)

    assert first.code == retry.code == "FAILED_PRECONDITION"
    assert first.error == retry.error


def test_an_idempotency_key_is_bound_to_its_request(firebase: EmulatorSuite, user: User) -> None:
    firebase.functions.call(
        "uploadDailyReports", envelope(upload_payload(80), key="bound-key-0000000001"), user=user
    ).unwrap()

    reused = firebase.functions.call(
        "uploadDailyReports", envelope(upload_payload(95), key="bound-key-0000000001"), user=user
    )

    assert reused.code == "INVALID_ARGUMENT"
    assert reused.error["details"]["reason"] == "IDEMPOTENCY_KEY_REUSED"


def test_mutating_calls_need_an_idempotency_key(firebase: EmulatorSuite, user: User) -> None:
    request = envelope(upload_payload())
    del request["idempotencyKey"]

    answer = firebase.functions.call("uploadDailyReports", request, user=user)

    assert answer.code == "INVALID_ARGUMENT"
    assert answer.error["details"]["fields"][0]["path"] == "idempotencyKey"
    assert firebase.firestore.as_owner().get(f"users/{user.uid}/days/{YESTERDAY}") is None


def test_each_person_is_rate_limited_per_callable(firebase: EmulatorSuite, user: User) -> None:
    other = firebase.auth.sign_up_anonymously()
    request = envelope({"day": YESTERDAY})

    codes = [
        firebase.functions.call("getCommunityComparison", request, user=user).code
        for _ in range(31)
    ]

    assert codes[:30] == ["OK"] * 30
    assert codes[30] == "RESOURCE_EXHAUSTED"
    limited = firebase.functions.call("getCommunityComparison", request, user=user)
    assert 0 < limited.error["details"]["retryAfterSeconds"] <= 60
    assert firebase.functions.call("getCommunityComparison", request, user=other).ok
    assert firebase.functions.call("launch", envelope(), user=user).ok


def test_a_malformed_envelope_is_a_typed_error(firebase: EmulatorSuite, user: User) -> None:
    no_client = {"apiVersion": "2026-11-29", "payload": {}}
    bad_version = envelope() | {"apiVersion": "yesterday"}
    extra = envelope() | {"debug": True}

    for request, path in ((no_client, "client"), (bad_version, "apiVersion"), (extra, "debug")):
        answer = firebase.functions.call("launch", request, user=user)
        assert answer.code == "INVALID_ARGUMENT"
        assert [f["path"] for f in answer.error["details"]["fields"]] == [path]

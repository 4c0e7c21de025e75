"""The local FCM server answers the HTTP v1 send API as Google does: spoken to with plain HTTP,
no emulators needed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from firebase_emulator_harness.fcm import FcmError, FcmServer

BEARER = {"Authorization": "Bearer any-token-at-all"}


@pytest.fixture(scope="module")
def server() -> Iterator[FcmServer]:
    with FcmServer() as fcm:
        yield fcm


@pytest.fixture
def fcm(server: FcmServer) -> FcmServer:
    server.reset()
    return server


def send(fcm: FcmServer, body: Any, headers: dict[str, str] = BEARER) -> requests.Response:
    url = f"{fcm.url}/v1/projects/demo-focus/messages:send"
    return requests.post(url, json=body, headers=headers, timeout=10)


def to(token: str) -> dict[str, Any]:
    return {"message": {"token": token, "data": {"kind": "sync"}}}


def test_a_message_is_accepted_named_and_recorded(fcm: FcmServer) -> None:
    answer = send(fcm, to("phone-1"))

    assert answer.status_code == 200
    name = answer.json()["name"]
    assert name.startswith("projects/demo-focus/messages/")
    [received] = fcm.received()
    assert received.token == "phone-1"
    assert received.message == {"token": "phone-1", "data": {"kind": "sync"}}
    assert received.accepted and received.name == name and not received.validate_only
    assert received.project == "demo-focus"


def test_a_dry_run_is_validated_not_sent(fcm: FcmServer) -> None:
    answer = send(fcm, {**to("phone-1"), "validate_only": True})

    assert answer.json() == {"name": "projects/demo-focus/messages/fake_message_id"}
    assert fcm.received()[0].validate_only


def test_a_request_without_credentials_is_refused_like_google_refuses_it(fcm: FcmServer) -> None:
    answer = send(fcm, to("phone-1"), headers={})

    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == "UNAUTHENTICATED"
    assert fcm.received() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"msg": {}}, "msg"),
        ({"message": "hello"}, "message"),
        ({"message": {"data": {}}}, "message"),
        ({"message": {"token": "a", "topic": "b"}}, "message"),
        ({"message": {"token": "a"}, "validate_only": "yes"}, "validate_only"),
    ],
)
def test_a_malformed_body_is_an_invalid_argument(
    fcm: FcmServer, body: dict[str, Any], field: str
) -> None:
    answer = send(fcm, body)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["fieldViolations"][0]["field"] == field
    assert fcm.received() == []


def test_an_unregistered_token_gets_googles_exact_error(fcm: FcmServer) -> None:
    fcm.fail("gone", FcmError.UNREGISTERED)

    answer = send(fcm, to("gone"))

    assert answer.status_code == 404
    assert answer.json() == {
        "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": "UNREGISTERED",
                }
            ],
        }
    }
    assert send(fcm, to("other")).status_code == 200
    assert [(m.token, m.status) for m in fcm.received()] == [("gone", 404), ("other", 200)]


def test_an_invalid_token_names_the_token_field(fcm: FcmServer) -> None:
    fcm.fail("garbage", FcmError.INVALID_ARGUMENT)

    error = send(fcm, to("garbage")).json()["error"]

    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["errorCode"] == "INVALID_ARGUMENT"
    assert error["details"][1]["fieldViolations"][0]["field"] == "message.token"


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (FcmError.SENDER_ID_MISMATCH, 403, "PERMISSION_DENIED"),
        (FcmError.UNAVAILABLE, 503, "UNAVAILABLE"),
        (FcmError.INTERNAL, 500, "INTERNAL"),
    ],
)
def test_every_token_can_be_failed_at_once(
    fcm: FcmServer, error: FcmError, code: int, status: str
) -> None:
    fcm.fail(None, error)

    for token in ("a", "b"):
        answer = send(fcm, to(token))
        assert answer.status_code == code
        assert answer.json()["error"]["status"] == status
        assert answer.json()["error"]["details"][0]["errorCode"] == error.value


def test_a_failure_can_last_a_given_number_of_messages(fcm: FcmServer) -> None:
    fcm.fail("flaky", FcmError.UNAVAILABLE, times=2)

    statuses = [send(fcm, to("flaky")).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_a_quota_failure_says_when_to_retry(fcm: FcmServer) -> None:
    fcm.fail("busy", FcmError.QUOTA_EXCEEDED, retry_after=7)

    answer = send(fcm, to("busy"))

    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    error = answer.json()["error"]
    assert (error["status"], error["details"][0]["errorCode"]) == (
        "RESOURCE_EXHAUSTED",
        "QUOTA_EXCEEDED",
    )


def test_the_quota_mode_refuses_messages_beyond_the_limit_until_the_window_closes(
    fcm: FcmServer,
) -> None:
    fcm.quota(limit=3, window_seconds=60)

    answers = [send(fcm, to(f"t{i}")) for i in range(5)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert answers[4].json()["error"]["details"][0]["errorCode"] == "QUOTA_EXCEEDED"


def test_reset_forgets_messages_failures_and_quota(fcm: FcmServer) -> None:
    fcm.fail(None, FcmError.INTERNAL)
    fcm.quota(limit=0, window_seconds=60)
    send(fcm, to("a"))

    fcm.reset()

    assert fcm.received() == []
    assert send(fcm, to("a")).status_code == 200


def test_concurrent_senders_are_all_answered_and_recorded(fcm: FcmServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda i: send(fcm, to(f"t{i}")).status_code, range(200)))

    assert statuses == [200] * 200
    assert {m.token for m in fcm.received()} == {f"t{i}" for i in range(200)}


def test_stopped_it_refuses_connections() -> None:
    fcm = FcmServer().start()
    url = fcm.url
    fcm.stop()

    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/v1/projects/p/messages:send", json=to("a"), timeout=5)

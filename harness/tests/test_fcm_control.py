"""A local FCM server started by another process (a suite runner) is steered from a test through
its control API, with ``FcmRemote`` doing what ``FcmServer``'s own methods do."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from another_process import served_in_another_process

from firebase_emulator_harness import (
    EmulatorError,
    EmulatorNotRunning,
    FcmError,
    FcmRemote,
    FcmServer,
    ReceivedMessage,
)

BEARER = {"Authorization": "Bearer any-token-at-all"}


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """An FCM server in another process, as scripts/test runs one; its URL."""
    with served_in_another_process(FcmServer) as url:
        yield url


@pytest.fixture
def fcm(server_url: str) -> FcmRemote:
    remote = FcmRemote(server_url)
    remote.reset()
    return remote


def send(fcm: FcmRemote, token: str) -> requests.Response:
    body: dict[str, Any] = {"message": {"token": token, "data": {"kind": "sync"}}}
    url = f"{fcm.url}/v1/projects/demo-focus/messages:send"
    return requests.post(url, json=body, headers=BEARER, timeout=10)


def test_what_the_server_received_is_listed_as_the_server_itself_lists_it(fcm: FcmRemote) -> None:
    before = datetime.now(UTC)
    answer = send(fcm, "phone-1")

    [received] = fcm.received()

    assert isinstance(received, ReceivedMessage)
    assert received.message == {"token": "phone-1", "data": {"kind": "sync"}}
    assert (received.token, received.project, received.status) == ("phone-1", "demo-focus", 200)
    assert received.accepted and received.name == answer.json()["name"]
    assert not received.validate_only
    assert before - timedelta(seconds=1) <= received.at <= datetime.now(UTC)


def test_a_failure_set_remotely_is_what_senders_are_answered(fcm: FcmRemote) -> None:
    fcm.fail("gone", FcmError.UNREGISTERED)

    assert fcm.received() == []  # steering is not sending
    answer = send(fcm, "gone")
    assert answer.status_code == 404
    assert answer.json()["error"]["details"][0]["errorCode"] == "UNREGISTERED"
    assert send(fcm, "other").status_code == 200
    assert [(m.token, m.status) for m in fcm.received()] == [("gone", 404), ("other", 200)]


def test_a_remote_failure_can_be_for_every_token_for_a_few_messages_with_a_retry_delay(
    fcm: FcmRemote,
) -> None:
    fcm.fail(None, FcmError.QUOTA_EXCEEDED, times=2, retry_after=7)

    answers = [send(fcm, token) for token in ("a", "b", "c")]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "7"


def test_a_quota_set_remotely_refuses_messages_beyond_the_limit(fcm: FcmRemote) -> None:
    fcm.quota(limit=2, window_seconds=60)

    answers = [send(fcm, f"t{i}") for i in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60


def test_a_remote_reset_forgets_messages_failures_and_quota(fcm: FcmRemote) -> None:
    fcm.fail(None, FcmError.INTERNAL)
    fcm.quota(limit=0, window_seconds=60)
    send(fcm, "a")

    fcm.reset()

    assert fcm.received() == []
    assert send(fcm, "a").status_code == 200


def test_a_request_the_server_cannot_follow_is_refused_with_the_reason(fcm: FcmRemote) -> None:
    with pytest.raises(EmulatorError, match="limit must be a whole number") as refused:
        fcm.quota(limit=-1, window_seconds=60)
    assert refused.value.status == 400

    bogus = requests.post(
        f"{fcm.url}/_fcm/fail", json={"token": None, "error": "BOGUS"}, timeout=10
    )
    assert bogus.status_code == 400
    assert "error must be one of UNREGISTERED" in bogus.json()["error"]
    unknown = requests.post(f"{fcm.url}/_fcm/explode", json={}, timeout=10)
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"error": "UNREGISTERED"},  # no token: say null for every token
        {"token": 1, "error": "UNREGISTERED"},
        {"token": "a", "error": "UNREGISTERED", "times": "twice"},
        {"token": "a", "error": "UNREGISTERED", "retry_after": True},
    ],
)
def test_a_malformed_failure_is_refused_and_changes_nothing(fcm: FcmRemote, body: Any) -> None:
    answer = requests.post(f"{fcm.url}/_fcm/fail", json=body, timeout=10)

    assert answer.status_code == 400
    assert send(fcm, "a").status_code == 200


def test_without_a_server_the_remote_says_nothing_answers_there() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(EmulatorNotRunning, match=f"127.0.0.1:{port}"):
        FcmRemote(f"http://127.0.0.1:{port}").received()

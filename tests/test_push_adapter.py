"""Pushes leave through the production Admin SDK, unchanged, to a local server speaking FCM's
HTTP v1 API (``FOCUS_FCM_ENDPOINT``, docs/notifications.md): what arrives there is what Google
would receive, and Google's error answers become the outcomes the services act on.

No emulator is involved: the Admin SDK only needs a project id and the emulated credential.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from firebase_emulator_harness.fcm import FcmError, FcmServer, ReceivedMessage
from focus.adapters import clients, push
from focus.adapters.push import Accepted, QuotaExceeded, TokenGone, Transient
from focus.domain.devices import Platform
from focus.domain.notifications import MessageKind, Push


def _forget_admin_app() -> None:
    """The Admin app is made once per process, under the settings of that moment: a test that
    loaded a codebase before this module may have made it for production. Start from none, and
    leave none made under this module's settings."""
    import firebase_admin

    with contextlib.suppress(ValueError):  # no app yet
        firebase_admin.delete_app(firebase_admin.get_app())
    clients.firebase_app.cache_clear()
    push._app.cache_clear()


@pytest.fixture(scope="module")
def server() -> Iterator[FcmServer]:
    with FcmServer() as fcm, pytest.MonkeyPatch.context() as env:
        env.setenv("GCLOUD_PROJECT", os.environ.get("GCLOUD_PROJECT", "demo-focus"))
        env.setenv("FUNCTIONS_EMULATOR", "true")
        env.setenv(push.ENDPOINT_SETTING, fcm.url)
        _forget_admin_app()
        yield fcm
        _forget_admin_app()


@pytest.fixture
def fcm(server: FcmServer) -> FcmServer:
    server.reset()
    return server


def sync_push(token: str = "iphone-token", **changes: Any) -> Push:
    fields: dict[str, Any] = {
        "token": token,
        "platform": Platform.IOS,
        "kind": MessageKind.SYNC,
        "silent": True,
        "data": {"kind": "sync", "changed": "blocks"},
        "collapse_key": "sync",
        "ttl_seconds": 3600,
    }
    return Push(**(fields | changes))


def visible_push(token: str = "iphone-token") -> Push:
    return sync_push(
        token,
        kind=MessageKind.SESSION_FINISHED,
        silent=False,
        data={"kind": "session_finished", "sessionId": "s1"},
        title="Session complete",
        body="45 focused minutes.",
        collapse_key="session_finished",
    )


def only_message(fcm: FcmServer) -> ReceivedMessage:
    [received] = fcm.received()
    return received


def test_a_silent_push_wakes_the_app_in_the_background_without_an_alert(fcm: FcmServer) -> None:
    [outcome] = push.send([sync_push()])

    message = only_message(fcm).message
    assert outcome == Accepted(sync_push(), only_message(fcm).name or "")
    assert "notification" not in message
    assert message["data"] == {"kind": "sync", "changed": "blocks"}
    apns = message["apns"]
    assert isinstance(apns, dict)
    headers = apns["headers"]
    assert isinstance(headers, dict)
    assert headers["apns-push-type"] == "background"
    assert headers["apns-priority"] == "5"
    assert "apns-collapse-id" not in headers
    assert apns["payload"] == {"aps": {"content-available": 1}}
    assert message["android"] == {"priority": "normal", "collapse_key": "sync", "ttl": "3600s"}


def test_a_visible_push_shows_its_title_and_body_as_an_alert(fcm: FcmServer) -> None:
    [outcome] = push.send([visible_push()])

    message = only_message(fcm).message
    assert isinstance(outcome, Accepted)
    assert message["notification"] == {"title": "Session complete", "body": "45 focused minutes."}
    apns = message["apns"]
    assert isinstance(apns, dict)
    headers = apns["headers"]
    assert isinstance(headers, dict)
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-priority"] == "10"
    assert headers["apns-collapse-id"] == "session_finished"
    android = message["android"]
    assert isinstance(android, dict)
    assert (android["priority"], android["collapse_key"]) == ("high", "session_finished")


def test_a_push_to_an_unregistered_token_says_the_token_is_gone(fcm: FcmServer) -> None:
    fcm.fail("uninstalled", FcmError.UNREGISTERED)

    outcomes = push.send([sync_push("uninstalled"), sync_push("installed")])

    assert outcomes[0] == TokenGone(sync_push("uninstalled"), "UNREGISTERED")
    assert isinstance(outcomes[1], Accepted)


def test_a_push_to_a_malformed_token_says_the_token_is_gone(fcm: FcmServer) -> None:
    fcm.fail("garbage", FcmError.INVALID_ARGUMENT)

    [outcome] = push.send([sync_push("garbage")])

    assert outcome == TokenGone(sync_push("garbage"), "INVALID_ARGUMENT")


def test_over_quota_the_outcome_says_when_to_try_again(fcm: FcmServer) -> None:
    fcm.fail("busy", FcmError.QUOTA_EXCEEDED, retry_after=1)

    [outcome] = push.send([sync_push("busy")])

    assert outcome == QuotaExceeded(sync_push("busy"), retry_after_seconds=1)
    # The SDK itself waited Retry-After and tried four more times before giving up.
    assert len(fcm.received()) == 5


def test_when_fcm_stays_unavailable_the_failure_is_transient(fcm: FcmServer) -> None:
    fcm.fail("phone", FcmError.UNAVAILABLE)

    [outcome] = push.send([sync_push("phone")])

    assert outcome == Transient(sync_push("phone"), "UNAVAILABLE")


def test_a_brief_outage_is_absorbed_by_the_sdks_own_retries(fcm: FcmServer) -> None:
    fcm.fail("phone", FcmError.INTERNAL, times=2)

    [outcome] = push.send([sync_push("phone")])

    assert isinstance(outcome, Accepted)
    assert [m.status for m in fcm.received()] == [500, 500, 200]


def test_six_hundred_pushes_go_out_in_batches_the_sdk_accepts(fcm: FcmServer) -> None:
    # send_each refuses more than 500 messages: all 600 arriving means they went in two calls.
    pushes = [sync_push(f"token-{i}") for i in range(600)]

    outcomes = push.send(pushes)

    assert [type(o) for o in outcomes] == [Accepted] * 600
    assert [o.push for o in outcomes] == pushes
    assert sorted(m.token or "" for m in fcm.received()) == sorted(p.token for p in pushes)

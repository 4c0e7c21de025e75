"""The local Google Play server answers the Android Publisher calls about subscription purchases
as Google does, and is steered from another process through its control API; no emulators
needed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from another_process import served_in_another_process

from firebase_emulator_harness import EmulatorError, EmulatorNotRunning, PlayError, PlayRemote
from firebase_emulator_harness.play import (
    ACKNOWLEDGED,
    PENDING_ACKNOWLEDGEMENT,
    PlayServer,
    SubscriptionState,
    subscription_purchase,
)

BEARER = {"Authorization": "Bearer any-token-at-all"}
APP = "com.example.app"
EXPIRY = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """A Play server in another process, as scripts/test runs one; its URL."""
    with served_in_another_process(PlayServer) as url:
        yield url


@pytest.fixture
def play(served: str) -> PlayRemote:
    remote = PlayRemote(served)
    remote.reset()
    return remote


def purchase_url(base: str, token: str, app: str = APP) -> str:
    return f"{base}/androidpublisher/v3/applications/{app}/purchases/subscriptionsv2/tokens/{token}"


def acknowledge_url(base: str, product: str, token: str) -> str:
    return (
        f"{base}/androidpublisher/v3/applications/{APP}/purchases/subscriptions/{product}"
        f"/tokens/{token}:acknowledge"
    )


def get(base: str, token: str, app: str = APP, headers: dict[str, str] = BEARER) -> Any:
    return requests.get(purchase_url(base, token, app), headers=headers, timeout=10)


def test_a_purchase_put_remotely_is_what_play_answers(play: PlayRemote) -> None:
    bought = subscription_purchase("pro.monthly", expiry=EXPIRY, account_id="account-1")
    play.put_purchase(APP, "token-1", bought)

    answer = get(play.url, "token-1")

    assert answer.status_code == 200
    assert answer.json() == {"kind": "androidpublisher#subscriptionPurchaseV2", **bought}
    assert answer.json()["subscriptionState"] == "SUBSCRIPTION_STATE_ACTIVE"
    assert answer.json()["lineItems"][0]["expiryTime"] == "2030-01-31T12:00:00.000Z"
    assert answer.json()["externalAccountIdentifiers"] == {
        "obfuscatedExternalAccountId": "account-1"
    }
    assert answer.json()["acknowledgementState"] == PENDING_ACKNOWLEDGEMENT


def test_an_unknown_token_gets_googles_not_found(play: PlayRemote) -> None:
    answer = get(play.url, "never-sold")

    assert answer.status_code == 404
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (404, "NOT_FOUND")
    assert error["errors"][0]["reason"] == "purchaseTokenNotFound"


def test_another_apps_token_does_not_match_the_package_name(play: PlayRemote) -> None:
    play.put_purchase(APP, "token-1", subscription_purchase("pro.monthly", expiry=EXPIRY))

    answer = get(play.url, "token-1", app="com.example.other")

    assert answer.status_code == 400
    assert answer.json()["error"]["errors"][0]["reason"] == "purchaseTokenDoesNotMatchPackageName"


def test_a_request_without_credentials_is_refused_like_google_refuses_it(
    play: PlayRemote,
) -> None:
    play.put_purchase(APP, "token-1", subscription_purchase("pro.monthly", expiry=EXPIRY))

    answer = get(play.url, "token-1", headers={})

    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == "UNAUTHENTICATED"


def test_an_acknowledgement_is_recorded_and_shows_on_the_purchase(play: PlayRemote) -> None:
    play.put_purchase(APP, "token-1", subscription_purchase("pro.monthly", expiry=EXPIRY))

    answer = requests.post(
        acknowledge_url(play.url, "pro.monthly", "token-1"), json={}, headers=BEARER, timeout=10
    )

    assert (answer.status_code, answer.json()) == (200, {})
    [acknowledgement] = play.acknowledgements()
    assert (acknowledgement.package_name, acknowledgement.subscription_id) == (APP, "pro.monthly")
    assert acknowledgement.token == "token-1" and acknowledgement.body == {}
    assert get(play.url, "token-1").json()["acknowledgementState"] == ACKNOWLEDGED


@pytest.mark.parametrize(
    ("product", "token", "status"),
    [("pro.yearly", "token-1", 400), ("pro.monthly", "never-sold", 404)],
    ids=["another product", "unknown token"],
)
def test_an_acknowledgement_of_what_was_not_bought_is_refused(
    play: PlayRemote, product: str, token: str, status: int
) -> None:
    play.put_purchase(APP, "token-1", subscription_purchase("pro.monthly", expiry=EXPIRY))

    answer = requests.post(
        acknowledge_url(play.url, product, token), json={}, headers=BEARER, timeout=10
    )

    assert answer.status_code == status
    assert play.acknowledgements() == []


def test_a_failure_lasts_the_given_number_of_requests(play: PlayRemote) -> None:
    play.put_purchase(APP, "token-1", subscription_purchase("pro.monthly", expiry=EXPIRY))
    play.fail("token-1", PlayError.UNAVAILABLE, times=2)

    statuses = [get(play.url, "token-1").status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_a_failure_for_every_token_and_a_token_gone_for_good(play: PlayRemote) -> None:
    play.fail(None, PlayError.GONE)

    answer = get(play.url, "expired-long-ago")

    assert answer.status_code == 410
    assert answer.json()["error"]["errors"][0]["reason"] == "purchaseTokenNoLongerValid"


def test_a_put_replaces_the_purchase_and_reset_forgets_everything(play: PlayRemote) -> None:
    play.put_purchase(APP, "token-1", subscription_purchase("pro.monthly", expiry=EXPIRY))
    ended = subscription_purchase(
        "pro.monthly", SubscriptionState.EXPIRED, expiry=EXPIRY - timedelta(days=30)
    )
    play.put_purchase(APP, "token-1", ended)
    assert get(play.url, "token-1").json()["subscriptionState"] == "SUBSCRIPTION_STATE_EXPIRED"
    play.fail(None, PlayError.INTERNAL)

    play.reset()

    assert get(play.url, "token-1").status_code == 404
    assert play.acknowledgements() == []


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("purchases", {"packageName": APP, "token": "t"}),
        ("purchases", {"packageName": "", "token": "t", "purchase": {}}),
        ("fail", {"token": "t", "error": "TEAPOT"}),
        ("fail", {"error": "UNAVAILABLE"}),
        ("fail", {"token": "t", "error": "UNAVAILABLE", "times": "twice"}),
    ],
)
def test_a_malformed_control_request_is_refused_with_the_reason(
    play: PlayRemote, action: str, body: dict[str, Any]
) -> None:
    answer = requests.post(f"{play.url}/_play/{action}", json=body, timeout=10)

    assert answer.status_code == 400
    assert answer.json()["error"]


def test_the_remote_reports_a_refusal_and_a_missing_server() -> None:
    with PlayServer() as server:
        remote = PlayRemote(server.url)
        with pytest.raises(EmulatorError, match="packageName and token must be non-empty"):
            remote.put_purchase("", "token-1", {})
        url = server.url

    with pytest.raises(EmulatorNotRunning):
        PlayRemote(url, timeout=2).reset()


def test_googles_own_client_reads_and_acknowledges_through_it() -> None:
    """The paths are the ones Google's discovery document gives the production client."""
    discovery = pytest.importorskip("googleapiclient.discovery")
    credentials = pytest.importorskip("google.oauth2.credentials")
    with PlayServer() as server:
        token = "abc.AO-J1Oz/with+odd=chars"
        server.put_purchase(APP, token, subscription_purchase("pro.monthly", expiry=EXPIRY))
        publisher = discovery.build(
            "androidpublisher",
            "v3",
            credentials=credentials.Credentials(token="test"),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": f"{server.url}/"},
        )
        purchases = publisher.purchases()

        read = purchases.subscriptionsv2().get(packageName=APP, token=token).execute()
        purchases.subscriptions().acknowledge(
            packageName=APP, subscriptionId="pro.monthly", token=token, body={}
        ).execute()

        assert read["lineItems"][0]["productId"] == "pro.monthly"
        assert [a.token for a in server.acknowledgements()] == [token]

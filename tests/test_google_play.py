"""The Google Play path to Pro: real-time developer notifications published to our Pub/Sub topic,
and restored Play purchases, reach the person who bought, exactly once, with the state Google
Play reports (focus.services.google_play; docs/subscriptions.md).

Google Play has no emulator: scripts/test runs the harness's ``PlayServer`` beside the emulators
(``FOCUS_PLAY_ENDPOINT``), and each test puts there the purchases Play would hold (the ``play``
fixture) before publishing the notification Play would publish. A notification only says which
purchase changed: what the person gets follows what the server says about the purchase."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import envelope, launched_user

from firebase_emulator_harness import EmulatorSuite, PlayError, PlayRemote, User, wait_for
from firebase_emulator_harness.http import session
from firebase_emulator_harness.play import (
    NotificationType,
    SubscriptionState,
    console_test_notification,
    subscription_notification,
    subscription_purchase,
    voided_purchase_notification,
)
from firebase_emulator_harness.values import JsonObject
from focus.adapters.google_play import DEFAULT_PACKAGE_NAME
from focus.domain.entitlements import purchase_account_token

TOPIC = "play-billing-notifications"
FUNCTION = "on_play_notification"
PACKAGE = DEFAULT_PACKAGE_NAME  # the emulators run without FOCUS_PLAY_PACKAGE_NAME
PRODUCT = "focus.pro.monthly"
NOW = datetime.now(UTC).replace(microsecond=0)
MONTH = timedelta(days=30)


# --- Who buys, what Play holds, what Play publishes ---------------------------------------------


@pytest.fixture
def buyer(firebase: EmulatorSuite) -> User:
    """A person who opened the app and asked for their entitlements, as the app does before
    showing the paywall (which records their purchase account token)."""
    return _buyer(firebase)


def _buyer(firebase: EmulatorSuite) -> User:
    person = launched_user(firebase)
    firebase.functions.call("getEntitlements", envelope(), user=person).unwrap()
    return person


def new_token() -> str:
    """A purchase token shaped as Play's are (letters, dots, dashes, underscores)."""
    return f"{uuid.uuid4().hex[:24]}.AO-J1Oz{uuid.uuid4().hex}_{uuid.uuid4().hex}"


def holds(
    play: PlayRemote,
    token: str,
    state: SubscriptionState,
    *,
    expiry: datetime,
    buyer: User | None = None,
    **details: Any,
) -> None:
    """Make Play hold ``token`` as a purchase of Pro in ``state``, bought by ``buyer`` (with
    their purchase account token as the obfuscated account id), or made without one."""
    account_id = purchase_account_token(buyer.uid) if buyer else None
    purchase = subscription_purchase(
        PRODUCT, state, expiry=expiry, start=NOW, account_id=account_id, **details
    )
    play.put_purchase(PACKAGE, token, purchase)


def publish(
    firebase: EmulatorSuite, token: str, kind: NotificationType, *, at: datetime = NOW
) -> None:
    """What Google Play publishes to our topic when ``token``'s subscription changes."""
    firebase.pubsub.publish(TOPIC, subscription_notification(PACKAGE, token, kind, event_time=at))


def deliver(firebase: EmulatorSuite, data: JsonObject | bytes, *, message_id: str) -> int:
    """Deliver one message to the function now, as Pub/Sub pushes it (again, with the same
    ``message_id``, for a redelivery); the function's HTTP status."""
    event = firebase.pubsub.message_event(TOPIC, data, message_id=message_id)
    return firebase.functions.deliver_event(FUNCTION, event)


def entitlements(firebase: EmulatorSuite, person: User) -> dict[str, Any]:
    profile = firebase.firestore.as_owner().get(f"users/{person.uid}") or {}
    return dict(profile.get("entitlements") or {})


def entitlements_when(firebase: EmulatorSuite, person: User, **expected: Any) -> dict[str, Any]:
    """The person's entitlements once they show ``expected`` (the notification was applied)."""
    return wait_for(
        lambda: (
            granted
            if all(
                (granted := entitlements(firebase, person)).get(k) == v for k, v in expected.items()
            )
            else None
        ),
        message=f"entitlements {expected}",
    )


def subscription_states(firebase: EmulatorSuite, person: User) -> list[str]:
    found = firebase.firestore.as_owner().query(f"users/{person.uid}/subscriptions")
    return sorted(str(data["state"]) for _, data in found)


def acknowledged(play: PlayRemote) -> list[tuple[str, str]]:
    return [(a.subscription_id, a.token) for a in play.acknowledgements()]


def restore(firebase: EmulatorSuite, person: User, token: str, product: str = PRODUCT) -> Any:
    purchase = {"store": "google_play", "productId": product, "purchaseToken": token}
    return firebase.functions.call(
        "restorePurchases", envelope({"purchase": purchase}), user=person
    )


def bought(firebase: EmulatorSuite, play: PlayRemote, person: User, token: str) -> None:
    """``person`` bought Pro with ``token``, and the purchase notification was applied."""
    holds(play, token, SubscriptionState.ACTIVE, expiry=NOW + MONTH, buyer=person)
    publish(firebase, token, NotificationType.PURCHASED)
    entitlements_when(firebase, person, pro=True)


# --- Notifications ------------------------------------------------------------------------------


def test_a_purchase_gives_pro_with_its_one_notification_and_is_acknowledged(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    token = new_token()
    holds(play, token, SubscriptionState.ACTIVE, expiry=NOW + MONTH, buyer=buyer)

    publish(firebase, token, NotificationType.PURCHASED)

    granted = entitlements_when(firebase, buyer, pro=True)
    assert granted["proUntil"] == NOW + MONTH
    assert (granted["source"], granted["state"], granted["productId"]) == (
        "google_play",
        "active",
        PRODUCT,
    )
    # Google refunds a purchase nobody acknowledged within three days.
    wait_for(lambda: acknowledged(play), message="the acknowledgement")
    assert acknowledged(play) == [(PRODUCT, token)]


def test_a_renewal_moves_pro_to_the_new_expiry(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    token = new_token()
    bought(firebase, play, buyer, token)

    renewed = NOW + 2 * MONTH
    holds(play, token, SubscriptionState.ACTIVE, expiry=renewed, buyer=buyer, acknowledged=True)
    publish(firebase, token, NotificationType.RENEWED, at=NOW + MONTH)

    assert entitlements_when(firebase, buyer, proUntil=renewed)["pro"] is True
    assert acknowledged(play) == [(PRODUCT, token)]  # acknowledged once, at the purchase


def test_a_failed_renewal_in_grace_keeps_pro_and_tells_the_person_once(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    token = new_token()
    bought(firebase, play, buyer, token)

    grace_ends = NOW + MONTH + timedelta(days=7)
    holds(play, token, SubscriptionState.IN_GRACE_PERIOD, expiry=grace_ends, buyer=buyer)
    publish(firebase, token, NotificationType.IN_GRACE_PERIOD, at=NOW + MONTH)

    granted = entitlements_when(firebase, buyer, state="grace")
    assert granted["pro"] is True and granted["proUntil"] == grace_ends
    notices = firebase.firestore.as_owner().query(f"users/{buyer.uid}/outbox")
    assert [data["kind"] for _, data in notices] == ["billing_problem"]


def test_account_hold_ends_pro_until_the_payment_recovers(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    token = new_token()
    bought(firebase, play, buyer, token)

    # On hold, the paid period has run out while Play retries the payment.
    holds(play, token, SubscriptionState.ON_HOLD, expiry=NOW - timedelta(days=1), buyer=buyer)
    publish(firebase, token, NotificationType.ON_HOLD, at=NOW + timedelta(minutes=1))
    assert entitlements_when(firebase, buyer, state="billing_retry")["pro"] is False

    recovered = NOW + MONTH
    holds(play, token, SubscriptionState.ACTIVE, expiry=recovered, buyer=buyer, acknowledged=True)
    publish(firebase, token, NotificationType.RECOVERED, at=NOW + timedelta(minutes=2))
    granted = entitlements_when(firebase, buyer, pro=True)
    assert granted["state"] == "active" and granted["proUntil"] == recovered


def test_a_cancelled_subscription_keeps_pro_until_it_expires_then_ends(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    token = new_token()
    bought(firebase, play, buyer, token)

    holds(play, token, SubscriptionState.CANCELED, expiry=NOW + MONTH, buyer=buyer)
    publish(firebase, token, NotificationType.CANCELED, at=NOW + timedelta(minutes=1))
    wait_for(
        lambda: entitlements(firebase, buyer).get("updatedAt") == NOW + timedelta(minutes=1),
        message="the cancellation applied",
    )
    assert entitlements(firebase, buyer)["pro"] is True  # paid up until the expiry

    holds(play, token, SubscriptionState.EXPIRED, expiry=NOW - timedelta(minutes=1), buyer=buyer)
    publish(firebase, token, NotificationType.EXPIRED, at=NOW + timedelta(minutes=2))
    granted = entitlements_when(firebase, buyer, state="expired")
    assert granted["pro"] is False and granted.get("proUntil") is None


@pytest.mark.parametrize("how", ["refunded", "revoked"])
def test_a_voided_or_revoked_purchase_ends_pro(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User, how: str
) -> None:
    token = new_token()
    bought(firebase, play, buyer, token)

    # Play ends the subscription at once, then says why.
    holds(play, token, SubscriptionState.EXPIRED, expiry=NOW, buyer=buyer, acknowledged=True)
    later = NOW + timedelta(minutes=1)
    if how == "refunded":
        voided = voided_purchase_notification(PACKAGE, token, event_time=later)
        firebase.pubsub.publish(TOPIC, voided)
    else:
        publish(firebase, token, NotificationType.REVOKED, at=later)

    assert entitlements_when(firebase, buyer, state=how)["pro"] is False


def test_what_the_notification_says_is_not_trusted_play_is(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    # A "purchase" notification (replayed, forged or late) for a purchase Play says has ended.
    token = new_token()
    holds(play, token, SubscriptionState.EXPIRED, expiry=NOW - MONTH, buyer=buyer)

    publish(firebase, token, NotificationType.PURCHASED)

    assert entitlements_when(firebase, buyer, state="expired")["pro"] is False
    assert acknowledged(play) == []


def test_a_message_delivered_twice_is_applied_once(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    token = new_token()
    holds(play, token, SubscriptionState.ACTIVE, expiry=NOW + MONTH, buyer=buyer)
    message = subscription_notification(PACKAGE, token, NotificationType.PURCHASED)
    assert deliver(firebase, message, message_id="play-1") == 200
    assert entitlements(firebase, buyer)["pro"] is True

    # Pub/Sub delivers at least once: the same message again, after Play's state moved on,
    # is recognised by its message id and changes nothing.
    holds(play, token, SubscriptionState.EXPIRED, expiry=NOW, buyer=buyer, acknowledged=True)
    assert deliver(firebase, message, message_id="play-1") == 200

    assert entitlements(firebase, buyer)["pro"] is True
    assert len(firebase.firestore.as_owner().query("storeEvents")) == 1
    assert acknowledged(play) == [(PRODUCT, token)]


def test_while_play_is_unavailable_the_delivery_fails_and_its_redelivery_applies(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    token = new_token()
    holds(play, token, SubscriptionState.ACTIVE, expiry=NOW + MONTH, buyer=buyer)
    play.fail(token, PlayError.UNAVAILABLE, times=3)  # more than the client's own retries
    message = subscription_notification(PACKAGE, token, NotificationType.PURCHASED)

    assert deliver(firebase, message, message_id="play-2") >= 500  # Pub/Sub will redeliver
    assert entitlements(firebase, buyer) == {"pro": False}

    assert deliver(firebase, message, message_id="play-2") == 200
    assert entitlements(firebase, buyer)["pro"] is True


@pytest.mark.parametrize("failure", [PlayError.NOT_FOUND, PlayError.GONE])
def test_a_notification_for_a_purchase_play_does_not_know_is_dropped(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User, failure: PlayError
) -> None:
    token = new_token()
    play.fail(token, failure)  # never sold to this app, or expired too long ago to be read
    message = subscription_notification(PACKAGE, token, NotificationType.RENEWED)

    assert deliver(firebase, message, message_id=f"play-{failure}") == 200  # not redelivered
    assert firebase.firestore.as_owner().query("storeEvents") == []


def test_the_play_consoles_test_notification_changes_nothing(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    assert deliver(firebase, console_test_notification(PACKAGE), message_id="play-test") == 200
    assert firebase.firestore.as_owner().query("storeEvents") == []
    assert entitlements(firebase, buyer) == {"pro": False}


def test_an_upgrade_replaces_the_old_purchase_and_stays_with_its_buyer(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    old = new_token()
    bought(firebase, play, buyer, old)

    # The upgrade is a new purchase token that names the one it replaces; made here without the
    # purchase account token, it still belongs to the old purchase's buyer.
    new, upgraded = new_token(), NOW + 2 * MONTH
    holds(play, old, SubscriptionState.EXPIRED, expiry=NOW, buyer=buyer, replaced=True)
    holds(play, new, SubscriptionState.ACTIVE, expiry=upgraded, linked_purchase_token=old)
    publish(firebase, new, NotificationType.PURCHASED, at=NOW + timedelta(minutes=1))

    assert entitlements_when(firebase, buyer, proUntil=upgraded)["pro"] is True
    wait_for(
        lambda: subscription_states(firebase, buyer) == ["active", "expired"],
        message="the old purchase ended",
    )
    wait_for(lambda: len(acknowledged(play)) == 2, message="the upgrade's acknowledgement")
    assert acknowledged(play) == [(PRODUCT, old), (PRODUCT, new)]


# --- Malformed and foreign messages -------------------------------------------------------------


class DeadLetters:
    """The notifications' dead-letter topic with a subscription to read it (Terraform makes
    both in production; the Pub/Sub emulator starts without them)."""

    def __init__(self, firebase: EmulatorSuite) -> None:
        self.base = f"{firebase.endpoints['pubsub'].url}/v1/projects/{firebase.project}"
        self.name = f"{TOPIC}-dead-letter"
        for path, body in (
            (f"topics/{self.name}", {}),
            (
                f"subscriptions/{self.name}",
                {"topic": f"projects/{firebase.project}/topics/{self.name}"},
            ),
        ):
            response = session().put(f"{self.base}/{path}", json=body, timeout=10)
            assert response.status_code in (200, 409), response.text
        self.pull()  # what earlier tests left

    def pull(self) -> list[dict[str, Any]]:
        """Take every dead letter waiting: ``{"data": bytes, "attributes": {...}}`` each."""
        taken: list[dict[str, Any]] = []
        while True:
            response = session().post(
                f"{self.base}/subscriptions/{self.name}:pull",
                json={"maxMessages": 100, "returnImmediately": True},
                timeout=10,
            )
            received = response.json().get("receivedMessages", [])
            if not received:
                return taken
            session().post(
                f"{self.base}/subscriptions/{self.name}:acknowledge",
                json={"ackIds": [m["ackId"] for m in received]},
                timeout=10,
            ).raise_for_status()
            taken += [
                {
                    "data": base64.b64decode(m["message"].get("data", "")),
                    "attributes": m["message"].get("attributes", {}),
                }
                for m in received
            ]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"\x00 not json", "notJson"),
        ({"version": "1.0", "packageName": PACKAGE, "eventTimeMillis": "1"}, "invalidEvent"),
        (
            subscription_notification("com.example.another.app", "t", NotificationType.RENEWED),
            "foreignPackage",
        ),
    ],
    ids=["not JSON", "no notification in it", "another app's"],
)
def test_a_message_that_is_not_a_notification_for_this_app_is_dead_lettered(
    firebase: EmulatorSuite, play: PlayRemote, message: JsonObject | bytes, reason: str
) -> None:
    letters = DeadLetters(firebase)

    # Acknowledged (no retry could ever read it), and kept with why for an operator.
    assert deliver(firebase, message, message_id=f"junk-{reason}") == 200

    (letter,) = wait_for(letters.pull, timeout=20, message="the dead letter")
    assert letter["attributes"]["focusDeadLetterReason"] == reason
    assert letter["attributes"]["focusDeadLetterFunction"] == FUNCTION
    sent = message if isinstance(message, bytes) else None
    if sent is not None:
        assert letter["data"] == sent
    assert firebase.firestore.as_owner().query("storeEvents") == []


# --- Restoring a purchase -----------------------------------------------------------------------


def test_restoring_a_purchase_grants_pro_and_acknowledges_it(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    # Bought without the purchase account token: its notification finds nobody, and it is left
    # unacknowledged (Google refunds it unless someone restores it within three days) ...
    token = new_token()
    holds(play, token, SubscriptionState.ACTIVE, expiry=NOW + MONTH)
    message = subscription_notification(PACKAGE, token, NotificationType.PURCHASED)
    assert deliver(firebase, message, message_id="play-3") == 200
    assert entitlements(firebase, buyer) == {"pro": False}
    assert acknowledged(play) == []

    # ... until the buyer's device restores it.
    answer = restore(firebase, buyer, token).unwrap()["data"]

    assert answer["pro"] is True and answer["source"] == "google_play"
    assert answer["purchaseAccountToken"] == purchase_account_token(buyer.uid)
    assert entitlements(firebase, buyer)["proUntil"] == NOW + MONTH
    assert acknowledged(play) == [(PRODUCT, token)]


def test_another_account_cannot_restore_someone_elses_purchase(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User
) -> None:
    token = new_token()
    bought(firebase, play, buyer, token)
    other = _buyer(firebase)

    refused = restore(firebase, other, token)

    assert refused.code == "FAILED_PRECONDITION"
    assert refused.error["details"]["reason"] == "SUBSCRIPTION_IN_USE"
    assert entitlements(firebase, other) == {"pro": False}
    assert firebase.firestore.as_owner().query(f"users/{other.uid}/subscriptions") == []
    assert entitlements(firebase, buyer)["pro"] is True


@pytest.mark.parametrize("refusal", ["unknown token", "another product"])
def test_a_purchase_play_does_not_confirm_is_not_restored(
    firebase: EmulatorSuite, play: PlayRemote, buyer: User, refusal: str
) -> None:
    token = new_token()
    holds(play, token, SubscriptionState.ACTIVE, expiry=NOW + MONTH, buyer=buyer)

    refused = (
        restore(firebase, buyer, new_token())
        if refusal == "unknown token"
        else restore(firebase, buyer, token, product="focus.pro.lifetime")
    )

    assert refused.code == "FAILED_PRECONDITION"
    assert refused.error["details"]["reason"] == "PURCHASE_NOT_VERIFIED"
    assert entitlements(firebase, buyer) == {"pro": False}
    assert firebase.firestore.as_owner().query("storeEvents") == []
    assert acknowledged(play) == []

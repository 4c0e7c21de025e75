"""The App Store path to Pro: App Store Server Notifications v2 and restored StoreKit 2
transactions, signed as Apple signs them, reach the person who bought, exactly once and in
Apple's time order, and Pro follows (focus.services.app_store; docs/subscriptions.md).

Apple signs with a key whose certificate chains, through an intermediate, to an Apple root.
These tests make such a chain (with the extensions Apple's verifier demands of each link) and
put its root where the emulated functions look for Apple's roots (``FOCUS_APPLE_ROOTS_DIR``);
a second chain, whose root nobody trusts, plays the forger."""

from __future__ import annotations

import base64
import json
import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import envelope, launched_user
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from firebase_emulator_harness import EmulatorSuite, User
from firebase_emulator_harness.functions import CallableResult
from focus.adapters.app_store import EMULATOR_SETTINGS
from focus.domain.entitlements import Store, event_key, purchase_account_token

BUNDLE_ID, APP_APPLE_ID = EMULATOR_SETTINGS.bundle_id, EMULATOR_SETTINGS.app_apple_id
NOW = datetime.now(UTC).replace(microsecond=0)
MONTH = timedelta(days=30)
PRODUCT = "focus.pro.monthly"
LEAF_MARKER = x509.ObjectIdentifier("1.2.840.113635.100.6.11.1")  # App Store receipt signing
INTERMEDIATE_MARKER = x509.ObjectIdentifier("1.2.840.113635.100.6.2.1")  # Apple WWDR CA


# --- Apple's signatures -------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _link(
    name: str, issuer: Link | None, *, ca: bool, marker: x509.ObjectIdentifier | None
) -> Link:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(
            issuer.certificate.subject
            if issuer
            else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        )
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2045, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if issuer and ca else None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
        )
    )
    if marker is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(marker, b"\x05\x00"), False)
    return Link(key, builder.sign(signer, hashes.SHA256()))


@dataclass(frozen=True)
class Signer:
    """A root, an intermediate and a leaf as Apple's: ``sign`` makes the JWS Apple sends."""

    root: Link
    chain: list[str]
    leaf: Link

    @staticmethod
    def new(name: str) -> Signer:
        root = _link(f"{name} Root CA", None, ca=True, marker=None)
        intermediate = _link(f"{name} WWDR CA", root, ca=True, marker=INTERMEDIATE_MARKER)
        leaf = _link(f"{name} App Store Signing", intermediate, ca=False, marker=LEAF_MARKER)
        chain = [
            base64.b64encode(link.certificate.public_bytes(serialization.Encoding.DER)).decode()
            for link in (leaf, intermediate, root)
        ]
        return Signer(root, chain, leaf)

    def sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self.leaf.key, algorithm="ES256", headers={"x5c": self.chain})


@pytest.fixture(scope="module")
def apple() -> Signer:
    """Apple, as far as the emulated functions can tell: its root is in FOCUS_APPLE_ROOTS_DIR."""
    folder = os.environ.get("FOCUS_APPLE_ROOTS_DIR")
    if not folder:
        pytest.skip("no FOCUS_APPLE_ROOTS_DIR: run through scripts/test")
    signer = Signer.new("Apple")
    root = signer.root.certificate.public_bytes(serialization.Encoding.DER)
    (Path(folder) / f"test-app-store-{uuid.uuid4().hex}.der").write_bytes(root)
    return signer


@pytest.fixture(scope="module")
def forger() -> Signer:
    return Signer.new("Apple")  # the same names, a root nobody trusts


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- What Apple sends ----------------------------------------------------------------------------


@dataclass
class Subscription:
    """One person's App Store subscription, as Apple describes it."""

    token: str | None  # the appAccountToken the app passed at purchase
    environment: str = "Production"
    original: str = field(default_factory=lambda: str(random.randrange(10**14, 10**15)))
    bundle_id: str = BUNDLE_ID

    def transaction(
        self,
        *,
        signed: datetime,
        expires: datetime,
        revoked: datetime | None = None,
        refund: bool = True,
    ) -> dict[str, Any]:
        info: dict[str, Any] = {
            "transactionId": str(random.randrange(10**14, 10**15)),
            "originalTransactionId": self.original,
            "webOrderLineItemId": str(random.randrange(10**14, 10**15)),
            "bundleId": self.bundle_id,
            "productId": PRODUCT,
            "subscriptionGroupIdentifier": "21482156",
            "purchaseDate": ms(expires - MONTH),
            "originalPurchaseDate": ms(expires - MONTH),
            "expiresDate": ms(expires),
            "quantity": 1,
            "type": "Auto-Renewable Subscription",
            "inAppOwnershipType": "PURCHASED",
            "signedDate": ms(signed),
            "environment": self.environment,
            "transactionReason": "PURCHASE",
            "storefront": "DEU",
            "storefrontId": "143443",
            "price": 4990,
            "currency": "EUR",
        }
        if self.token:
            info["appAccountToken"] = self.token
        if revoked is not None:
            info["revocationDate"] = ms(revoked)
            # A refund says why (revocationReason); Family Sharing's withdrawal says how.
            info |= {"revocationReason": 0} if refund else {"revocationType": "FAMILY_REVOKE"}
        return info

    def renewal(self, *, signed: datetime, grace_until: datetime | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "originalTransactionId": self.original,
            "autoRenewProductId": PRODUCT,
            "productId": PRODUCT,
            "autoRenewStatus": 1,
            "signedDate": ms(signed),
            "environment": self.environment,
            "recentSubscriptionStartDate": ms(signed - MONTH),
        }
        if grace_until is not None:
            info |= {"isInBillingRetryPeriod": True, "gracePeriodExpiresDate": ms(grace_until)}
        return info


def notification(
    signer: Signer,
    bought: Subscription,
    kind: str,
    subtype: str | None = None,
    *,
    signed: datetime,
    expires: datetime,
    grace_until: datetime | None = None,
    revoked: datetime | None = None,
    refund: bool = True,
    notification_id: str | None = None,
    app_apple_id: int = APP_APPLE_ID,
) -> bytes:
    """The body Apple POSTs: ``{"signedPayload": <JWS>}``, with the transaction and renewal infos
    signed inside."""
    transaction = bought.transaction(signed=signed, expires=expires, revoked=revoked, refund=refund)
    renewal = bought.renewal(signed=signed, grace_until=grace_until)
    payload: dict[str, Any] = {
        "notificationType": kind,
        "notificationUUID": notification_id or str(uuid.uuid4()),
        "data": {
            "appAppleId": app_apple_id,
            "bundleId": bought.bundle_id,
            "bundleVersion": "412",
            "environment": bought.environment,
            "signedTransactionInfo": signer.sign(transaction),
            "signedRenewalInfo": signer.sign(renewal),
            "status": 1,
        },
        "version": "2.0",
        "signedDate": ms(signed),
    }
    if subtype is not None:
        payload["subtype"] = subtype
    return json.dumps({"signedPayload": signer.sign(payload)}).encode()


def ping(signer: Signer, *, signed: datetime) -> bytes:
    """App Store Connect's "Request a Test Notification"."""
    payload = {
        "notificationType": "TEST",
        "notificationUUID": str(uuid.uuid4()),
        "data": {"appAppleId": APP_APPLE_ID, "bundleId": BUNDLE_ID, "environment": "Production"},
        "version": "2.0",
        "signedDate": ms(signed),
    }
    return json.dumps({"signedPayload": signer.sign(payload)}).encode()


def deliver(firebase: EmulatorSuite, body: bytes) -> tuple[int, Any]:
    """Apple's POST to the notification URL set in App Store Connect."""
    return firebase.functions.post(
        "appStoreNotifications", body=body, headers={"Content-Type": "application/json"}
    )


def delivered(firebase: EmulatorSuite, body: bytes) -> str:
    status, answer = deliver(firebase, body)
    assert status == 200, answer
    return str(answer["outcome"])


# --- What the person has -------------------------------------------------------------------------


@pytest.fixture
def buyer(firebase: EmulatorSuite) -> User:
    """A person who opened the app and asked for their entitlements, as the app does before
    showing the paywall (which records their purchase account token)."""
    return new_buyer(firebase)


def new_buyer(firebase: EmulatorSuite) -> User:
    person = launched_user(firebase)
    firebase.functions.call("getEntitlements", envelope(), user=person).unwrap()
    return person


def bought_by(person: User, **details: Any) -> Subscription:
    return Subscription(purchase_account_token(person.uid), **details)


def entitlements(firebase: EmulatorSuite, person: User) -> dict[str, Any]:
    profile = firebase.firestore.as_owner().get(f"users/{person.uid}") or {}
    return dict(profile.get("entitlements") or {})


def token_claims(firebase: EmulatorSuite, person: User) -> dict[str, Any]:
    """The claims in the person's next ID token: what the app and the rules see once the app
    refreshes its token (it does when ``entitlements.updatedAt`` moves)."""
    firebase.auth.refresh(person)
    payload = person.id_token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def nothing_written(firebase: EmulatorSuite, person: User) -> bool:
    owner = firebase.firestore.as_owner()
    return (
        owner.query("storeEvents") == []
        and owner.query("storeSubscriptions") == []
        and owner.query(f"users/{person.uid}/subscriptions") == []
        and entitlements(firebase, person) == {"pro": False}
    )


# --- Notifications ------------------------------------------------------------------------------


def test_a_purchase_gives_pro_until_the_period_ends_within_one_notification(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    bought = bought_by(buyer)

    outcome = delivered(
        firebase,
        notification(apple, bought, "SUBSCRIBED", "INITIAL_BUY", signed=NOW, expires=NOW + MONTH),
    )

    assert outcome == "applied"
    granted = entitlements(firebase, buyer)
    assert granted["pro"] is True and granted["proUntil"] == NOW + MONTH
    assert (granted["source"], granted["state"], granted["productId"]) == (
        "app_store",
        "active",
        PRODUCT,
    )
    claims = token_claims(firebase, buyer)
    assert claims["pro"] is True and claims["proUntil"] == int((NOW + MONTH).timestamp())


def test_a_renewal_extends_pro(firebase: EmulatorSuite, apple: Signer, buyer: User) -> None:
    bought = bought_by(buyer)
    start = NOW - MONTH + timedelta(hours=1)
    delivered(
        firebase, notification(apple, bought, "SUBSCRIBED", signed=start, expires=start + MONTH)
    )

    renewed = notification(apple, bought, "DID_RENEW", signed=NOW, expires=start + 2 * MONTH)

    assert delivered(firebase, renewed) == "applied"
    assert entitlements(firebase, buyer)["proUntil"] == start + 2 * MONTH


def test_a_failed_renewal_keeps_pro_through_the_grace_period_and_tells_the_person_once(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    bought = bought_by(buyer)
    lapsed = NOW - timedelta(hours=2)  # the period Apple could not renew ended then
    grace_end = lapsed + timedelta(days=16)
    delivered(
        firebase,
        notification(apple, bought, "SUBSCRIBED", signed=lapsed - MONTH, expires=lapsed),
    )

    failed = notification(
        apple,
        bought,
        "DID_FAIL_TO_RENEW",
        "GRACE_PERIOD",
        signed=lapsed + timedelta(minutes=1),
        expires=lapsed,
        grace_until=grace_end,
    )
    assert delivered(firebase, failed) == "applied"

    in_grace = entitlements(firebase, buyer)
    assert (in_grace["pro"], in_grace["state"], in_grace["proUntil"]) == (True, "grace", grace_end)
    notices = firebase.firestore.as_owner().query(f"users/{buyer.uid}/outbox")
    assert [data["kind"] for _, data in notices] == ["billing_problem"]

    recovered = notification(
        apple, bought, "DID_RENEW", "BILLING_RECOVERY", signed=NOW, expires=NOW + MONTH
    )
    assert delivered(firebase, recovered) == "applied"
    again = entitlements(firebase, buyer)
    assert (again["pro"], again["state"], again["proUntil"]) == (True, "active", NOW + MONTH)


def test_when_the_grace_period_ends_pro_ends_while_apple_retries_without_a_second_notice(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    bought = bought_by(buyer)
    lapsed = NOW - timedelta(days=17)
    grace_end = NOW - timedelta(hours=1)
    delivered(
        firebase,
        notification(
            apple,
            bought,
            "DID_FAIL_TO_RENEW",
            "GRACE_PERIOD",
            signed=lapsed,
            expires=lapsed,
            grace_until=grace_end,
        ),
    )

    ended = notification(apple, bought, "GRACE_PERIOD_EXPIRED", signed=NOW, expires=lapsed)

    assert delivered(firebase, ended) == "applied"
    after = entitlements(firebase, buyer)
    assert (after["pro"], after["state"]) == (False, "billing_retry")
    assert len(firebase.firestore.as_owner().query(f"users/{buyer.uid}/outbox")) == 1


def test_expiry_ends_pro_and_the_claim_follows(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    bought = bought_by(buyer)
    delivered(
        firebase,
        notification(apple, bought, "SUBSCRIBED", signed=NOW - MONTH, expires=NOW + MONTH),
    )

    expired = notification(apple, bought, "EXPIRED", "VOLUNTARY", signed=NOW, expires=NOW)

    assert delivered(firebase, expired) == "applied"
    after = entitlements(firebase, buyer)
    assert (after["pro"], after["state"]) == (False, "expired")
    assert token_claims(firebase, buyer)["pro"] is False


@pytest.mark.parametrize(
    ("kind", "refund", "state"), [("REFUND", True, "refunded"), ("REVOKE", False, "revoked")]
)
def test_a_refund_or_a_revocation_takes_pro_away(
    firebase: EmulatorSuite, apple: Signer, buyer: User, kind: str, refund: bool, state: str
) -> None:
    bought = bought_by(buyer)
    delivered(
        firebase,
        notification(apple, bought, "SUBSCRIBED", signed=NOW - MONTH / 2, expires=NOW + MONTH),
    )

    taken_back = notification(
        apple, bought, kind, signed=NOW, expires=NOW + MONTH, revoked=NOW, refund=refund
    )

    assert delivered(firebase, taken_back) == "applied"
    after = entitlements(firebase, buyer)
    assert (after["pro"], after["state"]) == (False, state)


def test_the_same_notification_twice_applies_once(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    purchase = notification(apple, bought_by(buyer), "SUBSCRIBED", signed=NOW, expires=NOW + MONTH)

    assert delivered(firebase, purchase) == "applied"
    assert delivered(firebase, purchase) == "duplicate"


def test_an_older_notification_delivered_late_leaves_the_later_state(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    bought = bought_by(buyer)
    expired = notification(apple, bought, "EXPIRED", "VOLUNTARY", signed=NOW, expires=NOW)
    renewed = notification(
        apple, bought, "DID_RENEW", signed=NOW - timedelta(days=2), expires=NOW + MONTH
    )

    assert delivered(firebase, expired) == "applied"
    assert delivered(firebase, renewed) == "unchanged"
    after = entitlements(firebase, buyer)
    assert (after["pro"], after["state"]) == (False, "expired")


def test_a_notification_that_changes_nothing_is_acknowledged(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    auto_renew_off = notification(
        apple,
        bought_by(buyer),
        "DID_CHANGE_RENEWAL_STATUS",
        "AUTO_RENEW_DISABLED",
        signed=NOW,
        expires=NOW + MONTH,
    )

    assert delivered(firebase, auto_renew_off) == "unchanged"
    assert delivered(firebase, ping(apple, signed=NOW)) == "unchanged"
    assert entitlements(firebase, buyer) == {"pro": False}


def test_a_sandbox_purchase_counts_and_is_recorded_as_sandbox(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    # App Review buys with sandbox accounts against the production backend (the module
    # docstring of focus.adapters.app_store); a sandbox notification carries no App Apple ID.
    bought = bought_by(buyer, environment="Sandbox")
    body = notification(apple, bought, "SUBSCRIBED", signed=NOW, expires=NOW + MONTH)

    assert delivered(firebase, body) == "applied"
    ((_, record),) = firebase.firestore.as_owner().query(f"users/{buyer.uid}/subscriptions")
    assert (record["environment"], record["state"]) == ("sandbox", "active")


def refusals(apple: Signer, forger: Signer, bought: Subscription) -> dict[str, bytes]:
    def signed(signer: Signer, subscription: Subscription, **details: Any) -> bytes:
        return notification(
            signer, subscription, "SUBSCRIBED", signed=NOW, expires=NOW + MONTH, **details
        )

    other_app = Subscription(bought.token, bundle_id="com.example.another.app")
    return {
        "forged": signed(forger, bought),
        "another app": signed(apple, other_app),
        "another App Apple ID": signed(apple, bought, app_apple_id=APP_APPLE_ID + 1),
        # Xcode's StoreKit testing signs locally; Apple's library skips the check for it.
        "Xcode's environment": signed(apple, Subscription(bought.token, environment="Xcode")),
        "not a JWS": json.dumps({"signedPayload": "not.a.jws"}).encode(),
        "not JSON": b"signedPayload=eyJhbGciOiJFUzI1NiJ9",
        "empty": b"",
    }


@pytest.mark.parametrize(
    "refusal",
    [
        "forged",
        "another app",
        "another App Apple ID",
        "Xcode's environment",
        "not a JWS",
        "not JSON",
        "empty",
    ],
)
def test_what_apple_did_not_sign_for_this_app_is_refused_and_writes_nothing(
    firebase: EmulatorSuite, apple: Signer, forger: Signer, buyer: User, refusal: str
) -> None:
    body = refusals(apple, forger, bought_by(buyer))[refusal]

    status, answer = deliver(firebase, body)

    assert status == 401, answer
    assert answer["error"]["status"] == "UNAUTHENTICATED"
    assert nothing_written(firebase, buyer)


def test_a_signed_transaction_altered_after_signing_is_refused(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    signed = json.loads(
        notification(apple, bought_by(buyer), "SUBSCRIBED", signed=NOW, expires=NOW + MONTH)
    )["signedPayload"]
    header, payload, signature = signed.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["notificationType"] = "REFUND_REVERSED"
    altered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    status, _ = deliver(
        firebase, json.dumps({"signedPayload": f"{header}.{altered}.{signature}"}).encode()
    )

    assert status == 401
    assert nothing_written(firebase, buyer)


# --- Restoring a purchase from the device -------------------------------------------------------


def restore(firebase: EmulatorSuite, person: User, signed_transaction: str) -> CallableResult:
    """What the app sends for each transaction StoreKit 2 holds (``restorePurchases``)."""
    purchase = {"store": "app_store", "signedTransaction": signed_transaction}
    return firebase.functions.call(
        "restorePurchases", envelope({"purchase": purchase}), user=person
    )


def restored(firebase: EmulatorSuite, person: User, signed_transaction: str) -> dict[str, Any]:
    """The entitlements ``restorePurchases`` answers with."""
    answer = restore(firebase, person, signed_transaction).unwrap()
    assert isinstance(answer, dict)
    return dict(answer["data"])


def test_restoring_a_valid_transaction_grants_pro(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    held = apple.sign(bought_by(buyer).transaction(signed=NOW, expires=NOW + MONTH))

    answer = restored(firebase, buyer, held)

    assert answer["pro"] is True and answer["source"] == "app_store"
    assert answer["purchaseAccountToken"] == purchase_account_token(buyer.uid)
    assert entitlements(firebase, buyer)["proUntil"] == NOW + MONTH
    assert token_claims(firebase, buyer)["pro"] is True


def test_restoring_a_purchase_made_without_an_account_token_binds_it_to_the_person(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    # Bought before the app passed tokens (or on another install): whoever restores it first.
    held = apple.sign(Subscription(None).transaction(signed=NOW, expires=NOW + MONTH))

    assert restored(firebase, buyer, held)["pro"] is True
    assert restored(firebase, buyer, held)["pro"] is True  # again: the same answer


def test_another_account_cannot_restore_someone_else_s_subscription(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    bought = bought_by(buyer)
    held = apple.sign(bought.transaction(signed=NOW, expires=NOW + MONTH))
    restored(firebase, buyer, held)
    other = new_buyer(firebase)

    refused = restore(firebase, other, held)

    assert refused.code == "FAILED_PRECONDITION"
    assert refused.error["details"]["reason"] == "SUBSCRIPTION_IN_USE"
    assert entitlements(firebase, other) == {"pro": False}
    assert firebase.firestore.as_owner().query(f"users/{other.uid}/subscriptions") == []
    assert entitlements(firebase, buyer)["pro"] is True


@pytest.mark.parametrize("refusal", ["forged", "another app", "sandbox in Xcode", "garbage"])
def test_a_transaction_apple_did_not_sign_for_this_app_is_not_restored(
    firebase: EmulatorSuite, apple: Signer, forger: Signer, buyer: User, refusal: str
) -> None:
    token = purchase_account_token(buyer.uid)
    held = {
        "forged": lambda: forger.sign(
            bought_by(buyer).transaction(signed=NOW, expires=NOW + MONTH)
        ),
        "another app": lambda: apple.sign(
            Subscription(token, bundle_id="com.example.another.app").transaction(
                signed=NOW, expires=NOW + MONTH
            )
        ),
        "sandbox in Xcode": lambda: apple.sign(
            Subscription(token, environment="Xcode").transaction(signed=NOW, expires=NOW + MONTH)
        ),
        "garbage": lambda: "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
    }[refusal]()

    refused = restore(firebase, buyer, held)

    assert refused.code == "FAILED_PRECONDITION"
    assert refused.error["details"]["reason"] == "PURCHASE_NOT_VERIFIED"
    assert nothing_written(firebase, buyer)


def test_restoring_a_run_out_transaction_keeps_a_grace_period_apple_began_later(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    bought = bought_by(buyer)
    lapsed = NOW - timedelta(hours=3)
    delivered(
        firebase,
        notification(
            apple,
            bought,
            "DID_FAIL_TO_RENEW",
            "GRACE_PERIOD",
            signed=lapsed + timedelta(minutes=1),
            expires=lapsed,
            grace_until=lapsed + timedelta(days=16),
        ),
    )
    held = apple.sign(bought.transaction(signed=NOW, expires=lapsed))  # the last paid period

    answer = restored(firebase, buyer, held)

    assert (answer["pro"], answer["state"]) == (True, "grace")


def test_apple_s_notification_id_is_what_makes_a_redelivery_a_duplicate(
    firebase: EmulatorSuite, apple: Signer, buyer: User
) -> None:
    notification_id = str(uuid.uuid4())
    body = notification(
        apple,
        bought_by(buyer),
        "SUBSCRIBED",
        signed=NOW,
        expires=NOW + MONTH,
        notification_id=notification_id,
    )

    delivered(firebase, body)

    key = event_key(Store.APP_STORE, notification_id)
    event = firebase.firestore.as_owner().get(f"storeEvents/{key}")
    assert event is not None and (event["store"], event["state"]) == ("app_store", "active")

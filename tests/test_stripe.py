"""The web checkout: Stripe's webhook events, signed as Stripe signs them, reach the person the
checkout named, exactly once and in Stripe's time order, and Pro follows
(focus.services.stripe_billing; docs/subscriptions.md).

Events are built in the shape of the current API (2025-03-31 and later: the period on the
subscription's items, the invoice's subscription under ``parent``, payments linked to invoices by
``invoice_payment.paid``) unless a test says it is an endpoint on an older API version."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import envelope, launched_user

from firebase_emulator_harness import EmulatorSuite, User
from focus.domain.entitlements import Store, event_key, purchase_account_token, subscription_key

SECRET = "whsec_emulator_demo-focus"  # functions/webhooks/.secret.local (scripts/setup)
DAY = 24 * 3600
MONTH = 30 * DAY


@pytest.fixture
def buyer(firebase: EmulatorSuite) -> User:
    """A person who opened the app and asked for their entitlements, as the web page does before
    it opens Stripe Checkout with their purchase account token."""
    person = launched_user(firebase)
    firebase.functions.call("getEntitlements", envelope(), user=person).unwrap()
    return person


# --- What Stripe sends ------------------------------------------------------------------------


def stripe_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def event(kind: str, obj: dict[str, Any], *, created: int, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or stripe_id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "type": kind,
            "created": created,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": obj},
        }
    ).encode()


def checkout_completed(
    subscription: str, token: str | None, *, created: int, payment_status: str = "paid"
) -> bytes:
    session = {
        "id": stripe_id("cs_test"),
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": payment_status,
        "client_reference_id": token,
        "customer": "cus_ada",
        "subscription": subscription,
    }
    return event("checkout.session.completed", session, created=created)


def invoice(
    subscription: str,
    *,
    period_end: int,
    token: str | None = None,
    invoice_id: str | None = None,
    billing_reason: str = "subscription_cycle",
) -> dict[str, Any]:
    return {
        "id": invoice_id or stripe_id("in"),
        "object": "invoice",
        "billing_reason": billing_reason,
        "customer": "cus_ada",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": subscription,
                "metadata": {"purchase_account_token": token} if token else {},
            },
        },
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": stripe_id("il"),
                    "object": "line_item",
                    "period": {"start": period_end - MONTH, "end": period_end},
                    "pricing": {
                        "type": "price_details",
                        "price_details": {"price": "price_pro_monthly", "product": "prod_pro"},
                    },
                }
            ],
        },
    }


def subscription_object(
    subscription: str, status: str, *, period_end: int, token: str | None = None
) -> dict[str, Any]:
    return {
        "id": subscription,
        "object": "subscription",
        "status": status,
        "customer": "cus_ada",
        "metadata": {"purchase_account_token": token} if token else {},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": stripe_id("si"),
                    "object": "subscription_item",
                    "price": {"id": "price_pro_monthly", "product": "prod_pro"},
                    "current_period_end": period_end,
                }
            ],
        },
    }


def invoice_payment_paid(invoice_id: str, payment_intent: str, *, created: int) -> bytes:
    paid = {
        "id": stripe_id("inpay"),
        "object": "invoice_payment",
        "invoice": invoice_id,
        "payment": {"type": "payment_intent", "payment_intent": payment_intent},
        "status": "paid",
    }
    return event("invoice_payment.paid", paid, created=created)


def charge(payment_intent: str, *, refunded: bool, **older_api: Any) -> dict[str, Any]:
    return {
        "id": stripe_id("ch"),
        "object": "charge",
        "amount": 799,
        "amount_refunded": 799 if refunded else 200,
        "refunded": refunded,
        "payment_intent": payment_intent,
        **older_api,
    }


# --- Sending it -------------------------------------------------------------------------------


def signature(body: bytes, *, at: int | None = None, secret: str = SECRET) -> str:
    """The Stripe-Signature header as Stripe computes it: HMAC-SHA256 of ``<t>.<body>``."""
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def deliver(
    firebase: EmulatorSuite, body: bytes, *, header: str | None = None, signed: bool = True
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["Stripe-Signature"] = header or signature(body)
    return firebase.functions.post("stripeWebhook", body=body, headers=headers)


def applied(firebase: EmulatorSuite, body: bytes) -> str:
    """Deliver a signed event; the outcome Stripe is answered (200) with."""
    status, answer = deliver(firebase, body)
    assert status == 200, answer
    return str(answer["outcome"])


# --- What it changed --------------------------------------------------------------------------


def entitlements(firebase: EmulatorSuite, person: User) -> dict[str, Any]:
    profile = firebase.firestore.as_owner().get(f"users/{person.uid}") or {}
    return dict(profile.get("entitlements") or {})


def claims(person: User) -> dict[str, Any]:
    from firebase_admin import auth

    from focus.adapters import clients

    return dict(auth.get_user(person.uid, app=clients.firebase_app()).custom_claims or {})


def billing_problems(firebase: EmulatorSuite, person: User) -> list[dict[str, Any]]:
    entries = firebase.firestore.as_owner().query(f"users/{person.uid}/outbox")
    return [entry for _, entry in entries if entry.get("kind") == "billing_problem"]


def moment(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def subscribed(firebase: EmulatorSuite, person: User, *, now: int) -> tuple[str, int]:
    """A checkout the person completed a minute ago, with its first invoice paid: the
    subscription id and the end of its first month."""
    subscription, first_end = stripe_id("sub"), now + MONTH
    token = purchase_account_token(person.uid)
    first = invoice(
        subscription, period_end=first_end, token=token, billing_reason="subscription_create"
    )
    assert applied(firebase, event("invoice.paid", first, created=now - 60)) == "applied"
    assert applied(firebase, checkout_completed(subscription, token, created=now - 59)) in (
        "applied",
        "unchanged",
    )
    return subscription, first_end


# --- Specifications ---------------------------------------------------------------------------


def test_a_completed_checkout_gives_pro_with_that_one_event(
    firebase: EmulatorSuite, buyer: User
) -> None:
    subscription, now = stripe_id("sub"), int(time.time())
    token = purchase_account_token(buyer.uid)

    assert applied(firebase, checkout_completed(subscription, token, created=now)) == "applied"

    granted = entitlements(firebase, buyer)
    assert granted["pro"] is True
    assert granted["source"] == "stripe" and granted["state"] == "active"
    assert claims(buyer)["pro"] is True
    binding = firebase.firestore.as_owner().get(
        f"storeSubscriptions/{subscription_key(Store.STRIPE, subscription)}"
    )
    assert binding is not None and binding["uid"] == buyer.uid


def test_the_first_invoice_sets_until_when_and_a_paid_renewal_moves_it(
    firebase: EmulatorSuite, buyer: User
) -> None:
    now = int(time.time())
    subscription, first_end = subscribed(firebase, buyer, now=now)
    assert entitlements(firebase, buyer)["proUntil"] == moment(first_end)
    assert claims(buyer)["proUntil"] == first_end

    renewal = invoice(subscription, period_end=first_end + MONTH)
    assert applied(firebase, event("invoice.paid", renewal, created=now)) == "applied"

    granted = entitlements(firebase, buyer)
    assert granted["pro"] is True and granted["proUntil"] == moment(first_end + MONTH)
    assert granted["productId"] == "price_pro_monthly"
    assert claims(buyer)["pro"] is True and claims(buyer)["proUntil"] == first_end + MONTH


def test_a_failed_renewal_stops_pro_tells_the_person_once_and_a_paid_retry_restores_it(
    firebase: EmulatorSuite, buyer: User
) -> None:
    now = int(time.time())
    subscription, first_end = subscribed(firebase, buyer, now=now)
    renewal = invoice(subscription, period_end=first_end + MONTH)

    assert applied(firebase, event("invoice.payment_failed", renewal, created=now)) == "applied"
    granted = entitlements(firebase, buyer)
    assert granted["pro"] is False and granted["state"] == "billing_retry"
    assert claims(buyer)["pro"] is False
    assert len(billing_problems(firebase, buyer)) == 1

    # Smart Retries: another failure, and the subscription turning past_due, say nothing new.
    assert applied(firebase, event("invoice.payment_failed", renewal, created=now + 1)) in (
        "applied",
        "unchanged",
    )
    past_due = subscription_object(subscription, "past_due", period_end=first_end + MONTH)
    applied(firebase, event("customer.subscription.updated", past_due, created=now + 2))
    assert entitlements(firebase, buyer)["pro"] is False
    assert len(billing_problems(firebase, buyer)) == 1

    assert applied(firebase, event("invoice.paid", renewal, created=now + 3)) == "applied"
    granted = entitlements(firebase, buyer)
    assert granted["pro"] is True and granted["proUntil"] == moment(first_end + MONTH)
    assert claims(buyer)["pro"] is True


def test_a_first_payment_failing_on_the_checkout_page_grants_nothing_and_tells_nobody(
    firebase: EmulatorSuite, buyer: User
) -> None:
    subscription, now = stripe_id("sub"), int(time.time())
    first = invoice(
        subscription,
        period_end=now + MONTH,
        token=purchase_account_token(buyer.uid),
        billing_reason="subscription_create",
    )

    assert applied(firebase, event("invoice.payment_failed", first, created=now)) == "unchanged"

    assert entitlements(firebase, buyer).get("pro", False) is False
    assert billing_problems(firebase, buyer) == []


def test_a_deleted_subscription_expires_and_pro_ends(firebase: EmulatorSuite, buyer: User) -> None:
    now = int(time.time())
    subscription, first_end = subscribed(firebase, buyer, now=now)
    ended = subscription_object(subscription, "canceled", period_end=first_end)

    assert applied(firebase, event("customer.subscription.deleted", ended, created=now)) == (
        "applied"
    )

    granted = entitlements(firebase, buyer)
    assert granted["pro"] is False and granted["state"] == "expired"
    assert "proUntil" not in granted
    assert claims(buyer)["pro"] is False and "proUntil" not in claims(buyer)


@pytest.mark.parametrize(
    ("status", "state", "pro"),
    [
        ("trialing", "active", True),
        ("active", "active", True),
        ("past_due", "billing_retry", False),
        ("unpaid", "expired", False),
        ("paused", "expired", False),
        ("incomplete_expired", "expired", False),
    ],
)
def test_a_subscription_update_sets_the_state_its_status_means(
    firebase: EmulatorSuite, buyer: User, status: str, state: str, pro: bool
) -> None:
    subscription, now = stripe_id("sub"), int(time.time())
    token = purchase_account_token(buyer.uid)
    changed = subscription_object(subscription, status, period_end=now + MONTH, token=token)

    assert applied(firebase, event("customer.subscription.updated", changed, created=now)) == (
        "applied"
    )

    granted = entitlements(firebase, buyer)
    assert (granted["state"], granted["pro"]) == (state, pro)
    if pro:
        assert granted["proUntil"] == moment(now + MONTH)


def test_a_full_refund_ends_pro_and_a_partial_one_changes_nothing(
    firebase: EmulatorSuite, buyer: User
) -> None:
    now = int(time.time())
    subscription, first_end = subscribed(firebase, buyer, now=now)
    renewal_id, payment = stripe_id("in"), stripe_id("pi")
    renewal = invoice(subscription, period_end=first_end + MONTH, invoice_id=renewal_id)
    applied(firebase, event("invoice.paid", renewal, created=now))
    assert applied(firebase, invoice_payment_paid(renewal_id, payment, created=now)) == "ignored"

    partial = charge(payment, refunded=False)
    assert applied(firebase, event("charge.refunded", partial, created=now + DAY)) == "ignored"
    assert entitlements(firebase, buyer)["pro"] is True

    full = charge(payment, refunded=True)
    assert applied(firebase, event("charge.refunded", full, created=now + 2 * DAY)) == "applied"
    granted = entitlements(firebase, buyer)
    assert granted["pro"] is False and granted["state"] == "refunded"
    assert claims(buyer)["pro"] is False


def test_a_refund_on_an_endpoint_of_an_older_api_version_finds_the_subscription_too(
    firebase: EmulatorSuite, buyer: User
) -> None:
    """Before API 2025-03-31: the period on the subscription, the subscription on the invoice,
    the charge naming its invoice."""
    subscription, payment, now = stripe_id("sub"), stripe_id("pi"), int(time.time())
    token = purchase_account_token(buyer.uid)
    older = {
        "id": subscription,
        "object": "subscription",
        "status": "active",
        "current_period_end": now + MONTH,
        "metadata": {"purchase_account_token": token},
        "items": {"object": "list", "data": [{"price": {"id": "price_pro_monthly"}}]},
    }
    applied(firebase, event("customer.subscription.created", older, created=now - 60))
    assert entitlements(firebase, buyer)["proUntil"] == moment(now + MONTH)
    paid = {
        "id": stripe_id("in"),
        "object": "invoice",
        "billing_reason": "subscription_create",
        "subscription": subscription,
        "subscription_details": {"metadata": {"purchase_account_token": token}},
        "payment_intent": payment,
        "lines": {"data": [{"period": {"end": now + MONTH}, "price": {"id": "price_pro_monthly"}}]},
    }
    applied(firebase, event("invoice.paid", paid, created=now - 59))

    refunded = charge(payment, refunded=True, invoice=paid["id"])
    assert applied(firebase, event("charge.refunded", refunded, created=now)) == "applied"

    assert entitlements(firebase, buyer)["state"] == "refunded"


def test_a_dispute_revokes_pro(firebase: EmulatorSuite, buyer: User) -> None:
    now = int(time.time())
    subscription, first_end = subscribed(firebase, buyer, now=now)
    renewal_id, payment = stripe_id("in"), stripe_id("pi")
    applied(
        firebase,
        event(
            "invoice.paid",
            invoice(subscription, period_end=first_end + MONTH, invoice_id=renewal_id),
            created=now,
        ),
    )
    applied(firebase, invoice_payment_paid(renewal_id, payment, created=now))
    dispute = {
        "id": stripe_id("dp"),
        "object": "dispute",
        "charge": stripe_id("ch"),
        "payment_intent": payment,
        "reason": "fraudulent",
        "status": "needs_response",
    }

    assert applied(firebase, event("charge.dispute.created", dispute, created=now + DAY)) == (
        "applied"
    )

    granted = entitlements(firebase, buyer)
    assert granted["pro"] is False and granted["state"] == "revoked"
    assert claims(buyer)["pro"] is False


@pytest.mark.parametrize(
    "forgery",
    ["another secret", "stale timestamp", "no header", "body changed", "garbage header"],
)
def test_a_request_stripe_did_not_sign_just_now_is_refused_and_writes_nothing(
    firebase: EmulatorSuite, buyer: User, forgery: str
) -> None:
    subscription, now = stripe_id("sub"), int(time.time())
    event_id = stripe_id("evt")
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "checkout.session.completed",
            "created": now,
            "data": {
                "object": {
                    "id": stripe_id("cs_test"),
                    "mode": "subscription",
                    "payment_status": "paid",
                    "client_reference_id": purchase_account_token(buyer.uid),
                    "subscription": subscription,
                }
            },
        }
    ).encode()
    before = entitlements(firebase, buyer)
    sent, header = body, signature(body)
    match forgery:
        case "another secret":
            header = signature(body, secret="whsec_someone_else")
        case "stale timestamp":
            header = signature(body, at=now - 301 - 60)
        case "body changed":
            sent = body.replace(b'"paid"', b'"paid" ')
        case "garbage header":
            header = "v1=deadbeef"

    status, answer = deliver(firebase, sent, header=header, signed=forgery != "no header")

    assert status == 401
    assert answer["error"]["status"] == "UNAUTHENTICATED"
    assert entitlements(firebase, buyer) == before
    owner = firebase.firestore.as_owner()
    assert owner.get(f"storeEvents/{event_key(Store.STRIPE, event_id)}") is None
    assert owner.get(f"storeSubscriptions/{subscription_key(Store.STRIPE, subscription)}") is None


def test_a_signed_body_that_is_not_a_stripe_event_is_refused(
    firebase: EmulatorSuite, buyer: User
) -> None:
    status, answer = deliver(firebase, b'{"object": "charge", "id": "ch_1"}')

    assert status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"


def test_the_same_event_delivered_twice_is_applied_once(
    firebase: EmulatorSuite, buyer: User
) -> None:
    subscription, now = stripe_id("sub"), int(time.time())
    body = checkout_completed(subscription, purchase_account_token(buyer.uid), created=now)

    assert applied(firebase, body) == "applied"
    first = entitlements(firebase, buyer)
    assert applied(firebase, body) == "duplicate"  # Stripe redelivers, signed anew

    assert entitlements(firebase, buyer) == first


def test_an_older_payment_delivered_after_the_deletion_leaves_the_subscription_expired(
    firebase: EmulatorSuite, buyer: User
) -> None:
    now = int(time.time())
    subscription, first_end = subscribed(firebase, buyer, now=now - DAY)
    older_renewal = invoice(subscription, period_end=first_end + MONTH)
    ended = subscription_object(subscription, "canceled", period_end=first_end)

    assert applied(firebase, event("customer.subscription.deleted", ended, created=now)) == (
        "applied"
    )
    assert applied(firebase, event("invoice.paid", older_renewal, created=now - 10)) == (
        "unchanged"
    )

    granted = entitlements(firebase, buyer)
    assert granted["pro"] is False and granted["state"] == "expired"
    assert claims(buyer)["pro"] is False


def test_a_subscription_bound_to_one_account_is_refused_to_another(
    firebase: EmulatorSuite, buyer: User
) -> None:
    now = int(time.time())
    subscription, first_end = subscribed(firebase, buyer, now=now)
    other = launched_user(firebase)
    firebase.functions.call("getEntitlements", envelope(), user=other).unwrap()
    before, others_before = entitlements(firebase, buyer), entitlements(firebase, other)
    claimed = subscription_object(
        subscription, "active", period_end=first_end, token=purchase_account_token(other.uid)
    )
    event_id = stripe_id("evt")

    body = event("customer.subscription.updated", claimed, created=now, event_id=event_id)
    assert applied(firebase, body) == "bound_elsewhere"

    assert entitlements(firebase, other) == others_before
    assert firebase.firestore.as_owner().query(f"users/{other.uid}/subscriptions") == []
    assert (
        firebase.firestore.as_owner().get(f"storeEvents/{event_key(Store.STRIPE, event_id)}")
        is None
    )
    assert entitlements(firebase, buyer) == before


def test_events_that_say_nothing_about_a_subscription_are_acknowledged_and_ignored(
    firebase: EmulatorSuite, buyer: User
) -> None:
    now = int(time.time())
    one_off = {
        "id": stripe_id("cs_test"),
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "client_reference_id": purchase_account_token(buyer.uid),
        "subscription": None,
    }
    before = entitlements(firebase, buyer)

    assert applied(firebase, event("customer.created", {"id": "cus_ada"}, created=now)) == (
        "ignored"
    )
    assert applied(firebase, event("checkout.session.completed", one_off, created=now)) == (
        "ignored"
    )
    assert entitlements(firebase, buyer) == before

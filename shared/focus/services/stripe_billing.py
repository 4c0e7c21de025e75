"""The web checkout's subscriptions: Stripe's webhook events applied as store facts.

Every request is verified first (``focus.adapters.stripe_events``: the ``Stripe-Signature``
header, five minutes' tolerance); a bad, stale or missing signature is refused (401) with
nothing read or written. A verified event becomes at most one ``StoreFact`` (``Store.STRIPE``,
``event_id`` = the event id, so a redelivery is a duplicate; ``occurred_at`` = the event's
``created``, so an older event delivered late changes nothing; ``subscription_id`` = the Stripe
subscription id), applied by ``focus.services.subscriptions.apply``:

======================================  ===============================================
event                                   the subscription becomes
======================================  ===============================================
checkout.session.completed              active (mode ``subscription``, paid or a trial; a
                                        delayed payment binds the account, no state)
customer.subscription.created/.updated  by status: active, trialing -> active until the
                                        current period's end; past_due -> billing_retry;
                                        unpaid, canceled, paused, incomplete_expired ->
                                        expired; incomplete -> no state
customer.subscription.deleted           expired
invoice.paid                            active until the end of the invoice's period
invoice.payment_failed                  billing_retry (a renewal; the first invoice's
                                        failure is the checkout page's to show: no state)
charge.refunded (fully refunded)        refunded
charge.dispute.created                  revoked
======================================  ===============================================

Any other type is answered 200 and logged (``None``). Decisions:

* **The account.** The web page creates the Checkout Session with the person's purchase
  account token (``getEntitlements``) twice: as ``client_reference_id``, which
  ``checkout.session.completed`` carries, and as the subscription's
  ``metadata["purchase_account_token"]`` (``subscription_data.metadata``), which every
  ``customer.subscription.*`` event carries and every invoice snapshots
  (``subscription_details.metadata``). So whichever event arrives first names the account;
  the first one applied binds the subscription to it, and a later event naming another account
  is refused (``bound_elsewhere``). Charges and disputes name no account: the binding finds it.
* **No grace.** A failed renewal is ``billing_retry``: Pro stops while Stripe's Smart Retries
  run (the subscription is ``past_due``, which maps the same way) and returns with the
  ``invoice.paid`` of a retry that succeeds; the person gets one billing-problem push. When the
  retries are exhausted Stripe cancels (``deleted``) or marks the subscription ``unpaid``:
  expired.
* **Refunds.** Our policy: support may refund a payment in full, from the Stripe dashboard,
  within 30 days of it (and cancels the subscription there if the person is leaving). The
  resulting ``charge.refunded`` (full refunds only: ``refunded`` true) ends Pro at once. A
  partial refund (a goodwill credit) changes nothing.
* **Finding a charge's subscription.** Refunds and disputes name a charge, not a subscription.
  ``invoice.paid`` records its invoice's subscription in ``stripePayments/{invoice id}`` (and,
  where the invoice names them, its payment intent and charge); ``invoice_payment.paid``
  (API 2025-03-31 and later, where charges no longer name their invoice) records the payment's
  invoice in ``stripePayments/{payment intent or charge id}``. A refund or dispute follows
  charge -> invoice -> subscription through these (or through an expanded ``invoice`` on the
  charge). Kept ``LINK_RETENTION``: card disputes can come up to 120 days after a payment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from focus.adapters import clients, logs, paths, store, stripe_events
from focus.adapters.stripe_events import Charge, Dispute, Event, Invoice, ref_id
from focus.domain.entitlements import Store, StoreFact, SubscriptionState
from focus.services import subscriptions
from focus.services.subscriptions import Applied

SECRETS = (stripe_events.WEBHOOK_SECRET,)
ACCOUNT_TOKEN_KEY = "purchase_account_token"  # in the subscription's metadata
LINK_RETENTION = timedelta(days=180)

_BY_STATUS: dict[str, SubscriptionState | None] = {
    "active": SubscriptionState.ACTIVE,
    "trialing": SubscriptionState.ACTIVE,
    "past_due": SubscriptionState.BILLING_RETRY,
    "unpaid": SubscriptionState.EXPIRED,
    "canceled": SubscriptionState.EXPIRED,
    "paused": SubscriptionState.EXPIRED,
    "incomplete_expired": SubscriptionState.EXPIRED,
    "incomplete": None,  # the first payment is still being made on the checkout page
}


def receive_event(body: bytes, signature: str | None, now: datetime) -> Applied | None:
    """Verify a webhook request and apply what its event says (see the module docstring);
    None for an event that says nothing about a subscription's state."""
    event = stripe_events.verified_event(body, signature)
    fact = _fact(event, now)
    if fact is None:
        logs.get_logger().info("stripe event ignored", type=event.type)
        return None
    return subscriptions.apply(fact, now)


def _fact(event: Event, now: datetime) -> StoreFact | None:
    match event.type:
        case "checkout.session.completed":
            return _checkout_completed(event, event.object_as(stripe_events.CheckoutSession))
        case (
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
        ):
            return _subscription_changed(event, event.object_as(stripe_events.Subscription))
        case "invoice.paid" | "invoice.payment_failed":
            return _invoice(event, event.object_as(Invoice), now)
        case "invoice_payment.paid":
            _record_invoice_payment(event.object_as(stripe_events.InvoicePayment), now)
            return None
        case "charge.refunded":
            charge = event.object_as(Charge)
            if not charge.refunded:
                return None  # a partial refund: a goodwill credit, the subscription goes on
            return _payment_taken_back(event, charge, SubscriptionState.REFUNDED)
        case "charge.dispute.created":
            return _payment_taken_back(event, event.object_as(Dispute), SubscriptionState.REVOKED)
        case _:
            return None


def _checkout_completed(event: Event, session: stripe_events.CheckoutSession) -> StoreFact | None:
    subscription_id = ref_id(session.subscription)
    if session.mode != "subscription" or subscription_id is None:
        return None
    paid = session.payment_status in ("paid", "no_payment_required")
    # The session carries no period: its invoice.paid and customer.subscription.* events do,
    # and the expiry they set is kept.
    return _stripe_fact(
        event,
        subscription_id,
        SubscriptionState.ACTIVE if paid else None,
        account_token=session.client_reference_id,
    )


def _subscription_changed(event: Event, subscription: stripe_events.Subscription) -> StoreFact:
    if event.type == "customer.subscription.deleted":
        state: SubscriptionState | None = SubscriptionState.EXPIRED
    else:
        state = _BY_STATUS.get(subscription.status)
    return _stripe_fact(
        event,
        subscription.id,
        state,
        account_token=subscription.metadata.get(ACCOUNT_TOKEN_KEY),
        product_id=subscription.price_id,
        # The period's end is when paid access ends; for a subscription not paid up it is the
        # end of the period it failed to pay for, which must not be kept.
        expires_at=subscription.period_end if state is SubscriptionState.ACTIVE else None,
    )


def _invoice(event: Event, invoice: Invoice, now: datetime) -> StoreFact | None:
    subscription_id = invoice.subscription_id
    if subscription_id is None:
        return None  # a one-off invoice: nothing of ours
    token = invoice.metadata.get(ACCOUNT_TOKEN_KEY)
    if event.type == "invoice.paid":
        _record_links([invoice.id, *invoice.payment_ids], {"subscription": subscription_id}, now)
        return _stripe_fact(
            event,
            subscription_id,
            SubscriptionState.ACTIVE,
            account_token=token,
            product_id=invoice.price_id,
            expires_at=invoice.period_end,
        )
    # invoice.payment_failed. The first invoice fails while the person is on the checkout page,
    # which asks again: no subscription to lose, nothing to tell them.
    first = invoice.billing_reason == "subscription_create"
    return _stripe_fact(
        event,
        subscription_id,
        None if first else SubscriptionState.BILLING_RETRY,
        account_token=token,
    )


def _payment_taken_back(
    event: Event, payment: Charge | Dispute, state: SubscriptionState
) -> StoreFact | None:
    subscription_id = _subscription_paid_by(payment)
    if subscription_id is None:
        # Not a subscription's payment we know of (a one-off charge, or paid before these
        # records existed): support ends such a subscription by cancelling it in Stripe.
        logs.get_logger().warning("stripe payment of no known subscription", type=event.type)
        return None
    return _stripe_fact(event, subscription_id, state)


def _stripe_fact(
    event: Event,
    subscription_id: str,
    state: SubscriptionState | None,
    *,
    account_token: str | None = None,
    product_id: str | None = None,
    expires_at: datetime | None = None,
) -> StoreFact:
    return StoreFact(
        store=Store.STRIPE,
        event_id=event.id,
        subscription_id=subscription_id,
        account_token=account_token or None,
        product_id=product_id,
        state=state,
        expires_at=expires_at,
        occurred_at=event.occurred_at,
        environment="production" if event.livemode else "sandbox",
    )


# --- Which subscription a payment paid for ------------------------------------------------------


def _record_invoice_payment(paid: stripe_events.InvoicePayment, now: datetime) -> None:
    invoice_id = ref_id(paid.invoice)
    if invoice_id is not None:
        _record_links(paid.payment.ids, {"invoice": invoice_id}, now)


def _record_links(stripe_ids: list[str], link: dict[str, str], now: datetime) -> None:
    """``stripePayments/{id}`` = ``link`` for each id: facts about Stripe's objects, true
    whoever they belong to, so written whatever the event's outcome (and again on redelivery)."""
    if not stripe_ids:
        return
    db = clients.firestore()
    batch = db.batch()
    out = store.writes(batch)
    for stripe_id in dict.fromkeys(stripe_ids):
        out.set(
            db.document(paths.stripe_payment(stripe_id)), {**link, "expireAt": now + LINK_RETENTION}
        )
    batch.commit()


def _subscription_paid_by(payment: Charge | Dispute) -> str | None:
    """The subscription a charge (or a disputed charge) paid for: from the charge's expanded
    invoice, else through ``stripePayments`` (payment -> invoice -> subscription)."""
    charge = payment.charge if isinstance(payment, Dispute) else payment
    invoice = charge.invoice if isinstance(charge, Charge) else None
    if isinstance(invoice, Invoice) and invoice.subscription_id is not None:
        return invoice.subscription_id
    candidates = [*([ref_id(invoice)] if invoice is not None else []), *payment.payment_ids]
    links = _links([c for c in candidates if c])
    if found := _named(links, "subscription"):
        return found[0]
    return next(iter(_named(_links(_named(links, "invoice")), "subscription")), None)


def _links(stripe_ids: list[str]) -> list[dict[str, Any]]:
    db = clients.firestore()
    refs = [db.document(paths.stripe_payment(i)) for i in dict.fromkeys(stripe_ids)]
    return [snap.to_dict() or {} for snap in store.get_all(refs) if snap.exists]


def _named(links: list[dict[str, Any]], field: str) -> list[str]:
    return [str(link[field]) for link in links if isinstance(link.get(field), str)]

"""Pro, from whichever store sold it: App Store, Google Play and Stripe into one entitlement.

Each store's verified notification becomes a ``StoreFact``: what it says about one subscription,
in our words, with the store's own time. A person's ``Subscription`` records (one per store
subscription) fold facts in the store's time order, so a duplicate or an older fact arriving late
changes nothing; the ``Entitlements`` on the profile are derived from all of them: Pro while any
subscription is active or in a grace period, until the latest of their expiries.
docs/subscriptions.md draws the state machine and maps every store event to it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from focus.domain.model import Document


class Store(StrEnum):
    APP_STORE = "app_store"
    GOOGLE_PLAY = "google_play"
    STRIPE = "stripe"


class SubscriptionState(StrEnum):
    ACTIVE = "active"  # paid up (trials included) until expiresAt
    GRACE = "grace"  # a renewal failed; the store keeps access open until expiresAt
    BILLING_RETRY = "billing_retry"  # a renewal failed, no grace: no access while the store retries
    EXPIRED = "expired"  # ended: cancelled and run out, retries given up, deleted
    REVOKED = "revoked"  # taken back by the store (family sharing removed, a dispute)
    REFUNDED = "refunded"  # the payment was refunded


GIVES_PRO = frozenset({SubscriptionState.ACTIVE, SubscriptionState.GRACE})
BILLING_PROBLEMS = frozenset({SubscriptionState.GRACE, SubscriptionState.BILLING_RETRY})


class StoreFact(Document):
    """What one verified store notification says about one subscription.

    ``state`` None: the notification changes no state (a test, a consumption request, a change of
    the renewal preference); it is recorded against duplicates and otherwise only logged."""

    store: Store
    event_id: str = Field(min_length=1, max_length=512)  # notificationUUID, message id, event id
    subscription_id: str = Field(min_length=1, max_length=2048)  # original transaction, token ...
    account_token: str | None = Field(default=None, max_length=128)  # the app's purchase token
    product_id: str | None = Field(default=None, max_length=256)
    state: SubscriptionState | None
    expires_at: datetime | None = None
    occurred_at: datetime  # the store's own time for the event (never our receipt time)
    environment: str = Field(default="production", max_length=32)


class Subscription(Document):
    """Server-owned, ``users/{uid}/subscriptions/{id}``: one store subscription's latest state."""

    store: Store
    product_id: str | None = None
    state: SubscriptionState
    expires_at: datetime | None = None
    updated_at: datetime  # the store time of the fact that set this state
    environment: str = "production"

    def gives_pro(self, now: datetime) -> bool:
        return self.state in GIVES_PRO and (self.expires_at is None or now < self.expires_at)


class Entitlements(Document):
    """Server-owned, on the profile: what the person may use, derived from every subscription.

    ``pro_until`` is the expiry that the rules and the ``pro`` custom claim check against the
    request's time, so Pro ends on time even if no store says so."""

    pro: bool = False
    pro_until: datetime | None = None
    source: Store | None = None
    state: SubscriptionState | None = None
    product_id: str | None = None
    updated_at: datetime | None = None


def subscription_key(store: Store, subscription_id: str) -> str:
    """A document id for a store subscription: store ids are long (Play purchase tokens) and
    may hold characters a path cannot."""
    digest = hashlib.sha256(f"{store.value}:{subscription_id}".encode()).hexdigest()[:40]
    return f"{store.value}-{digest}"


def event_key(store: Store, event_id: str) -> str:
    digest = hashlib.sha256(f"{store.value}:{event_id}".encode()).hexdigest()[:40]
    return f"{store.value}-{digest}"


# The purchase account token: a UUID the app passes to every store at purchase (App Store
# ``appAccountToken``, Play ``obfuscatedExternalAccountId``, Stripe ``client_reference_id``), so
# a notification names the account without carrying the uid itself. Derived from the uid under a
# fixed namespace: the same person always gets the same token, on every device and store.
PURCHASE_ACCOUNT_NAMESPACE = uuid.UUID("6f0c8f2e-7f4b-5a51-9a0c-5c1f0c6d7e21")


def purchase_account_token(uid: str) -> str:
    return str(uuid.uuid5(PURCHASE_ACCOUNT_NAMESPACE, uid))


def apply(current: Subscription | None, fact: StoreFact) -> Subscription | None:
    """The subscription after ``fact``; None when it changes nothing (no state, a duplicate, or
    older than what is recorded: stores deliver out of order and more than once)."""
    if fact.state is None:
        return None
    if current is not None and fact.occurred_at < current.updated_at:
        return None
    updated = Subscription(
        store=fact.store,
        product_id=fact.product_id or (current.product_id if current else None),
        state=fact.state,
        expires_at=fact.expires_at or (current.expires_at if current else None),
        updated_at=fact.occurred_at,
        environment=fact.environment,
    )
    return None if updated == current else updated


def entitlements_of(subscriptions: Iterable[Subscription], now: datetime) -> Entitlements:
    """Pro while any subscription gives it, until the latest expiry among those that do; without
    Pro, the most recent subscription says why (expired, refunded ...)."""
    every = list(subscriptions)
    giving = [s for s in every if s.gives_pro(now)]
    if giving:
        best = max(giving, key=lambda s: (s.expires_at is None, s.expires_at or s.updated_at))
        return _entitlements(best, pro=True)
    if not every:
        return Entitlements()
    return _entitlements(max(every, key=lambda s: s.updated_at), pro=False)


def _entitlements(subscription: Subscription, *, pro: bool) -> Entitlements:
    return Entitlements(
        pro=pro,
        pro_until=subscription.expires_at if pro else None,
        source=subscription.store,
        state=subscription.state,
        product_id=subscription.product_id,
        updated_at=subscription.updated_at,
    )


def billing_problem_began(before: Subscription | None, after: Subscription) -> bool:
    """Whether the person should hear of a failed renewal now: on entering grace or billing
    retry, not on every retry the store reports after that."""
    return after.state in BILLING_PROBLEMS and (
        before is None or before.state not in BILLING_PROBLEMS
    )

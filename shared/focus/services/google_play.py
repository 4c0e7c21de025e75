"""Google Play subscriptions: its real-time developer notifications, and restoring a purchase.

Google Play publishes a notification to our Pub/Sub topic (``Topic.PLAY_NOTIFICATIONS``) at each
change of a subscription. Nothing in it is trusted but the purchase token it names, and only
after checking that it is for this app: the state is read from the Google Play Developer API
(``purchases.subscriptionsv2.get``) every time, so a stale, replayed or reordered notification
applies what Play says now. Each becomes a ``StoreFact`` for ``focus.services.subscriptions``:

* ``event_id``: the Pub/Sub message id (a redelivery is a duplicate, applied once);
* ``subscription_id``: the purchase token (see "Upgrades" below);
* ``account_token``: the purchase's ``obfuscatedExternalAccountId``, the purchase account token
  the app passes to Play at purchase;
* ``occurred_at``: the notification's ``eventTimeMillis``; ``expires_at``: the latest expiry of
  the purchase's line items; ``environment``: ``sandbox`` for a license tester's purchase.

How Play's ``subscriptionState`` maps to ours (docs/subscriptions.md):

=================================  ==============================================================
``ACTIVE``                         ``active`` (trials included)
``CANCELED``                       ``active``: cancelled but paid up; Pro until the expiry
``IN_GRACE_PERIOD``                ``grace``: a renewal failed, access stays until the expiry
``ON_HOLD``                        ``billing_retry``: a renewal failed, no access while Play
                                   retries (account hold)
``PAUSED``                         ``expired``: no access while paused (we have no state of our
                                   own for it); resuming makes it ``ACTIVE`` again, with a
                                   notification that applies it
``EXPIRED``                        ``expired``; ``revoked`` when the notification is
                                   ``SUBSCRIPTION_REVOKED``
``PENDING``, ``PENDING_PURCHASE_   no state: nothing paid yet, or the pending payment was
CANCELED``, unknown                cancelled (recorded against duplicates, otherwise only logged)
=================================  ==============================================================

A voided purchase notification (a refund or chargeback of a subscription order) is applied as
``refunded`` when Play no longer grants access to the purchase; when it still does, the refund
was for an earlier period and did not revoke the subscription, so Play's state is applied.

Acknowledgement: Google refunds and revokes a purchase not acknowledged within three days. After
applying, a purchase Play still reports unacknowledged is acknowledged if it gives Pro and the
fact reached an account (applied now or before). One that reached no account is left alone:
if nobody restores it within three days, Google refunds the buyer who got nothing.

Upgrades, downgrades and re-signups: Play issues a new purchase token whose
``linkedPurchaseToken`` names the one it replaces. Each token is its own subscription (one
``users/{uid}/subscriptions`` record per token), because Play keeps a state for each and
forgets old tokens 60 days after they expire, so a chain could not be walked back to a stable
root. The new token replaces the old one this way: (1) a new token without an account token is
bound to the account its predecessor is bound to; (2) on the new token's purchase (and on a
restore), the predecessor is read again and its own state applied, which Play reports as ended
(``replacementCancellation``) once replaced, so it stops counting towards Pro.

Purchase tokens Play does not know: a 404 (never sold, or to another app) or 410 (expired more
than 60 days ago) is logged and dropped, since no retry or replay can make it readable; a 400
(a token Play refuses outright) is dead-lettered for an operator. A malformed notification or
one for another package name is dead-lettered too. Any other failure (Play unavailable, a 5xx,
the network, Firestore) raises, so Pub/Sub redelivers it, and after its last attempt moves it to
the dead letters itself.

``restore`` (``restorePurchases``): the device's product id and token, verified the same way and
applied to the signed-in person; a token Play does not know, or of another product, is
``PURCHASE_NOT_VERIFIED``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

from focus.adapters import clients, google_play, logs, messaging, paths, store
from focus.adapters.google_play import (
    DeveloperNotification,
    PlayPurchase,
    PlayState,
    ProductType,
    SubscriptionNotificationType,
    UnknownPurchase,
)
from focus.domain.entitlements import (
    GIVES_PRO,
    Entitlements,
    Store,
    StoreFact,
    SubscriptionState,
    subscription_key,
)
from focus.domain.errors import FailedPrecondition, Reason
from focus.domain.events import UnreadableEvent
from focus.domain.wires import Topic
from focus.services import subscriptions
from focus.services.subscriptions import Applied, Outcome

# No secret: production calls Play as the runtime service account (application default
# credentials), which the Play Console grants access (focus.adapters.google_play).
SECRETS: list[str] = []

FUNCTION = "on_play_notification"  # who dead-letters (functions/webhooks/main.py)
FOREIGN_PACKAGE = "foreignPackage"  # dead-letter reason: a notification about another app
REFUSED_TOKEN = "purchaseTokenRefused"  # dead-letter reason: Play answered 400 for the token
PRODUCTION, SANDBOX = "production", "sandbox"

STATES: dict[PlayState, SubscriptionState] = {
    PlayState.ACTIVE: SubscriptionState.ACTIVE,
    PlayState.CANCELED: SubscriptionState.ACTIVE,
    PlayState.IN_GRACE_PERIOD: SubscriptionState.GRACE,
    PlayState.ON_HOLD: SubscriptionState.BILLING_RETRY,
    PlayState.PAUSED: SubscriptionState.EXPIRED,
    PlayState.EXPIRED: SubscriptionState.EXPIRED,
}


def receive_notification(data: bytes, message_id: str, now: datetime) -> None:
    """Apply the real-time developer notification in ``data`` (a Pub/Sub message's data,
    ``message_id`` its id) as the module docstring describes."""
    try:
        notification = google_play.read_notification(data)
    except UnreadableEvent as exc:
        _dead_letter(data, exc.reason, exc.error)
        return
    if notification.package_name != google_play.package_name():
        _dead_letter(data, FOREIGN_PACKAGE, "packageName: not this app's package name")
        return
    change = _change_in(notification)
    if change is None:
        return
    try:
        purchase = google_play.get_subscription(change.token)
    except UnknownPurchase as exc:
        if exc.status == 400:
            _dead_letter(data, REFUSED_TOKEN, f"Google Play refused the token ({exc.reason})")
        else:
            logs.get_logger().warning(
                "play notification for an unknown purchase dropped",
                status=exc.status,
                reason=exc.reason,
                subscription=_key(change.token),
            )
        return
    fact = _fact(
        change.token,
        purchase,
        event_id=message_id,
        occurred_at=notification.event_time,
        voided=change.voided,
        revoked=change.kind == SubscriptionNotificationType.REVOKED,
    )
    applied = subscriptions.apply(fact, now, claimant=_predecessor_owner(purchase))
    _acknowledge_if_owed(change.token, purchase, fact, applied)
    if change.kind == SubscriptionNotificationType.PURCHASED:
        _follow_replacement(purchase, message_id, notification.event_time, now)


class _Change(NamedTuple):
    """Which subscription purchase a notification says changed, and its hint of how."""

    token: str
    kind: int | None  # the subscription notification's type; None for a voided purchase
    voided: bool


def _change_in(notification: DeveloperNotification) -> _Change | None:
    """The purchase a notification is about; None (logged) for one about no subscription."""
    log = logs.get_logger()
    if notification.test_notification is not None:
        log.info("play test notification", eventTime=notification.event_time.isoformat())
        return None
    if notification.one_time_product_notification is not None:
        log.warning("play one-time product notification ignored: we sell only subscriptions")
        return None
    voided = notification.voided_purchase_notification
    if voided is not None:
        if voided.product_type != ProductType.SUBSCRIPTION:
            log.warning("play voided one-time purchase ignored", productType=voided.product_type)
            return None
        return _Change(voided.purchase_token, None, voided=True)
    about = notification.subscription_notification
    assert about is not None  # a notification has exactly one kind (DeveloperNotification)
    return _Change(about.purchase_token, about.notification_type, voided=False)


def restore(uid: str, product_id: str, purchase_token: str, now: datetime) -> Entitlements:
    """``restorePurchases`` for a Play purchase: verify it with Play and apply it to ``uid``;
    their entitlements after it. ``PURCHASE_NOT_VERIFIED`` if Play does not confirm a purchase
    of ``product_id`` by this app; ``SUBSCRIPTION_IN_USE`` if another account holds it."""
    not_verified = FailedPrecondition(
        "Google Play does not confirm this purchase.", reason=Reason.PURCHASE_NOT_VERIFIED
    )
    if len(purchase_token) > google_play.MAX_TOKEN_CHARS:
        raise not_verified
    try:
        purchase = google_play.get_subscription(purchase_token)
    except UnknownPurchase as exc:
        logs.get_logger().warning("play purchase not verified", status=exc.status, why=exc.reason)
        raise not_verified from None
    if product_id not in purchase.product_ids:
        logs.get_logger().warning("play purchase not verified", why="another product")
        raise not_verified
    # A restore has no store event: the time Play vouched for this state is now, and the event
    # is this restore (the callable's idempotency key already covers a retried call).
    digest = hashlib.sha256(purchase_token.encode()).hexdigest()[:32]
    event_id = f"restore:{digest}:{now.isoformat()}"
    fact = _fact(purchase_token, purchase, event_id=event_id, occurred_at=now)
    granted = subscriptions.restore(uid, fact, now)  # SUBSCRIPTION_IN_USE raises here
    _acknowledge_if_owed(purchase_token, purchase, fact, Applied(Outcome.APPLIED, uid))
    _follow_replacement(purchase, event_id, now, now)
    return granted


def state_of(
    purchase: PlayPurchase, *, voided: bool = False, revoked: bool = False
) -> SubscriptionState | None:
    """Our state for what Play reports (the table in the module docstring)."""
    state = STATES.get(purchase.subscription_state)
    if state is None:
        return None
    if state in GIVES_PRO:
        if purchase.expires_at is None:
            # Access with no end would be Pro forever: Play always dates a paid period.
            logs.get_logger().error("play purchase gives access without an expiry: not applied")
            return None
        return state
    if voided:
        return SubscriptionState.REFUNDED
    if revoked:
        return SubscriptionState.REVOKED
    return state


def _fact(
    token: str,
    purchase: PlayPurchase,
    *,
    event_id: str,
    occurred_at: datetime,
    voided: bool = False,
    revoked: bool = False,
) -> StoreFact:
    return StoreFact(
        store=Store.GOOGLE_PLAY,
        event_id=event_id,
        subscription_id=token,
        account_token=purchase.account_token,
        product_id=purchase.product_id,
        state=state_of(purchase, voided=voided, revoked=revoked),
        expires_at=purchase.expires_at,
        occurred_at=occurred_at,
        environment=SANDBOX if purchase.test_purchase is not None else PRODUCTION,
    )


def _acknowledge_if_owed(
    token: str, purchase: PlayPurchase, fact: StoreFact, applied: Applied
) -> None:
    if purchase.acknowledged or fact.state not in GIVES_PRO or purchase.product_id is None:
        return
    if applied.outcome in (Outcome.UNMATCHED, Outcome.BOUND_ELSEWHERE):
        logs.get_logger().warning(
            "play purchase left unacknowledged: it reached no account",
            outcome=applied.outcome.value,
            subscription=_key(token),
        )
        return
    google_play.acknowledge(purchase.product_id, token)


def _predecessor_owner(purchase: PlayPurchase) -> str | None:
    """For a purchase that names no account but replaces another (an upgrade made without the
    account token): the account its predecessor is bound to, which it then belongs to."""
    previous = purchase.linked_purchase_token
    if purchase.account_token is not None or previous is None:
        return None
    key = subscription_key(Store.GOOGLE_PLAY, previous)
    snapshot = store.get(clients.firestore().document(paths.store_subscription(key)))
    uid = (snapshot.to_dict() or {}).get("uid") if snapshot.exists else None
    return uid if isinstance(uid, str) and uid else None


def _follow_replacement(
    purchase: PlayPurchase, event_id: str, occurred_at: datetime, now: datetime
) -> None:
    """Apply the state of the purchase ``purchase`` replaced, as Play reports it now (ended,
    once replaced), so the old token stops counting towards Pro."""
    previous = purchase.linked_purchase_token
    if previous is None:
        return
    try:
        replaced = google_play.get_subscription(previous)
    except UnknownPurchase:
        return  # gone from Play: it expired long ago and gives nothing
    fact = _fact(previous, replaced, event_id=f"{event_id}/replaced", occurred_at=occurred_at)
    subscriptions.apply(fact, now)


def _dead_letter(data: bytes, reason: str, error: str) -> None:
    # Retrying never makes it readable, and acknowledging it would lose it: kept with the error
    # for a replay after the fix (scripts/dead-letters), and counted.
    messaging.dead_letter(
        Topic.PLAY_NOTIFICATIONS, data, kind="pubsub", reason=reason, error=error, function=FUNCTION
    )


def _key(token: str) -> str:
    """How logs name a purchase: never by its token (it reads the purchase with our access)."""
    return subscription_key(Store.GOOGLE_PLAY, token)

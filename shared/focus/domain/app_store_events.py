"""The App Store's signed notifications and transactions, in our words: what each says about Pro.

``focus.adapters.app_store`` verifies what Apple signed (its own library) and hands over these
plain values; this module decides, with no I/O, the ``StoreFact`` each one is. The App Store
Server Notifications v2 types, and the state each leaves a subscription in:

=============================  ===================  ===============================================
notification (subtype)         state                why
=============================  ===================  ===============================================
SUBSCRIBED                     active               a first purchase or a resubscription
DID_RENEW (BILLING_RECOVERY)   active               paid for the next period (after a failure too)
DID_CHANGE_RENEWAL_PREF        active on UPGRADE    an upgrade takes effect at once; a downgrade
                               else none            (or its cancellation) only at the next renewal
DID_CHANGE_RENEWAL_STATUS      none                 auto-renew on or off: paid-for access lasts to
                                                    the expiry either way (EXPIRED follows)
OFFER_REDEEMED                 active; none on      an offer bought or applied; a downgrade waits
                               DOWNGRADE            for the renewal
RENEWAL_EXTENDED               active               Apple moved the expiry (a goodwill extension)
DID_FAIL_TO_RENEW              grace on GRACE_      a renewal failed: Apple keeps access open until
                               PERIOD, else         ``gracePeriodExpiresDate``; without a grace
                               billing_retry        period, no access while Apple retries
GRACE_PERIOD_EXPIRED           billing_retry        grace ran out; Apple still retries billing for
                                                    up to 60 days (a DID_RENEW with subtype
                                                    BILLING_RECOVERY may yet come; EXPIRED with
                                                    BILLING_RETRY when it gives up), so not expired
EXPIRED (any subtype)          expired              cancelled and run out, retries given up, a
                                                    price increase refused, the product withdrawn
REFUND                         refunded             Apple refunded the purchase: access ends
REFUND_REVERSED                active               the refund was undone (until the expiry)
REVOKE                         revoked              Family Sharing access withdrawn
=============================  ===================  ===============================================

Every other type changes no state and is only logged: REFUND_DECLINED, PRICE_INCREASE,
PRICE_CHANGE, RENEWAL_EXTENSION (the summary of a mass extension: a RENEWAL_EXTENDED follows
per subscription), CONSUMPTION_REQUEST (we send Apple no consumption information, so Apple
decides the refund request without it), TEST (the App Store Connect "send test notification"
button), EXTERNAL_PURCHASE_TOKEN, ONE_TIME_CHARGE, RESCIND_CONSENT, METADATA_UPDATE, MIGRATION,
and types newer than this table. Only auto-renewable subscriptions count: a notification about
any other in-app purchase changes no state either.

Time: a notification's fact happened at its ``signedDate``; ``focus.domain.entitlements.apply``
folds facts in that order, so a redelivered or late notification changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from focus.domain.entitlements import Store, StoreFact, SubscriptionState

AUTO_RENEWABLE = "Auto-Renewable Subscription"  # the transaction ``type`` of a subscription

_ACTIVE = SubscriptionState.ACTIVE
# (type, subtype) -> state; a type listed with subtype None applies to every subtype not listed.
_STATES: dict[tuple[str, str | None], SubscriptionState | None] = {
    ("SUBSCRIBED", None): _ACTIVE,
    ("DID_RENEW", None): _ACTIVE,
    ("DID_CHANGE_RENEWAL_PREF", "UPGRADE"): _ACTIVE,
    ("DID_CHANGE_RENEWAL_PREF", None): None,
    ("DID_CHANGE_RENEWAL_STATUS", None): None,
    ("OFFER_REDEEMED", "DOWNGRADE"): None,
    ("OFFER_REDEEMED", None): _ACTIVE,
    ("RENEWAL_EXTENDED", None): _ACTIVE,
    ("DID_FAIL_TO_RENEW", "GRACE_PERIOD"): SubscriptionState.GRACE,
    ("DID_FAIL_TO_RENEW", None): SubscriptionState.BILLING_RETRY,
    ("GRACE_PERIOD_EXPIRED", None): SubscriptionState.BILLING_RETRY,
    ("EXPIRED", None): SubscriptionState.EXPIRED,
    ("REFUND", None): SubscriptionState.REFUNDED,
    ("REFUND_REVERSED", None): _ACTIVE,
    ("REVOKE", None): SubscriptionState.REVOKED,
}


class Revocation(StrEnum):
    """Why Apple took a transaction back (its ``revocationType``, or a ``revocationReason``)."""

    REFUND = "refund"
    FAMILY_SHARING = "family_sharing"


@dataclass(frozen=True)
class AppStoreTransaction:
    """A verified JWSTransaction: one period of a subscription (or another in-app purchase)."""

    transaction_id: str
    original_transaction_id: str  # the same for every renewal: the subscription's id
    product_id: str | None
    account_token: str | None  # the appAccountToken the app passed at purchase, lower-case
    subscription: bool  # an auto-renewable subscription (not a one-time purchase)
    expires_at: datetime | None
    revoked_at: datetime | None
    revocation: Revocation | None  # None with ``revoked_at``: taken back, no refund stated
    signed_at: datetime
    environment: str  # "Production", "Sandbox"


@dataclass(frozen=True)
class AppStoreRenewal:
    """The verified JWSRenewalInfo that comes with a notification: what happens at renewal."""

    grace_period_expires_at: datetime | None
    account_token: str | None


@dataclass(frozen=True)
class AppStoreNotification:
    """A verified App Store Server Notification v2 (``responseBodyV2DecodedPayload``)."""

    notification_id: str  # notificationUUID: the same on every redelivery
    type: str  # notificationType, as Apple spells it
    subtype: str | None
    signed_at: datetime
    environment: str
    transaction: AppStoreTransaction | None  # absent in TEST and summary notifications
    renewal: AppStoreRenewal | None


def state_after(notification_type: str, subtype: str | None) -> SubscriptionState | None:
    """The state a subscription is in after a notification (the module's table); None: the
    notification changes no state."""
    if (notification_type, subtype) in _STATES:
        return _STATES[(notification_type, subtype)]
    return _STATES.get((notification_type, None))


def fact_of_notification(notification: AppStoreNotification) -> StoreFact | None:
    """The fact a notification states about a subscription; None when it carries no transaction
    (a test notification, a summary). A one-time purchase's transaction is a fact without a
    state: recorded against duplicates, otherwise only logged."""
    transaction = notification.transaction
    if transaction is None:
        return None
    state = (
        state_after(notification.type, notification.subtype) if transaction.subscription else None
    )
    renewal = notification.renewal
    expires_at = transaction.expires_at
    if state is SubscriptionState.GRACE and renewal and renewal.grace_period_expires_at:
        expires_at = renewal.grace_period_expires_at
    return StoreFact(
        store=Store.APP_STORE,
        event_id=notification.notification_id,
        subscription_id=transaction.original_transaction_id,
        account_token=transaction.account_token or (renewal.account_token if renewal else None),
        product_id=transaction.product_id,
        state=state,
        expires_at=expires_at,
        occurred_at=notification.signed_at,
        environment=notification.environment.lower(),
    )


def fact_of_restore(
    transaction: AppStoreTransaction, claimant_token: str, now: datetime
) -> StoreFact:
    """What a transaction the person's device holds (``restorePurchases``) says at ``now``.

    Each state is dated when it became true by Apple's clock, so the fold in
    ``focus.domain.entitlements.apply`` weighs it against the notifications correctly: taken back
    at its ``revocationDate``; ran out at its ``expiresDate`` (so a person in a billing grace
    period, whose last period ran out before Apple's DID_FAIL_TO_RENEW was signed, keeps the
    grace the notification gave); still paid for as of its ``signedDate``.

    The event id names the claimant (by purchase account token): the same person restoring the
    same transaction again is a duplicate, another person's attempt is weighed on its own (and
    refused if the subscription is someone else's)."""
    state: SubscriptionState | None
    if not transaction.subscription:
        state, occurred_at = None, transaction.signed_at
    elif transaction.revoked_at is not None:
        refund = transaction.revocation is Revocation.REFUND
        state = SubscriptionState.REFUNDED if refund else SubscriptionState.REVOKED
        occurred_at = transaction.revoked_at
    elif transaction.expires_at is not None and transaction.expires_at <= now:
        state, occurred_at = SubscriptionState.EXPIRED, transaction.expires_at
    else:
        state, occurred_at = SubscriptionState.ACTIVE, transaction.signed_at
    return StoreFact(
        store=Store.APP_STORE,
        event_id=f"restore:{transaction.transaction_id}:{claimant_token}",
        subscription_id=transaction.original_transaction_id,
        account_token=transaction.account_token,
        product_id=transaction.product_id,
        state=state,
        expires_at=transaction.expires_at,
        occurred_at=occurred_at,
        environment=transaction.environment.lower(),
    )

"""What each App Store notification and restored transaction means for Pro, as pure rules
(focus.domain.app_store_events; the table in its docstring is docs/subscriptions.md's).

No emulator, no clock: every moment is fixed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from appstoreserverlibrary.models.NotificationTypeV2 import NotificationTypeV2

from focus.domain.app_store_events import (
    AppStoreNotification,
    AppStoreRenewal,
    AppStoreTransaction,
    Revocation,
    fact_of_notification,
    fact_of_restore,
    state_after,
)
from focus.domain.entitlements import Store, SubscriptionState

ACTIVE, GRACE, RETRY = (
    SubscriptionState.ACTIVE,
    SubscriptionState.GRACE,
    SubscriptionState.BILLING_RETRY,
)
EXPIRED, REFUNDED, REVOKED = (
    SubscriptionState.EXPIRED,
    SubscriptionState.REFUNDED,
    SubscriptionState.REVOKED,
)
SIGNED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
EXPIRES = SIGNED + timedelta(days=30)
TOKEN = "0b0c5a4e-8e7e-5a4c-9d55-2f1f6d7a9c01"

# Every notification type Apple's library knows, with the state it leaves a subscription in for
# each subtype that matters (None: no subtype); a type the library adds fails this test until
# it is placed in focus.domain.app_store_events.
EXPECTED: dict[str, dict[str | None, SubscriptionState | None]] = {
    "SUBSCRIBED": {"INITIAL_BUY": ACTIVE, "RESUBSCRIBE": ACTIVE},
    "DID_RENEW": {None: ACTIVE, "BILLING_RECOVERY": ACTIVE},
    "DID_CHANGE_RENEWAL_PREF": {"UPGRADE": ACTIVE, "DOWNGRADE": None, None: None},
    "DID_CHANGE_RENEWAL_STATUS": {"AUTO_RENEW_ENABLED": None, "AUTO_RENEW_DISABLED": None},
    "OFFER_REDEEMED": {
        "INITIAL_BUY": ACTIVE,
        "RESUBSCRIBE": ACTIVE,
        "UPGRADE": ACTIVE,
        None: ACTIVE,
        "DOWNGRADE": None,
    },
    "RENEWAL_EXTENDED": {None: ACTIVE},
    "DID_FAIL_TO_RENEW": {"GRACE_PERIOD": GRACE, None: RETRY},
    "GRACE_PERIOD_EXPIRED": {None: RETRY},
    "EXPIRED": {
        "VOLUNTARY": EXPIRED,
        "BILLING_RETRY": EXPIRED,
        "PRICE_INCREASE": EXPIRED,
        "PRODUCT_NOT_FOR_SALE": EXPIRED,
    },
    "REFUND": {None: REFUNDED},
    "REFUND_REVERSED": {None: ACTIVE},
    "REVOKE": {None: REVOKED},
    "REFUND_DECLINED": {None: None},
    "PRICE_INCREASE": {"PENDING": None, "ACCEPTED": None},
    "PRICE_CHANGE": {None: None},
    "CONSUMPTION_REQUEST": {None: None},
    "RENEWAL_EXTENSION": {"SUMMARY": None, "FAILURE": None},
    "TEST": {None: None},
    "EXTERNAL_PURCHASE_TOKEN": {"UNREPORTED": None},
    "ONE_TIME_CHARGE": {None: None},
    "RESCIND_CONSENT": {None: None},
    "METADATA_UPDATE": {None: None},
    "MIGRATION": {None: None},
}


def transaction(**changes: object) -> AppStoreTransaction:
    bought = AppStoreTransaction(
        transaction_id="2000000815",
        original_transaction_id="2000000100",
        product_id="focus.pro.monthly",
        account_token=TOKEN,
        subscription=True,
        expires_at=EXPIRES,
        revoked_at=None,
        revocation=None,
        signed_at=SIGNED,
        environment="Production",
    )
    return replace(bought, **changes)  # type: ignore[arg-type]


def notification(
    kind: str,
    subtype: str | None = None,
    *,
    paid: AppStoreTransaction | None = None,
    renewal: AppStoreRenewal | None = None,
) -> AppStoreNotification:
    return AppStoreNotification(
        notification_id="6f1c6c36-2d7b-4d52-8e2e-1a1d0f1d2b11",
        type=kind,
        subtype=subtype,
        signed_at=SIGNED,
        environment="Sandbox",
        transaction=paid or transaction(),
        renewal=renewal,
    )


def test_every_notification_type_apple_knows_has_a_meaning() -> None:
    assert set(EXPECTED) == {kind.value for kind in NotificationTypeV2}


@pytest.mark.parametrize(
    ("kind", "subtype", "state"),
    [(k, s, state) for k, by_subtype in EXPECTED.items() for s, state in by_subtype.items()],
)
def test_a_notification_leaves_the_subscription_in_its_state(
    kind: str, subtype: str | None, state: SubscriptionState | None
) -> None:
    assert state_after(kind, subtype) is state
    assert fact_of_notification(notification(kind, subtype)).state is state  # type: ignore[union-attr]


def test_a_notification_is_a_fact_about_the_original_transaction_at_apple_s_signing_time() -> None:
    fact = fact_of_notification(notification("SUBSCRIBED", "INITIAL_BUY"))

    assert fact is not None
    assert (fact.store, fact.event_id) == (Store.APP_STORE, "6f1c6c36-2d7b-4d52-8e2e-1a1d0f1d2b11")
    assert (fact.subscription_id, fact.account_token) == ("2000000100", TOKEN)
    assert (fact.occurred_at, fact.expires_at) == (SIGNED, EXPIRES)
    assert (fact.product_id, fact.environment) == ("focus.pro.monthly", "sandbox")


def test_in_a_grace_period_pro_lasts_until_the_grace_period_ends() -> None:
    grace_end = EXPIRES + timedelta(days=16)
    lapsed = transaction(expires_at=SIGNED - timedelta(hours=1))

    in_grace = fact_of_notification(
        notification(
            "DID_FAIL_TO_RENEW",
            "GRACE_PERIOD",
            paid=lapsed,
            renewal=AppStoreRenewal(grace_period_expires_at=grace_end, account_token=None),
        )
    )
    retrying = fact_of_notification(notification("DID_FAIL_TO_RENEW", paid=lapsed))

    assert in_grace is not None and (in_grace.state, in_grace.expires_at) == (GRACE, grace_end)
    assert retrying is not None and (retrying.state, retrying.expires_at) == (
        RETRY,
        lapsed.expires_at,
    )


def test_the_account_token_may_come_from_the_renewal_info() -> None:
    renewal = AppStoreRenewal(grace_period_expires_at=None, account_token=TOKEN)

    fact = fact_of_notification(
        notification("DID_RENEW", paid=transaction(account_token=None), renewal=renewal)
    )

    assert fact is not None and fact.account_token == TOKEN


def test_a_notification_without_a_subscription_changes_no_state() -> None:
    test = AppStoreNotification(
        notification_id="test-1",
        type="TEST",
        subtype=None,
        signed_at=SIGNED,
        environment="Production",
        transaction=None,
        renewal=None,
    )
    one_time = fact_of_notification(notification("REFUND", paid=transaction(subscription=False)))

    assert fact_of_notification(test) is None
    assert one_time is not None and one_time.state is None


# --- Restoring a transaction the device holds ----------------------------------------------------

BEFORE_EXPIRY = EXPIRES - timedelta(days=1)


def test_a_paid_up_transaction_restores_pro_as_of_its_signing() -> None:
    fact = fact_of_restore(transaction(), "claimant-token", BEFORE_EXPIRY)

    assert (fact.state, fact.occurred_at, fact.expires_at) == (ACTIVE, SIGNED, EXPIRES)
    assert fact.account_token == TOKEN  # the account that bought it, weighed against the caller
    assert fact.event_id == "restore:2000000815:claimant-token"


def test_a_run_out_transaction_is_expired_as_of_its_expiry() -> None:
    # Dated at the expiry, not at signing: a billing grace period Apple began after the expiry
    # (a later DID_FAIL_TO_RENEW) outranks it.
    fact = fact_of_restore(transaction(), "claimant-token", EXPIRES)

    assert (fact.state, fact.occurred_at) == (EXPIRED, EXPIRES)


@pytest.mark.parametrize(
    ("revocation", "state"),
    [(Revocation.REFUND, REFUNDED), (Revocation.FAMILY_SHARING, REVOKED), (None, REVOKED)],
)
def test_a_taken_back_transaction_is_refunded_or_revoked_as_of_its_revocation(
    revocation: Revocation | None, state: SubscriptionState
) -> None:
    revoked_at = SIGNED + timedelta(days=3)
    taken_back = transaction(revoked_at=revoked_at, revocation=revocation)

    fact = fact_of_restore(taken_back, "claimant-token", BEFORE_EXPIRY)

    assert (fact.state, fact.occurred_at) == (state, revoked_at)


def test_restoring_a_one_time_purchase_changes_no_state() -> None:
    assert fact_of_restore(transaction(subscription=False), "t", BEFORE_EXPIRY).state is None


def test_each_claimant_s_restore_is_its_own_event() -> None:
    # One person restoring twice is a duplicate; another person's attempt is weighed (and refused
    # when the subscription is someone else's), never mistaken for the first one's duplicate.
    first = fact_of_restore(transaction(), "token-a", BEFORE_EXPIRY)
    again = fact_of_restore(transaction(), "token-a", BEFORE_EXPIRY)
    other = fact_of_restore(transaction(), "token-b", BEFORE_EXPIRY)

    assert first.event_id == again.event_id != other.event_id

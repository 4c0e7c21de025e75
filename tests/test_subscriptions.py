"""Subscriptions, whichever store sold them: a verified store fact reaches the person it names,
exactly once, and Pro follows (focus.services.subscriptions; docs/subscriptions.md). The stores'
own receivers are specified in test_app_store.py, test_google_play.py and test_stripe.py; here
the facts they produce are applied directly, as each receiver does after verifying its store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import block_doc, envelope, launched_user

from firebase_emulator_harness import EmulatorSuite, User, assert_allowed, assert_denied
from focus.domain.entitlements import Store, StoreFact, SubscriptionState, purchase_account_token
from focus.domain.errors import FailedPrecondition
from focus.services import subscriptions
from focus.services.subscriptions import Outcome

NOW = datetime.now(UTC).replace(microsecond=0)
MONTH = timedelta(days=30)


def fact(
    person: User | None,
    state: SubscriptionState | None,
    *,
    at: datetime = NOW,
    event: str,
    expires: datetime | None = None,
    subscription: str = "original-1",
    store: Store = Store.APP_STORE,
) -> StoreFact:
    return StoreFact(
        store=store,
        event_id=event,
        subscription_id=subscription,
        account_token=purchase_account_token(person.uid) if person else None,
        product_id="focus.pro.monthly",
        state=state,
        expires_at=expires,
        occurred_at=at,
    )


@pytest.fixture
def buyer(firebase: EmulatorSuite) -> User:
    """A person who opened the app and asked for their entitlements, as the app does before
    showing the paywall (which records their purchase account token)."""
    person = launched_user(firebase)
    firebase.functions.call("getEntitlements", envelope(), user=person).unwrap()
    return person


def entitlements(firebase: EmulatorSuite, person: User) -> dict[str, Any]:
    profile = firebase.firestore.as_owner().get(f"users/{person.uid}") or {}
    return dict(profile.get("entitlements") or {})


def claims(firebase: EmulatorSuite, person: User) -> dict[str, Any]:
    from firebase_admin import auth

    from focus.adapters import clients

    return dict(auth.get_user(person.uid, app=clients.firebase_app()).custom_claims or {})


def test_get_entitlements_answers_no_pro_and_the_token_to_pass_to_every_store(
    firebase: EmulatorSuite, user: User
) -> None:
    answer = firebase.functions.call("getEntitlements", envelope(), user=user).unwrap()

    assert isinstance(answer, dict)
    view = answer["data"]
    assert view["pro"] is False and view["proUntil"] is None and view["source"] is None
    assert view["purchaseAccountToken"] == purchase_account_token(user.uid)
    mapping = firebase.firestore.as_owner().get(f"purchaseAccounts/{view['purchaseAccountToken']}")
    assert mapping == {"uid": user.uid}


def test_a_purchase_gives_pro_until_its_expiry_and_the_claim_follows(
    firebase: EmulatorSuite, buyer: User
) -> None:
    applied = subscriptions.apply(
        fact(buyer, SubscriptionState.ACTIVE, event="buy", expires=NOW + MONTH), NOW
    )

    assert (applied.outcome, applied.uid) == (Outcome.APPLIED, buyer.uid)
    stored = entitlements(firebase, buyer)
    assert stored["pro"] is True and stored["proUntil"] == NOW + MONTH
    assert (stored["source"], stored["state"]) == ("app_store", "active")
    assert claims(firebase, buyer) == {"pro": True, "proUntil": int((NOW + MONTH).timestamp())}
    view = firebase.functions.call("getEntitlements", envelope(), user=buyer).unwrap()
    assert isinstance(view, dict) and view["data"]["pro"] is True


def test_hardcore_needs_the_entitlement_this_flow_writes_and_losing_it_loosens_nothing(
    firebase: EmulatorSuite, buyer: User
) -> None:
    path = f"users/{buyer.uid}/blocks"
    before = firebase.firestore.as_user(buyer)
    assert_denied(lambda: before.set(f"{path}/first", block_doc(strictness="hardcore")))

    subscriptions.apply(fact(buyer, SubscriptionState.ACTIVE, event="b", expires=NOW + MONTH), NOW)
    # The token the device holds predates Pro: the rules read the profile.
    assert_allowed(lambda: before.set(f"{path}/first", block_doc(strictness="hardcore")))
    # Refreshed, the token carries the claim: no read needed.
    paid = firebase.firestore.as_user(firebase.auth.refresh(buyer))
    assert_allowed(lambda: paid.set(f"{path}/second", block_doc(strictness="hardcore")))

    ended = NOW + timedelta(minutes=1)
    subscriptions.apply(fact(buyer, SubscriptionState.REFUNDED, at=ended, event="r"), ended)
    assert entitlements(firebase, buyer)["pro"] is False
    assert claims(firebase, buyer) == {"pro": False}
    # New hardcore is refused; the hardcore the person chose stays as it is (never loosened).
    lapsed = firebase.firestore.as_user(firebase.auth.refresh(buyer))
    assert_denied(lambda: lapsed.set(f"{path}/third", block_doc(strictness="hardcore")))
    assert_denied(lambda: lapsed.delete(f"{path}/first"))
    kept = firebase.firestore.as_owner().get(f"{path}/first") or {}
    assert kept["strictness"] == "hardcore"


def test_a_pro_claim_past_its_end_is_not_pro(firebase: EmulatorSuite, user: User) -> None:
    ended = int((NOW - timedelta(minutes=1)).timestamp())
    stale = firebase.as_uid(user.uid, claims={"pro": True, "proUntil": ended})

    blocks = firebase.firestore.as_user(stale)
    assert_denied(
        lambda: blocks.set(f"users/{user.uid}/blocks/b", block_doc(strictness="hardcore"))
    )


def test_the_same_store_event_twice_applies_once(firebase: EmulatorSuite, buyer: User) -> None:
    purchase = fact(buyer, SubscriptionState.ACTIVE, event="same", expires=NOW + MONTH)

    assert subscriptions.apply(purchase, NOW).outcome is Outcome.APPLIED
    assert subscriptions.apply(purchase, NOW + timedelta(seconds=5)).outcome is Outcome.DUPLICATE


def test_an_older_event_delivered_late_leaves_the_later_state(
    firebase: EmulatorSuite, buyer: User
) -> None:
    expired_at = NOW - timedelta(hours=1)
    subscriptions.apply(fact(buyer, SubscriptionState.EXPIRED, at=expired_at, event="late"), NOW)
    older = fact(
        buyer, SubscriptionState.ACTIVE, at=expired_at - MONTH, event="early", expires=NOW + MONTH
    )

    assert subscriptions.apply(older, NOW).outcome is Outcome.UNCHANGED
    assert entitlements(firebase, buyer)["pro"] is False


def test_a_failed_renewal_owes_the_person_one_billing_problem_notice(
    firebase: EmulatorSuite, buyer: User
) -> None:
    subscriptions.apply(fact(buyer, SubscriptionState.ACTIVE, event="a", expires=NOW + MONTH), NOW)
    grace_ends = NOW + MONTH + timedelta(days=6)
    for n in range(2):  # the store reports each retry; the person hears of it once
        at = NOW + MONTH + timedelta(hours=n)
        subscriptions.apply(
            fact(buyer, SubscriptionState.GRACE, at=at, event=f"g{n}", expires=grace_ends), at
        )

    assert entitlements(firebase, buyer)["state"] == "grace"
    assert entitlements(firebase, buyer)["pro"] is True  # the store keeps access open in grace
    notices = firebase.firestore.as_owner().query(f"users/{buyer.uid}/outbox")
    assert [data["kind"] for _, data in notices] == ["billing_problem"]


def test_one_store_subscription_serves_one_account(firebase: EmulatorSuite, buyer: User) -> None:
    subscriptions.apply(fact(buyer, SubscriptionState.ACTIVE, event="a", expires=NOW + MONTH), NOW)
    other = launched_user(firebase)
    firebase.functions.call("getEntitlements", envelope(), user=other).unwrap()

    reused = fact(other, SubscriptionState.ACTIVE, event="b", expires=NOW + MONTH)
    assert subscriptions.apply(reused, NOW).outcome is Outcome.BOUND_ELSEWHERE
    restored = fact(None, SubscriptionState.ACTIVE, event="c", expires=NOW + MONTH)
    with pytest.raises(FailedPrecondition, match="another account"):
        subscriptions.restore(other.uid, restored, NOW)
    assert entitlements(firebase, other) == {"pro": False}
    assert firebase.firestore.as_owner().query(f"users/{other.uid}/subscriptions") == []


def test_a_notice_naming_no_known_account_is_left_for_a_restore(firebase: EmulatorSuite) -> None:
    stray = fact(None, SubscriptionState.ACTIVE, event="stray", expires=NOW + MONTH)

    assert subscriptions.apply(stray, NOW).outcome is Outcome.UNMATCHED
    assert firebase.firestore.as_owner().query("storeEvents") == []  # a later one may apply


def test_erasure_unbinds_the_person_so_a_new_account_can_restore_the_same_subscription(
    firebase: EmulatorSuite, buyer: User
) -> None:
    subscriptions.apply(fact(buyer, SubscriptionState.ACTIVE, event="a", expires=NOW + MONTH), NOW)

    assert subscriptions.forget_account(buyer.uid) == 2  # the token's mapping, the binding
    assert firebase.firestore.as_owner().query("storeSubscriptions") == []
    assert subscriptions.forget_account(buyer.uid) == 0

    newcomer = launched_user(firebase)
    again = fact(None, SubscriptionState.ACTIVE, event="restore", expires=NOW + MONTH)
    assert subscriptions.restore(newcomer.uid, again, NOW).pro is True

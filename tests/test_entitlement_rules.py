"""Pure specs: how store facts fold into a subscription and subscriptions into Pro
(focus.domain.entitlements; docs/subscriptions.md draws the state machine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from focus.domain.entitlements import (
    Entitlements,
    Store,
    StoreFact,
    Subscription,
    SubscriptionState,
    apply,
    billing_problem_began,
    entitlements_of,
    purchase_account_token,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MONTH = timedelta(days=30)
ACTIVE, GRACE, RETRY = (
    SubscriptionState.ACTIVE,
    SubscriptionState.GRACE,
    SubscriptionState.BILLING_RETRY,
)


def fact(
    state: SubscriptionState | None,
    at: datetime,
    *,
    expires: datetime | None = None,
    store: Store = Store.APP_STORE,
    event: str = "e",
) -> StoreFact:
    return StoreFact(
        store=store,
        event_id=event,
        subscription_id="sub-1",
        product_id="pro.monthly",
        state=state,
        expires_at=expires,
        occurred_at=at,
    )


def subscription(
    state: SubscriptionState, expires: datetime | None, *, at: datetime = T0, store: Store
) -> Subscription:
    return Subscription(store=store, state=state, expires_at=expires, updated_at=at)


def test_a_purchase_starts_an_active_subscription_until_its_expiry() -> None:
    started = apply(None, fact(ACTIVE, T0, expires=T0 + MONTH))

    assert started is not None
    assert (started.state, started.expires_at, started.updated_at) == (ACTIVE, T0 + MONTH, T0)
    assert started.gives_pro(T0 + MONTH - timedelta(seconds=1))
    assert not started.gives_pro(T0 + MONTH)


def test_an_older_fact_arriving_late_changes_nothing() -> None:
    expired = apply(None, fact(SubscriptionState.EXPIRED, T0 + MONTH))

    assert apply(expired, fact(ACTIVE, T0, expires=T0 + MONTH)) is None


def test_the_same_fact_twice_changes_nothing_the_second_time() -> None:
    once = apply(None, fact(ACTIVE, T0, expires=T0 + MONTH))

    assert apply(once, fact(ACTIVE, T0, expires=T0 + MONTH)) is None


def test_a_fact_without_a_state_changes_nothing() -> None:
    active = apply(None, fact(ACTIVE, T0, expires=T0 + MONTH))

    assert apply(active, fact(None, T0 + timedelta(days=1))) is None


def test_a_fact_without_an_expiry_keeps_the_known_one() -> None:
    active = apply(None, fact(ACTIVE, T0, expires=T0 + MONTH))
    refunded = apply(active, fact(SubscriptionState.REFUNDED, T0 + timedelta(days=3)))

    assert refunded is not None and refunded.expires_at == T0 + MONTH
    assert not refunded.gives_pro(T0 + timedelta(days=4))


def test_grace_gives_pro_billing_retry_does_not() -> None:
    now = T0 + timedelta(days=1)
    grace = subscription(GRACE, now + timedelta(days=6), store=Store.APP_STORE)
    retry = subscription(RETRY, now + timedelta(days=6), store=Store.GOOGLE_PLAY)

    assert entitlements_of([grace], now).pro
    assert not entitlements_of([retry], now).pro


def test_pro_lasts_until_the_latest_expiry_among_the_stores_that_give_it() -> None:
    now = T0 + timedelta(days=1)
    apple = subscription(ACTIVE, T0 + MONTH, store=Store.APP_STORE)
    web = subscription(ACTIVE, T0 + 2 * MONTH, store=Store.STRIPE)
    refunded = subscription(SubscriptionState.REFUNDED, T0 + 3 * MONTH, store=Store.GOOGLE_PLAY)

    granted = entitlements_of([apple, web, refunded], now)

    assert (granted.pro, granted.pro_until, granted.source) == (True, T0 + 2 * MONTH, Store.STRIPE)


def test_without_pro_the_latest_subscription_says_why() -> None:
    now = T0 + 2 * MONTH
    ran_out = subscription(SubscriptionState.EXPIRED, T0 + MONTH, at=T0 + MONTH, store=Store.STRIPE)
    revoked = subscription(
        SubscriptionState.REVOKED,
        T0 + MONTH,
        at=T0 + MONTH + timedelta(days=1),
        store=Store.APP_STORE,
    )

    granted = entitlements_of([ran_out, revoked], now)

    assert (granted.pro, granted.pro_until, granted.state) == (
        False,
        None,
        SubscriptionState.REVOKED,
    )
    assert entitlements_of([], now) == Entitlements()


def test_an_active_subscription_past_its_expiry_gives_no_pro() -> None:
    stale = subscription(ACTIVE, T0 + MONTH, store=Store.APP_STORE)

    assert not entitlements_of([stale], T0 + MONTH + timedelta(minutes=1)).pro


def test_the_person_hears_of_a_billing_problem_once_when_it_begins() -> None:
    active = subscription(ACTIVE, T0 + MONTH, store=Store.APP_STORE)
    grace = subscription(GRACE, T0 + MONTH + timedelta(days=6), store=Store.APP_STORE)
    retry = subscription(RETRY, T0 + MONTH + timedelta(days=6), store=Store.APP_STORE)

    assert billing_problem_began(active, grace)
    assert billing_problem_began(None, retry)
    assert not billing_problem_began(grace, retry)  # the store's later retries: said already
    assert not billing_problem_began(grace, active)


def test_a_person_has_one_purchase_account_token_everywhere() -> None:
    token = purchase_account_token("uid-1")

    assert token == purchase_account_token("uid-1") != purchase_account_token("uid-2")
    assert len(token) == 36 and token == token.lower()  # a UUID, as appAccountToken must be

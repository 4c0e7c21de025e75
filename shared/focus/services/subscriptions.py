"""Subscriptions: a verified store fact applied to the person it belongs to, exactly once.

Every store's receiver (App Store and Stripe webhooks, Google Play's Pub/Sub notifications,
``restorePurchases``) verifies what it got, turns it into a ``StoreFact`` and calls ``apply``.
One transaction then:

* dedupes on the store's event id (``storeEvents/{key}``, kept 90 days);
* finds the account: the purchase account token the app passed at purchase
  (``purchaseAccounts/{token}``), else the account the subscription is already bound to;
* refuses a subscription already bound to another account (one receipt is not shared between
  accounts: ``storeSubscriptions/{key}``), with nothing written;
* folds the fact into ``users/{uid}/subscriptions/{key}`` in the store's time order and derives
  the profile's ``entitlements`` from all of the person's subscriptions;
* owes a billing-problem notification (the push outbox) when a renewal has just failed.

After the commit the ``pro`` custom claim follows the entitlement, so the app and the rules can
gate without a read; the app refreshes its ID token when ``entitlements.updatedAt`` moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from google.cloud import firestore as gcf

from focus.adapters import clients, logs, paths, store, tracing
from focus.domain import entitlements as rules
from focus.domain.analytics_events import EntitlementChangedProperties, EventName
from focus.domain.entitlements import Entitlements, StoreFact, Subscription, SubscriptionState
from focus.domain.errors import FailedPrecondition, Reason
from focus.services import analytics

EVENT_RETENTION = timedelta(days=90)
MAX_SUBSCRIPTIONS = 50  # per person: far more than anyone buys; bounds the transaction's reads
SUBSCRIPTIONS_OF = store.QuerySpec("subscriptions of a person", paths.SUBSCRIPTIONS)


class Outcome(StrEnum):
    APPLIED = "applied"  # the person's subscription and entitlements reflect the fact
    UNCHANGED = "unchanged"  # no state in it, or older than what is recorded
    DUPLICATE = "duplicate"  # this event was applied before
    UNMATCHED = "unmatched"  # no account named, none bound: logged for restorePurchases
    BOUND_ELSEWHERE = "bound_elsewhere"  # the subscription belongs to another account


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    uid: str | None = None
    entitlements: Entitlements | None = None


def account_token(uid: str) -> str:
    """The person's purchase account token, recorded so a store notification naming it finds
    the account (one read; one write the first time)."""
    token = rules.purchase_account_token(uid)
    ref = clients.firestore().document(paths.purchase_account(token))
    if not store.get(ref).exists:
        store.set_now(ref, {"uid": uid})
    return token


@tracing.traced("firestore.subscriptions.apply")
def apply(fact: StoreFact, now: datetime, *, claimant: str | None = None) -> Applied:
    """Apply a verified store fact (see the module docstring). ``claimant``: the signed-in person
    restoring their purchases; the fact is theirs unless another account holds it."""
    db = clients.firestore()
    sub_key = rules.subscription_key(fact.store, fact.subscription_id)
    event_ref = db.document(paths.store_event(rules.event_key(fact.store, fact.event_id)))
    binding_ref = db.document(paths.store_subscription(sub_key))
    token_ref = (
        db.document(paths.purchase_account(fact.account_token)) if fact.account_token else None
    )

    states: list[SubscriptionState] = []  # the subscription's state the committed attempt set

    def run(tx: gcf.Transaction) -> tuple[Applied, bool, str | None]:
        states.clear()
        refs = [event_ref, binding_ref] + ([token_ref] if token_ref is not None else [])
        event, binding, *token = store.get_all(refs, tx)
        if event.exists:
            return Applied(Outcome.DUPLICATE), False, None
        bound_to = _uid(binding)
        token_owner = _uid(token[0]) if token else None
        uid = claimant or token_owner or bound_to
        if uid is None:
            return Applied(Outcome.UNMATCHED), False, None
        if any(owner not in (None, uid) for owner in (bound_to, token_owner)):
            return Applied(Outcome.BOUND_ELSEWHERE, uid), False, None
        user_ref = db.document(paths.user(uid))
        profile = store.get(user_ref, tx)
        others = store.query(SUBSCRIPTIONS_OF, user_ref, limit=MAX_SUBSCRIPTIONS, transaction=tx)
        subscriptions = {s.id: Subscription.model_validate(s.to_dict()) for s in others}
        before = subscriptions.get(sub_key)
        after = rules.apply(before, fact)
        out = store.writes(tx)
        out.create(event_ref, _event_record(fact, now))
        if bound_to is None:
            out.create(binding_ref, {"uid": uid, "store": fact.store.value, "boundAt": now})
        if after is None or not profile.exists:
            return Applied(Outcome.UNCHANGED, uid), False, None
        subscriptions[sub_key] = after
        states.append(after.state)
        out.set(db.document(paths.subscription(uid, sub_key)), after.to_firestore())
        granted = rules.entitlements_of(subscriptions.values(), now)
        previous = Entitlements.model_validate((profile.to_dict() or {}).get("entitlements") or {})
        out.update(user_ref, {"entitlements": granted.to_firestore()})
        notice = None
        if rules.billing_problem_began(before, after):
            # Only where a renewal failed: the api codebase (getEntitlements) never loads these.
            from focus.domain.notifications import BillingProblem
            from focus.services import outbox

            notice = outbox.stage_visible(
                tx, uid, BillingProblem(occurred_at=fact.occurred_at), now
            )
        pro_changed = (previous.pro, previous.pro_until) != (granted.pro, granted.pro_until)
        return Applied(Outcome.APPLIED, uid, granted), pro_changed, notice

    applied, pro_changed, notice = store.transactional(run, name="subscriptions.apply")
    logs.get_logger().info(
        "store fact",
        store=fact.store.value,
        outcome=applied.outcome.value,
        state=fact.state.value if fact.state else None,
        owner=logs.pseudonymous_user_id(applied.uid) if applied.uid else None,
    )
    if applied.uid is not None and notice is not None:
        from focus.services import outbox

        outbox.hand_off(applied.uid, notice, now)
    if applied.uid is not None and pro_changed and applied.entitlements is not None:
        set_pro_claim(applied.uid, applied.entitlements)
    if applied.outcome is Outcome.APPLIED and applied.uid and applied.entitlements and states:
        # One per store event (its key is the fact; a duplicate delivery is DUPLICATE above).
        analytics.record(
            applied.uid,
            EventName.ENTITLEMENT_CHANGED,
            (event_ref.id,),
            EntitlementChangedProperties(
                pro=applied.entitlements.pro, store=fact.store, state=states[0]
            ),
            now,
        )
    return applied


def set_pro_claim(uid: str, granted: Entitlements) -> None:
    """Mirror ``pro`` (and when it ends) into the account's custom claims, keeping any others;
    an account already deleted by an erasure has none to set."""
    from firebase_admin import auth

    app = clients.firebase_app()
    try:
        claims: dict[str, Any] = dict(auth.get_user(uid, app=app).custom_claims or {})
        claims["pro"] = granted.pro
        if granted.pro and granted.pro_until is not None:
            claims["proUntil"] = int(granted.pro_until.timestamp())
        else:
            claims.pop("proUntil", None)
        auth.set_custom_user_claims(uid, claims, app=app)
    except auth.UserNotFoundError:
        return


def restore(uid: str, fact: StoreFact, now: datetime) -> Entitlements:
    """``restorePurchases``: apply a purchase the signed-in person's device holds, verified with
    its store by the caller, to that person; their entitlements after it. A purchase another
    account holds is refused (FAILED_PRECONDITION ``SUBSCRIPTION_IN_USE``), nothing written."""
    applied = apply(fact, now, claimant=uid)
    if applied.outcome is Outcome.BOUND_ELSEWHERE:
        raise FailedPrecondition(
            "This purchase belongs to another account. Sign in to that account to use it.",
            reason=Reason.SUBSCRIPTION_IN_USE,
        )
    return applied.entitlements or current(uid)


def current(uid: str) -> Entitlements:
    """The person's entitlements as the profile holds them (one read)."""
    snapshot = store.get(clients.firestore().document(paths.user(uid)))
    if not snapshot.exists:
        raise FailedPrecondition("Open the app once (launch) first.", reason=Reason.PROFILE_MISSING)
    return Entitlements.model_validate((snapshot.to_dict() or {}).get("entitlements") or {})


def _uid(snapshot: Any) -> str | None:
    if not snapshot.exists:
        return None
    value = (snapshot.to_dict() or {}).get("uid")
    return value if isinstance(value, str) and value else None


def _event_record(fact: StoreFact, now: datetime) -> dict[str, object]:
    # No account and no subscription id in it: only what dedupe and an operator need.
    return {
        "store": fact.store.value,
        "state": fact.state.value if fact.state else None,
        "occurredAt": fact.occurred_at,
        "receivedAt": now,
        "expireAt": now + EVENT_RETENTION,
    }


BOUND_TO = store.QuerySpec(
    "store subscriptions bound to a person", paths.STORE_SUBSCRIPTIONS, filters=(("uid", "=="),)
)


@tracing.traced("firestore.subscriptions.forget_account")
def forget_account(uid: str) -> int:
    """At erasure: the records outside ``users/{uid}`` that name the person (the purchase
    account token's mapping, and the store subscriptions bound to them), so a store notification
    for them finds no one and a later account may restore the same store subscription. How
    many were deleted. Idempotent: a second run finds nothing."""
    db = clients.firestore()
    token_ref = db.document(paths.purchase_account(rules.purchase_account_token(uid)))
    deleted = _delete([token_ref] if store.get(token_ref).exists else [])
    while bound := store.query(BOUND_TO, None, [uid], limit=MAX_SUBSCRIPTIONS):
        deleted += _delete([snap.reference for snap in bound])
    return deleted


def _delete(refs: list[Any]) -> int:
    if not refs:
        return 0
    batch = clients.firestore().batch()
    out = store.writes(batch)
    for ref in refs:
        out.delete(ref)
    batch.commit()
    return len(refs)

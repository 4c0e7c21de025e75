"""The App Store path to Pro: Apple's notifications, and restoring a purchase from the device.

Both verify what Apple signed (``focus.adapters.app_store``), turn it into a ``StoreFact``
(``focus.domain.app_store_events``: which notification does what) and apply it through
``focus.services.subscriptions``, which dedupes, finds the account and updates the entitlements.

App Store Connect sends App Store Server Notifications v2 to ``appStoreNotifications``. What
Apple did not sign for this app and an accepted environment is refused (401, nothing written):
Apple never sends such a thing, so a refusal means someone else is knocking. A notification
that changes no state is acknowledged (200) and logged, so Apple does not send it again.
"""

from __future__ import annotations

import json
from datetime import datetime

from focus.adapters import app_store as apple
from focus.adapters import logs
from focus.domain import app_store_events as events
from focus.domain.entitlements import Entitlements, purchase_account_token
from focus.domain.errors import FailedPrecondition, Reason, Unauthenticated
from focus.services import subscriptions
from focus.services.subscriptions import Applied, Outcome

SECRETS = apple.SECRETS
MAX_BODY_BYTES = 256 * 1024  # Apple's notifications are a few KB; refused unread past this


def receive_notification(body: bytes, now: datetime) -> Applied:
    """Apply one App Store Server Notification (``{"signedPayload": ...}``); how it applied.
    Raises ``Unauthenticated`` for anything Apple did not sign for this app."""
    try:
        notification = apple.verify_notification(_signed_payload(body))
    except apple.NotVerified as exc:
        logs.get_logger().warning("app store notification refused", refusal=str(exc))
        raise Unauthenticated("Not an App Store notification for this app.") from exc
    fact = events.fact_of_notification(notification)
    logs.get_logger().info(
        "app store notification",
        type=notification.type,
        subtype=notification.subtype,
        environment=notification.environment,
        state=fact.state.value if fact and fact.state else None,
        # A refund request's consumption question goes unanswered: we send Apple no
        # consumption information, and Apple decides without it.
        consumption_request=notification.type == "CONSUMPTION_REQUEST" or None,
    )
    if fact is None:  # a test notification or a summary: nothing about one subscription
        return Applied(Outcome.UNCHANGED)
    return subscriptions.apply(fact, now)


def restore(uid: str, signed_transaction: str, now: datetime) -> Entitlements:
    """``restorePurchases`` with a StoreKit 2 signed transaction: the person's entitlements
    after it. A transaction Apple did not sign for this app is refused (FAILED_PRECONDITION
    ``PURCHASE_NOT_VERIFIED``), one bound to another account too (``SUBSCRIPTION_IN_USE``)."""
    try:
        transaction = apple.verify_transaction(signed_transaction)
    except apple.NotVerified as exc:
        logs.get_logger().warning("app store transaction refused", refusal=str(exc))
        raise FailedPrecondition(
            "The App Store did not confirm this purchase.", reason=Reason.PURCHASE_NOT_VERIFIED
        ) from exc
    fact = events.fact_of_restore(transaction, purchase_account_token(uid), now)
    return subscriptions.restore(uid, fact, now)


def _signed_payload(body: bytes) -> str:
    if len(body) > MAX_BODY_BYTES:
        raise apple.NotVerified("a body larger than any notification")
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise apple.NotVerified("a body that is not JSON") from exc
    signed = parsed.get("signedPayload") if isinstance(parsed, dict) else None
    if not isinstance(signed, str) or not signed:
        raise apple.NotVerified("no signedPayload")
    return signed

"""Store traffic: the stores' notifications about subscriptions, and restoring a purchase.

The store client libraries (Apple's verifier, the Android Publisher API, Stripe) are imported
only by this codebase, so they never weigh on the mobile API's cold start. Each function verifies
what it got and applies it through ``focus.services.subscriptions`` (docs/subscriptions.md).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime

from firebase_functions import pubsub_fn
from firebase_functions.core import CloudEvent

from focus.contracts.subscriptions import EntitlementsView, RestorePurchasesRequest
from focus.domain.errors import Reason
from focus.domain.wires import Topic
from focus.entrypoints.callables import Call, mobile_callable
from focus.entrypoints.handlers import background
from focus.entrypoints.runtime import start_codebase
from focus.entrypoints.webhooks import WebhookAnswer, store_webhook
from focus.services import app_store, google_play, restores, stripe_billing

# Store notifications are rare next to app traffic (a few per subscriber a month) and each
# waits on Firestore and, for Play, on the Android Publisher API.
start_codebase(
    "webhooks",
    cpu=1,
    memory=512,
    concurrency=40,
    max_instances=20,
    secrets=[*app_store.SECRETS, *google_play.SECRETS, *stripe_billing.SECRETS],
)


@store_webhook
def appStoreNotifications(body: bytes, headers: Mapping[str, str], now: datetime) -> WebhookAnswer:
    """App Store Server Notifications v2: a signed payload, verified with Apple's library."""
    applied = app_store.receive_notification(body, now)
    return WebhookAnswer(200, {"outcome": applied.outcome.value})


@store_webhook
def stripeWebhook(body: bytes, headers: Mapping[str, str], now: datetime) -> WebhookAnswer:
    """Stripe events for the web checkout, verified by their Stripe-Signature header."""
    applied = stripe_billing.receive_event(body, headers.get("Stripe-Signature"), now)
    return WebhookAnswer(200, {"outcome": applied.outcome.value if applied else "ignored"})


@pubsub_fn.on_message_published(topic=Topic.PLAY_NOTIFICATIONS, retry=True)
@background("pubsub")
def on_play_notification(event: CloudEvent[pubsub_fn.MessagePublishedData[object]]) -> None:
    """Google Play real-time developer notifications; the purchase itself is fetched from the
    Android Publisher API (the notification's content is never trusted)."""
    message = event.data.message
    google_play.receive_notification(
        base64.b64decode(message.data or ""), message.message_id, datetime.now(UTC)
    )


@mobile_callable(
    RestorePurchasesRequest,
    mutating=True,
    per_minute=10,
    errors=(Reason.SUBSCRIPTION_IN_USE, Reason.PURCHASE_NOT_VERIFIED),
)
def restorePurchases(call: Call, request: RestorePurchasesRequest) -> EntitlementsView:
    """Verify a purchase the device holds with its store and grant what it pays for."""
    return restores.restore(call.caller.uid, request.purchase, call.now)

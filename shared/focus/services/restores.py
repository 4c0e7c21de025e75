"""``restorePurchases``: a purchase the device holds, verified with the store that sold it."""

from __future__ import annotations

from datetime import datetime

from focus.contracts.subscriptions import AppStorePurchase, EntitlementsView, GooglePlayPurchase
from focus.services import app_store, google_play, subscriptions


def restore(
    uid: str, purchase: AppStorePurchase | GooglePlayPurchase, now: datetime
) -> EntitlementsView:
    """Verify ``purchase`` with its store, apply it to the signed-in person, and answer their
    entitlements with their purchase account token."""
    if isinstance(purchase, AppStorePurchase):
        granted = app_store.restore(uid, purchase.signed_transaction, now)
    else:
        granted = google_play.restore(uid, purchase.product_id, purchase.purchase_token, now)
    return EntitlementsView.of(granted, subscriptions.account_token(uid))

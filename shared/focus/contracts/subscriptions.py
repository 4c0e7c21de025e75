"""``getEntitlements`` and ``restorePurchases``: what the person has bought, and re-checking it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from focus.domain.entitlements import Entitlements, Store, SubscriptionState
from focus.domain.model import Contract


class GetEntitlementsRequest(Contract):
    pass


class EntitlementsView(Contract):
    pro: bool
    pro_until: datetime | None  # when Pro ends unless renewed; null without Pro
    source: Store | None  # the store whose subscription gives (or last gave) Pro
    state: SubscriptionState | None
    product_id: str | None
    updated_at: datetime | None  # the store's time of the last change: refresh the ID token
    # when it moves, so the `pro` custom claim is current
    purchase_account_token: str  # pass at every purchase: App Store appAccountToken, Play
    # obfuscatedExternalAccountId, Stripe Checkout client_reference_id

    @classmethod
    def of(cls, granted: Entitlements, token: str) -> EntitlementsView:
        return cls(
            pro=granted.pro,
            pro_until=granted.pro_until,
            source=granted.source,
            state=granted.state,
            product_id=granted.product_id,
            updated_at=granted.updated_at,
            purchase_account_token=token,
        )


class AppStorePurchase(Contract):
    """From the App Store: a signed transaction (StoreKit 2 ``Transaction.jwsRepresentation``)."""

    store: Literal["app_store"]
    signed_transaction: str = Field(min_length=1, max_length=16384)


class GooglePlayPurchase(Contract):
    """From Google Play: the subscription's product id and purchase token."""

    store: Literal["google_play"]
    product_id: str = Field(min_length=1, max_length=256)
    purchase_token: str = Field(min_length=1, max_length=4096)


class RestorePurchasesRequest(Contract):
    """One purchase the device holds, for the server to verify with its store."""

    purchase: Annotated[AppStorePurchase | GooglePlayPurchase, Field(discriminator="store")]

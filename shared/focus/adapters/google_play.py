"""Google Play: the real-time developer notifications it publishes, and the Google Play Developer
API (Android Publisher v3) calls we make about a subscription purchase.

``read_notification(data)`` parses a notification (``UnreadableEvent`` if it is not one);
``get_subscription(token)`` reads the purchase (``purchases.subscriptionsv2.get``) as a typed
``PlayPurchase``, ``UnknownPurchase`` when Play knows no such purchase for this app;
``acknowledge(product_id, token)`` acknowledges it (``purchases.subscriptions.acknowledge``): a
purchase left unacknowledged for three days is refunded and revoked by Google.

The client is ``googleapiclient`` built from its bundled (static) discovery document: one per
thread, because its ``httplib2`` transport is not thread-safe and an instance serves several
requests at once; each is created on first use and reused for the life of the instance.
Requests time out after ``TIMEOUT_SECONDS``; 5xx, 429 and network failures are retried
``RETRIES`` times with backoff by the library, then raised (the caller's retry is the retry).

Access: production calls Google as the runtime service account, with application default
credentials and the ``androidpublisher`` scope. No IAM permission governs this API: the account
is granted access in the Play Console (Users and permissions: "View financial data" to read
purchases, "Manage orders and subscriptions" to acknowledge them), so nothing is declared for
``focus_tools.permissions`` here. The project must have the Google Play Android Developer API
(``androidpublisher.googleapis.com``) enabled.

Local endpoint: Google Play has no emulator. ``FOCUS_PLAY_ENDPOINT`` (e.g.
``http://127.0.0.1:9191``) sends every call to a server speaking the same API there instead of
``androidpublisher.googleapis.com`` (``firebase_emulator_harness.PlayServer``), with a fixed bearer
that never reaches Google; only with the emulators, which never call Google Play.
``FOCUS_PLAY_PACKAGE_NAME`` is the app's package name (``DEFAULT_PACKAGE_NAME`` unless set).
"""

from __future__ import annotations

import functools
import json
import os
import threading
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from focus.adapters import tracing
from focus.adapters.environment import is_emulated
from focus.domain.events import INVALID_EVENT, UNREADABLE_JSON, UnreadableEvent, validation_summary

ENDPOINT_SETTING = "FOCUS_PLAY_ENDPOINT"
PACKAGE_SETTING = "FOCUS_PLAY_PACKAGE_NAME"
DEFAULT_PACKAGE_NAME = "app.focus"
GOOGLE_ENDPOINT = "https://androidpublisher.googleapis.com/"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
TIMEOUT_SECONDS = 20
RETRIES = 2
MAX_TOKEN_CHARS = 2048  # Play's tokens are a few hundred characters; StoreFact's limit


class _PlayModel(BaseModel):
    """What Google sends or answers: camelCase, read tolerantly (Google adds fields)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


# -- real-time developer notifications (what Google Play publishes to our Pub/Sub topic)


class SubscriptionNotificationType(IntEnum):
    """``subscriptionNotification.notificationType``. Only a hint of what happened: the state
    is always read from the API. Types not listed (Google adds some) are accepted as numbers."""

    RECOVERED = 1
    RENEWED = 2
    CANCELED = 3
    PURCHASED = 4
    ON_HOLD = 5
    IN_GRACE_PERIOD = 6
    RESTARTED = 7
    PRICE_CHANGE_CONFIRMED = 8
    DEFERRED = 9
    PAUSED = 10
    PAUSE_SCHEDULE_CHANGED = 11
    REVOKED = 12
    EXPIRED = 13
    PENDING_PURCHASE_CANCELED = 20


class ProductType(IntEnum):
    """``voidedPurchaseNotification.productType``."""

    SUBSCRIPTION = 1
    ONE_TIME = 2


class SubscriptionNotification(_PlayModel):
    notification_type: int
    purchase_token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)
    subscription_id: str | None = None  # deprecated by Google: the purchase says which product


class VoidedPurchaseNotification(_PlayModel):
    purchase_token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)
    order_id: str | None = None
    product_type: int
    refund_type: int | None = None


class OneTimeProductNotification(_PlayModel):
    notification_type: int
    purchase_token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)
    sku: str | None = None


class ConsoleTestNotification(_PlayModel):
    """What the Play Console's "Send test notification" publishes."""

    version: str | None = None


_KINDS = (
    "subscription_notification",
    "voided_purchase_notification",
    "one_time_product_notification",
    "test_notification",
)


class DeveloperNotification(_PlayModel):
    """One real-time developer notification: exactly one of its four kinds."""

    version: str
    package_name: str = Field(min_length=1)
    event_time_millis: int = Field(ge=0)  # a string of digits on the wire (int64)
    subscription_notification: SubscriptionNotification | None = None
    voided_purchase_notification: VoidedPurchaseNotification | None = None
    one_time_product_notification: OneTimeProductNotification | None = None
    test_notification: ConsoleTestNotification | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> DeveloperNotification:
        present = [kind for kind in _KINDS if getattr(self, kind) is not None]
        if len(present) != 1:
            raise ValueError(f"exactly one of {', '.join(map(to_camel, _KINDS))} is required")
        return self

    @property
    def event_time(self) -> datetime:
        """Google's time for the event (never our receipt time)."""
        return datetime.fromtimestamp(self.event_time_millis / 1000, UTC)


def read_notification(data: bytes) -> DeveloperNotification:
    """The notification in a Pub/Sub message's ``data``; ``UnreadableEvent`` (reason and what
    failed, by field, without values) if it is not one."""
    try:
        parsed = json.loads(data)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise UnreadableEvent(UNREADABLE_JSON, str(exc)[:200]) from None
    if not isinstance(parsed, dict):
        raise UnreadableEvent(UNREADABLE_JSON, f"a JSON {type(parsed).__name__}, not an object")
    try:
        return DeveloperNotification.model_validate(parsed)
    except ValidationError as exc:
        raise UnreadableEvent(INVALID_EVENT, validation_summary(exc)) from None


# -- the Google Play Developer API


class PlayState(StrEnum):
    """``SubscriptionPurchaseV2.subscriptionState``; a value Google adds later reads as
    ``UNSPECIFIED``."""

    UNSPECIFIED = "SUBSCRIPTION_STATE_UNSPECIFIED"
    PENDING = "SUBSCRIPTION_STATE_PENDING"
    ACTIVE = "SUBSCRIPTION_STATE_ACTIVE"
    PAUSED = "SUBSCRIPTION_STATE_PAUSED"
    IN_GRACE_PERIOD = "SUBSCRIPTION_STATE_IN_GRACE_PERIOD"
    ON_HOLD = "SUBSCRIPTION_STATE_ON_HOLD"
    CANCELED = "SUBSCRIPTION_STATE_CANCELED"
    EXPIRED = "SUBSCRIPTION_STATE_EXPIRED"
    PENDING_PURCHASE_CANCELED = "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED"


ACKNOWLEDGEMENT_PENDING = "ACKNOWLEDGEMENT_STATE_PENDING"


class LineItem(_PlayModel):
    product_id: str
    expiry_time: datetime | None = None


class ExternalAccountIdentifiers(_PlayModel):
    obfuscated_external_account_id: str | None = None


class CanceledStateContext(_PlayModel):
    replacement_cancellation: dict[str, Any] | None = None


class PlayPurchase(_PlayModel):
    """What we read of a ``SubscriptionPurchaseV2``."""

    subscription_state: PlayState = PlayState.UNSPECIFIED
    line_items: list[LineItem] = []
    acknowledgement_state: str | None = None
    external_account_identifiers: ExternalAccountIdentifiers | None = None
    linked_purchase_token: str | None = None
    latest_order_id: str | None = None
    test_purchase: dict[str, Any] | None = None
    canceled_state_context: CanceledStateContext | None = None

    @field_validator("subscription_state", mode="before")
    @classmethod
    def _known_state(cls, value: Any) -> Any:
        return value if value in set(PlayState) else PlayState.UNSPECIFIED

    @property
    def account_token(self) -> str | None:
        """The ``obfuscatedExternalAccountId`` the app passed at purchase (our purchase account
        token), if it did."""
        ids = self.external_account_identifiers
        return ids.obfuscated_external_account_id if ids else None

    @property
    def latest_item(self) -> LineItem | None:
        """The line item that runs longest (a subscription has one unless it has add-ons)."""
        dated = [item for item in self.line_items if item.expiry_time is not None]
        if dated:
            return max(dated, key=lambda item: item.expiry_time or datetime.min)
        return self.line_items[0] if self.line_items else None

    @property
    def expires_at(self) -> datetime | None:
        item = self.latest_item
        return item.expiry_time if item else None

    @property
    def product_id(self) -> str | None:
        item = self.latest_item
        return item.product_id if item else None

    @property
    def product_ids(self) -> frozenset[str]:
        return frozenset(item.product_id for item in self.line_items)

    @property
    def acknowledged(self) -> bool:
        return self.acknowledgement_state != ACKNOWLEDGEMENT_PENDING

    @property
    def replaced(self) -> bool:
        """Ended because another purchase replaced it (an upgrade, a downgrade)."""
        context = self.canceled_state_context
        return context is not None and context.replacement_cancellation is not None


class UnknownPurchase(Exception):
    """Play knows no such purchase for this app: never sold, or not to this app (404), expired
    too long ago to be read (410, after 60 days), or a token Play refuses (400). ``status`` and
    Google's ``reason`` say which."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"Google Play answered {status} ({reason})")
        self.status = status
        self.reason = reason


@functools.cache
def package_name() -> str:
    """The app's package name: every purchase we read or notification we accept is of it."""
    return os.environ.get(PACKAGE_SETTING, "").strip() or DEFAULT_PACKAGE_NAME


def get_subscription(token: str) -> PlayPurchase:
    """The subscription purchase ``token`` of this app, as Play has it now."""
    request = (
        _publisher().purchases().subscriptionsv2().get(packageName=package_name(), token=token)
    )
    with tracing.span("play.subscriptionsv2.get"):
        answer = _execute(request)
    return PlayPurchase.model_validate(answer)


def acknowledge(product_id: str, token: str) -> None:
    """Tell Play the purchase ``token`` of ``product_id`` was delivered (within three days of
    the purchase, or Google refunds and revokes it)."""
    request = (
        _publisher()
        .purchases()
        .subscriptions()
        .acknowledge(packageName=package_name(), subscriptionId=product_id, token=token, body={})
    )
    with tracing.span("play.subscriptions.acknowledge"):
        _execute(request)


def _execute(request: Any) -> Any:
    from googleapiclient.errors import HttpError  # type: ignore[import-untyped]

    try:
        return request.execute(num_retries=RETRIES)
    except HttpError as exc:
        status = int(exc.resp.status)
        if status in (400, 404, 410):
            raise UnknownPurchase(status, _reason(exc)) from None
        raise


def _reason(error: Any) -> str:
    """Google's ``errors[0].reason`` (``purchaseTokenNotFound`` ...), else its HTTP reason."""
    try:
        detail = json.loads(error.content)["error"]["errors"][0]
        return str(detail["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return str(getattr(error.resp, "reason", "") or "unknown")


_threads = threading.local()


def _publisher() -> Any:
    """This thread's Android Publisher client (``googleapiclient`` Resource)."""
    service = getattr(_threads, "publisher", None)
    if service is None:
        import google_auth_httplib2  # type: ignore[import-untyped]
        import httplib2  # type: ignore[import-untyped]
        from googleapiclient import discovery  # type: ignore[import-untyped]

        credentials, endpoint = _access()
        http = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=TIMEOUT_SECONDS)
        )
        service = discovery.build(
            "androidpublisher",
            "v3",
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": endpoint},
        )
        _threads.publisher = service
    return service


@functools.cache
def _access() -> tuple[Any, str]:
    """The credentials and the endpoint every thread's client uses."""
    endpoint = os.environ.get(ENDPOINT_SETTING, "").strip()
    if not is_emulated():
        if endpoint:
            # The client would send the service account's real OAuth token to that server.
            raise RuntimeError(f"{ENDPOINT_SETTING} is for the emulators only")
        import google.auth

        credentials, _ = google.auth.default(scopes=[SCOPE])
        return credentials, GOOGLE_ENDPOINT
    if not endpoint.startswith(("http://", "https://")):
        raise RuntimeError(
            f"{ENDPOINT_SETTING} must name the local Play server (e.g. http://127.0.0.1:9191): "
            "the emulators never call Google Play"
        )
    from google.oauth2.credentials import Credentials

    # A fixed bearer that never refreshes: nothing goes to Google for a token, and the local
    # server, like Google, refuses a request without one.
    return Credentials(token="owner"), endpoint.rstrip("/") + "/"  # type: ignore[no-untyped-call]

"""A local server that speaks the Google Play Developer API's subscription purchase endpoints.

Google Play has no emulator. This server answers the two Android Publisher v3 calls a backend
makes about a subscription purchase, on the paths Google's discovery document gives them, so the
production client (``googleapiclient`` built for ``androidpublisher`` ``v3`` with this server's URL
as ``api_endpoint``, or any HTTP client) talks to it unchanged:

* ``GET /androidpublisher/v3/applications/{packageName}/purchases/subscriptionsv2/tokens/{token}``
  answers the ``SubscriptionPurchaseV2`` a test put for that app and token;
* ``POST /androidpublisher/v3/applications/{packageName}/purchases/subscriptions/{subscriptionId}/tokens/{token}:acknowledge``
  marks it acknowledged (``acknowledgementState``) and records the acknowledgement.

As Google does, it answers 404 ``purchaseTokenNotFound`` for a token it does not know, 400
``purchaseTokenDoesNotMatchPackageName`` for a token of another app, 400 to an acknowledgement
naming a product the purchase does not hold, and 401 to a request without ``Authorization:
Bearer ...`` (any bearer is accepted: there is nobody to check it against). Errors carry Google's
body, ``{"error": {"code", "message", "status", "errors": [{"reason", ...}]}}``. ``fail`` answers
``PlayError``s on demand (404, 410 for a token expired too long ago, 500, 503).

    with PlayServer() as play:
        os.environ["MY_PLAY_ENDPOINT"] = play.url   # however the code under test selects it
        play.put_purchase("com.example.app", "token-1", subscription_purchase("monthly", expiry))
        ...
        play.acknowledgements()

A test in another process steers the same server through its control API under ``/_play/`` (no
Google path starts so; no bearer needed): ``POST /_play/purchases`` (``{"packageName", "token",
"purchase"}``), ``POST /_play/fail`` (``{"token", "error", "times"}``) and ``POST /_play/reset``
do what the methods of the same names do and answer ``{}``; ``GET /_play/acknowledgements``
answers ``{"acknowledgements": [...]}`` (each an ``Acknowledgement.to_json()``). A malformed
control request is answered 400 ``{"error": "<what is wrong>"}`` and changes nothing.
``PlayRemote(url)`` is its client, with the methods of ``PlayServer``.

``subscription_purchase(...)`` builds a ``SubscriptionPurchaseV2`` as Google shapes it, and
``subscription_notification``, ``voided_purchase_notification`` and ``console_test_notification`` the
real-time developer notifications Google Play publishes to Pub/Sub about them.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from http.server import BaseHTTPRequestHandler

from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.local_server import (
    TIMEOUT_S,
    ControlClient,
    JsonHandler,
    LocalServer,
    answer_control,
    enum_field,
    take_failure,
)
from firebase_emulator_harness.values import JsonObject, JsonValue, json_object

CONTROL_PATH = "/_play/"  # the control API's paths: kept apart from Google's own
_APPLICATION = r"^/androidpublisher/v3/applications/(?P<package>[^/]+)/purchases/"
_GET_PATH = re.compile(_APPLICATION + r"subscriptionsv2/tokens/(?P<token>[^/:]+)$")
_ACKNOWLEDGE_PATH = re.compile(
    _APPLICATION + r"subscriptions/(?P<product>[^/]+)/tokens/(?P<token>[^/:]+):acknowledge$"
)


class PlayError(StrEnum):
    """What the server can answer instead of a purchase, as Google answers it."""

    NOT_FOUND = "NOT_FOUND"  # 404 purchaseTokenNotFound: never sold, or not to this app
    GONE = "GONE"  # 410 purchaseTokenNoLongerValid: expired more than 60 days ago
    INTERNAL = "INTERNAL"  # 500 backendError
    UNAVAILABLE = "UNAVAILABLE"  # 503 backendError


# HTTP status, canonical status, reason and message of each.
_ANSWERS: dict[PlayError, tuple[int, str, str, str]] = {
    PlayError.NOT_FOUND: (
        404,
        "NOT_FOUND",
        "purchaseTokenNotFound",
        "The purchase token was not found.",
    ),
    PlayError.GONE: (
        410,
        "FAILED_PRECONDITION",
        "purchaseTokenNoLongerValid",
        "The purchase token is no longer valid.",
    ),
    PlayError.INTERNAL: (500, "INTERNAL", "backendError", "Internal error encountered."),
    PlayError.UNAVAILABLE: (503, "UNAVAILABLE", "backendError", "The service is unavailable."),
}


class SubscriptionState(StrEnum):
    """``SubscriptionPurchaseV2.subscriptionState``, by its short name."""

    PENDING = "SUBSCRIPTION_STATE_PENDING"
    ACTIVE = "SUBSCRIPTION_STATE_ACTIVE"
    PAUSED = "SUBSCRIPTION_STATE_PAUSED"
    IN_GRACE_PERIOD = "SUBSCRIPTION_STATE_IN_GRACE_PERIOD"
    ON_HOLD = "SUBSCRIPTION_STATE_ON_HOLD"
    CANCELED = "SUBSCRIPTION_STATE_CANCELED"
    EXPIRED = "SUBSCRIPTION_STATE_EXPIRED"
    PENDING_PURCHASE_CANCELED = "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED"


class NotificationType(IntEnum):
    """``subscriptionNotification.notificationType`` of a real-time developer notification."""

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


ACKNOWLEDGED = "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED"
PENDING_ACKNOWLEDGEMENT = "ACKNOWLEDGEMENT_STATE_PENDING"


@dataclass(frozen=True)
class Acknowledgement:
    """One accepted acknowledgement: of ``token``'s purchase of ``subscription_id`` in the app
    ``package_name``, with the request's body (``developerPayload``, ``externalAccountIds``)."""

    at: datetime
    package_name: str
    subscription_id: str
    token: str
    body: JsonObject

    def to_json(self) -> JsonObject:
        """How the control API lists it (``GET /_play/acknowledgements``)."""
        return {
            "at": self.at.isoformat(),
            "packageName": self.package_name,
            "subscriptionId": self.subscription_id,
            "token": self.token,
            "body": self.body,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> Acknowledgement:
        """The inverse of ``to_json``; ``ValueError`` if ``data`` is not one."""
        at, package, product = data.get("at"), data.get("packageName"), data.get("subscriptionId")
        token, body = data.get("token"), data.get("body")
        if not (
            isinstance(at, str)
            and isinstance(package, str)
            and isinstance(product, str)
            and isinstance(token, str)
            and isinstance(body, dict)
        ):
            raise ValueError(f"not an acknowledgement: {data!r}")
        return cls(datetime.fromisoformat(at), package, product, token, body)


@dataclass
class _Failure:
    error: PlayError
    remaining: int | None  # requests left to fail; None: until reset


class PlayServer(LocalServer):
    """The local Google Play Developer API; ``url`` (``http://127.0.0.1:<port>``) is its base URL
    once started (``start``/``stop``, or ``with``). Thread-safe."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, name="Play")
        self._lock = threading.Lock()
        self._purchases: dict[tuple[str, str], JsonObject] = {}  # (package, token) -> resource
        self._acknowledgements: list[Acknowledgement] = []
        self._failures: dict[str | None, _Failure] = {}  # None: every token

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- what tests ask of it

    def put_purchase(self, package_name: str, token: str, purchase: JsonObject) -> None:
        """Make ``purchase`` (a ``SubscriptionPurchaseV2``, e.g. ``subscription_purchase(...)``)
        what ``token`` of the app ``package_name`` is, replacing what it was: how a test moves a
        subscription through its life (renewed, on hold, expired ...)."""
        with self._lock:
            self._purchases[(package_name, token)] = copy.deepcopy(purchase)

    def acknowledgements(self) -> list[Acknowledgement]:
        """Every acknowledgement accepted so far, in arrival order."""
        with self._lock:
            return list(self._acknowledgements)

    def fail(self, token: str | None, error: PlayError, *, times: int | None = None) -> None:
        """Answer ``error`` to requests about ``token`` (``None``: about every token), the next
        ``times`` of them or until ``reset()``."""
        with self._lock:
            self._failures[token] = _Failure(error, times)

    def reset(self) -> None:
        """Forget purchases, acknowledgements and injected failures."""
        with self._lock:
            self._purchases.clear()
            self._acknowledgements.clear()
            self._failures.clear()

    # -- answering (called by the request handler threads)

    def _get(self, package: str, token: str) -> tuple[int, JsonObject]:
        with self._lock:
            return self._failure(token) or self._find(package, token)

    def _acknowledge(
        self, package: str, product: str, token: str, body: JsonObject
    ) -> tuple[int, JsonObject]:
        with self._lock:
            failed = self._failure(token)
            if failed is not None:
                return failed
            status, purchase = self._find(package, token)
            if status != 200:
                return status, purchase
            if product not in _products(purchase):
                return _google_error(400, "INVALID_ARGUMENT", "invalid", "Invalid Value")
            self._purchases[(package, token)]["acknowledgementState"] = ACKNOWLEDGED
            self._acknowledgements.append(
                Acknowledgement(datetime.now(UTC), package, product, token, body)
            )
            return 200, {}

    def _find(self, package: str, token: str) -> tuple[int, JsonObject]:
        purchase = self._purchases.get((package, token))
        if purchase is not None:
            return 200, {"kind": "androidpublisher#subscriptionPurchaseV2", **purchase}
        if any(known == token for _, known in self._purchases):
            return _google_error(
                400,
                "INVALID_ARGUMENT",
                "purchaseTokenDoesNotMatchPackageName",
                "The purchase token does not match the package name.",
            )
        return play_error_body(PlayError.NOT_FOUND)

    def _failure(self, token: str) -> tuple[int, JsonObject] | None:
        failure = take_failure(self._failures, token)
        return None if failure is None else play_error_body(failure.error)


def _products(purchase: JsonObject) -> list[JsonValue]:
    items = purchase.get("lineItems")
    listed = items if isinstance(items, list) else []
    return [item.get("productId") for item in listed if isinstance(item, dict)]


def play_error_body(error: PlayError) -> tuple[int, JsonObject]:
    """The HTTP status and JSON body Google answers for ``error``."""
    code, status, reason, message = _ANSWERS[error]
    return _google_error(code, status, reason, message)


def _google_error(code: int, status: str, reason: str, message: str) -> tuple[int, JsonObject]:
    detail: JsonObject = {"message": message, "domain": "androidpublisher", "reason": reason}
    if reason.startswith("purchaseToken"):
        detail |= {"location": "token", "locationType": "parameter"}
    return code, {"error": {"code": code, "message": message, "errors": [detail], "status": status}}


def _unauthenticated() -> tuple[int, JsonObject]:
    message = (
        "Request is missing required authentication credential. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential."
    )
    return _google_error(401, "UNAUTHENTICATED", "required", message)


# -- what tests build


def _rfc3339(moment: datetime) -> str:
    """A time as Google writes one: UTC, milliseconds, ``Z``."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def subscription_purchase(
    product_id: str,
    state: SubscriptionState = SubscriptionState.ACTIVE,
    *,
    expiry: datetime,
    start: datetime | None = None,
    account_id: str | None = None,
    acknowledged: bool = False,
    linked_purchase_token: str | None = None,
    order_id: str = "GPA.3300-0000-0000-00000",
    test: bool = False,
    replaced: bool = False,
) -> JsonObject:
    """A ``SubscriptionPurchaseV2`` with one auto-renewing line item of ``product_id`` that
    expires at ``expiry``. ``account_id``: the ``obfuscatedExternalAccountId`` the app passed at
    purchase; ``linked_purchase_token``: the purchase this one replaced (an upgrade, a re-signup);
    ``replaced``: this one was replaced by another (``canceledStateContext``); ``test``: a
    license tester's purchase (``testPurchase``)."""
    purchase: JsonObject = {
        "regionCode": "DE",
        "startTime": _rfc3339(start or expiry),
        "subscriptionState": state.value,
        "latestOrderId": order_id,
        "acknowledgementState": ACKNOWLEDGED if acknowledged else PENDING_ACKNOWLEDGEMENT,
        "lineItems": [
            {
                "productId": product_id,
                "expiryTime": _rfc3339(expiry),
                "autoRenewingPlan": {"autoRenewEnabled": state is not SubscriptionState.CANCELED},
                "offerDetails": {"basePlanId": "monthly"},
                "latestSuccessfulOrderId": order_id,
            }
        ],
    }
    if account_id is not None:
        purchase["externalAccountIdentifiers"] = {"obfuscatedExternalAccountId": account_id}
    if linked_purchase_token is not None:
        purchase["linkedPurchaseToken"] = linked_purchase_token
    if test:
        purchase["testPurchase"] = {}
    if replaced:
        purchase["canceledStateContext"] = {"replacementCancellation": {}}
    return purchase


def _notification(package_name: str, event_time: datetime | None, kind: JsonObject) -> JsonObject:
    millis = int((event_time or datetime.now(UTC)).timestamp() * 1000)
    return {"version": "1.0", "packageName": package_name, "eventTimeMillis": str(millis)} | kind


def subscription_notification(
    package_name: str,
    purchase_token: str,
    notification_type: NotificationType,
    *,
    subscription_id: str | None = None,
    event_time: datetime | None = None,
) -> JsonObject:
    """A real-time developer notification about a subscription, as Google Play publishes it
    (``eventTimeMillis`` a string of digits; ``subscriptionId`` is deprecated and often absent)."""
    about: JsonObject = {
        "version": "1.0",
        "notificationType": int(notification_type),
        "purchaseToken": purchase_token,
    }
    if subscription_id is not None:
        about["subscriptionId"] = subscription_id
    return _notification(package_name, event_time, {"subscriptionNotification": about})


def voided_purchase_notification(
    package_name: str,
    purchase_token: str,
    *,
    order_id: str = "GPA.3300-0000-0000-00000",
    product_type: int = 1,
    refund_type: int = 1,
    event_time: datetime | None = None,
) -> JsonObject:
    """A voided purchase notification (``productType`` 1: a subscription, 2: a one-time
    product; ``refundType`` 1: a full refund, 2: a partial one)."""
    voided: JsonObject = {
        "purchaseToken": purchase_token,
        "orderId": order_id,
        "productType": product_type,
        "refundType": refund_type,
    }
    return _notification(package_name, event_time, {"voidedPurchaseNotification": voided})


def console_test_notification(
    package_name: str, *, event_time: datetime | None = None
) -> JsonObject:
    """What the Play Console's "Send test notification" publishes (``testNotification``)."""
    return _notification(package_name, event_time, {"testNotification": {"version": "1.0"}})


# -- the control API


def _steer_purchases(play: PlayServer, body: JsonObject) -> None:
    package, token, purchase = body.get("packageName"), body.get("token"), body.get("purchase")
    if not (isinstance(package, str) and package and isinstance(token, str) and token):
        raise ValueError("packageName and token must be non-empty strings")
    if not isinstance(purchase, dict):
        raise ValueError("purchase must be a SubscriptionPurchaseV2 object")
    play.put_purchase(package, token, purchase)


def _steer_fail(play: PlayServer, body: JsonObject) -> None:
    token = body.get("token")
    if "token" not in body or not (token is None or isinstance(token, str)):
        raise ValueError("token must be a string, or null for every token")
    times = body.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
        raise ValueError(f"times must be a whole number or null, got {times!r}")
    play.fail(token, enum_field(PlayError, body.get("error"), "error"), times=times)


# The control API's actions (``POST /_play/<action>``): each does what the method of its name does.
_CONTROL_ACTIONS: dict[str, Callable[[PlayServer, JsonObject], None]] = {
    "purchases": _steer_purchases,
    "fail": _steer_fail,
    "reset": lambda play, _: play.reset(),
}


def _handler_for(play: PlayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            path = self._request_path()
            if path == f"{CONTROL_PATH}acknowledgements":
                listed: list[JsonValue] = [a.to_json() for a in play.acknowledgements()]
                self._reply(200, {"acknowledgements": listed})
                return
            match = _GET_PATH.match(path)
            if match is None:
                self._reply(*_google_error(404, "NOT_FOUND", "notFound", "Not Found"))
            elif not self._has_bearer():
                self._reply(*_unauthenticated())
            else:
                self._reply(*play._get(*_unquoted(match, "package", "token")))

        def do_POST(self) -> None:  # noqa: N802
            raw = self._request_body()
            path = self._request_path()
            if path.startswith(CONTROL_PATH):
                action = path.removeprefix(CONTROL_PATH)
                self._reply(*answer_control(play, _CONTROL_ACTIONS, action, raw))
                return
            match = _ACKNOWLEDGE_PATH.match(path)
            if match is None:
                self._reply(*_google_error(404, "NOT_FOUND", "notFound", "Not Found"))
                return
            if not self._has_bearer():
                self._reply(*_unauthenticated())
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._reply(*_google_error(400, "INVALID_ARGUMENT", "parseError", "Parse Error"))
                return
            package, product, token = _unquoted(match, "package", "product", "token")
            self._reply(*play._acknowledge(package, product, token, body))

    return Handler


def _unquoted(match: re.Match[str], *groups: str) -> tuple[str, ...]:
    # Path parameters arrive percent-encoded (a token may hold any character).
    return tuple(urllib.parse.unquote(match[group]) for group in groups)


class PlayRemote:
    """The local Play server at ``url`` (``PlayServer.url`` of the process that started it),
    steered over its control API with the methods of ``PlayServer``. Raises
    ``EmulatorNotRunning`` if nothing answers there, ``EmulatorError`` if the server refuses a
    request. Plain ``urllib``, so it needs nothing installed."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_S) -> None:
        self._control = ControlClient(url, CONTROL_PATH, name="Play", timeout=timeout)
        self.url = self._control.url

    def put_purchase(self, package_name: str, token: str, purchase: JsonObject) -> None:
        """Make ``purchase`` what ``token`` of ``package_name`` is (``PlayServer.put_purchase``)."""
        body: JsonObject = {"packageName": package_name, "token": token, "purchase": purchase}
        self._control.call("POST", "purchases", body)

    def acknowledgements(self) -> list[Acknowledgement]:
        """Every acknowledgement accepted so far, in arrival order."""
        listed = self._control.call("GET", "acknowledgements").get("acknowledgements")
        if not isinstance(listed, list):
            raise EmulatorError(f"{self.url} did not list acknowledgements", body=listed)
        return [Acknowledgement.from_json(json_object(a, "an acknowledgement")) for a in listed]

    def fail(self, token: str | None, error: PlayError, *, times: int | None = None) -> None:
        """Answer ``error`` to requests about ``token`` (``None``: every token), the next
        ``times`` of them or until ``reset()`` (``PlayServer.fail``)."""
        self._control.call("POST", "fail", {"token": token, "error": error.value, "times": times})

    def reset(self) -> None:
        """Forget purchases, acknowledgements and injected failures."""
        self._control.call("POST", "reset", {})

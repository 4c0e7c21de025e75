"""Sending pushes through Firebase Cloud Messaging (HTTP v1, with the Admin SDK).

``send(pushes)`` turns each ``Push`` into an FCM message with the APNs and Android settings its
kind needs and returns one ``SendOutcome`` per push, in order: what the service does next
(forget a dead token, come back after ``Retry-After``, retry later) depends only on it.

Silent pushes wake the app in the background: APNs ``apns-push-type: background``,
``apns-priority: 5`` and ``content-available: 1`` with no alert (Apple drops a background push
that asks for more); Android ``normal`` priority. Visible pushes carry the title and body with
``apns-push-type: alert``, ``apns-priority: 10``; Android ``high``. Both carry the collapse key
(``apns-collapse-id`` for alerts, which are the pushes a user would otherwise see twice) and the
time to live (Android ``ttl``, APNs ``apns-expiration``).

The Admin SDK itself retries 500 and 503 (four times, exponential backoff) and a 429 with
``Retry-After`` (sleeping that long) before it reports a failure: an outcome is what is left
after those retries.

Local endpoint: FCM has no emulator. ``FOCUS_FCM_ENDPOINT`` (e.g. ``http://127.0.0.1:9190``)
sends to a server speaking the FCM HTTP v1 API there instead of ``fcm.googleapis.com``
(``firebase_emulator_harness.fcm``); only with the emulators (docs/notifications.md).
"""

from __future__ import annotations

import email.utils
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from focus.adapters import clients
from focus.adapters.environment import is_emulated
from focus.adapters.iam import Need
from focus.domain.notifications import Push

if TYPE_CHECKING:
    from firebase_admin import App

ENDPOINT_SETTING = "FOCUS_FCM_ENDPOINT"
BATCH_LIMIT = 500  # the most messages send_each takes in one call

# IAM (focus_tools.permissions): sending a message is cloudmessaging.messages.create.
NEEDS = {"send": (Need("cloudmessaging.messages.create", why="send push notifications"),)}


@dataclass(frozen=True)
class Accepted:
    """FCM took the message; ``message_id`` is its name (``projects/<p>/messages/<id>``)."""

    push: Push
    message_id: str


@dataclass(frozen=True)
class TokenGone:
    """The token will never work again (``UNREGISTERED``, or ``INVALID_ARGUMENT`` about the
    token): forget it."""

    push: Push
    reason: str


@dataclass(frozen=True)
class QuotaExceeded:
    """Too many messages (to this device or from this project): send again no sooner than
    ``retry_after_seconds`` from now (``None``: FCM did not say)."""

    push: Push
    retry_after_seconds: int | None


@dataclass(frozen=True)
class Transient:
    """FCM was unavailable or failed internally (``UNAVAILABLE``, ``INTERNAL``, a timeout):
    the same message may succeed later."""

    push: Push
    reason: str


@dataclass(frozen=True)
class Failed:
    """Anything else (a malformed message, a credential problem): sending it again will not
    help."""

    push: Push
    reason: str
    detail: str


SendOutcome = Accepted | TokenGone | QuotaExceeded | Transient | Failed


def send(pushes: Sequence[Push]) -> list[SendOutcome]:
    """Send every push, at most ``BATCH_LIMIT`` per request batch; one outcome per push, in order."""
    from firebase_admin import messaging

    app = _app()
    outcomes: list[SendOutcome] = []
    for start in range(0, len(pushes), BATCH_LIMIT):
        batch = list(pushes[start : start + BATCH_LIMIT])
        response = messaging.send_each([message_for(push) for push in batch], app=app)
        outcomes += [
            _outcome(push, answer) for push, answer in zip(batch, response.responses, strict=True)
        ]
    return outcomes


def message_for(push: Push) -> Any:
    """The FCM message (``firebase_admin.messaging.Message``) for ``push``."""
    from firebase_admin import messaging

    ttl = timedelta(seconds=push.ttl_seconds)
    # APNs has no time to live, only a deadline (epoch seconds; 0: deliver now or never).
    expiration = str(int((datetime.now(UTC) + ttl).timestamp())) if push.ttl_seconds else "0"
    if push.silent:
        apns_headers = {
            "apns-push-type": "background",
            "apns-priority": "5",
            "apns-expiration": expiration,
        }
        aps = messaging.Aps(content_available=True)
        notification = None
    else:
        apns_headers = {
            "apns-push-type": "alert",
            "apns-priority": "10",
            "apns-collapse-id": push.collapse_key,
            "apns-expiration": expiration,
        }
        aps = messaging.Aps()
        notification = messaging.Notification(title=push.title, body=push.body)
    return messaging.Message(
        token=push.token,
        data=dict(push.data),
        notification=notification,
        android=messaging.AndroidConfig(
            priority="normal" if push.silent else "high",
            collapse_key=push.collapse_key,
            ttl=ttl,
        ),
        apns=messaging.APNSConfig(headers=apns_headers, payload=messaging.APNSPayload(aps=aps)),
    )


@functools.cache
def _app() -> App:
    """The Admin SDK app, its messaging service pointed at the local endpoint if one is set."""
    app = clients.firebase_app()
    endpoint = os.environ.get(ENDPOINT_SETTING, "").rstrip("/")
    if endpoint:
        if not is_emulated():
            # The app would send a real OAuth token to that server.
            raise RuntimeError(f"{ENDPOINT_SETTING} is for the emulators only")
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"{ENDPOINT_SETTING} must be a URL such as http://127.0.0.1:9190")
        from firebase_admin import messaging

        # firebase-admin (7.7) has no emulator switch for FCM, unlike Auth, Cloud Tasks and the
        # Database: its messaging service takes the send URL from a class constant when it is
        # created for an app. We create that service for our app exactly as send_each would and
        # change this one URL on it (not the class), so every request still goes through the
        # library's own client: credentials, retries, error parsing, unchanged.
        service = messaging._get_messaging_service(app)
        service._fcm_url = f"{endpoint}/v1/projects/{app.project_id}/messages:send"
    return app


def _outcome(push: Push, answer: Any) -> SendOutcome:
    if answer.success:
        return Accepted(push, str(answer.message_id))
    from firebase_admin import exceptions, messaging

    error = answer.exception
    code = str(getattr(error, "code", "UNKNOWN"))
    if isinstance(error, messaging.UnregisteredError):
        return TokenGone(push, "UNREGISTERED")
    if isinstance(error, exceptions.InvalidArgumentError) and _about_the_token(error):
        return TokenGone(push, "INVALID_ARGUMENT")
    if isinstance(error, messaging.QuotaExceededError):
        return QuotaExceeded(push, _retry_after_seconds(error))
    if isinstance(
        error,
        exceptions.UnavailableError | exceptions.InternalError | exceptions.DeadlineExceededError,
    ):
        return Transient(push, code)
    return Failed(push, code, str(error))


def _about_the_token(error: Any) -> bool:
    """FCM says which field was invalid in a ``google.rpc.BadRequest`` detail; older answers
    only say so in the message."""
    if "registration token" in str(error).lower():
        return True
    try:
        details = error.http_response.json()["error"].get("details", [])
    except (AttributeError, ValueError, KeyError, TypeError):
        return False
    return any(
        violation.get("field") == "message.token"
        for detail in details
        if isinstance(detail, dict)
        for violation in detail.get("fieldViolations", [])
        if isinstance(violation, dict)
    )


def _retry_after_seconds(error: Any) -> int | None:
    """``Retry-After`` of FCM's answer: seconds, or an HTTP date."""
    response = getattr(error, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    if value.strip().isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int((when - datetime.now(UTC)).total_seconds() + 0.999))

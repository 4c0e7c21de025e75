"""HTTPS endpoints that the stores call (App Store Server Notifications, Stripe webhooks).

Nobody is signed in: the handler authenticates the request itself, from the payload (Apple's
signed JWS, Stripe's signature header), and gets the raw body bytes, because a signature covers
the bytes exactly as sent. Each request is one ``focus.entrypoints.invocation`` (kind ``web``).

What the answer tells the store: 2xx means "received, do not send again"; anything else makes it
redeliver with backoff (Apple for up to 3 days, Stripe for up to 3 days). So a handler answers
200 for what it applied and for what it will never apply (a duplicate, a stale event), 4xx for a
request that is not the store's (bad signature, wrong app), and an unexpected failure is 500: the
store's retry is the retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from firebase_functions import https_fn
from flask import Request, Response

from focus.entrypoints.errors import to_https_error
from focus.entrypoints.invocation import invocation


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: dict[str, object] = field(default_factory=dict)


WebhookHandler = Callable[[bytes, Mapping[str, str], datetime], WebhookAnswer]
_HTTP_STATUS = {"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "INVALID_ARGUMENT": 400}


def store_webhook(handler: WebhookHandler) -> Any:
    """Declare ``handler`` as a store's webhook: POST only (anything else 405, no invocation)."""
    name = handler.__name__

    def serve(request: Request) -> Response:
        if request.method != "POST":
            return Response(status=405, headers={"Allow": "POST"})
        try:
            with invocation(name, "web", carrier=dict(request.headers)):
                answer = handler(
                    request.get_data(cache=False), dict(request.headers), datetime.now(UTC)
                )
        except Exception as exc:  # logged and counted by the invocation: answered here
            error = to_https_error(exc)
            code = error.code.name
            status = _HTTP_STATUS.get(code, 500)
            answer = WebhookAnswer(status, {"error": {"status": code, "message": error.message}})
        return Response(json.dumps(answer.body), status=answer.status, mimetype="application/json")

    serve.__name__ = name
    serve.__doc__ = handler.__doc__
    return https_fn.on_request()(serve)

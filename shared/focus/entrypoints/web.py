"""HTTPS endpoints a signed-in person reaches from a browser (e.g. the web erasure path).

The page signs the person in with the Firebase JS SDK and POSTs with ``Authorization: Bearer
<ID token>``; the token is verified here against the Auth account: a revoked token or a disabled
account (an erasure under way) answers 401, a token of an account that no longer exists (erased)
404. Answers are JSON: the handler's result, or ``{"error": {"status", "message"}}`` with the
matching HTTP status.
Only POST acts, so the worker's start-up health probe (a GET) never does anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from firebase_functions import https_fn, options
from flask import Request, Response

from focus.adapters import clients, logs, store
from focus.domain.errors import DomainError, NotFound, Unauthenticated
from focus.entrypoints.errors import error_code, to_https_error

WebHandler = Callable[[str, datetime], dict[str, object]]
_HTTP_STATUS = {
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "RESOURCE_EXHAUSTED": 429,
    "NOT_FOUND": 404,
}


def _uid(request: Request) -> str:
    from firebase_admin import auth

    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthenticated("Sign in first: send Authorization: Bearer <Firebase ID token>.")
    try:
        claims = auth.verify_id_token(header[7:], app=clients.firebase_app(), check_revoked=True)
    except auth.UserDisabledError as exc:
        # Checked before revocation: an account being erased is disabled (and revoked).
        raise Unauthenticated(
            "This account is disabled (an erasure may be under way); it cannot sign in."
        ) from exc
    except (ValueError, auth.InvalidIdTokenError, auth.RevokedIdTokenError) as exc:
        raise Unauthenticated("The sign-in token is invalid or expired; sign in again.") from exc
    except auth.UserNotFoundError as exc:
        # A still-valid token of a deleted account: the erasure is complete.
        raise NotFound("This account no longer exists (it was erased).") from exc
    return str(claims["uid"])


def signed_in_web_endpoint(methods: list[str]) -> Callable[[WebHandler], Any]:
    def decorate(handler: WebHandler) -> Any:
        name = handler.__name__

        def serve(request: Request) -> Response:
            started = time.perf_counter()
            usage = store.begin_usage()
            logs.bind_invocation(
                function=name, trace=logs.trace_from_headers(dict(request.headers))
            )
            code = "OK"
            try:
                if request.method not in methods:
                    return Response(status=405, headers={"Allow": ", ".join(methods)})
                uid = _uid(request)
                logs.bind_user(uid)
                body = {"result": handler(uid, datetime.now(UTC))}
                return Response(_json(body), status=200, mimetype="application/json")
            except Exception as exc:
                code = error_code(exc)
                if not isinstance(exc, DomainError):
                    logs.get_logger().exception("unhandled error", errorType=type(exc).__name__)
                error = to_https_error(exc)
                body = {"error": {"status": code, "message": error.message}}
                return Response(
                    _json(body), status=_HTTP_STATUS.get(code, 500), mimetype="application/json"
                )
            finally:
                logs.get_logger().info(
                    "request",
                    kind="web",
                    outcome="ok"
                    if code == "OK"
                    else ("error" if code == "INTERNAL" else "client_error"),
                    errorCode=code,
                    latencyMs=round((time.perf_counter() - started) * 1000, 1),
                    firestoreReads=usage.reads,
                    firestoreWrites=usage.writes,
                )

        serve.__name__ = name
        serve.__doc__ = handler.__doc__
        cors = options.CorsOptions(
            cors_origins=[r"https://focus\.app$", r"http://localhost(:\d+)?$"], cors_methods=methods
        )
        return https_fn.on_request(cors=cors)(serve)

    return decorate


def _json(body: dict[str, Any]) -> str:
    import json

    return json.dumps(body, default=str)

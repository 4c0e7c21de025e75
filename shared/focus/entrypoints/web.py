"""HTTPS endpoints a signed-in person reaches from a browser (e.g. the web erasure path).

The page signs the person in with the Firebase JS SDK and POSTs with ``Authorization: Bearer
<ID token>``; the token is verified here against the Auth account: a revoked token or a disabled
account (an erasure under way) answers 401, a token of an account that no longer exists (erased)
404. Answers are JSON: the handler's result, or ``{"error": {"status", "message"}}`` with the
matching HTTP status. Each request is one ``focus.entrypoints.invocation`` (kind ``web``): one
span continuing the browser's trace, one request line, the callables' severity policy.
Only POST acts: any other method is answered 405 before the invocation begins, so the worker's
start-up health probe (a GET) does nothing and, like a scheduled job's probe, writes no request
line (Cloud Run's own request log still shows every 405).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from firebase_functions import https_fn, options
from flask import Request, Response

from focus.adapters import clients, logs
from focus.domain.errors import NotFound, Unauthenticated
from focus.entrypoints.errors import to_https_error
from focus.entrypoints.invocation import invocation

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
            if request.method not in methods:  # not a use of the endpoint: no request line
                return Response(status=405, headers={"Allow": ", ".join(methods)})
            try:
                with invocation(name, "web", carrier=dict(request.headers)):
                    uid = _uid(request)
                    logs.bind_user(uid)
                    body = {"result": handler(uid, datetime.now(UTC))}
                    return Response(_json(body), status=200, mimetype="application/json")
            except Exception as exc:  # logged and counted by the invocation: answered here
                error = to_https_error(exc)
                code = error.code.name
                body = {"error": {"status": code, "message": error.message}}
                return Response(
                    _json(body), status=_HTTP_STATUS.get(code, 500), mimetype="application/json"
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

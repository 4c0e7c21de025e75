"""The callable envelope: one place that parses, authorizes, logs and maps errors for every callable.

On the wire (the Firebase callable protocol, so the official client SDKs work unmodified)::

    request  {"data": {"apiVersion": "2026-11-29",
                       "client": {"platform": "ios", "appVersion": "3.4.0", "build": 412},
                       "payload": {...}}}
    response {"result": {"data": {...}, "meta": {"serverTime": "...", "apiVersion": "..."}}}

A handler receives the signed-in ``Caller`` and its validated payload model and returns a response
model. It never sees the raw request and never builds an ``HttpsError`` itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from firebase_functions import https_fn
from pydantic import Field, ValidationError

from focus.domain.errors import DomainError, Unauthenticated
from focus.domain.model import Contract
from focus.platform import logs, tracing
from focus.platform.errors import error_code, invalid_request, to_https_error

HEAD_API_VERSION = "2026-11-29"


class Platform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    MACOS = "macos"


class ClientInfo(Contract):
    platform: Platform
    app_version: str = Field(min_length=1, max_length=32, pattern=r"^\d+(\.\d+){0,3}$")
    build: int = Field(ge=0)


class Envelope(Contract):
    api_version: str = Field(default=HEAD_API_VERSION, pattern=r"^\d{4}-\d{2}-\d{2}$")
    client: ClientInfo | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Caller:
    """The signed-in person making the call."""

    uid: str
    is_anonymous: bool


@dataclass(frozen=True)
class Call:
    caller: Caller
    client: ClientInfo | None
    api_version: str
    now: datetime


Req = TypeVar("Req", bound=Contract)
Resp = TypeVar("Resp", bound=Contract)
Handler = Callable[[Call, Req], Resp]


def _caller(request: https_fn.CallableRequest[Any]) -> Caller:
    if request.auth is None or not request.auth.uid:
        raise Unauthenticated("Sign in (anonymously is fine) before calling this function.")
    provider = (request.auth.token.get("firebase") or {}).get("sign_in_provider")
    return Caller(uid=request.auth.uid, is_anonymous=provider == "anonymous")


def mobile_callable(
    request_model: type[Req], **options: Any
) -> Callable[[Handler[Req, Resp]], Any]:
    """Declare a callable for the mobile app. ``options`` go to ``https_fn.on_call``."""

    def decorate(handler: Handler[Req, Resp]) -> Any:
        name = handler.__name__

        def invoke(request: https_fn.CallableRequest[Any]) -> dict[str, Any]:
            headers = dict(request.raw_request.headers)
            with tracing.invocation(name, kind="callable", carrier=headers) as trace:
                return run(request, trace)

        def run(request: https_fn.CallableRequest[Any], trace: logs.TraceContext) -> dict[str, Any]:
            started = time.perf_counter()
            log = logs.get_logger()
            logs.bind_invocation(
                function=name,
                trace=trace,
                user_id=request.auth.uid if request.auth else None,
            )
            outcome, code = "ok", "OK"
            try:
                envelope = Envelope.model_validate(request.data if request.data is not None else {})
                if envelope.client is not None:
                    logs.bind(
                        appVersion=envelope.client.app_version,
                        platform=envelope.client.platform.value,
                    )
                logs.bind(apiVersion=envelope.api_version)
                call = Call(
                    caller=_caller(request),
                    client=envelope.client,
                    api_version=envelope.api_version,
                    now=datetime.now(UTC),
                )
                try:
                    payload = request_model.model_validate(envelope.payload)
                except ValidationError as exc:
                    raise invalid_request(exc, prefix="payload") from exc
                response = handler(call, payload)
                return {
                    "data": response.to_wire(),
                    "meta": {"serverTime": call.now.isoformat(), "apiVersion": call.api_version},
                }
            except Exception as exc:
                code = error_code(exc)
                outcome = "client_error" if code != "INTERNAL" else "error"
                if code == "INTERNAL" and not isinstance(exc, (DomainError, https_fn.HttpsError)):
                    log.exception("unhandled error", errorType=type(exc).__name__)
                raise to_https_error(exc) from exc
            finally:
                log.info(
                    "request",
                    kind="callable",
                    outcome=outcome,
                    errorCode=code,
                    latencyMs=round((time.perf_counter() - started) * 1000, 1),
                )

        invoke.__name__ = name
        invoke.__doc__ = handler.__doc__
        return https_fn.on_call(**options)(invoke)

    return decorate

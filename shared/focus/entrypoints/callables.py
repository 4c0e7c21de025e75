"""The callable envelope: one place that parses, gates, authorizes, limits, deduplicates, logs and
maps errors for every callable of the mobile API.

On the wire (the Firebase callable protocol, so the official client SDKs work unmodified)::

    request  {"data": {"apiVersion": "2026-11-29",
                       "client": {"platform": "ios", "appVersion": "3.4.0", "build": 412},
                       "idempotencyKey": "1f0c...",          # mutating callables only
                       "payload": {...}}}
    response {"result": {"data": {...},
                         "meta": {"apiVersion": "2026-11-29", "serverTime": "...",
                                  "deprecation": {...}}}}   # only for a deprecated version

Order of checks: envelope shape -> API version -> upgrade gate -> signed in -> not erased and
rate limit (one round trip) -> idempotency -> payload (translated up to the head version) ->
handler -> response (translated down to the client's version). A handler receives the signed-in
``Caller`` and its validated head-version payload and returns a head-version response model; it
never sees the raw request and never builds an ``HttpsError``.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import flask
from firebase_functions import https_fn
from pydantic import ValidationError

from focus.adapters import logs
from focus.adapters.environment import is_emulated
from focus.contracts import schemas, versions
from focus.contracts.envelope import ClientInfo, Envelope
from focus.domain.errors import DomainError, InvalidArgument, Reason, Unauthenticated
from focus.domain.model import Contract, utc_text
from focus.entrypoints.errors import invalid_request, to_https_error
from focus.entrypoints.guards import client_gate, idempotency, rate_limits
from focus.entrypoints.invocation import invocation
from focus.services.privacy import tombstones


@dataclass(frozen=True)
class Caller:
    """The signed-in person making the call."""

    uid: str
    is_anonymous: bool


@dataclass(frozen=True)
class Call:
    caller: Caller
    client: ClientInfo
    api_version: str
    now: datetime


# A call without a sign-in (or with a token the SDK refuses) answers UNAUTHENTICATED with no
# ``details``: the one error without a reason, and any callable may answer it.
NOT_SIGNED_IN = "UNAUTHENTICATED"


@dataclass(frozen=True)
class CallableSpec:
    """What the contract generator and docs know about a callable."""

    name: str
    summary: str
    request: type[Contract]
    response: type[Contract]
    mutating: bool
    per_minute: int
    errors: tuple[Reason, ...]  # every ``details.reason`` it answers with, the envelope's included
    serves_erased: bool = False  # answers an erasing or erased caller (deleteAccount)

    @property
    def codes(self) -> tuple[str, ...]:
        """Every code it answers with, but INTERNAL (always possible)."""
        return tuple(dict.fromkeys((NOT_SIGNED_IN, *(reason.code for reason in self.errors))))

    def declares(self, code: str, reason: str | None) -> bool:
        """Whether answering ``code`` with ``details.reason`` = ``reason`` is in the contract."""
        if reason is None:
            return code == NOT_SIGNED_IN
        return any(declared == reason and declared.code == code for declared in self.errors)


CALLABLES: dict[str, CallableSpec] = {}
# What the envelope itself may answer, whatever the callable. CONTENTION / TEMPORARILY_UNAVAILABLE:
# every callable runs transactions (the rate-limit window at least), and contention or a deadline
# answers a retryable code, never INTERNAL (focus.entrypoints.errors).
ENVELOPE_ERRORS = (
    Reason.SCHEMA_VIOLATION,
    Reason.INVALID_VALUE,
    Reason.UNSUPPORTED_API_VERSION,
    Reason.UPGRADE_REQUIRED,
    Reason.RATE_LIMITED,
    Reason.CONTENTION,
    Reason.TEMPORARILY_UNAVAILABLE,
)
ERASED_ERRORS = (Reason.ACCOUNT_ERASED,)  # every callable but those that serve erased callers
MUTATING_ERRORS = (
    Reason.IDEMPOTENCY_KEY_REQUIRED,
    Reason.IDEMPOTENCY_KEY_REUSED,
    Reason.REQUEST_IN_PROGRESS,
)

Req = TypeVar("Req", bound=Contract)
Resp = TypeVar("Resp", bound=Contract)
Handler = Callable[[Call, Req], Resp]


def _caller(request: https_fn.CallableRequest[Any]) -> Caller:
    if request.auth is None or not request.auth.uid:
        raise Unauthenticated("Sign in (anonymously is fine) before calling this function.")
    provider = (request.auth.token.get("firebase") or {}).get("sign_in_provider")
    return Caller(uid=request.auth.uid, is_anonymous=provider == "anonymous")


def _erased(state: tombstones.State | None) -> Unauthenticated:
    """An erasing or erased caller's refusal; ``details.state`` says which."""
    return Unauthenticated(
        "This account is being erased or was erased; sign out.",
        reason=Reason.ACCOUNT_ERASED,
        details={"state": state or "erased"},
    )


def _meta(version: versions.Version, now: datetime) -> dict[str, Any]:
    meta: dict[str, Any] = {"apiVersion": version.date, "serverTime": utc_text(now)}
    if version.deprecated:
        meta["deprecation"] = {
            "deprecated": True,
            "sunsetAt": version.sunset,
            "message": f"API version {version.date} stops working on {version.sunset}; update the app.",
        }
    return meta


def mobile_callable(
    request_model: type[Req],
    *,
    mutating: bool = False,
    per_minute: int = 60,
    errors: tuple[Reason, ...] = (),
    serves_erased: bool = False,
    warm_instances: int = 0,
) -> Callable[[Handler[Req, Resp]], Any]:
    """Declare a callable of the mobile API.

    ``mutating`` callables require an idempotency key; ``per_minute`` limits each person's calls;
    ``errors`` lists the reasons its handler may answer with (each with its code), beyond the
    envelope's own. They are the contract (docs/api.md); answering with an undeclared one is
    logged as an error.

    A caller whose account is being erased or was erased (a still-valid ID token) is answered
    UNAUTHENTICATED ``ACCOUNT_ERASED``, unless ``serves_erased``: then the handler runs with no
    rate limit and no idempotency record, so nothing is ever written under the erased id (the
    handler must be idempotent by itself, as ``deleteAccount`` is).

    ``warm_instances`` keeps that many instances of this callable running when idle (Cloud Run's
    minimum instances, billed while idle): only for a call people wait on after opening the app,
    so that a quiet night or a release does not make the morning's first calls cold
    (docs/performance.md, "`min_instances` for the api").
    """

    def decorate(handler: Handler[Req, Resp]) -> Any:
        name = handler.__name__
        response_model = typing.get_type_hints(handler)["return"]
        CALLABLES[name] = CallableSpec(
            name=name,
            summary=inspect.cleandoc(handler.__doc__ or ""),
            request=request_model,
            response=response_model,
            mutating=mutating,
            per_minute=per_minute,
            errors=tuple(
                dict.fromkeys(
                    ENVELOPE_ERRORS
                    + (() if serves_erased else ERASED_ERRORS)
                    + (MUTATING_ERRORS if mutating else ())
                    + errors
                )
            ),
            serves_erased=serves_erased,
        )
        spec = CALLABLES[name]

        def serve(request: https_fn.CallableRequest[Any], now: datetime) -> dict[str, Any]:
            data = request.data if request.data is not None else {}
            schemas.check_envelope(data)
            envelope = Envelope.model_validate(data)
            client = envelope.client
            logs.bind(appVersion=client.app_version, platform=client.platform.value)
            version = versions.resolve(envelope.api_version, now.date())
            logs.bind(apiVersion=version.date)
            client_gate.check(client.platform.value, client.build)
            call = Call(caller=_caller(request), client=client, api_version=version.date, now=now)
            # The erasure tombstone is read with the rate-limit window: one more read, no more
            # latency. A still-valid token of an erased person gets nothing and writes nothing.
            marker = rate_limits.consume(
                call.caller.uid, name, per_minute, now, unless=tombstones.tombstone(call.caller.uid)
            )
            if marker is not None and not serves_erased:
                raise _erased(tombstones.state_of(marker))
            schemas.check_payload(name, request_model, version.date, envelope.payload)
            head_payload = versions.request_to_head(name, version.date, envelope.payload)
            try:
                payload = request_model.model_validate(head_payload)
            except ValidationError as exc:
                raise invalid_request(exc, prefix="payload") from exc
            if not mutating or marker is not None:
                answer = _handle(handler, call, payload)
            else:
                answer = _once(envelope, call, name, payload, handler)
            return {
                "data": versions.response_from_head(name, version.date, answer),
                "meta": _meta(version, now),
            }

        def invoke(request: https_fn.CallableRequest[Any]) -> dict[str, Any]:
            headers = dict(request.raw_request.headers)
            user_id = request.auth.uid if request.auth else None
            try:
                with invocation(name, "callable", carrier=headers, user_id=user_id) as call:
                    answer = serve(request, datetime.now(UTC))
                    if is_emulated():
                        answer["meta"]["usage"] = call.usage.as_dict()  # tests pin each flow's cost
                    return answer
            except Exception as exc:  # logged and counted by the invocation: answered here
                error = to_https_error(exc)
                code = error.code.name
                details = error.details if isinstance(error.details, dict) else {}
                reason = details.get("reason")
                if code != "INTERNAL" and not spec.declares(code, reason):
                    logs.get_logger().error("undeclared error", errorCode=code, reason=reason)
                raise error from exc

        invoke.__name__ = name
        invoke.__doc__ = handler.__doc__
        # No App Check emulator exists: enforce it everywhere but on the emulator.
        # None: the codebase's options apply (no minimum), as for an undecorated callable.
        return _refuse_malformed_bodies(
            https_fn.on_call(
                enforce_app_check=not is_emulated(), min_instances=warm_instances or None
            )(invoke)
        )

    return decorate


def _refuse_malformed_bodies(endpoint: Any) -> Any:
    """Answer a POST whose body is not a JSON object with ``data`` INVALID_ARGUMENT (HTTP 400).

    The SDK answers such bodies (not JSON, or a bare JSON string) INTERNAL with HTTP 500 before
    the envelope runs: anyone could raise the 5xx rate and fill the error logs. Other methods
    (CORS preflight) and well-formed bodies go to the SDK untouched.
    """

    @functools.wraps(endpoint)  # keeps the SDK's endpoint attributes for deploy discovery
    def guarded(request: flask.Request) -> Any:
        if request.method == "POST" and request.mimetype == "application/json":
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or "data" not in body:
                logs.get_logger().warning("malformed callable body", kind="callable")
                error = {"status": "INVALID_ARGUMENT", "message": "Bad Request"}
                return flask.Response(
                    json.dumps({"error": error}), status=400, mimetype="application/json"
                )
        return endpoint(request)

    return guarded


def _handle(handler: Handler[Req, Resp], call: Call, payload: Req) -> dict[str, Any]:
    """The handler's answer on the wire; its field errors named from the request's root."""
    try:
        return handler(call, payload).to_wire()
    except InvalidArgument as exc:
        raise exc.within("payload") from exc


def _once(
    envelope: Envelope, call: Call, name: str, payload: Req, handler: Handler[Req, Resp]
) -> dict[str, Any]:
    """Run a mutating handler at most once per idempotency key; replay the first answer."""
    if envelope.idempotency_key is None:
        raise InvalidArgument.at(
            "idempotencyKey",
            "Mutating calls need an idempotencyKey (a fresh UUID per request, reused on retry).",
            reason=Reason.IDEMPOTENCY_KEY_REQUIRED,
            type="required",
        )
    uid, key = call.caller.uid, envelope.idempotency_key
    fingerprint = idempotency.request_hash(name, payload.to_wire())
    stored = idempotency.claim(uid, key, fingerprint, call.now)
    if stored is not None:
        if stored.error is not None:
            raise DomainError.from_answer(stored.error)
        return stored.response or {}
    try:
        data = _handle(handler, call, payload)
    except DomainError as exc:
        idempotency.record(uid, key, idempotency.StoredAnswer(None, exc.to_answer()))
        raise
    except Exception:
        # Unexpected or transient (contention, a deadline): forget the claim, so the app's retry
        # with the same key runs the call again instead of replaying a failure.
        idempotency.release(uid, key)
        raise
    idempotency.record(uid, key, idempotency.StoredAnswer(data, None))
    return data

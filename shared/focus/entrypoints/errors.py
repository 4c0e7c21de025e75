"""The one error model: domain errors and validation failures become typed callable errors.

Clients switch on the code (INVALID_ARGUMENT, UNAUTHENTICATED, ...) and, for invalid input, on
``details.fields`` (each with the camelCase path of the offending field). Transient failures of
the database are retryable codes with ``details.retryAfterSeconds``: contention (a transaction
that kept aborting) is ABORTED ``CONTENTION``, a deadline or an unavailable backend is
UNAVAILABLE ``TEMPORARILY_UNAVAILABLE``; the app retries them with the same idempotency key.
Anything else unexpected is INTERNAL with no detail: the cause goes to the logs, never to the
client.
"""

from __future__ import annotations

import random
from typing import Any

from firebase_functions import https_fn
from pydantic import ValidationError

from focus.domain.errors import DomainError, InvalidArgument, Reason

# A few seconds, drawn at random: calls that failed together should not come back together.
RETRY_AFTER_SECONDS = (1, 3)


def field_errors(error: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """Validation failures as ``{"path", "message", "type"}`` with dotted camelCase paths."""
    fields = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in ((prefix,) if prefix else ()) + tuple(item["loc"]))
        path = path or "(root)"
        fields.append({"path": path, "message": item["msg"], "type": item["type"]})
    return fields


def invalid_request(error: ValidationError, prefix: str = "") -> InvalidArgument:
    """A validation failure as the domain's INVALID_ARGUMENT, field paths under ``prefix``.

    The schema accepted the request, yet a rule refused it (an unknown timezone, a day sent
    twice): ``INVALID_VALUE``, each field's ``type`` naming the rule."""
    return InvalidArgument(
        "The request is invalid.",
        reason=Reason.INVALID_VALUE,
        details={"fields": field_errors(error, prefix)},
    )


def transient(exc: BaseException) -> https_fn.HttpsError | None:
    """The retryable answer to a transient database failure; None for anything else.

    Contention: ``store.Contention`` (``store.transactional`` gave up), an ABORTED from Firestore
    (a batch or a read), or the ValueError the SDK's own ``transactional`` raises after its last
    attempt ("Failed to commit transaction in 5 attempts", caused by ABORTED). Deadlines and an
    unavailable backend (also once the SDK's retries ran out) are UNAVAILABLE."""
    from google.api_core import exceptions

    from focus.adapters.store import Contention

    cause = exc.__cause__ if isinstance(exc, ValueError) else None
    if isinstance(exc, (Contention, exceptions.Aborted)) or isinstance(cause, exceptions.Aborted):
        code, reason = https_fn.FunctionsErrorCode.ABORTED, Reason.CONTENTION
        message = "Too many concurrent changes to the same data; retry shortly."
    elif isinstance(
        exc, (exceptions.DeadlineExceeded, exceptions.ServiceUnavailable, exceptions.RetryError)
    ):
        code, reason = https_fn.FunctionsErrorCode.UNAVAILABLE, Reason.TEMPORARILY_UNAVAILABLE
        message = "The service is briefly unavailable; retry shortly."
    else:
        return None
    retry_after = random.randint(*RETRY_AFTER_SECONDS)
    details = {"reason": reason.value, "retryAfterSeconds": retry_after}
    return https_fn.HttpsError(code, message, details)


def to_https_error(exc: BaseException) -> https_fn.HttpsError:
    if isinstance(exc, https_fn.HttpsError):
        return exc
    if isinstance(exc, ValidationError):
        exc = invalid_request(exc)
    if (retryable := transient(exc)) is not None:
        return retryable
    if isinstance(exc, DomainError):
        return https_fn.HttpsError(
            https_fn.FunctionsErrorCode[exc.code], exc.message, exc.details or None
        )
    return https_fn.HttpsError(https_fn.FunctionsErrorCode.INTERNAL, "Internal error.")


def error_code(exc: BaseException) -> str:
    """The canonical code name (e.g. ``INVALID_ARGUMENT``) an exception answers with."""
    return to_https_error(exc).code.name

"""The one error model: domain errors and validation failures become typed callable errors.

Clients switch on the code (INVALID_ARGUMENT, UNAUTHENTICATED, ...) and, for invalid input, on
``details.fields`` (each with the camelCase path of the offending field). Anything unexpected is
INTERNAL with no detail: the cause goes to the logs, never to the client.
"""

from __future__ import annotations

from typing import Any

from firebase_functions import https_fn
from pydantic import ValidationError

from focus.domain.errors import DomainError, InvalidArgument

# Well-formed under the schema, yet not acceptable (an unknown timezone, a day sent twice): the
# rule that refused it is each field's ``type``.
INVALID_VALUE = "INVALID_VALUE"


def field_errors(error: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """Validation failures as ``{"path", "message", "type"}`` with dotted camelCase paths."""
    fields = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in ((prefix,) if prefix else ()) + tuple(item["loc"]))
        path = path or "(root)"
        fields.append({"path": path, "message": item["msg"], "type": item["type"]})
    return fields


def invalid_request(error: ValidationError, prefix: str = "") -> InvalidArgument:
    """A validation failure as the domain's INVALID_ARGUMENT, field paths under ``prefix``."""
    return InvalidArgument(
        "The request is invalid.",
        details={"reason": INVALID_VALUE, "fields": field_errors(error, prefix)},
    )


def to_https_error(exc: BaseException) -> https_fn.HttpsError:
    if isinstance(exc, https_fn.HttpsError):
        return exc
    if isinstance(exc, ValidationError):
        exc = invalid_request(exc)
    if isinstance(exc, DomainError):
        return https_fn.HttpsError(
            https_fn.FunctionsErrorCode[exc.code], exc.message, exc.details or None
        )
    return https_fn.HttpsError(https_fn.FunctionsErrorCode.INTERNAL, "Internal error.")


def error_code(exc: BaseException) -> str:
    """The canonical code name (e.g. ``INVALID_ARGUMENT``) an exception answers with."""
    return to_https_error(exc).code.name

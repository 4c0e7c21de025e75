"""The published JSON Schemas, and the server's check that a request matches its version's schema.

The schema a client's version publishes is the contract: the server accepts exactly what it
accepts. Every request is checked against the envelope schema and its version's payload schema
before anything else, so an old app is refused in its own field names (``screenTimeSeconds``,
not the head's ``screenTimeMinutes``), and strictly (no coercion of ``"12"`` to ``12``, no
unknown property). Formats are asserted, not merely annotated: ``date`` is ``YYYY-MM-DD`` and a
real day, ``date-time`` is RFC 3339 with ``Z`` or an offset.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

from focus.contracts import versions
from focus.contracts.envelope import API_VERSION_PATTERN, ClientInfo
from focus.domain.errors import InvalidArgument, Reason
from focus.domain.model import Contract

JSON = dict[str, Any]
DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_MESSAGE = 200  # a message quotes the offending value; a megabyte string is not echoed back

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats constrain strings only; "type" speaks for other values
    return _DATE.fullmatch(value) is not None and bool(date.fromisoformat(value))


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _DATE_TIME.fullmatch(value) is None:
        return False
    # Python reads at most 6 fractional digits; RFC 3339 allows more (they are below a microsecond).
    seconds, _, rest = value.partition(".")
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{seconds}.{rest[: min(digits, 6)]}{rest[digits:]}"
    return bool(datetime.fromisoformat(value.replace("Z", "+00:00")))


def clean(node: Any) -> Any:
    """Drop pydantic's auto-generated titles: they only restate the field names."""
    if isinstance(node, dict):
        return {k: clean(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [clean(v) for v in node]
    return node


def request_schema(name: str, model: type[Contract], version: str) -> JSON:
    """The ``payload`` schema callable ``name`` publishes for API ``version``."""
    head = clean(model.model_json_schema(by_alias=True, mode="validation"))
    return _published(versions.request_schema(name, version, head), name, version, "request")


def response_schema(name: str, model: type[Contract], version: str) -> JSON:
    """The ``data`` schema callable ``name`` answers with in API ``version``."""
    head = clean(model.model_json_schema(by_alias=True, mode="serialization"))
    return _published(
        _open(versions.response_schema(name, version, head)), name, version, "response"
    )


def _open(node: Any) -> Any:
    """A response schema that admits fields added later: clients must ignore unknown response
    fields (additive changes ship without a new version), so models generated from these
    schemas must not reject them."""
    if isinstance(node, dict):
        return {k: _open(v) for k, v in node.items() if k != "additionalProperties"}
    if isinstance(node, list):
        return [_open(v) for v in node]
    return node


def _published(body: JSON, name: str, version: str, part: str) -> JSON:
    what = "request `payload`" if part == "request" else "response `data`"
    return {
        **body,
        "$schema": DIALECT,
        "$id": f"focus/{version}/{name}.{part}.schema.json",
        "title": f"{name[0].upper()}{name[1:]}{part.capitalize()}",
        "description": f"`{name}` {what} (API version {version}).",
    }


def envelope_schema() -> JSON:
    """The ``data`` of every callable request (the same for every version)."""
    client = clean(ClientInfo.model_json_schema(by_alias=True))
    # pydantic nests the enum's $defs inside the client schema, where "#/$defs/..." (a pointer
    # from the document root) cannot reach it: hoist them to the root.
    defs = client.pop("$defs", {})
    return {
        "$schema": DIALECT,
        "$id": "focus/envelope.schema.json",
        "title": "Envelope",
        "description": "The `data` of every callable request: version, client, key, payload.",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "client"],
        "properties": {
            "apiVersion": {"type": "string", "format": "date", "pattern": API_VERSION_PATTERN},
            "client": client,
            "idempotencyKey": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]+$",
                "minLength": 16,
                "maxLength": 64,
            },
            "payload": {"type": "object"},
        },
        "$defs": defs,
    }


@functools.cache
def _envelope_validator() -> Draft202012Validator:
    return Draft202012Validator(envelope_schema(), format_checker=FORMATS)


@functools.cache
def _payload_validator(name: str, model: type[Contract], version: str) -> Draft202012Validator:
    return Draft202012Validator(request_schema(name, model, version), format_checker=FORMATS)


def check_envelope(data: object) -> None:
    """Refuse request ``data`` that does not match the envelope schema."""
    _refuse(_envelope_validator(), data, prefix="")


def check_payload(name: str, model: type[Contract], version: str, payload: object) -> None:
    """Refuse a ``payload`` that does not match the schema ``version`` publishes for ``name``."""
    _refuse(_payload_validator(name, model, version), payload, prefix="payload")


def _refuse(validator: Draft202012Validator, instance: object, prefix: str) -> None:
    found: dict[str, JSON] = {}  # one error per field: the first the validator reports
    for error in validator.iter_errors(instance):
        for field in _fields(error, prefix):
            found.setdefault(field["path"], field)
    if found:
        fields = [found[path] for path in sorted(found)]
        raise InvalidArgument(
            "The request does not match the schema of its API version.",
            reason=Reason.SCHEMA_VIOLATION,
            details={"fields": fields},
        )


def _fields(error: SchemaError, prefix: str) -> list[JSON]:
    """One field error per offending property, named as the client's version names it."""
    at = [prefix, *(str(part) for part in error.absolute_path)]
    message = (
        error.message if len(error.message) <= MAX_MESSAGE else error.message[:MAX_MESSAGE] + "…"
    )
    instance, schema = error.instance, error.schema
    if error.validator == "required" and isinstance(instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        names = [n for n in required if n not in instance]
        return [_field([*at, n], f"'{n}' is a required property", "required") for n in names]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {}) if isinstance(schema, dict) else {}
        names = [n for n in instance if n not in known]
        return [_field([*at, n], "unknown property", "additionalProperties") for n in names]
    return [_field(at, message, str(error.validator))]


def _field(parts: list[str], message: str, kind: str) -> JSON:
    return {"path": ".".join(p for p in parts if p) or "(root)", "message": message, "type": kind}

"""The value types of the public API, and Python values <-> Firestore REST ``Value`` JSON.

Writes take containers read-only (``Sequence``, ``Mapping``), so a ``dict[str, int]`` or a tuple
is accepted where a document or a JSON value is; reads return plain ``dict`` and ``list``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
"""A decoded JSON value: what callables answer, what the emulators report."""

JsonObject: TypeAlias = "dict[str, JsonValue]"

JsonInput: TypeAlias = (
    "bool | int | float | str | Sequence[JsonInput] | Mapping[str, JsonInput] | None"
)
"""Anything that encodes to JSON: callable and task data, claims, Pub/Sub message bodies."""


@dataclass(frozen=True)
class GeoPoint:
    """A Firestore geo point to store (reads return ``(latitude, longitude)``)."""

    latitude: float
    longitude: float


@dataclass(frozen=True)
class Reference:
    """A Firestore reference value to store: the full resource name of a document
    (``Firestore.reference(path)`` builds it; reads return that name as a string)."""

    name: str


FirestoreValue: TypeAlias = (
    "bool | int | float | str | bytes | datetime | GeoPoint | Reference"
    " | Sequence[FirestoreValue] | Mapping[str, FirestoreValue] | None"
)
"""What a field can be written as (datetimes must be timezone-aware)."""

DocumentData: TypeAlias = "Mapping[str, FirestoreValue]"
"""A document (or the changes of an update) to write."""

StoredValue: TypeAlias = (
    "bool | int | float | str | bytes | datetime | tuple[float, float]"
    " | list[StoredValue] | dict[str, StoredValue] | None"
)
"""What a field reads back as: timestamps as UTC datetimes, references as their resource name,
geo points as ``(latitude, longitude)``."""

Document: TypeAlias = "dict[str, StoredValue]"
"""A document as read."""


def to_json(value: JsonInput) -> JsonValue:
    """``value`` with every mapping made a ``dict`` and every sequence a ``list`` (what
    ``json.dumps`` can encode)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("bytes are not JSON: encode them (e.g. base64) first")
    return [to_json(item) for item in value]


def encode(value: FirestoreValue) -> JsonObject:
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes sent to Firestore must be timezone-aware")
        return {"timestampValue": value.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, GeoPoint):
        return {"geoPointValue": {"latitude": value.latitude, "longitude": value.longitude}}
    if isinstance(value, Reference):
        return {"referenceValue": value.name}
    if isinstance(value, Mapping):
        return {"mapValue": {"fields": encode_fields(value)}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [encode(v) for v in value]}}
    raise TypeError(f"cannot store {type(value).__name__} in Firestore")


def encode_fields(data: DocumentData) -> JsonObject:
    return {str(key): encode(value) for key, value in data.items()}


def _timestamp(text: str) -> datetime:
    # RFC 3339 with up to nanoseconds; Python keeps microseconds.
    head, _, rest = text.rstrip("Z").partition(".")
    micros = (rest + "000000")[:6] if rest else "000000"
    return datetime.fromisoformat(f"{head}.{micros}").replace(tzinfo=UTC)


def json_object(value: JsonValue, what: str = "value") -> JsonObject:
    """``value`` if it is a JSON object; a ValueError naming ``what`` otherwise."""
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object for {what}, got {value!r}")
    return value


def _number(value: JsonValue) -> float:
    # Doubles arrive as JSON numbers, or as strings for NaN and the infinities.
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"expected a number, got {value!r}")


def decode(value: JsonObject) -> StoredValue:
    ((kind, inner),) = value.items()
    if kind == "nullValue":
        return None
    if kind == "booleanValue":
        return bool(inner)
    if kind == "integerValue":
        return int(str(inner))  # int64 travels as a string
    if kind == "doubleValue":
        return _number(inner)
    if kind in ("stringValue", "referenceValue"):
        return str(inner)
    if kind == "timestampValue":
        return _timestamp(str(inner))
    if kind == "bytesValue":
        return base64.b64decode(str(inner))
    if kind == "arrayValue":
        values = json_object(inner, kind).get("values") or []
        if not isinstance(values, list):
            raise ValueError(f"expected a list of values, got {values!r}")
        return [decode(json_object(v)) for v in values]
    if kind == "mapValue":
        return decode_fields(json_object(json_object(inner, kind).get("fields") or {}))
    if kind == "geoPointValue":
        point = json_object(inner, kind)
        return (_number(point.get("latitude", 0.0)), _number(point.get("longitude", 0.0)))
    raise ValueError(f"unknown Firestore value kind {kind}")


def decode_fields(fields: JsonObject) -> Document:
    return {key: decode(json_object(value, key)) for key, value in fields.items()}

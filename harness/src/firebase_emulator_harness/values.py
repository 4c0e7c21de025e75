"""Python values <-> Firestore REST ``Value`` JSON."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


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


def encode(value: Any) -> dict[str, Any]:
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
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [encode(v) for v in value]}}
    if isinstance(value, dict):
        return {"mapValue": {"fields": encode_fields(value)}}
    raise TypeError(f"cannot store {type(value).__name__} in Firestore")


def encode_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {str(key): encode(value) for key, value in data.items()}


def _timestamp(text: str) -> datetime:
    # RFC 3339 with up to nanoseconds; Python keeps microseconds.
    head, _, rest = text.rstrip("Z").partition(".")
    micros = (rest + "000000")[:6] if rest else "000000"
    return datetime.fromisoformat(f"{head}.{micros}").replace(tzinfo=UTC)


def decode(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "nullValue":
        return None
    if kind == "booleanValue":
        return bool(inner)
    if kind == "integerValue":
        return int(inner)
    if kind == "doubleValue":
        return float(inner)
    if kind in ("stringValue", "referenceValue"):
        return inner
    if kind == "timestampValue":
        return _timestamp(inner)
    if kind == "bytesValue":
        return base64.b64decode(inner)
    if kind == "arrayValue":
        return [decode(v) for v in inner.get("values", [])]
    if kind == "mapValue":
        return decode_fields(inner.get("fields", {}))
    if kind == "geoPointValue":
        return (inner.get("latitude", 0.0), inner.get("longitude", 0.0))
    raise ValueError(f"unknown Firestore value kind {kind}")


def decode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: decode(value) for key, value in fields.items()}

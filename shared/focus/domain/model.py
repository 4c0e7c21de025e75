"""The base every stored document and contract model derives from.

Documents and callable payloads use camelCase field names (the mobile apps' convention); Python
code uses snake_case. Stored documents ignore unknown fields so an older function can read a
document a newer one wrote; requests reject unknown fields so a client's typo is an error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, field_serializer
from pydantic.alias_generators import to_camel

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


class Document(BaseModel):
    """A Firestore document's shape, read tolerantly."""

    # defer_build (here and in Contract): a model's validator and serializer are built on its
    # first use, not when its module is imported, so a cold instance builds only what its first
    # requests need (docs/performance.md, "Cold starts"). pydantic >= 2.14 builds a deferred
    # model under a lock: concurrent first requests are safe (pydantic/pydantic#13438).

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True
    )

    def to_firestore(self) -> dict[str, object]:
        """The document as Firestore stores it (camelCase, datetimes kept as datetimes)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Contract(BaseModel):
    """A callable request or response: strict, camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
        defer_build=True,
    )

    def to_wire(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, mode="json")

    # No return annotation on purpose: with one, pydantic would publish that type for every field.
    @field_serializer("*", mode="wrap", when_used="json")
    def _moments_in_utc(self, value: Any, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        # One date-time format on the wire, whatever offset a value was computed in: UTC, "Z".
        if isinstance(value, datetime) and value.tzinfo is not None:
            with contextlib.suppress(OverflowError):  # year 1 at +01:00 has no UTC; keep it
                value = value.astimezone(UTC)
        return handler(value)


def utc_text(moment: datetime) -> str:
    """A moment as the wire writes every date-time: RFC 3339 in UTC with ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def upgraded(data: Any, upgrades: Mapping[int, Upgrade]) -> Any:
    """``data`` brought to the current schema version: ``upgrades[v]`` turns version v into v + 1.

    Meant for a model's ``mode="before"`` validator. Anything that is not a stored document of an
    older version (a model built in code has no ``schemaVersion``) passes through unchanged.
    """
    if not isinstance(data, dict):
        return data
    version = data.get("schemaVersion")
    while isinstance(version, int) and version in upgrades:
        data = upgrades[version](data)
        version = data.get("schemaVersion")
    return data

"""The envelope every callable request travels in: API version, client, idempotency key, payload."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from focus.domain.devices import Platform
from focus.domain.model import Contract

# ECMA-262 (JSON Schema) and Python disagree on what \d matches: spell ASCII digits out.
API_VERSION_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class ClientInfo(Contract):
    platform: Platform
    app_version: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+(\.[0-9]+){0,3}$")
    build: int = Field(ge=0)


class Envelope(Contract):
    api_version: str = Field(pattern=API_VERSION_PATTERN)
    client: ClientInfo
    idempotency_key: str | None = Field(
        default=None, min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )
    payload: dict[str, Any] = Field(default_factory=dict)

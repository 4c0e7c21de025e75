"""Devices: each of a person's phones and computers, as the app registers them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from focus.domain.model import Document

DEVICE_SCHEMA_VERSION = 1


class Device(Document):
    """Written by the device itself (its id is the app's install id)."""

    schema_version: int = DEVICE_SCHEMA_VERSION
    platform: str = Field(pattern=r"^(ios|android|macos)$")
    app_version: str = Field(min_length=1, max_length=32)
    os_version: str = Field(min_length=1, max_length=32)
    last_seen_at: datetime

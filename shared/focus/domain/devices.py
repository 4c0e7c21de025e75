"""Devices: each of a person's phones and computers, as the app registers them.

**At most ``MAX_DEVICES_PER_PERSON`` devices.** The id is the app's install id, so every
reinstall registers a new device and old ones are never unregistered by the app. Rules cannot
count a collection: after each registration the server counts and, over the cap, removes the
devices seen least recently (``evictions``), never the one registering: a new phone always works,
and the count stays bounded (the device cap of a block's selection is the same 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import Field

from focus.domain.model import Document

DEVICE_SCHEMA_VERSION = 1


# What a device runs: what the app reports in every request and a push is addressed to. A comment,
# not a docstring: pydantic would publish a docstring in the envelope's JSON Schema.
class Platform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    MACOS = "macos"


MAX_DEVICES_PER_PERSON = 10


class Device(Document):
    """Written by the device itself (its id is the app's install id)."""

    schema_version: int = DEVICE_SCHEMA_VERSION
    platform: str = Field(pattern=r"^(ios|android|macos)$")
    app_version: str = Field(min_length=1, max_length=32)
    os_version: str = Field(min_length=1, max_length=32)
    last_seen_at: datetime


NEVER = datetime.min.replace(tzinfo=UTC)


def evictions(
    devices: Sequence[tuple[str, datetime | None]],
    registering: str,
    cap: int = MAX_DEVICES_PER_PERSON,
) -> list[str]:
    """Which devices to remove so that at most ``cap`` remain: those seen least recently (a
    device without a readable ``lastSeenAt`` counts as never seen; ties go by id, so two runs
    racing pick the same ones), never ``registering``."""
    excess = len(devices) - cap
    if excess <= 0:
        return []
    others = sorted(
        (seen or NEVER, device_id) for device_id, seen in devices if device_id != registering
    )
    return [device_id for _, device_id in others[:excess]]

"""A person's profile: who they are to the app, their settings, and server-kept totals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from focus.domain.emergency import EmergencyPass
from focus.domain.model import Document

PROFILE_SCHEMA_VERSION = 1
DEFAULT_TIMEZONE = "UTC"


def _known_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {name!r}") from exc
    return name


Timezone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_timezone)]


class Settings(Document):
    """What the person chooses; the client may write these (rules validate them)."""

    timezone: Timezone = DEFAULT_TIMEZONE
    locale: str = Field(default="en", min_length=2, max_length=35)
    # The local hour at which a new day starts for reports and streaks (night owls pick 4).
    day_start_hour: int = Field(default=4, ge=0, le=23)
    daily_goal_minutes: int = Field(default=120, ge=0, le=1440)


class ProfileStats(Document):
    """Totals only the server writes (triggers), never the client."""

    completed_sessions: int = Field(default=0, ge=0)
    focused_minutes: int = Field(default=0, ge=0)


class StreakSummary(Document):
    """Server-owned: the streak as of the latest reported day."""

    current: int = Field(default=0, ge=0)
    longest: int = Field(default=0, ge=0)
    last_day: str | None = None


class Entitlements(Document):
    """Server-owned: what the person has paid for (the subscription issue fills this in)."""

    pro: bool = False
    pro_until: datetime | None = None


class SyncMarker(Document):
    """Server-owned: devices watch the profile and re-read their blocks when this moves."""

    blocks_changed_at: datetime | None = None


class Profile(Document):
    schema_version: int = PROFILE_SCHEMA_VERSION
    created_at: datetime
    display_name: str | None = Field(default=None, max_length=80)
    settings: Settings = Field(default_factory=Settings)
    stats: ProfileStats = Field(default_factory=ProfileStats)
    streak: StreakSummary = Field(default_factory=StreakSummary)
    entitlements: Entitlements = Field(default_factory=Entitlements)
    emergency_pass: EmergencyPass = Field(default_factory=EmergencyPass)
    sync: SyncMarker = Field(default_factory=SyncMarker)

    def is_pro(self, now: datetime) -> bool:
        return self.entitlements.pro and (
            self.entitlements.pro_until is None or now < self.entitlements.pro_until
        )


def new_profile(*, now: datetime, timezone: str | None, locale: str | None) -> Profile:
    """The profile every new account starts with, anonymous accounts included.

    The device's own timezone and locale are better defaults than ours; unusable hints are
    ignored rather than refused, because a profile must always come into being.
    """
    settings = Settings()
    hints = {"timezone": timezone, "locale": locale}
    for field, hint in hints.items():
        if hint is None:
            continue
        try:
            settings = Settings.model_validate({**settings.model_dump(), field: hint})
        except ValueError:
            continue
    return Profile(created_at=now, settings=settings)

"""A person's profile: who they are to the app, their settings, and server-kept totals.

Schema versions (docs/data-model.md, "Schema evolution"):

1. the first shape.
2. ``settings.weekStartsOn`` (ISO weekday, 1 = Monday ... 7 = Sunday), first derived from the
   locale; the person may change it. Readers accept version 1 through ``upgrade_from_v1``.

``dayBoundary`` (server-owned, ``focus.domain.local_days``) came later without a new version: it
is optional, and a profile without it treats its current settings as the boundary in effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from focus.domain.emergency import EmergencyPass
from focus.domain.entitlements import Entitlements
from focus.domain.local_days import BoundaryRecord, DayBoundary
from focus.domain.local_days import Timezone as Timezone  # re-exported: reports type with it
from focus.domain.locales import first_day_of_week
from focus.domain.model import Document, upgraded
from focus.domain.sessions import FocusInterval

PROFILE_SCHEMA_VERSION = 2
DEFAULT_TIMEZONE = "UTC"
DEFAULT_LOCALE = "en"


class Settings(Document):
    """What the person chooses; the client may write these (rules validate them)."""

    timezone: Timezone = DEFAULT_TIMEZONE
    locale: str = Field(default=DEFAULT_LOCALE, min_length=2, max_length=35)
    # The local hour at which a new day starts for reports and streaks (night owls pick 4).
    day_start_hour: int = Field(default=4, ge=0, le=23)
    daily_goal_minutes: int = Field(default=120, ge=0, le=1440)
    # The first day of the app's calendar and weekly views (ISO weekday: 1 Monday ... 7 Sunday).
    week_starts_on: int = Field(default=1, ge=1, le=7)

    @model_validator(mode="before")
    @classmethod
    def _week_start_from_locale(cls, data: Any) -> Any:
        # App versions from before profile v2 may replace the whole settings map without this
        # field (the rules let them during the rollout): derive it as the migration did.
        return with_week_start(data) if isinstance(data, dict) else data

    def day_boundary(self) -> DayBoundary:
        """Where these settings would begin the person's days and weeks (``local_days``)."""
        return DayBoundary(
            timezone=self.timezone,
            day_start_hour=self.day_start_hour,
            week_starts_on=self.week_starts_on,
        )


def with_week_start(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with ``weekStartsOn`` derived from its locale when it has none."""
    if "weekStartsOn" in settings or "week_starts_on" in settings:
        return settings
    locale = settings.get("locale")
    day = first_day_of_week(locale if isinstance(locale, str) else DEFAULT_LOCALE)
    return {**settings, "weekStartsOn": int(day)}


def upgrade_from_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """A version 1 profile as version 2: the week starts where the person's locale starts it.

    Pure, so readers (``Profile``) and the stored-data migration (focus_tools.migrations) share it.
    """
    settings = doc.get("settings")
    return {
        **doc,
        "settings": with_week_start(settings if isinstance(settings, dict) else {}),
        "schemaVersion": 2,
    }


# What turns each older version into the next one; ``Profile`` applies them in order.
PROFILE_UPGRADES = {1: upgrade_from_v1}


class ProfileStats(Document):
    """Totals only the server writes (triggers), never the client."""

    completed_sessions: int = Field(default=0, ge=0)
    focused_minutes: int = Field(default=0, ge=0)
    # Recently counted focus time: a session never counts time another one already counted.
    counted_focus: list[FocusInterval] = Field(default_factory=list)


class StreakSummary(Document):
    """Server-owned: the streak as of the latest reported day."""

    current: int = Field(default=0, ge=0)
    longest: int = Field(default=0, ge=0)
    last_day: str | None = None


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
    # Server-owned: the day boundary in effect and a pending change (focus.domain.local_days).
    # Profiles from before it have none: their settings are in effect.
    day_boundary: BoundaryRecord | None = None
    # Server-owned: whether ``consents/analytics`` is granted, written in the consent's own batch,
    # so a path that already read the profile need not read the consent (focus.services.analytics).
    # None: not known here (a profile created after the consent was given): read the consent.
    analytics_consent: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        # Readers never branch on versions: an older document is upgraded as it is read.
        return upgraded(data, PROFILE_UPGRADES)

    def is_pro(self, now: datetime) -> bool:
        return self.entitlements.pro and (
            self.entitlements.pro_until is None or now < self.entitlements.pro_until
        )

    def boundary_record(self) -> BoundaryRecord:
        """The stored record, or for a profile without one its settings as the boundary in
        effect."""
        return self.day_boundary or BoundaryRecord(in_effect=self.settings.day_boundary())

    def day_boundary_at(self, now: datetime) -> DayBoundary:
        """Where the person's days and weeks begin at ``now``: what the server observed, with a
        settings change taking effect from the next local day."""
        return self.boundary_record().at(now)


def new_profile(*, now: datetime, timezone: str | None, locale: str | None) -> Profile:
    """The profile every new account starts with, anonymous accounts included.

    The device's own timezone and locale are better defaults than ours; unusable hints are
    ignored rather than refused, because a profile must always come into being.
    """
    usable: dict[str, str] = {}
    for field, hint in {"timezone": timezone, "locale": locale}.items():
        if hint is None:
            continue
        try:
            Settings.model_validate({field: hint})
        except ValueError:
            continue
        usable[field] = hint
    # Validated once, together, so the week's first day follows the device's locale.
    settings = Settings.model_validate(usable)
    return Profile(
        created_at=now,
        settings=settings,
        day_boundary=BoundaryRecord(in_effect=settings.day_boundary()),
    )

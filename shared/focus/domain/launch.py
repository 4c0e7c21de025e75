"""What the app needs when it opens, in one round trip."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from focus.domain.model import Contract
from focus.domain.profiles import Settings


class LaunchRequest(Contract):
    """Hints from the device used only when the profile is first created."""

    timezone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=35)


class ActiveSession(Contract):
    id: str
    planned_start: datetime
    planned_end: datetime


class ProfileView(Contract):
    display_name: str | None
    created_at: datetime
    settings: Settings
    completed_sessions: int
    focused_minutes: int


class LaunchResponse(Contract):
    profile: ProfileView
    profile_created: bool
    active_sessions: list[ActiveSession]
    community_hours_saved: float
    server_time: datetime

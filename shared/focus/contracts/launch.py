"""``launch``: what the app needs when it opens, in one round trip."""

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
    strictness: str
    planned_start: datetime
    planned_end: datetime


class ProfileView(Contract):
    display_name: str | None
    created_at: datetime
    settings: Settings
    completed_sessions: int
    focused_minutes: int
    current_streak: int
    longest_streak: int
    pro: bool


class EmergencyPassStatus(Contract):
    available: bool
    next_available_at: datetime | None


class LaunchResponse(Contract):
    profile: ProfileView
    profile_created: bool
    active_sessions: list[ActiveSession]
    emergency_pass: EmergencyPassStatus
    community_hours_saved: float
    server_time: datetime

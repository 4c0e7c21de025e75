"""The emergency pass: one per person per rolling week, the only way out of a hardcore block.

It is kept on the server (in the profile), so reinstalling the app or switching devices does not
bring it back; using it ends every active session and suspends every time limit and app lock
until the end of the person's local day, as the day boundary in effect draws it
(``focus.domain.local_days``: a settings change only moves it from the next local day on).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from focus.domain.errors import FailedPrecondition
from focus.domain.local_days import DayBoundary
from focus.domain.model import Document, utc_text

PASS_PERIOD = timedelta(days=7)


class EmergencyPass(Document):
    last_used_at: datetime | None = None
    times_used: int = Field(default=0, ge=0)


def next_available_at(emergency_pass: EmergencyPass, now: datetime) -> datetime | None:
    """When the pass can be used again; None if it can be used now."""
    if emergency_pass.last_used_at is None:
        return None
    available = emergency_pass.last_used_at + PASS_PERIOD
    return available if available > now else None


def use(emergency_pass: EmergencyPass, now: datetime) -> EmergencyPass:
    """The pass after using it now; FAILED_PRECONDITION (with when it returns) if already used."""
    if (available := next_available_at(emergency_pass, now)) is not None:
        raise FailedPrecondition(
            "The emergency pass was already used this week.",
            details={"reason": "EMERGENCY_PASS_USED", "nextAvailableAt": utc_text(available)},
        )
    return EmergencyPass(last_used_at=now, times_used=emergency_pass.times_used + 1)


def end_of_local_day(now: datetime, timezone: str, day_start_hour: int) -> datetime:
    """The next moment the person's day starts again (their timezone and day-start hour).

    The pass takes these from the boundary in effect (``Profile.day_boundary_at``), never from
    settings the person may have changed a moment ago."""
    return DayBoundary(
        timezone=timezone, day_start_hour=day_start_hour, week_starts_on=1
    ).next_day_start(now)

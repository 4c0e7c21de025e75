"""The emergency pass: one per person per rolling week, the only way out of a hardcore block.

It is kept on the server (in the profile), so reinstalling the app or switching devices does not
bring it back; using it ends every active session and suspends every time limit and app lock
until the end of the person's local day, as the day boundary in effect draws it
(``focus.domain.local_days``: a settings change only moves it from the next local day on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import Field

from focus.domain.errors import FailedPrecondition, Reason
from focus.domain.local_days import BoundaryRecord, DayBoundary
from focus.domain.model import Document, utc_text

PASS_PERIOD = timedelta(days=7)


class EmergencyPass(Document):
    last_used_at: datetime | None = None
    times_used: int = Field(default=0, ge=0)


def next_available_at(emergency_pass: EmergencyPass, now: datetime) -> datetime | None:
    """When the pass can be used again; None if it can be used now."""
    if emergency_pass.last_used_at is None:
        return None
    available = _returns_at(emergency_pass.last_used_at)
    return available if available > now else None


def _returns_at(used_at: datetime) -> datetime:
    """A rolling week after use: 7 x 24 hours, which no calendar week, local day, timezone or
    clock change moves (in UTC: adding to a zoned time would add wall-clock days across DST)."""
    return used_at.astimezone(UTC) + PASS_PERIOD


def use(emergency_pass: EmergencyPass, now: datetime) -> EmergencyPass:
    """The pass after using it now; FAILED_PRECONDITION (with when it returns) if already used."""
    if (available := next_available_at(emergency_pass, now)) is not None:
        raise FailedPrecondition(
            "The emergency pass was already used this week.",
            reason=Reason.EMERGENCY_PASS_USED,
            details={"nextAvailableAt": utc_text(available)},
        )
    return EmergencyPass(last_used_at=now, times_used=emergency_pass.times_used + 1)


@dataclass(frozen=True)
class PassUse:
    """What using the pass now decides, before anything is written."""

    emergency_pass: EmergencyPass  # the pass, used
    day_boundary: BoundaryRecord  # the person's boundary record, with their settings observed
    suspended_until: datetime  # the end of the local day: limits and locks resume then
    next_available_at: datetime


def use_pass(
    emergency_pass: EmergencyPass,
    day_boundary: BoundaryRecord,
    settings: DayBoundary,
    now: datetime,
) -> PassUse:
    """Use the pass now (``use``: once per rolling week) and suspend until the local day ends.

    The local day is the one the boundary in effect draws (``day_boundary``, the profile's
    record). The ``settings`` are observed first, so a change made a moment ago is pending from
    the next local day on and cannot stretch the suspension (``focus.domain.local_days``)."""
    used = use(emergency_pass, now)
    observed = day_boundary.observe(settings, now)
    return PassUse(
        emergency_pass=used,
        day_boundary=observed,
        suspended_until=observed.at(now).next_day_start(now),
        next_available_at=_returns_at(now),
    )

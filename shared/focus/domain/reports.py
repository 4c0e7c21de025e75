"""Daily reports: what a device measured on one local day, and how uploads merge.

A device knows only daily totals (Apple keeps per-app usage on the device): screen time,
pickups and focused minutes for a local day, as of a moment. Uploads may arrive late, twice,
out of order, or from several of the person's devices. The merge:

* per device, the upload with the latest ``asOf`` wins (totals only grow during a day, so a
  later measurement supersedes an earlier one; an equal or older one changes nothing);
* across devices, screen time and pickups add up (different screens), while focused minutes take
  the largest device's value (one session blocks every device at once, so adding would count it
  several times).

Every change raises the day's ``revision``; derived results (streaks, weeks, community
histogram) record the revision they reflect, which makes recomputing them idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

from focus.domain.errors import InvalidArgument, Reason
from focus.domain.model import Contract, Document
from focus.domain.profiles import Timezone
from focus.domain.scoring import focus_score

DAY_SCHEMA_VERSION = 1
MAX_LATE_DAYS = 30  # older days are history: an upload for them is refused
MINUTES_PER_DAY = 24 * 60


def _iso_day(value: str) -> str:
    date.fromisoformat(value)
    return value


LocalDay = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_schema_extra={"format": "date"}),
    AfterValidator(_iso_day),
]


class DailyReportUpload(Contract):
    """One local day's totals as a device sends them."""

    day: LocalDay
    timezone: Timezone
    screen_time_minutes: int = Field(ge=0, le=MINUTES_PER_DAY)
    pickups: int = Field(ge=0, le=10_000)
    focused_minutes: int = Field(ge=0, le=MINUTES_PER_DAY)
    # A moment, so with its offset: a naive time cannot be compared with another device's.
    as_of: AwareDatetime


class DeviceDay(Document):
    screen_time_minutes: int
    pickups: int
    focused_minutes: int
    as_of: datetime
    timezone: str


class DayTotals(Document):
    screen_time_minutes: int = 0
    pickups: int = 0
    focused_minutes: int = 0


class CommunityMark(Document):
    """Which histogram bucket this day counts in, as of which revision (server-owned); no bucket
    when the person does not count in the community that day (focus.domain.derivation)."""

    bucket: int | None = None
    revision: int


class Day(Document):
    schema_version: int = DAY_SCHEMA_VERSION
    day: LocalDay
    timezone: str  # the latest timezone a device reported for this day (travel)
    devices: dict[str, DeviceDay] = Field(default_factory=dict)
    totals: DayTotals = Field(default_factory=DayTotals)
    goal_minutes: int
    met_goal: bool = False
    score: int = 0
    revision: int = 0
    # Derived after each upload (focus.domain.derivation): the run of goal-meeting days ending here.
    streak: int | None = None
    community: CommunityMark | None = None


def check_upload_window(upload: DailyReportUpload, now: datetime) -> None:
    """Refuse days in the future (beyond the earliest timezone) or older than MAX_LATE_DAYS."""
    day = date.fromisoformat(upload.day)
    today = now.date()
    if day > today + timedelta(days=1) or day < today - timedelta(days=MAX_LATE_DAYS):
        raise InvalidArgument.at(
            "day",
            f"Reports are accepted for the last {MAX_LATE_DAYS} days only.",
            reason=Reason.DAY_OUT_OF_RANGE,
            day=upload.day,
        )
    if upload.as_of > now + timedelta(days=1):
        raise InvalidArgument.at("asOf", "asOf is in the future.", reason=Reason.AS_OF_IN_FUTURE)
    # A day is measured once it has begun: UTC+14 starts it 14 hours before UTC; a day of slack.
    if upload.as_of < datetime.combine(day, time.min, UTC) - timedelta(days=1):
        raise InvalidArgument.at(
            "asOf", "asOf is before the day it measures.", reason=Reason.AS_OF_BEFORE_DAY
        )


def totals_of(devices: dict[str, DeviceDay]) -> DayTotals:
    return DayTotals(
        screen_time_minutes=sum(d.screen_time_minutes for d in devices.values()),
        pickups=sum(d.pickups for d in devices.values()),
        focused_minutes=max((d.focused_minutes for d in devices.values()), default=0),
    )


def merge(
    existing: Day | None, device_id: str, upload: DailyReportUpload, goal_minutes: int
) -> Day | None:
    """The day after merging ``upload``; None when it changes nothing (duplicate or stale)."""
    current = existing.devices.get(device_id) if existing else None
    if current is not None and upload.as_of <= current.as_of:
        return None
    devices = dict(existing.devices) if existing else {}
    devices[device_id] = DeviceDay(
        screen_time_minutes=upload.screen_time_minutes,
        pickups=upload.pickups,
        focused_minutes=upload.focused_minutes,
        as_of=upload.as_of,
        timezone=upload.timezone,
    )
    totals = totals_of(devices)
    base = existing or Day(day=upload.day, timezone=upload.timezone, goal_minutes=goal_minutes)
    return base.model_copy(
        update={
            "timezone": upload.timezone,
            "devices": devices,
            "totals": totals,
            "goal_minutes": goal_minutes,
            "met_goal": totals.screen_time_minutes <= goal_minutes,
            "score": focus_score(totals, goal_minutes),
            "revision": base.revision + 1,
        }
    )


def check_upload_windows(uploads: Sequence[DailyReportUpload], now: datetime) -> None:
    """``check_upload_window`` for every upload of a batch; the first refused one is refused
    with its field paths under ``reports.<index>``."""
    for index, upload in enumerate(uploads):
        try:
            check_upload_window(upload, now)
        except InvalidArgument as exc:
            raise exc.within(f"reports.{index}") from exc

"""Campaigns: a visible message for everyone at a local hour, as waves of time zones and batches of
people (docs/notifications.md, "Fan-out campaigns").

- **Weekly report**: every Monday at 09:00 in each person's own time zone, the report of the week
  that just ended is ready (``WeeklyReportReady``).
- **Streak at risk**: every day at 20:00 local, people whose streak would end tonight (yesterday
  counted, today's goal not met yet) are reminded (``StreakAtRisk``; ``notifications.decide``
  drops it for everyone else).

The people of the zones whose local hour is the same UTC moment form a wave
(``fanout.campaign_waves``); a wave's people split into uid ranges, one batch each, that
``fanout.plan_waves`` paces under the FCM quota, all campaigns under one budget.

Pure: every moment is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from focus.domain import fanout
from focus.domain.notifications import StreakAtRisk, VisibleMessage, WeeklyReportReady


class Campaign(StrEnum):
    WEEKLY_REPORT = "weeklyReport"
    STREAK_AT_RISK = "streakAtRisk"


@dataclass(frozen=True)
class Schedule:
    """When a campaign starts in each zone: ``at`` local time, on ``weekday`` (``date.weekday``,
    0 Monday) or every day (None)."""

    at: time
    weekday: int | None


SCHEDULES = {
    Campaign.WEEKLY_REPORT: Schedule(fanout.WEEKLY_REPORT_AT, 0),
    # The opening of notifications.STREAK_EVENING: late enough for the day's picture.
    Campaign.STREAK_AT_RISK: Schedule(time(20), None),
}

# A planning run looks this far ahead; the job runs at least this often, so every wave is
# planned once before it starts (a duplicate run plans nothing new: the waves are recorded).
PLANNING_HORIZON = timedelta(minutes=30)
# Firestore's ``in`` filter takes at most 30 values: a wave of more zones is split into parts.
ZONES_PER_QUERY = 30
# Firebase Auth uids are 28 characters of [0-9A-Za-z], evenly spread: ranges of their leading
# characters split a wave's people evenly. Ordered as Firestore orders document ids (bytes).
UID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PREFIX_LENGTH = 4  # 62**4 = 14.8M boundaries: enough for any number of batches we plan


@dataclass(frozen=True)
class PlannedWave:
    """A wave of ``campaign`` on the zones' local date ``day``."""

    campaign: Campaign
    day: date
    wave: fanout.Wave


def week_reported(monday: date) -> date:
    """The week whose report is ready on ``monday``: the one that just ended."""
    return monday - timedelta(days=7)


def waves_starting(
    campaign: Campaign,
    zones: Iterable[str],
    now: datetime,
    horizon: timedelta = PLANNING_HORIZON,
) -> list[PlannedWave]:
    """The waves of ``campaign`` that start in ``[now, now + horizon)``, each with at most
    ``ZONES_PER_QUERY`` zones (devices still unknown: 0). Keys are unique across campaigns and
    days."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    schedule = SCHEDULES[campaign]
    zones = sorted(set(zones))
    found = []
    for offset in (-1, 0, 1):  # local dates span three UTC dates
        day = now.date() + timedelta(days=offset)
        if schedule.weekday is not None and day.weekday() != schedule.weekday:
            continue
        for wave in fanout.campaign_waves(dict.fromkeys(zones, 0), day, schedule.at):
            if now <= wave.starts_at < now + horizon:
                for part, start in enumerate(range(0, len(wave.zones), ZONES_PER_QUERY)):
                    chunk = wave.zones[start : start + ZONES_PER_QUERY]
                    key = f"{campaign.value}/{day.isoformat()}/{wave.key}/{part}"
                    found.append(PlannedWave(campaign, day, replace(wave, key=key, zones=chunk)))
    return found


def message_for(
    campaign: Campaign,
    day: date,
    ready_at: datetime,
    streak_days: int,
    streak_last_day: str | None,
) -> VisibleMessage:
    """What one person of a wave is told: the weekly report of the week before ``day``; or, on
    ``day``, that their streak is at risk (from the profile's streak summary: its ``current``
    days and the ``last_day`` that counted)."""
    if campaign is Campaign.WEEKLY_REPORT:
        return WeeklyReportReady(week_start=week_reported(day), ready_at=ready_at)
    yesterday = (day - timedelta(days=1)).isoformat()
    met_today = streak_last_day == day.isoformat()
    alive = met_today or streak_last_day == yesterday
    return StreakAtRisk(day=day, streak_days=streak_days if alive else 0, goal_met_today=met_today)


def uid_range(shard: int, shards: int) -> tuple[str, str | None]:
    """The document ids of batch ``shard`` of ``shards``: from the first (included) to the
    second (excluded; None: to the end). Together the ranges cover every id exactly once,
    whatever characters it has."""
    if not 0 <= shard < shards:
        raise ValueError("shard must be in [0, shards)")
    space = len(UID_ALPHABET) ** _PREFIX_LENGTH
    if shards > space:
        raise ValueError(f"at most {space} shards")

    def boundary(k: int) -> str:
        if k == 0:
            return ""
        value = k * space // shards
        digits = []
        for _ in range(_PREFIX_LENGTH):
            value, digit = divmod(value, len(UID_ALPHABET))
            digits.append(UID_ALPHABET[digit])
        return "".join(reversed(digits))

    return boundary(shard), None if shard == shards - 1 else boundary(shard + 1)


def shards_for(people: int, devices_per_person: float, batch_size: int = fanout.BATCH_SIZE) -> int:
    """How many uid ranges a wave of ``people`` needs so that a batch holds about
    ``batch_size`` devices (a send_each call), at least one."""
    devices = people * max(devices_per_person, 0.0)
    return max(1, -(-int(devices) // batch_size))

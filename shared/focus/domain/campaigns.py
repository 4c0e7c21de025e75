"""The weekly-report campaign: which waves start when, and how a wave's people split into batches.

Every Monday at 09:00 in each person's own time zone, the report of the week that just ended is
ready (``WeeklyReportReady``). The people of the zones whose Monday 09:00 is the same UTC moment
form a wave (``fanout.campaign_waves``); a wave's people split into uid ranges, one batch each,
that ``fanout.plan_waves`` paces under the FCM quota.

Pure: every moment is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from focus.domain import fanout

REPORT_WEEKDAY = 0  # Monday (date.weekday)
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
    """A wave of the weekly report for the week starting ``week_start``."""

    week_start: date
    wave: fanout.Wave


def week_reported(monday: date) -> date:
    """The week whose report is ready on ``monday``: the one that just ended."""
    return monday - timedelta(days=7)


def waves_starting(
    zones: Iterable[str], now: datetime, horizon: timedelta = PLANNING_HORIZON
) -> list[PlannedWave]:
    """The weekly-report waves that start in ``[now, now + horizon)``, each with at most
    ``ZONES_PER_QUERY`` zones (devices still unknown: 0). Keys are unique per week."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zones = sorted(set(zones))
    found = []
    for offset in (-1, 0, 1):  # local Mondays span three UTC dates
        day = now.date() + timedelta(days=offset)
        if day.weekday() != REPORT_WEEKDAY:
            continue
        for wave in fanout.campaign_waves(dict.fromkeys(zones, 0), day):
            if now <= wave.starts_at < now + horizon:
                for part, start in enumerate(range(0, len(wave.zones), ZONES_PER_QUERY)):
                    chunk = wave.zones[start : start + ZONES_PER_QUERY]
                    key = f"{day.isoformat()}/{wave.key}/{part}"
                    found.append(
                        PlannedWave(week_reported(day), replace(wave, key=key, zones=chunk))
                    )
    return found


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

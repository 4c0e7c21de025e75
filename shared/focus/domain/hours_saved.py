"""The global "hours saved" counter that every completed session feeds.

One Firestore document sustains about one write per second, far below the rate of completed
sessions at 10M daily users (about 230/s on average, several times that at peaks). The counter is
therefore split over shards that writers pick by a stable hash; a scheduled roll-up sums them into
one summary document that the app reads (one read instead of one per shard).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from pydantic import Field

from focus.domain.model import Document
from focus.domain.sessions import ADDED_TO_HOURS_SAVED, CountingStage, FocusSession, counting_stage

# Each shard takes ~1 sustained write/s; 1,000 shards carry peaks of ~1,000 completed sessions/s
# (scripts/limits-sim: ~560/s in the busiest hour at 10M daily users). The roll-up reads every
# shard document there is, so more shards cost reads on each run, never on the user path; shards
# a smaller count once used are still read. Changing the count is safe: the marker on the session
# (``added_fields``), not the shard, keeps each session counted once.
SHARD_COUNT = 1000


def pending_minutes(session: FocusSession) -> int | None:
    """The minutes a session still has to add to hours saved: its counted minutes while it is
    counted and not yet added (``CountingStage.PENDING_HOURS_SAVED``); None before it is counted
    and once they are added, so every counted session adds its minutes exactly once."""
    if session.result is None or counting_stage(session) is not CountingStage.PENDING_HOURS_SAVED:
        return None
    return session.result.focused_minutes


def added_fields(now: datetime) -> dict[str, object]:
    """What marks a session's minutes added (written with the shard increment, atomically)."""
    return {f"result.{ADDED_TO_HOURS_SAVED}": now}


def shard_for(contribution_key: str, shard_count: int = SHARD_COUNT) -> int:
    """The shard a contribution lands in: stable, so a redelivered event hits the same shard."""
    digest = hashlib.blake2b(contribution_key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shard_count


class HoursSavedSummary(Document):
    total_minutes: int = Field(ge=0)
    shards_read: int = Field(ge=0)
    updated_at: datetime

    @property
    def total_hours(self) -> float:
        return round(self.total_minutes / 60, 1)


def summarize(shard_minutes: Iterable[int], *, now: datetime) -> HoursSavedSummary:
    minutes = list(shard_minutes)
    return HoursSavedSummary(total_minutes=sum(minutes), shards_read=len(minutes), updated_at=now)

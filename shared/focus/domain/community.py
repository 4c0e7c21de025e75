"""The community comparison: where a person's daily screen time sits among everyone's that day.

Computed without scanning users: each person's day adds one count to a histogram of 15-minute
buckets for that local day. The histogram is sharded (a person always lands on the same shard,
by a hash of their id), and a scheduled roll-up sums the shards into one summary per day that the
comparison reads. Moving a person's day from one bucket to another (a later upload) decrements
the old bucket and increments the new one in the same transaction as the day's marker.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from pydantic import Field

from focus.domain.model import Document

BUCKET_MINUTES = 15
BUCKET_COUNT = 24 * 60 // BUCKET_MINUTES + 1  # the last bucket holds exactly 24 h
# ~1 sustained write/s per shard: 1,000 shards carry ~1,000 bucket moves/s (scripts/limits-sim:
# ~670/s in the busiest hour at 10M daily users). The count may only change from one day to the
# next: a later upload decrements the person's old bucket and increments the new one on the shard
# of that day, so both must land on the same shard (or a shard's bucket goes negative). Days
# before the cut-over keep the count they were counted with; the cut-over lies after every
# instance runs this code (instances of the previous release count every day with 500).
SHARD_COUNT = 1000
EARLIER_SHARD_COUNT = 500
SHARD_COUNT_FROM = "2026-12-14"  # the first local day counted over SHARD_COUNT shards


def bucket_of(screen_time_minutes: int) -> int:
    return min(screen_time_minutes // BUCKET_MINUTES, BUCKET_COUNT - 1)


def shard_count(local_day: str) -> int:
    """How many shards a local day's histogram has: a function of the day alone."""
    return SHARD_COUNT if local_day >= SHARD_COUNT_FROM else EARLIER_SHARD_COUNT


def shard_of(uid: str, local_day: str) -> int:
    """The shard a person's day lands on: the same for every upload of that day."""
    digest = hashlib.blake2b(uid.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shard_count(local_day)


class CommunityDay(Document):
    day: str
    counts: list[int] = Field(min_length=BUCKET_COUNT, max_length=BUCKET_COUNT)
    people: int = Field(ge=0)
    shards_read: int = Field(ge=0)
    updated_at: datetime


def summarize(day: str, shards: list[dict[str, int]], now: datetime) -> CommunityDay:
    """Sum shard maps ``{"<bucket>": count}`` into one histogram (negative glitches floor at 0)."""
    counts = [0] * BUCKET_COUNT
    for shard in shards:
        for bucket, count in shard.items():
            counts[int(bucket)] += count
    counts = [max(0, c) for c in counts]
    return CommunityDay(
        day=day, counts=counts, people=sum(counts), shards_read=len(shards), updated_at=now
    )


def share_using_more(summary: CommunityDay, screen_time_minutes: int) -> float:
    """The share of people (0-100) who used their phone more than this, counting half of those
    in the same bucket (mid-rank), so the comparison is fair at bucket edges."""
    if summary.people == 0:
        return 0.0
    mine = bucket_of(screen_time_minutes)
    more = sum(summary.counts[mine + 1 :]) + summary.counts[mine] / 2
    return round(100 * more / summary.people, 1)


def days_in_progress(now: datetime) -> list[str]:
    """The local days in progress somewhere on Earth at ``now``, whose histograms still move:
    UTC yesterday, today and tomorrow."""
    return [(now + timedelta(days=offset)).date().isoformat() for offset in (-1, 0, 1)]

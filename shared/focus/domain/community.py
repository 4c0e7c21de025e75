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
SHARD_COUNT = 500


def bucket_of(screen_time_minutes: int) -> int:
    return min(screen_time_minutes // BUCKET_MINUTES, BUCKET_COUNT - 1)


def shard_of(uid: str) -> int:
    digest = hashlib.blake2b(uid.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % SHARD_COUNT


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

"""Sweep shards: a collection-group index on a timestamp, spread over a few ranges.

Firestore sustains about 500 writes/s into one range of sequential values in an index. In a
collection-group index on a timestamp, every person's new entries land side by side at "now",
and at 10M daily users the sweeps' indexes would pass that (docs/performance.md, "Limits at 10M
daily users"). So each document a sweep finds by such an index carries ``sweepShard``, a small
number derived from its owner's uid, in front of the timestamp in the index, and the sweep
queries every shard: the entries spread over ``SHARDS`` ranges.
"""

from __future__ import annotations

import zlib

# 8 ranges keep the busiest such index (the outbox's, ~1,330 entries/s at the peak hour) near
# 170 writes/s a range: 3x under the limit. Each sweep run then makes 8 queries instead of 1.
SHARDS = 8
FIELD = "sweepShard"
ALL = range(SHARDS)


def shard_of(uid: str) -> int:
    """The person's shard: a stable hash (CRC-32 of the uid), the same in every process and
    release (Python's ``hash`` of a string is salted per process)."""
    return zlib.crc32(uid.encode()) % SHARDS


def fields(uid: str) -> dict[str, int]:
    """What a writer adds to a swept document of the person."""
    return {FIELD: shard_of(uid)}

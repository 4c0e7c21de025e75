"""Every person's day changes get ``sweepShard`` (focus.domain.sweep_shards): their sweep
reads them shard by shard, and finds those written before the writers set it only after this."""

from focus.adapters.paths import DAY_CHANGES
from focus_tools.migrations import sweep_shard_backfill

MIGRATION = sweep_shard_backfill("0002_day_changes_sweep_shard", DAY_CHANGES)

"""Every person's outbox entries get ``sweepShard`` (focus.domain.sweep_shards): their sweep
reads them shard by shard, and finds those written before the writers set it only after this."""

from focus.adapters.paths import OUTBOX
from focus_tools.migrations import sweep_shard_backfill

MIGRATION = sweep_shard_backfill("0003_outbox_sweep_shard", OUTBOX)

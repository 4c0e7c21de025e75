"""Every person's push tokens get ``sweepShard`` (focus.domain.sweep_shards): their sweep
reads them shard by shard, and finds those written before the writers set it only after this."""

from focus.adapters.paths import PUSH_TOKENS
from focus_tools.migrations import sweep_shard_backfill

MIGRATION = sweep_shard_backfill("0004_push_tokens_sweep_shard", PUSH_TOKENS)

"""The community histogram: ``communityDays/{day}/shards/{n}`` rolled up into ``communityDays/{day}``."""

from __future__ import annotations

from datetime import datetime, timedelta

from focus.adapters import clients, logs, paths, store, tracing
from focus.domain import community
from focus.domain.community import CommunityDay
from focus.domain.reports import Day

DAY_SHARDS = store.QuerySpec("community day shards", paths.COMMUNITY_SHARDS)
SUMMARY_RETENTION = timedelta(days=400)


@tracing.traced("firestore.community.roll_up")
def roll_up(local_day: str, now: datetime) -> CommunityDay:
    """Sum one day's shards into its summary document (idempotent: it recomputes from shards)."""
    db = clients.firestore()
    day_ref = db.document(paths.community_day(local_day))
    shards = [
        {k: int(v) for k, v in (snap.get("buckets") or {}).items()}
        for snap in store.query(DAY_SHARDS, day_ref)
    ]
    summary = community.summarize(local_day, shards, now)
    store.set_now(day_ref, {**summary.to_firestore(), "expireAt": now + SUMMARY_RETENTION})
    return summary


@tracing.traced("firestore.community.comparison")
def comparison(uid: str, local_day: str) -> tuple[Day | None, CommunityDay | None]:
    """The person's day and the community's summary for it (two reads)."""
    db = clients.firestore()
    day_snap, summary_snap = store.get_all(
        [db.document(paths.day(uid, local_day)), db.document(paths.community_day(local_day))]
    )
    day = Day.model_validate(day_snap.to_dict()) if day_snap.exists else None
    summary = CommunityDay.model_validate(summary_snap.to_dict()) if summary_snap.exists else None
    return day, summary


def roll_up_days_in_progress(now: datetime) -> None:
    """Roll up every local day still in progress somewhere (``community.days_in_progress``): the
    scheduled roll-up. Each day logs ``community rolled up``."""
    for local_day in community.days_in_progress(now):
        summary = roll_up(local_day, now)
        logs.get_logger().info("community rolled up", day=local_day, people=summary.people)

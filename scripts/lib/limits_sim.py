"""Limits at 10M daily users: the peak-hour rate on every hot document, index, queue and quota,
against the documented limit, with the headroom (limit / rate). Pure arithmetic, no I/O.

The load comes from a typical person-day (``PersonDay``: the flows of docs/data-model.md "Cost per
user flow", docs/notifications.md and docs/insights.md) and a daily usage curve (``CURVE``: the
share of a day's traffic in each UTC hour; the busiest hour carries 10%). A rate is the busiest
hour's average: Firestore's per-document limit is about *sustained* writes, and short bursts above
it are absorbed by retries. A flow that is concentrated in one local hour whatever the day's curve
(the streak-at-risk evening) uses its own peak-hour share.

Limits (docs/performance.md, "Limits at 10M daily users", cites each):
  Firestore: ~1 sustained write/s per document; ~500 writes/s into one index range of
  sequential values (a timestamp in a collection-group index: entries of every user's
  subcollection land side by side); 10,000 writes/s per database as a planning line.
  Cloud Tasks: 500 dispatches/s per queue at most, and a queue also dispatches no faster than
  max_concurrent_dispatches / task duration (functions/*/main.py ``task_rate_limits``); a task
  on several queues (lanes, focus.domain.wires.LANES) has that limit per lane.
  FCM: 600,000 messages per minute per project.

Usage: limits_sim.py [--people N] [--peak-share 0.10]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from tables import format_table  # type: ignore[import-not-found]

DAILY_PEOPLE = 10_000_000
HOUR_S = 3600.0

# Share of a day's traffic in each UTC hour (sums to 1): a Europe-centred audience (the project
# runs in europe-west1), quiet at night, a morning rise, an evening peak at 19-20 UTC.
CURVE: tuple[float, ...] = (
    0.010, 0.006, 0.004, 0.004, 0.006, 0.015, 0.030, 0.048, 0.058, 0.052, 0.048, 0.048,
    0.052, 0.048, 0.045, 0.045, 0.050, 0.058, 0.070, 0.085, 0.100, 0.060, 0.030, 0.028,
)  # fmt: skip


@dataclass(frozen=True)
class PersonDay:
    """What a typical daily user does in a day (docs/data-model.md's typical active day, plus the
    pushes and nudges it causes). Each field says where it comes from."""

    launches: float = 2  # `launch`; each launch also calls `registerPushToken`
    uploads: float = 3  # `uploadDailyReports`: one change record -> one `deriveDays` task each
    upload_moves_bucket: float = 0.8  # an upload moves the day's 15-min community bucket
    sessions: float = 2  # started and completed: one `session-completed` message each
    block_edits: float = 1  # one sync push to each other device
    other_devices: float = 1  # devices beyond the one acting (sync and session-finished pushes)
    streak_at_risk: float = 0.3  # evenings with a streak at risk: one visible push
    ai_consent: float = 0.3  # of those, people who granted AI processing: one online nudge
    writes: float = 27  # Firestore writes per person-day (docs/data-model.md)
    exports: float = 0.001  # `requestExport` -> `buildExport`
    erasures: float = 0.0005  # `deleteAccount` -> `eraseAccount`

    @property
    def pushes(self) -> float:
        """Organic FCM messages: sync after an edit, session finished on the other devices, the
        streak-at-risk reminder (the weekly report campaign is paced on its own, see FCM rows)."""
        return (self.block_edits + self.sessions) * self.other_devices + self.streak_at_risk

    @property
    def nudges(self) -> float:
        return self.streak_at_risk * self.ai_consent


# The streak-at-risk push goes out at 20:00-21:00 local time: with most people within two hours
# of CET, the busiest hour carries most of the day's reminders and nudges.
EVENING_PEAK_SHARE = 0.6


@dataclass(frozen=True)
class Queue:
    """A task's queues: each lane's max_concurrent_dispatches (functions/*/main.py), a typical
    task's duration (an assumption: Firestore round trips, a model call for writeNudge) and how
    many lanes (queues) it runs on (focus.domain.wires.LANES)."""

    concurrency: int
    task_seconds: float
    lanes: int = 1

    @property
    def dispatch_limit(self) -> float:
        per_lane = min(CLOUD_TASKS_MAX_DISPATCH, self.concurrency / self.task_seconds)
        return self.lanes * per_lane

    @property
    def shape(self) -> str:
        lanes = f"{self.lanes} lanes x " if self.lanes > 1 else ""
        return f"{lanes}{self.concurrency} concurrent x {self.task_seconds:g} s"


CLOUD_TASKS_MAX_DISPATCH = 500.0  # per queue (Cloud Tasks RateLimits.max_dispatches_per_second)
DOCUMENT_WRITES = 1.0  # sustained, per document
SEQUENTIAL_INDEX_WRITES = 500.0  # per index range of sequential values
DATABASE_WRITES = 10_000.0  # planning line
FCM_PER_MINUTE = 600_000.0
CAMPAIGN_PACE_PER_MINUTE = 0.95 * FCM_PER_MINUTE  # docs/notifications.md: campaigns pace at 95%
CAMPAIGN_BATCH = 500  # messages per sendCampaignBatch task (send_each)

HOURS_SAVED_SHARDS = 1000  # focus.domain.hours_saved.SHARD_COUNT
COMMUNITY_SHARDS = 1000  # focus.domain.community.SHARD_COUNT (local days from SHARD_COUNT_FROM)
MODEL_DAY_SHARDS = 200  # focus.domain.model_budget.SHARDS
GET_EXPORT_PER_MINUTE = 60  # the highest per-callable allowance (functions/api/main.py)
# Collection-group timestamp indexes carry the sweep shard in front (focus.domain.sweep_shards).
SWEEP_SHARDS = 8  # focus.domain.sweep_shards.SHARDS
# applyInsightResults: 20 concurrent tasks of ~20 s (an assumption), each marking the run once.
INSIGHT_RUN_WRITES = 20 / 20.0

QUEUES = {
    "deriveDays": Queue(200, 0.4, lanes=2),
    "countCompletedSession": Queue(100, 0.2, lanes=2),
    "completeSessionAtPlannedEnd": Queue(50, 0.1, lanes=2),
    "sendPush": Queue(250, 0.2, lanes=4),
    "sendCampaignBatch": Queue(20, 1.0),
    "writeNudge": Queue(400, 2.0),
    "buildExport": Queue(10, 5.0),
    "eraseAccount": Queue(20, 5.0),
}


@dataclass(frozen=True)
class Row:
    kind: str  # document, index, queue, quota
    name: str
    rate: float  # per second (per minute for FCM rows: see unit)
    limit: float
    unit: str
    note: str

    @property
    def headroom(self) -> float:
        return self.limit / self.rate if self.rate else float("inf")


def peak_share(curve: Sequence[float]) -> float:
    return max(curve)


def per_second(per_person_day: float, people: int, share: float) -> float:
    """A daily count's rate during the busiest hour."""
    return per_person_day * people * share / HOUR_S


def simulate(
    people: int = DAILY_PEOPLE, day: PersonDay | None = None, share: float | None = None
) -> list[Row]:
    """Every hot path's peak rate, limit and note."""
    day = day or PersonDay()
    share = peak_share(CURVE) if share is None else share

    def rate(count: float, hour_share: float = share) -> float:
        return per_second(count, people, hour_share)

    uploads, sessions = rate(day.uploads), rate(day.sessions)
    nudges = rate(day.nudges, EVENING_PEAK_SHARE)
    organic_pushes = rate(day.pushes - day.streak_at_risk) + rate(
        day.streak_at_risk, EVENING_PEAK_SHARE
    )
    rows = [
        Row(
            "document",
            f"hoursSavedShards/{{0..{HOURS_SAVED_SHARDS - 1}}}",
            sessions / HOURS_SAVED_SHARDS,
            DOCUMENT_WRITES,
            "w/s each",
            "one increment per completed session",
        ),
        Row(
            "document",
            f"communityDays/{{day}}/shards/{{0..{COMMUNITY_SHARDS - 1}}}",
            uploads * day.upload_moves_bucket / COMMUNITY_SHARDS,
            DOCUMENT_WRITES,
            "w/s each",
            "deriveDays moves a person's bucket on today's shards",
        ),
        Row(
            "document",
            f"modelDays/{{day}}/shards/{{0..{MODEL_DAY_SHARDS - 1}}}",
            nudges / MODEL_DAY_SHARDS,
            DOCUMENT_WRITES,
            "w/s each",
            "one increment per online nudge (evening hour); read once a minute per instance",
        ),
        Row(
            "document",
            "users/{uid}/rateLimits/getExport",
            GET_EXPORT_PER_MINUTE / 60,
            DOCUMENT_WRITES,
            "w/s",
            "one client paging an export at its allowance (60/min), briefly",
        ),
        Row(
            "document",
            "users/{uid}/rateLimits/uploadDailyReports",
            30 / 60,
            DOCUMENT_WRITES,
            "w/s",
            "one client at its allowance (30/min)",
        ),
        Row(
            "document",
            "aggregates/hoursSaved",
            1 / 300,
            DOCUMENT_WRITES,
            "w/s",
            "roll_up_hours_saved, every 5 min",
        ),
        Row(
            "document",
            "communityDays/{day}",
            1 / 600,
            DOCUMENT_WRITES,
            "w/s",
            "roll_up_community, every 10 min",
        ),
        Row(
            "document",
            "campaigns/fanout",
            3 / 900,
            DOCUMENT_WRITES,
            "w/s",
            "plan_campaigns every 15 min, ~1 transaction per wave",
        ),
        Row(
            "document",
            "insightRuns/{day}",
            INSIGHT_RUN_WRITES,
            DOCUMENT_WRITES,
            "w/s",
            "applyInsightResults marks each output applied (20 concurrent, ~20 s each)",
        ),
        Row(
            "index",
            "dayChanges (sweepShard, createdAt) (collection group)",
            uploads / SWEEP_SHARDS,
            SEQUENTIAL_INDEX_WRITES,
            "w/s a shard",
            f"one change record per upload, createdAt = now; {SWEEP_SHARDS} ranges",
        ),
        Row(
            "index",
            "sessions (status, endedAt) (collection group)",
            sessions,
            SEQUENTIAL_INDEX_WRITES,
            "w/s",
            "completed sessions enter at endedAt = now",
        ),
        Row(
            "index",
            "pushTokens (sweepShard, refreshedAt) (collection group)",
            rate(day.launches) / SWEEP_SHARDS,
            SEQUENTIAL_INDEX_WRITES,
            "w/s a shard",
            f"registerPushToken on every launch; {SWEEP_SHARDS} ranges",
        ),
        Row(
            "index",
            "outbox (sweepShard, state, dueAt) (collection group)",
            organic_pushes / SWEEP_SHARDS,
            SEQUENTIAL_INDEX_WRITES,
            "w/s a shard",
            f"one outbox entry per organic push, dueAt ~ now; {SWEEP_SHARDS} ranges",
        ),
        Row(
            "quota",
            "Firestore writes, whole database",
            rate(day.writes),
            DATABASE_WRITES,
            "w/s",
            "27 writes per person-day",
        ),
        Row(
            "quota",
            "FCM, organic pushes",
            organic_pushes * 60,
            FCM_PER_MINUTE,
            "msg/min",
            "sync, session finished, streak at risk",
        ),
        Row(
            "quota",
            "FCM, campaign pace + organic",
            CAMPAIGN_PACE_PER_MINUTE,
            FCM_PER_MINUTE,
            "msg/min",
            "the weekly report paces to 95% of the quota, sync reserved inside",
        ),
        Row(
            "queue",
            "session-completed (Pub/Sub)",
            sessions,
            float("inf"),
            "msg/s",
            "~0.2 MB/s: far below the regional publish quota (MB/s)",
        ),
    ]
    queue_load = {
        "deriveDays": (uploads, "one per upload"),
        "countCompletedSession": (sessions, "one per completed session"),
        "completeSessionAtPlannedEnd": (sessions, "one per session, at its planned end"),
        "sendPush": (organic_pushes, "one per organic push"),
        "sendCampaignBatch": (CAMPAIGN_PACE_PER_MINUTE / 60 / CAMPAIGN_BATCH, "500 per batch"),
        "writeNudge": (nudges, "one per nudge (a model call, ~2 s)"),
        "buildExport": (rate(day.exports), "one per export"),
        "eraseAccount": (rate(day.erasures), "one per erasure"),
    }
    for name, (load, note) in queue_load.items():
        queue = QUEUES[name]
        rows.append(
            Row("queue", f"{name} (tasks)", load, queue.dispatch_limit, "tasks/s",
                f"{note}; {queue.shape}")
        )  # fmt: skip
    return rows


def shortfalls(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.headroom < 1]


def figure(value: float) -> str:
    if value == float("inf"):
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=DAILY_PEOPLE, help="daily users")
    parser.add_argument("--peak-share", type=float, help="busiest hour's share (default: curve)")
    args = parser.parse_args()
    rows = simulate(args.people, share=args.peak_share)
    share = args.peak_share or peak_share(CURVE)
    print(f"{args.people:,} daily users; busiest hour = {share:.0%} of the day; {PersonDay()}\n")
    table = [
        [row.kind, row.name, figure(row.rate), figure(row.limit), row.unit,
         figure(row.headroom) + ("  SHORT" if row.headroom < 1 else ""), row.note]
        for row in rows
    ]  # fmt: skip
    print(
        format_table(
            ["kind", "hot path", "peak rate", "limit", "unit", "headroom", "what drives it"],
            table,
            align="llrrlrl",
        )
    )
    short = shortfalls(rows)
    print(f"\n{len(short)} below 1x headroom: " + ", ".join(row.name for row in short))
    return 0


if __name__ == "__main__":
    sys.exit(main())

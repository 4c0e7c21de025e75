"""Daily reports and what the server derives from them.

``users/{uid}/days/{YYYY-MM-DD}`` holds the merged day (see focus.domain.reports). An upload
merges its days in one transaction and, in the same commit, records which days it changed in a
``users/{uid}/dayChanges/{id}`` document. That document is the fact's hand-off: its trigger
enqueues a retried task that derives (``derive_pending``) everything the changed days imply in one
transaction per person (focus.domain.derivation), deleting the change documents it covered; the
sweep derives any change document left behind (a failed trigger or task). So one upload call costs
one derivation however many days it carries, and no derived write triggers anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from google.cloud import firestore as gcf

from focus.adapters import clients, logs, messaging, paths, store, sweeps, tracing
from focus.domain import community, derivation, reports, sweep_shards, weeks, workers
from focus.domain.analytics_events import merged_day
from focus.domain.errors import FailedPrecondition, Reason
from focus.domain.reports import DailyReportUpload, Day
from focus.domain.weeks import Week
from focus.domain.wires import Task
from focus.services import analytics, profiles, tolerant

if TYPE_CHECKING:
    from focus.contracts.envelope import ClientInfo

DAY_BEFORE = store.QuerySpec(
    "day before", paths.DAYS, filters=(("day", "<"),), order_by=(("day", "DESCENDING"),)
)
DAYS_FROM = store.QuerySpec(
    "days from", paths.DAYS, filters=(("day", ">="),), order_by=(("day", "ASCENDING"),)
)
PENDING_CHANGES = store.QuerySpec(
    "pending day changes", paths.DAY_CHANGES, order_by=(("createdAt", "ASCENDING"),)
)
STALE_CHANGES = sweeps.sharded(
    "day changes left behind (all users)", paths.DAY_CHANGES, ("createdAt", "<")
)
# Days exist from at most MAX_LATE_DAYS before the upload to tomorrow: reading this many from the
# earliest changed day reaches the person's latest day.
MAX_DAYS_FROM = reports.MAX_LATE_DAYS + 3
MAX_CHANGES_PER_DERIVATION = 50
DERIVE_ATTEMPTS = 5  # reads again when an upload changed a day it was about to write
SWEEP_PAGE = 200
COMMUNITY_SHARD_RETENTION = timedelta(days=60)


@dataclass(frozen=True)
class UploadResult:
    day: str
    changed: bool
    revision: int
    score: int


@tracing.traced("firestore.days.upload")
def upload(
    uid: str,
    device_id: str,
    uploads: list[DailyReportUpload],
    now: datetime,
    client: ClientInfo | None = None,
) -> list[UploadResult]:
    """Merge a registered device's batch of daily totals, all or nothing (one transaction).

    The profile (for the goal) and the device are read before the transaction: neither is
    written here, and leaving them out of it keeps uploads from contending with every write to
    the profile."""
    db = clients.firestore()
    profile_snap, device_snap = store.get_all(
        [db.document(paths.user(uid)), db.document(paths.device(uid, device_id))]
    )
    if not profile_snap.exists:
        raise FailedPrecondition(
            "Open the app once (launch) before uploading reports.",
            reason=Reason.PROFILE_MISSING,
        )
    if not device_snap.exists:
        raise FailedPrecondition(
            "Register the device (users/{uid}/devices/{deviceId}) before uploading its reports.",
            reason=Reason.DEVICE_NOT_REGISTERED,
        )
    profile = profiles.read(uid, profile_snap.to_dict())
    goal = profile.settings.daily_goal_minutes
    day_refs = [db.document(paths.day(uid, u.day)) for u in uploads]

    merged_days: dict[str, Day] = {}  # what the committed attempt merged: product events

    def run(tx: gcf.Transaction) -> list[UploadResult]:
        merged_days.clear()
        days = {
            s.id: Day.model_validate(s.to_dict()) for s in store.get_all(day_refs, tx) if s.exists
        }
        out = store.writes(tx)
        results, changed = [], []
        for item, ref in zip(uploads, day_refs, strict=True):
            merged = reports.merge(days.get(item.day), device_id, item, goal)
            if merged is None:
                current = days[item.day]
                results.append(UploadResult(item.day, False, current.revision, current.score))
                continue
            days[item.day] = merged_days[item.day] = merged
            out.set(ref, merged.to_firestore())
            changed.append(item.day)
            results.append(UploadResult(item.day, True, merged.revision, merged.score))
        if changed:
            change_ref = db.collection(paths.day_changes(uid)).document()
            change = {"days": sorted(set(changed)), "createdAt": now}
            out.create(change_ref, change | sweep_shards.fields(uid))
        return results

    results = store.transactional(run, name="days.upload")
    # Each day's revision is one fact: a repeated upload changes nothing and states nothing.
    analytics.record_all(
        uid,
        [merged_day(day, now) for day in merged_days.values()],
        client,
        create_key=True,
        consent=profile.analytics_consent,
    )
    return results


@tracing.traced("firestore.days.derive_pending")
def derive_pending(uid: str, now: datetime) -> dict[str, int]:
    """Derive everything the person's pending day changes imply, in one transaction, and delete
    the change documents it covered. Idempotent: a second run finds nothing pending (or, racing
    the first, derives the same result and writes nothing new).

    The pending changes and the days are found by queries before the transaction, not in it: on
    the emulator a query in a transaction locks that collection for every person, so every
    person's uploads and derivations waited on each other (docs/adr/0012). The transaction reads
    the profile and the weeks, and writes each day only if it is still as read (its update time):
    a day an upload changed in between fails the commit, and the derivation reads again. A day
    changed in between that this derivation does not write brings its own change record, so the
    next derivation covers it."""
    return store.found_then_committed(
        lambda: _pending(uid),
        lambda found: _derive(uid, found, now),
        name="days.derive_pending",
        attempts=DERIVE_ATTEMPTS,
    )


@dataclass(frozen=True)
class _Pending:
    """What a derivation found before its transaction: the change documents, the days they name,
    the day before the earliest of them and the stored days from it on."""

    changes: list[Any]
    days: set[str]
    before: list[Any]
    stored: list[Any]


def _pending(uid: str) -> _Pending:
    user_ref = clients.firestore().document(paths.user(uid))
    pending = store.query(PENDING_CHANGES, user_ref, limit=MAX_CHANGES_PER_DERIVATION)
    changed = {d for snap in pending for d in _changed_days(snap.to_dict())}
    if not changed:
        return _Pending(pending, changed, [], [])
    earliest = min(changed)
    before = store.query(DAY_BEFORE, user_ref, [earliest], limit=1)
    stored = store.query(DAYS_FROM, user_ref, [earliest], limit=MAX_DAYS_FROM)
    return _Pending(pending, changed, before, stored)


def _derive(uid: str, found: _Pending, now: datetime) -> dict[str, int]:
    db = clients.firestore()
    pending, changed, before, stored = found.changes, found.days, found.before, found.stored
    if not changed:
        batch = db.batch()
        for snap in pending:
            store.writes(batch).delete(snap.reference)
        if pending:
            batch.commit()
        return {"changes": len(pending), "days": 0}
    user_ref = db.document(paths.user(uid))
    read_at = {snap.id: snap.update_time for snap in stored}
    week_refs = [
        db.document(paths.week(uid, k)) for k in sorted({weeks.week_of(d) for d in changed})
    ]

    def run(tx: gcf.Transaction) -> dict[str, int]:
        profile_snap, *week_snaps = store.get_all([user_ref, *week_refs], tx)
        out = store.writes(tx)
        if profile_snap.exists:
            profile = profiles.read(uid, profile_snap.to_dict())
            result = derivation.derive(
                changed,
                Day.model_validate(before[0].to_dict()) if before else None,
                [Day.model_validate(snap.to_dict()) for snap in stored],
                {s.id: Week.model_validate(s.to_dict()) for s in week_snaps if s.exists},
                profile.streak,
                profile.created_at,
                now,
            )
            _write(out, uid, result, read_at)
        for snap in pending:
            out.delete(snap.reference)
        return {"changes": len(pending), "days": len(changed)}

    return store.transactional(run, name="days.derive_pending")


def _changed_days(data: dict[str, Any] | None) -> list[str]:
    """The days a change document names; anything else in it is ignored (never written by a
    client, but a poison value must not stop the derivation of the others)."""
    days = (data or {}).get("days")
    if not isinstance(days, list):
        return []
    valid = []
    for value in days:
        try:
            if isinstance(value, str) and date.fromisoformat(value).isoformat() == value:
                valid.append(value)
        except ValueError:
            continue
    return valid


def _write(
    out: store.Writes, uid: str, result: derivation.Derivation, read_at: dict[str, Any]
) -> None:
    """Stage the derivation's writes; each day only if still as read (``read_at``: its update
    time when read)."""
    db = clients.firestore()
    for local_day, fields in result.day_updates.items():
        unchanged = db.write_option(last_update_time=read_at[local_day])
        out.update(db.document(paths.day(uid, local_day)), fields, option=unchanged)
    for key, week in result.weeks.items():
        out.set(db.document(paths.week(uid, key)), week.to_firestore())
    for move in result.community:
        shard_ref = db.document(paths.community_shard(move.day, community.shard_of(uid, move.day)))
        buckets: dict[str, object] = {str(b): gcf.Increment(n) for b, n in move.moves.items()}
        out.set(shard_ref, {"buckets": buckets, "expireAt": _shard_expiry(move.day)}, merge=True)
    if result.streak_summary is not None:
        out.update(db.document(paths.user(uid)), {"streak": result.streak_summary.to_firestore()})
    for milestone in result.milestones:
        out.set(db.document(paths.milestone(uid, milestone.key)), milestone.to_firestore())


@tracing.traced("firestore.days.left_behind")
def left_behind(older_than: datetime) -> list[str]:
    """People with a day change older than ``older_than`` still pending: what a failed trigger
    run or task left for the sweep (one read per change document, at most a page a shard)."""
    owners: list[str] = []
    found = sweeps.owned(STALE_CHANGES, [older_than], page=SWEEP_PAGE, first_page_only=True)
    for uid, _ in found:
        if uid not in owners:
            owners.append(uid)
    return owners


def _shard_expiry(local_day: str) -> datetime:
    """Community shards are transient: the daily summary keeps the result (TTL on expireAt)."""
    start = datetime.combine(date.fromisoformat(local_day), datetime.min.time(), tzinfo=UTC)
    return start + COMMUNITY_SHARD_RETENTION


def hand_off(uid: str, change_id: str, now: datetime) -> None:
    """An upload changed some days (``change_id``): hand the derivation to a retried task
    (Firestore triggers are never retried). Cheap and contention-free; the task derives every
    pending change of the person at once, and the sweep covers a hand-off that failed here."""
    messaging.enqueue(
        Task.DERIVE_DAYS,
        {"userId": uid},
        at=now,
        task_id=messaging.task_id("derive-days", uid, change_id),
    )


def derive_for_task(uid: str, now: datetime) -> None:
    """The ``deriveDays`` task: every pending change of the person at once. A malformed day is
    a poison item (logged, the task ends); any other failure raises, so the queue retries it
    (contention included); change documents left after the last attempt are the sweep's."""
    run = tolerant.Isolation("deriveDays")
    with run.item("days", uid, "pending", retry_others=True):
        derived = derive_pending(uid, now)
        logs.get_logger().info("days derived", **derived)


def sweep_left_behind(now: datetime) -> None:
    """Derive day changes a failed trigger run or task left behind
    (``workers.day_changes_left_behind``): each person is an item, so one person's malformed day
    never stops the others."""
    run = tolerant.Isolation("sweep_day_changes")
    repaired = 0
    for uid in left_behind(workers.day_changes_left_behind(now)):
        with run.item("days", uid, "pending"):
            repaired += derive_pending(uid, now)["changes"]
    logs.get_logger().info("day changes swept", repaired=repaired, **run.counts())

"""Daily reports and what the server derives from them.

``users/{uid}/days/{YYYY-MM-DD}`` holds the merged day (see focus.domain.reports); the day
trigger derives, in one transaction and idempotently, the day's streak (and the days after it),
the ISO week summary, the community histogram contribution, the profile's streak summary and
streak milestones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from google.cloud import firestore as gcf

from focus.domain import community, reports, streaks, weeks
from focus.domain.errors import FailedPrecondition
from focus.domain.milestones import MilestoneKind, reached
from focus.domain.reports import CommunityMark, DailyReportUpload, Day
from focus.domain.weeks import Week, WeekDay
from focus.platform import clients, store, tracing
from focus.platform.repositories import paths, profiles

DAY_BEFORE = store.QuerySpec(
    "day before", paths.DAYS, filters=(("day", "<"),), order_by=(("day", "DESCENDING"),)
)
DAYS_AFTER = store.QuerySpec(
    "days after", paths.DAYS, filters=(("day", ">"),), order_by=(("day", "ASCENDING"),)
)
MAX_FORWARD_DAYS = reports.MAX_LATE_DAYS + 1
COMMUNITY_SHARD_RETENTION = timedelta(days=60)


@dataclass(frozen=True)
class UploadResult:
    day: str
    changed: bool
    revision: int
    score: int


@tracing.traced("firestore.days.upload")
def upload(uid: str, device_id: str, uploads: list[DailyReportUpload]) -> list[UploadResult]:
    """Merge a device's batch of daily totals, all or nothing (one transaction)."""
    db = clients.firestore()
    profile_ref = db.document(paths.user(uid))
    day_refs = [db.document(paths.day(uid, u.day)) for u in uploads]

    @gcf.transactional
    def run(tx: gcf.Transaction) -> list[UploadResult]:
        profile_snap, *day_snaps = store.get_all([profile_ref, *day_refs], tx)
        if not profile_snap.exists:
            raise FailedPrecondition(
                "Open the app once (launch) before uploading reports.",
                details={"reason": "PROFILE_MISSING"},
            )
        goal = profiles.read(uid, profile_snap.to_dict()).settings.daily_goal_minutes
        days = {s.id: Day.model_validate(s.to_dict()) for s in day_snaps if s.exists}
        out = store.writes(tx)
        results = []
        for item, ref in zip(uploads, day_refs, strict=True):
            merged = reports.merge(days.get(item.day), device_id, item, goal)
            if merged is None:
                current = days[item.day]
                results.append(UploadResult(item.day, False, current.revision, current.score))
                continue
            days[item.day] = merged
            out.set(ref, merged.to_firestore())
            results.append(UploadResult(item.day, True, merged.revision, merged.score))
        return results

    return run(db.transaction())  # type: ignore[no-any-return]


DERIVED_FIELDS = frozenset({"streak", "community"})


@tracing.traced("firestore.days.only_derived_fields_changed")
def only_derived_fields_changed(
    before: dict[str, object] | None, after: dict[str, object] | None
) -> bool:
    """True when a day write changed nothing but what ``derive`` itself writes."""
    before, after = before or {}, after or {}
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    return bool(changed) and changed <= DERIVED_FIELDS


def _mark(day: Day, streak: int | None = None) -> streaks.DayMark:
    return streaks.DayMark(
        day.day, day.timezone, day.met_goal, day.streak if streak is None else streak
    )


@tracing.traced("firestore.days.derive")
def derive(uid: str, local_day: str, now: datetime) -> dict[str, bool]:
    """Bring everything derived from one day up to date with it; which parts changed."""
    db = clients.firestore()
    user_ref = db.document(paths.user(uid))
    day_ref = db.document(paths.day(uid, local_day))
    week_key = weeks.week_of(local_day)
    week_ref = db.document(paths.week(uid, week_key))

    @gcf.transactional
    def run(tx: gcf.Transaction) -> dict[str, bool]:
        day_snap, week_snap, profile_snap = store.get_all([day_ref, week_ref, user_ref], tx)
        if not day_snap.exists or not profile_snap.exists:
            return {}
        day = Day.model_validate(day_snap.to_dict())
        profile = profiles.read(uid, profile_snap.to_dict())
        before = store.query(DAY_BEFORE, user_ref, [local_day], limit=1, transaction=tx)
        after = store.query(
            DAYS_AFTER, user_ref, [local_day], limit=MAX_FORWARD_DAYS, transaction=tx
        )
        out = store.writes(tx)
        changed = {"week": False, "community": False, "streak": False}

        # Week summary: the day's latest totals, guarded by the day's revision.
        week = Week.model_validate(week_snap.to_dict()) if week_snap.exists else Week(week=week_key)
        summary = WeekDay(
            screen_time_minutes=day.totals.screen_time_minutes,
            pickups=day.totals.pickups,
            focused_minutes=day.totals.focused_minutes,
            score=day.score,
            met_goal=day.met_goal,
            revision=day.revision,
        )
        if (updated_week := weeks.with_day(week, local_day, summary)) is not None:
            out.set(week_ref, updated_week.to_firestore())
            changed["week"] = True

        # Community histogram: move this person's count to the day's current bucket, once.
        day_updates: dict[str, object] = {}
        if day.community is None or day.community.revision < day.revision:
            bucket = community.bucket_of(day.totals.screen_time_minutes)
            old = day.community.bucket if day.community is not None else None
            if old != bucket:
                moves: dict[str, object] = {str(bucket): gcf.Increment(1)}
                if old is not None:
                    moves[str(old)] = gcf.Increment(-1)
                shard_ref = db.document(paths.community_shard(local_day, community.shard_of(uid)))
                out.set(
                    shard_ref, {"buckets": moves, "expireAt": _shard_expiry(local_day)}, merge=True
                )
            mark = CommunityMark(bucket=bucket, revision=day.revision)
            day_updates["community"] = mark.to_firestore()
            changed["community"] = True

        # Streak: this day from its predecessor, then forward while later days change.
        previous = Day.model_validate(before[0].to_dict()) if before else None
        runs = {local_day: streaks.run_length(_mark(previous) if previous else None, _mark(day))}
        if runs[local_day] != day.streak:
            day_updates["streak"] = runs[local_day]
        prior = _mark(day, runs[local_day])
        later_days = [Day.model_validate(snap.to_dict()) for snap in after]
        for snap, later in zip(after, later_days, strict=True):
            run_length = streaks.run_length(prior, _mark(later))
            if run_length == later.streak:
                break  # unchanged here, so unchanged for every day after it
            out.update(snap.reference, {"streak": run_length})
            runs[later.day] = run_length
            prior = _mark(later, run_length)
        changed["streak"] = len(runs) > 1 or "streak" in day_updates
        if day_updates:
            out.update(day_ref, day_updates)

        latest = later_days[-1] if later_days else day
        longest = max(profile.streak.longest, *runs.values())
        streak_summary = {
            "current": runs.get(latest.day, latest.streak or 0),
            "longest": longest,
            "lastDay": latest.day,
        }
        if profile.streak.to_firestore() != {
            k: v for k, v in streak_summary.items() if v is not None
        }:
            out.update(user_ref, {"streak": streak_summary})
        already = {m.key for m in reached(MilestoneKind.STREAK_DAYS, profile.streak.longest, now)}
        for milestone in reached(MilestoneKind.STREAK_DAYS, longest, now):
            if milestone.key not in already:
                out.set(db.document(paths.milestone(uid, milestone.key)), milestone.to_firestore())
        return changed

    return run(db.transaction())  # type: ignore[no-any-return]


def _shard_expiry(local_day: str) -> datetime:
    """Community shards are transient: the daily summary keeps the result (TTL on expireAt)."""
    start = datetime.combine(date.fromisoformat(local_day), datetime.min.time(), tzinfo=UTC)
    return start + COMMUNITY_SHARD_RETENTION

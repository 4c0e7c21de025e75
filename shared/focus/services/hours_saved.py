"""The global hours-saved counter: ``hoursSavedShards/{n}`` and ``aggregates/hoursSaved``."""

from __future__ import annotations

from datetime import datetime

from google.cloud import firestore as gcf

from focus.adapters import clients, paths, store, tracing
from focus.domain import hours_saved as domain
from focus.domain.events import SessionCompleted
from focus.domain.hours_saved import HoursSavedSummary
from focus.domain.sessions import FocusSession

ALL_SHARDS = store.QuerySpec("hours saved shards", paths.HOURS_SAVED_SHARDS)


@tracing.traced("firestore.hours_saved.add_session")
def add_session(event: SessionCompleted, now: datetime) -> bool:
    """Add a completed session's minutes to its shard, once; True if this call added them.

    The marker ``result.addedToHoursSavedAt`` on the session makes a redelivered message a no-op
    without a separate dedupe document (one write fewer per session).
    """
    db = clients.firestore()
    session_ref = db.document(paths.session(event.user_id, event.session_id))
    shard_ref = db.collection(paths.HOURS_SAVED_SHARDS).document(
        str(domain.shard_for(event.contribution_key))
    )

    def run(tx: gcf.Transaction) -> bool:
        snapshot = store.get(session_ref, tx)
        if not snapshot.exists:
            return False
        minutes = domain.pending_minutes(FocusSession.model_validate(snapshot.to_dict()))
        if minutes is None:
            return False
        out = store.writes(tx)
        out.set(shard_ref, {"minutes": gcf.Increment(minutes)}, merge=True)
        out.update(session_ref, domain.added_fields(now))
        return True

    return store.transactional(run, name="hours_saved.add_session")


@tracing.traced("firestore.hours_saved.roll_up")
def roll_up(now: datetime) -> HoursSavedSummary:
    """Sum every shard into the summary document the app reads."""
    db = clients.firestore()
    minutes = [int(snap.get("minutes") or 0) for snap in store.query(ALL_SHARDS, None)]
    summary = domain.summarize(minutes, now=now)
    store.set_now(db.document(paths.hours_saved_summary()), summary.to_firestore())
    return summary


@tracing.traced("firestore.hours_saved.summary")
def summary() -> HoursSavedSummary | None:
    ref = clients.firestore().document(paths.hours_saved_summary())
    snapshot = store.get(ref)
    return HoursSavedSummary.model_validate(snapshot.to_dict()) if snapshot.exists else None

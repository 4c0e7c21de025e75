"""Focus sessions: ``users/{uid}/sessions/{sessionId}``, written by devices, counted by the server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from google.cloud import firestore as gcf
from pydantic import ValidationError

from focus.domain import sessions as domain
from focus.domain.events import SessionCompleted
from focus.domain.milestones import MilestoneKind, reached
from focus.domain.sessions import FocusSession, SessionResult, SessionStatus
from focus.platform import clients, logs, store, tolerant, tracing
from focus.platform.repositories import paths, profiles

ACTIVE_SESSIONS = store.QuerySpec("active sessions", paths.SESSIONS, filters=(("status", "=="),))
RECENTLY_COMPLETED = store.QuerySpec(
    "recently completed sessions (all users)",
    paths.SESSIONS,
    filters=(("status", "=="), ("endedAt", ">="), ("endedAt", "<")),
    order_by=(("endedAt", "ASCENDING"),),
    collection_group=True,
)
SWEEP_PAGE = 500
MAX_ACTIVE = 50


def _active_snapshots(uid: str, transaction: gcf.Transaction | None) -> list[Any]:
    user = clients.firestore().document(paths.user(uid))
    return store.query(
        ACTIVE_SESSIONS,
        user,
        [SessionStatus.ACTIVE.value],
        limit=MAX_ACTIVE,
        transaction=transaction,
    )


@tracing.traced("firestore.sessions.active")
def active(uid: str, transaction: gcf.Transaction | None = None) -> list[tuple[str, FocusSession]]:
    """The user's active sessions (the automatic single-field index on ``status`` serves it).

    Read tolerantly: a junk break is dropped; a session that cannot be read at all (no planned
    start, say) is logged and left out rather than failing the caller (``launch``)."""
    readable = []
    for snap in _active_snapshots(uid, transaction):
        try:
            session = tolerant.read(FocusSession, snap.to_dict(), kind="session", uid=uid)
        except ValidationError as exc:
            logs.get_logger().warning(
                "unreadable active session left out",
                owner=logs.pseudonymous_user_id(uid),
                session=snap.id,
                errorCount=exc.error_count(),
            )
            continue
        readable.append((snap.id, session))
    return readable


@tracing.traced("firestore.sessions.active_ids")
def active_ids(uid: str, transaction: gcf.Transaction | None = None) -> list[str]:
    """The ids of the user's active sessions, whatever else the documents hold (the emergency
    pass ends even a session it cannot read)."""
    return [snap.id for snap in _active_snapshots(uid, transaction)]


@tracing.traced("firestore.sessions.count_completed")
def count_completed(uid: str, session_id: str, now: datetime) -> SessionCompleted | None:
    """Count a completed session into its owner's totals, once; the event to publish, or None.

    The session's ``result`` is the idempotency marker: it is written in the same transaction
    as the totals, so a redelivered or reordered trigger event finds it and does nothing. Focused
    hours milestones crossed by this session are recorded in the same transaction.

    The session is read strictly (a malformed one raises ``ValidationError``: guessing would
    change what it counts; the jobs skip it as a poison item); the profile tolerantly (only its
    totals matter here, so a malformed setting must not stop the count).
    """
    db = clients.firestore()
    session_ref = db.document(paths.session(uid, session_id))
    profile_ref = db.document(paths.user(uid))

    @gcf.transactional
    def run(tx: gcf.Transaction) -> SessionCompleted | None:
        session_snap, profile_snap = store.get_all([session_ref, profile_ref], tx)
        if not session_snap.exists or not profile_snap.exists:
            return None
        session = FocusSession.model_validate(session_snap.to_dict())
        if not domain.should_count(session):
            return None
        profile = profiles.read(uid, profile_snap.to_dict())
        counted = profile.stats.counted_focus
        minutes = domain.focused_minutes(session, counted)
        remembered = domain.remember_counted(counted, domain.focused_spans(session, counted), now)
        before, after = profile.stats.focused_minutes, profile.stats.focused_minutes + minutes
        out = store.writes(tx)
        out.update(
            session_ref,
            {"result": SessionResult(focused_minutes=minutes, counted_at=now).to_firestore()},
        )
        out.update(
            profile_ref,
            {
                "stats.completedSessions": gcf.Increment(1),
                "stats.focusedMinutes": gcf.Increment(minutes),
                "stats.countedFocus": [i.to_firestore() for i in remembered],
            },
        )
        crossed = {m.key for m in reached(MilestoneKind.FOCUSED_HOURS, before // 60, now)}
        for milestone in reached(MilestoneKind.FOCUSED_HOURS, after // 60, now):
            if milestone.key not in crossed:
                out.set(db.document(paths.milestone(uid, milestone.key)), milestone.to_firestore())
        return _completion(uid, session_id, session, minutes)

    return run(db.transaction())  # type: ignore[no-any-return]


@tracing.traced("firestore.sessions.uncontributed")
def uncontributed(uid: str, session_id: str) -> SessionCompleted | None:
    """The completion event of a counted session not yet added to hours saved (its publish was
    lost), to publish again; None otherwise."""
    snapshot = store.get(clients.firestore().document(paths.session(uid, session_id)))
    if not snapshot.exists:
        return None
    session = FocusSession.model_validate(snapshot.to_dict())
    if session.result is None or session.result.added_to_hours_saved_at is not None:
        return None
    return _completion(uid, session_id, session, session.result.focused_minutes)


@tracing.traced("firestore.sessions.complete_if_due")
def complete_if_due(uid: str, session_id: str, now: datetime) -> bool:
    """Complete an active session whose planned end has passed; True if this call completed it."""
    db = clients.firestore()
    ref = db.document(paths.session(uid, session_id))

    @gcf.transactional
    def run(tx: gcf.Transaction) -> bool:
        snapshot = store.get(ref, tx)
        if not snapshot.exists:
            return False
        session = FocusSession.model_validate(snapshot.to_dict())
        if not domain.completion_due(session, now):
            return False
        store.writes(tx).update(ref, domain.completion_fields(session))
        return True

    return run(db.transaction())  # type: ignore[no-any-return]


def ensure_counted(uid: str, session_id: str, now: datetime) -> SessionCompleted | None:
    """The backstops' step (planned-end task, sweep): count the session if no trigger run did,
    or else return its event if it never reached hours saved; the event to publish, or None."""
    return count_completed(uid, session_id, now) or uncontributed(uid, session_id)


@tracing.traced("firestore.sessions.needing_count")
def needing_count(since: datetime, until: datetime) -> Iterator[tuple[str, str]]:
    """(uid, session id) of sessions that ended between ``since`` and ``until`` and were not
    fully counted (no result, or not yet in hours saved): what failed trigger runs left behind.
    Pages through every completed session in the window; each costs one read."""
    after = None
    while True:
        page = store.query(
            RECENTLY_COMPLETED,
            None,
            [SessionStatus.COMPLETED.value, since, until],
            limit=SWEEP_PAGE,
            start_after=after,
        )
        for snapshot in page:
            owner = snapshot.reference.parent.parent
            if owner is None or owner.parent.id != paths.USERS:
                continue  # a "sessions" collection somewhere else: not a person's session
            result = (snapshot.to_dict() or {}).get("result")
            if not isinstance(result, dict) or "addedToHoursSavedAt" not in result:
                yield owner.id, snapshot.id
        if len(page) < SWEEP_PAGE:
            return
        after = page[-1]


def _completion(uid: str, session_id: str, session: FocusSession, minutes: int) -> SessionCompleted:
    return SessionCompleted(
        user_id=uid,
        session_id=session_id,
        focused_minutes=minutes,
        completed_at=session.ended_at or session.planned_end,
    )

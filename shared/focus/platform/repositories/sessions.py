"""Focus sessions: ``users/{uid}/sessions/{sessionId}``, written by devices, counted by the server."""

from __future__ import annotations

from datetime import datetime

from google.cloud import firestore as gcf
from google.cloud.firestore_v1.base_query import FieldFilter

from focus.domain import sessions as domain
from focus.domain.events import SessionCompleted
from focus.domain.sessions import FocusSession, SessionResult, SessionStatus
from focus.platform import clients, tracing
from focus.platform.repositories import paths


@tracing.traced("firestore.sessions.active")
def active(uid: str, limit: int = 20) -> list[tuple[str, FocusSession]]:
    """The user's active sessions (served by the automatic single-field index on ``status``)."""
    query = (
        clients.firestore()
        .collection(f"{paths.user(uid)}/{paths.SESSIONS}")
        .where(filter=FieldFilter("status", "==", SessionStatus.ACTIVE.value))
        .limit(limit)
    )
    return [(doc.id, FocusSession.model_validate(doc.to_dict())) for doc in query.stream()]


@tracing.traced("firestore.sessions.count_completed")
def count_completed(uid: str, session_id: str, now: datetime) -> SessionCompleted | None:
    """Count a completed session into its owner's totals, once; the event to publish, or None.

    The session's ``result`` is the idempotency marker: it is written in the same transaction
    as the totals, so a redelivered or reordered trigger event finds it and does nothing.
    """
    db = clients.firestore()
    session_ref = db.document(paths.session(uid, session_id))
    profile_ref = db.document(paths.user(uid))

    @gcf.transactional
    def run(tx: gcf.Transaction) -> SessionCompleted | None:
        snapshot = session_ref.get(transaction=tx)
        if not snapshot.exists:
            return None
        session = FocusSession.model_validate(snapshot.to_dict())
        if not domain.should_count(session):
            return None
        minutes = domain.focused_minutes(session)
        result = SessionResult(focused_minutes=minutes, counted_at=now)
        tx.update(session_ref, {"result": result.to_firestore()})
        tx.set(
            profile_ref,
            {
                "stats": {
                    "completedSessions": gcf.Increment(1),
                    "focusedMinutes": gcf.Increment(minutes),
                }
            },
            merge=True,
        )
        return SessionCompleted(
            user_id=uid,
            session_id=session_id,
            focused_minutes=minutes,
            completed_at=session.ended_at or session.planned_end,
        )

    return run(db.transaction())  # type: ignore[no-any-return]


@tracing.traced("firestore.sessions.complete_if_due")
def complete_if_due(uid: str, session_id: str, now: datetime) -> bool:
    """Complete an active session whose planned end has passed; True if this call completed it."""
    db = clients.firestore()
    ref = db.document(paths.session(uid, session_id))

    @gcf.transactional
    def run(tx: gcf.Transaction) -> bool:
        snapshot = ref.get(transaction=tx)
        if not snapshot.exists:
            return False
        session = FocusSession.model_validate(snapshot.to_dict())
        if not domain.completion_due(session, now):
            return False
        tx.update(ref, domain.completion_fields(session))
        return True

    return run(db.transaction())  # type: ignore[no-any-return]

"""Focus sessions: ``users/{uid}/sessions/{sessionId}``, written by devices, counted by the server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore as gcf
from pydantic import ValidationError

from focus.adapters import clients, leases, logs, paths, store, tracing, turns
from focus.domain import sessions as domain
from focus.domain.analytics_events import ProductFact, completed_session
from focus.domain.events import SessionCompleted
from focus.domain.hours_saved import pending_minutes
from focus.domain.sessions import CountingStage, FocusSession, SessionStatus
from focus.services import analytics, profiles, tolerant

ACTIVE_SESSIONS = store.QuerySpec("active sessions", paths.SESSIONS, filters=(("status", "=="),))
RECENTLY_COMPLETED = store.QuerySpec(
    "recently completed sessions (all users)",
    paths.SESSIONS,
    filters=(("status", "=="), ("endedAt", ">="), ("endedAt", "<")),
    order_by=(("endedAt", "ASCENDING"),),
    collection_group=True,
)
OVERDUE_ACTIVE = store.QuerySpec(
    "active sessions past their planned end (all users)",
    paths.SESSIONS,
    filters=(("status", "=="), ("plannedEnd", ">="), ("plannedEnd", "<")),
    order_by=(("plannedEnd", "ASCENDING"),),
    collection_group=True,
)
RECENTLY_ENDED = store.QuerySpec(
    "person's recently completed sessions",
    paths.SESSIONS,
    filters=(("status", "=="), ("endedAt", ">=")),
    order_by=(("endedAt", "DESCENDING"),),
)
COUNT_TOGETHER = 50
FIRST_ATTEMPTS = 1
COUNTING_TURN = timedelta(seconds=60)
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
def count_completed(
    uid: str, session_id: str, now: datetime, *, attempts: int = store.MAX_ATTEMPTS
) -> list[SessionCompleted]:
    """Count a completed session into its owner's totals, once, together with every other
    uncounted session of the person that ended in the last 48 hours; the events to publish.

    Counting together is what keeps a burst from contending: when ten sessions of one person
    complete at once, ten tasks race on the profile; the first to commit counts all ten, and the
    others' retries find their session counted and write nothing. One completion on its own costs
    a query of the person's recent sessions (usually one to three reads) on top of the two reads.

    The session's ``result`` is the idempotency marker: it is written in the same transaction
    as the totals, so a redelivered or reordered event finds it and does nothing. Focused hours
    milestones crossed are recorded in the same transaction.

    The session is read strictly (a malformed one raises ``ValidationError``: guessing would
    change what it counts; the task dead-letters it); other recent sessions that no model accepts
    are left to their own tasks; the profile is read tolerantly (only its totals matter here).
    """
    db = clients.firestore()
    session_ref = db.document(paths.session(uid, session_id))
    profile_ref = db.document(paths.user(uid))

    # The candidates are found outside the transaction and read in it by reference: a query in a
    # transaction would lock the range of the person's sessions against the devices' own writes.
    recent = store.query(
        RECENTLY_ENDED,
        profile_ref,
        [SessionStatus.COMPLETED.value, now - domain.COUNTED_MEMORY],
        limit=COUNT_TOGETHER,
    )
    others = [
        snap.reference
        for snap in recent
        if snap.id != session_id
        and domain.stored_counting_stage(snap.to_dict() or {}) is CountingStage.UNCOUNTED
    ]

    # What the committed attempt counted, as product events (published after the commit), and
    # the person's analytics consent as the profile it read mirrors it.
    counted_facts: list[ProductFact] = []
    consent: list[bool | None] = [None]

    # store.transactional backs off between attempts and ends in ``Contention``: the task retries.
    def run(tx: gcf.Transaction) -> list[SessionCompleted]:
        counted_facts.clear()
        session_snap, profile_snap, *other_snaps = store.get_all(
            [session_ref, profile_ref, *others], tx
        )
        if not session_snap.exists or not profile_snap.exists:
            return []
        session = FocusSession.model_validate(session_snap.to_dict())
        if not domain.should_count(session):
            return []
        refs = {session_snap.id: session_snap.reference}
        uncounted = {session_snap.id: session}
        for snap in other_snaps:
            if not snap.exists:
                continue
            try:
                other = FocusSession.model_validate(snap.to_dict())
            except ValidationError:
                continue  # its own task dead-letters it
            if domain.should_count(other):
                refs[snap.id], uncounted[snap.id] = snap.reference, other
        profile = profiles.read(uid, profile_snap.to_dict())
        consent[0], stats = profile.analytics_consent, profile.stats
        count = domain.count_sessions(uncounted, stats.counted_focus, stats.focused_minutes, now)
        out = store.writes(tx)
        for each in count.sessions:
            out.update(refs[each.session_id], {"result": each.result.to_firestore()})
        out.update(
            profile_ref,
            {
                "stats.completedSessions": gcf.Increment(len(count.sessions)),
                "stats.focusedMinutes": gcf.Increment(count.added_minutes),
                "stats.countedFocus": [i.to_firestore() for i in count.counted_focus],
            },
        )
        for milestone in count.milestones:
            out.set(db.document(paths.milestone(uid, milestone.key)), milestone.to_firestore())
        # Imported here: the api codebase reads sessions too, and never sends a push.
        from focus.domain.notifications import MessageKind, SessionFinished, still_worth_showing
        from focus.services import outbox

        for each in count.sessions:
            # The person's other devices hear that it finished (focus.services.outbox).
            if not still_worth_showing(MessageKind.SESSION_FINISHED, each.session.finished_at, now):
                continue
            finished = SessionFinished(
                session_id=each.session_id,
                focused_minutes=min(each.result.focused_minutes, 1440),
                ended_at=each.session.finished_at,
                ended_by=each.session.updated_by,
            )
            outbox.stage_visible(tx, uid, finished, now)
        counted_facts.extend(
            completed_session(each.session_id, each.session, each.result.focused_minutes)
            for each in count.sessions
        )
        return [
            _completion(uid, each.session_id, each.session, each.result.focused_minutes)
            for each in count.sessions
        ]

    completions = store.transactional(run, name="sessions.count_completed", max_attempts=attempts)
    # Once per session: only the delivery that counts it gets here with it (and a retry of the
    # same fact has the same event id).
    analytics.record_all(uid, counted_facts, consent=consent[0])
    return completions


@tracing.traced("firestore.sessions.count_in_turn")
def count_in_turn(uid: str, session_id: str, now: datetime) -> list[SessionCompleted]:
    """Count under contention: take the person's counting turn first, so concurrent counts of one
    person run one after another instead of locking each other out (on the emulator a burst of
    such transactions can time out together on every attempt).

    The turn is a create-only document: taking it is one write with no transaction and no lock
    wait, and only one delivery can create it. The others raise ``LeaseHeld`` and their queue
    retries them, by when the holder has counted their sessions too (``count_completed`` counts
    the person's recent uncounted sessions together). A turn left by a crashed holder expires."""
    ref = clients.firestore().document(paths.counting_turn(uid))
    try:
        with turns.taken(ref, now, COUNTING_TURN):
            return count_completed(uid, session_id, now)
    except turns.TurnHeld:
        raise leases.LeaseHeld("another delivery is counting this person's sessions") from None


@tracing.traced("firestore.sessions.uncontributed")
def uncontributed(uid: str, session_id: str) -> SessionCompleted | None:
    """The completion event of a counted session not yet added to hours saved (its publish was
    lost), to publish again; None otherwise."""
    snapshot = store.get(clients.firestore().document(paths.session(uid, session_id)))
    if not snapshot.exists:
        return None
    session = FocusSession.model_validate(snapshot.to_dict())
    if (minutes := pending_minutes(session)) is None:
        return None
    return _completion(uid, session_id, session, minutes)


@tracing.traced("firestore.sessions.complete_if_due")
def complete_if_due(uid: str, session_id: str, now: datetime) -> bool:
    """Complete an active session whose planned end has passed; True if this call completed it."""
    db = clients.firestore()
    ref = db.document(paths.session(uid, session_id))

    def run(tx: gcf.Transaction) -> bool:
        snapshot = store.get(ref, tx)
        if not snapshot.exists:
            return False
        session = FocusSession.model_validate(snapshot.to_dict())
        if not domain.completion_due(session, now):
            return False
        store.writes(tx).update(ref, domain.completion_fields(session))
        return True

    return store.transactional(run, name="sessions.complete_if_due")


@dataclass(frozen=True)
class PlannedEndCheck:
    """What a planned-end task finds in one read of the session."""

    waits_until: datetime | None  # the planned end, not reached yet, of an unsettled session
    settled: bool  # nothing left to do (``domain.settled``), or no such session


@tracing.traced("firestore.sessions.at_planned_end")
def at_planned_end(uid: str, session_id: str, now: datetime) -> PlannedEndCheck:
    """The session as its planned-end task finds it, in one read: most sessions were completed
    and counted by then, and the task stops here instead of checking the count again (five
    reads). Read strictly, like ``complete_if_due``."""
    snapshot = store.get(clients.firestore().document(paths.session(uid, session_id)))
    if not snapshot.exists:
        return PlannedEndCheck(None, settled=True)
    session = FocusSession.model_validate(snapshot.to_dict())
    return PlannedEndCheck(domain.planned_end_task_waits(session, now), domain.settled(session))


def ensure_counted(uid: str, session_id: str, now: datetime) -> list[SessionCompleted]:
    """Count the session (with the person's other uncounted recent ones) if it is not counted
    yet, or else return its event if it never reached hours saved; the events to publish."""
    try:
        counted = count_completed(uid, session_id, now, attempts=FIRST_ATTEMPTS)
    except store.Contention:
        counted = count_in_turn(uid, session_id, now)
    if counted:
        return counted
    again = uncontributed(uid, session_id)
    return [again] if again is not None else []


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
            owner = owner_of(snapshot)
            if owner is None:
                continue
            stage = domain.stored_counting_stage(snapshot.to_dict() or {})
            if stage is not CountingStage.DONE:
                yield owner, snapshot.id
        if len(page) < SWEEP_PAGE:
            return
        after = page[-1]


@tracing.traced("firestore.sessions.overdue_active")
def overdue_active(since: datetime, until: datetime) -> Iterator[tuple[str, str]]:
    """(uid, session id) of sessions still active whose planned end lies between ``since`` and
    ``until``: their planned-end task never completed them (dropped after its retries, or run
    by hand too early). Completing one takes it out of this query, so only stragglers cost reads."""
    after = None
    while True:
        page = store.query(
            OVERDUE_ACTIVE,
            None,
            [SessionStatus.ACTIVE.value, since, until],
            limit=SWEEP_PAGE,
            start_after=after,
        )
        for snapshot in page:
            owner = owner_of(snapshot)
            if owner is not None:
                yield owner, snapshot.id
        if len(page) < SWEEP_PAGE:
            return
        after = page[-1]


def owner_of(snapshot: Any) -> str | None:
    """The uid owning a session (or a day: any ``users/{uid}/...`` document) found by a
    collection-group query; None for a collection of that name somewhere else."""
    owner = snapshot.reference.parent.parent
    if owner is None or owner.parent.id != paths.USERS:
        return None
    return str(owner.id)


def _completion(uid: str, session_id: str, session: FocusSession, minutes: int) -> SessionCompleted:
    return SessionCompleted(
        user_id=uid,
        session_id=session_id,
        focused_minutes=minutes,
        completed_at=session.finished_at,
    )

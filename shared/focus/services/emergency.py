"""Using the emergency pass: one transaction over the profile, sessions, limits and locks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from google.cloud import firestore as gcf
from pydantic import ValidationError

from focus.adapters import clients, logs, paths, store, tracing, turns
from focus.domain import emergency, sessions
from focus.domain.analytics_events import EventName
from focus.domain.blocks import Block, BlockKind
from focus.domain.errors import FailedPrecondition, Reason
from focus.services import analytics, profiles
from focus.services.sessions import MAX_ACTIVE, active_ids

if TYPE_CHECKING:
    from focus.contracts.envelope import ClientInfo

BLOCKS_OF_KINDS = store.QuerySpec("blocks of kinds", paths.BLOCKS, filters=(("kind", "in"),))
SUSPENDABLE = [BlockKind.TIME_LIMIT.value, BlockKind.APP_LOCK.value]
ACTIVE = sessions.SessionStatus.ACTIVE.value
# Limits and locks suspended per transaction. The pass's own transaction also writes the profile
# and up to MAX_ACTIVE sessions: 1 + 50 + 150 stays far under Firestore's 500 writes. The block cap
# (100, focus.domain.blocks) keeps every person within the first page; an account that piled up
# more before the cap existed (or in the moments before its trigger ran) gets the rest in further
# transactions of a page each.
BLOCKS_PER_PAGE = 150
assert 1 + MAX_ACTIVE + BLOCKS_PER_PAGE <= 500
# The person's turn to use the pass (focus.adapters.turns): a device that pressed the button with
# another waits this long for the other's transaction, then finds the pass used. A turn left by a
# crashed call lasts a minute; until then the others answer CONTENTION and the app retries.
PASS_TURN = timedelta(seconds=60)
PASS_TURN_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class PassUsed:
    sessions_ended: list[str]
    blocks_suspended: list[str]
    suspended_until: datetime
    next_available_at: datetime


@tracing.traced("firestore.emergency.use_pass")
def use_pass(uid: str, now: datetime, client: ClientInfo | None = None) -> PassUsed:
    """End every active session and suspend every limit and lock until the local day ends.

    The profile holds the pass, so two devices using it at the same moment contend on one
    document. They take the person's pass turn first (``turns.taken``), so their transactions
    run one after another instead of aborting each other; the second finds the pass used.

    The local day is the one the boundary in effect draws: a settings change (day-start hour,
    timezone) is observed here too, in the same transaction, so a change made a moment ago is
    pending and cannot stretch the suspension (focus.domain.local_days).
    """
    db = clients.firestore()
    profile_ref = db.document(paths.user(uid))
    uses: list[int] = []  # the pass's use number, as the committed attempt counted it
    consent: list[bool | None] = [None]  # the analytics consent, as the profile mirrors it

    def run(
        tx: gcf.Transaction, session_refs: list[Any], first_page: list[Any]
    ) -> tuple[PassUsed, Any]:
        """``session_refs``, ``first_page``: the active sessions and the first page of limits
        and locks, as found before the transaction."""
        uses.clear()
        block_refs = [snap.reference for snap in first_page]
        snapshot, *found = store.get_all([profile_ref, *session_refs, *block_refs], tx)
        if not snapshot.exists:
            raise FailedPrecondition(
                "Open the app once before using the emergency pass.",
                reason=Reason.PROFILE_MISSING,
            )
        profile = profiles.read(uid, snapshot.to_dict())
        consent[0] = profile.analytics_consent
        used = emergency.use_pass(
            profile.emergency_pass, profile.boundary_record(), profile.settings.day_boundary(), now
        )
        running = [s.id for s in found[: len(session_refs)] if _still(s, "status", {ACTIVE})]
        limits = [s for s in found[len(session_refs) :] if _still(s, "kind", set(SUSPENDABLE))]
        out = store.writes(tx)
        changes: dict[str, Any] = {"emergencyPass": used.emergency_pass.to_firestore()}
        if used.day_boundary != profile.day_boundary:
            changes["dayBoundary"] = used.day_boundary.to_firestore()
        out.update(profile_ref, changes)
        uses.append(used.emergency_pass.times_used)
        for session_id in running:
            out.update(
                db.document(paths.session(uid, session_id)), sessions.emergency_end_fields(now)
            )
        answer = PassUsed(
            sessions_ended=running,
            blocks_suspended=_suspend(uid, limits, used.suspended_until, now, out),
            suspended_until=used.suspended_until,
            next_available_at=used.next_available_at,
        )
        return answer, _next_page_after(first_page)

    turn = db.document(paths.emergency_pass_turn(uid))
    with turns.taken(turn, now, PASS_TURN, wait_seconds=PASS_TURN_WAIT_SECONDS):
        # Found outside the transaction and read in it by reference, as sessions.count_completed
        # does: a query in a transaction locks the range of the person's sessions (and blocks)
        # against every write to it, and under load the pass kept timing out on those locks. A
        # session started in between is not ended, as if it had started a moment after the pass.
        running = [db.document(paths.session(uid, s)) for s in active_ids(uid)]
        page = _page(profile_ref, None, None)
        answer, after = store.transactional(
            lambda tx: run(tx, running, page), name="emergency.use_pass"
        )
    # The n-th use of the person's pass is one fact (a replayed call answers from its key).
    analytics.record(
        uid,
        EventName.EMERGENCY_PASS_USED,
        (str(uses[0]),),
        None,
        now,
        client,
        create_key=True,
        consent=consent[0],
    )
    while after is not None:
        # Only for an account over the block cap: the pass is used; the rest, a page at a time.
        suspended, after = _suspend_rest(uid, profile_ref, answer.suspended_until, now, after)
        answer.blocks_suspended.extend(suspended)
    return answer


def _still(snapshot: Any, field: str, values: set[str]) -> bool:
    """Whether a document found before the transaction still exists with ``field`` in ``values``
    as the transaction reads it (ended, deleted or changed in between: left alone)."""
    return bool(snapshot.exists and (snapshot.to_dict() or {}).get(field) in values)


def _page(profile_ref: Any, tx: gcf.Transaction | None, after: Any) -> list[Any]:
    """One page of the person's limits and locks, in document order, after ``after``."""
    return store.query(
        BLOCKS_OF_KINDS,
        profile_ref,
        [SUSPENDABLE],
        limit=BLOCKS_PER_PAGE,
        start_after=after,
        transaction=tx,
    )


def _next_page_after(page: list[Any]) -> Any:
    """Where the next page starts, or None when this one was the last."""
    return page[-1] if len(page) == BLOCKS_PER_PAGE else None


def _suspend(
    uid: str, page: list[Any], until: datetime, now: datetime, out: store.Writes
) -> list[str]:
    """Suspend the limits and locks of ``page`` that apply now; their ids."""
    suspended = []
    for snap in page:
        if _applies_at(uid, snap, now):
            out.update(snap.reference, {"suspendedUntil": until})
            suspended.append(snap.id)
    return suspended


def _suspend_rest(
    uid: str, profile_ref: Any, until: datetime, now: datetime, after: Any
) -> tuple[list[str], Any]:
    """The page after ``after``, in its own transaction: the ids suspended, the next start."""

    def run(tx: gcf.Transaction) -> tuple[list[str], Any]:
        page = _page(profile_ref, tx, after)
        return _suspend(uid, page, until, now, store.writes(tx)), _next_page_after(page)

    return store.transactional(run, name="emergency.suspend_rest")


def _applies_at(uid: str, snapshot: Any, now: datetime) -> bool:
    """Whether a limit or lock applies now; one that cannot be read is suspended too (the pass
    exists to get the person out, and a suspension ends with the local day anyway)."""
    try:
        return Block.model_validate(snapshot.to_dict()).applies_at(now)
    except ValidationError as exc:
        logs.get_logger().warning(
            "malformed block suspended by the emergency pass",
            owner=logs.pseudonymous_user_id(uid),
            block=snapshot.id,
            errorCount=exc.error_count(),
        )
        return True

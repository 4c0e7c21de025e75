"""Using the emergency pass: one transaction over the profile, sessions, limits and locks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore as gcf
from pydantic import ValidationError

from focus.domain import emergency, sessions
from focus.domain.blocks import Block, BlockKind
from focus.domain.errors import FailedPrecondition
from focus.platform import clients, logs, store, tracing
from focus.platform.repositories import paths, profiles
from focus.platform.repositories.sessions import active_ids

BLOCKS_OF_KINDS = store.QuerySpec("blocks of kinds", paths.BLOCKS, filters=(("kind", "in"),))
SUSPENDABLE = [BlockKind.TIME_LIMIT.value, BlockKind.APP_LOCK.value]


@dataclass(frozen=True)
class PassUsed:
    sessions_ended: list[str]
    blocks_suspended: list[str]
    suspended_until: datetime
    next_available_at: datetime


@tracing.traced("firestore.emergency.use_pass")
def use_pass(uid: str, now: datetime) -> PassUsed:
    """End every active session and suspend every limit and lock until the local day ends.

    The profile holds the pass, so two devices using it at the same moment contend on one
    document: Firestore serialises the two transactions and the second finds the pass used.
    """
    db = clients.firestore()
    profile_ref = db.document(paths.user(uid))

    @gcf.transactional
    def run(tx: gcf.Transaction) -> PassUsed:
        snapshot = store.get(profile_ref, tx)
        if not snapshot.exists:
            raise FailedPrecondition(
                "Open the app once before using the emergency pass.",
                details={"reason": "PROFILE_MISSING"},
            )
        profile = profiles.read(uid, snapshot.to_dict())
        used = emergency.use(profile.emergency_pass, now)
        running = active_ids(uid, tx)
        limits = store.query(BLOCKS_OF_KINDS, profile_ref, [SUSPENDABLE], transaction=tx)
        until = emergency.end_of_local_day(
            now, profile.settings.timezone, profile.settings.day_start_hour
        )
        out = store.writes(tx)
        out.update(profile_ref, {"emergencyPass": used.to_firestore()})
        for session_id in running:
            out.update(
                db.document(paths.session(uid, session_id)), sessions.emergency_end_fields(now)
            )
        suspended = []
        for snap in limits:
            if _applies_at(uid, snap, now):
                out.update(snap.reference, {"suspendedUntil": until})
                suspended.append(snap.id)
        return PassUsed(
            sessions_ended=running,
            blocks_suspended=suspended,
            suspended_until=until,
            next_available_at=now + emergency.PASS_PERIOD,
        )

    return run(db.transaction())  # type: ignore[no-any-return]


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

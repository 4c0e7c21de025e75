"""Leases on job records: one delivery of a stepped task works on a job at a time.

Task queues deliver at least once, and a second delivery can run while the first is still at
work (two deliveries of one erasure once both did everything and counted it twice). A task that
works in steps (erasure, export) therefore takes the lease on its job record first: the field
``lease = {holder, until}``, ``holder`` a random id per delivery. While another holder's lease
runs, the delivery raises ``LeaseHeld``: the task fails and the queue retries it later, when the
job is finished (a no-op) or its holder died and the lease expired. Failing rather than exiting
matters: a holder killed mid-step is retried by the queue with a new holder id, and that retry
must not give up while the dead holder's lease runs out.

Each step checks the lease in the transaction that writes the step (``hold``) and renews it, so
a holder that stalled past its lease and was replaced writes nothing more (the lease is also a
fencing token).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from focus.adapters import logs, store
from focus.adapters.messaging import RetryLater

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference, DocumentSnapshot, Transaction

FIELD = "lease"


class LeaseHeld(RetryLater):
    """Another delivery holds the job's lease; retry later (the task queue does)."""


def new_holder() -> str:
    return uuid.uuid4().hex


def hold(
    snapshot: DocumentSnapshot[Any], holder: str, now: datetime, ttl: timedelta
) -> dict[str, Any]:
    """Within a transaction that read the job record ``snapshot``: raise ``LeaseHeld`` unless the
    lease is free, expired or ``holder``'s; else the update that gives it to ``holder`` until
    ``now + ttl``, to be written in the same transaction."""
    lease = (snapshot.to_dict() or {}).get(FIELD) or {}
    other, until = lease.get("holder"), lease.get("until")
    if other is not None and other != holder and until is not None and until > now:
        # The job's collection only: its path holds the person's uid, which logs never do.
        collection = snapshot.reference.parent.id
        logs.get_logger().warning("job leased by another delivery", job=collection)
        raise LeaseHeld(f"a {collection} job is leased by another delivery until {until}")
    return {FIELD: {"holder": holder, "until": now + ttl}}


def acquire(
    ref: DocumentReference, holder: str, now: datetime, ttl: timedelta
) -> DocumentSnapshot[Any] | None:
    """Take the lease on ``ref`` for ``holder``: the job record as read when taking it, or None
    when it does not exist (the job is finished or was never started: nothing to do)."""

    def run(tx: Transaction) -> DocumentSnapshot[Any] | None:
        snapshot = store.get(ref, tx)
        if not snapshot.exists:
            return None
        store.writes(tx).update(ref, hold(snapshot, holder, now, ttl))
        return snapshot

    return store.transactional(run, name="leases.acquire")


def release(ref: DocumentReference, holder: str) -> None:
    """Give the lease up, if ``holder`` still has it and the job record still exists, so the next
    step's task starts at once instead of failing until the lease expires."""
    from google.cloud import firestore as gcf

    def run(tx: Transaction) -> None:
        snapshot = store.get(ref, tx)
        lease = ((snapshot.to_dict() or {}).get(FIELD) or {}) if snapshot.exists else {}
        if lease.get("holder") == holder:
            store.writes(tx).update(ref, {FIELD: gcf.DELETE_FIELD})

    store.transactional(run, name="leases.release")

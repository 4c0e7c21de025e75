"""Turns: one at a time, per person, for work whose transactions would lock each other out.

Firestore serialises transactions on one document, but a burst of them does not queue politely:
each reads, each waits for the others' locks, and on the emulator (and at times in production)
they abort one another on every attempt. Three devices using the emergency pass at the same
moment did exactly that under load (docs/performance.md, "Load"). The work therefore first takes
the person's turn: a create-only document ``users/{uid}/turns/{name}``. Taking it is one write
with no transaction and no lock wait, and only one caller can create it; the others wait for it
(``wait_seconds``) or give up at once, and raise ``TurnHeld``.

A turn is about throughput, never correctness: the work still runs in its own transaction. A
holder that crashed leaves its turn until ``until`` (the document's TTL removes it later); a
holder that stalled past ``until`` may find another at work beside it, and Firestore serialises
the two as before. The holder gives the turn back fenced by the time it took it, so a late holder
never removes its successor's turn.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from focus.adapters import store

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference

POLL_SECONDS = 0.2


class TurnHeld(store.Contention):
    """Someone else holds the person's turn for this work (and kept it for the whole wait).

    A kind of contention: a callable answers it ABORTED ``CONTENTION`` with ``retryAfterSeconds``,
    as it answers a transaction that kept aborting."""

    def __init__(self, name: str, polls: int) -> None:
        super().__init__(name, polls)
        self.args = (f"the {name} turn is held by another caller",)


@contextmanager
def taken(
    ref: DocumentReference, now: datetime, ttl: timedelta, *, wait_seconds: float = 0.0
) -> Iterator[None]:
    """Hold the turn ``ref`` while the block runs, then give it back.

    Raises ``TurnHeld`` if another holder keeps it beyond ``wait_seconds`` (at once, by default).
    ``now`` is the server's time of the request: a turn whose ``until`` has passed by then was
    left by a crashed holder and is replaced."""
    deadline = time.monotonic() + wait_seconds
    polls = 0
    while (taken_at := _take(ref, now, ttl)) is None:
        polls += 1
        if time.monotonic() >= deadline:
            raise TurnHeld(ref.id, polls)
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        _give_back(ref, taken_at)


def _take(ref: DocumentReference, now: datetime, ttl: timedelta) -> Any | None:
    """Create the turn; its update time, or None while another holder's turn runs."""
    from google.api_core import exceptions

    turn = {"until": now + ttl, "expireAt": now + ttl}
    try:
        return store.create_now(ref, turn)
    except (exceptions.AlreadyExists, exceptions.Conflict):
        pass
    held = store.get(ref)
    until = (held.to_dict() or {}).get("until") if held.exists else None
    if until is not None and until > now:
        return None
    try:  # gone since, or expired: take it, unless another caller just did
        if held.exists:
            store.delete_now(ref, last_update_time=held.update_time)
        return store.create_now(ref, turn)
    except (exceptions.AlreadyExists, exceptions.Conflict, exceptions.FailedPrecondition):
        return None


def _give_back(ref: DocumentReference, taken_at: Any) -> None:
    """Delete the turn if it is still the one taken at ``taken_at`` (an expired turn may have
    passed to another holder since)."""
    from google.api_core import exceptions

    with suppress(exceptions.FailedPrecondition, exceptions.NotFound):
        store.delete_now(ref, last_update_time=taken_at)

"""Idempotency keys: a retried mutating call returns the first answer and applies nothing twice.

The app sends a fresh key (a UUID) with each mutating call and the same key when it retries.
``users/{uid}/idempotency/{key}`` records the call: claimed (``pending``) before the work, then
the answer (``done``: the response or the typed error). A retry that finds ``done`` gets the
stored answer; one that races the original finds ``pending`` and waits for it. A key reused for a
different request is refused. Records expire after a day (TTL on ``expireAt``).

A claim left ``pending`` by a crashed instance is taken over after ``STALE_AFTER``; the domain
operations behind mutating calls are themselves idempotent (merge by ``asOf``, the pass's
weekly check), so a takeover cannot apply a change twice either.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore as gcf

from focus.adapters import clients, paths, store
from focus.domain.errors import Aborted, InvalidArgument, Reason

RETENTION = timedelta(days=1)
STALE_AFTER = timedelta(seconds=60)
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class StoredAnswer:
    response: dict[str, Any] | None
    error: dict[str, Any] | None  # {"code", "message", "details"}


def request_hash(callable_name: str, payload: Any) -> str:
    canonical = json.dumps(
        [callable_name, payload], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _ref(uid: str, key: str) -> gcf.DocumentReference:
    return clients.firestore().document(paths.idempotency_record(uid, key))


def claim(uid: str, key: str, fingerprint: str, now: datetime) -> StoredAnswer | None:
    """Claim ``key`` for this call (None: go ahead) or return the first call's stored answer."""
    from google.api_core import exceptions

    ref = _ref(uid, key)
    pending = {
        "state": "pending",
        "requestHash": fingerprint,
        "claimedAt": now,
        "expireAt": now + RETENTION,
    }
    try:
        # A fresh key (nearly every call) is claimed by one create: one write, no read. Only a
        # key that exists (a retry, a race, a stale claim) needs the transaction below.
        store.create_now(ref, pending)
        return None
    except (exceptions.AlreadyExists, exceptions.Conflict):
        pass
    deadline = time.monotonic() + WAIT_SECONDS

    def attempt(tx: gcf.Transaction) -> StoredAnswer | str | None:
        snapshot = store.get(ref, tx)
        record = (snapshot.to_dict() or {}) if snapshot.exists else None
        if record is not None and record["requestHash"] != fingerprint:
            raise InvalidArgument.at(
                "idempotencyKey",
                "This idempotency key was already used for a different request.",
                reason=Reason.IDEMPOTENCY_KEY_REUSED,
            )
        if record is not None and record["state"] == "done":
            return StoredAnswer(record.get("response"), record.get("error"))
        if record is not None and now - record["claimedAt"] < STALE_AFTER:
            return "pending"
        store.writes(tx).set(ref, pending)
        return None

    while True:
        outcome = store.transactional(attempt, name="idempotency.claim")
        if not isinstance(outcome, str):
            return outcome
        if time.monotonic() > deadline:
            raise Aborted(
                "The same request is still being processed; retry shortly.",
                reason=Reason.REQUEST_IN_PROGRESS,
            )
        time.sleep(POLL_SECONDS * random.uniform(0.5, 1.5))  # jitter: waiters do not poll in step


def record(uid: str, key: str, answer: StoredAnswer) -> None:
    """Store the answer to return to every retry of this key."""
    store.set_now(
        _ref(uid, key),
        {"state": "done", "response": answer.response, "error": answer.error},
        merge=True,
    )


def release(uid: str, key: str) -> None:
    """Forget a claim whose call failed unexpectedly, so a retry runs it again."""
    store.usage().writes += 1
    _ref(uid, key).delete()

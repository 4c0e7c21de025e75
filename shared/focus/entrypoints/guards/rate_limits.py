"""Per-user, per-callable rate limits, kept in the user's own documents (never a hot document).

``users/{uid}/rateLimits/{callable}`` holds a fixed one-minute window: its start and a count.
One person's calls touch only their own document, far below Firestore's ~1 write/s per document
limit for any legitimate use; a client hammering it is answered RESOURCE_EXHAUSTED.

No transaction: the window is read, then counted with a field increment. Every call of a
person to a callable goes through this one document, so a read-modify-write transaction made
concurrent calls (several devices uploading at once) abort one another here, before their own
work even began (scripts/bench-contention: most of 20 concurrent uploads aborted 8 times on the
window alone). Increments never conflict. The price is precision under a burst: calls that read
the window at the same moment may together pass the limit by their number, and calls that start
a new window at once may leave a few uncounted; a limit against abuse can afford both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from google.cloud import firestore as gcf

from focus.adapters import clients, paths, store
from focus.domain.errors import Reason, ResourceExhausted

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference, DocumentSnapshot

WINDOW = timedelta(minutes=1)
RETENTION = timedelta(days=1)  # TTL: a window is useless after it ends


def consume(
    uid: str,
    callable_name: str,
    per_minute: int,
    now: datetime,
    *,
    unless: DocumentReference | None = None,
) -> DocumentSnapshot[Any] | None:
    """Count one call; RESOURCE_EXHAUSTED (with when to retry) once the window's limit is used.

    ``unless``: a document read in the same round trip as the window (one more billed read, no
    more latency); if it exists, nothing is counted or written and its snapshot is returned (the
    envelope passes the erasure tombstone: an erased person's calls write nothing; a call
    racing the erasure's start may still write, and the erasure's sweep removes that).
    """
    db = clients.firestore()
    ref = db.document(paths.rate_limit(uid, callable_name))

    if unless is None:
        snapshot = store.get(ref)
    else:
        snapshot, marker = store.get_all([ref, unless])
        if marker.exists:
            return marker
    data = (snapshot.to_dict() or {}) if snapshot.exists else {}
    start = data.get("windowStart")
    if start is None or now - start >= WINDOW:
        store.set_now(ref, {"windowStart": now, "count": 1, "expireAt": now + RETENTION})
        return None
    if int(data.get("count", 0)) >= per_minute:
        retry = max(1, int((start + WINDOW - now).total_seconds()))
        raise ResourceExhausted(
            "Too many requests; slow down.",
            reason=Reason.RATE_LIMITED,
            details={"retryAfterSeconds": retry},
        )
    store.set_now(ref, {"count": gcf.Increment(1), "expireAt": now + RETENTION}, merge=True)
    return None

"""Per-user, per-callable rate limits, kept in the user's own documents (never a hot document).

``users/{uid}/rateLimits/{callable}`` holds a fixed one-minute window: its start and a count.
One person's calls touch only their own document, far below Firestore's ~1 write/s per document
limit for any legitimate use; a client hammering it is answered RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from google.cloud import firestore as gcf

from focus.domain.errors import ResourceExhausted
from focus.platform import clients, store
from focus.platform.repositories import paths

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
    envelope passes the erasure tombstone: an erased person's calls write nothing).
    """
    db = clients.firestore()
    ref = db.document(f"{paths.user(uid)}/{paths.RATE_LIMITS}/{callable_name}")

    @gcf.transactional
    def run(tx: gcf.Transaction) -> DocumentSnapshot[Any] | None:
        if unless is None:
            snapshot = store.get(ref, tx)
        else:
            snapshot, marker = store.get_all([ref, unless], tx)
            if marker.exists:
                return marker
        data = (snapshot.to_dict() or {}) if snapshot.exists else {}
        start = data.get("windowStart")
        if start is None or now - start >= WINDOW:
            start, count = now, 0
        else:
            count = int(data.get("count", 0))
        if count >= per_minute:
            retry = max(1, int((start + WINDOW - now).total_seconds()))
            raise ResourceExhausted(
                "Too many requests; slow down.",
                details={"reason": "RATE_LIMITED", "retryAfterSeconds": retry},
            )
        store.writes(tx).set(
            ref, {"windowStart": start, "count": count + 1, "expireAt": now + RETENTION}
        )
        return None

    return run(db.transaction())  # type: ignore[no-any-return]

"""Erasing an account (GDPR art. 17; Apple 5.1.1(v)), in resumable steps.

``request`` records the erasure in ``erasures/{erasureId}`` (the id is the keyed pseudonym of
the uid, so asking twice starts one erasure). ``run_step`` then deletes the person's documents
deepest first, a batch at a time; each batch deletes its documents *and* records the progress in
one atomic write, so a crash between batches loses nothing and repeats nothing. When nothing is
left under ``users/{uid}``, external sinks are erased, refresh tokens revoked and the Auth user
deleted last; a pseudonymous audit record (times and counts, no personal data) replaces the
progress document. Anonymous aggregates (hours saved, the community histogram) keep their totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore as gcf

from focus.platform import clients, logs, store, tracing
from focus.privacy.registry import REGISTRY

ERASURES = "erasures"
AUDIT = "erasureAudit"
PROGRESS_RETENTION = timedelta(days=30)
AUDIT_RETENTION = timedelta(days=3 * 365)
MAX_BATCH = 400  # below Firestore's 500 writes per batch, leaving room for the progress write

# Sinks outside Firestore and Auth (e.g. the analytics export) register an eraser here.
EXTERNAL_ERASERS: list[Callable[[str], None]] = []
_REGISTERED = {entry.collection for entry in REGISTRY if entry.user_scoped}


@tracing.traced("firestore.erasure.erasure_id")
def erasure_id(uid: str) -> str:
    return logs.pseudonymous_user_id(uid)


@dataclass(frozen=True)
class StepResult:
    erasure_id: str
    done: bool
    deleted: int


@tracing.traced("firestore.erasure.request")
def request(uid: str, now: datetime, via: str) -> tuple[str, bool]:
    """Record that ``uid`` asked to be erased; (erasure id, whether this call started it)."""
    db = clients.firestore()
    eid = erasure_id(uid)
    ref = db.document(f"{ERASURES}/{eid}")

    @gcf.transactional
    def run(tx: gcf.Transaction) -> bool:
        if store.get(ref, tx).exists:
            return False
        store.writes(tx).create(
            ref,
            {
                "uid": uid,
                "via": via,
                "state": "erasing",
                "requestedAt": now,
                "deleted": {},
                "expireAt": now + PROGRESS_RETENTION,
            },
        )
        return True

    return eid, run(db.transaction())


def _documents(parent: Any, page_size: int) -> Iterator[Any]:
    """Every document under ``parent`` (also ones existing only as parents of subcollections),
    each after its own descendants; lazily, so a caller can stop after a batch."""
    for collection in parent.collections():
        for ref in collection.list_documents(page_size=page_size):
            store.usage().reads += 1  # listing is billed like a read
            yield from _documents(ref, page_size)
            yield ref


@tracing.traced("firestore.erasure.run_step")
def run_step(eid: str, now: datetime, batch_size: int = MAX_BATCH) -> StepResult:
    """Delete one batch of the person's documents, or finish the erasure if none are left."""
    db = clients.firestore()
    progress_ref = db.document(f"{ERASURES}/{eid}")
    progress = store.get(progress_ref)
    if not progress.exists:
        return StepResult(eid, True, 0)  # finished earlier: a redelivered task does nothing
    uid = progress.get("uid")
    user_ref = db.document(f"users/{uid}")
    batch_size = max(1, min(batch_size, MAX_BATCH))

    refs = []
    for ref in _documents(user_ref, batch_size):
        refs.append(ref)
        if len(refs) >= batch_size:
            break
    if refs:
        counts: dict[str, Any] = {}
        for ref in refs:
            collection = ref.parent.id
            if collection not in _REGISTERED:
                logs.get_logger().warning(
                    "erasing an unregistered collection", collection=collection
                )
            counts[f"deleted.{collection}"] = counts.get(f"deleted.{collection}", 0) + 1
        batch = db.batch()
        out = store.writes(batch)
        for ref in refs:
            out.delete(ref)
        out.update(
            progress_ref, {k: gcf.Increment(v) for k, v in counts.items()} | {"updatedAt": now}
        )
        batch.commit()
        return StepResult(eid, False, len(refs))
    _finish(uid, eid, progress.to_dict() or {}, now)
    return StepResult(eid, True, 0)


def _finish(uid: str, eid: str, progress: dict[str, Any], now: datetime) -> None:
    from firebase_admin import auth

    db = clients.firestore()
    for erase in EXTERNAL_ERASERS:
        erase(uid)
    app = clients.firebase_app()
    try:
        auth.revoke_refresh_tokens(uid, app=app)
        auth.delete_user(uid, app=app)
    except auth.UserNotFoundError:
        pass  # deleted by an earlier attempt that crashed before the audit record
    deleted = dict(progress.get("deleted") or {})
    deleted["users"] = 1
    batch = db.batch()
    out = store.writes(batch)
    out.delete(db.document(f"users/{uid}"))
    out.set(
        db.document(f"{AUDIT}/{eid}"),
        {
            "requestedAt": progress.get("requestedAt"),
            "completedAt": now,
            "via": progress.get("via"),
            "documentsDeleted": deleted,
            "authUserDeleted": True,
            "expireAt": now + AUDIT_RETENTION,
        },
    )
    out.delete(db.document(f"{ERASURES}/{eid}"))
    batch.commit()
    logs.get_logger().info("account erased", documents=sum(deleted.values()))

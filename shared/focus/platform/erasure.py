"""Erasing an account (GDPR art. 17; Apple 5.1.1(v)), in resumable steps, and for good.

``request`` records the erasure in ``erasures/{erasureId}`` (the id is the keyed pseudonym of
the uid, so asking twice starts one erasure) together with its pseudonymous record in
``erasureAudit/{erasureId}``, disables the Auth account, revokes its refresh tokens and enqueues
the ``eraseAccount`` task. ``run_step`` then deletes the person's documents deepest first, a
batch at a time; each batch deletes its documents *and* records the progress in one atomic write
(conditional on the progress it read, so two runners never count a batch twice), so a crash
between batches loses nothing and repeats nothing. When nothing is left under ``users/{uid}``,
external sinks are erased and the Auth user deleted; the audit record (times and counts, no
personal data) is completed and the progress document, the last holder of the uid, deleted.
Anonymous aggregates (hours saved, the community histogram) keep their totals.

Erasure is final:

* The audit record is the account's **tombstone**: it exists from the request on, for three
  years. Every callable reads it in the same round trip as its rate-limit window
  (``callables.py``), so a still-valid ID token of an erasing or erased person is refused
  (UNAUTHENTICATED, reason ``ACCOUNT_ERASED``) and nothing is written under its uid.
* An ID token stays valid for up to an hour after the account is disabled, and firestore.rules
  cannot see the tombstone (its id is a keyed hash). Whatever a device writes directly under
  ``users/{uid}`` meanwhile is removed by a **sweep**: the same task, enqueued for
  ``SWEEP_AFTER`` past the Auth deletion (when every token issued before it has expired) with the
  uid in its payload, deletes anything found under ``users/{uid}`` and counts it in the audit
  record (``documentsDeletedAfterErasure``, ``sweptAt``; untouched when nothing was found).
  The Tasks emulator ignores schedule times and runs the sweep at once; tests run it again.
* Asking again never restarts a finished erasure and never drops work: the answer says
  ``erasing`` or ``erased``; while erasing, the task is enqueued again (an existing task with
  that id counts as enqueued), under a new id when the erasure made no progress for
  ``STALLED_AFTER`` (its task may have exhausted its retries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from google.cloud import firestore as gcf

from focus.platform import clients, logs, messaging, store, tracing
from focus.privacy.registry import REGISTRY

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference, DocumentSnapshot

ERASURES = "erasures"
AUDIT = "erasureAudit"
ERASE_TASK = "eraseAccount"
PROGRESS_RETENTION = timedelta(days=30)
AUDIT_RETENTION = timedelta(days=3 * 365)
MAX_BATCH = 400  # below Firestore's 500 writes per batch, leaving room for the progress write
# Firebase ID tokens live one hour; past that (the Auth user being gone, none can be minted) no
# one can write as the person any more. Five minutes for clock skew and token verification.
SWEEP_AFTER = timedelta(hours=1, minutes=5)
# The task retries failures with backoff; an erasure that has not moved for this long gets a new
# task when the person (or support) asks again. Steps are safe to run twice at once.
STALLED_AFTER = timedelta(minutes=10)

State = Literal["erasing", "erased"]

# Sinks outside Firestore and Auth (e.g. the analytics export) register an eraser here.
EXTERNAL_ERASERS: list[Callable[[str], None]] = []
_REGISTERED = {entry.collection for entry in REGISTRY if entry.user_scoped}


@tracing.traced("firestore.erasure.erasure_id")
def erasure_id(uid: str) -> str:
    return logs.pseudonymous_user_id(uid)


def tombstone(uid: str) -> DocumentReference:
    """The document whose existence means ``uid`` asked to be erased (its audit record)."""
    return clients.firestore().document(f"{AUDIT}/{erasure_id(uid)}")


def state_of(marker: DocumentSnapshot[Any]) -> State | None:
    """``erasing`` / ``erased`` from the tombstone, None when the account was never erased."""
    if not marker.exists:
        return None
    return "erased" if (marker.to_dict() or {}).get("state") == "erased" else "erasing"


@dataclass(frozen=True)
class Requested:
    erasure_id: str
    started: bool  # this request started it
    state: State


@dataclass(frozen=True)
class StepResult:
    erasure_id: str
    done: bool
    deleted: int


def _task_id(eid: str, attempt: int) -> str:
    # Attempt 0 keeps the id every erasure had before restarts existed.
    if attempt == 0:
        return messaging.task_id("erase", eid)
    return messaging.task_id("erase", eid, "attempt", str(attempt))


@tracing.traced("firestore.erasure.request")
def request(uid: str, now: datetime, via: str, *, enqueue: bool = True) -> Requested:
    """Record that ``uid`` asked to be erased, lock the account out and make sure the work is
    queued. Safe to call any number of times; the answer says what is true now.

    ``enqueue=False`` records without queueing (tests use it to lose the task on purpose)."""
    db = clients.firestore()
    eid = erasure_id(uid)
    ref = db.document(f"{ERASURES}/{eid}")
    audit_ref = db.document(f"{AUDIT}/{eid}")

    @gcf.transactional
    def run(tx: gcf.Transaction) -> tuple[Requested, int | None]:
        progress, audit = store.get_all([ref, audit_ref], tx)
        out = store.writes(tx)
        if progress.exists:
            data = progress.to_dict() or {}
            attempt = int(data.get("attempt", 0))
            if not audit.exists:  # an erasure requested before tombstones existed
                out.set(audit_ref, _audit_start(data["requestedAt"], data.get("via"), now))
            moved = data.get("updatedAt") or data["requestedAt"]
            if now - moved >= STALLED_AFTER:
                attempt += 1
                out.update(ref, {"attempt": attempt, "updatedAt": now})
            return Requested(eid, False, "erasing"), attempt
        if state_of(audit) == "erased":
            return Requested(eid, False, "erased"), None  # finished: never restarted
        requested_at = (audit.to_dict() or {}).get("requestedAt", now) if audit.exists else now
        out.create(
            ref,
            {
                "uid": uid,
                "via": via,
                "state": "erasing",
                "requestedAt": requested_at,
                "updatedAt": now,
                "attempt": 0,
                "deleted": {},
                "expireAt": now + PROGRESS_RETENTION,
            },
        )
        if not audit.exists:
            out.create(audit_ref, _audit_start(now, via, now))
        return Requested(eid, not audit.exists, "erasing"), 0

    result: tuple[Requested, int | None] = run(db.transaction())
    answer, attempt = result
    if answer.state == "erasing":
        _lock_out(uid)
    if attempt is not None and enqueue:
        # An existing task with this id counts as enqueued (it is queued or has run).
        messaging.enqueue(
            ERASE_TASK,
            {"erasureId": eid, "attempt": attempt},
            at=now,
            task_id=_task_id(eid, attempt),
        )
    return answer


def _audit_start(requested_at: datetime, via: Any, now: datetime) -> dict[str, Any]:
    return {
        "state": "erasing",
        "requestedAt": requested_at,
        "via": via,
        "expireAt": now + AUDIT_RETENTION,
    }


def _lock_out(uid: str) -> None:
    """Disable the Auth account (no sign-in, no token refresh) and revoke its refresh tokens (ID
    tokens checked for revocation, as ``web.py`` does, are refused at once)."""
    from firebase_admin import auth

    app = clients.firebase_app()
    try:
        auth.update_user(uid, disabled=True, app=app)
        auth.revoke_refresh_tokens(uid, app=app)
    except auth.UserNotFoundError:
        pass  # already deleted by the erasure, or never existed (support path)


def _documents(parent: Any, page_size: int) -> Iterator[Any]:
    """Every document under ``parent`` (also ones existing only as parents of subcollections),
    each after its own descendants; lazily, so a caller can stop after a batch."""
    for collection in parent.collections():
        for ref in collection.list_documents(page_size=page_size):
            store.usage().reads += 1  # listing is billed like a read
            yield from _documents(ref, page_size)
            yield ref


def _batch_under(user_ref: Any, batch_size: int) -> list[Any]:
    refs = []
    for ref in _documents(user_ref, batch_size):
        refs.append(ref)
        if len(refs) >= batch_size:
            break
    return refs


def _counts(refs: list[Any], field: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ref in refs:
        collection = ref.parent.id
        if collection not in _REGISTERED:
            logs.get_logger().warning("erasing an unregistered collection", collection=collection)
        counts[f"{field}.{collection}"] = counts.get(f"{field}.{collection}", 0) + 1
    return counts


@tracing.traced("firestore.erasure.run_step")
def run_step(
    eid: str, now: datetime, batch_size: int = MAX_BATCH, *, sweep_uid: str | None = None
) -> StepResult:
    """Delete one batch of the person's documents, or finish the erasure if none are left.

    With ``sweep_uid`` (the sweep task, after ``SWEEP_AFTER``): delete a batch of whatever was
    written under that erased user's id after the erasure."""
    batch_size = max(1, min(batch_size, MAX_BATCH))
    if sweep_uid is not None:
        return _sweep_step(eid, sweep_uid, now, batch_size)
    from google.api_core import exceptions

    db = clients.firestore()
    progress_ref = db.document(f"{ERASURES}/{eid}")
    progress = store.get(progress_ref)
    if not progress.exists:
        return StepResult(eid, True, 0)  # finished earlier: a redelivered task does nothing
    uid = progress.get("uid")
    refs = _batch_under(db.document(f"users/{uid}"), batch_size)
    if not refs:
        _finish(uid, eid, progress.to_dict() or {}, now)
        return StepResult(eid, True, 0)
    counts = _counts(refs, "deleted")
    batch = db.batch()
    out = store.writes(batch)
    for ref in refs:
        out.delete(ref)
    out.update(
        progress_ref,
        {k: gcf.Increment(v) for k, v in counts.items()} | {"updatedAt": now},
        # Two runners (a restarted erasure, a redelivered task) never count one batch twice:
        # the one whose progress is stale fails here and reads again.
        option=db.write_option(last_update_time=progress.update_time),
    )
    try:
        batch.commit()
    except (exceptions.FailedPrecondition, exceptions.Aborted):
        # Stale progress, or contention with a trigger still working on one of these documents
        # (ABORTED): nothing was applied; the next step reads again.
        return StepResult(eid, False, 0)
    return StepResult(eid, False, len(refs))


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
    # Queued before the progress document (the uid's last holder) goes: a crash in between
    # retries this step, and the same task id makes the second enqueue a no-op.
    messaging.enqueue(
        ERASE_TASK,
        {"erasureId": eid, "sweepUserId": uid},
        at=now + SWEEP_AFTER,
        task_id=messaging.task_id("erase", eid, "sweep"),
    )
    deleted = dict(progress.get("deleted") or {})
    deleted["users"] = 1
    batch = db.batch()
    out = store.writes(batch)
    out.delete(db.document(f"users/{uid}"))
    out.set(
        db.document(f"{AUDIT}/{eid}"),
        {
            "state": "erased",
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


def _sweep_step(eid: str, uid: str, now: datetime, batch_size: int) -> StepResult:
    db = clients.firestore()
    audit_ref = db.document(f"{AUDIT}/{eid}")
    audit = store.get(audit_ref)
    if erasure_id(uid) != eid or state_of(audit) != "erased":
        logs.get_logger().warning("sweep refused: not an erased account")
        return StepResult(eid, True, 0)
    user_ref = db.document(f"users/{uid}")
    refs = _batch_under(user_ref, batch_size)
    last = len(refs) < batch_size
    if last and store.get(user_ref).exists:
        refs.append(user_ref)  # a profile re-created after the erasure
    if not refs:
        return StepResult(eid, True, 0)  # the usual case: nothing was written after the erasure
    batch = db.batch()
    out = store.writes(batch)
    for ref in refs:
        out.delete(ref)
    counts = _counts(refs, "documentsDeletedAfterErasure")
    out.update(
        audit_ref,
        {k: gcf.Increment(v) for k, v in counts.items()} | {"sweptAt": now},
        # Two sweeps at once never count a document twice: the later one fails and reads again.
        option=db.write_option(last_update_time=audit.update_time),
    )
    from google.api_core import exceptions

    try:
        batch.commit()
    except (exceptions.FailedPrecondition, exceptions.Aborted):
        return StepResult(eid, False, 0)
    logs.get_logger().warning("documents written after erasure deleted", documents=len(refs))
    return StepResult(eid, last, len(refs))

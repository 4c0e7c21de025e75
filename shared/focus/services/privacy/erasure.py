"""Erasing an account (GDPR art. 17; Apple 5.1.1(v)), in resumable steps, and for good.

``request`` records the erasure in ``erasures/{erasureId}`` (the id is the keyed pseudonym of
the uid, so asking twice starts one erasure, also across a key rotation: ``erasure_ids``)
together with its pseudonymous record in
``erasureAudit/{erasureId}``, disables the Auth account, revokes its refresh tokens and enqueues
the ``eraseAccount`` task. ``run_step`` then deletes the person's documents deepest first, a
batch at a time; each batch is one transaction that reads the batch's documents, deletes those
that exist and adds exactly those to the progress counts, so a crash between batches loses
nothing and repeats nothing, and a document deleted by someone else meanwhile is never counted.
When nothing is left under ``users/{uid}``, external sinks are erased and the Auth user deleted;
the audit record (times and counts, no personal data) is completed and the progress document,
the last holder of the uid, deleted. Anonymous aggregates (hours saved, the community histogram)
keep their totals.

One delivery works at a time: the task holds the lease on the progress document (``leased``,
``focus.adapters.leases``) and each step checks it in its transaction; a duplicate delivery
running at the same moment fails with ``LeaseHeld`` and the queue retries it later (a no-op
once the erasure is finished).

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

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from google.cloud import firestore as gcf

from focus.adapters import clients, leases, logs, messaging, paths, store, tracing
from focus.domain.wires import Task
from focus.domain.workers import ErasureTask
from focus.services import analytics, insights, subscriptions, tolerant
from focus.services.privacy.registry import REGISTRY
from focus.services.privacy.tombstones import State, state_of

if TYPE_CHECKING:
    from google.cloud.firestore import Transaction

PROGRESS_RETENTION = timedelta(days=30)
AUDIT_RETENTION = timedelta(days=3 * 365)
MAX_BATCH = 400  # below Firestore's 500 writes per batch, leaving room for the progress write
# Firebase ID tokens live one hour; past that (the Auth user being gone, none can be minted) no
# one can write as the person any more. Five minutes for clock skew and token verification.
SWEEP_AFTER = timedelta(hours=1, minutes=5)
# The task retries failures with backoff; an erasure that has not moved for this long gets a new
# task when the person (or support) asks again. Steps are safe to run twice at once.
STALLED_AFTER = timedelta(minutes=10)
# A task works for ERASE_STEP_BUDGET_SECONDS (30 s, ``erase_for_task``) and renews the lease
# at every step; a holder that died keeps a duplicate waiting at most this long.
LEASE = timedelta(minutes=2)

# The SLO: every erasure completes within a day of its request, far inside the legal month
# (docs/operations.md). ``check_open`` measures it and restarts any erasure that stalled.
SLO = timedelta(hours=24)
OPEN_ERASURES = store.QuerySpec(
    "open erasures, oldest first", paths.ERASURES, order_by=(("requestedAt", "ASCENDING"),)
)
CHECK_PAGE = 500


@dataclass(frozen=True)
class OpenErasure:
    erasure_id: str
    age: timedelta
    restarted: bool


# Sinks outside Firestore and Auth (e.g. the analytics export) register an eraser here.
EXTERNAL_ERASERS: list[Callable[[str], None]] = []
_REGISTERED = {entry.collection for entry in REGISTRY if entry.user_scoped}


def erasure_ids(uid: str) -> tuple[str, ...]:
    """The ids an erasure of ``uid`` may have: under the current pseudonym key first, then under
    each key still held (an erasure asked for before a key rotation keeps the id it was given)."""
    return logs.pseudonyms_of(uid)


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
    candidates = erasure_ids(uid)
    # Read before anything is deleted: once the person's analytics key is gone, no one can say
    # which warehouse rows were theirs; ``_finish`` names them in ``erasure_completed``.
    analytics_person = analytics.erasure_person_id(uid)
    refs = [
        db.document(path)
        for eid in candidates
        for path in (paths.erasure(eid), paths.erasure_audit(eid))
    ]

    def run(tx: Transaction) -> tuple[Requested, int | None]:
        snapshots = store.get_all(refs, tx)
        # The erasure under whichever held key it was started with; a new one under the current.
        pairs = [snapshots[i : i + 2] for i in range(0, len(snapshots), 2)]
        found = next((n for n, pair in enumerate(pairs) if any(s.exists for s in pair)), 0)
        eid = candidates[found]
        ref, audit_ref = refs[2 * found : 2 * found + 2]
        progress, audit = pairs[found]
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
            }
            | ({"analyticsPersonId": analytics_person} if analytics_person else {}),
        )
        if not audit.exists:
            out.create(audit_ref, _audit_start(now, via, now))
        return Requested(eid, not audit.exists, "erasing"), 0

    answer, attempt = store.transactional(run, name="erasure.request")
    if answer.state == "erasing":
        _lock_out(uid)
    if attempt is not None and enqueue:
        # An existing task with this id counts as enqueued (it is queued or has run).
        messaging.enqueue(
            Task.ERASE_ACCOUNT,
            {"erasureId": answer.erasure_id, "attempt": attempt},
            at=now,
            task_id=_task_id(answer.erasure_id, attempt),
        )
    return answer


@tracing.traced("firestore.erasure.check_open")
def check_open(now: datetime) -> tuple[list[OpenErasure], dict[str, int]]:
    """Every open erasure (oldest first, a page), each logged as ``erasure open`` with its age
    (the SLO's measure, docs/operations.md). One that has not moved for ``STALLED_AFTER`` (its
    task exhausted its attempts, or was never queued) is restarted as if the person asked again,
    and an open erasure's progress is kept past its TTL: an erasure never silently gives up.
    Each erasure is its own item: one unreadable progress document never stops the others
    (the counts of such items come back with the list)."""
    run = tolerant.Isolation("check_open_erasures")
    found = []
    for snap in store.query(OPEN_ERASURES, None, limit=CHECK_PAGE):
        with run.item("erasure", None, snap.id):
            data = snap.to_dict() or {}
            requested_at, uid = data["requestedAt"], str(data["uid"])
            moved = data.get("updatedAt") or requested_at
            restarted = now - moved >= STALLED_AFTER
            if restarted:
                request(uid, now, via="check")  # requeues it with a new attempt
            if data.get("expireAt") is not None and data["expireAt"] - now < PROGRESS_RETENTION / 2:
                store.set_now(snap.reference, {"expireAt": now + PROGRESS_RETENTION}, merge=True)
            age = now - requested_at
            logs.get_logger().info(
                "erasure open",
                erasureId=snap.id,
                erasureAgeMs=int(age.total_seconds() * 1000),
                overdue=age > SLO,
                restarted=restarted,
            )
            found.append(OpenErasure(snap.id, age, restarted))
    return found, run.counts()


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


@contextmanager
def leased(eid: str, now: datetime) -> Iterator[str | None]:
    """Hold the erasure's lease for the block: the holder id to pass to ``run_step``, or None
    when no erasure is in progress (finished: a redelivered task has nothing to do). Raises
    ``leases.LeaseHeld`` while another delivery works on it; released when the block ends."""
    ref = clients.firestore().document(paths.erasure(eid))
    holder = leases.new_holder()
    if leases.acquire(ref, holder, now, LEASE) is None:
        yield None
        return
    try:
        yield holder
    finally:
        leases.release(ref, holder)  # a no-op once the erasure finished (no progress document)


@tracing.traced("firestore.erasure.run_step")
def run_step(
    eid: str,
    now: datetime,
    batch_size: int = MAX_BATCH,
    *,
    holder: str | None = None,
    sweep_uid: str | None = None,
) -> StepResult:
    """Delete one batch of the person's documents, or finish the erasure if none are left.

    ``holder``: the lease holder (``leased``); a step whose lease another delivery took over
    raises ``leases.LeaseHeld`` and writes nothing. With ``sweep_uid`` (the sweep task, after
    ``SWEEP_AFTER``): delete a batch of whatever was written under that erased user's id after
    the erasure (no lease: a sweep is one small transaction per batch)."""
    batch_size = max(1, min(batch_size, MAX_BATCH))
    if sweep_uid is not None:
        return _sweep_step(eid, sweep_uid, now, batch_size)
    if holder is None:
        raise ValueError("erasure steps run under the erasure's lease (erasure.leased)")
    db = clients.firestore()
    progress_ref = db.document(paths.erasure(eid))
    progress = store.get(progress_ref)
    if not progress.exists:
        return StepResult(eid, True, 0)  # finished earlier: a redelivered task does nothing
    uid = progress.get("uid")
    refs = _batch_under(db.document(paths.user(uid)), batch_size)
    if not refs:
        analytics_person = (progress.to_dict() or {}).get("analyticsPersonId")
        _finish(uid, eid, holder, now, analytics_person=analytics_person)
        return StepResult(eid, True, 0)

    def delete_batch(tx: Transaction) -> int:
        current, *snapshots = store.get_all([progress_ref, *refs], tx)
        if not current.exists:
            return 0  # finished meanwhile
        lease = leases.hold(current, holder, now, LEASE)
        # Only what exists now is deleted and counted: a document another runner (or the app)
        # deleted since the listing, or one existing only as a parent of a subcollection, is not.
        existing = [snap.reference for snap in snapshots if snap.exists]
        counts = _counts(existing, "deleted")
        out = store.writes(tx)
        for ref in existing:
            out.delete(ref)
        out.update(
            progress_ref,
            {k: gcf.Increment(v) for k, v in counts.items()} | {"updatedAt": now} | lease,
        )
        return len(existing)

    deleted = store.transactional(delete_batch, name="erasure.delete_batch")
    return StepResult(eid, False, deleted)


def _finish(
    uid: str, eid: str, holder: str, now: datetime, *, analytics_person: str | None = None
) -> None:
    from firebase_admin import auth

    db = clients.firestore()
    # Outside users/{uid}: the purchase token's mapping and the store subscriptions bound to the
    # person (a store notification then finds no one; the same store subscription can be
    # restored to a new account). Idempotent, like every step here.
    subscriptions.forget_account(uid)
    insights.forget(uid)  # and out of the insight batches still holding them
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
        Task.ERASE_ACCOUNT,
        {"erasureId": eid, "sweepUserId": uid},
        at=now + SWEEP_AFTER,
        task_id=messaging.task_id("erase", eid, "sweep"),
    )
    progress_ref = db.document(paths.erasure(eid))
    user_ref = db.document(paths.user(uid))

    def complete(tx: Transaction) -> dict[str, int] | None:
        progress, profile = store.get_all([progress_ref, user_ref], tx)
        if not progress.exists:
            return None  # completed by an earlier attempt
        leases.hold(progress, holder, now, LEASE)
        data = progress.to_dict() or {}
        # The counts come from the progress document read here, in the transaction that
        # completes the audit record and deletes the progress: they are recorded exactly once.
        deleted = dict(data.get("deleted") or {})
        out = store.writes(tx)
        if profile.exists:
            deleted["users"] = 1
            out.delete(user_ref)
        out.set(
            db.document(paths.erasure_audit(eid)),
            {
                "state": "erased",
                "requestedAt": data.get("requestedAt"),
                "completedAt": now,
                "via": data.get("via"),
                "documentsDeleted": deleted,
                "authUserDeleted": True,
                "expireAt": now + AUDIT_RETENTION,
            },
        )
        out.delete(progress_ref)
        return deleted

    deleted = store.transactional(complete, name="erasure.complete")
    if deleted is not None:
        logs.get_logger().info("account erased", documents=sum(deleted.values()))
        if isinstance(analytics_person, str):
            # The person's key went with users/{uid}: their rows are unlinkable from now on,
            # and this event tells the warehouse which to delete (docs/analytics.md).
            analytics.erasure_completed(analytics_person, now)


def _sweep_step(eid: str, uid: str, now: datetime, batch_size: int) -> StepResult:
    db = clients.firestore()
    audit_ref = db.document(paths.erasure_audit(eid))
    audit = store.get(audit_ref)
    if eid not in erasure_ids(uid) or state_of(audit) != "erased":
        logs.get_logger().warning("sweep refused: not an erased account")
        return StepResult(eid, True, 0)
    user_ref = db.document(paths.user(uid))
    refs = _batch_under(user_ref, batch_size)
    last = len(refs) < batch_size
    if last:
        refs.append(user_ref)  # a profile re-created after the erasure (counted if it exists)

    def delete_batch(tx: Transaction) -> int:
        snapshots = store.get_all(refs, tx)
        # Two sweeps at once never count a document twice: each counts only what exists in its
        # transaction, and the transaction deletes exactly that.
        existing = [snap.reference for snap in snapshots if snap.exists]
        if not existing:
            return 0
        out = store.writes(tx)
        for ref in existing:
            out.delete(ref)
        counts = _counts(existing, "documentsDeletedAfterErasure")
        out.update(audit_ref, {k: gcf.Increment(v) for k, v in counts.items()} | {"sweptAt": now})
        return len(existing)

    deleted = store.transactional(delete_batch, name="erasure.sweep_batch")
    if deleted:
        logs.get_logger().warning("documents written after erasure deleted", documents=deleted)
    return StepResult(eid, last, deleted)


# How long one ``eraseAccount`` task runs steps before it hands the rest to a follow-up task.
ERASE_STEP_BUDGET_SECONDS = 30.0


def erase_for_task(data: Mapping[str, Any]) -> None:
    """The ``eraseAccount`` task (its payload ``data``, ``ErasureTask``): run erasure steps for
    ``ERASE_STEP_BUDGET_SECONDS``, then re-enqueue the task for the rest, until nothing is left.
    The sweep runs without the lease; the erasure under it (``leased``)."""
    task = ErasureTask.read(data)
    batch_size = MAX_BATCH if task.batch_size is None else task.batch_size
    deadline = time.monotonic() + ERASE_STEP_BUDGET_SECONDS
    if task.sweep_uid is not None:
        # Each sweep batch is one counting transaction: no lease needed.
        next_step = _steps(task, batch_size, None, deadline)
    else:
        # A duplicate delivery running at the same moment raises LeaseHeld here: the queue
        # retries it later, when the erasure is finished (no-op) or the holder's lease expired.
        with leased(task.erasure_id, datetime.now(UTC)) as holder:
            if holder is None:
                return  # finished earlier: a redelivered task does nothing
            next_step = _steps(task, batch_size, holder, deadline)
    if next_step is None:
        return
    # Enqueued after the lease is released, so the follow-up does not wait for it to expire.
    payload, id_parts = task.follow_up(next_step, batch_size)
    messaging.enqueue(
        Task.ERASE_ACCOUNT, payload, at=datetime.now(UTC), task_id=messaging.task_id(*id_parts)
    )


def _steps(task: ErasureTask, batch_size: int, holder: str | None, deadline: float) -> int | None:
    """Run steps until the erasure is done (None) or the budget is spent (the number of the
    next step)."""
    step = task.step
    while True:
        result = run_step(
            task.erasure_id,
            datetime.now(UTC),
            batch_size,
            holder=holder,
            sweep_uid=task.sweep_uid,
        )
        step += 1
        if result.done or not task.chain:
            return None
        if time.monotonic() > deadline:
            return step


def check_and_report(now: datetime) -> None:
    """The erasure SLO's measure and backstop (``check_open``), summed up in one ``erasures
    checked`` line, which proves the check runs (an alert fires if it stops,
    docs/runbooks/erasure-overdue.md)."""
    found, counts = check_open(now)
    logs.get_logger().info(
        "erasures checked",
        open=len(found),
        overdue=sum(e.age > SLO for e in found),
        restarted=sum(e.restarted for e in found),
        **counts,
    )

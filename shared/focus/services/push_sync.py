"""Silent sync pushes: a change made on one device reaches the person's other devices.

Each device with a push token keeps its sync state on its token document
(``users/{uid}/pushTokens/{deviceId}``, field ``sync``: the sends of the last hour and the one
pending push). A change folds into every other device's pending push or starts one, due after
the coalescing window or when the device's hourly budget has room
(``focus.domain.notifications.plan_sync``); a push that starts gets its outbox entry in the same
transaction, and the entry's task sends it at its due moment (``focus.services.outbox``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from focus.adapters import clients, environment, paths, store, tracing
from focus.domain import sweep_shards
from focus.domain.devices import Platform
from focus.domain.notifications import (
    SYNC_COALESCING_WINDOW,
    DeviceSync,
    MessageKind,
    PushTarget,
    SyncChange,
    plan_sync,
)
from focus.domain.outbox import OutboxEntry, sync_entry_id

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference, DocumentSnapshot, Transaction

TOKENS = store.QuerySpec("push tokens of a person", paths.PUSH_TOKENS)
SYNC_FIELD = "sync"


@dataclass(frozen=True)
class HandOff:
    """An outbox entry written by a transaction, whose task is enqueued once it committed."""

    entry_id: str
    due_at: datetime


def coalescing_window() -> timedelta:
    seconds = environment.sync_coalescing_seconds()
    return SYNC_COALESCING_WINDOW if seconds is None else timedelta(seconds=seconds)


@tracing.traced("firestore.push_sync.devices")
def token_documents(uid: str) -> list[DocumentSnapshot[Any]]:
    """The token documents of the person's devices (one read each)."""
    profile = clients.firestore().document(paths.user(uid))
    return store.query(TOKENS, profile)


def token_refs(uid: str) -> list[DocumentReference]:
    """The person's devices with a push token. Found outside the transaction and read in it by
    reference: a query in a transaction would lock the whole collection range."""
    return [snapshot.reference for snapshot in token_documents(uid)]


def target_of(snapshot: DocumentSnapshot[Any]) -> tuple[PushTarget, DeviceSync] | None:
    """A token document as a push target and its sync state; None if it holds no usable token
    (server-written, but a document from a future version may differ: skipped, not fatal)."""
    data = snapshot.to_dict() or {}
    try:
        target = PushTarget(snapshot.id, str(data["token"]), Platform(data["platform"]))
    except (KeyError, ValueError):
        return None
    try:
        state = DeviceSync.model_validate(data.get(SYNC_FIELD) or {})
    except ValidationError:
        state = DeviceSync()  # start afresh: at worst one push more within the hour
    return target, state


def stage(
    tx: Transaction,
    uid: str,
    refs: list[DocumentReference],
    change: SyncChange,
    now: datetime,
) -> list[HandOff]:
    """Within ``tx``: fold ``change`` into the pending push of each of the person's devices (not
    the one that made it) and write an outbox entry for each push it starts; the entries to hand
    off once the transaction committed. Reads first, then stages writes."""
    devices = [
        found
        for snapshot in store.get_all(refs, tx)
        if snapshot.exists and (found := target_of(snapshot)) is not None
    ]
    window = coalescing_window()
    db = clients.firestore()
    out = store.writes(tx)
    handoffs = []
    before = {target.device_id: state for target, state in devices}
    for plan in plan_sync(devices, change, now, window):
        device_id = plan.target.device_id
        if plan.state == before[device_id]:
            continue  # a change delivered again: nothing to write
        out.update(
            db.document(paths.push_token(uid, device_id)), {SYNC_FIELD: plan.state.to_firestore()}
        )
        pending = plan.state.pending
        if not plan.schedule or pending is None:
            continue
        entry_id = sync_entry_id(device_id, pending.due_at)
        entry = OutboxEntry(
            kind=MessageKind.SYNC,
            due_at=pending.due_at,
            created_at=now,
            device_id=device_id,
            first_change_at=change.changed_at,
            budget_delayed=pending.due_at > now + window,
        )
        stored = entry.to_firestore() | sweep_shards.fields(uid)  # the outbox sweep's index
        out.set(db.document(paths.outbox_entry(uid, entry_id)), stored)
        handoffs.append(HandOff(entry_id, pending.due_at))
    return handoffs


@tracing.traced("firestore.push_sync.changed")
def changed(uid: str, change: SyncChange, now: datetime) -> list[HandOff]:
    """Record ``change`` for the person's other devices in a transaction of its own; the entries
    to hand off (``outbox.hand_off``)."""
    refs = token_refs(uid)
    if not refs:
        return []

    def run(tx: Transaction) -> list[HandOff]:
        return stage(tx, uid, refs, change, now)

    return store.transactional(run, name="push_sync.changed")

"""Silent sync pushes: a change made on one device reaches the person's other devices.

Each device with a push token keeps its sync state on its token document
(``users/{uid}/pushTokens/{deviceId}``, field ``sync``: the sends of the last hour and the one
pending push). A change folds into every other device's pending push or starts one, due after
the coalescing window or when the device's hourly budget has room
(``focus.domain.notifications.plan_sync``); a push that starts gets its outbox entry in the same
commit, and the entry's task sends it at its due moment (``focus.services.outbox``). The token
documents are found before the commit and written only if unchanged since (``stage``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

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
    from google.cloud.firestore import DocumentSnapshot

TOKENS = store.QuerySpec("push tokens of a person", paths.PUSH_TOKENS)
SYNC_FIELD = "sync"
T = TypeVar("T")


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
    out: store.Writes,
    uid: str,
    tokens: list[DocumentSnapshot[Any]],
    change: SyncChange,
    now: datetime,
) -> list[HandOff]:
    """Stage on ``out``: fold ``change`` into the pending push of each of the person's devices
    (not the one that made it) and write an outbox entry for each push it starts; the entries to
    hand off once the writes committed.

    ``tokens`` are the person's token documents as found by ``token_documents``, outside any
    transaction, and they are not read again: each device's new sync state is written only if its
    document is still as found (its update time), so a commit that meets a changed one is refused
    and ``staged`` finds the tokens again. A query in a transaction would lock the whole
    collection on the emulator (docs/adr/0012); reading the documents again by reference in the
    transaction cost a read per device per change."""
    devices = [
        (found, snapshot.update_time)
        for snapshot in tokens
        if snapshot.exists and (found := target_of(snapshot)) is not None
    ]
    window = coalescing_window()
    db = clients.firestore()
    handoffs = []
    before = {target.device_id: (state, read_at) for (target, state), read_at in devices}
    for plan in plan_sync([found for found, _ in devices], change, now, window):
        device_id = plan.target.device_id
        state, read_at = before[device_id]
        if plan.state == state:
            continue  # a change delivered again: nothing to write
        out.update(
            db.document(paths.push_token(uid, device_id)),
            {SYNC_FIELD: plan.state.to_firestore()},
            option=db.write_option(last_update_time=read_at),
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


def staged(uid: str, name: str, commit: Callable[[list[DocumentSnapshot[Any]]], T]) -> T:
    """``commit`` (it stages with ``stage`` and commits) with the person's tokens as found now;
    found again when a token document changed before the commit (``store.found_then_committed``)."""
    return store.found_then_committed(lambda: token_documents(uid), commit, name=name)


@tracing.traced("firestore.push_sync.changed")
def changed(uid: str, change: SyncChange, now: datetime) -> list[HandOff]:
    """Record ``change`` for the person's other devices in one atomic commit of its own (no
    read but finding the tokens); the entries to hand off (``outbox.hand_off``)."""

    def commit(tokens: list[DocumentSnapshot[Any]]) -> list[HandOff]:
        batch = clients.firestore().batch()
        out = store.writes(batch)
        handoffs = stage(out, uid, tokens, change, now)
        if out.staged:
            batch.commit()
        return handoffs

    return staged(uid, "push_sync.changed", commit)

"""Blocks: ``users/{uid}/blocks/{blockId}``, written by devices; the server keeps a sync marker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.cloud import firestore as gcf
from pydantic import ValidationError

from focus.adapters import clients, logs, paths, store, tracing
from focus.domain import blocks as blocks_domain
from focus.domain.analytics_events import (
    BlockChange,
    BlockChangedProperties,
    EventName,
    block_changed_fact,
)
from focus.domain.blocks import Strictness
from focus.domain.notifications import SyncChange, SyncScope
from focus.services import analytics, outbox, profiles, push_sync

ALL_BLOCKS = store.QuerySpec("blocks of a person", paths.BLOCKS)


@tracing.traced("firestore.blocks.mark_changed")
def mark_changed(uid: str, change: SyncChange, now: datetime) -> bool | None:
    """Move the profile's ``sync.blocksChangedAt`` forward to the change's moment and, in the same
    transaction, owe the person's other devices a silent sync push (``push_sync.stage``: their
    tokens are found before the transaction and written only if unchanged since); the
    person's analytics consent as the profile read mirrors it (``Profile.analytics_consent``; None
    if unknown or there is no profile).

    Taking the later of the stored and the event's time makes a duplicate or late event a no-op.
    """
    ref = clients.firestore().document(paths.user(uid))

    def commit(tokens: list[Any]) -> tuple[list[push_sync.HandOff], bool | None]:
        def run(tx: gcf.Transaction) -> tuple[list[push_sync.HandOff], bool | None]:
            snapshot = store.get(ref, tx)
            if not snapshot.exists:
                return [], None
            profile = profiles.read(uid, snapshot.to_dict())
            current = profile.sync.blocks_changed_at
            if current is not None and current >= change.changed_at:
                return [], profile.analytics_consent
            out = store.writes(tx)
            handoffs = push_sync.stage(out, uid, tokens, change, now)
            out.update(ref, {"sync.blocksChangedAt": change.changed_at})
            return handoffs, profile.analytics_consent

        return store.transactional(run, name="blocks.mark_changed")

    handoffs, consent = push_sync.staged(uid, "blocks.mark_changed", commit)
    if handoffs:
        outbox.hand_off_all(uid, handoffs)
    return consent


@tracing.traced("firestore.blocks.enforce_cap")
def enforce_cap(uid: str, block_id: str) -> bool:
    """After ``block_id`` was created: remove it if the person now holds more blocks than the
    cap allows (``focus.domain.blocks.over_cap``); True if it was removed.

    One count aggregation (one read per 1,000 blocks) per creation. Only the new block goes, so
    blocks a person already holds (hardcore ones above all) never disappear for the cap; a burst
    of creations right at the cap may remove each of them (every run counts the whole burst),
    and the app can create them again within the cap.
    """
    db = clients.firestore()
    profile_ref = db.document(paths.user(uid))
    held = store.count(ALL_BLOCKS, profile_ref)
    if not blocks_domain.over_cap(held):
        return False
    batch = db.batch()
    store.writes(batch).delete(profile_ref.collection(paths.BLOCKS).document(block_id))
    batch.commit()
    logs.get_logger().warning(
        "block over the cap removed",
        owner=logs.pseudonymous_user_id(uid),
        block=block_id,
        blocks=held,
        cap=blocks_domain.MAX_BLOCKS_PER_PERSON,
    )
    return True


def block_written(
    uid: str,
    block_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    written: datetime,
    now: datetime,
) -> None:
    """A block changed on one device (at ``written``; ``before``/``after`` None when it did not
    exist): move the sync marker the person's other devices watch and owe them a silent push; a
    new block over the per-person cap is removed (rules cannot count a collection)."""
    consent = mark_changed(uid, block_change(before, after, written), now)
    if before is None and after is not None:
        enforce_cap(uid, block_id)
    _record_change(uid, block_id, before, after, written, consent)


# Fields only the server writes (the emergency pass's suspension): not a change the person made.
_SERVER_FIELDS = frozenset({"suspendedUntil"})


def _record_change(
    uid: str,
    block_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    written: datetime,
    consent: bool | None,
) -> None:
    """The ``block_changed`` product event: the block's kind and strictness (no name, no app
    tokens), and whether it was created, updated or deleted; one per write (a redelivered trigger
    has the same write time, so the same event id). Never raises (analytics)."""
    if before is not None and after is not None:
        if {k: v for k, v in before.items() if k not in _SERVER_FIELDS} == {
            k: v for k, v in after.items() if k not in _SERVER_FIELDS
        }:
            return
        change = BlockChange.UPDATED
    else:
        change = BlockChange.CREATED if before is None else BlockChange.DELETED
    block = after if after is not None else before or {}
    try:
        properties = BlockChangedProperties(
            kind=block.get("kind"),
            strictness=block.get("strictness", Strictness.EASY.value),
            change=change,
        )
    except ValidationError:
        return  # a block no model accepts: its kind is unknown, so is the fact
    analytics.record(
        uid,
        EventName.BLOCK_CHANGED,
        block_changed_fact(block_id, written),
        properties,
        written,
        consent=consent,
    )


def block_change(
    before: dict[str, Any] | None, after: dict[str, Any] | None, written: datetime
) -> SyncChange:
    """What the other devices must re-read: strictness when it changed, the blocks otherwise;
    made by the device named in ``updatedBy`` (a deletion names none: every device hears)."""
    strictness = (before or {}).get("strictness") != (after or {}).get("strictness")
    made_by = (after or {}).get("updatedBy")
    return SyncChange(
        what=SyncScope.STRICTNESS if before and after and strictness else SyncScope.BLOCKS,
        changed_at=written,
        changed_by=made_by if isinstance(made_by, str) else None,
    )

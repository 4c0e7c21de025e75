"""Blocks: ``users/{uid}/blocks/{blockId}``, written by devices; the server keeps a sync marker."""

from __future__ import annotations

from datetime import datetime

from google.cloud import firestore as gcf

from focus.adapters import clients, logs, paths, store, tracing
from focus.domain import blocks as blocks_domain
from focus.services import profiles

ALL_BLOCKS = store.QuerySpec("blocks of a person", paths.BLOCKS)


@tracing.traced("firestore.blocks.mark_changed")
def mark_changed(uid: str, changed_at: datetime) -> bool:
    """Move the profile's ``sync.blocksChangedAt`` forward to ``changed_at``; True if it moved.

    Taking the later of the stored and the event's time makes a duplicate or late event a no-op.
    """
    db = clients.firestore()
    ref = db.document(paths.user(uid))

    def run(tx: gcf.Transaction) -> bool:
        snapshot = store.get(ref, tx)
        if not snapshot.exists:
            return False
        current = profiles.read(uid, snapshot.to_dict()).sync.blocks_changed_at
        if current is not None and current >= changed_at:
            return False
        store.writes(tx).update(ref, {"sync.blocksChangedAt": changed_at})
        return True

    return store.transactional(run, name="blocks.mark_changed")


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


def block_written(uid: str, block_id: str, written: datetime, created: bool) -> None:
    """A block changed on one device (at ``written``): move the sync marker the person's other
    devices watch; a new block over the per-person cap is removed (rules cannot count a
    collection)."""
    mark_changed(uid, written)
    if created:
        enforce_cap(uid, block_id)

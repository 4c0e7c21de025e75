"""Blocks: ``users/{uid}/blocks/{blockId}``, written by devices; the server keeps a sync marker."""

from __future__ import annotations

from datetime import datetime

from google.cloud import firestore as gcf

from focus.platform import clients, store, tracing
from focus.platform.repositories import paths, profiles


@tracing.traced("firestore.blocks.mark_changed")
def mark_changed(uid: str, changed_at: datetime) -> bool:
    """Move the profile's ``sync.blocksChangedAt`` forward to ``changed_at``; True if it moved.

    Taking the later of the stored and the event's time makes a duplicate or late event a no-op.
    """
    db = clients.firestore()
    ref = db.document(paths.user(uid))

    @gcf.transactional
    def run(tx: gcf.Transaction) -> bool:
        snapshot = store.get(ref, tx)
        if not snapshot.exists:
            return False
        current = profiles.read(uid, snapshot.to_dict()).sync.blocks_changed_at
        if current is not None and current >= changed_at:
            return False
        store.writes(tx).update(ref, {"sync.blocksChangedAt": changed_at})
        return True

    return run(db.transaction())  # type: ignore[no-any-return]

"""The erasure tombstone: ``erasureAudit/{erasureId}``, whose existence means a person asked to be
erased (focus.services.privacy.erasure writes it and explains the whole erasure).

Every callable reads it (``focus.entrypoints.callables``), so it lives apart from the erasure
machinery: reading it needs no model of analytics, insights or subscriptions at import, which
the erasure's steps do (docs/adr/0013-scale-targets-measured-against-the-stack-and-the-guarantees.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from focus.adapters import clients, logs, paths, tracing

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference, DocumentSnapshot

State = Literal["erasing", "erased"]


@tracing.traced("firestore.erasure.erasure_id")
def erasure_id(uid: str) -> str:
    return logs.pseudonymous_user_id(uid)


def tombstone(uid: str) -> DocumentReference:
    """The document whose existence means ``uid`` asked to be erased (its audit record).

    One read, under the current key: in the hour after a key switch, a still-valid token of
    someone who asked just before it is not refused here; the sweep removes what it writes
    (docs/runbooks/pseudonym-key-rotation.md)."""
    return clients.firestore().document(paths.erasure_audit(erasure_id(uid)))


def state_of(marker: DocumentSnapshot[Any]) -> State | None:
    """``erasing`` / ``erased`` from the tombstone, None when the account was never erased."""
    if not marker.exists:
        return None
    return "erased" if (marker.to_dict() or {}).get("state") == "erased" else "erasing"

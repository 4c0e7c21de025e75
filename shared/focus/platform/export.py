"""Exporting a person's data (GDPR art. 15 and 20): every exportable registry path, as one JSON
bundle the app downloads in chunks for a limited time.

The bundle lives in ``users/{uid}/exports/{exportId}/chunks/{n}`` (Firestore documents of at most
``CHUNK_CHARS`` characters, well below the 1 MiB limit) and expires with its request after
``RETENTION`` (TTL on ``expireAt``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from focus.domain.model import utc_text
from focus.platform import clients, store, tracing
from focus.privacy.registry import REGISTRY

RETENTION = timedelta(days=7)
CHUNK_CHARS = 900_000


def _ref(uid: str, export_id: str) -> Any:
    return clients.firestore().document(f"users/{uid}/exports/{export_id}")


@tracing.traced("firestore.export.request")
def request(uid: str, now: datetime) -> str:
    export_id = uuid.uuid4().hex
    store.set_now(
        _ref(uid, export_id),
        {"state": "building", "requestedAt": now, "expireAt": now + RETENTION},
    )
    return export_id


def _documents(ref: Any, parts: list[str]) -> list[Any]:
    """The documents matching a path pattern's remaining ``parts`` below ``ref``."""
    collection, rest = parts[0], parts[2:]
    docs = []
    for doc_ref in ref.collection(collection).list_documents():
        snapshot = store.get(doc_ref)
        if not rest:
            if snapshot.exists:
                docs.append(snapshot)
        else:
            docs.extend(_documents(doc_ref, rest))
    return docs


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return utc_text(value)
    return value


@tracing.traced("firestore.export.bundle")
def bundle(uid: str, now: datetime) -> dict[str, Any]:
    """Everything the registry marks exportable for ``uid``, plus the sign-in account."""
    from firebase_admin import auth

    db = clients.firestore()
    user_ref = db.document(f"users/{uid}")
    data: dict[str, Any] = {}
    for entry in REGISTRY:
        if not entry.export:
            continue
        if entry.path == "users/{uid}":
            profile = store.get(user_ref)
            data[entry.path] = _plain(profile.to_dict()) if profile.exists else None
            continue
        parts = entry.path.split("/")[2:]  # below users/{uid}
        data[entry.path] = [
            {"path": snap.reference.path.split(f"users/{uid}/", 1)[1], **_plain(snap.to_dict())}
            for snap in _documents(user_ref, parts)
        ]
    account = auth.get_user(uid, app=clients.firebase_app())
    return {
        "format": "focus-export/1",
        "exportedAt": utc_text(now),
        "account": {
            "uid": uid,
            "email": account.email,
            "displayName": account.display_name,
            "signInProviders": [p.provider_id for p in account.provider_data],
            "anonymous": not account.provider_data,
            "createdAt": account.user_metadata.creation_timestamp,
        },
        "data": data,
    }


@tracing.traced("firestore.export.build")
def build(uid: str, export_id: str, now: datetime) -> int:
    """Write the bundle's chunks and mark the export ready; the number of chunks."""
    ref = _ref(uid, export_id)
    current = store.get(ref)
    if not current.exists or current.get("state") == "ready":
        return int(current.get("chunks") or 0) if current.exists else 0
    text = json.dumps(bundle(uid, now), sort_keys=True, ensure_ascii=False)
    chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
    expire = current.get("expireAt")
    for index, chunk in enumerate(chunks):
        store.set_now(
            ref.collection("chunks").document(str(index)), {"data": chunk, "expireAt": expire}
        )
    store.set_now(
        ref,
        {"state": "ready", "chunks": len(chunks), "characters": len(text), "readyAt": now},
        merge=True,
    )
    return len(chunks)


@tracing.traced("firestore.export.read")
def read(uid: str, export_id: str, index: int) -> tuple[str, int, str | None]:
    """(state, number of chunks, chunk ``index`` or None while building)."""
    from focus.domain.errors import InvalidArgument, NotFound

    ref = _ref(uid, export_id)
    snapshot = store.get(ref)
    if not snapshot.exists:
        raise NotFound(
            "No such export (exports are kept for 7 days).",
            details={"reason": "EXPORT_NOT_FOUND"},
        )
    state, count = str(snapshot.get("state")), int((snapshot.to_dict() or {}).get("chunks") or 0)
    if state != "ready":
        return state, 0, None
    if not 0 <= index < count:
        raise InvalidArgument.at(
            "chunk", f"chunk must be between 0 and {count - 1}", reason="NO_SUCH_CHUNK"
        )
    chunk = store.get(ref.collection("chunks").document(str(index)))
    return state, count, str(chunk.get("data"))

"""Exporting a person's data (GDPR art. 15 and 20): every exportable registry path, as one JSON
bundle the app downloads in chunks for a limited time.

The bundle lives in ``users/{uid}/exports/{exportId}/chunks/{n}``; concatenating the chunks'
``data`` strings in order gives the bundle's JSON text. It expires with its request after
``RETENTION`` (TTL on ``expireAt``).

**Chunks are cut by UTF-8 bytes.** Firestore limits a document to 1 MiB (1,048,576 bytes) counted
in UTF-8 (a string field costs its UTF-8 length + 1), so a chunk holds at most ``CHUNK_BYTES`` =
900,000 bytes of text, leaving 148,576 bytes of headroom for the document name, the field names
and ``expireAt``. A cut never splits a multi-byte character (an emoji is 4 bytes): it moves back
to the character's first byte.

**Every Firestore value type is serialised** (``plain``): timestamps as RFC 3339 UTC with ``Z``,
bytes as base64 text, references as their document path (``users/u1/blocks/b1``), geo points as
``{"latitude", "longitude"}``, vectors as lists of numbers, NaN and infinities as the strings
``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (JSON has no such numbers).

**Reads come in pages**: each collection is read with queries ordered by document name,
``PAGE_SIZE`` documents per query (one round trip each), never one document per request.

**Large accounts do not monopolise the queue.** The ``buildExport`` task builds the bundle in
bounded steps: one step reads at most ``STEP_DOCUMENTS`` documents or emits at most about
``STEP_BYTES`` of text, commits its chunks together with a cursor on the export document (one
transaction), and the task re-enqueues itself for the rest. A step holds the lease on the export
document (``focus.adapters.leases``) from reading the cursor to that commit, which checks it: a
duplicate delivery running at the same moment fails with ``LeaseHeld`` (the queue retries it)
instead of building the same step again, and no step is ever written twice. Other people's exports
queued meanwhile run between two steps of a large one, so a small account waits for at most a
few steps (seconds), not for a whole large export.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from focus.adapters import clients, leases, logs, messaging, paths, store, tracing
from focus.domain.model import utc_text
from focus.domain.wires import Task
from focus.services.privacy.registry import REGISTRY

RETENTION = timedelta(days=7)
FORMAT = "focus-export/1"
DOCUMENT_LIMIT_BYTES = 1_048_576  # Firestore's maximum document size
CHUNK_BYTES = 900_000  # UTF-8 bytes of bundle text per chunk document
PAGE_SIZE = 300  # documents per query
STEP_DOCUMENTS = 2_000  # documents read per task step
STEP_BYTES = 2 * CHUNK_BYTES  # about this much bundle text per task step
LEASE = timedelta(minutes=2)  # a step takes seconds; a dead holder blocks a retry this long

EXPORTED = sorted(entry.path for entry in REGISTRY if entry.export)

# One declared query per exported collection: its documents in name order, a page at a time
# (ordering by __name__ alone needs no composite index).
PAGES = {
    collection: store.QuerySpec(
        f"export page of {collection}", collection, order_by=(("__name__", "ASCENDING"),)
    )
    for collection in sorted(
        {part for path in EXPORTED for part in path.split("/")[2::2]}  # collection ids
    )
}


def _ref(uid: str, export_id: str) -> Any:
    return clients.firestore().document(paths.export(uid, export_id))


@tracing.traced("firestore.export.request")
def request(uid: str, now: datetime) -> str:
    export_id = uuid.uuid4().hex
    store.set_now(
        _ref(uid, export_id),
        {"state": "building", "requestedAt": now, "expireAt": now + RETENTION},
    )
    return export_id


# -- values --------------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """A Firestore value as JSON: every type the database can hold has one representation."""
    from google.cloud.firestore_v1 import DocumentReference, GeoPoint
    from google.cloud.firestore_v1.vector import Vector

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, DocumentReference):
        return value.path
    if isinstance(value, GeoPoint):
        return {"latitude": value.latitude, "longitude": value.longitude}
    if isinstance(value, Vector):
        return [plain(v) for v in value]
    return str(value)  # nothing else exists today; never let an export fail on a new type


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def utf8_chunks(text: str, size: int = CHUNK_BYTES) -> list[str]:
    """``text`` cut into pieces of at most ``size`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    pieces, start = [], 0
    while start < len(data):
        end = min(start + size, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte: back off
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces


# -- reading in pages ----------------------------------------------------------------------------
def _page(parent: Any, parts: list[str], after: list[str], limit: int) -> list[Any]:
    """Up to ``limit`` documents matching the pattern ``parts`` below ``parent``, in path order,
    after the relative path ``after`` (segments; empty: from the start)."""
    collection, rest = parts[0], parts[2:]
    if not rest:
        start = parent.collection(collection).document(after[1]) if after else None
        return store.query(PAGES[collection], parent, limit=limit, start_after=start)
    found: list[Any] = []
    # The parents of a nested collection (consents) are few; listing them also finds children
    # whose parent document does not exist.
    parents = sorted(parent.collection(collection).list_documents(), key=lambda r: r.id)
    store.usage().reads += 1
    for doc in parents:
        if after and doc.id < after[1]:
            continue
        below = after[2:] if after and doc.id == after[1] else []
        found.extend(_page(doc, rest, below, limit - len(found)))
        if len(found) >= limit:
            break
    return found


def _account(uid: str) -> dict[str, Any]:
    from firebase_admin import auth

    account = auth.get_user(uid, app=clients.firebase_app())
    return {
        "uid": uid,
        "email": account.email,
        "displayName": account.display_name,
        "signInProviders": [p.provider_id for p in account.provider_data],
        "anonymous": not account.provider_data,
        "createdAt": account.user_metadata.creation_timestamp,
    }


# -- building in steps ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    done: bool
    chunks: int  # chunks written so far
    steps: int  # steps taken so far


@dataclass
class _Cursor:
    """Where the next step resumes: which exported path (index in ``EXPORTED``; -1 before the
    bundle's opening), whether its list is open, how many of its documents were written and the
    last one's path below ``users/{uid}``."""

    entry: int = -1
    opened: bool = False
    emitted: int = 0
    after: str | None = None

    @classmethod
    def of(cls, stored: Any) -> _Cursor:
        return cls(**stored) if isinstance(stored, dict) else cls()


def _emit_step(uid: str, cursor: _Cursor, now: datetime) -> tuple[list[str], bool]:
    """The next piece of bundle text from ``cursor`` (advanced in place), and whether it ends the
    bundle. Reads at most ``STEP_DOCUMENTS`` documents, stops once ``STEP_BYTES`` are emitted."""
    db = clients.firestore()
    user_ref = db.document(paths.user(uid))
    out: list[str] = []
    size = 0
    budget = STEP_DOCUMENTS

    def emit(text: str) -> None:
        nonlocal size
        out.append(text)
        size += len(text.encode("utf-8"))

    if cursor.entry < 0:
        emit('{"account": ' + _json(_account(uid)) + ', "data": {')
        cursor.entry = 0
    while cursor.entry < len(EXPORTED) and budget > 0 and size < STEP_BYTES:
        path = EXPORTED[cursor.entry]
        key = ("" if cursor.entry == 0 else ", ") + _json(path) + ": "
        if path == paths.user("{uid}"):  # the registry's pattern of the profile
            profile = store.get(user_ref)
            budget -= 1
            emit(key + _json(plain(profile.to_dict()) if profile.exists else None))
            cursor.entry += 1
            continue
        if not cursor.opened:
            emit(key + "[")
            cursor.opened = True
        limit = min(PAGE_SIZE, budget)
        after = cursor.after.split("/") if cursor.after else []
        page = _page(user_ref, path.split("/")[2:], after, limit)
        budget -= max(1, len(page))
        consumed = 0
        for snap in page:
            relative = snap.reference.path.split(f"{paths.user(uid)}/", 1)[1]
            document = {"path": relative, **plain(snap.to_dict())}
            emit((", " if cursor.emitted else "") + _json(document))
            cursor.emitted, cursor.after, consumed = cursor.emitted + 1, relative, consumed + 1
            if size >= STEP_BYTES:
                break
        if len(page) < limit and consumed == len(page):  # this path has no more documents
            emit("]")
            cursor.entry += 1
            cursor.opened, cursor.emitted, cursor.after = False, 0, None
    done = cursor.entry >= len(EXPORTED)
    if done:
        emit('}, "exportedAt": ' + _json(utc_text(now)) + ', "format": ' + _json(FORMAT) + "}")
    return out, done


@tracing.traced("firestore.export.step")
def build_step(uid: str, export_id: str, now: datetime) -> Step:
    """Build the next bounded part of the bundle (see the module docstring); the progress.
    Raises ``leases.LeaseHeld`` while another delivery builds a step of this export."""
    from google.cloud import firestore as gcf

    ref = _ref(uid, export_id)
    current = store.get(ref)
    if not current.exists:
        return Step(True, 0, 0)
    if current.get("state") == "ready":
        state = current.to_dict() or {}
        return Step(True, int(state.get("chunks") or 0), int(state.get("steps") or 0))
    holder = leases.new_holder()
    leased = leases.acquire(ref, holder, now, LEASE)
    state = (leased.to_dict() or {}) if leased is not None else {}
    chunks, steps = int(state.get("chunks") or 0), int(state.get("steps") or 0)
    if leased is None or state.get("state") == "ready":  # finished meanwhile
        leases.release(ref, holder)
        return Step(True, chunks, steps)
    cursor = _Cursor.of(state.get("cursor"))
    try:
        pieces, done = _emit_step(uid, cursor, now)
    except BaseException:
        leases.release(ref, holder)  # the queue's retry need not wait for the lease to expire
        raise
    text = "".join(pieces)
    new_chunks = utf8_chunks(text)
    progress: dict[str, Any] = {
        "chunks": chunks + len(new_chunks),
        "bytes": int(state.get("bytes") or 0) + len(text.encode("utf-8")),
        "steps": steps + 1,
        leases.FIELD: gcf.DELETE_FIELD,  # the step is written: the next one may start at once
    }
    if done:
        progress |= {"state": "ready", "readyAt": now, "cursor": gcf.DELETE_FIELD}
    else:
        progress["cursor"] = cursor.__dict__

    def commit(tx: gcf.Transaction) -> bool:
        latest = store.get(ref, tx)
        if not latest.exists or int((latest.to_dict() or {}).get("steps") or 0) != steps:
            return False  # expired, or written by a delivery that took over after a stall
        leases.hold(latest, holder, now, LEASE)  # taken over and still held: write nothing
        out = store.writes(tx)
        for offset, chunk in enumerate(new_chunks):
            out.set(
                ref.collection(paths.EXPORT_CHUNKS).document(str(chunks + offset)),
                {"data": chunk, "expireAt": state.get("expireAt")},
            )
        out.update(ref, progress)
        return True

    if not store.transactional(commit, name="export.commit_step"):
        return Step(True, chunks, steps)  # the delivery that wrote this step carries on
    return Step(done, progress["chunks"], steps + 1)


@tracing.traced("firestore.export.build")
def build(uid: str, export_id: str, now: datetime) -> int:
    """Every remaining step at once (scripts and tests); the number of chunks."""
    while True:
        step = build_step(uid, export_id, now)
        if step.done:
            return step.chunks


@tracing.traced("firestore.export.read")
def read(uid: str, export_id: str, index: int) -> tuple[str, int, str | None]:
    """(state, number of chunks, chunk ``index`` or None while building)."""
    from focus.domain.errors import InvalidArgument, NotFound, Reason

    ref = _ref(uid, export_id)
    snapshot = store.get(ref)
    if not snapshot.exists:
        raise NotFound(
            "No such export (exports are kept for 7 days).",
            reason=Reason.EXPORT_NOT_FOUND,
        )
    state, count = str(snapshot.get("state")), int((snapshot.to_dict() or {}).get("chunks") or 0)
    if state != "ready":
        return state, 0, None
    if not 0 <= index < count:
        raise InvalidArgument.at(
            "chunk", f"chunk must be between 0 and {count - 1}", reason=Reason.NO_SUCH_CHUNK
        )
    chunk = store.get(ref.collection(paths.EXPORT_CHUNKS).document(str(index)))
    return state, count, str(chunk.get("data"))


def build_for_task(uid: str, export_id: str, now: datetime) -> None:
    """The ``buildExport`` task: one bounded step per invocation; the rest goes back to the end
    of the queue, so other people's exports run between the steps of a large one."""
    step = build_step(uid, export_id, now)
    if not step.done:
        messaging.enqueue(
            Task.BUILD_EXPORT,
            {"userId": uid, "exportId": export_id},
            at=now,
            task_id=messaging.task_id("export", uid, export_id, str(step.steps)),
        )
    logs.get_logger().info("export step", done=step.done, chunks=step.chunks, steps=step.steps)

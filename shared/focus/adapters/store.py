"""The one way the backend reads and writes Firestore.

Every read and write goes through these helpers so that:

* **cost is counted**: each invocation's reads and writes accumulate in ``usage()``; the request
  line logs them and, on the emulator, callables return them in ``meta.usage`` so tests can pin a
  flow's cost per user (docs/data-model.md records them);
* **every query is declared**: a query is a ``QuerySpec`` registered at import time, so a test
  can check each one against firestore.indexes.json (the emulator does not enforce indexes);
* **contention is survived and measured**: ``transactional`` runs every transaction, retrying an
  aborted attempt with exponential backoff and jitter, and counts and logs each aborted attempt.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference, DocumentSnapshot, Transaction, WriteBatch
    from google.cloud.firestore_v1._helpers import WriteOption


@dataclass
class Usage:
    reads: int = 0
    writes: int = 0
    aborts: int = 0  # transaction attempts aborted by contention (logged, not in ``as_dict``)

    def as_dict(self) -> dict[str, int]:
        return {"reads": self.reads, "writes": self.writes}


_usage: ContextVar[Usage | None] = ContextVar("firestore_usage", default=None)


def begin_usage() -> Usage:
    """Start counting for one invocation (the envelope and event wrappers call this)."""
    usage = Usage()
    _usage.set(usage)
    return usage


def usage() -> Usage:
    current = _usage.get()
    if current is None:
        current = begin_usage()
    return current


# -- reads ---------------------------------------------------------------------------------------
def get(ref: DocumentReference, transaction: Transaction | None = None) -> DocumentSnapshot[Any]:
    usage().reads += 1
    return ref.get(transaction=transaction)


def get_all(
    refs: Sequence[DocumentReference], transaction: Transaction | None = None
) -> list[DocumentSnapshot[Any]]:
    if not refs:
        return []
    from focus.adapters import clients

    usage().reads += len(refs)
    by_path = {
        snap.reference.path: snap
        for snap in clients.firestore().get_all(list(refs), transaction=transaction)
    }
    return [by_path[ref.path] for ref in refs]


# -- queries -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuerySpec:
    """A query shape: which collection, which filters and orderings. Values come at run time."""

    name: str
    collection: str  # the collection id (last path segment)
    filters: tuple[tuple[str, str], ...] = ()  # (field path, operator)
    order_by: tuple[tuple[str, str], ...] = ()  # (field path, "ASCENDING" | "DESCENDING")
    collection_group: bool = False

    def __post_init__(self) -> None:
        QUERIES[self.name] = self


QUERIES: dict[str, QuerySpec] = {}


def _build(spec: QuerySpec, parent: DocumentReference | None, values: Sequence[Any]) -> Any:
    from google.cloud.firestore_v1.base_query import FieldFilter

    from focus.adapters import clients

    if len(values) != len(spec.filters):
        raise ValueError(f"query {spec.name} takes {len(spec.filters)} values")
    db = clients.firestore()
    q: Any
    if spec.collection_group:
        q = db.collection_group(spec.collection)
    elif parent is not None:
        q = parent.collection(spec.collection)
    else:
        q = db.collection(spec.collection)
    for (field_path, op), value in zip(spec.filters, values, strict=True):
        q = q.where(filter=FieldFilter(field_path, op, value))
    for field_path, direction in spec.order_by:
        q = q.order_by(field_path, direction=direction)
    return q


def query(
    spec: QuerySpec,
    parent: DocumentReference | None,
    values: Sequence[Any] = (),
    *,
    limit: int | None = None,
    start_after: DocumentReference | DocumentSnapshot[Any] | None = None,
    transaction: Transaction | None = None,
    start_at: DocumentReference | None = None,
    end_before: DocumentReference | None = None,
) -> list[DocumentSnapshot[Any]]:
    """Run ``spec`` under ``parent`` (None: a root collection or a collection group).

    ``start_after`` pages: a snapshot from the previous page (any ordering), or a document
    reference for a query ordered by ``__name__`` alone. ``start_at`` and ``end_before`` bound
    a query ordered by ``__name__`` alone to a range of document ids.
    """
    q = _build(spec, parent, values)
    by_name = spec.order_by == (("__name__", "ASCENDING"),)
    if not by_name and (start_at is not None or end_before is not None):
        raise ValueError(f"query {spec.name}: an id range needs an order by __name__ only")
    if start_at is not None:
        q = q.start_at({"__name__": start_at})
    if end_before is not None:
        q = q.end_before({"__name__": end_before})
    if start_after is not None and hasattr(start_after, "to_dict"):
        q = q.start_after(start_after)
    elif start_after is not None:
        if not by_name:
            raise ValueError(f"query {spec.name}: start_after needs an order by __name__ only")
        q = q.start_after({"__name__": start_after})
    if limit is not None:
        q = q.limit(limit)
    snapshots: list[DocumentSnapshot[Any]] = list(q.stream(transaction=transaction))
    usage().reads += max(1, len(snapshots))  # an empty result still costs one read
    return snapshots


def count(spec: QuerySpec, parent: DocumentReference | None, values: Sequence[Any] = ()) -> int:
    """How many documents ``spec`` matches, without reading them (a count aggregation)."""
    result = _build(spec, parent, values).count().get()[0][0]
    n = int(result.value)
    usage().reads += max(1, -(-n // 1000))  # billed one read per 1,000 index entries
    return n


# -- writes --------------------------------------------------------------------------------------
@dataclass
class Writes:
    """Writes staged on a transaction or batch, counted as they are staged."""

    writer: Any
    staged: list[str] = field(default_factory=list)

    def create(self, ref: DocumentReference, data: dict[str, Any]) -> None:
        self._count(ref)
        self.writer.create(ref, data)

    def set(self, ref: DocumentReference, data: dict[str, Any], *, merge: bool = False) -> None:
        self._count(ref)
        self.writer.set(ref, data, merge=merge)

    def update(
        self, ref: DocumentReference, data: dict[str, Any], *, option: WriteOption | None = None
    ) -> None:
        """``option``: a precondition, e.g. ``client.write_option(last_update_time=...)``."""
        self._count(ref)
        self.writer.update(ref, data, option=option)

    def delete(self, ref: DocumentReference, *, option: WriteOption | None = None) -> None:
        """``option``: a precondition, e.g. ``client.write_option(last_update_time=...)``."""
        self._count(ref)
        self.writer.delete(ref, option=option)

    def _count(self, ref: DocumentReference) -> None:
        usage().writes += 1
        self.staged.append(ref.path)


def writes(writer: Transaction | WriteBatch) -> Writes:
    return Writes(writer)


def set_now(ref: DocumentReference, data: dict[str, Any], *, merge: bool = False) -> None:
    """One write outside any transaction."""
    usage().writes += 1
    ref.set(data, merge=merge)


def update_now(
    ref: DocumentReference, data: dict[str, Any], *, last_update_time: Any = None
) -> None:
    """Update fields of one existing document outside any transaction (NotFound if it is gone);
    with ``last_update_time``, only if it has not changed since (FailedPrecondition otherwise):
    a write fenced by the time of an earlier write, without reading the document again."""
    from focus.adapters import clients

    usage().writes += 1
    if last_update_time is None:
        ref.update(data)
    else:
        ref.update(data, option=clients.firestore().write_option(last_update_time=last_update_time))


def create_now(ref: DocumentReference, data: dict[str, Any]) -> Any:
    """Create one document outside any transaction; AlreadyExists (or the emulator's Conflict)
    if it exists: a create-only marker that exactly one writer can take. Its update time (for a
    later ``update_now(..., last_update_time=)``)."""
    usage().writes += 1
    return ref.create(data).update_time


def delete_now(ref: DocumentReference, *, last_update_time: Any = None) -> None:
    """Delete one document outside any transaction; with ``last_update_time``, only if it has
    not changed since (FailedPrecondition otherwise)."""
    from focus.adapters import clients

    usage().writes += 1
    if last_update_time is None:
        ref.delete()
    else:
        ref.delete(option=clients.firestore().write_option(last_update_time=last_update_time))


# -- transactions --------------------------------------------------------------------------------
T = TypeVar("T")

MAX_ATTEMPTS = 8
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 2.0


class Contention(Exception):
    """A transaction aborted on every attempt: the documents it touches are too busy right now.

    Not a bug and not the caller's fault: the envelope answers ABORTED ``CONTENTION`` with
    ``retryAfterSeconds`` (``focus.entrypoints.errors``), so the app retries with the same
    idempotency key."""

    def __init__(self, name: str, attempts: int) -> None:
        super().__init__(f"transaction {name} aborted {attempts} times")
        self.name = name
        self.attempts = attempts


def backoff_seconds(attempt: int) -> float:
    """How long to wait after aborted attempt ``attempt`` (1, 2, ...): "full jitter" exponential
    backoff, so callers that collided once spread out instead of colliding again in lockstep."""
    return random.uniform(0, min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1)))


def transactional_at(
    fn: Callable[[Transaction], T], *, name: str | None = None, max_attempts: int = MAX_ATTEMPTS
) -> tuple[T, Any]:
    """``transactional``, and the commit's time (None if ``fn`` staged no write): the update
    time of every document the transaction changed, for a later write fenced by it."""
    committed: list[Any] = []
    result = transactional(fn, name=name, max_attempts=max_attempts, committed=committed)
    times = [w.update_time for w in committed if w.update_time is not None]
    return result, (max(times) if times else None)


def transactional(
    fn: Callable[[Transaction], T],
    *,
    name: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    committed: list[Any] | None = None,
) -> T:
    """Run ``fn(transaction)`` in a Firestore transaction and commit it; what ``fn`` returned.

    An attempt aborted by contention (at commit, or on a read: the emulator aborts reads too) is
    counted in ``usage().aborts``, logged (``transaction aborted``, with ``transaction`` = ``name``,
    by default ``fn``'s name, and ``attempt``) and retried after ``backoff_seconds``; after
    ``max_attempts`` it raises ``Contention``. Anything else ``fn`` raises rolls back and
    propagates unchanged. ``fn`` must only read and stage writes: it runs once per attempt.
    ``committed`` collects the commit's write results (``transactional_at`` reads their time).

    The google-cloud-firestore ``transactional`` decorator retries at once, without backoff, and
    ends in a ValueError that reaches the client as INTERNAL: hence this loop. Like that decorator
    it begins each retry with the first attempt's id, which keeps the transaction's place in line
    on Firestore (older transactions win lock conflicts).
    """
    from google.api_core import exceptions

    from focus.adapters import clients, logs

    label = name or fn.__qualname__.replace("<locals>.", "")
    db = clients.firestore()
    retry_id: bytes | None = None
    for attempt in range(1, max_attempts + 1):
        transaction = db.transaction()
        committing = False
        try:
            transaction._begin(retry_id=retry_id)
            retry_id = retry_id or transaction._id
            result = fn(transaction)
            committing = True
            write_results = transaction._commit()
            if committed is not None:
                committed.extend(write_results)
            return result
        except exceptions.Aborted as exc:
            if not committing:  # a failed commit ends the transaction; an aborted read does not
                _roll_back_quietly(transaction)
            usage().aborts += 1
            logs.get_logger().info(
                "transaction aborted", transaction=label, attempt=attempt, error=str(exc)[:200]
            )
            if attempt == max_attempts:
                raise Contention(label, attempt) from exc
            time.sleep(backoff_seconds(attempt))
        except BaseException:
            _roll_back_quietly(transaction)
            raise
    raise AssertionError("unreachable")  # the loop returns or raises


F = TypeVar("F")


def found_then_committed(
    find: Callable[[], F], commit: Callable[[F], T], *, name: str, attempts: int = 5
) -> T:
    """``commit(find())``, where ``find`` runs the queries (outside any transaction: on the
    emulator a query in one locks the whole collection group, docs/adr/0012) and ``commit``
    writes only if what was found is unchanged (update-time preconditions). A commit refused
    because something found changed or went meanwhile (FAILED_PRECONDITION, NOT_FOUND) finds
    again, up to ``attempts`` times, then raises ``Contention``. An error of ``find`` itself (a
    query's missing index) propagates at once: it is no contention."""
    from google.api_core import exceptions

    for _ in range(attempts):
        found = find()
        with contextlib.suppress(exceptions.FailedPrecondition, exceptions.NotFound):
            return commit(found)
    raise Contention(name, attempts)


def _roll_back_quietly(transaction: Transaction) -> None:
    """Release the attempt's locks at once rather than at their timeout; a failed rollback only
    means the server already ended the transaction."""
    from google.api_core import exceptions

    with contextlib.suppress(ValueError, exceptions.GoogleAPICallError):
        transaction._rollback()

"""The one way the backend reads and writes Firestore.

Every read and write goes through these helpers so that:

* **cost is counted**: each invocation's reads and writes accumulate in ``usage()``; the request
  line logs them and, on the emulator, callables return them in ``meta.usage`` so tests can pin a
  flow's cost per user (docs/data-model.md records them);
* **every query is declared**: a query is a ``QuerySpec`` registered at import time, so a test
  can check each one against firestore.indexes.json (the emulator does not enforce indexes).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference, DocumentSnapshot, Transaction, WriteBatch
    from google.cloud.firestore_v1._helpers import WriteOption


@dataclass
class Usage:
    reads: int = 0
    writes: int = 0

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
    from focus.platform import clients

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

    from focus.platform import clients

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
) -> list[DocumentSnapshot[Any]]:
    """Run ``spec`` under ``parent`` (None: a root collection or a collection group).

    ``start_after`` pages: a snapshot from the previous page (any ordering), or a document
    reference for a query ordered by ``__name__`` alone.
    """
    q = _build(spec, parent, values)
    if start_after is not None and hasattr(start_after, "to_dict"):
        q = q.start_after(start_after)
    elif start_after is not None:
        if spec.order_by != (("__name__", "ASCENDING"),):
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

    def delete(self, ref: DocumentReference) -> None:
        self._count(ref)
        self.writer.delete(ref)

    def _count(self, ref: DocumentReference) -> None:
        usage().writes += 1
        self.staged.append(ref.path)


def writes(writer: Transaction | WriteBatch) -> Writes:
    return Writes(writer)


def set_now(ref: DocumentReference, data: dict[str, Any], *, merge: bool = False) -> None:
    """One write outside any transaction."""
    usage().writes += 1
    ref.set(data, merge=merge)

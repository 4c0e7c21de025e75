"""Reading what a sweep finds: a collection-group query over people's documents, run in every
sweep shard (``focus.domain.sweep_shards``), a page at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from focus.adapters import paths, store
from focus.domain import sweep_shards

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentSnapshot


def sharded(name: str, collection: str, *filters: tuple[str, str]) -> store.QuerySpec:
    """A collection-group query whose first filter is the shard (``sweepShard ==``); ordered by
    its last filter's field, as the composite index in firestore.indexes.json is."""
    return store.QuerySpec(
        name,
        collection,
        ((sweep_shards.FIELD, "=="), *filters),
        order_by=((filters[-1][0], "ASCENDING"),),
        collection_group=True,
    )


def owned(
    spec: store.QuerySpec, values: Sequence[Any], *, page: int, first_page_only: bool = False
) -> Iterator[tuple[str, DocumentSnapshot[Any]]]:
    """(owner uid, snapshot) of each document ``spec`` finds under ``users/{uid}``, shard after
    shard, each shard a page at a time (``first_page_only``: at most one page a shard). A
    collection of that name elsewhere is not a person's and is passed over."""
    for shard in sweep_shards.ALL:
        after = None
        while True:
            found = store.query(spec, None, [shard, *values], limit=page, start_after=after)
            for snapshot in found:
                owner = snapshot.reference.parent.parent
                if owner is not None and owner.parent.id == paths.USERS:
                    yield str(owner.id), snapshot
            if first_page_only or len(found) < page:
                break
            after = found[-1]

"""Which composite indexes the backend's queries need, checked against firestore.indexes.json.

The emulator serves any query without an index; production refuses one whose index is missing.
Every query is a registered ``store.QuerySpec``, so this module can list what each one needs:

* one field in all (filters and orderings together): Firestore's automatic single-field
  indexes serve it, but for a collection-group query only if the field has a
  ``COLLECTION_GROUP`` single-field index (a ``fieldOverrides`` entry);
* equality filters only (``==``, ``in``), no ordering: served by merging single-field indexes
  (ordering by the document name, ascending, counts as none: every index ends with it);
* anything else: a composite index on the equality fields (any order), then the inequality
  field, then the ordering fields, in that order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from focus.adapters.store import QuerySpec

# The client's operator strings (array_contains) and the index docs' (array-contains).
EQUALITY = {
    "==",
    "in",
    "array-contains",
    "array-contains-any",
    "array_contains",
    "array_contains_any",
}


def _scope(spec: QuerySpec) -> str:
    return "COLLECTION_GROUP" if spec.collection_group else "COLLECTION"


def _needs_composite(spec: QuerySpec) -> bool:
    # Every index ends with the document name, ascending: ordering by it adds no field.
    by_name = {f for f, d in spec.order_by if f == "__name__" and d == "ASCENDING"}
    fields = {f for f, _ in spec.filters} | {f for f, _ in spec.order_by} - by_name
    if len(fields) <= 1:
        return False
    return bool(spec.order_by) or any(op not in EQUALITY for _, op in spec.filters)


def _composite_matches(spec: QuerySpec, index: dict[str, Any]) -> bool:
    if index.get("collectionGroup") != spec.collection or index.get(
        "queryScope", "COLLECTION"
    ) != _scope(spec):
        return False
    fields = [
        (f["fieldPath"], f.get("order") or f.get("arrayConfig")) for f in index.get("fields", [])
    ]
    equality = {f for f, op in spec.filters if op in EQUALITY}
    head, tail = fields[: len(equality)], fields[len(equality) :]
    if {f for f, _ in head} != equality:
        return False
    directions = dict(spec.order_by)
    # A range on one field (>= and <) is one indexed field.
    inequality = list(dict.fromkeys(f for f, op in spec.filters if op not in EQUALITY))
    expected = [(f, directions.get(f, "ASCENDING")) for f in inequality]
    # Every index ends with the document name: ordering by it ascending needs no declared field.
    expected += [
        (f, d)
        for f, d in spec.order_by
        if f not in inequality and (f, d) != ("__name__", "ASCENDING")
    ]
    return [(f, d) for f, d in tail if f != "__name__"] == expected


def _single_field_group_index(spec: QuerySpec, overrides: list[dict[str, Any]]) -> bool:
    # Document names are indexed in both scopes without configuration (collection-group
    # partition queries rely on it), so ordering by __name__ alone needs no declared index.
    fields = {f for f, _ in spec.filters} | {f for f, _ in spec.order_by if f != "__name__"}
    for override in overrides:
        group_scoped = any(
            i.get("queryScope") == "COLLECTION_GROUP" for i in override.get("indexes", [])
        )
        if (
            group_scoped
            and override.get("collectionGroup") == spec.collection
            and override.get("fieldPath") in fields
        ):
            return True
    return not fields  # a bare collection-group scan needs no index


def missing_indexes(specs: Iterable[QuerySpec], config: dict[str, Any]) -> list[str]:
    """Each query whose index the config lacks, as a readable line; empty when all are covered."""
    indexes = config.get("indexes", [])
    overrides = config.get("fieldOverrides", [])
    missing = []
    for spec in specs:
        if _needs_composite(spec):
            if not any(_composite_matches(spec, index) for index in indexes):
                missing.append(
                    f"{spec.name}: composite index on {spec.collection} {spec.filters} {spec.order_by}"
                )
        elif spec.collection_group and not _single_field_group_index(spec, overrides):
            missing.append(f"{spec.name}: collection-group single-field index on {spec.collection}")
    return missing

"""Every query the backend makes is served by an index production will have, and every transient
collection has its TTL declared: the emulator enforces neither, so these checks do."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import focus.entrypoints
import focus.services
from focus.adapters import paths, store
from focus_tools.indexes import missing_indexes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return json.loads((ROOT / "firestore.indexes.json").read_text())


@pytest.fixture(scope="module")
def queries() -> list[store.QuerySpec]:
    for package in (focus.services, focus.entrypoints):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    importlib.import_module("focus_tools.migrations_runner")  # its scans, one per migration
    importlib.import_module("focus_tools.analytics_backfill")  # its scans of sessions and days
    return list(store.QUERIES.values())


def test_every_query_the_code_makes_has_its_index(
    config: dict[str, Any], queries: list[store.QuerySpec]
) -> None:
    assert len(queries) >= 6  # the services' queries were found
    assert missing_indexes(queries, config) == []


def test_a_query_that_needs_a_composite_index_fails_the_check_until_it_is_declared(
    config: dict[str, Any],
) -> None:
    spec = store.QuerySpec(
        "completed sessions by end (example)",
        "sessions",
        filters=(("status", "=="),),
        order_by=(("plannedEnd", "DESCENDING"),),
    )
    try:
        assert missing_indexes([spec], config) == [
            "completed sessions by end (example): composite index on sessions "
            "(('status', '=='),) (('plannedEnd', 'DESCENDING'),)"
        ]
        declared = {
            "collectionGroup": "sessions",
            "queryScope": "COLLECTION",
            "fields": [
                {"fieldPath": "status", "order": "ASCENDING"},
                {"fieldPath": "plannedEnd", "order": "DESCENDING"},
            ],
        }
        assert missing_indexes([spec], {**config, "indexes": [declared]}) == []
    finally:
        store.QUERIES.pop(spec.name)


def test_a_collection_group_query_needs_a_collection_group_field_index(
    config: dict[str, Any],
) -> None:
    spec = store.QuerySpec(
        "all sessions by status (example)",
        "sessions",
        filters=(("status", "=="),),
        collection_group=True,
    )
    try:
        assert missing_indexes([spec], config) != []
        override = {
            "collectionGroup": "sessions",
            "fieldPath": "status",
            "indexes": [{"order": "ASCENDING", "queryScope": "COLLECTION_GROUP"}],
        }
        assert missing_indexes([spec], {**config, "fieldOverrides": [override]}) == []
    finally:
        store.QUERIES.pop(spec.name)


def test_every_transient_collection_declares_its_ttl_and_does_not_index_it(
    config: dict[str, Any],
) -> None:
    ttl = {
        (o["collectionGroup"], o["fieldPath"]): o for o in config["fieldOverrides"] if o.get("ttl")
    }

    for collection, field in paths.TTL_FIELDS.items():
        assert (collection, field) in ttl, (
            f"{collection}.{field} has no TTL in firestore.indexes.json"
        )
        # A timestamp index on a field every document sets to "now + x" is a hot spot.
        assert ttl[(collection, field)]["indexes"] == []

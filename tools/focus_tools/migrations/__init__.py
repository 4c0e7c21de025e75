"""Named migrations of stored documents: from one schema version to the next (``Migration``), or
a field added where it is missing (``Backfill``, for documents without a version of their own).

Each migration is declared in its own module here, ``m<NNNN>_<what>.py``, as a module-level
``MIGRATION``. Like the domain, this package is pure: an upgrade is a function of one document's
path and data, and ``scripts/migrate`` (focus_tools.migrations_runner) does the reading and
writing. docs/data-model.md ("Schema evolution") describes how to write and roll out a migration.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from focus.domain import sweep_shards
from focus.domain.model import Upgrade

# What a migration makes of one document: its data after the migration, or why it is left alone
# (already migrated; or "unexpected", at a version older than the migration starts from).
Outcome = dict[str, Any] | Literal["current", "unexpected"]


@dataclass(frozen=True)
class Migration:
    name: str  # NNNN_what, the module's name without its leading "m"
    description: str
    collection: str  # a root collection id, or a collection id under any parent (group)
    from_version: int
    to_version: int
    upgrade: Upgrade  # pure: a from_version document's data -> the same document at to_version
    # Raises if an upgraded document is not what the current code reads (checked before writing).
    check: Callable[[dict[str, Any]], object]
    collection_group: bool = False

    def __post_init__(self) -> None:
        if self.to_version != self.from_version + 1:
            raise ValueError(f"{self.name}: a migration moves one version at a time")

    def outcome(self, path: str, data: dict[str, Any]) -> Outcome:
        version = data.get("schemaVersion")
        if isinstance(version, int) and version >= self.to_version:
            return "current"
        if version != self.from_version:
            return "unexpected"
        after = self.upgrade(data)
        try:
            self.check(after)
        except ValueError as exc:
            raise ValueError(f"{path}: upgraded document is invalid") from exc
        return after


@dataclass(frozen=True)
class Backfill:
    """A field every document of a collection must carry, set where it is missing, from the
    document's path (its owner, say); no schema version changes (from/to_version: None)."""

    name: str
    description: str
    collection: str
    field: str
    value: Callable[[str], object]  # the document's path -> the field's value
    collection_group: bool = False
    from_version: None = None
    to_version: None = None

    def outcome(self, path: str, data: dict[str, Any]) -> Outcome:
        return "current" if self.field in data else data | {self.field: self.value(path)}


def sweep_shard_backfill(name: str, collection: str) -> Backfill:
    """``sweepShard`` on every document of a person's ``collection`` (``users/{uid}/...``), so the
    sweep that queries it shard by shard finds documents written before writers set it."""
    return Backfill(
        name=name,
        description=f"{collection}: {sweep_shards.FIELD} from the owner's uid (the sweep's index)",
        collection=collection,
        field=sweep_shards.FIELD,
        value=lambda path: sweep_shards.shard_of(path.split("/")[1]),
        collection_group=True,
    )


Step = Migration | Backfill


@functools.cache
def all_migrations() -> dict[str, Step]:
    """Every declared migration by name, in name order."""
    found: dict[str, Step] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("m"):
            continue
        migration = importlib.import_module(f"{__name__}.{module.name}").MIGRATION
        if migration.name != module.name[1:]:
            raise ValueError(f"{module.name} declares {migration.name!r}: names must match")
        found[migration.name] = migration
    return found


def get(name: str) -> Step:
    try:
        return all_migrations()[name]
    except KeyError:
        known = ", ".join(all_migrations()) or "none"
        raise KeyError(f"no migration named {name!r} (known: {known})") from None

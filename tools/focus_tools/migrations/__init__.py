"""Named migrations of stored documents from one schema version to the next.

Each migration is declared in its own module here, ``m<NNNN>_<what>.py``, as a module-level
``MIGRATION``. Like the domain, this package is pure: an upgrade is a function of one document's
data, and ``scripts/migrate`` (focus_tools.migrations_runner) does the reading and writing.
docs/data-model.md ("Schema evolution") describes how to write and roll out a migration.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from focus.domain.model import Upgrade


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


@functools.cache
def all_migrations() -> dict[str, Migration]:
    """Every declared migration by name, in name order."""
    found: dict[str, Migration] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("m"):
            continue
        migration = importlib.import_module(f"{__name__}.{module.name}").MIGRATION
        if migration.name != module.name[1:]:
            raise ValueError(f"{module.name} declares {migration.name!r}: names must match")
        found[migration.name] = migration
    return found


def get(name: str) -> Migration:
    try:
        return all_migrations()[name]
    except KeyError:
        known = ", ".join(all_migrations()) or "none"
        raise KeyError(f"no migration named {name!r} (known: {known})") from None

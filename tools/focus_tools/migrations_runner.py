"""Applies a named migration (focus_tools.migrations) to Firestore: the engine behind scripts/migrate.

A run pages through the migration's collection in document-name order and upgrades, in batched
writes, each document at the migration's from-version (a backfill: each document lacking its
field); documents at any other version are left alone (counted). Every batch commits its upgrades together with the progress document
``migrations/{name}`` (cursor and counts), atomically, so an interrupted run resumes exactly
where the last committed batch ended and nothing is counted twice.

Concurrent app writes: each upgrade is an update with a precondition on the document's update
time as read. If the app (or a trigger) wrote one of the batch's documents in between, the whole
batch fails and is re-read and retried, so the app's write is never overwritten. A transaction
per batch would give the same guarantee, but server-side transactions lock every document they
read until they commit: hundreds of live profiles at a time, making the app's own writes and
triggers' transactions wait on the migration. Preconditions lock nothing; only the migration
ever retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from focus.adapters import clients, paths, store
from focus.domain.model import Document
from focus_tools.migrations import Step, all_migrations

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentSnapshot

MAX_BATCH = 499  # Firestore commits at most 500 writes: the documents plus the progress document
DEFAULT_BATCH = 400
CONFLICT_RETRIES = 5
EXAMPLES = 3  # changes a dry run shows


class MigrationProgress(Document):
    """``migrations/{name}``: a real run's position and counts (dry runs write nothing)."""

    schema_version: int = 1
    name: str
    collection: str
    from_version: int | None = None  # None: a backfill, which changes no version
    to_version: int | None = None
    cursor: str | None = None  # path of the last document processed; the next run starts after it
    scanned: int = 0
    upgraded: int = 0
    current: int = 0  # already at (or past) the to-version: untouched
    unexpected: int = 0  # at an older version than from-version: an earlier migration is due
    conflicts: int = 0  # batches re-read and retried because the app wrote one of their documents
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


@dataclass
class Outcome:
    progress: MigrationProgress
    dry_run: bool
    already_finished: bool = False  # nothing was scanned: a finished run is never repeated
    scanned_now: int = 0  # documents this invocation scanned
    upgraded_now: int = 0  # ... and upgraded (or, in a dry run, would have)
    examples: list[str] = field(default_factory=list)  # dry run: what would change, for a few


def scan_spec(migration: Step) -> store.QuerySpec:
    scope = " (collection group)" if migration.collection_group else ""
    return store.QuerySpec(
        f"migration scan of {migration.collection}{scope}",
        migration.collection,
        order_by=(("__name__", "ASCENDING"),),
        collection_group=migration.collection_group,
    )


# Declared at import, like every query, so tests check their indexes.
SCANS = {name: scan_spec(m) for name, m in all_migrations().items()}


def status(migration: Step) -> MigrationProgress | None:
    snapshot = store.get(clients.firestore().document(paths.migration(migration.name)))
    return MigrationProgress.model_validate(snapshot.to_dict()) if snapshot.exists else None


def estimate_total(migration: Step) -> int:
    """How many documents a full run scans (a count aggregation: 1 read per 1,000)."""
    return store.count(SCANS[migration.name], None)


def _now() -> datetime:
    return datetime.now(UTC)


def run(
    migration: Step,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH,
    limit: int | None = None,
    restart: bool = False,
    on_batch: Callable[[MigrationProgress], None] = lambda _: None,
) -> Outcome:
    """Apply ``migration`` from where its last run stopped, for at most ``limit`` documents.

    ``restart`` scans from the beginning even after a finished run (documents already upgraded
    are counted as current, not written). A dry run reads and reports, and writes nothing.
    """
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch size must be 1..{MAX_BATCH}")
    stored = None if restart else status(migration)
    if stored is not None and stored.finished_at is not None:
        return Outcome(stored, dry_run, already_finished=True)
    now = _now()
    progress = stored or MigrationProgress(
        name=migration.name,
        collection=migration.collection,
        from_version=migration.from_version,
        to_version=migration.to_version,
        started_at=now,
        updated_at=now,
    )
    outcome = Outcome(progress, dry_run)
    db = clients.firestore()
    while limit is None or outcome.scanned_now < limit:
        size = batch_size if limit is None else min(batch_size, limit - outcome.scanned_now)
        after = db.document(progress.cursor) if progress.cursor else None
        page = store.query(SCANS[migration.name], None, limit=size, start_after=after)
        if not page:  # the previous page was the last one and exactly full
            outcome.progress = progress = _finished(progress, dry_run)
            break
        last = len(page) < size
        before = progress
        progress = upgrade_page(migration, page, progress, dry_run, last, outcome.examples)
        outcome.progress = progress
        outcome.scanned_now += len(page)
        outcome.upgraded_now += progress.upgraded - before.upgraded
        on_batch(progress)
        if last:
            break
    return outcome


def _finished(progress: MigrationProgress, dry_run: bool) -> MigrationProgress:
    now = _now()
    done = progress.model_copy(update={"finished_at": now, "updated_at": now, "cursor": None})
    if not dry_run:
        ref = clients.firestore().document(paths.migration(progress.name))
        store.set_now(ref, done.to_firestore())
    return done


def upgrade_page(
    migration: Step,
    page: list[DocumentSnapshot[Any]],
    progress: MigrationProgress,
    dry_run: bool,
    last: bool = False,
    examples: list[str] | None = None,
) -> MigrationProgress:
    """Upgrade one page of documents and move the cursor past it, in one atomic batch.

    ``last``: the page ended the collection, and the same batch records the run as finished.
    Returns the progress as committed (the input is not changed).
    """
    from google.api_core.exceptions import FailedPrecondition

    db = clients.firestore()
    conflicts = 0
    while True:
        upgrades, counts = _plan(migration, page)
        now = _now()
        after = progress.model_copy(
            update={
                # A finished run keeps no cursor: it is a document path (for profiles, a uid),
                # which must not outlive an erasure of that person.
                "cursor": None if last else page[-1].reference.path,
                "scanned": progress.scanned + len(page),
                "upgraded": progress.upgraded + len(upgrades),
                "current": progress.current + counts["current"],
                "unexpected": progress.unexpected + counts["unexpected"],
                "conflicts": progress.conflicts + conflicts,
                "updated_at": now,
                "finished_at": now if last else None,
            }
        )
        if dry_run:
            if examples is not None:
                examples.extend(_describe(s, c) for s, c in upgrades[: EXAMPLES - len(examples)])
            return after
        batch = db.batch()
        out = store.writes(batch)
        for snapshot, changes in upgrades:
            precondition = db.write_option(last_update_time=snapshot.update_time)
            out.update(snapshot.reference, changes, option=precondition)
        out.set(db.document(paths.migration(migration.name)), after.to_firestore())
        try:
            batch.commit()
        except FailedPrecondition:
            # Someone wrote one of these documents since we read it: read the same documents
            # again (a deleted one reads as missing and is skipped) and redo the batch.
            conflicts += 1
            if conflicts > CONFLICT_RETRIES:
                raise
            page = store.get_all([s.reference for s in page])
            continue
        return after


def _plan(
    migration: Step, page: list[DocumentSnapshot[Any]]
) -> tuple[list[tuple[DocumentSnapshot[Any], dict[str, Any]]], dict[str, int]]:
    """Which documents change, with the fields to write; how many are current or unexpected."""
    from google.cloud.firestore import DELETE_FIELD
    from google.cloud.firestore_v1.field_path import FieldPath

    upgrades = []
    counts = {"current": 0, "unexpected": 0}
    for snapshot in page:
        if not snapshot.exists:
            continue
        before = snapshot.to_dict() or {}
        after = migration.outcome(snapshot.reference.path, before)
        if isinstance(after, str):
            counts[after] += 1
            continue
        # Only the top-level fields that differ: update() replaces each one whole.
        changes: dict[str, Any] = {
            FieldPath(key).to_api_repr(): value
            for key, value in after.items()
            if key not in before or before[key] != value
        }
        changes |= {
            FieldPath(key).to_api_repr(): DELETE_FIELD for key in before if key not in after
        }
        upgrades.append((snapshot, changes))
    return upgrades, counts


def _describe(snapshot: DocumentSnapshot[Any], changes: dict[str, Any]) -> str:
    return f"{snapshot.reference.path}: " + ", ".join(
        f"{key} -> {value!r}" for key, value in sorted(changes.items())
    )

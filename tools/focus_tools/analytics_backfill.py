"""The analytics backfill: the product events the sessions and days already stored state, published
as the live paths publish them (docs/analytics.md, "History"): the engine behind
scripts/analytics-backfill. Never deployed: an operator runs it with their own credentials.

A run pages through the ``sessions`` collection group, then the ``days`` one, in document-name
order. Each document states at most one fact, built by the same domain functions the live paths
use (``analytics_events.stored_session``, ``merged_day``), so its event has exactly the live
event's id: a fact already published is the same row, which the models count once.

* **Consent now.** A person's documents become events only if their ``analytics`` consent is
  granted at the time of the run and they have a key (``analytics.consented_keys``, which never
  creates one); the others are counted as skipped.
* **Resumable.** After each page is published, its cursor and the counts are saved in
  ``migrations/analytics-backfill``; an interrupted run resumes after the last saved page. A page
  published but not saved is published again with the same ids. A finished run does nothing
  until ``restart``; a finished run keeps no cursor (a document path holds a uid).
* **Poison never stops it.** A document no model accepts is logged (``poison item skipped``, the
  owner pseudonymous) and counted as failed; the run goes on. A page that Pub/Sub refuses stops
  the run before its cursor is saved (``PublishingFailed``): run again to resume.
* **Dry run.** Reads, counts what it would publish, and publishes and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from focus.adapters import clients, paths, store
from focus.domain.analytics_events import ProductFact, merged_day, stored_session
from focus.domain.model import Document
from focus.domain.reports import Day
from focus.domain.sessions import FocusSession
from focus.services import analytics, sessions, tolerant

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentSnapshot

NAME = "analytics-backfill"  # its progress document: migrations/analytics-backfill
PAGE_SIZE = analytics.EVENTS_PER_PUBLISH  # documents a page: its events fit one publish request


class Stage(StrEnum):
    """The collection group a run is paging, in the order it pages them."""

    SESSIONS = paths.SESSIONS
    DAYS = paths.DAYS


SCANS = {
    stage: store.QuerySpec(
        f"analytics backfill: every {stage.value} (collection group)",
        stage.value,
        order_by=(("__name__", "ASCENDING"),),
        collection_group=True,
    )
    for stage in Stage
}


class BackfillProgress(Document):
    """``migrations/analytics-backfill``: a real run's position and counts (in documents)."""

    schema_version: int = 1
    stage: Stage = Stage.SESSIONS
    cursor: str | None = None  # the last document of the last saved page; None once finished
    scanned: int = 0
    published: int = 0  # events published (one per document that states a fact)
    not_yet: int = 0  # sessions that state nothing yet: running, or completed but not counted
    skipped: int = 0  # of people without analytics consent now, or without a key
    failed: int = 0  # no model accepts it, or its owner's consent or key cannot be read
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


COUNTS = ("scanned", "published", "not_yet", "skipped", "failed")


@dataclass
class Outcome:
    start: BackfillProgress  # as this invocation found it (fresh for a first run or a restart)
    progress: BackfillProgress  # as it left it (a dry run: as it would have)
    dry_run: bool
    already_finished: bool = False  # nothing was scanned: a finished run is never repeated

    def this_run(self) -> dict[str, int]:
        """Each of ``COUNTS`` for this invocation alone (a dry run: what it would have done)."""
        start, now = self.start.model_dump(), self.progress.model_dump()
        return {count: now[count] - start[count] for count in COUNTS}


class PublishingFailed(Exception):
    """Pub/Sub did not take a page's events: the run stopped before saving that page."""


def status() -> BackfillProgress | None:
    snapshot = store.get(clients.firestore().document(paths.migration(NAME)))
    return BackfillProgress.model_validate(snapshot.to_dict()) if snapshot.exists else None


def estimate_total() -> int:
    """How many documents a full run scans (count aggregations: 1 read per 1,000)."""
    return sum(store.count(spec, None) for spec in SCANS.values())


def _now() -> datetime:
    return datetime.now(UTC)


def run(
    *,
    dry_run: bool = False,
    limit: int | None = None,
    restart: bool = False,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[BackfillProgress], None] = lambda _: None,
) -> Outcome:
    """Backfill from where the last run stopped, for at most ``limit`` documents; ``restart``
    begins again even after a finished run (publishing the same ids again)."""
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"page size must be 1..{PAGE_SIZE}")
    stored = None if restart else status()
    if stored is not None and stored.finished_at is not None:
        return Outcome(stored, stored, dry_run, already_finished=True)
    now = _now()
    start = progress = stored or BackfillProgress(started_at=now, updated_at=now)
    db = clients.firestore()
    isolation = tolerant.Isolation("analytics backfill")
    while progress.finished_at is None:
        scanned = progress.scanned - start.scanned
        if limit is not None and scanned >= limit:
            break
        size = page_size if limit is None else min(page_size, limit - scanned)
        after = db.document(progress.cursor) if progress.cursor else None
        page = store.query(SCANS[progress.stage], None, limit=size, start_after=after)
        progress = backfill_page(page, progress, dry_run, isolation, last=len(page) < size)
        on_page(progress)
    return Outcome(start, progress, dry_run)


def backfill_page(
    page: list[DocumentSnapshot[Any]],
    progress: BackfillProgress,
    dry_run: bool,
    isolation: tolerant.Isolation,
    *,
    last: bool,
) -> BackfillProgress:
    """Publish the events one page of ``progress.stage`` states, then save the progress past it
    (``last``: the page ended its collection group, and the run moves on or finishes). Returns
    the progress as saved (in a dry run, as it would have been)."""
    facts: dict[str, list[ProductFact]] = {}
    failed = not_yet = 0
    for snapshot in page:
        stated: tuple[str, ProductFact | None] | None = None  # stays None for a poison document
        with isolation.item(progress.stage.value, sessions.owner_of(snapshot), snapshot.id):
            stated = _fact(progress.stage, snapshot)
        if stated is None:
            failed += 1
        elif stated[1] is None:
            not_yet += 1
        else:
            facts.setdefault(stated[0], []).append(stated[1])
    keys = _consented_keys(list(facts), isolation)
    failed += sum(len(f) for uid, f in facts.items() if uid not in keys)
    skipped = sum(len(f) for uid, f in facts.items() if uid in keys and keys[uid] is None)
    events = analytics.events_of(facts, keys, _now())
    if not dry_run:
        for start in range(0, len(events), analytics.EVENTS_PER_PUBLISH):
            reason = analytics.publish_page(events[start : start + analytics.EVENTS_PER_PUBLISH])
            if reason is not None:
                raise PublishingFailed(reason)
    now = _now()
    moving_on = last and progress.stage is Stage.SESSIONS
    after = progress.model_copy(
        update={
            "stage": Stage.DAYS if moving_on else progress.stage,
            "cursor": None if last else page[-1].reference.path,
            "scanned": progress.scanned + len(page),
            "published": progress.published + len(events),
            "not_yet": progress.not_yet + not_yet,
            "skipped": progress.skipped + skipped,
            "failed": progress.failed + failed,
            "updated_at": now,
            "finished_at": now if last and not moving_on else None,
        }
    )
    if not dry_run:
        store.set_now(clients.firestore().document(paths.migration(NAME)), after.to_firestore())
    return after


def _fact(stage: Stage, snapshot: DocumentSnapshot[Any]) -> tuple[str, ProductFact | None]:
    """The document's owner and the fact it states, as the live path states it (None: nothing
    yet). Raises for a poison document."""
    owner = sessions.owner_of(snapshot)
    if owner is None:
        raise ValueError(f"a {stage.value} document outside users/{{uid}}")
    if stage is Stage.SESSIONS:
        session = FocusSession.model_validate(snapshot.to_dict())
        return owner, stored_session(snapshot.id, session)
    # Live, a revision is stated when its upload commits; the day's last write is that commit
    # (or the derivation right after it), the nearest moment the store keeps.
    day = Day.model_validate(snapshot.to_dict())
    return owner, merged_day(day, _moment(snapshot.update_time))


def _moment(value: Any) -> datetime:
    """A snapshot's time: a datetime when read by reference, a protobuf Timestamp from a query."""
    return value if isinstance(value, datetime) else value.ToDatetime(tzinfo=UTC)


def _consented_keys(uids: list[str], isolation: tolerant.Isolation) -> dict[str, bytes | None]:
    """``analytics.consented_keys`` for a page's people; when one person's consent or key cannot
    be read, person by person, leaving out (and logging) those that fail."""
    try:
        return analytics.consented_keys(uids)
    except Exception:
        keys: dict[str, bytes | None] = {}
        for uid in uids:
            with isolation.item("analytics key", uid):
                keys[uid] = analytics.consented_key(uid)
        return keys

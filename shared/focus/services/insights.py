"""One person's weekly insights: the figures of their week, storing what was written, the history
the app pages through, ratings, and forgetting them all when AI processing is withdrawn.

Only people who granted ``Purpose.AI_PROCESSING`` have insights: every path that writes one asks
``consents.require`` first, and withdrawing the consent deletes every stored insight
(``forget``), including weeks still waiting for their batch (whose answers are then dropped).
The weekly batch itself is ``focus.services.insight_runs``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from focus.adapters import clients, paths, store, tracing
from focus.domain.analytics_events import EventName, InsightRatedProperties, insight_rated_fact
from focus.domain.errors import NotFound, Reason
from focus.domain.insight_features import WEEK, WeekFeatures, features_of, week_start
from focus.domain.insight_history import (
    InsightState,
    StoredInsight,
    needs_planning,
    ready,
)
from focus.domain.insight_labels import InsightSource, Rating
from focus.domain.insights import Insight
from focus.domain.profiles import Profile
from focus.domain.reports import Day
from focus.domain.sessions import FocusSession
from focus.services import analytics, profiles, tolerant
from focus.services.days import DAYS_FROM

if TYPE_CHECKING:
    from focus.contracts.envelope import ClientInfo

SESSIONS_STARTED = store.QuerySpec(
    "person's sessions started in a range",
    paths.SESSIONS,
    filters=(("plannedStart", ">="), ("plannedStart", "<")),
    order_by=(("plannedStart", "ASCENDING"),),
)
READY_INSIGHTS = store.QuerySpec(
    "person's ready insights, latest first",
    paths.INSIGHTS,
    filters=(("state", "=="),),
    order_by=(("week", "DESCENDING"),),
)
READY_INSIGHTS_BEFORE = store.QuerySpec(
    "person's ready insights before a week, latest first",
    paths.INSIGHTS,
    filters=(("state", "=="), ("week", "<")),
    order_by=(("week", "DESCENDING"),),
)
PARTS_WITH_PERSON = store.QuerySpec(
    "insight batch parts holding a person (all runs)",
    paths.INSIGHT_PARTS,
    filters=(("uids", "array_contains"),),
    collection_group=True,
)
EVERY_INSIGHT = store.QuerySpec("person's insights", paths.INSIGHTS)
DELETE_PAGE = 200


def _ref(uid: str, week: date | str) -> Any:
    key = week if isinstance(week, str) else week.isoformat()
    return clients.firestore().document(paths.insight(uid, key))


def profile(uid: str) -> Profile | None:
    snapshot = store.get(clients.firestore().document(paths.user(uid)))
    return profiles.read(uid, snapshot.to_dict()) if snapshot.exists else None


@tracing.traced("insights.week_features")
def week_features(uid: str, week: date, person: Profile) -> WeekFeatures:
    """The figures of the person's week that ``week`` falls in (and the week before, for the
    change): at most 14 day documents and the sessions started in it."""
    settings = person.settings
    first = week_start(week, settings.week_starts_on)
    user = clients.firestore().document(paths.user(uid))
    days = [
        Day.model_validate(s.to_dict())
        for s in store.query(DAYS_FROM, user, [(first - WEEK).isoformat()], limit=14)
    ]
    # Local days lie within 14 hours of UTC's: a day either side, then sorted out locally.
    start = datetime.combine(first - timedelta(days=1), time(), tzinfo=UTC)
    sessions = [
        tolerant.read(FocusSession, s.to_dict(), kind="session", uid=uid)
        for s in store.query(SESSIONS_STARTED, user, [start, start + WEEK + timedelta(days=2)])
    ]
    return features_of(days, sessions, first, days, settings)


def stored(uid: str, week: date) -> StoredInsight | None:
    snapshot = store.get(_ref(uid, week))
    return StoredInsight.model_validate(snapshot.to_dict()) if snapshot.exists else None


@tracing.traced("insights.claim")
def claim(uid: str, week: date, key_prefix: str, now: datetime) -> str | None:
    """Mark the week pending under a new batch key starting with ``key_prefix``, unless it has
    an insight or a live claim; the key, or None. A live claim under the same prefix (this part's
    task, delivered again after a crash) is the same claim: its key is returned again."""
    import uuid

    from google.cloud import firestore as gcf

    ref = _ref(uid, week)

    def run(tx: gcf.Transaction) -> str | None:
        snapshot = store.get(ref, tx)
        current = StoredInsight.model_validate(snapshot.to_dict()) if snapshot.exists else None
        if (
            current is not None
            and current.state is InsightState.PENDING
            and (current.batch_key or "").startswith(key_prefix)
        ):
            return current.batch_key
        if not needs_planning(current, now):
            return None
        key = f"{key_prefix}{uuid.uuid4().hex}"
        pending = StoredInsight(
            week=week.isoformat(), state=InsightState.PENDING, created_at=now, batch_key=key
        )
        store.writes(tx).set(ref, pending.to_firestore())
        return key

    return store.transactional(run, name="insights.claim")


@tracing.traced("insights.store")
def store_ready(
    uid: str,
    features: WeekFeatures,
    insight: Insight,
    source: InsightSource,
    *,
    model: str | None,
    features_key: str,
    now: datetime,
    batch_key: str | None = None,
) -> bool:
    """Store the week's insight; whether it was stored. With ``batch_key`` only over that
    pending claim (a claim deleted by a withdrawal or an erasure stays deleted); without, only
    where nothing is ready yet. Never over a ready insight: the first answer stays."""
    from google.cloud import firestore as gcf

    ref = _ref(uid, features.week)

    def run(tx: gcf.Transaction) -> bool:
        snapshot = store.get(ref, tx)
        current = StoredInsight.model_validate(snapshot.to_dict()) if snapshot.exists else None
        if batch_key is not None and (
            current is None
            or current.state is not InsightState.PENDING
            or current.batch_key != batch_key
        ):
            return False
        if current is not None and current.state is InsightState.READY:
            return False
        written = ready(
            features.week,
            insight,
            source,
            model=model,
            features_key=features_key,
            created_at=current.created_at if current else now,
            now=now,
        )
        store.writes(tx).set(ref, written.to_firestore())
        return True

    return store.transactional(run, name="insights.store")


@tracing.traced("insights.history")
def history(uid: str, limit: int, before: str | None) -> tuple[list[StoredInsight], str | None]:
    """Ready insights, latest week first, ``limit`` at most, of weeks before ``before`` (a week
    from the previous page's ``next``); and the next page's ``before`` (None: no more)."""
    user = clients.firestore().document(paths.user(uid))
    if before is None:
        snapshots = store.query(READY_INSIGHTS, user, [InsightState.READY.value], limit=limit + 1)
    else:
        values = [InsightState.READY.value, before]
        snapshots = store.query(READY_INSIGHTS_BEFORE, user, values, limit=limit + 1)
    found = [StoredInsight.model_validate(s.to_dict()) for s in snapshots]
    page = found[:limit]
    return page, page[-1].week if len(found) > limit else None


@tracing.traced("insights.rate")
def rate(
    uid: str, week: str, rating: Rating, now: datetime, client: ClientInfo | None = None
) -> StoredInsight:
    """Record the person's thumbs up or down on a week's ready insight (the latest rating
    counts), and the ``insight_rated`` product event (one per week and rating)."""
    from google.cloud import firestore as gcf

    ref = _ref(uid, week)

    def run(tx: gcf.Transaction) -> StoredInsight:
        snapshot = store.get(ref, tx)
        current = StoredInsight.model_validate(snapshot.to_dict()) if snapshot.exists else None
        if current is None or current.state is not InsightState.READY:
            raise NotFound(
                f"No insight is ready for the week of {week}.",
                reason=Reason.INSIGHT_NOT_FOUND,
                details={"week": week},
            )
        store.writes(tx).update(ref, {"rating": rating.value, "ratedAt": now})
        return current.model_copy(update={"rating": rating, "rated_at": now})

    rated = store.transactional(run, name="insights.rate")
    if rated.source is not None:
        analytics.record(
            uid,
            EventName.INSIGHT_RATED,
            insight_rated_fact(week, rating),
            InsightRatedProperties(rating=rating, source=rated.source),
            now,
            client,
            create_key=True,
        )
    return rated


def _every_insight(uid: str) -> Iterator[list[Any]]:
    user = clients.firestore().document(paths.user(uid))
    while page := store.query(EVERY_INSIGHT, user, limit=DELETE_PAGE):
        yield page
        if len(page) < DELETE_PAGE:
            return


@tracing.traced("insights.forget")
def forget(uid: str) -> int:
    """Delete every stored insight of the person, pending weeks included, and take them out of
    every batch part still holding them: their lines' keys then name nobody (the batch files
    hold figures and a random key only, and are deleted when their run is done). How many
    insights were deleted. Idempotent: consent withdrawal and erasure both call it."""
    from google.cloud import firestore as gcf

    for snapshot in store.query(PARTS_WITH_PERSON, None, [uid]):
        people = (snapshot.to_dict() or {}).get("people") or {}
        update: dict[str, Any] = {
            f"people.{key}": gcf.DELETE_FIELD
            for key, entry in people.items()
            if entry.get("uid") == uid
        }
        update["uids"] = gcf.ArrayRemove([uid])
        store.update_now(snapshot.reference, update)
    deleted = 0
    for page in _every_insight(uid):
        batch = clients.firestore().batch()
        out = store.writes(batch)
        for snapshot in page:
            out.delete(snapshot.reference)
        batch.commit()
        deleted += len(page)
    return deleted

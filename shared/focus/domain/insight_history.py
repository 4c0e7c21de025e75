"""A person's stored weekly insights (``users/{uid}/insights/{week}``), one per week of theirs.

A week's document is created ``pending`` when the week is put into a batch (it holds the batch
line's random key, never anything the model wrote) and becomes ``ready`` once an insight checked
by ``insights.check`` (or the fallback) is stored. The document is the week's one claim: a second
run of the weekly job finds it and adds nothing, and an answer arriving for a week whose document
is gone (consent withdrawn, account erased) is dropped, never written back.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from focus.domain.insight_features import WEEK, local_day_of, week_start
from focus.domain.insight_labels import InsightSource, Rating
from focus.domain.insights import Insight
from focus.domain.model import Document
from focus.domain.profiles import Settings
from focus.domain.reports import LocalDay

# A pending week whose batch never answered (a lost job, a crash between steps) is planned again
# after this long; a batch job answers within 24 hours or fails.
PENDING_FOR = timedelta(hours=36)


class InsightState(StrEnum):
    PENDING = "pending"
    READY = "ready"


class StoredInsight(Document):
    week: LocalDay  # the first local day of the person's week (its document id)
    state: InsightState
    created_at: datetime
    batch_key: str | None = None  # pending: the batch line's key (random, in no file with a uid)
    insight: Insight | None = None  # ready
    source: InsightSource | None = None
    model: str | None = None  # the model that wrote it (None for the fallback)
    features_key: str | None = None  # insight_features.features_key: evaluation and the cache
    ready_at: datetime | None = None
    rating: Rating | None = None
    rated_at: datetime | None = None


def last_complete_week(now: datetime, settings: Settings) -> date:
    """The first day of the person's last week that has ended by ``now``, in their own time
    (zone, first day of the week, hour at which their day starts)."""
    return week_start(local_day_of(now, settings), settings.week_starts_on) - WEEK


def needs_planning(stored: StoredInsight | None, now: datetime) -> bool:
    """Whether a week must (again) go into a batch: nothing stored, or a pending claim whose batch
    has not answered for ``PENDING_FOR``."""
    if stored is None:
        return True
    return stored.state is InsightState.PENDING and now - stored.created_at >= PENDING_FOR


def ready(
    week: date,
    insight: Insight,
    source: InsightSource,
    *,
    model: str | None,
    features_key: str,
    created_at: datetime,
    now: datetime,
) -> StoredInsight:
    return StoredInsight(
        week=week.isoformat(),
        state=InsightState.READY,
        created_at=created_at,
        insight=insight,
        source=source,
        model=model,
        features_key=features_key,
        ready_at=now,
    )

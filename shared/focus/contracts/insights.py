"""``getInsights`` and ``rateInsight``: the person's weekly AI insights, and their thumbs."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from focus.domain.insight_history import StoredInsight
from focus.domain.insight_labels import InsightSource, Rating
from focus.domain.insights import Insight
from focus.domain.model import Contract
from focus.domain.reports import LocalDay

PAGE_SIZE = 5


class GetInsightsRequest(Contract):
    """The latest insights first; ``before`` (the previous page's ``next``) pages back."""

    limit: int = Field(default=PAGE_SIZE, ge=1, le=20)
    before: LocalDay | None = None


class InsightView(Contract):
    week: LocalDay  # the first local day of the person's week
    insight: Insight
    source: InsightSource  # "fallback": written by the template (the model failed or refused)
    rating: Rating | None
    ready_at: datetime

    @classmethod
    def of(cls, stored: StoredInsight) -> InsightView:
        assert stored.insight is not None and stored.source is not None
        return cls(
            week=stored.week,
            insight=stored.insight,
            source=stored.source,
            rating=stored.rating,
            ready_at=stored.ready_at or stored.created_at,
        )


class GetInsightsResponse(Contract):
    insights: list[InsightView]
    next: LocalDay | None  # pass as ``before`` for the next page; null: no older insight


class RateInsightRequest(Contract):
    week: LocalDay
    rating: Rating


class RateInsightResponse(Contract):
    week: LocalDay
    rating: Rating
    rated_at: datetime

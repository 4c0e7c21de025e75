"""``getCommunityComparison``: the person's screen time against everyone's on a local day."""

from __future__ import annotations

from datetime import datetime

from focus.domain.model import Contract
from focus.domain.reports import LocalDay


class CommunityComparisonRequest(Contract):
    day: LocalDay


class CommunityComparisonResponse(Contract):
    day: str
    screen_time_minutes: int | None
    share_using_more: float | None  # % of people who used their phone more that day
    people: int
    as_of: datetime | None

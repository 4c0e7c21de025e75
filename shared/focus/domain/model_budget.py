"""How many model calls a day may make: per person (online nudges) and for everyone (all calls).

A model call costs real money and a modified app can ask for one as often as it likes, so every
online call is counted before it is made and refused once a budget is spent: the caller then uses
its template instead (a nudge still goes out, written by the template). The weekly batch counts
its lines against the same daily total (one line per person and week by construction).

The limits live in ``config/insights`` (``callsPerPersonPerDay``, ``callsPerDay``), so the on-call
engineer can tighten them without a deploy; absent fields take ``DEFAULT``. The day is the UTC day
of the call: a budget is a cost control, not something a person sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

# Spread over this many shard documents so the day's total is not one hot document: at 10M people
# a streak-at-risk evening may ask for ~150 nudges a second (scripts/limits-sim), under 1 write/s
# per shard. Reading them all costs 200 reads, so an instance reads them once per TOTAL_KEPT_FOR.
SHARDS = 200
# How long an instance counts on the day's total it read: its own calls since are added to it,
# other instances' are not, so the day's budget may be overspent by about this long's calls of
# the other instances (a few thousand on the busiest evening, against a budget of millions).
TOTAL_KEPT_FOR = timedelta(minutes=1)


@dataclass(frozen=True)
class Budget:
    per_person_per_day: int
    per_day: int


DEFAULT = Budget(per_person_per_day=2, per_day=2_000_000)


def budget_of(config: dict[str, Any] | None) -> Budget:
    """The limits ``config/insights`` sets, each falling back to ``DEFAULT`` when absent or not a
    whole number of at least 0."""
    config = config or {}

    def limit(field: str, default: int) -> int:
        value = config.get(field)
        return value if isinstance(value, int) and value >= 0 else default

    return Budget(
        per_person_per_day=limit("callsPerPersonPerDay", DEFAULT.per_person_per_day),
        per_day=limit("callsPerDay", DEFAULT.per_day),
    )


def allows(budget: Budget, person_used: int | None, day_used: int, calls: int = 1) -> bool:
    """Whether ``calls`` more fit: the day's total, and the person's (``None``: not a person's
    call, e.g. the weekly batch)."""
    if day_used + calls > budget.per_day:
        return False
    return person_used is None or person_used + calls <= budget.per_person_per_day


def granted(budget: Budget, day_used: int, wanted: int) -> int:
    """How many of ``wanted`` batch lines the day's total still allows."""
    return max(0, min(wanted, budget.per_day - day_used))


def budget_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


@dataclass(frozen=True)
class DayTotal:
    """The day's calls as an instance last read them from the shards, plus the calls it counted
    itself since (``counted``)."""

    day: date
    read_at: datetime
    used: int

    def usable(self, now: datetime) -> bool:
        """Whether it may stand for the day's total at ``now``: the same budget day, read less
        than ``TOTAL_KEPT_FOR`` ago."""
        return self.day == budget_day(now) and now - self.read_at < TOTAL_KEPT_FOR

    def counted(self, calls: int) -> DayTotal:
        return DayTotal(self.day, self.read_at, self.used + calls)

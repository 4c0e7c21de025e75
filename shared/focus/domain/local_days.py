"""Where a person's days and weeks begin, and which of their settings decide it right now.

A person's local day runs from ``dayStartHour`` in their ``timezone`` to the same hour the next
day; their week starts on ``weekStartsOn``. Together these are the person's *day boundary*.

The emergency pass suspends limits and locks until the local day ends. If the boundary moved the
moment the person changed their settings, moving ``dayStartHour`` to the current hour (or the
timezone to one where the day just started) right before using the pass would stretch the
suspension to about 24 hours. So a change of the boundary takes effect from the next local day,
computed with the boundary in effect when the change was observed. The profile keeps a
server-owned ``BoundaryRecord`` (``dayBoundary``): the boundary in effect, and the one waiting to
take over with the moment it does. Clients never write it (firestore.rules); the server observes
settings changes in a trigger on the profile and in the emergency pass's own transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from focus.domain.model import Document


def _known_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PydanticCustomError(
            "unknown_timezone", "unknown IANA timezone {name}", {"name": name[:64]}
        ) from exc
    return name


Timezone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_timezone)]


class DayBoundary(Document):
    """The settings that decide where the person's days and weeks begin."""

    timezone: Timezone
    day_start_hour: int = Field(ge=0, le=23)
    week_starts_on: int = Field(ge=1, le=7)  # ISO weekday: 1 Monday ... 7 Sunday

    def next_day_start(self, now: datetime) -> datetime:
        """The first moment after ``now`` at which a local day starts (in the local zone).

        Wall-clock arithmetic, so a day is 23 or 25 hours long across a DST change. A start hour
        the clocks skip (02:00 when they jump from 02:00 to 03:00) begins the day at the jump; a
        start hour that happens twice (clocks go back) begins it the first time.
        """
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        start = local.replace(hour=self.day_start_hour, minute=0, second=0, microsecond=0, fold=0)
        # Same tzinfo on both sides: Python compares (and adds) wall-clock times here.
        if start <= local:
            start += timedelta(days=1)
        if start.astimezone(UTC) <= now.astimezone(UTC):
            # Defensive: a wall time after `local` that is not later in real time (folds).
            start += timedelta(days=1)
        return start


class BoundaryRecord(Document):
    """Server-owned: the boundary in effect, and a change waiting for the next local day.

    ``pending`` takes over at ``pending_from``: the next day start, computed with ``in_effect``,
    after the moment the change was observed. Readers settle it lazily (``at``)."""

    in_effect: DayBoundary
    pending: DayBoundary | None = None
    pending_from: datetime | None = None

    @model_validator(mode="after")
    def _pending_has_a_start(self) -> BoundaryRecord:
        if (self.pending is None) != (self.pending_from is None):
            raise ValueError("pending and pendingFrom go together")
        return self

    def at(self, now: datetime) -> DayBoundary:
        """The boundary in effect at ``now``."""
        return self.settled(now).in_effect

    def latest(self) -> DayBoundary:
        """The boundary the settings asked for last: the pending one if any."""
        return self.pending or self.in_effect

    def settled(self, now: datetime) -> BoundaryRecord:
        """The record with a pending change whose time has come made the one in effect."""
        if self.pending is None or self.pending_from is None:
            return self
        if self.pending_from.astimezone(UTC) <= now.astimezone(UTC):
            return BoundaryRecord(in_effect=self.pending)
        return self

    def observe(self, wanted: DayBoundary, now: datetime) -> BoundaryRecord:
        """The record after seeing the settings ask for ``wanted`` at ``now``.

        A change takes effect at the next day start of the boundary in effect now; asking again
        for what is already pending does not postpone it, and asking for the boundary in effect
        drops a pending change (undoing it before it took effect moves nothing)."""
        current = self.settled(now)
        if wanted == current.in_effect:
            return BoundaryRecord(in_effect=current.in_effect)
        if wanted == current.pending:
            return current
        return BoundaryRecord(
            in_effect=current.in_effect,
            pending=wanted,
            pending_from=current.in_effect.next_day_start(now).astimezone(UTC),
        )

"""Pure rules of the background workers (functions/jobs): when a task that arrives early waits,
how long a failing count is retried, which sessions and day changes the sweeps look at, and what
an ``eraseAccount`` task carries from one step to the next.

The workers themselves (``focus.services.completions``, ``days``, ``privacy.erasure``) read and
write; these rules only decide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from focus.domain.sessions import COUNTED_MEMORY

# --- The planned-end task ------------------------------------------------------------------------

# How far ahead of the planned end an early task still waits by failing: the queue's backoff for
# completeSessionAtPlannedEnd (10 s doubling 4 times to 160 s, then 300 s; 10 attempts) spans
# about 25 minutes. Earlier than this, the task re-enqueues itself for the planned end instead.
EARLY_RETRY_REACH = timedelta(minutes=20)


def defers_early_task(planned_end: datetime, now: datetime) -> bool:
    """Whether a planned-end task arriving at ``now`` is too early for its queue's retries to
    reach ``planned_end``: it then re-enqueues itself for the planned end, once."""
    return planned_end - now > EARLY_RETRY_REACH


# Planned ends bunch at round times (:00, :30), and the queue dispatches at most 500 tasks a
# second: each session's task is due up to this long after its planned end, so a bunch spreads
# over half a minute. Never before it: an early task only waits (``defers_early_task``).
PLANNED_END_SPREAD = timedelta(seconds=30)


def planned_end_task_due(planned_end: datetime, session_key: str, now: datetime) -> datetime:
    """When a session's planned-end task is due: its planned end plus a share of
    ``PLANNED_END_SPREAD`` chosen by the session (stable: every enqueue asks for the same
    moment). The planned end itself, and so the session's end, stay as they are. A planned end
    already passed is due at once, as it was: there is no bunch to spread, only a late session."""
    if planned_end <= now:
        return planned_end
    digest = hashlib.blake2b(session_key.encode(), digest_size=8).digest()
    spread_ms = int(PLANNED_END_SPREAD.total_seconds() * 1000)
    return planned_end + timedelta(milliseconds=int.from_bytes(digest, "big") % spread_ms)


# --- The count task ------------------------------------------------------------------------------

# A count still failing this long after its session completed will not succeed by retrying (a
# bug, a long outage): it goes to the dead letters for a person to look at, instead of retrying
# for days (docs/runbooks/dead-letters.md). The queue's attempts outlast it (5 s doubling 4 times
# to 80 s, then 300 s: 100 attempts take over 8 hours), so this limit is what ends the retries;
# the attempt count only matters if the limit is raised past it.
COUNT_MAX_EVENT_AGE = timedelta(hours=6)
COUNT_MAX_ATTEMPTS = 100


def task_event_time(data: Mapping[str, Any], now: datetime) -> datetime:
    """When the fact behind a task happened (``eventTime``, the trigger's event time): retries
    are bounded by its age. A task without one (dispatched by hand) is as old as now."""
    try:
        moment = datetime.fromisoformat(data["eventTime"])
    except (KeyError, TypeError, ValueError):
        return now
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def retries_count(event_time: datetime, attempt: int, now: datetime) -> bool:
    """Whether a failed count (its ``attempt``, from 1) goes back to its queue for another try;
    otherwise it is dead-lettered."""
    return now - event_time < COUNT_MAX_EVENT_AGE and attempt < COUNT_MAX_ATTEMPTS


# --- The sweeps ----------------------------------------------------------------------------------

# The uncounted-sessions sweep runs every 30 minutes: its window of completed sessions overlaps
# the previous run's by five minutes and leaves the last fifteen to the tasks.
SWEEP_WINDOW = timedelta(minutes=50)
SWEEP_GRACE = timedelta(minutes=15)
# Day changes younger than this are still their trigger's and task's.
DAY_CHANGES_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class Window:
    """From ``since`` (included) to ``until`` (excluded)."""

    since: datetime
    until: datetime


def overdue_window(now: datetime) -> Window:
    """Planned ends of active sessions the sweep completes: back to the counted-focus memory
    (48 h), so what it counts never overlaps focus counted earlier; the last fifteen minutes are
    the planned-end tasks'."""
    return Window(now - COUNTED_MEMORY, now - SWEEP_GRACE)


def uncounted_window(now: datetime) -> Window:
    """Ends of completed sessions the sweep makes sure are counted."""
    return Window(now - SWEEP_WINDOW, now - SWEEP_GRACE)


def day_changes_left_behind(now: datetime) -> datetime:
    """Day changes created before this were left behind by a failed trigger run or task."""
    return now - DAY_CHANGES_GRACE


# --- The erasure task ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureTask:
    """What an ``eraseAccount`` task carries. ``attempt`` numbers restarts of a stalled erasure;
    ``sweep_uid`` marks the sweep an hour after the erasure (documents written meanwhile with a
    still-valid token); ``step`` counts the steps run so far. ``batch_size`` and ``chain`` exist
    so tests can interrupt an erasure half-way (None: the erasure's own batch size)."""

    erasure_id: str
    sweep_uid: str | None = None
    batch_size: int | None = None
    chain: bool = True
    attempt: int = 0
    step: int = 0

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> ErasureTask:
        sweep_uid = data.get("sweepUserId")
        batch_size = data.get("batchSize")
        return cls(
            erasure_id=str(data["erasureId"]),
            sweep_uid=str(sweep_uid) if sweep_uid is not None else None,
            batch_size=int(batch_size) if batch_size is not None else None,
            chain=bool(data.get("chain", True)),
            attempt=int(data.get("attempt", 0)),
            step=int(data.get("step", 0)),
        )

    def follow_up(self, step: int, batch_size: int) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The payload of the task that continues this one from ``step``, and the parts of its
        task id: unique per attempt and phase, so a restart never collides with its
        predecessor, and a redelivered task enqueues the same follow-up (a no-op)."""
        payload: dict[str, Any] = {
            "erasureId": self.erasure_id,
            "batchSize": batch_size,
            "step": step,
        }
        if self.sweep_uid is not None:
            payload["sweepUserId"] = self.sweep_uid
        if self.attempt:
            payload["attempt"] = self.attempt
        phase = ("sweep",) if self.sweep_uid is not None else ()
        at = (str(step),) if not self.attempt else ("attempt", str(self.attempt), str(step))
        return payload, ("erase", self.erasure_id, *phase, *at)

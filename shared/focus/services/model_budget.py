"""Counting model calls against the day's budgets (``focus.domain.model_budget``) before making
them: the person's count (``users/{uid}/modelUse/{day}``), read and raised in one transaction,
and everyone's (``modelDays/{day}/shards/{n}``), raised in it on a random shard. An instance reads
the day's shards at most once a minute (``TOTAL_KEPT_FOR``) and adds its own calls to what it
read: 200 reads a minute per instance instead of 200 per call."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from typing import Any

from focus.adapters import clients, paths, store, tracing
from focus.domain import model_budget as domain
from focus.domain.model_budget import Budget

CONFIG = f"{paths.CONFIG}/insights"  # the limits; admins edit it
KEPT_FOR = timedelta(days=2)


def budget() -> Budget:
    """Today's limits, as ``config/insights`` sets them (one read: a call costs far more)."""
    return domain.budget_of(store.get(clients.firestore().document(CONFIG)).to_dict())


def _shard_refs(day: str) -> list[Any]:
    db = clients.firestore()
    return [db.document(paths.model_day_shard(day, n)) for n in range(domain.SHARDS)]


def _calls(snapshot: Any) -> int:
    return int((snapshot.to_dict() or {}).get("calls", 0)) if snapshot.exists else 0


# The day's total as this instance knows it; calls on its threads update it under the lock.
_day_total: domain.DayTotal | None = None
_day_total_lock = threading.Lock()


def _day_used(shards: list[Any], now: datetime, *, fresh: bool) -> int:
    """The day's calls so far: what this instance read less than a minute ago plus its own calls
    since, or (``fresh``, or none usable) the sum of the shards, read now."""
    global _day_total
    with _day_total_lock:
        known = _day_total
    if not fresh and known is not None and known.usable(now):
        return known.used
    used = sum(_calls(s) for s in store.get_all(shards))
    with _day_total_lock:
        _day_total = domain.DayTotal(domain.budget_day(now), now, used)
    return used


def _counted_here(calls: int, now: datetime) -> None:
    global _day_total
    with _day_total_lock:
        if _day_total is not None and _day_total.usable(now):
            _day_total = _day_total.counted(calls)


@tracing.traced("model_budget.spend")
def spend(uid: str | None, now: datetime, calls: int = 1) -> int:
    """Count ``calls`` model calls for ``uid`` (``None``: the weekly batch, counted for the day
    only) if the budgets allow them; how many were granted: ``calls`` or none for a person's
    call, and for the batch as many as the day has left.

    The day's total is read outside the transaction (reading every shard in it would make every
    call contend with every other), and a person's call takes the instance's total of the last
    minute (``_day_used``): concurrent calls may overspend it by the calls in flight and the
    other instances' calls of that minute. The weekly batch, asking for many lines at once, reads
    the shards afresh. The person's count is read and raised in the transaction: exact."""
    from google.cloud import firestore as gcf

    limits = budget()
    day = domain.budget_day(now).isoformat()
    shards = _shard_refs(day)
    day_used = _day_used(shards, now, fresh=uid is None)
    counted = {"calls": gcf.Increment(0), "expireAt": now + KEPT_FOR}
    if uid is None:
        allowed = domain.granted(limits, day_used, calls)
        if allowed:
            store.set_now(
                random.choice(shards), counted | {"calls": gcf.Increment(allowed)}, merge=True
            )
            _counted_here(allowed, now)
        return allowed
    person = clients.firestore().document(paths.model_use(uid, day))

    def run(tx: gcf.Transaction) -> int:
        person_used = _calls(store.get(person, tx))
        if not domain.allows(limits, person_used, day_used, calls):
            return 0
        out = store.writes(tx)
        raised = counted | {"calls": gcf.Increment(calls)}
        out.set(random.choice(shards), raised, merge=True)
        out.set(person, raised, merge=True)
        return calls

    granted = store.transactional(run, name="model_budget.spend")
    _counted_here(granted, now)
    return granted

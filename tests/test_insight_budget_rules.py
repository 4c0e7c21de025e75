"""Which week an insight is for, when a week is planned again, and how the model budget decides:
pure rules, no emulator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from focus.domain import model_budget
from focus.domain.insight_history import (
    PENDING_FOR,
    InsightState,
    StoredInsight,
    last_complete_week,
    needs_planning,
)
from focus.domain.model_budget import Budget
from focus.domain.profiles import Settings

MONDAY_NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_the_week_is_the_persons_last_complete_week_in_their_own_time() -> None:
    berlin = Settings(timezone="Europe/Berlin", week_starts_on=1, day_start_hour=4)
    assert last_complete_week(MONDAY_NOON, berlin) == date(2026, 11, 16)
    # Before their day starts (03:00 local on Monday is still Sunday for them): the week before.
    early = datetime(2026, 11, 23, 2, tzinfo=UTC)
    assert last_complete_week(early, berlin) == date(2026, 11, 9)
    # A week starting on Sunday ended on Saturday.
    us = Settings(timezone="America/New_York", week_starts_on=7, day_start_hour=0)
    assert last_complete_week(MONDAY_NOON, us) == date(2026, 11, 15)
    # Already Tuesday in Kiritimati (UTC+14) at 12:00 UTC Monday: the same last week.
    kiritimati = Settings(timezone="Pacific/Kiritimati", week_starts_on=1, day_start_hour=0)
    assert last_complete_week(MONDAY_NOON, kiritimati) == date(2026, 11, 16)


def test_a_week_is_planned_once_unless_its_batch_never_answered() -> None:
    pending = StoredInsight(
        week="2026-11-16", state=InsightState.PENDING, created_at=MONDAY_NOON, batch_key="k"
    )
    assert needs_planning(None, MONDAY_NOON)
    assert not needs_planning(pending, MONDAY_NOON + PENDING_FOR - timedelta(seconds=1))
    assert needs_planning(pending, MONDAY_NOON + PENDING_FOR)
    done = pending.model_copy(update={"state": InsightState.READY})
    assert not needs_planning(done, MONDAY_NOON + timedelta(days=30))


def test_the_budget_refuses_a_call_over_the_persons_or_the_days_limit() -> None:
    limits = Budget(per_person_per_day=2, per_day=10)
    assert model_budget.allows(limits, person_used=1, day_used=9)
    assert not model_budget.allows(limits, person_used=2, day_used=0)
    assert not model_budget.allows(limits, person_used=0, day_used=10)
    assert model_budget.allows(limits, person_used=None, day_used=9)
    assert model_budget.granted(limits, day_used=7, wanted=5) == 3
    assert model_budget.granted(limits, day_used=12, wanted=5) == 0


def test_the_limits_come_from_config_with_defaults_for_missing_or_bad_values() -> None:
    assert model_budget.budget_of(None) == model_budget.DEFAULT
    assert model_budget.budget_of({"callsPerDay": 0}) == Budget(
        per_person_per_day=model_budget.DEFAULT.per_person_per_day, per_day=0
    )
    assert model_budget.budget_of({"callsPerPersonPerDay": -1, "callsPerDay": "many"}) == (
        model_budget.DEFAULT
    )


def test_an_instance_counts_on_the_days_total_for_a_minute_then_reads_it_again() -> None:
    """Reading every shard of the day's total on each nudge would cost 200 reads a call: an
    instance keeps what it read for a minute and adds its own calls to it."""
    read = model_budget.DayTotal(MONDAY_NOON.date(), MONDAY_NOON, used=40)
    after_two_calls = read.counted(1).counted(1)

    assert after_two_calls.used == 42
    assert after_two_calls.usable(MONDAY_NOON + timedelta(seconds=59))
    assert not after_two_calls.usable(MONDAY_NOON + model_budget.TOTAL_KEPT_FOR)
    # A new budget day starts from the shards, even within the minute.
    just_before_midnight = datetime(2026, 11, 23, 23, 59, 30, tzinfo=UTC)
    late = model_budget.DayTotal(just_before_midnight.date(), just_before_midnight, used=40)
    assert not late.usable(just_before_midnight + timedelta(seconds=31))

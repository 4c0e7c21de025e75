"""The rules the counting, hours-saved and emergency-pass transactions apply, as pure functions:
milestones (focus.domain.milestones), counting sessions and their stages (focus.domain.sessions),
adding to hours saved (focus.domain.hours_saved) and the emergency pass (focus.domain.emergency).

No emulator. Every moment is fixed: nothing here reads the clock, the time of day or the machine's
timezone (hypothesis draws moments from fixed ranges, in explicit zones)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focus.domain import derivation, emergency, hours_saved, milestones, sessions
from focus.domain.errors import FailedPrecondition
from focus.domain.local_days import BoundaryRecord, DayBoundary
from focus.domain.milestones import MilestoneKind
from focus.domain.profiles import StreakSummary
from focus.domain.reports import Day, DayTotals
from focus.domain.sessions import CountingStage, FocusInterval, FocusSession, SessionStatus

PURE = settings(max_examples=200, derandomize=True, database=None, deadline=None)

MORNING = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday
COUNTED_AT = MORNING + timedelta(days=1)
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
ZONES = ["UTC", "Europe/Berlin", "Asia/Tokyo", "America/New_York", "Pacific/Auckland"]

moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


def focus(start_minute: int, minutes: int, **changes: Any) -> FocusSession:
    """A completed session starting ``start_minute`` after MORNING, planned for ``minutes``."""
    start = MORNING + timedelta(minutes=start_minute)
    return FocusSession(
        status=SessionStatus.COMPLETED,
        planned_start=start,
        planned_end=start + timedelta(minutes=minutes),
        **changes,
    )


def keys(found: list[milestones.Milestone]) -> list[str]:
    return [m.key for m in found]


# -- milestones (focus.domain.milestones) --------------------------------------------------------


def test_a_value_reaches_the_milestones_between_where_it_was_and_where_it_is() -> None:
    reached = milestones.newly_reached(MilestoneKind.FOCUSED_HOURS, 0, 10, MORNING)

    assert keys(reached) == ["focusedHours-1", "focusedHours-10"]
    assert all(m.reached_at == MORNING for m in reached)
    assert keys(milestones.newly_reached(MilestoneKind.STREAK_DAYS, 6, 7, MORNING)) == [
        "streakDays-7"
    ]


def test_a_milestone_already_reached_is_not_reached_again() -> None:
    assert milestones.newly_reached(MilestoneKind.FOCUSED_HOURS, 10, 10, MORNING) == []
    assert milestones.newly_reached(MilestoneKind.FOCUSED_HOURS, 10, 49, MORNING) == []
    assert milestones.newly_reached(MilestoneKind.STREAK_DAYS, 30, 3, MORNING) == []  # fell


@PURE
@given(
    kind=st.sampled_from(MilestoneKind),
    values=st.lists(st.integers(min_value=0, max_value=2000), min_size=2, max_size=6),
)
def test_growing_step_by_step_reaches_each_milestone_once_as_one_step_would(
    kind: MilestoneKind, values: list[int]
) -> None:
    steps = sorted(values)
    by_steps = [
        m.key
        for before, after in itertools.pairwise(steps)
        for m in milestones.newly_reached(kind, before, after, MORNING)
    ]

    at_once = keys(milestones.newly_reached(kind, steps[0], steps[-1], MORNING))
    assert by_steps == at_once
    assert len(set(by_steps)) == len(by_steps)
    thresholds = milestones.thresholds(kind)
    assert at_once == [f"{kind.value}-{t}" for t in thresholds if steps[0] < t <= steps[-1]]


def test_a_session_reaches_the_focused_hours_milestone_its_minutes_cross() -> None:
    before = 50  # minutes focused so far

    first = sessions.count_sessions({"s1": focus(0, 20)}, [], before, COUNTED_AT)
    second = sessions.count_sessions({"s2": focus(60, 30)}, first.counted_focus, 70, COUNTED_AT)

    assert keys(first.milestones) == ["focusedHours-1"]
    assert second.milestones == []  # one hour is reached once


def test_one_long_session_reaches_every_milestone_it_crosses() -> None:
    count = sessions.count_sessions({"s1": focus(0, 24 * 60)}, [], 9 * 60 + 59, COUNTED_AT)

    assert keys(count.milestones) == ["focusedHours-10"]
    assert count.added_minutes == 24 * 60


def streak_day(n: int, met_goal: bool = True) -> Day:
    """Day ``n`` of November 2026, within its goal or not."""
    return Day(
        day=date(2026, 11, n).isoformat(),
        timezone="Europe/Berlin",
        totals=DayTotals(screen_time_minutes=60 if met_goal else 600),
        goal_minutes=120,
        met_goal=met_goal,
        revision=1,
    )


def streak_milestones(days: list[Day], streak: StreakSummary) -> list[str]:
    changed = {d.day for d in days}
    account = datetime(2025, 1, 1, tzinfo=UTC)
    return keys(derivation.derive(changed, None, days, {}, streak, account, MORNING).milestones)


def test_a_streak_reaches_each_streak_milestone_once() -> None:
    week = [streak_day(n) for n in range(1, 8)]

    assert streak_milestones(week, StreakSummary()) == ["streakDays-3", "streakDays-7"]
    # Derived again (a retried task), or a new run that only matches the longest: nothing new.
    assert streak_milestones(week, StreakSummary(current=7, longest=7)) == []
    broken_then_again = [streak_day(8, met_goal=False)] + [streak_day(n) for n in range(9, 16)]
    assert streak_milestones(broken_then_again, StreakSummary(current=7, longest=7)) == []
    fortnight = [streak_day(n) for n in range(1, 15)]
    assert streak_milestones(fortnight, StreakSummary(current=7, longest=7)) == ["streakDays-14"]


# -- counting sessions (focus.domain.sessions.count_sessions) ------------------------------------


def test_sessions_counted_together_count_in_the_order_they_ended() -> None:
    early = focus(0, 60)
    late = focus(30, 60)  # starts half-way through ``early``

    count = sessions.count_sessions({"late": late, "early": early}, [], 0, COUNTED_AT)

    assert [(c.session_id, c.result.focused_minutes) for c in count.sessions] == [
        ("early", 60),
        ("late", 30),
    ]
    assert count.added_minutes == 90
    assert count.counted_focus == [
        FocusInterval(start=MORNING, end=MORNING + timedelta(minutes=90))
    ]
    assert all(c.result.counted_at == COUNTED_AT for c in count.sessions)
    assert all(c.result.added_to_hours_saved_at is None for c in count.sessions)


def test_a_session_ended_early_finishes_when_it_ended_and_counts_until_then() -> None:
    ended = focus(0, 60, ended_at=MORNING + timedelta(minutes=25))

    assert ended.finished_at == MORNING + timedelta(minutes=25)
    assert focus(0, 60).finished_at == MORNING + timedelta(minutes=60)
    count = sessions.count_sessions({"s": ended}, [], 0, COUNTED_AT)
    assert count.added_minutes == 25


session_plans = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=20 * 60),  # start, minutes after MORNING
        st.integers(min_value=1, max_value=6 * 60),  # planned length
        st.integers(min_value=0, max_value=6 * 60),  # ended after this many minutes, if earlier
    ),
    min_size=1,
    max_size=8,
)


def planned(plans: list[tuple[int, int, int]]) -> dict[str, FocusSession]:
    out = {}
    for i, (start, length, ended) in enumerate(plans):
        early = MORNING + timedelta(minutes=start + ended) if ended < length else None
        out[f"s{i}"] = focus(start, length, ended_at=early)
    return out


@PURE
@given(plans=session_plans, before=st.integers(min_value=0, max_value=3000))
def test_counting_a_burst_together_counts_what_counting_each_in_turn_would(
    plans: list[tuple[int, int, int]], before: int
) -> None:
    uncounted = planned(plans)

    together = sessions.count_sessions(uncounted, [], before, COUNTED_AT)

    counted: list[FocusInterval] = []
    total, one_by_one, reached = before, [], []
    for session_id, session in sorted(uncounted.items(), key=lambda i: i[1].finished_at):
        alone = sessions.count_sessions({session_id: session}, counted, total, COUNTED_AT)
        counted, total = alone.counted_focus, total + alone.added_minutes
        one_by_one += alone.sessions
        reached += keys(alone.milestones)
    assert together.sessions == one_by_one
    assert together.counted_focus == counted
    assert before + together.added_minutes == total
    assert keys(together.milestones) == reached


@PURE
@given(plans=session_plans)
def test_overlapping_sessions_never_count_more_than_the_time_that_passed(
    plans: list[tuple[int, int, int]],
) -> None:
    uncounted = planned(plans)

    count = sessions.count_sessions(uncounted, [], 0, COUNTED_AT)

    blocked = sessions.remember_counted(
        [], [s for each in uncounted.values() for s in sessions.focused_spans(each)], COUNTED_AT
    )
    passed = sum(((i.end - i.start) for i in blocked), timedelta(0))
    assert count.added_minutes * 60 <= passed.total_seconds()
    assert count.added_minutes == sum(c.result.focused_minutes for c in count.sessions)


# -- hours saved: each counted session adds its minutes once (focus.domain.hours_saved) ---------


def updated(stored: dict[str, Any], fields: dict[str, object]) -> dict[str, Any]:
    """``stored`` after a Firestore update with dotted field paths."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in stored.items()}
    for path, value in fields.items():
        *parents, name = path.split(".")
        target = out
        for parent in parents:
            target = target.setdefault(parent, {})
        target[name] = value
    return out


def test_a_counted_session_is_pending_until_its_minutes_are_in_hours_saved_once() -> None:
    session = focus(0, 45)
    assert sessions.counting_stage(session) is CountingStage.UNCOUNTED
    assert hours_saved.pending_minutes(session) is None  # nothing to add before it is counted

    result = sessions.count_sessions({"s": session}, [], 0, COUNTED_AT).sessions[0].result
    counted = session.model_copy(update={"result": result})
    assert sessions.counting_stage(counted) is CountingStage.PENDING_HOURS_SAVED
    assert hours_saved.pending_minutes(counted) == 45

    added_at = COUNTED_AT + timedelta(seconds=3)
    stored = updated(counted.to_firestore(), hours_saved.added_fields(added_at))
    added = FocusSession.model_validate(stored)
    assert added.result is not None and added.result.added_to_hours_saved_at == added_at
    assert added.result.focused_minutes == 45 and added.result.counted_at == COUNTED_AT
    assert sessions.counting_stage(added) is CountingStage.DONE
    assert hours_saved.pending_minutes(added) is None  # a redelivery adds nothing


def test_a_session_that_counted_no_minutes_is_still_pending_until_marked() -> None:
    nothing = focus(0, 30, ended_at=MORNING + timedelta(seconds=59))
    result = sessions.count_sessions({"s": nothing}, [], 0, COUNTED_AT).sessions[0].result

    counted = nothing.model_copy(update={"result": result})

    assert hours_saved.pending_minutes(counted) == 0  # added (as 0) and marked, not skipped
    assert sessions.counting_stage(counted) is CountingStage.PENDING_HOURS_SAVED


@PURE
@given(
    counted=st.booleans(),
    added=st.booleans(),
    minutes=st.integers(min_value=0, max_value=sessions.MAX_SESSION_MINUTES),
)
def test_a_stored_session_shows_the_stage_its_model_has(
    counted: bool, added: bool, minutes: int
) -> None:
    result = None
    if counted:
        result = sessions.SessionResult(
            focused_minutes=minutes,
            counted_at=COUNTED_AT,
            added_to_hours_saved_at=COUNTED_AT if added else None,
        )
    session = focus(0, 30, result=result)

    assert sessions.stored_counting_stage(session.to_firestore()) is sessions.counting_stage(
        session
    )


def test_the_stage_of_a_document_no_model_accepts_is_read_from_its_raw_fields() -> None:
    # The sweep and the counting query see these too; the session's own task dead-letters it.
    assert sessions.stored_counting_stage({}) is CountingStage.UNCOUNTED
    assert sessions.stored_counting_stage({"result": "junk"}) is CountingStage.UNCOUNTED
    assert sessions.stored_counting_stage({"result": None}) is CountingStage.UNCOUNTED
    assert (
        sessions.stored_counting_stage({"result": {"focusedMinutes": "x"}})
        is CountingStage.PENDING_HOURS_SAVED
    )
    assert (
        sessions.stored_counting_stage({"result": {"addedToHoursSavedAt": COUNTED_AT}})
        is CountingStage.DONE
    )


# -- completion at the planned end (focus.domain.sessions) ---------------------------------------


@PURE
@given(offset=st.integers(min_value=-10_000, max_value=10_000))
def test_an_active_session_is_either_due_or_due_later_at_its_planned_end(offset: int) -> None:
    active = focus(0, 50).model_copy(update={"status": SessionStatus.ACTIVE})
    now = active.planned_end + timedelta(seconds=offset)

    due_later = sessions.due_later(active, now)

    assert (due_later is None) is sessions.completion_due(active, now)
    assert due_later in (None, active.planned_end)
    assert sessions.due_later(focus(0, 50), now) is None  # a completed session is never due


# -- the emergency pass (focus.domain.emergency) -------------------------------------------------


def test_the_pass_returns_a_rolling_week_after_use_not_at_the_next_week_start() -> None:
    sunday_night = datetime(2026, 11, 29, 23, 30, tzinfo=BERLIN)
    used = emergency.use(emergency.EmergencyPass(), sunday_night)

    monday = datetime(2026, 11, 30, 0, 30, tzinfo=BERLIN)  # a new week has started
    with pytest.raises(FailedPrecondition) as refused:
        emergency.use(used, monday)
    assert refused.value.details["reason"] == "EMERGENCY_PASS_USED"
    assert refused.value.details["nextAvailableAt"] == "2026-12-06T22:30:00Z"
    with pytest.raises(FailedPrecondition):
        emergency.use(used, sunday_night + timedelta(days=7, seconds=-1))

    again = emergency.use(used, sunday_night + timedelta(days=7))
    assert again.times_used == 2 and again.last_used_at == sunday_night + timedelta(days=7)


def test_a_week_is_seven_times_24_hours_even_when_the_clocks_go_back() -> None:
    saturday = datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN)  # CEST; clocks go back on the 25th
    used = emergency.use(emergency.EmergencyPass(), saturday)

    available = emergency.next_available_at(used, saturday)

    assert available == datetime(2026, 10, 31, 10, 0, tzinfo=UTC)  # 11:00 CET, not 12:00
    assert emergency.next_available_at(used, available) is None


@PURE
@given(used_at=moments, later=st.integers(min_value=0, max_value=14 * 24 * 3600))
def test_the_pass_is_available_again_exactly_one_week_after_use(
    used_at: datetime, later: int
) -> None:
    used = emergency.EmergencyPass(last_used_at=used_at, times_used=1)
    now = used_at + timedelta(seconds=later)

    available = emergency.next_available_at(used, now)

    if later >= 7 * 24 * 3600:
        assert available is None
        assert emergency.use(used, now).times_used == 2
    else:
        assert available == used_at + timedelta(days=7)
        with pytest.raises(FailedPrecondition):
            emergency.use(used, now)


@PURE
@given(used_at=moments, zone=st.sampled_from(ZONES), later=st.integers(0, 8 * 24 * 3600))
def test_where_the_person_is_does_not_move_when_the_pass_returns(
    used_at: datetime, zone: str, later: int
) -> None:
    used = emergency.EmergencyPass(last_used_at=used_at.astimezone(ZoneInfo(zone)), times_used=1)
    now = used_at + timedelta(seconds=later)

    in_zone = emergency.next_available_at(used, now.astimezone(ZoneInfo(zone)))

    assert in_zone == emergency.next_available_at(
        emergency.EmergencyPass(last_used_at=used_at, times_used=1), now
    )


def a_record(zone: str = "Asia/Tokyo", hour: int = 4) -> BoundaryRecord:
    return BoundaryRecord(in_effect=boundary(zone, hour))


def boundary(zone: str = "Asia/Tokyo", hour: int = 4) -> DayBoundary:
    return DayBoundary(timezone=zone, day_start_hour=hour, week_starts_on=1)


def test_using_the_pass_suspends_until_the_persons_local_day_ends() -> None:
    evening = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo

    used = emergency.use_pass(emergency.EmergencyPass(), a_record(), boundary(), evening)

    assert used.suspended_until.isoformat() == "2026-11-30T04:00:00+09:00"
    assert used.next_available_at == evening + timedelta(days=7)
    assert used.emergency_pass == emergency.EmergencyPass(last_used_at=evening, times_used=1)
    assert used.day_boundary == a_record()  # nothing changed: nothing to write
    # What launch shows afterwards is what the pass answered.
    assert emergency.next_available_at(used.emergency_pass, evening) == used.next_available_at


def test_before_the_day_start_hour_the_suspension_ends_the_same_morning() -> None:
    night = datetime(2026, 11, 29, 3, 0, tzinfo=TOKYO)

    used = emergency.use_pass(emergency.EmergencyPass(), a_record(), boundary(), night)

    assert used.suspended_until == datetime(2026, 11, 29, 4, 0, tzinfo=TOKYO)


def test_moving_the_day_start_just_before_using_the_pass_does_not_stretch_the_suspension() -> None:
    now = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)
    moved = boundary("UTC", hour=12)  # the day would "start" now and last until tomorrow 12:00

    used = emergency.use_pass(emergency.EmergencyPass(), a_record("UTC", 4), moved, now)

    tomorrow_4h = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
    assert used.suspended_until == tomorrow_4h
    assert used.day_boundary.pending == moved and used.day_boundary.pending_from == tomorrow_4h


def test_a_pass_used_this_week_is_refused_whatever_the_settings() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    used = emergency.EmergencyPass(last_used_at=now - timedelta(days=3), times_used=4)

    with pytest.raises(FailedPrecondition):
        emergency.use_pass(used, a_record(), boundary("UTC", 12), now)


@PURE
@given(now=moments, zone=st.sampled_from(ZONES), hour=st.integers(0, 23))
def test_the_suspension_ends_within_the_next_day_and_after_now(
    now: datetime, zone: str, hour: int
) -> None:
    used = emergency.use_pass(
        emergency.EmergencyPass(), a_record(zone, hour), boundary(zone, hour), now
    )

    assert now < used.suspended_until <= now + timedelta(hours=25)
    assert used.next_available_at - now == emergency.PASS_PERIOD

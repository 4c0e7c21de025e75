"""The pure domain: rules about sessions, profiles and the community counter, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from focus.domain import hours_saved, sessions
from focus.domain.profiles import new_profile
from focus.domain.sessions import FocusSession

START = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def session(**changes: object) -> FocusSession:
    data: dict[str, object] = {
        "status": "completed",
        "plannedStart": START,
        "plannedEnd": START + timedelta(minutes=50),
    }
    return FocusSession.model_validate({**data, **changes})


def test_focused_minutes_run_from_start_to_the_actual_end() -> None:
    assert sessions.focused_minutes(session()) == 50
    assert (
        sessions.focused_minutes(session(endedAt=START + timedelta(minutes=12, seconds=59))) == 12
    )


def test_focused_minutes_never_exceed_the_plan_or_go_negative() -> None:
    assert sessions.focused_minutes(session(endedAt=START + timedelta(hours=5))) == 50
    assert sessions.focused_minutes(session(endedAt=START - timedelta(hours=1))) == 0


def test_a_session_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="plannedEnd must be after plannedStart"):
        session(plannedEnd=START)


def test_only_completed_uncounted_sessions_count() -> None:
    assert sessions.should_count(session())
    assert not sessions.should_count(session(status="cancelled"))
    assert not sessions.should_count(
        session(result={"focusedMinutes": 50, "countedAt": START + timedelta(hours=1)})
    )


def test_completion_is_due_only_for_active_sessions_past_their_planned_end() -> None:
    active = session(status="active")
    assert not sessions.completion_due(active, START + timedelta(minutes=49))
    assert sessions.completion_due(active, START + timedelta(minutes=50))
    assert not sessions.completion_due(session(), START + timedelta(days=1))


def test_at_its_planned_end_a_session_needs_nothing_once_ended_and_fully_counted() -> None:
    """The planned-end task stops after reading the session when the devices already did
    everything: completed, counted and added to hours saved, or cancelled."""
    counted = {"focusedMinutes": 50, "countedAt": START + timedelta(minutes=51)}
    added = counted | {"addedToHoursSavedAt": START + timedelta(minutes=52)}

    assert sessions.settled(session(result=added))
    assert sessions.settled(session(status="cancelled"))
    assert not sessions.settled(session())  # completed, not counted yet
    assert not sessions.settled(session(result=counted))  # not in hours saved yet
    assert not sessions.settled(session(status="active"))


def test_a_planned_end_task_arriving_early_waits_unless_the_session_is_settled() -> None:
    before_end, at_end = START + timedelta(minutes=49), START + timedelta(minutes=50)
    added = {
        "focusedMinutes": 49,
        "countedAt": before_end,
        "addedToHoursSavedAt": before_end,
    }

    # Active, or completed early but not counted yet: the count task's turn first.
    assert sessions.planned_end_task_waits(session(status="active"), before_end) == at_end
    assert sessions.planned_end_task_waits(session(), before_end) == at_end
    assert sessions.planned_end_task_waits(session(), at_end) is None
    # Nothing left to do: no waiting either.
    assert sessions.planned_end_task_waits(session(result=added), before_end) is None
    assert sessions.planned_end_task_waits(session(status="cancelled"), before_end) is None


def test_contributions_land_on_a_stable_shard_within_range() -> None:
    keys = [f"user{n}/session{n}" for n in range(5000)]
    shards = [hours_saved.shard_for(key) for key in keys]

    assert shards == [hours_saved.shard_for(key) for key in keys]
    assert all(0 <= s < hours_saved.SHARD_COUNT for s in shards)
    assert len(set(shards)) > hours_saved.SHARD_COUNT * 0.9  # spread, not hot-spotted


def test_a_new_profile_keeps_usable_device_hints_and_ignores_the_rest() -> None:
    profile = new_profile(now=START, timezone="Pacific/Auckland", locale="x")

    assert profile.settings.timezone == "Pacific/Auckland"
    assert profile.settings.locale == "en"
    assert profile.stats.completed_sessions == 0

"""Pure rules behind the background workers (focus.domain.workers): when an early planned-end
task waits, how long a failing count is retried, which windows the sweeps look at, what an
erasure task hands to the next one, and which community days are rolled up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from focus.domain import community, reports, workers
from focus.domain.errors import InvalidArgument
from focus.domain.reports import DailyReportUpload
from focus.domain.workers import ErasureTask

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_an_early_planned_end_task_defers_itself_only_beyond_its_queues_retries() -> None:
    # The queue's retries span about 25 minutes: a task up to 20 minutes early waits by failing.
    assert not workers.defers_early_task(NOW + timedelta(seconds=20), NOW)
    assert not workers.defers_early_task(NOW + timedelta(minutes=20), NOW)
    assert workers.defers_early_task(NOW + timedelta(minutes=20, seconds=1), NOW)
    assert workers.defers_early_task(NOW + timedelta(hours=3), NOW)


def test_planned_end_tasks_of_one_round_minute_spread_over_half_a_minute() -> None:
    """Planned ends bunch at :00 and :30: each planned-end task is due a few seconds after its
    session's planned end, the same moment every time it is enqueued, never before; a planned
    end already passed is due at once."""
    earlier = NOW - timedelta(hours=1)
    due = [workers.planned_end_task_due(NOW, f"person-{n}/s", earlier) for n in range(1000)]

    assert due == [workers.planned_end_task_due(NOW, f"person-{n}/s", earlier) for n in range(1000)]
    assert all(NOW <= at < NOW + workers.PLANNED_END_SPREAD for at in due)
    assert len({at.second for at in due}) == 30  # every second of the half minute gets some
    assert workers.planned_end_task_due(NOW, "person-1/s", NOW) == NOW
    assert workers.planned_end_task_due(earlier, "person-1/s", NOW) == earlier


def test_a_counts_age_is_its_sessions_completion_or_now_for_a_task_sent_by_hand() -> None:
    written = NOW - timedelta(hours=2)

    assert workers.task_event_time({"eventTime": written.isoformat()}, NOW) == written
    # A time without an offset is UTC.
    naive = written.replace(tzinfo=None).isoformat()
    assert workers.task_event_time({"eventTime": naive}, NOW) == written
    for unreadable in ({}, {"eventTime": "yesterday"}, {"eventTime": None}):
        assert workers.task_event_time(unreadable, NOW) == NOW


def test_a_failing_count_is_retried_for_six_hours_then_dead_lettered() -> None:
    assert workers.retries_count(NOW - timedelta(hours=5, minutes=59), 40, NOW)
    assert not workers.retries_count(NOW - timedelta(hours=6), 40, NOW)
    # The attempt limit only matters if the age limit is raised past the queue's attempts.
    assert not workers.retries_count(NOW, workers.COUNT_MAX_ATTEMPTS, NOW)


def test_the_sweeps_leave_recent_work_to_the_tasks_and_overlap_their_previous_run() -> None:
    overdue, uncounted = workers.overdue_window(NOW), workers.uncounted_window(NOW)

    # Active sessions past their planned end, back to the counted-focus memory.
    assert (overdue.since, overdue.until) == (
        NOW - timedelta(hours=48),
        NOW - timedelta(minutes=15),
    )
    assert (uncounted.since, uncounted.until) == (
        NOW - timedelta(minutes=50),
        NOW - timedelta(minutes=15),
    )
    # The sweep runs every 30 minutes: its windows overlap by five minutes, leaving no gap.
    previous = workers.uncounted_window(NOW - timedelta(minutes=30))
    assert previous.until - uncounted.since == timedelta(minutes=5)
    assert workers.day_changes_left_behind(NOW) == NOW - timedelta(minutes=5)


def test_an_erasure_task_reads_its_payload_with_defaults() -> None:
    assert ErasureTask.read({"erasureId": "e1"}) == ErasureTask("e1")
    assert ErasureTask.read(
        {
            "erasureId": "e1",
            "sweepUserId": "u1",
            "batchSize": "2",
            "chain": False,
            "attempt": 3,
            "step": 7,
        }
    ) == ErasureTask("e1", sweep_uid="u1", batch_size=2, chain=False, attempt=3, step=7)


def test_an_erasure_continues_where_it_stopped_under_an_id_of_its_own() -> None:
    first = ErasureTask("e1")
    restarted = ErasureTask("e1", attempt=2)
    sweep = ErasureTask("e1", sweep_uid="u1")

    payload, ids = first.follow_up(5, 400)
    assert payload == {"erasureId": "e1", "batchSize": 400, "step": 5}
    assert ErasureTask.read(payload) == ErasureTask("e1", batch_size=400, step=5)
    assert ids == ("erase", "e1", "5")
    # A redelivered task enqueues the same follow-up (the queue makes the second one a no-op).
    assert first.follow_up(5, 400) == (payload, ids)

    restarted_payload, restarted_ids = restarted.follow_up(5, 400)
    assert restarted_payload["attempt"] == 2
    sweep_payload, sweep_ids = sweep.follow_up(5, 400)
    assert sweep_payload["sweepUserId"] == "u1"
    # A restart and the sweep never collide with the erasure they continue.
    assert len({ids, restarted_ids, sweep_ids}) == 3


def test_the_community_days_in_progress_are_utc_yesterday_today_and_tomorrow() -> None:
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)

    assert community.days_in_progress(new_year) == ["2026-12-30", "2026-12-31", "2027-01-01"]


def test_a_refused_report_of_a_batch_is_named_by_its_place_in_the_batch() -> None:
    def upload(day: str) -> DailyReportUpload:
        return DailyReportUpload(
            day=day,
            timezone="Europe/Berlin",
            screen_time_minutes=10,
            pickups=1,
            focused_minutes=0,
            as_of=NOW,
        )

    reports.check_upload_windows([upload("2026-11-28"), upload("2026-11-29")], NOW)
    with pytest.raises(InvalidArgument) as refused:
        reports.check_upload_windows([upload("2026-11-28"), upload("2020-01-01")], NOW)

    assert [f["path"] for f in refused.value.details["fields"]] == ["reports.1.day"]

"""How a campaign is paced (focus.domain.fanout): every batch of every wave gets a dispatch moment
such that no rolling minute carries more than 95% of what FCM's quota leaves after the sync
traffic, waves that overlap share that one budget, the task queue is never asked to dispatch
faster than it can, every device is in exactly one batch, and 10M devices are reached within
18 minutes. Pure: fixed moments, named zones, no clock (docs/notifications.md, "Fan-out
campaigns")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focus.domain.fanout import (
    BATCH_SIZE,
    FCM_QUOTA_PER_MINUTE,
    QUEUE_DISPATCHES_PER_SECOND,
    Answers,
    Pace,
    Plan,
    Wave,
    campaign_waves,
    plan_waves,
    run_figures,
)

PURE = settings(max_examples=60, derandomize=True, database=None, deadline=None)
MONDAY_9_CET = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SYNC_RESERVE = 33_600  # 5.6% of the quota: 2M sync pushes an hour (docs/notifications.md)


def most_in_any_window(plan: Plan, window: timedelta, *, count_devices: bool = True) -> int:
    """The most devices (or batches) dispatched in any half-open ``window``: counted directly
    from the plan, not with the code under test."""
    moments = [batch.dispatch_at for batch in plan.batches]
    weights = [batch.devices if count_devices else 1 for batch in plan.batches]
    most = total = first = 0
    for last, moment in enumerate(moments):
        total += weights[last]
        while moments[first] <= moment - window:
            total -= weights[first]
            first += 1
        most = max(most, total)
    return most


def wave(devices: int, starts_at: datetime = MONDAY_9_CET, key: str = "cet") -> Wave:
    return Wave(key=key, starts_at=starts_at, devices=devices)


def test_no_rolling_minute_carries_more_than_95_percent_of_the_quota() -> None:
    plan = plan_waves([wave(3_000_000)])

    assert most_in_any_window(plan, MINUTE) <= 0.95 * FCM_QUOTA_PER_MINUTE
    # ... and the pace does use it: full minutes carry exactly the budget.
    assert most_in_any_window(plan, MINUTE) == 570_000


def test_ten_million_devices_are_reached_within_18_minutes_at_95_percent_of_the_quota() -> None:
    plan = plan_waves([wave(10_000_000)])

    assert plan.finishes_at is not None
    assert plan.finishes_at - MONDAY_9_CET <= timedelta(minutes=18)
    minutes = [
        sum(b.devices for b in plan.batches if m <= (b.dispatch_at - MONDAY_9_CET) / MINUTE < m + 1)
        for m in range(17)
    ]
    assert minutes == [570_000] * 17  # every whole minute carries 95% of the quota


def test_the_sync_reserve_stays_free_in_every_minute() -> None:
    pace = Pace(reserve_per_window=SYNC_RESERVE)

    plan = plan_waves([wave(3_000_000)], pace)

    campaign = most_in_any_window(plan, MINUTE)
    assert campaign <= 0.95 * (FCM_QUOTA_PER_MINUTE - SYNC_RESERVE)
    assert campaign + SYNC_RESERVE < FCM_QUOTA_PER_MINUTE


def test_overlapping_waves_share_one_budget_and_the_earlier_wave_goes_first() -> None:
    # India's 09:00 (03:30 UTC) comes while Nepal's (03:15 UTC) is still being sent.
    nepal = wave(9_000_000, datetime(2026, 11, 30, 3, 15, tzinfo=UTC), "nepal")
    india = wave(4_000_000, datetime(2026, 11, 30, 3, 30, tzinfo=UTC), "india")

    plan = plan_waves([india, nepal])

    assert most_in_any_window(plan, MINUTE) <= 570_000
    order = [batch.wave for batch in plan.batches]
    assert order == ["nepal"] * 18_000 + ["india"] * 8_000
    assert plan.batches[18_000].dispatch_at > india.starts_at  # it waited for the budget


def test_a_wave_planned_later_continues_from_the_next_free_moment() -> None:
    # The campaign job plans each wave when it starts and keeps only Plan.next_free.
    nepal = wave(9_000_000, datetime(2026, 11, 30, 3, 15, tzinfo=UTC), "nepal")
    india = wave(4_000_000, datetime(2026, 11, 30, 3, 30, tzinfo=UTC), "india")

    first = plan_waves([nepal])
    second = plan_waves([india], next_free=first.next_free)

    together = plan_waves([nepal, india])
    assert first.batches + second.batches == together.batches
    assert second.next_free == together.next_free


def test_a_wave_that_starts_after_the_last_one_ended_starts_on_time() -> None:
    earlier = plan_waves([wave(1_000)])

    later = plan_waves(
        [wave(1_000, MONDAY_9_CET + timedelta(hours=1))], next_free=earlier.next_free
    )

    assert later.batches[0].dispatch_at == MONDAY_9_CET + timedelta(hours=1)


def test_no_batch_goes_before_its_wave_starts() -> None:
    waves = [wave(700_000, MONDAY_9_CET + timedelta(minutes=m), f"w{m}") for m in (0, 1, 15, 30)]
    starts = {w.key: w.starts_at for w in waves}

    plan = plan_waves(waves)

    assert all(batch.dispatch_at >= starts[batch.wave] for batch in plan.batches)


def test_the_queue_is_never_asked_for_more_than_500_dispatches_a_second() -> None:
    # Tiny batches under a large budget would need 10,000 tasks a second: the queue bounds them.
    pace = Pace(batch_size=1)

    plan = plan_waves([wave(20_000)], pace)

    assert pace.interval == timedelta(milliseconds=2)
    busiest = most_in_any_window(plan, timedelta(seconds=1), count_devices=False)
    assert busiest == QUEUE_DISPATCHES_PER_SECOND


def test_production_batches_leave_the_queue_far_below_its_limit() -> None:
    plan = plan_waves([wave(2_000_000)])

    assert most_in_any_window(plan, timedelta(seconds=1), count_devices=False) <= 20


def test_every_device_is_in_exactly_one_batch_and_every_batch_is_named_once() -> None:
    waves = [wave(1_234_567, key="cet"), wave(501, MONDAY_9_CET, "gmt"), wave(0, key="empty")]

    plan = plan_waves(waves)

    names = Counter((batch.wave, batch.index) for batch in plan.batches)
    assert set(names.values()) == {1}
    for w in waves:
        ranges = sorted(
            (batch.first_device, batch.devices) for batch in plan.batches if batch.wave == w.key
        )
        covered = [device for first, size in ranges for device in range(first, first + size)]
        assert covered == list(range(w.devices))
    assert max(batch.devices for batch in plan.batches) == BATCH_SIZE


def test_the_plan_is_the_same_whatever_the_order_the_waves_come_in() -> None:
    waves = [
        wave(40_000, MONDAY_9_CET, "b"),
        wave(40_000, MONDAY_9_CET, "a"),
        wave(9_000, MONDAY_9_CET - timedelta(minutes=30), "c"),
    ]

    assert plan_waves(waves) == plan_waves(list(reversed(waves))) == plan_waves(waves)
    assert [b.wave for b in plan_waves(waves).batches[::20]] == ["c"] + ["a"] * 4 + ["b"] * 4


@PURE
@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [
                UTC,
                ZoneInfo("Pacific/Kiritimati"),
                ZoneInfo("America/St_Johns"),
                ZoneInfo("Asia/Kathmandu"),
            ]
        ),
    ),
    devices=st.integers(min_value=0, max_value=60_000),
)
def test_the_schedule_is_the_same_on_any_date_in_any_zone(start: datetime, devices: int) -> None:
    reference = plan_waves([wave(devices, MONDAY_9_CET)])

    plan = plan_waves([wave(devices, start)])

    assert [b.dispatch_at - start for b in plan.batches] == [
        b.dispatch_at - MONDAY_9_CET for b in reference.batches
    ]
    assert all(b.dispatch_at.utcoffset() == timedelta(0) for b in plan.batches)


@PURE
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=400_000), min_size=1, max_size=4),
    offsets=st.lists(st.integers(min_value=0, max_value=40), min_size=4, max_size=4),
    reserve=st.integers(min_value=0, max_value=300_000),
)
def test_any_waves_under_any_reserve_stay_within_the_budget(
    sizes: Sequence[int], offsets: Sequence[int], reserve: int
) -> None:
    pace = Pace(reserve_per_window=reserve)
    waves = [
        wave(size, MONDAY_9_CET + timedelta(minutes=offset), f"w{i}")
        for i, (size, offset) in enumerate(zip(sizes, offsets, strict=False))
    ]

    plan = plan_waves(waves, pace)

    assert most_in_any_window(plan, MINUTE) <= 0.95 * (FCM_QUOTA_PER_MINUTE - reserve)
    assert sum(batch.devices for batch in plan.batches) == sum(sizes)


def test_a_moment_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Wave(key="cet", starts_at=datetime(2026, 11, 30, 8, 0), devices=10)
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_waves([wave(10)], next_free=datetime(2026, 11, 30, 8, 0))


def test_two_waves_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="share a key"):
        plan_waves([wave(10, key="cet"), wave(20, key="cet")])


def test_a_budget_too_small_for_one_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="one batch"):
        Pace(quota_per_window=400)


# --- Waves from time zones ----------------------------------------------------------------------


def test_zones_whose_nine_o_clock_is_the_same_instant_form_one_wave() -> None:
    devices = {"Europe/Berlin": 3, "Europe/Paris": 2, "Asia/Kolkata": 4, "Asia/Kathmandu": 1}

    waves = campaign_waves(devices, date(2026, 11, 30))

    assert [(w.key, w.devices, w.zones) for w in waves] == [
        ("2026-11-30T03:15:00Z", 1, ("Asia/Kathmandu",)),
        ("2026-11-30T03:30:00Z", 4, ("Asia/Kolkata",)),
        ("2026-11-30T08:00:00Z", 5, ("Europe/Berlin", "Europe/Paris")),
    ]


def test_waves_follow_each_zones_own_clock_changes() -> None:
    # 29 March 2026: Europe has moved its clocks forward, New York did three weeks before.
    devices = {"Europe/Berlin": 1, "Europe/London": 1, "America/New_York": 1}

    waves = campaign_waves(devices, date(2026, 3, 29))

    assert [w.starts_at for w in waves] == [
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 13, 0, tzinfo=UTC),
    ]
    assert waves[0].zones == ("Europe/Berlin",)


def test_the_first_wave_of_a_local_monday_starts_on_the_utc_sunday() -> None:
    waves = campaign_waves({"Pacific/Kiritimati": 1, "Pacific/Pago_Pago": 1}, date(2026, 11, 30))

    assert [w.starts_at for w in waves] == [
        datetime(2026, 11, 29, 19, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 20, 0, tzinfo=UTC),
    ]


# --- Figures of a run ----------------------------------------------------------------------------


def test_a_run_at_95_percent_of_the_quota_is_measured_as_such() -> None:
    # 95 messages accepted every 100 ms for two minutes, 1 in 200 requests answered 429.
    pace = Pace(quota_per_window=10_000, window=timedelta(seconds=10), batch_size=10)
    answers = [
        Answers(MONDAY_9_CET + timedelta(milliseconds=100 * (i + 1)), 95, 1 if i % 2 else 0)
        for i in range(1_200)
    ]

    figures = run_figures(answers, started_at=MONDAY_9_CET, pace=pace)

    assert figures.messages == 114_000
    assert figures.duration == timedelta(minutes=2)
    assert figures.mean_share == pytest.approx(0.95)
    assert figures.sustained_share == pytest.approx(0.95)
    assert figures.throttled_share == pytest.approx(600 / 114_600)
    assert figures.busiest_window == 9_500


def test_a_run_with_nothing_accepted_has_no_throughput() -> None:
    pace = Pace()
    answers = [Answers(MONDAY_9_CET + timedelta(seconds=1), accepted=0, throttled=500)]

    figures = run_figures(answers, started_at=MONDAY_9_CET, pace=pace)

    assert (figures.mean_share, figures.sustained_share) == (0.0, None)
    assert (figures.throttled_share, figures.duration) == (1.0, timedelta(0))


def test_figures_read_answers_recorded_in_any_time_zone() -> None:
    pace = Pace()
    paris = timezone(timedelta(hours=1))
    answers = [
        Answers(datetime(2026, 11, 30, 9, 0, 30, tzinfo=paris), 300_000),
        Answers(datetime(2026, 11, 30, 8, 0, 59, tzinfo=UTC), 270_000),
    ]

    figures = run_figures(answers, started_at=MONDAY_9_CET, pace=pace)

    assert figures.busiest_window == 570_000
    assert figures.duration == timedelta(seconds=59)

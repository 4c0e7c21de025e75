"""Pure domain rules behind reports, streaks, the score, the community and hardcore blocks (the
emergency pass, milestones and counting: tests/test_pure_rules.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from focus.domain import community, reports, streaks
from focus.domain.blocks import Block, tightens
from focus.domain.errors import InvalidArgument
from focus.domain.reports import DailyReportUpload, DayTotals
from focus.domain.scoring import focus_score

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def upload(
    screen: int, *, as_of: datetime = NOW, day: str = "2026-11-28", focused: int = 30
) -> DailyReportUpload:
    return DailyReportUpload(
        day=day,
        timezone="Europe/Berlin",
        screen_time_minutes=screen,
        pickups=10,
        focused_minutes=focused,
        as_of=as_of,
    )


def test_the_focus_score_weighs_goal_focus_and_calm() -> None:
    assert (
        focus_score(DayTotals(screen_time_minutes=60, pickups=0, focused_minutes=120), 120) == 100
    )
    assert (
        focus_score(DayTotals(screen_time_minutes=240, pickups=150, focused_minutes=0), 120) == 25
    )
    assert focus_score(DayTotals(screen_time_minutes=0, pickups=0, focused_minutes=0), 0) == 70


def test_merging_keeps_each_devices_latest_measurement() -> None:
    first = reports.merge(None, "phone", upload(50), 120)
    assert first is not None and first.revision == 1
    assert reports.merge(first, "phone", upload(80), 120) is None  # same asOf: a duplicate
    assert reports.merge(first, "phone", upload(10, as_of=NOW - timedelta(hours=1)), 120) is None
    later = reports.merge(first, "phone", upload(80, as_of=NOW + timedelta(hours=1)), 120)
    assert later is not None and later.totals.screen_time_minutes == 80 and later.revision == 2


def test_devices_add_screen_time_and_share_focused_minutes() -> None:
    day = reports.merge(None, "phone", upload(50, focused=40), 120)
    day = reports.merge(day, "mac", upload(30, focused=25), 120)
    assert day is not None
    assert (day.totals.screen_time_minutes, day.totals.focused_minutes) == (80, 40)


def test_uploads_are_accepted_for_the_last_thirty_days_only() -> None:
    reports.check_upload_window(upload(1, day="2026-10-30"), NOW)
    with pytest.raises(InvalidArgument):
        reports.check_upload_window(upload(1, day="2026-10-29"), NOW)
    with pytest.raises(InvalidArgument):
        reports.check_upload_window(upload(1, day="2026-12-01"), NOW)


def test_a_report_is_measured_at_a_moment_with_an_offset_once_its_day_began() -> None:
    with pytest.raises(ValidationError):
        upload(1, as_of=NOW.replace(tzinfo=None))
    # UTC+14 begins 2026-11-28 at 10:00 UTC on the 27th; a day of slack for clocks.
    reports.check_upload_window(upload(1, as_of=datetime(2026, 11, 27, 0, 0, tzinfo=UTC)), NOW)
    with pytest.raises(InvalidArgument):
        reports.check_upload_window(
            upload(1, as_of=datetime(2026, 11, 26, 23, 59, tzinfo=UTC)), NOW
        )


def test_streaks_continue_across_consecutive_days_and_date_line_skips() -> None:
    monday = streaks.DayMark("2026-11-23", "Europe/Berlin", True, 4)
    assert streaks.run_length(monday, streaks.DayMark("2026-11-24", "Europe/Berlin", True)) == 5
    assert streaks.run_length(monday, streaks.DayMark("2026-11-25", "Europe/Berlin", True)) == 1
    assert streaks.run_length(monday, streaks.DayMark("2026-11-25", "Pacific/Auckland", True)) == 5
    assert streaks.run_length(monday, streaks.DayMark("2026-11-24", "Europe/Berlin", False)) == 0


def test_the_community_share_counts_half_of_ones_own_bucket() -> None:
    counts = [0] * community.BUCKET_COUNT
    for minutes in (10, 100, 100, 300):
        counts[community.bucket_of(minutes)] += 1
    summary = community.summarize(
        "2026-11-28", [{str(i): c for i, c in enumerate(counts) if c}], NOW
    )
    assert community.share_using_more(summary, 100) == 50.0
    assert community.share_using_more(summary, 5) == 87.5
    assert community.bucket_of(24 * 60) == community.BUCKET_COUNT - 1


def test_a_persons_day_stays_on_one_shard_and_only_a_new_day_gets_the_new_shard_count() -> None:
    """A later upload moves the person's bucket on the shard the day was counted on: the shard
    count is the day's, so a release raising it never splits one day over two shards."""
    people = [f"person-{n}" for n in range(5000)]
    before = date.fromisoformat(community.SHARD_COUNT_FROM) - timedelta(days=1)
    earlier, cut_over = before.isoformat(), community.SHARD_COUNT_FROM

    assert [community.shard_of(uid, earlier) for uid in people] == [
        community.shard_of(uid, earlier) for uid in people
    ]
    assert {community.shard_of(uid, earlier) for uid in people} <= set(range(500))
    assert {community.shard_of(uid, cut_over) for uid in people} <= set(range(1000))
    assert len({community.shard_of(uid, cut_over) for uid in people}) > 900  # spread
    assert community.shard_count("2027-06-01") == community.SHARD_COUNT == 1000


# -- hardcore only tightens (focus.domain.blocks.tightens) ---------------------------------------


def a_block(kind: str = "timeLimit", **changes: Any) -> Block:
    rules: dict[str, dict[str, Any]] = {
        "schedule": {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00"},
        "timeLimit": {"dailyMinutes": 60},
        "appLock": {"unlocksPerDay": 3, "minutesPerUnlock": 5},
    }
    doc: dict[str, Any] = {
        "kind": kind,
        "name": "Social",
        "strictness": "hardcore",
        "selection": {
            "iphone": {"apps": ["app-a", "app-b"], "categories": ["games"], "webDomains": ["web"]},
            "mac": {"apps": ["app-m"]},
        },
        kind: rules[kind],
    }
    return Block.model_validate(doc | changes)


def a_schedule(weekdays: list[int], start: str, end: str) -> Block:
    return a_block("schedule", schedule={"weekdays": weekdays, "start": start, "end": end})


def test_a_selection_tightens_only_by_growing() -> None:
    before = a_block()
    iphone = {"apps": ["app-b", "app-a", "app-c"], "categories": ["games"], "webDomains": ["web"]}
    grown = {"iphone": iphone, "mac": {"apps": ["app-m"]}, "ipad": {"apps": ["app-p"]}}

    assert tightens(before, before)
    assert tightens(before, a_block(selection=grown))
    assert tightens(before, a_block(name="Renamed"))
    for shrunk in (
        {},
        {"iphone": iphone},  # a device dropped
        {"iphone": iphone | {"apps": ["app-a"]}, "mac": {"apps": ["app-m"]}},
        {"iphone": iphone | {"categories": []}, "mac": {"apps": ["app-m"]}},
        {"iphone": iphone | {"webDomains": []}, "mac": {"apps": ["app-m"]}},
        {"iphone": iphone, "mac": {"apps": ["app-n"]}},  # swapped
    ):
        assert not tightens(before, a_block(selection=shrunk)), shrunk


def test_a_schedule_tightens_only_by_covering_more() -> None:
    workdays = a_schedule([1, 2, 3, 4, 5], "09:00", "17:00")

    assert tightens(workdays, a_schedule([1, 2, 3, 4, 5, 6], "09:00", "17:00"))
    assert tightens(workdays, a_schedule([5, 4, 3, 2, 1], "08:00", "18:00"))
    assert tightens(workdays, a_schedule([1, 2, 3, 4, 5], "08:00", "01:00"))  # past midnight
    assert not tightens(workdays, a_schedule([1, 2, 3, 4], "09:00", "17:00"))
    assert not tightens(workdays, a_schedule([7], "03:00", "03:01"))
    assert not tightens(workdays, a_schedule([1, 2, 3, 4, 5], "09:01", "17:00"))
    assert not tightens(workdays, a_schedule([1, 2, 3, 4, 5], "09:00", "16:59"))


def test_an_overnight_schedule_widens_on_either_side_and_stays_overnight() -> None:
    nights = a_schedule([1, 2, 3], "22:00", "06:00")

    assert nights.schedule is not None and nights.schedule.window() == (22 * 60, 30 * 60)
    assert tightens(nights, a_schedule([1, 2, 3], "21:00", "07:30"))
    assert tightens(nights, a_schedule([1, 2, 3], "22:00", "22:00"))  # a full day from 22:00
    assert not tightens(nights, a_schedule([1, 2, 3], "22:00", "05:59"))
    assert not tightens(nights, a_schedule([1, 2, 3], "22:01", "06:00"))
    assert not tightens(nights, a_schedule([1, 2, 3], "22:00", "23:59"))
    assert not tightens(nights, a_schedule([1, 2, 3], "00:00", "23:59"))


def test_a_time_limit_tightens_only_by_falling() -> None:
    hour = a_block("timeLimit")

    assert tightens(hour, a_block("timeLimit", timeLimit={"dailyMinutes": 30}))
    assert tightens(hour, a_block("timeLimit", timeLimit={"dailyMinutes": 60}))
    assert not tightens(hour, a_block("timeLimit", timeLimit={"dailyMinutes": 61}))
    assert not tightens(hour, a_block("timeLimit", timeLimit={"dailyMinutes": 1440}))


def test_an_app_lock_tightens_only_with_fewer_or_shorter_unlocks() -> None:
    lock = a_block("appLock")

    def locked(unlocks: int, minutes: int) -> Block:
        return a_block("appLock", appLock={"unlocksPerDay": unlocks, "minutesPerUnlock": minutes})

    assert tightens(lock, locked(2, 5))
    assert tightens(lock, locked(3, 1))
    assert tightens(lock, locked(0, 1))
    assert not tightens(lock, locked(4, 5))
    assert not tightens(lock, locked(3, 6))
    assert not tightens(lock, locked(1, 240))


def test_a_block_of_another_kind_is_no_tightening() -> None:
    assert not tightens(a_block("timeLimit"), a_block("appLock"))

"""Pure domain rules behind reports, streaks, the score, the community and the emergency pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from focus.domain import community, emergency, reports, streaks
from focus.domain.errors import FailedPrecondition, InvalidArgument
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


def test_the_emergency_pass_returns_a_week_after_use() -> None:
    used = emergency.use(emergency.EmergencyPass(), NOW)
    with pytest.raises(FailedPrecondition):
        emergency.use(used, NOW + timedelta(days=6, hours=23))
    assert emergency.use(used, NOW + timedelta(days=7)).times_used == 2


def test_the_local_day_ends_at_the_day_start_hour_in_the_persons_timezone() -> None:
    end = emergency.end_of_local_day(NOW, "Asia/Tokyo", 4)  # 21:00 in Tokyo
    assert end.isoformat() == "2026-11-30T04:00:00+09:00"

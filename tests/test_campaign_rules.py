"""The weekly-report campaign's pure rules: which waves start when, and how a wave's people split
into uid ranges that cover every person exactly once."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from focus.domain import campaigns
from focus.domain.campaigns import Campaign, message_for, uid_range, waves_starting
from focus.domain.notifications import StreakAtRisk, WeeklyReportReady

WEEKLY, STREAK = Campaign.WEEKLY_REPORT, Campaign.STREAK_AT_RISK


def test_a_monday_morning_in_europe_starts_the_central_european_wave() -> None:
    now = datetime(2026, 11, 30, 7, 50, tzinfo=UTC)  # a Monday; 09:00 in Berlin is 08:00 UTC

    waves = waves_starting(
        WEEKLY, ["Europe/Berlin", "Europe/Paris", "Europe/London", "Asia/Tokyo"], now
    )

    assert [(w.wave.starts_at, w.wave.zones) for w in waves] == [
        (datetime(2026, 11, 30, 8, tzinfo=UTC), ("Europe/Berlin", "Europe/Paris"))
    ]
    assert waves[0].day == date(2026, 11, 30)


def test_each_zone_gets_its_monday_nine_oclock_once_across_the_week() -> None:
    zones = ["Pacific/Kiritimati", "Asia/Kolkata", "Europe/Berlin", "America/Los_Angeles"]
    start = datetime(2026, 11, 28, tzinfo=UTC)  # Saturday: Kiritimati's Monday starts Sunday
    seen: dict[str, datetime] = {}
    moment = start
    while moment < start + timedelta(days=4):
        for planned in waves_starting(WEEKLY, zones, moment):
            for zone in planned.wave.zones:
                assert zone not in seen, f"{zone} twice"
                seen[zone] = planned.wave.starts_at
        moment += campaigns.PLANNING_HORIZON
    assert seen == {
        "Pacific/Kiritimati": datetime(2026, 11, 29, 19, tzinfo=UTC),
        "Asia/Kolkata": datetime(2026, 11, 30, 3, 30, tzinfo=UTC),
        "Europe/Berlin": datetime(2026, 11, 30, 8, tzinfo=UTC),
        "America/Los_Angeles": datetime(2026, 11, 30, 17, tzinfo=UTC),
    }


def test_a_wave_of_many_zones_is_split_into_queries_of_thirty() -> None:
    zones = [f"Etc/GMT-{h}" for h in range(1, 13)] + [
        "Europe/Berlin",
        "Europe/Paris",
        "Europe/Rome",
        "Europe/Madrid",
        "Europe/Vienna",
        "Europe/Amsterdam",
        "Europe/Brussels",
        "Europe/Prague",
        "Europe/Warsaw",
        "Europe/Oslo",
        "Europe/Stockholm",
        "Europe/Copenhagen",
        "Europe/Zurich",
        "Europe/Budapest",
        "Europe/Belgrade",
        "Europe/Zagreb",
        "Europe/Ljubljana",
        "Europe/Bratislava",
        "Europe/Luxembourg",
        "Europe/Monaco",
        "Europe/Malta",
        "Europe/Andorra",
        "Europe/Tirane",
        "Europe/Sarajevo",
        "Europe/Skopje",
        "Europe/Podgorica",
        "Europe/Vaduz",
        "Europe/San_Marino",
        "Europe/Vatican",
        "Europe/Gibraltar",
        "Africa/Lagos",
        "Africa/Algiers",
        "Africa/Tunis",
    ]
    now = datetime(2026, 11, 30, 7, 45, tzinfo=UTC)

    waves = [w for w in waves_starting(WEEKLY, zones, now) if w.wave.starts_at.hour == 8]

    assert len(waves) == 2 and len({w.wave.key for w in waves}) == 2
    assert all(len(w.wave.zones) <= campaigns.ZONES_PER_QUERY for w in waves)
    assert sum(len(w.wave.zones) for w in waves) == 34  # every UTC+1 zone, and Etc/GMT-1


def test_on_other_days_no_wave_starts() -> None:
    tuesday_noon = datetime(2026, 12, 1, 12, tzinfo=UTC)
    zones = ["Europe/Berlin", "Pacific/Kiritimati", "Etc/GMT+12"]
    assert waves_starting(WEEKLY, zones, tuesday_noon) == []


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError):
        waves_starting(WEEKLY, ["Europe/Berlin"], datetime(2026, 11, 30, 8))


@pytest.mark.parametrize("shards", [1, 2, 7, 62, 1000])
def test_uid_ranges_cover_every_id_exactly_once_in_order(shards: int) -> None:
    ranges = [uid_range(k, shards) for k in range(shards)]

    assert ranges[0][0] == "" and ranges[-1][1] is None
    for (_, high), (low, _) in itertools.pairwise(ranges):
        assert high == low  # contiguous
    rng = random.Random(shards)
    ids = ["".join(rng.choice(campaigns.UID_ALPHABET) for _ in range(28)) for _ in range(2000)]
    ids += ["-odd-id", "zzzz", "0000", "~tilde"]
    for uid in ids:
        holders = [
            k for k, (low, high) in enumerate(ranges) if low <= uid and (high is None or uid < high)
        ]
        assert len(holders) == 1, uid


def test_random_uids_spread_evenly_over_the_ranges() -> None:
    rng = random.Random(7)
    ids = ["".join(rng.choice(campaigns.UID_ALPHABET) for _ in range(28)) for _ in range(20_000)]
    sizes = [
        sum(1 for uid in ids if low <= uid and (high is None or uid < high))
        for low, high in (uid_range(k, 10) for k in range(10))
    ]
    assert min(sizes) > 1700 and max(sizes) < 2300  # 2,000 each, give or take


def test_a_wave_needs_enough_ranges_for_batches_of_about_five_hundred_devices() -> None:
    assert campaigns.shards_for(0, 2.5) == 1
    assert campaigns.shards_for(200, 2.5) == 1
    assert campaigns.shards_for(201, 2.5) == 2
    assert campaigns.shards_for(4_000_000, 2.5) == 20_000


def test_the_streak_reminder_starts_every_evening_at_eight_local() -> None:
    zones = ["Europe/Berlin", "America/New_York"]
    for day in range(1, 8):  # every day of a week
        evening = datetime(2026, 11, 30, 18, 45, tzinfo=UTC) + timedelta(days=day)
        (berlin,) = waves_starting(STREAK, zones, evening)
        assert berlin.wave.zones == ("Europe/Berlin",)
        assert berlin.wave.starts_at == evening.replace(hour=19, minute=0)  # 20:00 CET
        assert berlin.day == evening.date()
        assert berlin.wave.key.startswith("streakAtRisk/")


def test_the_weekly_report_is_last_weeks() -> None:
    ready = datetime(2026, 11, 30, 8, tzinfo=UTC)
    message = message_for(WEEKLY, date(2026, 11, 30), ready, 0, None)
    assert message == WeeklyReportReady(week_start=date(2026, 11, 23), ready_at=ready)


def test_a_streak_is_at_risk_when_yesterday_counted_and_today_not_yet() -> None:
    day, ready = date(2026, 12, 2), datetime(2026, 12, 2, 19, tzinfo=UTC)

    at_risk = message_for(STREAK, day, ready, 6, "2026-12-01")
    safe = message_for(STREAK, day, ready, 7, "2026-12-02")
    broken = message_for(STREAK, day, ready, 6, "2026-11-29")
    never = message_for(STREAK, day, ready, 0, None)

    assert at_risk == StreakAtRisk(day=day, streak_days=6, goal_met_today=False)
    assert safe == StreakAtRisk(day=day, streak_days=7, goal_met_today=True)
    assert broken == StreakAtRisk(day=day, streak_days=0, goal_met_today=False)  # nothing to keep
    assert never == StreakAtRisk(day=day, streak_days=0, goal_met_today=False)

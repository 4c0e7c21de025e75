"""What a batch of changed days implies, decided once (focus.domain.derivation): pure rules, no
emulator. Dates are fixed: nothing here reads the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from focus.domain import derivation
from focus.domain.profiles import StreakSummary
from focus.domain.reports import CommunityMark, Day, DayTotals

NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
OLD_ACCOUNT = datetime(2025, 1, 1, tzinfo=UTC)


def day(n: int, screen: int = 60, **fields: object) -> Day:
    """Day ``n`` of March 2026, within a 120-minute goal unless ``screen`` is larger."""
    return Day(
        day=date(2026, 3, n).isoformat(),
        timezone="Europe/Berlin",
        totals=DayTotals(screen_time_minutes=screen),
        goal_minutes=120,
        met_goal=screen <= 120,
        revision=1,
        **fields,
    )


def applied(days: list[Day], result: derivation.Derivation) -> list[Day]:
    """The days as stored after writing ``result``'s day updates."""
    out = []
    for d in days:
        fields = dict(result.day_updates.get(d.day, {}))
        if "community" in fields:
            fields["community"] = CommunityMark.model_validate(fields["community"])
        out.append(d.model_copy(update=fields))
    return out


def test_a_month_in_one_batch_gives_the_streaks_a_day_at_a_time_would() -> None:
    days = [day(n, screen=200 if n == 10 else 60) for n in range(1, 31)]

    result = derivation.derive(
        {d.day for d in days}, None, days, {}, StreakSummary(), OLD_ACCOUNT, NOW
    )

    streaks = [result.day_updates[d.day]["streak"] for d in days]
    assert streaks == [*range(1, 10), 0, *range(1, 21)]
    assert result.streak_summary == StreakSummary(current=20, longest=20, last_day="2026-03-30")
    assert [m.threshold for m in result.milestones] == [3, 7, 14]
    assert len(result.weeks) == 6  # ISO weeks 9 to 14 of 2026
    assert sum(w.screen_time_minutes for w in result.weeks.values()) == 29 * 60 + 200


def test_deriving_again_from_the_stored_result_changes_nothing() -> None:
    days = [day(n) for n in range(20, 25)]
    first = derivation.derive(
        {d.day for d in days}, None, days, {}, StreakSummary(), OLD_ACCOUNT, NOW
    )
    stored = applied(days, first)

    again = derivation.derive(
        {d.day for d in stored}, None, stored, first.weeks, first.streak_summary, OLD_ACCOUNT, NOW
    )

    assert again.day_updates == {} and again.weeks == {} and again.community == []
    assert again.streak_summary is None and again.milestones == []


def test_a_late_day_that_breaks_the_goal_shortens_every_later_streak() -> None:
    stored = applied(
        [day(n) for n in range(1, 6)],
        derivation.derive(
            set(), None, [day(n) for n in range(1, 6)], {}, StreakSummary(), OLD_ACCOUNT, NOW
        ),
    )
    late = day(2, screen=300).model_copy(update={"revision": 2, "streak": 2})

    result = derivation.derive(
        {late.day},
        stored[0],
        [late, *stored[2:]],
        {},
        StreakSummary(current=5, longest=5, last_day="2026-03-05"),
        OLD_ACCOUNT,
        NOW,
    )

    assert {d: u["streak"] for d, u in result.day_updates.items() if "streak" in u} == {
        "2026-03-02": 0,
        "2026-03-03": 1,
        "2026-03-04": 2,
        "2026-03-05": 3,
    }
    assert result.streak_summary == StreakSummary(current=3, longest=5, last_day="2026-03-05")


def test_a_day_counts_in_the_community_once_the_account_is_a_week_old_at_its_start() -> None:
    created = datetime(2026, 3, 1, 9, tzinfo=UTC)

    assert not derivation.counts_in_community(created, "2026-03-08")
    assert derivation.counts_in_community(created, "2026-03-09")
    assert derivation.counts_in_community(created - timedelta(hours=9), "2026-03-08")


def test_a_person_moves_between_buckets_but_a_newcomer_is_marked_and_never_counted() -> None:
    counted = day(20, screen=100, community=CommunityMark(bucket=2, revision=1)).model_copy(
        update={"revision": 2}
    )
    newcomer = day(20, screen=100)

    moved = derivation.derive({counted.day}, None, [counted], {}, StreakSummary(), OLD_ACCOUNT, NOW)
    fresh = derivation.derive(
        {newcomer.day},
        None,
        [newcomer],
        {},
        StreakSummary(),
        datetime(2026, 3, 18, tzinfo=UTC),
        NOW,
    )

    assert [(m.day, m.moves) for m in moved.community] == [("2026-03-20", {6: 1, 2: -1})]
    assert moved.day_updates["2026-03-20"]["community"] == {"bucket": 6, "revision": 2}
    assert fresh.community == []
    assert fresh.day_updates["2026-03-20"]["community"] == {"revision": 1}

"""Settings that move the person's day take effect from the next local day (issue 10).

The emergency pass suspends limits and locks until the local day ends. Moving ``dayStartHour`` to
the current hour (or the timezone to one where the day just started) right before using the pass
used to stretch that to about 24 hours. The server now keeps the day boundary in effect
(``users/{uid}.dayBoundary``, focus.domain.local_days): a change waits for the next day start of
the boundary in effect, observed by a trigger on the profile and by the pass's own transaction.

The pure rule first (explicit moments, DST and timezone changes), then the attack and the
legitimate flows through the emulators, timed by the server's clock (``launch``'s serverTime).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import block_doc, envelope, launched_user, make_pro
from emulator_log import wait_for_lines
from pydantic import ValidationError

from firebase_emulator_harness import EmulatorSuite, User, assert_allowed, assert_denied, wait_for
from focus.adapters.logs import pseudonymous_user_id
from focus.domain.local_days import BoundaryRecord, DayBoundary
from focus.domain.profiles import Profile, new_profile

BERLIN = ZoneInfo("Europe/Berlin")


def boundary(timezone: str = "Europe/Berlin", hour: int = 4, week: int = 1) -> DayBoundary:
    return DayBoundary(timezone=timezone, day_start_hour=hour, week_starts_on=week)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


# -- the day's end (DayBoundary.next_day_start) --------------------------------------------------


def test_the_day_ends_at_the_next_day_start_hour_in_the_persons_timezone() -> None:
    assert boundary().next_day_start(berlin(2026, 11, 29, 15, 0)) == berlin(2026, 11, 30, 4, 0)
    assert boundary().next_day_start(berlin(2026, 11, 29, 3, 59)) == berlin(2026, 11, 29, 4, 0)
    # Exactly at the start a new day has begun: it ends a day later.
    assert boundary().next_day_start(berlin(2026, 11, 29, 4, 0)) == berlin(2026, 11, 30, 4, 0)


def real(later: datetime, earlier: datetime) -> timedelta:
    """Elapsed time (subtracting two times of one zone would compare their wall clocks)."""
    return later.astimezone(UTC) - earlier.astimezone(UTC)


def test_across_dst_a_day_is_23_or_25_hours_and_a_skipped_start_hour_begins_it_at_the_jump() -> (
    None
):
    # Spring forward (29 March 2026, 02:00 -> 03:00): the day from 04:00 to 04:00 is 23 hours.
    start = boundary().next_day_start(berlin(2026, 3, 28, 12, 0))
    assert start == berlin(2026, 3, 29, 4, 0)
    assert real(start, berlin(2026, 3, 28, 4, 0)) == timedelta(hours=23)
    assert real(boundary().next_day_start(start), start) == timedelta(hours=24)
    # A 02:00 start does not exist that night: the day starts when the clocks jump (01:00 UTC).
    jump = boundary(hour=2).next_day_start(berlin(2026, 3, 29, 1, 30))
    assert jump.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # Fall back (25 October 2026, 03:00 -> 02:00): 25 hours; a 02:00 start happens the first time.
    autumn = boundary().next_day_start(berlin(2026, 10, 24, 12, 0))
    assert autumn == berlin(2026, 10, 25, 4, 0)
    assert real(autumn, berlin(2026, 10, 24, 4, 0)) == timedelta(hours=25)
    twice = boundary(hour=2).next_day_start(berlin(2026, 10, 25, 1, 0))
    assert twice.astimezone(UTC) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    # During the repeated hour (second pass, 02:30 CET) that day has begun: the next is tomorrow.
    repeated = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, after 02:30 CEST
    assert boundary(hour=2).next_day_start(repeated) == berlin(2026, 10, 26, 2, 0)


def test_the_next_day_start_is_always_later_and_at_most_a_day_and_an_hour_away() -> None:
    moment = datetime(2026, 3, 27, 0, 0, tzinfo=UTC)
    while moment < datetime(2026, 3, 31, tzinfo=UTC):
        for zone in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"):
            for hour in (0, 2, 4, 23):
                start = boundary(zone, hour).next_day_start(moment)
                assert timedelta(0) < start - moment <= timedelta(hours=25), (zone, hour, moment)
        moment += timedelta(minutes=29)


# -- the record: a change waits for the next local day -------------------------------------------

TODAY_15H = berlin(2026, 11, 29, 15, 0)


def test_moving_the_day_start_to_now_waits_for_the_day_start_in_effect() -> None:
    record = BoundaryRecord(in_effect=boundary(hour=4))

    moved = record.observe(boundary(hour=15), TODAY_15H)

    assert moved.at(TODAY_15H) == boundary(hour=4)
    assert moved.at(TODAY_15H).next_day_start(TODAY_15H) == berlin(2026, 11, 30, 4, 0)
    assert moved.pending == boundary(hour=15)
    assert moved.pending_from == berlin(2026, 11, 30, 4, 0)
    # From tomorrow's 04:00 on, 15:00 is where days begin.
    assert moved.at(berlin(2026, 11, 30, 4, 0)) == boundary(hour=15)
    assert moved.at(berlin(2026, 11, 30, 16, 0)).next_day_start(
        berlin(2026, 11, 30, 16, 0)
    ) == berlin(2026, 12, 1, 15, 0)


def test_a_timezone_change_waits_for_the_day_start_of_the_old_timezone() -> None:
    record = BoundaryRecord(in_effect=boundary("Europe/Berlin"))
    # 04:30 in Tokyo (a day just began there) is 20:30 in Berlin.
    moment = berlin(2026, 11, 29, 20, 30)

    flown = record.observe(boundary("Asia/Tokyo"), moment)

    assert flown.at(moment) == boundary("Europe/Berlin")
    assert flown.pending_from == berlin(2026, 11, 30, 4, 0)
    assert flown.at(berlin(2026, 11, 30, 4, 0)) == boundary("Asia/Tokyo")


def test_a_change_made_yesterday_is_in_effect_today() -> None:
    yesterday = berlin(2026, 11, 28, 22, 0)
    record = BoundaryRecord(in_effect=boundary(hour=4)).observe(boundary(hour=6), yesterday)

    today = berlin(2026, 11, 29, 5, 0)
    assert record.at(today) == boundary(hour=6)
    assert record.at(today).next_day_start(today) == berlin(2026, 11, 29, 6, 0)
    # Seen again today, the pending change settles into the one in effect.
    assert record.observe(boundary(hour=6), today) == BoundaryRecord(in_effect=boundary(hour=6))


def test_asking_again_does_not_postpone_and_undoing_drops_the_pending_change() -> None:
    record = BoundaryRecord(in_effect=boundary(hour=4)).observe(boundary(hour=15), TODAY_15H)
    later = TODAY_15H + timedelta(hours=3)

    assert record.observe(boundary(hour=15), later) == record
    assert record.observe(boundary(hour=4), later) == BoundaryRecord(in_effect=boundary(hour=4))
    # A second, different change still waits for the same day start (of the boundary in effect).
    again = record.observe(boundary(hour=9), later)
    assert (again.pending, again.pending_from) == (boundary(hour=9), berlin(2026, 11, 30, 4, 0))


def test_a_week_start_change_waits_for_the_next_local_day_too() -> None:
    record = BoundaryRecord(in_effect=boundary(week=1)).observe(boundary(week=7), TODAY_15H)

    assert record.at(TODAY_15H).week_starts_on == 1
    assert record.at(berlin(2026, 11, 30, 4, 0)).week_starts_on == 7


def test_the_record_is_consistent_and_typed() -> None:
    with pytest.raises(ValidationError, match="pending and pendingFrom go together"):
        BoundaryRecord.model_validate(
            {"inEffect": boundary().to_firestore(), "pending": None, "pendingFrom": TODAY_15H}
        )
    with pytest.raises(ValidationError, match="unknown IANA timezone"):
        boundary("Mars/Olympus_Mons")


def test_new_profiles_start_with_their_settings_in_effect_and_older_ones_treat_them_so() -> None:
    fresh = new_profile(now=TODAY_15H, timezone="Asia/Tokyo", locale="ja-JP")
    assert fresh.day_boundary == BoundaryRecord(in_effect=fresh.settings.day_boundary())
    assert fresh.day_boundary.in_effect.timezone == "Asia/Tokyo"

    older = Profile.model_validate(
        {"schemaVersion": 2, "createdAt": TODAY_15H, "settings": {"timezone": "Europe/Berlin"}}
    )
    assert older.day_boundary is None
    assert older.day_boundary_at(TODAY_15H) == older.settings.day_boundary()


# -- through the emulators -----------------------------------------------------------------------


def server_now(firebase: EmulatorSuite, user: User) -> datetime:
    """The server's clock (the test process's may be shifted: scripts/test-shifted-dates)."""
    answer = firebase.functions.call("launch", envelope(), user=user).unwrap()["data"]
    return datetime.fromisoformat(answer["serverTime"].replace("Z", "+00:00"))


def in_effect_since_long_ago(firebase: EmulatorSuite, user: User, *, hour: int) -> dict[str, Any]:
    """The person's day has started at ``hour`` UTC for a long time (as the server recorded it)."""
    owner = firebase.firestore.as_owner()
    path = f"users/{user.uid}"
    week = (owner.get(path) or {})["settings"]["weekStartsOn"]
    in_effect = {"timezone": "UTC", "dayStartHour": hour, "weekStartsOn": week}
    owner.update(
        path,
        {
            "settings.timezone": "UTC",
            "settings.dayStartHour": hour,
            "dayBoundary": {"inEffect": in_effect},
        },
    )
    return in_effect


def use_pass(firebase: EmulatorSuite, user: User) -> dict[str, Any]:
    answer = firebase.functions.call("useEmergencyPass", envelope(), user=user)
    assert answer.ok, answer.error
    return answer.unwrap()["data"]  # type: ignore[no-any-return]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def limited(firebase: EmulatorSuite) -> User:
    """A Pro user with a time limit (the emergency pass suspends it)."""
    person = launched_user(firebase)
    make_pro(firebase, person)
    firebase.firestore.as_user(person).create(f"users/{person.uid}/blocks/limit", block_doc())
    return person


@pytest.mark.parametrize("attack", ["dayStartHour", "timezone"])
def test_moving_the_day_start_right_before_the_pass_does_not_stretch_the_suspension(
    firebase: EmulatorSuite, limited: User, attack: str
) -> None:
    now = server_now(firebase, limited)
    old_hour = (now.hour + 12) % 24  # the day in effect ends in 11-12 hours
    in_effect_since_long_ago(firebase, limited, hour=old_hour)
    db = firebase.firestore.as_user(limited)
    # The attacker's move: a day that "just started", so that it would end in about 24 hours.
    if attack == "dayStartHour":
        db.update(f"users/{limited.uid}", {"settings.dayStartHour": now.hour})
    else:  # 12 hours ahead of UTC, where it is now old_hour: the day just started there
        db.update(f"users/{limited.uid}", {"settings.timezone": "Etc/GMT-12"})

    answer = use_pass(firebase, limited)  # at once: no trigger needs to have run

    until = moment(answer["suspendedUntil"])
    old_end = boundary("UTC", old_hour).next_day_start(now)
    assert until == old_end
    assert until - now <= timedelta(hours=12)
    assert answer["blocksSuspended"] == ["limit"]
    block = firebase.firestore.as_owner().get(f"users/{limited.uid}/blocks/limit") or {}
    assert block["suspendedUntil"] == old_end
    # The change is not lost: it takes effect when the old day ends.
    record = (firebase.firestore.as_owner().get(f"users/{limited.uid}") or {})["dayBoundary"]
    assert record["inEffect"]["dayStartHour"] == old_hour
    assert record["pendingFrom"] == old_end


def test_a_change_made_yesterday_decides_todays_suspension(
    firebase: EmulatorSuite, limited: User
) -> None:
    now = server_now(firebase, limited)
    old_hour, new_hour = (now.hour + 12) % 24, (now.hour + 6) % 24
    in_effect = in_effect_since_long_ago(firebase, limited, hour=old_hour)
    # Changed yesterday evening: pending from the day start that has passed since.
    firebase.firestore.as_owner().update(
        f"users/{limited.uid}",
        {
            "settings.dayStartHour": new_hour,
            "dayBoundary.pending": in_effect | {"dayStartHour": new_hour},
            "dayBoundary.pendingFrom": now - timedelta(hours=2),
        },
    )

    answer = use_pass(firebase, limited)

    assert moment(answer["suspendedUntil"]) == boundary("UTC", new_hour).next_day_start(now)
    record = (firebase.firestore.as_owner().get(f"users/{limited.uid}") or {})["dayBoundary"]
    assert record == {"inEffect": in_effect | {"dayStartHour": new_hour}}  # settled


def test_the_trigger_records_a_settings_change_as_pending_until_the_next_day_start(
    firebase: EmulatorSuite, user: User
) -> None:
    now = server_now(firebase, user)
    old_hour = (now.hour + 12) % 24
    in_effect = in_effect_since_long_ago(firebase, user, hour=old_hour)
    db = firebase.firestore.as_user(user)

    # An app from before this change writes its whole settings map, without any new field.
    assert_allowed(
        lambda: db.update(
            f"users/{user.uid}",
            {"settings": {"timezone": "UTC", "locale": "en", "dayStartHour": now.hour}},
        )
    )

    def pending() -> dict[str, Any] | None:
        record = (firebase.firestore.as_owner().get(f"users/{user.uid}") or {})["dayBoundary"]
        return record if "pending" in record else None

    record = wait_for(pending, message="the trigger records the change", timeout=60)
    assert record["inEffect"] == in_effect
    assert record["pending"]["dayStartHour"] == now.hour
    assert record["pendingFrom"] == boundary("UTC", old_hour).next_day_start(now)
    assert record["pendingFrom"] - now <= timedelta(hours=12)


def test_only_the_server_writes_the_day_boundary(firebase: EmulatorSuite, user: User) -> None:
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}"
    stored = (firebase.firestore.as_owner().get(path) or {})["dayBoundary"]
    assert stored["inEffect"]["timezone"] == "UTC"  # launch starts every profile with one

    forged = {"inEffect": {"timezone": "UTC", "dayStartHour": 0, "weekStartsOn": 1}}
    assert_denied(lambda: db.update(path, {"dayBoundary": forged}))
    assert_denied(lambda: db.update(path, {"dayBoundary.pendingFrom": datetime.now(UTC)}))


def test_server_writes_of_the_profile_end_the_trigger_without_a_read(
    firebase: EmulatorSuite, user: User
) -> None:
    make_pro(firebase, user)  # a server write: settings untouched

    (line, *_) = wait_for_lines(
        lambda line: (
            line.get("message") == "request"
            and line.get("function") == "on_profile_updated"
            and line.get("user") == pseudonymous_user_id(user.uid)
        ),
        message="on_profile_updated request line",
        timeout=90,
    )
    assert (line["outcome"], line["firestoreReads"], line["firestoreWrites"]) == ("ok", 0, 0)

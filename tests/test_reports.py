"""Daily reports: uploads merge per device and across devices, idempotently and late; from them
the server keeps the focus score, streaks (across timezones), weeks, milestones and the
community comparison."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from conftest import envelope, launched_user, register_device, session_doc

from firebase_emulator_harness import EmulatorSuite, User, assert_denied, wait_for

TODAY = datetime.now(UTC).date()


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def report(
    local_day: str,
    screen: int = 90,
    *,
    pickups: int = 40,
    focused: int = 60,
    tz: str = "Europe/Berlin",
    as_of: datetime | None = None,
) -> dict[str, Any]:
    return {
        "day": local_day,
        "timezone": tz,
        "screenTimeMinutes": screen,
        "pickups": pickups,
        "focusedMinutes": focused,
        "asOf": (as_of or datetime.now(UTC)).isoformat(),
    }


def upload(
    firebase: EmulatorSuite, user: User, *reports: dict[str, Any], device: str = "iphone-1"
) -> Any:
    return firebase.functions.call(
        "uploadDailyReports", envelope({"deviceId": device, "reports": list(reports)}), user=user
    )


def derived(firebase: EmulatorSuite, user: User, local_day: str) -> dict[str, Any] | None:
    """The stored day once the trigger has brought everything derived up to its revision."""
    stored = firebase.firestore.as_owner().get(f"users/{user.uid}/days/{local_day}")
    if (
        stored
        and (stored.get("community") or {}).get("revision") == stored["revision"]
        and "streak" in stored
    ):
        return stored
    return None


# The Firestore emulator locks a query inside a transaction across every parent of the
# collection (production locks the scanned range of one person's days), so concurrent derivations
# of different people queue behind its 2 s lock timeout and the task's retry backoff.
DERIVATION_WAIT = 60.0


def settle(firebase: EmulatorSuite, user: User, *days: str) -> list[dict[str, Any]]:
    return [
        wait_for(
            lambda d=d: derived(firebase, user, d),
            timeout=DERIVATION_WAIT,
            message=f"day {d} derived",
        )
        for d in days
    ]


def test_an_upload_is_merged_scored_and_summarised(firebase: EmulatorSuite, user: User) -> None:
    answer = upload(firebase, user, report(day(0), screen=90, pickups=30, focused=120)).unwrap()

    assert answer["data"]["days"] == [{"day": day(0), "changed": True, "revision": 1, "score": 96}]
    # Reads: upgrade-gate config (in production once a minute per instance), rate-limit window
    # and erasure tombstone (one round trip), profile and device (one round trip), day; the
    # analytics consent comes with the profile (its mirror: no consent given here, nothing read
    # for the day_merged event). Writes: window, key claim (a create: a fresh key is not read),
    # day, the day-change record, key answer.
    assert answer["meta"]["usage"] == {"reads": 6, "writes": 5}
    (stored,) = settle(firebase, user, day(0))
    assert stored["totals"] == {"screenTimeMinutes": 90, "pickups": 30, "focusedMinutes": 120}
    assert stored["metGoal"] is True and stored["streak"] == 1
    week = firebase.firestore.as_owner().get(f"users/{user.uid}/weeks/{_week(day(0))}") or {}
    assert (week["screenTimeMinutes"], week["daysMetGoal"]) == (90, 1)


def test_the_same_upload_twice_or_an_older_one_changes_nothing(
    firebase: EmulatorSuite, user: User
) -> None:
    now = datetime.now(UTC)
    upload(firebase, user, report(day(1), screen=100, as_of=now)).unwrap()

    again = upload(firebase, user, report(day(1), screen=100, as_of=now)).unwrap()
    stale = upload(
        firebase, user, report(day(1), screen=30, as_of=now - timedelta(hours=3))
    ).unwrap()

    assert again["data"]["days"][0]["changed"] is False
    assert stale["data"]["days"][0] == {
        "day": day(1),
        "changed": False,
        "revision": 1,
        "score": again["data"]["days"][0]["score"],
    }
    assert again["meta"]["usage"]["writes"] == 3  # rate-limit window, key claim, key answer: no day
    stored = firebase.firestore.as_owner().get(f"users/{user.uid}/days/{day(1)}") or {}
    assert stored["totals"]["screenTimeMinutes"] == 100


def test_a_later_measurement_from_the_same_device_supersedes_the_earlier(
    firebase: EmulatorSuite, user: User
) -> None:
    morning = datetime.now(UTC) - timedelta(hours=6)
    upload(firebase, user, report(day(0), screen=20, as_of=morning)).unwrap()

    later = upload(
        firebase, user, report(day(0), screen=140, as_of=morning + timedelta(hours=5))
    ).unwrap()

    assert later["data"]["days"][0]["revision"] == 2
    (stored,) = settle(firebase, user, day(0))
    assert stored["totals"]["screenTimeMinutes"] == 140
    assert stored["metGoal"] is False and stored["streak"] == 0


def test_two_devices_add_screen_time_but_not_the_same_focus_session(
    firebase: EmulatorSuite, user: User
) -> None:
    register_device(firebase, user, "mac-1", platform="macos")
    upload(
        firebase, user, report(day(2), screen=70, pickups=30, focused=50), device="iphone-1"
    ).unwrap()
    upload(
        firebase, user, report(day(2), screen=40, pickups=5, focused=45), device="mac-1"
    ).unwrap()

    (stored,) = settle(firebase, user, day(2))
    assert stored["totals"] == {"screenTimeMinutes": 110, "pickups": 35, "focusedMinutes": 50}
    assert set(stored["devices"]) == {"iphone-1", "mac-1"}


def test_late_uploads_are_accepted_within_thirty_days_and_a_bad_batch_writes_nothing(
    firebase: EmulatorSuite, user: User
) -> None:
    assert upload(firebase, user, report(day(29))).ok

    refused = upload(firebase, user, report(day(3)), report(day(40)))
    future = upload(firebase, user, report((TODAY + timedelta(days=3)).isoformat()))
    duplicate_day = upload(firebase, user, report(day(4)), report(day(4)))
    too_long = upload(firebase, user, report(day(5), screen=24 * 60 + 1))

    assert refused.code == "INVALID_ARGUMENT"
    assert refused.error["details"]["reason"] == "DAY_OUT_OF_RANGE"
    assert [f["path"] for f in refused.error["details"]["fields"]] == ["payload.reports.1.day"]
    assert future.code == "INVALID_ARGUMENT"
    assert future.error["details"]["reason"] == "DAY_OUT_OF_RANGE"
    assert duplicate_day.code == "INVALID_ARGUMENT"
    assert duplicate_day.error["details"]["reason"] == "INVALID_VALUE"
    assert [f["type"] for f in duplicate_day.error["details"]["fields"]] == ["duplicate_day"]
    assert too_long.code == "INVALID_ARGUMENT"
    assert too_long.error["details"]["reason"] == "SCHEMA_VIOLATION"
    assert too_long.error["details"]["fields"][0]["path"] == "payload.reports.0.screenTimeMinutes"
    stored = firebase.firestore.as_owner().query(f"users/{user.uid}/days")
    assert [path.rsplit("/", 1)[1] for path, _ in stored] == [day(29)]


def test_an_as_of_without_offset_or_before_its_day_is_refused_and_writes_nothing(
    firebase: EmulatorSuite, user: User
) -> None:
    naive = report(day(1)) | {"asOf": datetime.now(UTC).replace(tzinfo=None).isoformat()}
    ancient = report(day(1)) | {"asOf": "0001-01-01T00:00:00+01:00"}  # found by the fuzz tests

    refused_naive = upload(firebase, user, naive)
    refused_ancient = upload(firebase, user, ancient)

    assert refused_naive.code == "INVALID_ARGUMENT"
    assert refused_naive.error["details"]["reason"] == "SCHEMA_VIOLATION"
    [field] = refused_naive.error["details"]["fields"]
    assert (field["path"], field["type"]) == ("payload.reports.0.asOf", "format")
    assert refused_ancient.code == "INVALID_ARGUMENT"
    assert refused_ancient.error["details"]["reason"] == "AS_OF_BEFORE_DAY"
    assert firebase.firestore.as_owner().query(f"users/{user.uid}/days") == []


def test_uploads_need_a_signed_in_person_with_a_profile(firebase: EmulatorSuite) -> None:
    assert upload(firebase, None, report(day(0))).code == "UNAUTHENTICATED"  # type: ignore[arg-type]
    newcomer = firebase.auth.sign_up_anonymously()
    assert upload(firebase, newcomer, report(day(0))).code == "FAILED_PRECONDITION"


def test_a_late_upload_fills_a_gap_and_the_streak_carries_forward(
    firebase: EmulatorSuite, user: User
) -> None:
    upload(firebase, user, report(day(3)), report(day(1)), report(day(0))).unwrap()
    settle(firebase, user, day(3), day(1), day(0))

    upload(firebase, user, report(day(2))).unwrap()

    def streak_of_today() -> int | None:
        stored = firebase.firestore.as_owner().get(f"users/{user.uid}/days/{day(0)}") or {}
        return stored.get("streak") if stored.get("streak") == 4 else None

    wait_for(streak_of_today, message="streak carried forward to today")
    profile = firebase.firestore.as_owner().get(f"users/{user.uid}") or {}
    assert profile["streak"] == {"current": 4, "longest": 4, "lastDay": day(0)}
    milestones = firebase.firestore.as_user(user).query(f"users/{user.uid}/milestones")
    assert "streakDays-3" in {path.rsplit("/", 1)[1] for path, _ in milestones}


def test_a_day_over_the_goal_breaks_the_streak(firebase: EmulatorSuite, user: User) -> None:
    upload(firebase, user, report(day(2)), report(day(1), screen=500), report(day(0))).unwrap()

    streaks = [d["streak"] for d in settle(firebase, user, day(2), day(1), day(0))]

    assert streaks == [1, 0, 1]


def test_crossing_the_date_line_does_not_break_a_streak(
    firebase: EmulatorSuite, user: User
) -> None:
    # Los Angeles -> Auckland: the traveller's local calendar skips a date.
    upload(
        firebase,
        user,
        report(day(3), tz="America/Los_Angeles"),
        report(day(1), tz="Pacific/Auckland"),
        report(day(0), tz="Pacific/Auckland"),
    ).unwrap()

    streaks = [d["streak"] for d in settle(firebase, user, day(3), day(1), day(0))]

    assert streaks == [1, 2, 3]


def test_a_missing_day_without_travel_breaks_the_streak(
    firebase: EmulatorSuite, user: User
) -> None:
    upload(firebase, user, report(day(3)), report(day(1))).unwrap()

    streaks = [d["streak"] for d in settle(firebase, user, day(3), day(1))]

    assert streaks == [1, 1]


def test_a_repeated_derivation_changes_nothing(firebase: EmulatorSuite, user: User) -> None:
    upload(firebase, user, report(day(1), screen=50), report(day(0), screen=60)).unwrap()
    before = settle(firebase, user, day(1), day(0))
    week = firebase.firestore.as_owner().get(f"users/{user.uid}/weeks/{_week(day(0))}")
    profile = firebase.firestore.as_owner().get(f"users/{user.uid}")

    # A redelivered task (or the sweep racing it) finds nothing pending and writes nothing.
    assert firebase.functions.dispatch_task("deriveDays", {"userId": user.uid}) == 200
    firebase.functions.run_scheduled("sweep_day_changes")

    assert settle(firebase, user, day(1), day(0)) == before
    assert firebase.firestore.as_owner().get(f"users/{user.uid}/weeks/{_week(day(0))}") == week
    assert firebase.firestore.as_owner().get(f"users/{user.uid}") == profile
    assert firebase.firestore.as_owner().query(f"users/{user.uid}/dayChanges") == []


def test_a_change_whose_derivation_was_lost_is_derived_by_the_sweep(
    firebase: EmulatorSuite, user: User
) -> None:
    from focus.domain import sweep_shards

    with firebase.functions.background_triggers_disabled():  # its trigger never runs
        upload(firebase, user, report(day(0), screen=50)).unwrap()
    changes = firebase.firestore.as_owner().query(f"users/{user.uid}/dayChanges")
    assert [c["sweepShard"] for _, c in changes] == [sweep_shards.shard_of(user.uid)]
    ((path, _),) = changes
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
    firebase.firestore.as_owner().update(path, {"createdAt": ten_minutes_ago})

    firebase.functions.run_scheduled("sweep_day_changes")

    (derived_day,) = settle(firebase, user, day(0))
    assert derived_day["streak"] == 1
    assert firebase.firestore.as_owner().query(f"users/{user.uid}/dayChanges") == []


def test_the_community_comparison_places_a_person_among_everyone_that_day(
    firebase: EmulatorSuite,
) -> None:
    people = []
    for minutes in [30, 90, 240, 600]:
        person = launched_user(firebase)
        account_older_than_a_week(firebase, person)
        upload(firebase, person, report(day(0), screen=minutes)).unwrap()
        people.append(person)
    for person in people:
        settle(firebase, person, day(0))
    # The 600-minute person cuts down later that day: their count moves, it is not added again.
    upload(
        firebase,
        people[3],
        report(day(0), screen=120, as_of=datetime.now(UTC) + timedelta(minutes=1)),
    ).unwrap()
    wait_for(
        lambda: (derived(firebase, people[3], day(0)) or {}).get("revision") == 2, message="moved"
    )

    firebase.functions.run_scheduled("roll_up_community")

    answer = firebase.functions.call(
        "getCommunityComparison", envelope({"day": day(0)}), user=people[1]
    ).unwrap()["data"]
    assert answer["people"] == 4
    assert answer["screenTimeMinutes"] == 90
    assert answer["shareUsingMore"] == 62.5  # 2 of 4 used more, plus half of their own bucket
    nobody = firebase.functions.call(
        "getCommunityComparison", envelope({"day": day(7)}), user=people[0]
    ).unwrap()
    assert nobody["data"]["shareUsingMore"] is None


def test_focused_hours_milestones_are_reached_by_completed_sessions(
    firebase: EmulatorSuite, user: User
) -> None:
    firebase.firestore.as_owner().create(  # a session of the past hour and a quarter
        f"users/{user.uid}/sessions/hour", session_doc(status="completed", minutes=75)
    )

    milestone = wait_for(
        lambda: firebase.firestore.as_user(user).get(f"users/{user.uid}/milestones/focusedHours-1"),
        message="milestone",
    )
    assert milestone["threshold"] == 1


def test_days_weeks_and_milestones_are_readable_by_their_owner_only_and_never_client_written(
    firebase: EmulatorSuite, user: User
) -> None:
    upload(firebase, user, report(day(0))).unwrap()
    settle(firebase, user, day(0))
    other = firebase.auth.sign_up_anonymously()
    mine = firebase.firestore.as_user(user)

    assert mine.get(f"users/{user.uid}/days/{day(0)}") is not None
    assert mine.get(f"users/{user.uid}/weeks/{_week(day(0))}") is not None
    assert_denied(lambda: mine.update(f"users/{user.uid}/days/{day(0)}", {"score": 100}))
    assert_denied(lambda: mine.set(f"users/{user.uid}/days/{day(1)}", {"score": 100}))
    assert_denied(
        lambda: mine.set(f"users/{user.uid}/milestones/streakDays-365", {"threshold": 365})
    )
    assert_denied(lambda: firebase.firestore.as_user(other).get(f"users/{user.uid}/days/{day(0)}"))
    assert_denied(
        lambda: firebase.firestore.as_user(other).get(f"users/{user.uid}/weeks/{_week(day(0))}")
    )
    assert_denied(lambda: mine.get(f"communityDays/{day(0)}"))


def test_an_account_younger_than_a_week_or_a_device_not_registered_does_not_count_in_the_community(
    firebase: EmulatorSuite,
) -> None:
    veteran, newcomer = launched_user(firebase), launched_user(firebase)
    account_older_than_a_week(firebase, veteran)
    upload(firebase, veteran, report(day(0), screen=45)).unwrap()
    upload(firebase, newcomer, report(day(0), screen=45)).unwrap()

    counted, fresh = settle(firebase, veteran, day(0))[0], settle(firebase, newcomer, day(0))[0]
    unregistered = upload(firebase, veteran, report(day(0), screen=900), device="spoofed-device")

    assert counted["community"]["bucket"] == 3 and "bucket" not in fresh["community"]
    assert _community_people(firebase, day(0)) == 1
    assert (unregistered.code, unregistered.error["details"]["reason"]) == (
        "FAILED_PRECONDITION",
        "DEVICE_NOT_REGISTERED",
    )
    stored = firebase.firestore.as_owner().get(f"users/{veteran.uid}/days/{day(0)}") or {}
    assert stored["revision"] == 1 and set(stored["devices"]) == {"iphone-1"}


def account_older_than_a_week(firebase: EmulatorSuite, person: User) -> None:
    """Backdate the account (server-owned createdAt) past the community's one-week threshold."""
    created = datetime.now(UTC) - timedelta(days=30)
    firebase.firestore.as_owner().update(f"users/{person.uid}", {"createdAt": created})


def _week(local_day: str) -> str:
    year, week, _ = date.fromisoformat(local_day).isocalendar()
    return f"{year}-W{week:02d}"


def _community_people(firebase: EmulatorSuite, local_day: str) -> int:
    shards = firebase.firestore.as_owner().query(f"communityDays/{local_day}/shards")
    return sum(sum(data.get("buckets", {}).values()) for _, data in shards)


def test_a_derivation_overtaken_by_an_upload_writes_nothing_stale_and_derives_again(
    firebase: EmulatorSuite, user: User, monkeypatch: Any
) -> None:
    """The derivation reads the days before its transaction and writes each only if still as
    read: an upload landing between its reads and its commit fails the commit, and the derivation
    reads again, so the day ends derived at the upload's revision (and no change is left)."""
    from focus.domain import derivation
    from focus.services import days

    first = datetime.now(UTC) - timedelta(minutes=10)
    upload(firebase, user, report(day(0), screen=60, as_of=first)).unwrap()
    settle(firebase, user, day(0))
    runs: list[int] = []
    derive = derivation.derive

    def overtaken(*args: Any, **kwargs: Any) -> derivation.Derivation:
        runs.append(len(runs))
        if len(runs) == 1:  # an upload lands while the first attempt is at work
            late = report(day(0), screen=200, as_of=first + timedelta(minutes=2))
            upload(firebase, user, late).unwrap()
        return derive(*args, **kwargs)

    with firebase.functions.background_triggers_disabled():
        upload(
            firebase, user, report(day(0), screen=120, as_of=first + timedelta(minutes=1))
        ).unwrap()
        monkeypatch.setattr(derivation, "derive", overtaken)
        days.derive_pending(user.uid, datetime.now(UTC))

    assert len(runs) == 2
    stored = firebase.firestore.as_owner().get(f"users/{user.uid}/days/{day(0)}") or {}
    assert stored["totals"]["screenTimeMinutes"] == 200
    assert stored["community"]["revision"] == stored["revision"] == 3
    assert firebase.firestore.as_owner().query(f"users/{user.uid}/dayChanges") == []

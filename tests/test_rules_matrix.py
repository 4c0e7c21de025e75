"""firestore.rules, collection by collection: who may do what (the owner, another person, a
stranger signed in anonymously, nobody signed in), which fields stay server-owned, and which
shapes and sizes are refused. Each refused case breaks one condition of the rules, so together
they show every condition denying something (``scripts/test --rule-coverage`` checks that every
expression of the rules ran).

Background triggers are off: these tests are about what the rules let a client write, not about
what the backend derives from it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import block_doc, launched_user, make_pro, session_doc

from firebase_emulator_harness import (
    EmulatorSuite,
    Firestore,
    User,
    assert_allowed,
    assert_denied,
)

NOW = datetime.now(UTC)


@pytest.fixture
def owner(triggers_off: None, firebase: EmulatorSuite) -> User:
    return launched_user(firebase)


def strangers(firebase: EmulatorSuite) -> dict[str, Firestore]:
    """Everyone but the owner: another person, an anonymous stranger, nobody signed in."""
    return {
        "another person": firebase.firestore.as_user(firebase.auth.create_user("eve@example.com")),
        "anonymous stranger": firebase.firestore.as_user(firebase.auth.sign_up_anonymously()),
        "nobody": firebase.firestore.unauthenticated(),
    }


def device_doc(**changes: Any) -> dict[str, Any]:
    doc = {
        "schemaVersion": 1,
        "platform": "ios",
        "appVersion": "3.4.0",
        "osVersion": "18.1",
        "lastSeenAt": NOW,
    }
    return {k: v for k, v in (doc | changes).items() if v is not DROP}


DROP = object()  # a field to leave out


def each_denied(cases: dict[str, Callable[[], object]]) -> None:
    """Every operation is denied; the failure names the first case the rules allowed."""
    for label, operation in cases.items():
        try:
            assert_denied(operation)
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None


# -- users/{uid} ---------------------------------------------------------------------------------


def test_only_the_owner_reads_the_profile_and_nobody_creates_or_deletes_it(
    firebase: EmulatorSuite, owner: User
) -> None:
    path = f"users/{owner.uid}"
    assert_allowed(lambda: firebase.firestore.as_user(owner).get(path))
    for who, db in strangers(firebase).items():
        each_denied(
            {
                f"{who} reads": lambda db=db: db.get(path),
                f"{who} renames": lambda db=db: db.update(path, {"displayName": "Eve"}),
            }
        )
    each_denied(
        {
            "owner deletes": lambda: firebase.firestore.as_user(owner).delete(path),
            "owner lists profiles": lambda: firebase.firestore.as_user(owner).query("users"),
        }
    )


def test_profile_names_and_settings_are_checked(firebase: EmulatorSuite, owner: User) -> None:
    db, path = firebase.firestore.as_user(owner), f"users/{owner.uid}"

    each_denied(
        {
            f"{field}={value!r}": lambda field=field, value=value: db.update(path, {field: value})
            for field, value in [
                ("displayName", "x" * 81),
                ("displayName", 42),
                ("settings", "dark"),
                ("settings.timezone", ""),
                ("settings.timezone", "x" * 65),
                ("settings.locale", "e"),
                ("settings.locale", "x" * 36),
                ("settings.dayStartHour", "4"),
                ("settings.dayStartHour", -1),
                ("settings.dayStartHour", 24),
                ("settings.dailyGoalMinutes", 1.5),
                ("settings.dailyGoalMinutes", -1),
                ("settings.dailyGoalMinutes", 1441),
                ("settings.theme", "dark"),
                ("entitlements.pro", True),
                ("emergencyPass.timesUsed", 99),
                ("createdAt", NOW),
            ]
        }
    )
    # Every setting is optional to the rules (the server fills in defaults when it reads).
    assert_allowed(lambda: db.update(path, {"displayName": "", "settings": {"timezone": "UTC"}}))
    assert_allowed(lambda: db.update(path, {"settings": {}}))


# -- users/{uid}/devices ---------------------------------------------------------------------------


def test_devices_belong_to_their_owner(firebase: EmulatorSuite, owner: User) -> None:
    # Not iphone-1: launched_user registers that one (conftest.register_device).
    db, path = firebase.firestore.as_user(owner), f"users/{owner.uid}/devices/ipad-2"

    assert_allowed(lambda: db.create(path, device_doc()))
    assert_allowed(lambda: db.get(path))
    assert_allowed(lambda: db.query(f"users/{owner.uid}/devices"))
    assert_allowed(lambda: db.update(path, {"lastSeenAt": NOW + timedelta(minutes=1)}))
    for who, other in strangers(firebase).items():
        each_denied(
            {
                f"{who} reads": lambda other=other: other.get(path),
                f"{who} lists": lambda other=other: other.query(f"users/{owner.uid}/devices"),
                f"{who} registers": lambda other=other: other.set(f"{path}-x", device_doc()),
                f"{who} edits": lambda other=other: other.update(path, {"osVersion": "1"}),
                f"{who} deletes": lambda other=other: other.delete(path),
            }
        )
    assert_allowed(lambda: db.delete(path))


def test_malformed_devices_are_refused(firebase: EmulatorSuite, owner: User) -> None:
    db, base = firebase.firestore.as_user(owner), f"users/{owner.uid}/devices"

    each_denied(
        {
            "id too long": lambda: db.create(f"{base}/{'d' * 129}", device_doc()),
            **{
                f"{field}={value!r}": lambda field=field, value=value: db.create(
                    f"{base}/iphone-1", device_doc(**{field: value})
                )
                for field, value in [
                    ("schemaVersion", 2),
                    ("platform", "windows"),
                    ("appVersion", DROP),
                    ("appVersion", ""),
                    ("appVersion", 340),
                    ("osVersion", DROP),
                    ("osVersion", "x" * 33),
                    ("lastSeenAt", "today"),
                    ("pushToken", "abc"),
                ]
            },
        }
    )


# -- users/{uid}/blocks ------------------------------------------------------------------------------


def test_blocks_are_the_owners_to_read_and_delete_unless_hardcore(
    firebase: EmulatorSuite, owner: User
) -> None:
    db, base = firebase.firestore.as_user(owner), f"users/{owner.uid}/blocks"
    db.create(f"{base}/easy", block_doc())
    make_pro(firebase, owner)
    db.create(f"{base}/hard", block_doc(strictness="hardcore"))

    assert_allowed(lambda: db.get(f"{base}/easy"))
    assert_allowed(lambda: db.query(base))
    for who, other in strangers(firebase).items():
        each_denied(
            {
                f"{who} reads": lambda other=other: other.get(f"{base}/easy"),
                f"{who} creates": lambda other=other: other.create(f"{base}/theirs", block_doc()),
                f"{who} renames": lambda other=other: other.update(f"{base}/easy", {"name": "x"}),
                f"{who} deletes": lambda other=other: other.delete(f"{base}/easy"),
            }
        )
    assert_denied(lambda: db.delete(f"{base}/hard"))
    assert_allowed(lambda: db.delete(f"{base}/easy"))


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        ("timeLimit", 60),
        ("timeLimit", {"dailyMinutes": 60, "extra": 1}),
        ("timeLimit", {"dailyMinutes": "60"}),
        ("timeLimit", {"dailyMinutes": 0}),
        ("timeLimit", {"dailyMinutes": 1441}),
        ("appLock", {"unlocksPerDay": 3, "minutesPerUnlock": 5, "extra": 1}),
        ("appLock", {"unlocksPerDay": "3", "minutesPerUnlock": 5}),
        ("appLock", {"unlocksPerDay": -1, "minutesPerUnlock": 5}),
        ("appLock", {"unlocksPerDay": 101, "minutesPerUnlock": 5}),
        ("appLock", {"unlocksPerDay": 3, "minutesPerUnlock": "5"}),
        ("appLock", {"unlocksPerDay": 3, "minutesPerUnlock": 0}),
        ("appLock", {"unlocksPerDay": 3, "minutesPerUnlock": 241}),
        ("schedule", {"weekdays": [1], "start": "09:00", "end": "17:00", "extra": 1}),
        ("schedule", {"weekdays": "mon", "start": "09:00", "end": "17:00"}),
        ("schedule", {"weekdays": [], "start": "09:00", "end": "17:00"}),
        ("schedule", {"weekdays": [1, 2, 3, 4, 5, 6, 7, 1], "start": "09:00", "end": "17:00"}),
        ("schedule", {"weekdays": [1], "start": 900, "end": "17:00"}),
        ("schedule", {"weekdays": [1], "start": "9:00", "end": "17:00"}),
        ("schedule", {"weekdays": [1], "start": "09:00", "end": 1700}),
        ("schedule", {"weekdays": [1], "start": "09:00", "end": "24:00"}),
    ],
)
def test_each_kind_of_rule_is_checked(
    firebase: EmulatorSuite, owner: User, kind: str, rule: Any
) -> None:
    db = firebase.firestore.as_user(owner)
    assert_denied(lambda: db.create(f"users/{owner.uid}/blocks/b", block_doc(kind, **{kind: rule})))


def test_malformed_blocks_and_vacations_are_refused(firebase: EmulatorSuite, owner: User) -> None:
    db, base = firebase.firestore.as_user(owner), f"users/{owner.uid}/blocks"
    since = NOW + timedelta(days=2)
    bad: dict[str, dict[str, Any]] = {
        "schemaVersion 2": block_doc(schemaVersion=2),
        "unknown kind": block_doc() | {"kind": "geoFence"},
        "two rules": block_doc(schedule={"weekdays": [1], "start": "09:00", "end": "17:00"}),
        "name not text": block_doc(name=7),
        "empty name": block_doc(name=""),
        "long name": block_doc(name="x" * 81),
        "selection not a map": block_doc(selection="all"),
        "selection of 11 devices": block_doc(selection={f"d{i}": {} for i in range(11)}),
        "unknown strictness": block_doc(strictness="extreme"),
        "unknown field": block_doc(color="red"),
        "updatedBy not text": block_doc(updatedBy=7),
        "updatedBy empty": block_doc(updatedBy=""),
        "updatedBy too long": block_doc(updatedBy="d" * 129),
        "suspended by the device": block_doc(suspendedUntil=NOW + timedelta(days=1)),
        "vacation not a map": block_doc(vacation="soon"),
        "vacation with extra": block_doc(vacation={"since": since, "reason": "x"}),
        "vacation since not a time": block_doc(vacation={"since": "tomorrow"}),
        "vacation until not a time": block_doc(vacation={"since": since, "until": "never"}),
        "vacation under a day": block_doc(
            vacation={"since": since, "until": since + timedelta(hours=23)}
        ),
        "vacation over 30 days": block_doc(
            vacation={"since": since, "until": since + timedelta(days=31)}
        ),
        "hardcore without Pro": block_doc(strictness="hardcore"),
    }
    each_denied(
        {
            "id too long": lambda: db.create(f"{base}/{'b' * 65}", block_doc()),
            **{label: lambda doc=doc: db.create(f"{base}/b", doc) for label, doc in bad.items()},
        }
    )
    assert_allowed(lambda: db.create(f"{base}/off", block_doc(vacation=None)))
    assert_allowed(
        lambda: db.create(
            f"{base}/away", block_doc(vacation={"since": since, "until": since + timedelta(days=7)})
        )
    )


def test_block_edits_keep_the_kind_the_suspension_and_hardcore(
    firebase: EmulatorSuite, owner: User
) -> None:
    db, base = firebase.firestore.as_user(owner), f"users/{owner.uid}/blocks"
    db.create(f"{base}/easy", block_doc())
    firebase.firestore.as_owner().update(f"{base}/easy", {"suspendedUntil": NOW})

    each_denied(
        {
            "kind changed": lambda: db.set(
                f"{base}/easy", block_doc("appLock", suspendedUntil=NOW)
            ),
            "suspension lifted": lambda: db.set(f"{base}/easy", block_doc()),
            "made hardcore without Pro": lambda: db.update(
                f"{base}/easy", {"strictness": "hardcore"}
            ),
            "not a block any more": lambda: db.update(f"{base}/easy", {"name": ""}),
        }
    )

    make_pro(firebase, owner)
    assert_allowed(lambda: db.update(f"{base}/easy", {"strictness": "hardcore"}))
    assert_allowed(lambda: db.update(f"{base}/easy", {"name": "Still hardcore"}))
    each_denied(
        {
            "lowered": lambda: db.update(f"{base}/easy", {"strictness": "harder"}),
            "vacation from now": lambda: db.update(f"{base}/easy", {"vacation": {"since": NOW}}),
        }
    )
    later = NOW + timedelta(days=2)
    assert_allowed(lambda: db.update(f"{base}/easy", {"vacation": {"since": later}}))


def test_pro_ends_with_its_paid_period(firebase: EmulatorSuite, owner: User) -> None:
    db, base = firebase.firestore.as_user(owner), f"users/{owner.uid}/blocks"
    profile = firebase.firestore.as_owner()
    profile.update(f"users/{owner.uid}", {"entitlements": {"pro": True, "proUntil": NOW}})
    assert_denied(lambda: db.create(f"{base}/lapsed", block_doc(strictness="hardcore")))

    later = NOW + timedelta(days=30)
    profile.update(f"users/{owner.uid}", {"entitlements": {"pro": True, "proUntil": later}})
    assert_allowed(lambda: db.create(f"{base}/paid", block_doc(strictness="hardcore")))


# -- users/{uid}/sessions ----------------------------------------------------------------------------


def test_sessions_are_the_owners_to_read_and_write(firebase: EmulatorSuite, owner: User) -> None:
    db, path = firebase.firestore.as_user(owner), f"users/{owner.uid}/sessions/s1"
    db.create(path, session_doc())

    assert_allowed(lambda: db.get(path))
    assert_allowed(lambda: db.query(f"users/{owner.uid}/sessions"))
    for who, other in strangers(firebase).items():
        each_denied(
            {
                f"{who} reads": lambda other=other: other.get(path),
                f"{who} ends": lambda other=other: other.update(
                    path, {"status": "cancelled", "endedAt": NOW, "endReason": "cancelled"}
                ),
                f"{who} deletes": lambda other=other: other.delete(path),
            }
        )
    assert_denied(lambda: db.delete(path))


def test_malformed_sessions_are_refused(firebase: EmulatorSuite, owner: User) -> None:
    db, base = firebase.firestore.as_user(owner), f"users/{owner.uid}/sessions"
    bad: dict[str, dict[str, Any]] = {
        "schemaVersion 2": session_doc(schemaVersion=2),
        "unknown strictness": session_doc(strictness="extreme"),
        "empty blockId": session_doc(blockId=""),
        "long blockId": session_doc(blockId="b" * 65),
        "start not a time": session_doc(plannedStart="now"),
        "end not a time": session_doc(plannedEnd="later"),
        "breaks not a list": session_doc(breaks="none"),
        "51 breaks": session_doc(breaks=[{"start": NOW}] * 51),
        "endedAt not a time": session_doc(status="cancelled", endedAt="now"),
        "active but ended": session_doc(endedAt=NOW),
        "active with a reason": session_doc(endReason="cancelled"),
        "completed as cancelled": session_doc(status="completed", endReason="cancelled"),
        "hardcore without Pro": session_doc(strictness="hardcore"),
        "updatedBy not text": session_doc(updatedBy=["iphone-1"]),
        "updatedBy too long": session_doc(updatedBy="d" * 129),
    }
    each_denied(
        {
            "id too long": lambda: db.create(f"{base}/{'s' * 65}", session_doc()),
            **{label: lambda doc=doc: db.create(f"{base}/s", doc) for label, doc in bad.items()},
        }
    )
    make_pro(firebase, owner)
    assert_denied(
        lambda: db.create(f"{base}/s", session_doc(status="cancelled", strictness="hardcore"))
    )
    assert_allowed(lambda: db.create(f"{base}/s", session_doc(strictness="hardcore")))


def test_an_active_sessions_strictness_and_start_are_fixed(
    firebase: EmulatorSuite, owner: User
) -> None:
    db, path = firebase.firestore.as_user(owner), f"users/{owner.uid}/sessions/s1"
    db.create(path, session_doc())

    each_denied(
        {
            "strictness": lambda: db.update(path, {"strictness": "harder"}),
            "start": lambda: db.update(path, {"plannedStart": NOW - timedelta(hours=2)}),
            "result": lambda: db.update(path, {"result": {"focusedMinutes": 600}}),
        }
    )
    assert_allowed(lambda: db.update(path, {"breaks": [{"start": datetime.now(UTC)}]}))


# -- server-owned history ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("collection", "doc_id"),
    [
        ("days", "2026-11-28"),
        ("weeks", "2026-W48"),
        ("milestones", "streakDays-7"),
        ("insights", "2026-11-23"),
        ("consents", "analytics"),
        ("consents/analytics/history", "e1"),
        ("exports", "0f0f"),
        ("exports/0f0f/chunks", "0"),
    ],
)
def test_history_is_readable_by_its_owner_only_and_never_client_written(
    firebase: EmulatorSuite, owner: User, collection: str, doc_id: str
) -> None:
    path = f"users/{owner.uid}/{collection}/{doc_id}"
    firebase.firestore.as_owner().set(path, {"schemaVersion": 1})
    db = firebase.firestore.as_user(owner)

    assert_allowed(lambda: db.get(path))
    assert_allowed(lambda: db.query(f"users/{owner.uid}/{collection}"))
    each_denied(
        {
            "owner writes": lambda: db.set(path, {"schemaVersion": 1}),
            "owner deletes": lambda: db.delete(path),
        }
    )
    for who, other in strangers(firebase).items():
        each_denied(
            {
                f"{who} reads": lambda other=other: other.get(path),
                f"{who} writes": lambda other=other: other.set(path, {"schemaVersion": 1}),
            }
        )


def test_nothing_outside_a_persons_own_documents_is_open(
    firebase: EmulatorSuite, owner: User
) -> None:
    db = firebase.firestore.as_user(owner)
    each_denied(
        {
            f"{path}": lambda path=path: db.get(path)
            for path in (
                "aggregates/hoursSaved",
                "communityDays/2026-11-28",
                "config/clients",
                f"users/{owner.uid}/rateLimits/launch",
                f"users/{owner.uid}/idempotency/key-0000000000000001",
            )
        }
    )


def test_push_tokens_are_closed_to_every_client_the_owner_included(
    firebase: EmulatorSuite, owner: User
) -> None:
    """A token lets whoever holds it be targeted: only the server reads or writes one."""
    path = f"users/{owner.uid}/pushTokens/iphone-1"
    firebase.firestore.as_owner().set(path, {"token": "fcm-token", "platform": "ios"})
    clients = {"owner": firebase.firestore.as_user(owner), **strangers(firebase)}
    for who, db in clients.items():
        each_denied(
            {
                f"{who} reads": lambda db=db: db.get(path),
                f"{who} lists": lambda db=db: db.query(f"users/{owner.uid}/pushTokens"),
                f"{who} writes": lambda db=db: db.set(path, {"token": "another"}),
                f"{who} deletes": lambda db=db: db.delete(path),
            }
        )


def test_the_device_that_writes_a_block_or_session_names_itself(
    firebase: EmulatorSuite, owner: User
) -> None:
    """``updatedBy``: the device id of the writer, so its other devices are told (and it is not)."""
    db = firebase.firestore.as_user(owner)
    block, session = f"users/{owner.uid}/blocks/b", f"users/{owner.uid}/sessions/s"

    assert_allowed(lambda: db.create(block, block_doc(updatedBy="iphone-1")))
    assert_allowed(lambda: db.update(block, {"name": "Evenings", "updatedBy": "mac-1"}))
    assert_allowed(lambda: db.create(session, session_doc(updatedBy="iphone-1")))
    assert_allowed(
        lambda: db.update(session, {"plannedEnd": NOW + timedelta(hours=2), "updatedBy": "mac-1"})
    )


# -- users/{uid}/preferences and the outbox ------------------------------------------------------


def notification_settings(**changes: Any) -> dict[str, Any]:
    doc = {
        "sessionFinished": True,
        "streakAtRisk": False,
        "weeklyReport": True,
        "billingProblem": True,
        "quietHours": {"startHour": 22, "endHour": 7},
    }
    return {k: v for k, v in (doc | changes).items() if v is not DROP}


def test_notification_settings_are_the_owners_to_choose(
    firebase: EmulatorSuite, owner: User
) -> None:
    db, path = firebase.firestore.as_user(owner), f"users/{owner.uid}/preferences/notifications"

    assert_allowed(lambda: db.set(path, notification_settings()))
    assert_allowed(lambda: db.get(path))
    assert_allowed(lambda: db.update(path, {"weeklyReport": False}))
    assert_allowed(lambda: db.set(path, {}))  # every kind on, default quiet hours
    for who, other in strangers(firebase).items():
        each_denied(
            {
                f"{who} reads": lambda other=other: other.get(path),
                f"{who} writes": lambda other=other: other.set(path, notification_settings()),
                f"{who} deletes": lambda other=other: other.delete(path),
            }
        )
    assert_allowed(lambda: db.delete(path))


def test_malformed_notification_settings_are_refused(firebase: EmulatorSuite, owner: User) -> None:
    db, base = firebase.firestore.as_user(owner), f"users/{owner.uid}/preferences"
    quiet = notification_settings()["quietHours"]
    bad: dict[str, dict[str, Any]] = {
        "unknown field": notification_settings(marketing=True),
        "sessionFinished not a flag": notification_settings(sessionFinished="yes"),
        "streakAtRisk not a flag": notification_settings(streakAtRisk=1),
        "weeklyReport not a flag": notification_settings(weeklyReport=None),
        "billingProblem not a flag": notification_settings(billingProblem="off"),
        "quietHours not a map": notification_settings(quietHours="22-7"),
        "quietHours with extra": notification_settings(quietHours=quiet | {"days": [1]}),
        "start not an hour": notification_settings(quietHours=quiet | {"startHour": "22"}),
        "start below 0": notification_settings(quietHours=quiet | {"startHour": -1}),
        "start above 23": notification_settings(quietHours=quiet | {"startHour": 24}),
        "end not an hour": notification_settings(quietHours=quiet | {"endHour": 7.5}),
        "end below 0": notification_settings(quietHours=quiet | {"endHour": -1}),
        "end above 23": notification_settings(quietHours=quiet | {"endHour": 24}),
    }
    each_denied(
        {
            "another preference": lambda: db.set(f"{base}/theme", {"dark": True}),
            "reading another preference": lambda: db.get(f"{base}/theme"),
            **{
                label: lambda doc=doc: db.set(f"{base}/notifications", doc)
                for label, doc in bad.items()
            },
        }
    )


def test_the_outbox_is_closed_to_every_client_the_owner_included(
    firebase: EmulatorSuite, owner: User
) -> None:
    """Pushes owed and sent hold device tokens: only the server reads or writes them."""
    path = f"users/{owner.uid}/outbox/session_finished-s1"
    firebase.firestore.as_owner().set(path, {"kind": "session_finished", "state": "sent"})
    clients = {"owner": firebase.firestore.as_user(owner), **strangers(firebase)}
    for who, db in clients.items():
        each_denied(
            {
                f"{who} reads": lambda db=db: db.get(path),
                f"{who} lists": lambda db=db: db.query(f"users/{owner.uid}/outbox"),
                f"{who} writes": lambda db=db: db.set(path, {"state": "pending"}),
            }
        )

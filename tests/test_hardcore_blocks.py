"""Hardcore only tightens: a device may make a hardcore block stricter or leave it as strict, never
looser. Its selection only grows, a schedule only covers more, a time limit only falls and an app
lock only gets stricter; the name stays editable. Easy and harder blocks stay freely editable.

The same relation is the pure ``focus.domain.blocks.tightens`` (``tests/test_domain_rules.py``);
here ``firestore.rules`` enforces it on what a device writes.

Background triggers are off: these tests are about what the rules let a client write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import block_doc, launched_user, make_pro

from firebase_emulator_harness import EmulatorSuite, Firestore, User, assert_allowed, assert_denied

SELECTION = {
    "iphone": {"apps": ["app-a", "app-b"], "categories": ["games"], "webDomains": ["web-x"]},
    "mac": {"apps": ["app-m"]},
}


@pytest.fixture
def owner(triggers_off: None, firebase: EmulatorSuite) -> User:
    user = launched_user(firebase)
    make_pro(firebase, user)
    return user


@pytest.fixture
def db(firebase: EmulatorSuite, owner: User) -> Firestore:
    return firebase.firestore.as_user(owner)


def each(
    check: Callable[[Callable[[], object]], object], cases: dict[str, Callable[[], object]]
) -> None:
    """Every case passes ``check``; a failure names the case."""
    for label, operation in cases.items():
        try:
            check(operation)
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None


def hardcore(db: Firestore, owner: User, name: str, kind: str, **fields: Any) -> str:
    path = f"users/{owner.uid}/blocks/{name}"
    db.create(path, block_doc(kind, strictness="hardcore", **fields))
    return path


def schedule(weekdays: list[int], start: str, end: str) -> dict[str, Any]:
    return {"schedule": {"weekdays": weekdays, "start": start, "end": end}}


# -- selection -----------------------------------------------------------------------------------


def test_a_hardcore_selection_never_loses_a_device_or_a_token(db: Firestore, owner: User) -> None:
    path = hardcore(db, owner, "apps", "timeLimit", selection=SELECTION)
    iphone = SELECTION["iphone"]

    each(
        assert_denied,
        {
            "selection cleared": lambda: db.update(path, {"selection": {}}),
            "a device removed": lambda: db.update(path, {"selection": {"iphone": iphone}}),
            "a device emptied": lambda: db.update(path, {"selection": SELECTION | {"mac": {}}}),
            "an app removed": lambda: db.update(
                path, {"selection": SELECTION | {"iphone": iphone | {"apps": ["app-a"]}}}
            ),
            "a category removed": lambda: db.update(
                path, {"selection": SELECTION | {"iphone": iphone | {"categories": []}}}
            ),
            "a web domain removed": lambda: db.update(
                path, {"selection": SELECTION | {"iphone": iphone | {"webDomains": []}}}
            ),
            "an app swapped for another": lambda: db.update(
                path, {"selection": SELECTION | {"mac": {"apps": ["app-n"]}}}
            ),
        },
    )
    assert db.get(path)["selection"] == SELECTION

    grown = SELECTION | {
        "iphone": {
            "apps": ["app-b", "app-a", "app-c"],  # order is not part of a selection
            "categories": ["games", "social"],
            "webDomains": ["web-x", "web-y"],
        },
        "mac": {"apps": ["app-m"], "webDomains": ["web-z"]},
        "ipad": {"apps": ["app-p"]},
    }
    assert_allowed(lambda: db.update(path, {"selection": grown}))
    assert db.get(path)["selection"] == grown


def test_each_of_ten_devices_keeps_its_tokens_in_hardcore(db: Firestore, owner: User) -> None:
    devices = {f"device{n}": {"apps": [f"app-{n}", "shared"]} for n in range(10)}
    path = hardcore(db, owner, "ten", "appLock", selection=devices)

    each(
        assert_denied,
        {
            f"an app removed on device{n}": lambda n=n: db.update(
                path, {"selection": devices | {f"device{n}": {"apps": ["shared"]}}}
            )
            for n in range(10)
        },
    )
    assert_allowed(lambda: db.update(path, {"name": "Ten devices, still locked"}))
    assert db.get(path)["selection"] == devices


# -- schedule ------------------------------------------------------------------------------------


def test_a_hardcore_daytime_schedule_only_covers_more(db: Firestore, owner: User) -> None:
    path = hardcore(db, owner, "work", "schedule", **schedule([1, 2, 3, 4, 5], "09:00", "17:00"))

    each(
        assert_denied,
        {
            "a weekday dropped": lambda: db.update(path, schedule([1, 2, 3, 4], "09:00", "17:00")),
            "moved to the weekend": lambda: db.update(path, schedule([6, 7], "09:00", "17:00")),
            "starts later": lambda: db.update(path, schedule([1, 2, 3, 4, 5], "09:01", "17:00")),
            "ends earlier": lambda: db.update(path, schedule([1, 2, 3, 4, 5], "09:00", "16:59")),
            "one minute at 03:00 on Sunday": lambda: db.update(
                path, schedule([7], "03:00", "03:01")
            ),
            "moved to the night": lambda: db.update(
                path, schedule([1, 2, 3, 4, 5], "03:00", "03:01")
            ),
        },
    )

    each(
        assert_allowed,
        {
            "unchanged": lambda: db.update(path, schedule([1, 2, 3, 4, 5], "09:00", "17:00")),
            "a weekday added": lambda: db.update(
                path, schedule([1, 2, 3, 4, 5, 6], "09:00", "17:00")
            ),
            "starts earlier": lambda: db.update(
                path, schedule([5, 4, 3, 2, 1, 6], "08:00", "17:00")
            ),
            "ends later": lambda: db.update(path, schedule([1, 2, 3, 4, 5, 6], "08:00", "18:00")),
            "runs past midnight": lambda: db.update(
                path, schedule([1, 2, 3, 4, 5, 6], "08:00", "01:00")
            ),
        },
    )
    assert db.get(path)["schedule"] == {
        "weekdays": [1, 2, 3, 4, 5, 6],
        "start": "08:00",
        "end": "01:00",
    }


def test_a_hardcore_overnight_schedule_only_widens_and_stays_overnight(
    db: Firestore, owner: User
) -> None:
    path = hardcore(db, owner, "nights", "schedule", **schedule([1, 2, 3], "22:00", "06:00"))

    each(
        assert_denied,
        {
            "ends earlier": lambda: db.update(path, schedule([1, 2, 3], "22:00", "05:59")),
            "starts later": lambda: db.update(path, schedule([1, 2, 3], "22:01", "06:00")),
            "ends before midnight": lambda: db.update(path, schedule([1, 2, 3], "22:00", "23:59")),
            "a daytime window instead": lambda: db.update(
                path, schedule([1, 2, 3], "00:00", "23:59")
            ),
        },
    )

    each(
        assert_allowed,
        {
            "starts earlier": lambda: db.update(path, schedule([1, 2, 3], "21:00", "06:00")),
            "ends later": lambda: db.update(path, schedule([1, 2, 3], "21:00", "07:30")),
            "a full day from its start": lambda: db.update(
                path, schedule([1, 2, 3], "21:00", "21:00")
            ),
        },
    )
    assert db.get(path)["schedule"] == {"weekdays": [1, 2, 3], "start": "21:00", "end": "21:00"}


# -- time limit and app lock ---------------------------------------------------------------------


def test_a_hardcore_time_limit_only_falls(db: Firestore, owner: User) -> None:
    path = hardcore(db, owner, "limit", "timeLimit", timeLimit={"dailyMinutes": 60})

    each(
        assert_denied,
        {
            "a minute more": lambda: db.update(path, {"timeLimit": {"dailyMinutes": 61}}),
            "the whole day": lambda: db.update(path, {"timeLimit": {"dailyMinutes": 1440}}),
        },
    )
    assert_allowed(lambda: db.update(path, {"timeLimit": {"dailyMinutes": 60}}))
    assert_allowed(lambda: db.update(path, {"timeLimit": {"dailyMinutes": 30}}))
    assert db.get(path)["timeLimit"] == {"dailyMinutes": 30}
    assert_denied(lambda: db.update(path, {"timeLimit": {"dailyMinutes": 45}}))


def test_a_hardcore_app_lock_only_gets_stricter(db: Firestore, owner: User) -> None:
    path = hardcore(
        db, owner, "lock", "appLock", appLock={"unlocksPerDay": 3, "minutesPerUnlock": 5}
    )

    def lock(unlocks: int, minutes: int) -> Callable[[], None]:
        return lambda: db.update(
            path, {"appLock": {"unlocksPerDay": unlocks, "minutesPerUnlock": minutes}}
        )

    each(
        assert_denied,
        {
            "more unlocks": lock(4, 5),
            "longer unlocks": lock(3, 6),
            "fewer but longer unlocks": lock(1, 240),
            "unlimited-looking": lock(100, 240),
        },
    )
    each(
        assert_allowed,
        {"unchanged": lock(3, 5), "fewer unlocks": lock(2, 5), "shorter unlocks": lock(2, 1)},
    )
    assert_allowed(lock(0, 1))
    assert db.get(path)["appLock"] == {"unlocksPerDay": 0, "minutesPerUnlock": 1}


# -- what stays free -----------------------------------------------------------------------------


def test_a_hardcore_block_keeps_its_name_editable(db: Firestore, owner: User) -> None:
    path = hardcore(db, owner, "named", "timeLimit")

    assert_allowed(lambda: db.update(path, {"name": "Social, an hour a day"}))
    assert db.get(path)["name"] == "Social, an hour a day"


@pytest.mark.parametrize("strictness", ["easy", "harder"])
def test_easy_and_harder_blocks_may_be_loosened(
    db: Firestore, owner: User, strictness: str
) -> None:
    base = f"users/{owner.uid}/blocks"
    for kind in ("schedule", "timeLimit", "appLock"):
        db.create(f"{base}/{kind}", block_doc(kind, strictness=strictness, selection=SELECTION))

    each(
        assert_allowed,
        {
            "selection cleared": lambda: db.update(f"{base}/timeLimit", {"selection": {}}),
            "limit raised to the whole day": lambda: db.update(
                f"{base}/timeLimit", {"timeLimit": {"dailyMinutes": 1440}}
            ),
            "schedule moved to one minute on Sunday": lambda: db.update(
                f"{base}/schedule", schedule([7], "03:00", "03:01")
            ),
            "lock loosened": lambda: db.update(
                f"{base}/appLock", {"appLock": {"unlocksPerDay": 100, "minutesPerUnlock": 240}}
            ),
        },
    )
    assert db.get(f"{base}/timeLimit")["timeLimit"] == {"dailyMinutes": 1440}


def test_a_block_made_hardcore_only_tightens_from_then_on(db: Firestore, owner: User) -> None:
    path = f"users/{owner.uid}/blocks/upgraded"
    db.create(path, block_doc("timeLimit", timeLimit={"dailyMinutes": 60}))

    # Making a block hardcore may come with any rule; from then on it only tightens.
    assert_allowed(
        lambda: db.update(path, {"strictness": "hardcore", "timeLimit": {"dailyMinutes": 90}})
    )
    assert_denied(lambda: db.update(path, {"timeLimit": {"dailyMinutes": 120}}))
    assert db.get(path)["timeLimit"] == {"dailyMinutes": 90}

"""Devices register themselves under their owner; nobody else sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emulator_log import wait_for_lines

from firebase_emulator_harness import EmulatorSuite, User, assert_allowed, assert_denied, wait_for
from focus.adapters.logs import pseudonymous_user_id
from focus.domain.devices import MAX_DEVICES_PER_PERSON, evictions


def device(**changes: object) -> dict[str, object]:
    return {
        "schemaVersion": 1,
        "platform": "android",
        "appVersion": "3.4.0",
        "osVersion": "15",
        "lastSeenAt": datetime.now(UTC),
    } | changes


def test_a_device_registers_and_updates_itself(firebase: EmulatorSuite, user: User) -> None:
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/devices/install-1"

    assert_allowed(lambda: db.create(path, device()))
    assert_allowed(
        lambda: db.update(path, {"appVersion": "3.5.0", "lastSeenAt": datetime.now(UTC)})
    )
    assert (db.get(path) or {})["appVersion"] == "3.5.0"


def test_devices_are_private_and_well_formed(firebase: EmulatorSuite, user: User) -> None:
    other = firebase.auth.sign_up_anonymously()
    db = firebase.firestore.as_user(user)
    firebase.firestore.as_user(user).create(f"users/{user.uid}/devices/mine", device())

    assert_denied(lambda: firebase.firestore.as_user(other).get(f"users/{user.uid}/devices/mine"))
    assert_denied(
        lambda: firebase.firestore.unauthenticated().get(f"users/{user.uid}/devices/mine")
    )
    assert_denied(lambda: db.create(f"users/{user.uid}/devices/x", device(platform="windows")))
    assert_denied(lambda: db.create(f"users/{user.uid}/devices/y", device(pushToken="abc")))
    assert_denied(lambda: db.create(f"users/{user.uid}/devices/z", device(appVersion="")))


def test_over_the_cap_of_10_devices_the_one_seen_least_recently_goes_never_the_new_one(
    firebase: EmulatorSuite, user: User
) -> None:
    """Every reinstall registers a new install id and nothing unregisters the old ones: the
    device trigger counts after each registration and removes the stalest over the cap."""
    base = f"users/{user.uid}/devices"
    owner = firebase.firestore.as_owner()
    now = datetime.now(UTC)
    current = {path.rsplit("/", 1)[1] for path, _ in owner.query(base)}  # this phone, seen now
    old = [f"install-{n}" for n in range(MAX_DEVICES_PER_PERSON - len(current))]
    with firebase.functions.background_triggers_disabled():  # old installs, up to the cap
        for n, install in enumerate(old):
            owner.set(f"{base}/{install}", device(lastSeenAt=now - timedelta(days=30 - n)))

    # A new phone registers itself (with a clock set far back: its own time decides nothing).
    assert_allowed(
        lambda: firebase.firestore.as_user(user).create(
            f"{base}/new-phone", device(lastSeenAt=now - timedelta(days=365))
        )
    )

    wait_for(lambda: owner.get(f"{base}/install-0") is None, message="stalest removed", timeout=90)
    remaining = {path.rsplit("/", 1)[1] for path, _ in owner.query(base)}
    assert remaining == current | set(old[1:]) | {"new-phone"}
    (line,) = wait_for_lines(
        lambda line: (
            line.get("message") == "devices over the cap removed"
            and line.get("owner") == pseudonymous_user_id(user.uid)
        ),
        message="the removal is logged",
    )
    assert (line["devices"], line["cap"], line["removed"]) == (11, 10, 1)


def test_which_devices_go_over_the_cap() -> None:
    day = datetime(2026, 11, 29, tzinfo=UTC)
    seen = [(f"d{n}", day + timedelta(hours=n)) for n in range(12)]

    assert evictions(seen[:10], registering="d9") == []
    assert evictions(seen, registering="d11") == ["d0", "d1"]
    # Never the registering one, however stale; unreadable times go first; ties by id.
    assert evictions(seen, registering="d0") == ["d1", "d2"]
    assert evictions([*seen[:10], ("junk", None)], registering="d9") == ["junk"]
    tied = [("b", day), ("a", day), *seen[2:11]]
    assert evictions(tied, registering="d10") == ["a"]

"""Devices register themselves under their owner; nobody else sees them."""

from __future__ import annotations

from datetime import UTC, datetime

from firebase_emulator_harness import EmulatorSuite, User, assert_allowed, assert_denied


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

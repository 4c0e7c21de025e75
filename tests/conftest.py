"""Helpers shared by the Focus backend's tests. The emulator fixtures come from the
``firebase_emulator_harness`` plugin (``firebase``, ``firebase_suite``, ``firestore_rules``).

``FOCUS_TEST_NOW`` (an ISO date-time) moves the test process's clock there before any test runs,
and lets it tick on; ``scripts/test-shifted-dates`` uses it, with ``TZ``, to show that tests which
claim not to read the test machine's clock really do not.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firebase_emulator_harness import EmulatorSuite, FcmRemote, User
from firebase_emulator_harness.functions import function_workers, reap_orphaned_workers

IPHONE = {"platform": "ios", "appVersion": "3.4.0", "build": 412}


@pytest.fixture(scope="session", autouse=True)
def shifted_clock() -> Iterator[None]:
    moment = os.environ.get("FOCUS_TEST_NOW")
    if not moment:
        yield
        return
    import time_machine

    with time_machine.travel(datetime.fromisoformat(moment), tick=True):
        yield


def envelope(
    payload: dict[str, Any] | None = None,
    client: dict[str, Any] | None = IPHONE,
    *,
    version: str = "2026-11-29",
    key: str | None = None,
) -> dict[str, Any]:
    """A callable request as the app sends it, with a fresh idempotency key unless given."""
    body: dict[str, Any] = {
        "apiVersion": version,
        "idempotencyKey": key or uuid.uuid4().hex,
        "payload": payload or {},
    }
    if client is not None:
        body["client"] = client
    return body


def session_doc(
    *,
    status: str = "active",
    started_minutes_ago: int | None = None,
    minutes: int = 45,
    strictness: str = "easy",
    **extra: Any,
) -> dict[str, Any]:
    """A focus session as a device writes it. By default an active one started 30 minutes ago and
    an ended one has passed its planned end."""
    now = datetime.now(UTC)
    if started_minutes_ago is None:
        started_minutes_ago = 0 if status == "active" else minutes + 5
    start = now - timedelta(minutes=started_minutes_ago)
    end = start + timedelta(minutes=minutes)
    doc: dict[str, Any] = {
        "schemaVersion": 1,
        "status": status,
        "strictness": strictness,
        "plannedStart": start,
        "plannedEnd": end,
    }
    if status == "completed":
        doc |= {"endedAt": end, "endReason": "completed"}
    if status == "cancelled":
        doc |= {"endedAt": min(now, end), "endReason": "cancelled"}
    return doc | extra


# Live function workers (~45-130 MB each) the emulator may keep after a test module: past this,
# the idle ones are stopped. A full run once reached ~500 worker processes and 24 GB without it.
MAX_FUNCTION_WORKERS = 120


@pytest.fixture(scope="module", autouse=True)
def function_workers_recycled(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each module, reap the workers the emulator let go of (each reload, e.g. by
    ``triggers_off``, orphans its idle workers), and stop the idle ones if too many piled up."""
    yield
    if "FIREBASE_EMULATOR_HUB" not in os.environ:
        return  # pure specs, run without scripts/test: the workers on this machine are not ours
    reap_orphaned_workers()
    if len(function_workers()) > MAX_FUNCTION_WORKERS:
        # (Workers exist only while this run's emulator suite is up.)
        suite: EmulatorSuite = request.getfixturevalue("firebase_suite")
        suite.functions.recycle_idle_workers()


@pytest.fixture
def fcm() -> Iterator[FcmRemote]:
    """The local FCM endpoint scripts/test runs beside the emulators (``FOCUS_FCM_ENDPOINT``):
    the pushes our code sends, from a function worker or from the test, arrive there. Emptied
    of messages, failures and quota before and after the test."""
    url = os.environ.get("FOCUS_FCM_ENDPOINT")
    if not url:
        pytest.skip("no local FCM endpoint (FOCUS_FCM_ENDPOINT unset): run through scripts/test")
    endpoint = FcmRemote(url)
    endpoint.reset()
    yield endpoint
    endpoint.reset()


@pytest.fixture(scope="module")
def triggers_off(firebase_suite: EmulatorSuite) -> Iterator[None]:
    """Background triggers off for a whole module: for tests of what a client may write (rules,
    hostile input), where derived writes in the background would only blur the picture."""
    with firebase_suite.functions.background_triggers_disabled():
        yield


def launched_user(firebase: EmulatorSuite, *, anonymous: bool = True) -> User:
    """A user who has opened the app once (so their profile exists)."""
    user = (
        firebase.auth.sign_up_anonymously()
        if anonymous
        else firebase.auth.create_user("ada@example.com")
    )
    firebase.functions.call("launch", envelope(), user=user).unwrap()
    register_device(firebase, user)
    return user


def register_device(
    firebase: EmulatorSuite, user: User, device_id: str = "iphone-1", platform: str = "ios"
) -> None:
    """What the app does on first launch on a device: register the install (under the rules).
    Daily reports are accepted only from a registered device."""
    firebase.firestore.as_user(user).set(
        f"users/{user.uid}/devices/{device_id}", device_doc(platform)
    )


def device_doc(platform: str = "ios") -> dict[str, Any]:
    """A device registration as the app writes it."""
    return {
        "schemaVersion": 1,
        "platform": platform,
        "appVersion": "3.4.0",
        "osVersion": "26.1",
        "lastSeenAt": datetime.now(UTC),
    }


@pytest.fixture
def user(firebase: EmulatorSuite) -> User:
    return launched_user(firebase)


def make_pro(firebase: EmulatorSuite, user: User) -> None:
    """Give the user Focus Pro (the subscription issue will do this from store receipts)."""
    firebase.firestore.as_owner().update(f"users/{user.uid}", {"entitlements.pro": True})


def block_doc(kind: str = "timeLimit", *, strictness: str = "easy", **extra: Any) -> dict[str, Any]:
    """A block as a device writes it: opaque per-device tokens, stored as given."""
    rules = {
        "schedule": {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00"},
        "timeLimit": {"dailyMinutes": 60},
        "appLock": {"unlocksPerDay": 3, "minutesPerUnlock": 5},
    }
    return {
        "schemaVersion": 1,
        "kind": kind,
        "name": f"My {kind}",
        "selection": {
            "iphone-1": {"apps": ["AAEAAH9tb2tlbg=="], "categories": [], "webDomains": []}
        },
        "strictness": strictness,
        kind: rules[kind],
    } | extra

"""The streak reminder, written by a model for people who granted AI processing: the evening's
campaign batch hands them to ``writeNudge``, whose push carries the model's checked text; everyone
else gets the template, and so does anyone for whom the model fails, refuses, answers something
the checks refuse or the budget is spent. One streak push per person and day, however often the
task is delivered.

A streak is at risk only in the person's 20:00-21:00 local evening, read from the real clock by
the functions: each test lives in a time zone where it is that evening now (``evening``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from conftest import envelope, launched_user, register_device

from firebase_emulator_harness import (
    EmulatorSuite,
    FcmRemote,
    ReceivedMessage,
    User,
    VertexError,
    VertexRemote,
    wait_for,
)
from firebase_emulator_harness.vertex import BlockReason

TITLE = "Your streak is at risk"
TEMPLATE = "Meet today's goal to keep your 6-day streak."
NUDGE = "Keep your 6-day streak alive: stay within your goal of 2 h today."  # goal: 120 min
# Time a test needs before the evening closes at 21:00 (the push is dropped after it).
MARGIN = timedelta(minutes=3)


@dataclass(frozen=True)
class Evening:
    """A time zone where it is now between 20:00 and 21:00 (less ``MARGIN``), and its date."""

    zone: str
    day: date


def evening() -> Evening:
    """The zone whose evening has the most time left now (waiting, rarely, for the next one)."""
    while True:
        now = datetime.now(UTC)
        candidates = []
        for name in sorted(available_timezones()):
            if "/" not in name or name.startswith(("posix/", "right/", "SystemV/")):
                continue  # aliases and legacy names: the regions people live in suffice
            local = now.astimezone(ZoneInfo(name))
            if local.hour == 20:
                closes = local.replace(hour=21, minute=0, second=0, microsecond=0)
                candidates.append((closes - local, name))
        if candidates:
            left, zone = max(candidates)
            if left >= MARGIN:
                return Evening(zone, now.astimezone(ZoneInfo(zone)).date())
        time.sleep(10)


def person_at_risk(
    firebase: EmulatorSuite, at: Evening, *, ai: bool, device: str = "iphone-1"
) -> User:
    """Someone with a 6-day streak that ends tonight (yesterday counted, today not yet), a device
    to reach and consent to product messages; ``ai``: also to AI processing."""
    user = launched_user(firebase)
    yesterday = (at.day - timedelta(days=1)).isoformat()
    firebase.firestore.as_owner().update(
        f"users/{user.uid}",
        {
            "settings.timezone": at.zone,
            "settings.locale": "en-US",
            "settings.dailyGoalMinutes": 120,
            "streak": {"current": 6, "longest": 6, "lastDay": yesterday},
        },
    )
    register_device(firebase, user, device)
    firebase.functions.call(
        "registerPushToken",
        envelope({"deviceId": device, "token": token(user, device)}),
        user=user,
    ).unwrap()
    firebase.firestore.as_user(user).set(
        f"users/{user.uid}/preferences/notifications",
        {"quietHours": {"startHour": 0, "endHour": 0}},
    )
    purposes = ["productMessages", "aiProcessing"] if ai else ["productMessages"]
    for purpose in purposes:
        firebase.functions.call(
            "setConsent",
            envelope({"purpose": purpose, "granted": True, "policyVersion": "2026-11"}),
            user=user,
        ).unwrap()
    return user


def token(user: User, device: str = "iphone-1") -> str:
    return f"token-{user.uid}-{device}"


def send_batch(firebase: EmulatorSuite, at: Evening) -> None:
    """The evening's campaign batch of the zone, as the planner enqueues it."""
    status = firebase.functions.dispatch_task(
        "sendCampaignBatch",
        {
            "campaign": "streakAtRisk",
            "day": at.day.isoformat(),
            "readyAt": datetime.now(UTC).isoformat(),
            "zones": [at.zone],
            "shard": 0,
            "shards": 1,
        },
    )
    assert status == 200


def pushes_to(fcm: FcmRemote, user: User) -> Callable[[], list[ReceivedMessage]]:
    return lambda: [m for m in fcm.received() if m.accepted and m.token == token(user)]


def the_push(fcm: FcmRemote, user: User) -> dict[str, Any]:
    """The one push the person's device received (waiting for the nudge's task to send it)."""
    [push] = wait_for(pushes_to(fcm, user), message="the streak push")
    notification = push.message["notification"]
    assert isinstance(notification, dict)
    return notification


def entry(firebase: EmulatorSuite, user: User, at: Evening) -> dict[str, Any]:
    stored = firebase.firestore.as_owner().get(
        f"users/{user.uid}/outbox/streak_at_risk-{at.day.isoformat()}"
    )
    assert stored is not None
    return stored


def test_a_consenting_person_at_risk_gets_the_models_nudge(
    firebase: EmulatorSuite, fcm: FcmRemote, vertex: VertexRemote
) -> None:
    at = evening()
    user = person_at_risk(firebase, at, ai=True)
    vertex.answer(json.dumps({"text": NUDGE}))

    send_batch(firebase, at)

    assert the_push(fcm, user) == {"title": TITLE, "body": NUDGE}
    [request] = vertex.requests()
    assert '"streakDays":6' in request.prompt and '"dailyGoalMinutes":120' in request.prompt
    assert user.uid not in request.prompt and at.zone not in request.prompt
    stored = entry(firebase, user, at)
    assert stored["message"]["note"] == NUDGE
    assert wait_for(lambda: entry(firebase, user, at)["state"] == "sent")


def test_without_ai_consent_the_template_goes_out_and_no_model_is_asked(
    firebase: EmulatorSuite, fcm: FcmRemote, vertex: VertexRemote
) -> None:
    at = evening()
    user = person_at_risk(firebase, at, ai=False)

    send_batch(firebase, at)

    assert the_push(fcm, user) == {"title": TITLE, "body": TEMPLATE}
    assert vertex.requests() == []


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(lambda v: v.fail(VertexError.INTERNAL), id="failing"),
        pytest.param(lambda v: v.fail(VertexError.RESOURCE_EXHAUSTED), id="over-quota"),
        pytest.param(lambda v: v.block(BlockReason.SAFETY), id="blocked"),
        pytest.param(lambda v: v.stop_for_safety(), id="refusing"),
        pytest.param(lambda v: v.answer("Sure! Here is a nudge."), id="not-json"),
        pytest.param(
            lambda v: v.answer(json.dumps({"text": "Hi robin@example.com, keep your streak!"})),
            id="personal",
        ),
        pytest.param(
            lambda v: v.answer(json.dumps({"text": "Keep your 9-day streak going tonight!"})),
            id="wrong-figure",
        ),
    ],
)
def test_when_the_model_fails_refuses_or_answers_badly_the_template_goes_out(
    firebase: EmulatorSuite,
    fcm: FcmRemote,
    vertex: VertexRemote,
    script: Callable[[VertexRemote], None],
) -> None:
    at = evening()
    user = person_at_risk(firebase, at, ai=True)
    script(vertex)

    send_batch(firebase, at)

    assert the_push(fcm, user) == {"title": TITLE, "body": TEMPLATE}
    assert len(vertex.requests()) == 1  # asked once: a late nudge is worth less than the template
    assert entry(firebase, user, at)["message"].get("note") is None


def test_once_the_budget_is_spent_the_template_goes_out_without_asking_the_model(
    firebase: EmulatorSuite, fcm: FcmRemote, vertex: VertexRemote
) -> None:
    at = evening()
    user = person_at_risk(firebase, at, ai=True)
    firebase.firestore.as_owner().set("config/insights", {"callsPerPersonPerDay": 0})
    vertex.answer(json.dumps({"text": NUDGE}))

    send_batch(firebase, at)

    assert the_push(fcm, user) == {"title": TITLE, "body": TEMPLATE}
    assert vertex.requests() == []


def test_a_redelivered_nudge_sends_one_push_and_asks_the_model_once(
    firebase: EmulatorSuite, fcm: FcmRemote, vertex: VertexRemote
) -> None:
    at = evening()
    user = person_at_risk(firebase, at, ai=True)
    vertex.answer(json.dumps({"text": NUDGE}))
    vertex.answer(json.dumps({"text": "Your 6-day streak is on the line: keep today in check."}))
    task = {"userId": user.uid, "day": at.day.isoformat(), "readyAt": datetime.now(UTC).isoformat()}

    assert firebase.functions.dispatch_task("writeNudge", task) == 200
    assert firebase.functions.dispatch_task("writeNudge", task) == 200  # delivered again

    [push] = pushes_to(fcm, user)()  # each delivery has finished: its push was sent, or not
    assert push.message["notification"] == {"title": TITLE, "body": NUDGE}
    assert len(vertex.requests()) == 1

"""Pushes, end to end: a change on one device wakes the person's other devices once, visible
messages respect the person's settings, consent, quiet hours and caps, and the sender survives
what FCM and the task queue do (dead tokens, 429 with Retry-After, duplicate deliveries).

The local suite coalesces sync pushes for ``FOCUS_SYNC_COALESCING_SECONDS`` (scripts/lib/suite.py)
instead of production's two minutes; pushes go to the local FCM endpoint (the ``fcm`` fixture).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

from conftest import block_doc, envelope, register_device, session_doc

from firebase_emulator_harness import EmulatorSuite, FcmError, FcmRemote, User, wait_for
from firebase_emulator_harness.errors import EmulatorError
from focus.domain import sweep_shards
from focus.domain.notifications import SessionFinished, WeeklyReportReady
from focus.domain.outbox import visible_entry, visible_entry_id

DEVICES = {"iphone-1": "ios", "mac-1": "macos", "pixel-1": "android"}


def token_of(device_id: str) -> str:
    return f"fcm-token-{device_id}:APA91b" + "t" * 40


def with_devices(firebase: EmulatorSuite, user: User, devices: dict[str, str] = DEVICES) -> None:
    """The person's devices, each registered with its push token as the app does at launch."""
    for device_id, platform in devices.items():
        register_device(firebase, user, device_id, platform)
        firebase.functions.call(
            "registerPushToken",
            envelope({"deviceId": device_id, "token": token_of(device_id), "platform": platform}),
            user=user,
        ).unwrap()


def no_quiet_hours(firebase: EmulatorSuite, user: User, **settings: Any) -> None:
    """Settings without quiet hours, so whatever the time of day the test runs a push is due."""
    firebase.firestore.as_user(user).set(
        f"users/{user.uid}/preferences/notifications",
        {"quietHours": {"startHour": 0, "endHour": 0}, **settings},
    )


def pushes_to(fcm: FcmRemote, device_id: str, kind: str) -> list[Any]:
    return [
        m
        for m in fcm.received()
        if m.token == token_of(device_id) and m.accepted and m.message["data"]["kind"] == kind
    ]


def entry(firebase: EmulatorSuite, user: User, entry_id: str) -> dict[str, Any]:
    return firebase.firestore.as_owner().get(f"users/{user.uid}/outbox/{entry_id}") or {}


def owe(firebase: EmulatorSuite, user: User, message: Any) -> str:
    """A visible message recorded in the person's outbox, as the change causing it records it."""
    entry_id = visible_entry_id(message)
    firebase.firestore.as_owner().set(
        f"users/{user.uid}/outbox/{entry_id}",
        visible_entry(message, datetime.now(UTC)).to_firestore() | sweep_shards.fields(user.uid),
    )
    return entry_id


def send(firebase: EmulatorSuite, user: User, entry_id: str) -> int:
    """One delivery of the entry's ``sendPush`` task; its HTTP status (a delivery that finds
    another one holding the entry fails, so the queue retries it)."""
    try:
        return firebase.functions.dispatch_task(
            "sendPush", {"userId": user.uid, "entryId": entry_id}
        )
    except EmulatorError as exc:
        return exc.status or 0


def finished_session(session_id: str = "s1") -> SessionFinished:
    return SessionFinished(
        session_id=session_id, focused_minutes=25, ended_at=datetime.now(UTC), ended_by="iphone-1"
    )


def test_a_burst_of_edits_on_one_device_wakes_each_other_device_once(
    firebase: EmulatorSuite, user: User, fcm: FcmRemote
) -> None:
    with_devices(firebase, user)
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/blocks/evenings"

    db.create(path, block_doc("schedule", updatedBy="iphone-1"))
    for n in range(4):
        db.update(path, {"name": f"Evenings {n}", "updatedBy": "iphone-1"})

    for device_id in ("mac-1", "pixel-1"):
        wait_for(
            lambda d=device_id: pushes_to(fcm, d, "sync"), message=f"a sync push to {device_id}"
        )
    time.sleep(8)  # longer than the coalescing window: a second push would have come by now
    assert len(pushes_to(fcm, "mac-1", "sync")) == 1
    assert len(pushes_to(fcm, "pixel-1", "sync")) == 1
    assert pushes_to(fcm, "iphone-1", "sync") == []  # it made the edits
    (mac,) = pushes_to(fcm, "mac-1", "sync")
    assert mac.message["data"]["what"] == "blocks"
    assert "notification" not in mac.message
    assert mac.message["apns"]["headers"]["apns-push-type"] == "background"
    assert mac.message["apns"]["headers"]["apns-priority"] == "5"
    assert mac.message["apns"]["payload"]["aps"] == {"content-available": 1}
    (pixel,) = pushes_to(fcm, "pixel-1", "sync")
    assert pixel.message["android"]["priority"] == "normal"


def test_a_session_finished_on_one_device_is_shown_on_the_others(
    firebase: EmulatorSuite, user: User, fcm: FcmRemote
) -> None:
    with_devices(firebase, user, {"iphone-1": "ios", "mac-1": "macos"})
    no_quiet_hours(firebase, user)

    firebase.firestore.as_owner().create(
        f"users/{user.uid}/sessions/deep-work",
        session_doc(status="completed", minutes=25, started_minutes_ago=26, updatedBy="iphone-1"),
    )

    (shown,) = wait_for(
        lambda: pushes_to(fcm, "mac-1", "session_finished"), message="session finished on the Mac"
    )
    assert shown.message["notification"]["title"] == "Focus session finished"
    assert shown.message["notification"]["body"] == "Well done: 25 min of focus."
    assert shown.message["data"]["sessionId"] == "deep-work"
    assert shown.message["apns"]["headers"]["apns-push-type"] == "alert"
    assert pushes_to(fcm, "iphone-1", "session_finished") == []
    sent = wait_for(
        lambda: (
            (e := entry(firebase, user, "session_finished-deep-work")).get("state") == "sent" and e
        )
    )
    assert sent["deliveries"]["mac-1"]["outcome"] == "accepted"
    assert sent["sweepShard"] == sweep_shards.shard_of(user.uid)  # the sweep's index


def test_a_delivery_that_stalled_past_its_lease_leaves_the_entry_to_its_replacement(
    firebase: EmulatorSuite, user: User, fcm: FcmRemote
) -> None:
    """A delivery that stalled while FCM answered, long enough for its lease to run out and
    another delivery to claim the entry, records none of its answers: the entry is the
    replacement's to settle (the claim's update time fences the write)."""
    from focus.adapters import clients, paths
    from focus.domain import notifications as rules
    from focus.domain.outbox import EntryState, OutboxEntry
    from focus.services import outbox, push_sync

    with_devices(firebase, user, {"iphone-1": "ios", "mac-1": "macos"})
    no_quiet_hours(firebase, user)
    message = finished_session()
    entry_id = owe(firebase, user, message)
    now = datetime.now(UTC)
    devices = [
        found[0]
        for snapshot in push_sync.token_documents(user.uid)
        if (found := push_sync.target_of(snapshot)) is not None
    ]
    targets = rules.visible_targets(devices, message)
    person = outbox.person_context(user.uid, message.kind, now)
    pushes = rules.visible_pushes(message, person, targets, now)
    stalled = OutboxEntry.model_validate(entry(firebase, user, entry_id)).model_copy(
        update={
            "pushes": {t.device_id: p for t, p in zip(targets, pushes, strict=True)},
            "state": EntryState.SENDING,
        }
    )
    ref = clients.firestore().document(paths.outbox_entry(user.uid, entry_id))
    claimed_at = ref.get().update_time  # the entry as the stalled delivery's claim left it
    replacement = {"holder": "replacement", "until": now + timedelta(minutes=1)}
    firebase.firestore.as_owner().update(
        f"users/{user.uid}/outbox/{entry_id}", {"lease": replacement, "state": "sending"}
    )

    outbox.deliver([outbox.Claimed(user.uid, entry_id, stalled, "stalled", claimed_at)])

    assert len(pushes_to(fcm, "mac-1", "session_finished")) == 1  # FCM had it before the stall
    after = entry(firebase, user, entry_id)
    assert after["lease"]["holder"] == "replacement"
    assert after["state"] == "sending"
    assert not after.get("deliveries")  # no answer of the stalled delivery recorded


def test_a_token_refreshed_while_a_change_is_staged_keeps_its_refresh_and_still_gets_the_push(
    firebase: EmulatorSuite, user: User, monkeypatch: Any
) -> None:
    """A change's sync writes are fenced by each token document's update time as found, not read
    again in a transaction: a device that refreshes its token between the finding and the commit
    makes the commit fail, and the change is staged again on the refreshed document, so neither
    the refresh nor the owed push is lost."""
    from focus.domain.notifications import SyncChange, SyncScope
    from focus.services import push_sync

    with_devices(firebase, user, {"iphone-1": "ios", "mac-1": "macos"})
    mac = f"users/{user.uid}/pushTokens/mac-1"
    registered = firebase.firestore.as_owner().get(mac) or {}
    found = push_sync.token_documents
    finds = []

    def refreshed_in_between(uid: str) -> list[Any]:
        tokens = found(uid)
        finds.append(len(tokens))
        if len(finds) == 1:  # the mac launches again: its token document changes
            firebase.functions.call(
                "registerPushToken",
                envelope({"deviceId": "mac-1", "token": token_of("mac-1"), "platform": "macos"}),
                user=user,
            ).unwrap()
        return tokens

    monkeypatch.setattr(push_sync, "token_documents", refreshed_in_between)
    now = datetime.now(UTC)
    change = SyncChange(what=SyncScope.BLOCKS, changed_at=now, changed_by="iphone-1")

    (handoff,) = push_sync.changed(user.uid, change, now)

    assert finds == [2, 2]  # the first commit was refused, the tokens found again
    token = firebase.firestore.as_owner().get(mac) or {}
    assert token["refreshedAt"] > registered["refreshedAt"]  # the refresh kept
    assert token["sync"]["pending"]["what"] == ["blocks"]  # and the push owed
    assert entry(firebase, user, handoff.entry_id)["deviceId"] == "mac-1"
    iphone = firebase.firestore.as_owner().get(f"users/{user.uid}/pushTokens/iphone-1") or {}
    assert not (iphone.get("sync") or {}).get("pending")  # it made the change


def test_an_entry_whose_task_was_lost_is_sent_by_the_sweep(
    firebase: EmulatorSuite, user: User, fcm: FcmRemote
) -> None:
    with_devices(firebase, user, {"iphone-1": "ios", "mac-1": "macos"})
    no_quiet_hours(firebase, user)
    entry_id = owe(firebase, user, finished_session())  # recorded; its task never enqueued
    overdue = datetime.now(UTC) - timedelta(minutes=6)  # the sweep waits 5 minutes past due
    firebase.firestore.as_owner().update(f"users/{user.uid}/outbox/{entry_id}", {"dueAt": overdue})

    firebase.functions.run_scheduled("sweep_outbox")

    wait_for(lambda: entry(firebase, user, entry_id).get("state") == "sent", message="swept")
    assert len(pushes_to(fcm, "mac-1", "session_finished")) == 1


def test_a_duplicated_task_sends_nothing_twice(
    firebase: EmulatorSuite, user: User, fcm: FcmRemote
) -> None:
    with_devices(firebase, user, {"iphone-1": "ios", "mac-1": "macos"})
    no_quiet_hours(firebase, user)
    entry_id = owe(firebase, user, finished_session())

    with ThreadPoolExecutor(max_workers=3) as pool:
        statuses = list(pool.map(lambda _: send(firebase, user, entry_id), range(3)))

    assert 200 in statuses  # the others found the lease held (500: retried), or the entry sent
    assert set(statuses) <= {200, 500}
    wait_for(lambda: entry(firebase, user, entry_id).get("state") == "sent")
    assert send(firebase, user, entry_id) == 200  # a late redelivery: nothing to do
    assert len(pushes_to(fcm, "mac-1", "session_finished")) == 1


def test_a_token_fcm_no_longer_knows_is_forgotten(
    firebase: EmulatorSuite, user: User, fcm: FcmRemote
) -> None:
    with_devices(firebase, user, {"iphone-1": "ios", "mac-1": "macos"})
    no_quiet_hours(firebase, user)
    fcm.fail(token_of("mac-1"), FcmError.UNREGISTERED)

    entry_id = owe(firebase, user, finished_session())
    assert send(firebase, user, entry_id) == 200

    assert firebase.firestore.as_owner().get(f"users/{user.uid}/pushTokens/mac-1") is None
    assert firebase.firestore.as_owner().get(f"users/{user.uid}/pushTokens/iphone-1") is not None
    recorded = entry(firebase, user, entry_id)
    assert recorded["state"] == "dropped"
    assert recorded["deliveries"]["mac-1"]["outcome"] == "token_gone"


def test_a_throttled_push_waits_for_retry_after_and_is_then_sent(
    firebase: EmulatorSuite, user: User, fcm: FcmRemote
) -> None:
    with_devices(firebase, user, {"iphone-1": "ios", "mac-1": "macos"})
    no_quiet_hours(firebase, user)
    # More 429s than the Admin SDK retries on its own: the outcome reaches our sender.
    fcm.fail(None, FcmError.QUOTA_EXCEEDED, times=5, retry_after=2)

    entry_id = owe(firebase, user, finished_session())
    assert send(firebase, user, entry_id) == 200

    wait_for(lambda: entry(firebase, user, entry_id).get("state") == "sent", message="sent")
    answers = [m for m in fcm.received() if m.token == token_of("mac-1")]
    throttled = [m for m in answers if m.status == 429]
    accepted = [m for m in answers if m.accepted]
    assert len(throttled) == 5 and len(accepted) == 1
    assert accepted[0].at - throttled[-1].at >= timedelta(seconds=2)
    assert entry(firebase, user, entry_id)["attempts"] == 2


def test_quiet_hours_hold_a_weekly_report_and_drop_a_stale_session_notice(
    firebase: EmulatorSuite, user: User, fcm: FcmRemote
) -> None:
    with_devices(firebase, user, {"iphone-1": "ios", "mac-1": "macos"})
    firebase.functions.call(
        "setConsent",
        envelope({"purpose": "productMessages", "granted": True, "policyVersion": "2026-11"}),
        user=user,
    ).unwrap()
    # Quiet from the current hour (the profile's zone is UTC) for two hours, whenever this runs:
    # they end more than an hour after now, when a session's notice is no longer worth showing.
    started = datetime.now(UTC)
    hour = started.hour
    firebase.firestore.as_user(user).set(
        f"users/{user.uid}/preferences/notifications",
        {"quietHours": {"startHour": hour, "endHour": (hour + 2) % 24}},
    )
    notice = owe(firebase, user, finished_session())
    report = owe(
        firebase,
        user,
        WeeklyReportReady(week_start=date(2026, 11, 23), ready_at=datetime.now(UTC)),
    )

    assert send(firebase, user, notice) == 200
    assert send(firebase, user, report) == 200

    assert entry(firebase, user, notice)["dropped"] == "quiet_hours"
    held = entry(firebase, user, report)
    assert held["state"] == "pending"
    quiet_end = started.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    assert abs(held["dueAt"] - quiet_end) < timedelta(hours=1)
    assert fcm.received() == []


def test_the_daily_cap_holds(firebase: EmulatorSuite, user: User, fcm: FcmRemote) -> None:
    with_devices(firebase, user, {"iphone-1": "ios", "mac-1": "macos"})
    no_quiet_hours(firebase, user)
    now = datetime.now(UTC)
    # The person lives where it is about noon now: the cap counts a local day, and the test must
    # not straddle a midnight whenever it runs (Etc/GMT-N is N hours ahead of UTC).
    ahead = 12 - now.hour
    zone = "Etc/GMT" if ahead == 0 else f"Etc/GMT{'-' if ahead > 0 else '+'}{abs(ahead)}"
    firebase.firestore.as_owner().update(f"users/{user.uid}", {"settings.timezone": zone})
    for n in range(8):  # today's eight "session finished" notices, already shown
        firebase.firestore.as_owner().set(
            f"users/{user.uid}/outbox/session_finished-earlier-{n}",
            {"kind": "session_finished", "state": "sent", "dueAt": now, "createdAt": now}
            | {"sentAt": now},
        )

    ninth = owe(firebase, user, finished_session("ninth"))
    assert send(firebase, user, ninth) == 200

    assert entry(firebase, user, ninth)["dropped"] == "daily_cap"
    assert fcm.received() == []


def test_withdrawing_consent_stops_the_weekly_report(
    firebase: EmulatorSuite, user: User, fcm: FcmRemote
) -> None:
    with_devices(firebase, user, {"iphone-1": "ios"})
    no_quiet_hours(firebase, user)

    def consent(granted: bool) -> None:
        firebase.functions.call(
            "setConsent",
            envelope(
                {"purpose": "productMessages", "granted": granted, "policyVersion": "2026-11"}
            ),
            user=user,
        ).unwrap()

    consent(True)
    first = owe(
        firebase, user, WeeklyReportReady(week_start=date(2026, 11, 16), ready_at=datetime.now(UTC))
    )
    assert send(firebase, user, first) == 200
    assert len(pushes_to(fcm, "iphone-1", "weekly_report")) == 1

    consent(False)
    second = owe(
        firebase, user, WeeklyReportReady(week_start=date(2026, 11, 23), ready_at=datetime.now(UTC))
    )
    assert send(firebase, user, second) == 200

    assert entry(firebase, user, second)["dropped"] == "no_consent"
    assert len(pushes_to(fcm, "iphone-1", "weekly_report")) == 1

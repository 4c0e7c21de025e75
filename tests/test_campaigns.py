"""The weekly report reaches everyone who wants it, once: a campaign batch decides per person
(consent, settings, devices), sends the pushes of its range together, and a duplicated batch
sends nothing twice. Planning records each wave once and enqueues its paced batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conftest import envelope, launched_user, register_device

from firebase_emulator_harness import EmulatorSuite, FcmRemote, User
from focus.services import campaigns

# A zone no other test uses: a batch reads every person of its zones.
ZONE = "Pacific/Chatham"


def person(
    firebase: EmulatorSuite,
    devices: list[str],
    *,
    consent: bool,
    zone: str = ZONE,
    **settings: Any,
) -> User:
    user = launched_user(firebase)
    firebase.firestore.as_owner().update(f"users/{user.uid}", {"settings.timezone": zone})
    for device_id in devices:
        register_device(firebase, user, device_id)
        firebase.functions.call(
            "registerPushToken",
            envelope({"deviceId": device_id, "token": f"token-{user.uid}-{device_id}"}),
            user=user,
        ).unwrap()
    firebase.firestore.as_user(user).set(
        f"users/{user.uid}/preferences/notifications",
        {"quietHours": {"startHour": 0, "endHour": 0}, **settings},
    )
    if consent:
        firebase.functions.call(
            "setConsent",
            envelope({"purpose": "productMessages", "granted": True, "policyVersion": "2026-11"}),
            user=user,
        ).unwrap()
    return user


def send_batch(firebase: EmulatorSuite, ready_at: datetime) -> int:
    return firebase.functions.dispatch_task(
        "sendCampaignBatch",
        {
            "campaign": "weeklyReport",
            "day": "2026-11-30",
            "readyAt": ready_at.isoformat(),
            "zones": [ZONE],
            "shard": 0,
            "shards": 1,
        },
    )


def test_a_batch_reaches_each_consenting_persons_devices_once(
    firebase: EmulatorSuite, fcm: FcmRemote
) -> None:
    reader = person(firebase, ["iphone-1", "mac-1"], consent=True)
    unconsented = person(firebase, ["iphone-1"], consent=False)
    opted_out = person(firebase, ["iphone-1"], consent=True, weeklyReport=False)
    person(firebase, [], consent=True)  # no device to reach
    ready_at = datetime.now(UTC)

    assert send_batch(firebase, ready_at) == 200
    assert send_batch(firebase, ready_at) == 200  # the batch's task delivered twice

    sent = [m for m in fcm.received() if m.accepted]
    assert sorted(m.token or "" for m in sent) == [
        f"token-{reader.uid}-iphone-1",
        f"token-{reader.uid}-mac-1",
    ]
    assert {m.message["notification"]["title"] for m in sent} == {"Your weekly report is ready"}
    assert {m.message["data"]["weekStart"] for m in sent} == {"2026-11-23"}
    owner = firebase.firestore.as_owner()
    entry = owner.get(f"users/{reader.uid}/outbox/weekly_report-2026-11-23") or {}
    assert entry["state"] == "sent"
    assert set(entry["deliveries"]) == {"iphone-1", "mac-1"}
    for skipped in (unconsented, opted_out):
        assert owner.get(f"users/{skipped.uid}/outbox/weekly_report-2026-11-23") is None


def test_planning_records_each_wave_once_and_enqueues_its_batches(
    firebase: EmulatorSuite, fcm: FcmRemote
) -> None:
    # A Monday long past: the batches the emulator runs at once find the report too late to
    # show and send nothing, whatever today is.
    monday = datetime(2024, 1, 1, 7, 45, tzinfo=UTC)
    person(firebase, ["iphone-1"], consent=True, zone="Europe/Berlin")

    first = campaigns.plan_campaigns(monday)
    again = campaigns.plan_campaigns(monday)

    assert first >= 1 and again == 0
    stored = firebase.firestore.as_owner().get("campaigns/fanout") or {}
    waves = [w for w in stored["waves"].values() if w["key"].startswith("weeklyReport/2024-01-01/")]
    berlin = [w for w in waves if "Europe/Berlin" in w["zones"]]
    assert len(berlin) == 1 and berlin[0]["enqueued"] is True
    assert berlin[0]["startsAt"] == datetime(2024, 1, 1, 8, tzinfo=UTC)
    assert (berlin[0]["campaign"], berlin[0]["day"]) == ("weeklyReport", "2024-01-01")
    assert berlin[0]["devices"] >= 1
    assert stored["nextFree"] > berlin[0]["startsAt"]

"""Campaigns: the weekly report (Monday 09:00) and the streak-at-risk reminder (20:00), each in
every person's own time zone, for 10M people within FCM's quota (docs/notifications.md, "Fan-out
campaigns"; the waves and messages are ``focus.domain.campaigns``).

``plan_campaigns`` (job ``plan_campaigns``, every 15 minutes) finds the waves starting within the
planning horizon, counts their people, splits them into uid ranges of about 500 devices and gives
each range a dispatch moment from the one global budget of all campaigns (``fanout.plan_waves``;
its ``next_free`` lives on ``campaigns/fanout``), then enqueues one ``sendCampaignBatch`` task per
range at that moment. A wave is recorded before its tasks are enqueued and marked once all are: a
rerun enqueues a recorded wave's tasks again (the same names: no duplicates) and plans no wave
twice.

``send_batch`` (task ``sendCampaignBatch``) decides for each person of its range (settings,
consent, quiet hours, caps: ``notifications.decide``), records the message in the person's outbox
(one entry per person and week or day: a person, and so a device, is never sent it twice) and
sends the range's pushes together; what FCM throttles or fails goes on through the outbox's own
retries. A person whose streak is at risk and who granted AI processing gets a ``writeNudge``
task instead (``focus.services.nudges``): the same message, recorded and sent the same way
(``owe``), its body written by a model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import available_timezones

from focus.adapters import clients, leases, logs, messaging, paths, store, tracing
from focus.domain import campaigns as domain
from focus.domain import fanout, nudges, sweep_shards
from focus.domain import notifications as rules
from focus.domain.campaigns import Campaign
from focus.domain.consent import Purpose
from focus.domain.notifications import (
    Defer,
    Drop,
    DropReason,
    PersonContext,
    PushTarget,
    SendNow,
    StreakAtRisk,
)
from focus.domain.outbox import EntryState, visible_entry, visible_entry_id
from focus.domain.wires import Task
from focus.services import consents, outbox, profiles, push_sync, tolerant

BUDGET = "fanout"  # campaigns/fanout: every campaign's waves and the one budget
KEPT_FOR = timedelta(days=8)  # recorded waves older than this are forgotten (a week's plans)
PAGE = 300  # people read per query page
# The sync pushes' share of the quota the campaign leaves alone (docs/notifications.md: about
# 33,000 a minute at 1M edit bursts an hour); the campaign paces to 95% of the rest.
SYNC_RESERVE_PER_MINUTE = 34_000
PACE = fanout.Pace(reserve_per_window=SYNC_RESERVE_PER_MINUTE)

PEOPLE_OF_ZONES = store.QuerySpec(
    "people of some time zones",
    paths.USERS,
    (("settings.timezone", "in"),),
    (("__name__", "ASCENDING"),),
)
EVERY_TOKEN = store.QuerySpec("every push token", paths.PUSH_TOKENS, collection_group=True)
EVERY_PERSON = store.QuerySpec("every person", paths.USERS)


def _campaign_ref() -> Any:
    return clients.firestore().document(paths.campaign(BUDGET))


# --- Planning ------------------------------------------------------------------------------------


@tracing.traced("campaigns.plan")
def plan_campaigns(now: datetime) -> int:
    """Plan and enqueue the waves of every campaign starting soon; how many batches were
    enqueued."""
    zones = available_timezones()
    waves = [w for campaign in Campaign for w in domain.waves_starting(campaign, zones, now)]
    recorded = (store.get(_campaign_ref()).to_dict() or {}).get("waves", {})
    new = [planned for planned in waves if _slug(planned.wave.key) not in recorded]
    if new:
        devices_per_person = _devices_per_person()
        counted = [
            domain.PlannedWave(
                planned.campaign,
                planned.day,
                replace(
                    planned.wave,
                    devices=int(_people(planned.wave.zones) * devices_per_person),
                ),
            )
            for planned in new
        ]
        _record_waves(counted, now)
    return _enqueue_recorded()


def _slug(key: str) -> str:
    # Wave keys hold '/' and ':', which a field path segment may hold only quoted: a safe name.
    return "w" + messaging.task_id(key)[:31]


def _people(zones: tuple[str, ...]) -> int:
    if not zones:
        return 0
    return store.count(PEOPLE_OF_ZONES, None, [list(zones)])


def _devices_per_person() -> float:
    """Devices with a push token per person, measured (two count aggregations: one read per
    1,000 documents counted), so a batch of a wave holds about 500 devices."""
    people = store.count(EVERY_PERSON, None)
    return store.count(EVERY_TOKEN, None) / people if people else 0.0


def _record_waves(waves: list[domain.PlannedWave], now: datetime) -> None:
    """Give the waves their place in the global budget and record them, in one transaction;
    waves recorded more than ``KEPT_FOR`` ago are forgotten (the document stays small)."""
    from google.cloud import firestore as gcf

    ref = _campaign_ref()

    def run(tx: gcf.Transaction) -> None:
        stored = store.get(ref, tx).to_dict() or {}
        recorded: dict[str, Any] = stored.get("waves", {})
        next_free = stored.get("nextFree")
        waves_update: dict[str, Any] = {
            slug: gcf.DELETE_FIELD
            for slug, wave in recorded.items()
            if wave.get("enqueued") and wave["startsAt"] < now - KEPT_FOR
        }
        for planned in sorted(waves, key=lambda p: (p.wave.starts_at, p.wave.key)):
            slug = _slug(planned.wave.key)
            if slug in recorded:
                continue
            plan = fanout.plan_waves([planned.wave], PACE, next_free=next_free)
            waves_update[slug] = {
                "campaign": planned.campaign.value,
                "day": planned.day.isoformat(),
                "key": planned.wave.key,
                "startsAt": planned.wave.starts_at,
                "zones": list(planned.wave.zones),
                "devices": planned.wave.devices,
                "nextFreeBefore": next_free,
                "enqueued": False,
            }
            next_free = plan.next_free or next_free
        if waves_update:
            store.writes(tx).set(ref, {"waves": waves_update, "nextFree": next_free}, merge=True)

    store.transactional(run, name="campaigns.record_waves")


def _enqueue_recorded() -> int:
    """Enqueue every batch of the recorded waves not marked enqueued (the same plan every time:
    ``plan_waves`` of the wave from the budget's state before it)."""
    ref = _campaign_ref()
    recorded: dict[str, Any] = (store.get(ref).to_dict() or {}).get("waves", {})
    enqueued = 0
    for slug, wave in sorted(recorded.items()):
        if wave.get("enqueued"):
            continue
        planned = fanout.Wave(
            key=wave["key"],
            starts_at=wave["startsAt"],
            devices=wave["devices"],
            zones=tuple(wave["zones"]),
        )
        plan = fanout.plan_waves([planned], PACE, next_free=wave.get("nextFreeBefore"))
        shards = len(plan.batches)
        for batch in plan.batches:
            messaging.enqueue(
                Task.SEND_CAMPAIGN_BATCH,
                {
                    "campaign": wave["campaign"],
                    "day": wave["day"],
                    "readyAt": wave["startsAt"].isoformat(),
                    "zones": wave["zones"],
                    "shard": batch.index,
                    "shards": shards,
                },
                at=batch.dispatch_at,
                task_id=messaging.task_id("campaign", wave["key"], str(batch.index)),
            )
            enqueued += 1
        store.update_now(ref, {f"waves.{slug}.enqueued": True})
        logs.get_logger().info(
            "campaign wave enqueued",
            wave=wave["key"],
            batches=shards,
            devices=wave["devices"],
            firstAt=plan.batches[0].dispatch_at.isoformat() if plan.batches else None,
        )
    return enqueued


# --- Sending a batch -----------------------------------------------------------------------------


@tracing.traced("campaigns.send_batch")
def send_batch(data: dict[str, Any], now: datetime) -> None:
    """Send a campaign's message to the people of one uid range of a wave (the task's payload:
    campaign, day, readyAt, zones, shard, shards)."""
    campaign = Campaign(data["campaign"])
    day = date.fromisoformat(data["day"])
    ready_at = datetime.fromisoformat(data["readyAt"])
    low, high = domain.uid_range(int(data["shard"]), int(data["shards"]))
    db = clients.firestore()
    run = tolerant.Isolation("sendCampaignBatch")
    claimed: list[outbox.Claimed] = []
    dropped: dict[str, int] = {}
    nudged = 0
    after = None
    while True:
        page = store.query(
            PEOPLE_OF_ZONES,
            None,
            [list(data["zones"])],
            limit=PAGE,
            start_after=after,
            start_at=db.document(paths.user(low)) if low else None,
            end_before=db.document(paths.user(high)) if high else None,
        )
        for snapshot in page:
            with run.item("person", snapshot.id):
                profile = snapshot.to_dict() or {}
                streak = profiles.read(snapshot.id, profile).streak
                message = domain.message_for(
                    campaign, day, ready_at, streak.current, streak.last_day
                )
                if nudges.wanted(message) and consents.require(snapshot.id, Purpose.AI_PROCESSING):
                    nudged += _enqueue_nudge(snapshot.id, day, ready_at, now)
                    continue
                result = owe(snapshot.id, profile, message, now)
                if isinstance(result, outbox.Claimed):
                    claimed.append(result)
                elif result is not None:
                    dropped[result] = dropped.get(result, 0) + 1
        if len(page) < PAGE:
            break
        after = page[-1]
    if claimed:
        outbox.deliver(claimed)
    logs.get_logger().info(
        "campaign batch sent",
        campaign=campaign.value,
        shard=data["shard"],
        people=len(claimed),
        pushes=sum(len(c.entry.pushes) for c in claimed),
        dropped=dropped,
        nudges=nudged,
        **run.counts(),
    )


def _enqueue_nudge(uid: str, day: date, ready_at: datetime, now: datetime) -> int:
    """Have ``writeNudge`` write and send the person's streak push (once per person and day:
    a redelivered batch enqueues nothing more); 1 if enqueued now."""
    enqueued = messaging.enqueue(
        Task.WRITE_NUDGE,
        {"userId": uid, "day": day.isoformat(), "readyAt": ready_at.isoformat()},
        at=now,
        task_id=messaging.task_id("nudge", uid, day.isoformat()),
    )
    return int(enqueued)


@dataclass(frozen=True)
class Owed:
    """A message the person is to be sent, now or (``decision`` a ``Defer``) later: what
    recording it needs, read and decided beforehand."""

    uid: str
    message: rules.VisibleMessage
    targets: list[PushTarget]
    person: PersonContext
    decision: SendNow | Defer


def owe(
    uid: str, profile: dict[str, Any], message: rules.VisibleMessage, now: datetime
) -> outbox.Claimed | str | None:
    """Record the message in the person's outbox: claimed (pushes fixed, lease held) to send now;
    a drop reason; or None when it was recorded already (a redelivered batch) or deferred."""
    owed = decide(uid, profile, message, now)
    return owed if isinstance(owed, str) else record(owed, now)


def decide(
    uid: str, profile: dict[str, Any], message: rules.VisibleMessage, now: datetime
) -> Owed | str:
    """Whether the person is to be sent the message (settings, consent, devices, caps, quiet
    hours: ``notifications.decide``), with what recording it needs; or why not (a drop
    reason)."""
    if isinstance(message, StreakAtRisk) and (message.streak_days == 0 or message.goal_met_today):
        return DropReason.NOT_NEEDED.value  # most people: decided without reading anything more
    targets = [
        found[0]
        for snapshot in push_sync.token_documents(uid)
        if (found := push_sync.target_of(snapshot)) is not None
    ]
    if not targets:  # most people without a device to reach cost this one read
        return "no_device"
    person = outbox.person_context(uid, message.kind, now, profile)
    decision = rules.decide(message, person, now)
    if isinstance(decision, Drop):
        return decision.reason.value
    return Owed(uid, message, targets, person, decision)


def record(owed: Owed, now: datetime) -> outbox.Claimed | None:
    """Record what ``decide`` owed in the person's outbox: claimed (pushes fixed, lease held) to
    send now; None when it was recorded already (a redelivered batch or task) or deferred."""
    from google.api_core import exceptions

    uid, decision = owed.uid, owed.decision
    entry_id = visible_entry_id(owed.message)
    ref = clients.firestore().document(paths.outbox_entry(uid, entry_id))
    entry = visible_entry(owed.message, now)
    if isinstance(decision, Defer):
        entry = entry.model_copy(update={"due_at": decision.until})
        try:
            store.create_now(ref, entry.to_firestore() | sweep_shards.fields(uid))
        except (exceptions.AlreadyExists, exceptions.Conflict):
            return None
        outbox.hand_off(uid, entry_id, decision.until)
        return None
    pushes = rules.visible_pushes(owed.message, owed.person, owed.targets, now)
    entry = entry.model_copy(
        update={
            "pushes": {t.device_id: p for t, p in zip(owed.targets, pushes, strict=True)},
            "state": EntryState.PENDING,
        }
    )
    holder = leases.new_holder()
    stored = (
        entry.to_firestore()
        | sweep_shards.fields(uid)
        | {
            "pushes": outbox.stored_pushes(entry),
            leases.FIELD: {"holder": holder, "until": now + outbox.LEASE},
        }
    )
    try:
        # Pending with a lease: if this batch dies before recording FCM's answers, the sweep
        # finds the entry past due and the outbox sends it once the lease expired.
        claimed_at = store.create_now(ref, stored)
    except (exceptions.AlreadyExists, exceptions.Conflict):
        return None
    return outbox.Claimed(uid, entry_id, entry, holder, claimed_at)

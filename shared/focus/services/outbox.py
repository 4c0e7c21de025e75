"""Sending what the outbox owes: one task per entry (``sendPush``), a sweep for lost tasks.

``send_for_task`` is idempotent under duplicate and concurrent deliveries: a delivery first
claims the entry in a transaction (its lease, ``focus.adapters.leases``, and the fixed pushes),
so a second delivery running at the same moment finds the lease held and fails (its queue retries
it later, by when the entry is final: a no-op). Only a delivery that dies between FCM's answer
and recording it can cause one repeat, once its lease expired; the collapse key makes the device
show it once.

What FCM answers decides what follows (``focus.adapters.push`` outcomes): accepted is recorded;
a dead token is forgotten (``push_tokens.forget``); a 429 waits its ``Retry-After`` (plus
jitter) and a 5xx a jittered backoff (``notifications.retry_delay``), as a new task for the
entry; anything else fails the device's push. Every push is logged (``push sent``: kind,
platform, outcome; for sync pushes the latency from the change), which the send-outcome metrics
and the sync-latency SLO read (infra/terraform).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from focus.adapters import clients, leases, logs, messaging, paths, push, store, sweeps, tracing
from focus.domain import notifications as rules
from focus.domain import sweep_shards
from focus.domain.analytics_events import EventName, NotificationSentProperties, ProductFact
from focus.domain.consent import Consent, Purpose
from focus.domain.notifications import (
    Defer,
    DeviceSync,
    Drop,
    MessageKind,
    NotificationSettings,
    PersonContext,
    PushTarget,
    SentPush,
)
from focus.domain.outbox import (
    Delivery,
    DeliveryOutcome,
    EntryDrop,
    EntryState,
    OutboxEntry,
    after_answers,
    is_sync_entry,
    sync_entry_id,
)
from focus.domain.wires import Task
from focus.services import analytics, consents, profiles, push_sync, push_tokens, tolerant

if TYPE_CHECKING:
    from google.cloud.firestore import Transaction

LEASE = timedelta(minutes=1)  # longer than a send of one entry (at most a few devices) takes
KEPT_FOR = timedelta(days=30)  # final entries: what the caps and the delivery records need
SENT_LOOKBACK = timedelta(days=2)  # the caps count a local day: two days cover every zone
SWEEP_AFTER = timedelta(minutes=5)  # a pending entry this far past due lost its task
SWEEP_PAGE = 300

SENT_OF_KIND = store.QuerySpec(
    "pushes of a kind sent to a person since", paths.OUTBOX, (("kind", "=="), ("sentAt", ">="))
)
OVERDUE = sweeps.sharded(
    "outbox entries pending past due", paths.OUTBOX, ("state", "=="), ("dueAt", "<")
)


class NotDue(messaging.RetryLater):
    """The task arrived before its entry is due (the Tasks emulator dispatches at once)."""


def _entry_ref(uid: str, entry_id: str) -> Any:
    return clients.firestore().document(paths.outbox_entry(uid, entry_id))


def hand_off(uid: str, entry_id: str, due_at: datetime, *parts: str) -> None:
    """Enqueue the task that sends an entry at ``due_at`` (one task per entry and moment)."""
    messaging.enqueue(
        Task.SEND_PUSH,
        {"userId": uid, "entryId": entry_id},
        at=due_at,
        task_id=messaging.task_id("push", uid, entry_id, due_at.isoformat(), *parts),
    )


def hand_off_all(uid: str, handoffs: Iterable[push_sync.HandOff]) -> None:
    for handoff in handoffs:
        hand_off(uid, handoff.entry_id, handoff.due_at)


def stage_visible(tx: Transaction, uid: str, message: rules.VisibleMessage, now: datetime) -> str:
    """Within ``tx``: record a visible message owed to the person; its entry id (the same fact
    twice is the same entry, so a redelivered event owes nothing more)."""
    from focus.domain.outbox import visible_entry, visible_entry_id

    entry_id = visible_entry_id(message)
    entry = visible_entry(message, now).to_firestore() | sweep_shards.fields(uid)
    store.writes(tx).set(_entry_ref(uid, entry_id), entry)
    return entry_id


# --- Sending -------------------------------------------------------------------------------------


@tracing.traced("outbox.send")
def send_for_task(uid: str, entry_id: str, now: datetime) -> None:
    """Send the entry if it is due and not final (the ``sendPush`` task's body)."""
    if is_sync_entry(entry_id):
        # A sync entry needs nothing read outside its claim: the claim's own read checks it.
        claimed = _claim_sync(uid, entry_id, now)
    else:
        snapshot = store.get(_entry_ref(uid, entry_id))
        if not snapshot.exists:
            return  # erased with the account, or expired
        entry = OutboxEntry.model_validate(snapshot.to_dict())
        if _handled_or_not_due(entry, now):
            return
        claimed = _claim_visible(uid, entry_id, entry, now)
    if claimed is not None:
        deliver([claimed])


def _handled_or_not_due(entry: OutboxEntry, now: datetime) -> bool:
    """True when the entry is final (nothing to do); ``NotDue`` before it is due."""
    if entry.is_final:
        logs.get_logger().info("push already handled", kind=entry.kind, state=entry.state)
        return True
    if now < entry.due_at:
        raise NotDue(f"due in {round((entry.due_at - now).total_seconds())} s")
    return False


def _claim_sync(uid: str, entry_id: str, now: datetime) -> Claimed | None:
    """Take the entry's lease and, on its first claim, fix its push from the device's pending
    sync (counting the send in the device's hourly budget); None when there is nothing to send
    (gone, final). ``NotDue`` before it is due."""
    from google.cloud import firestore as gcf

    ref = _entry_ref(uid, entry_id)
    holder = leases.new_holder()

    def run(tx: gcf.Transaction) -> OutboxEntry | None:
        snapshot = store.get(ref, tx)
        if not snapshot.exists:
            return None  # erased with the account, or expired
        entry = OutboxEntry.model_validate(snapshot.to_dict())
        if _handled_or_not_due(entry, now):
            return None
        lease = leases.hold(snapshot, holder, now, LEASE)
        out = store.writes(tx)
        if not entry.pushes:
            assert entry.device_id is not None
            token_ref = clients.firestore().document(paths.push_token(uid, entry.device_id))
            token = store.get(token_ref, tx)
            found = push_sync.target_of(token) if token.exists else None
            pending = found[1].pending if found is not None else None
            if found is None or pending is None:
                out.update(ref, _final(EntryState.DROPPED, now, EntryDrop.NO_DEVICE))
                return None
            target, state = found
            if sync_entry_id(target.device_id, pending.due_at) != entry_id:
                # The device's pending push is a later one (this entry's was sent or replaced).
                out.update(ref, _final(EntryState.DROPPED, now, EntryDrop.NOTHING_PENDING))
                return None
            fixed = rules.sync_push(target, pending)
            sent_state: DeviceSync = rules.after_sync_sent(state, now)
            out.update(token_ref, {push_sync.SYNC_FIELD: sent_state.to_firestore()})
            entry = entry.model_copy(update={"pushes": {target.device_id: fixed}})
        out.update(ref, _claim(lease, entry))
        return entry.model_copy(update={"state": EntryState.SENDING})

    entry, claimed_at = store.transactional_at(run, name="outbox.claim_sync")
    return None if entry is None else Claimed(uid, entry_id, entry, holder, claimed_at)


def _claim(lease: dict[str, Any], entry: OutboxEntry) -> dict[str, Any]:
    """The write that claims an entry for one delivery: its lease, and its pushes fixed."""
    return {
        **lease,
        "state": EntryState.SENDING.value,
        "attempts": entry.attempts + 1,
        "pushes": stored_pushes(entry),
    }


def stored_pushes(entry: OutboxEntry) -> dict[str, Any]:
    """The entry's fixed pushes as stored (``Push`` is a wire contract: dumped as JSON)."""
    return {d: p.model_dump(by_alias=True, mode="json") for d, p in entry.pushes.items()}


def _claim_visible(uid: str, entry_id: str, entry: OutboxEntry, now: datetime) -> Claimed | None:
    """Decide (settings, consent, caps, quiet hours) on the first claim and fix the pushes; a
    retry sends what was decided then. None when it was deferred or dropped."""
    message = entry.message
    assert message is not None
    targets: list[PushTarget] = []
    person: PersonContext | None = None
    consent: bool | None = None
    if not entry.pushes:
        profile = store.get(clients.firestore().document(paths.user(uid))).to_dict() or {}
        consent = profiles.read(uid, profile).analytics_consent
        person = person_context(uid, message.kind, now, profile)
        decision = rules.decide(message, person, now)
        if isinstance(decision, Defer):
            _defer(uid, entry_id, decision.until)
            return None
        if isinstance(decision, Drop):
            _finish(uid, entry_id, _final(EntryState.DROPPED, now, decision.reason))
            logs.get_logger().info("push dropped", kind=message.kind, reason=decision.reason)
            return None
        targets = rules.visible_targets(_targets(uid), message)
        if not targets:
            _finish(uid, entry_id, _final(EntryState.DROPPED, now, EntryDrop.NO_DEVICE))
            return None
    from google.cloud import firestore as gcf

    ref = _entry_ref(uid, entry_id)
    holder = leases.new_holder()

    def run(tx: gcf.Transaction) -> OutboxEntry | None:
        snapshot = store.get(ref, tx)
        if not snapshot.exists:
            return None
        current = OutboxEntry.model_validate(snapshot.to_dict())
        if current.is_final:
            return None
        lease = leases.hold(snapshot, holder, now, LEASE)
        if not current.pushes and person is not None:
            fixed = rules.visible_pushes(message, person, targets, now)
            current = current.model_copy(
                update={"pushes": {t.device_id: p for t, p in zip(targets, fixed, strict=True)}}
            )
        store.writes(tx).update(ref, _claim(lease, current))
        return current.model_copy(update={"state": EntryState.SENDING})

    claimed, claimed_at = store.transactional_at(run, name="outbox.claim_visible")
    if claimed is None:
        return None
    return Claimed(uid, entry_id, claimed, holder, claimed_at, analytics_consent=consent)


@dataclass(frozen=True)
class Claimed:
    """An entry a delivery holds the lease on (``holder``), its pushes fixed; ``claimed_at`` is
    the entry's update time as the claim left it (its answers are recorded only if unchanged);
    ``analytics_consent``: the person's, as the profile the claim read mirrors it (None: not
    read, or not mirrored; the ``notification_sent`` event then reads the consent)."""

    uid: str
    entry_id: str
    entry: OutboxEntry
    holder: str
    claimed_at: Any
    analytics_consent: bool | None = None


def deliver(claimed: Sequence[Claimed]) -> None:
    """Send the unsettled pushes of every claimed entry together (``push.send`` batches them by
    500), record each entry's answers, and schedule what must be sent again."""
    work = [(c, device, fixed) for c in claimed for device, fixed in c.entry.unsettled().items()]
    outcomes = push.send([fixed for _, _, fixed in work])
    answered = datetime.now(UTC)
    answers: dict[str, dict[str, Delivery]] = {c.entry_id: {} for c in claimed}
    retry_after: dict[str, list[int | None]] = {c.entry_id: [] for c in claimed}
    for (c, device_id, _), outcome in zip(work, outcomes, strict=True):
        delivery = _delivery(outcome, answered)
        answers[c.entry_id][device_id] = delivery
        if isinstance(outcome, push.TokenGone):
            push_tokens.forget(c.uid, device_id, outcome.push.token)
        elif isinstance(outcome, push.QuotaExceeded):
            retry_after[c.entry_id].append(outcome.retry_after_seconds)
        elif isinstance(outcome, push.Transient):
            retry_after[c.entry_id].append(None)
        _log_sent(c.entry, outcome, delivery, answered)
    sent: dict[str, list[ProductFact]] = {}
    for c in claimed:
        fact = _settle(c, answers[c.entry_id], retry_after[c.entry_id], answered)
        if fact is not None:
            sent.setdefault(c.uid, []).append(fact)
    # Everyone's at once: one read round trip and one wait for Pub/Sub for a campaign's batch.
    consents = {c.uid: c.analytics_consent for c in claimed if c.analytics_consent is not None}
    analytics.record_people(sent, consents=consents)


def _log_sent(
    entry: OutboxEntry, outcome: push.SendOutcome, delivery: Delivery, answered: datetime
) -> None:
    """One ``push sent`` line per push: the send-outcome metrics and the sync-latency SLO read
    these fields (infra/terraform/metrics.tf)."""
    fields: dict[str, Any] = {
        "kind": entry.kind.value,
        "platform": outcome.push.platform.value,
        "outcome": delivery.outcome.value,
        "attempt": entry.attempts + 1,
    }
    if entry.kind is MessageKind.SYNC:
        fields["budgetDelayed"] = entry.budget_delayed
        if delivery.outcome is DeliveryOutcome.ACCEPTED and entry.first_change_at is not None:
            latency = answered - entry.first_change_at
            fields["syncLatencyMs"] = max(0, int(latency.total_seconds() * 1000))
    if isinstance(outcome, push.Failed):
        fields["reason"] = outcome.reason
    logs.get_logger().info("push sent", **fields)


def _settle(
    c: Claimed,
    answers: dict[str, Delivery],
    retry_after: list[int | None],
    answered: datetime,
) -> ProductFact | None:
    """Record an entry's answers; the ``notification_sent`` fact when a visible one was sent."""
    counted = c.entry.model_copy(update={"attempts": c.entry.attempts + 1})
    state, again = after_answers(counted, answers)
    update: dict[str, Any] = {f"deliveries.{d}": a.to_firestore() for d, a in answers.items()}
    if again:
        wait = max(
            (rules.retry_delay(after, counted.attempts, random.random()) for after in retry_after),
            default=timedelta(0),
        )
        due = answered + wait
        update |= {"state": EntryState.PENDING.value, "dueAt": due}
        _record(c, update)
        hand_off(c.uid, c.entry_id, due, str(counted.attempts))
        return None
    update |= _final(state, answered)
    if state is EntryState.SENT:
        update["sentAt"] = answered
    _record(c, update)
    if state is EntryState.SENT and c.entry.kind is not MessageKind.SYNC:
        # A visible message reached the person's devices: one per outbox entry (a delivery
        # repeated after a lost answer states the same fact, the same event id).
        return ProductFact(
            EventName.NOTIFICATION_SENT,
            (c.entry_id,),
            NotificationSentProperties(kind=c.entry.kind),
            answered,
        )
    return None


def _delivery(outcome: push.SendOutcome, at: datetime) -> Delivery:
    if isinstance(outcome, push.Accepted):
        return Delivery(outcome=DeliveryOutcome.ACCEPTED, at=at, message_id=outcome.message_id)
    if isinstance(outcome, push.TokenGone):
        return Delivery(outcome=DeliveryOutcome.TOKEN_GONE, at=at)
    if isinstance(outcome, push.QuotaExceeded):
        return Delivery(outcome=DeliveryOutcome.QUOTA_EXCEEDED, at=at)
    if isinstance(outcome, push.Transient):
        return Delivery(outcome=DeliveryOutcome.TRANSIENT, at=at)
    return Delivery(outcome=DeliveryOutcome.FAILED, at=at)


def _final(state: EntryState, at: datetime, dropped: Any = None) -> dict[str, Any]:
    update: dict[str, Any] = {"state": state.value, "expireAt": at + KEPT_FOR, leases.FIELD: None}
    if dropped is not None:
        update["dropped"] = str(dropped)
    return update


def _record(c: Claimed, update: dict[str, Any]) -> None:
    """Write the answers, if the entry is as this delivery's claim left it (a delivery that
    stalled past its lease and was replaced records nothing: the replacement does). The claim's
    update time fences the write, so no read is needed."""
    from google.api_core import exceptions

    try:
        store.update_now(
            _entry_ref(c.uid, c.entry_id),
            {leases.FIELD: None, **update},
            last_update_time=c.claimed_at,
        )
    except (exceptions.FailedPrecondition, exceptions.NotFound):
        logs.get_logger().info("push answers not recorded: the entry changed since its claim")


def _finish(uid: str, entry_id: str, update: dict[str, Any]) -> None:
    store.update_now(_entry_ref(uid, entry_id), update)


def _defer(uid: str, entry_id: str, until: datetime) -> None:
    """Not yet (quiet hours, the streak's evening): ask again at ``until``."""
    store.update_now(_entry_ref(uid, entry_id), {"dueAt": until})
    hand_off(uid, entry_id, until)
    logs.get_logger().info("push deferred", until=until.isoformat())


# --- What a decision needs -----------------------------------------------------------------------


def _targets(uid: str) -> list[PushTarget]:
    return [
        found[0]
        for snapshot in push_sync.token_documents(uid)
        if (found := push_sync.target_of(snapshot)) is not None
    ]


@tracing.traced("firestore.outbox.person")
def person_context(
    uid: str, kind: MessageKind, now: datetime, profile: dict[str, Any] | None = None
) -> PersonContext:
    """The person's time zone, language, notification settings, consent and recent pushes
    (``profile``: the profile's data when the caller read it already)."""
    db = clients.firestore()
    profile_ref = db.document(paths.user(uid))
    settings_ref = db.document(paths.notification_settings(uid))
    if profile is None:
        profile_snap, settings_snap = store.get_all([profile_ref, settings_ref])
        profile = profile_snap.to_dict() or {}
    else:
        settings_snap = store.get(settings_ref)
    settings = profiles.read(uid, profile).settings
    chosen = (
        tolerant.read(
            NotificationSettings, settings_snap.to_dict(), kind="notificationSettings", uid=uid
        )
        if settings_snap.exists
        else NotificationSettings()
    )
    policy = rules.POLICIES.get(kind)
    given: dict[Purpose, Consent] = {}
    if policy is not None and policy.purpose is not None:
        consent = consents.current(uid, policy.purpose)
        if consent is not None:
            given[policy.purpose] = consent
    sent = [
        SentPush(kind=kind, sent_at=snapshot.get("sentAt"))
        for snapshot in store.query(SENT_OF_KIND, profile_ref, [kind.value, now - SENT_LOOKBACK])
    ]
    return PersonContext(
        timezone=settings.timezone,
        locale=settings.locale,
        settings=chosen,
        consents=given,
        sent=sent,
    )


# --- The sweep -----------------------------------------------------------------------------------


@tracing.traced("outbox.sweep")
def sweep(now: datetime) -> int:
    """Hand off again every entry still pending five minutes past due (its task was lost: an
    enqueue failed after the transaction committed, or the queue gave up); how many. Each entry
    is its own item."""
    run = tolerant.Isolation("sweep_outbox")
    handed = 0
    bucket = str(int(now.timestamp()) // 600)  # one sweep task per entry per ten minutes
    overdue = [EntryState.PENDING.value, now - SWEEP_AFTER]
    for uid, snapshot in sweeps.owned(OVERDUE, overdue, page=SWEEP_PAGE):
        with run.item("outboxEntry", uid, snapshot.id):
            hand_off(uid, snapshot.id, now, "sweep", bucket)
            handed += 1
    logs.get_logger().info("outbox swept", handedOff=handed, **run.counts())
    return handed

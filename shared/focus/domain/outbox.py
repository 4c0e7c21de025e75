"""The push outbox: every push the backend owes a person, recorded before it is sent.

An entry is written in the same transaction as the change that causes it (a block's sync marker,
a session's count), so a committed change always has its push on record; a task sends it at its
due moment and the sweep re-hands entries whose task was lost. One entry is one message: a silent
sync to one device, or a visible message to all the devices it targets.

States: ``pending`` (due at ``due_at``) -> ``sending`` (a delivery holds its lease and FCM is
being asked) -> ``sent`` | ``dropped`` (a policy or a missing token said no) | ``failed`` (FCM
refused it for good, or the attempts ran out). A send that FCM throttles (429) or that fails for
a while (5xx) goes back to ``pending`` with a later ``due_at``. The pushes are fixed when the
entry is first claimed, so a retry sends the same message, and only to the devices that did not
get it yet.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, field_serializer

from focus.domain.model import Document
from focus.domain.notifications import (
    BillingProblem,
    DropReason,
    MessageKind,
    Push,
    SessionFinished,
    StreakAtRisk,
    VisibleMessage,
    WeeklyReportReady,
)

# Sends of one entry before it is given up as failed: with retry_delay's backoff (10 s doubling
# to 5 minutes, or FCM's Retry-After) about 20 minutes of trying, longer than any FCM incident
# worth waiting out for a push that is useful for an hour.
MAX_ATTEMPTS = 8


class EntryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DROPPED = "dropped"
    FAILED = "failed"


FINAL_STATES = frozenset({EntryState.SENT, EntryState.DROPPED, EntryState.FAILED})


class DeliveryOutcome(StrEnum):
    """What FCM answered for one push (``focus.adapters.push`` outcomes, by name)."""

    ACCEPTED = "accepted"
    TOKEN_GONE = "token_gone"
    QUOTA_EXCEEDED = "quota_exceeded"
    TRANSIENT = "transient"
    FAILED = "failed"


# Outcomes after which a device gets nothing more for this entry.
SETTLED = frozenset({DeliveryOutcome.ACCEPTED, DeliveryOutcome.TOKEN_GONE, DeliveryOutcome.FAILED})


class Delivery(Document):
    """The last answer for one device's push."""

    outcome: DeliveryOutcome
    at: datetime
    message_id: str | None = None


class EntryDrop(StrEnum):
    """Why an entry was dropped without sending: a policy (``DropReason``) or nothing to send."""

    NO_DEVICE = "no_device"  # no device with a push token to send it to
    NOTHING_PENDING = "nothing_pending"  # a sync entry whose pending push another entry sent


class OutboxEntry(Document):
    kind: MessageKind
    state: EntryState = EntryState.PENDING
    due_at: datetime
    created_at: datetime
    device_id: str | None = None  # sync: the one device it goes to
    message: VisibleMessage | None = None  # visible: what to show
    # Sync: when the first change this push carries was written (the latency SLO's start), and
    # whether the device's hourly budget made it wait beyond the coalescing window.
    first_change_at: datetime | None = None
    budget_delayed: bool = False
    attempts: int = Field(default=0, ge=0)
    pushes: dict[str, Push] = Field(default_factory=dict)  # by device id, fixed at the first claim
    deliveries: dict[str, Delivery] = Field(default_factory=dict)  # by device id
    sent_at: datetime | None = None
    dropped: DropReason | EntryDrop | None = None

    @field_serializer("message")
    def _message_as_stored(self, message: VisibleMessage | None) -> dict[str, Any] | None:
        # Firestore stores no bare dates (a week's start, a day): the message is kept as JSON.
        return None if message is None else message.model_dump(by_alias=True, mode="json")

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def unsettled(self) -> dict[str, Push]:
        """The fixed pushes whose device has no final answer yet."""
        return {
            device: push
            for device, push in self.pushes.items()
            if device not in self.deliveries or self.deliveries[device].outcome not in SETTLED
        }


def sync_entry_id(device_id: str, started_at: datetime) -> str:
    """One entry per pending sync push of a device (a new one starts after each send)."""
    return f"sync-{device_id}-{int(started_at.timestamp() * 1000)}"


def is_sync_entry(entry_id: str) -> bool:
    """Whether ``entry_id`` names a sync entry (``sync_entry_id``'s form)."""
    return entry_id.startswith("sync-")


def session_finished_entry_id(session_id: str) -> str:
    return f"session_finished-{session_id}"


def visible_entry_id(message: VisibleMessage) -> str:
    """One entry per message: the same fact recorded twice (a redelivered event) is one push."""
    if isinstance(message, SessionFinished):
        return session_finished_entry_id(message.session_id)
    if isinstance(message, StreakAtRisk):
        return f"streak_at_risk-{message.day.isoformat()}"
    if isinstance(message, WeeklyReportReady):
        return f"weekly_report-{message.week_start.isoformat()}"
    assert isinstance(message, BillingProblem)
    return f"billing_problem-{int(message.occurred_at.timestamp())}"


def visible_entry(message: VisibleMessage, now: datetime) -> OutboxEntry:
    """A visible message's entry, due at once (``decide`` defers it when it must wait)."""
    return OutboxEntry(kind=message.kind, due_at=now, created_at=now, message=message)


def after_answers(entry: OutboxEntry, answers: dict[str, Delivery]) -> tuple[EntryState, bool]:
    """The entry's state once ``answers`` (by device) are recorded, and whether to send again.

    Sent once every device is settled and at least one accepted it; failed when none did, or
    when attempts ran out with devices still unsettled (``MAX_ATTEMPTS``)."""
    deliveries = {**entry.deliveries, **answers}
    unsettled = [
        device
        for device in entry.pushes
        if device not in deliveries or deliveries[device].outcome not in SETTLED
    ]
    accepted = any(d.outcome is DeliveryOutcome.ACCEPTED for d in deliveries.values())
    if unsettled and entry.attempts < MAX_ATTEMPTS:
        return EntryState.PENDING, True
    if accepted:
        return EntryState.SENT, False
    if all(d.outcome is DeliveryOutcome.TOKEN_GONE for d in deliveries.values()):
        return EntryState.DROPPED, False
    return EntryState.FAILED, False

"""An outbox entry's life once FCM answered: sent when every device is settled and one accepted,
sent again while devices are throttled or FCM fails (up to the attempts), dropped when every token
is gone, failed otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

from focus.domain.devices import Platform
from focus.domain.notifications import MessageKind, Push, SessionFinished
from focus.domain.outbox import (
    MAX_ATTEMPTS,
    Delivery,
    DeliveryOutcome,
    EntryState,
    OutboxEntry,
    after_answers,
    visible_entry,
    visible_entry_id,
)

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)
MESSAGE = SessionFinished(session_id="s1", focused_minutes=25, ended_at=NOW, ended_by="iphone")


def entry(devices: tuple[str, ...] = ("mac", "pixel"), attempts: int = 1) -> OutboxEntry:
    pushes = {
        device: Push(
            token=f"token-{device}",
            platform=Platform.ANDROID,
            kind=MessageKind.SESSION_FINISHED,
            silent=False,
            title="t",
            body="b",
            collapse_key="session_finished",
            ttl_seconds=60,
        )
        for device in devices
    }
    return visible_entry(MESSAGE, NOW).model_copy(update={"pushes": pushes, "attempts": attempts})


def answer(outcome: DeliveryOutcome) -> Delivery:
    return Delivery(outcome=outcome, at=NOW)


def test_every_device_accepting_it_makes_the_entry_sent() -> None:
    answers = {d: answer(DeliveryOutcome.ACCEPTED) for d in ("mac", "pixel")}
    assert after_answers(entry(), answers) == (EntryState.SENT, False)


def test_a_throttled_device_is_sent_again_and_only_it() -> None:
    current = entry()
    answers = {
        "mac": answer(DeliveryOutcome.ACCEPTED),
        "pixel": answer(DeliveryOutcome.QUOTA_EXCEEDED),
    }
    assert after_answers(current, answers) == (EntryState.PENDING, True)
    recorded = current.model_copy(update={"deliveries": answers})
    assert list(recorded.unsettled()) == ["pixel"]


def test_after_the_last_attempt_what_was_accepted_counts() -> None:
    answers = {"mac": answer(DeliveryOutcome.ACCEPTED), "pixel": answer(DeliveryOutcome.TRANSIENT)}
    last = entry(attempts=MAX_ATTEMPTS)
    assert after_answers(last, answers) == (EntryState.SENT, False)
    nothing = {d: answer(DeliveryOutcome.TRANSIENT) for d in ("mac", "pixel")}
    assert after_answers(last, nothing) == (EntryState.FAILED, False)


def test_an_entry_whose_tokens_are_all_gone_is_dropped() -> None:
    answers = {d: answer(DeliveryOutcome.TOKEN_GONE) for d in ("mac", "pixel")}
    assert after_answers(entry(), answers) == (EntryState.DROPPED, False)


def test_the_same_fact_is_the_same_entry() -> None:
    again = SessionFinished(session_id="s1", focused_minutes=25, ended_at=NOW)
    assert visible_entry_id(MESSAGE) == visible_entry_id(again) == "session_finished-s1"


def test_an_entry_survives_storage_with_its_message() -> None:
    stored = entry().to_firestore()
    message = stored["message"]
    assert isinstance(message, dict)
    assert message["endedAt"] == "2026-11-24T10:00:00Z"  # kept as JSON: Firestore has no dates
    assert OutboxEntry.model_validate(stored) == entry()

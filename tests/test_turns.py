"""A person's turn: work whose transactions would lock each other out (counting sessions, the
emergency pass) runs one caller at a time, and a turn left by a crashed caller does not block the
person for longer than it lasts. Against the Firestore emulator, the adapter called in-process."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from firebase_emulator_harness import EmulatorSuite, User

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # the request's server time; never the wall clock
MINUTE = timedelta(minutes=1)


def turn_path(user: User) -> str:
    return f"users/{user.uid}/turns/emergencyPass"


def test_while_one_caller_holds_the_turn_another_is_refused_and_gets_it_once_given_back(
    firebase: EmulatorSuite, user: User
) -> None:
    from focus.adapters import clients, turns

    ref = clients.firestore().document(turn_path(user))
    with turns.taken(ref, NOW, MINUTE):
        assert firebase.firestore.as_owner().get(turn_path(user)) is not None
        with pytest.raises(turns.TurnHeld), turns.taken(ref, NOW, MINUTE):
            pass
    assert firebase.firestore.as_owner().get(turn_path(user)) is None

    with turns.taken(ref, NOW, MINUTE):
        pass


def test_a_waiting_caller_takes_the_turn_as_soon_as_the_holder_gives_it_back(
    firebase: EmulatorSuite, user: User
) -> None:
    from focus.adapters import clients, turns

    ref = clients.firestore().document(turn_path(user))
    order: list[str] = []
    holding = threading.Event()

    def first() -> None:
        with turns.taken(ref, NOW, MINUTE):
            holding.set()
            threading.Event().wait(1.0)
            order.append("first done")

    holder = threading.Thread(target=first)
    holder.start()
    holding.wait(10)
    with turns.taken(ref, NOW, MINUTE, wait_seconds=15):
        order.append("second started")
    holder.join()

    assert order == ["first done", "second started"]


def test_a_turn_left_by_a_crashed_caller_is_taken_over_once_it_has_run_out(
    firebase: EmulatorSuite, user: User
) -> None:
    from focus.adapters import clients, turns

    left = NOW - timedelta(seconds=5)
    firebase.firestore.as_owner().set(turn_path(user), {"until": left, "expireAt": left})
    ref = clients.firestore().document(turn_path(user))

    with turns.taken(ref, NOW, MINUTE):
        held = firebase.firestore.as_owner().get(turn_path(user)) or {}
        assert held["until"] == NOW + MINUTE


def test_a_late_holder_does_not_remove_the_turn_of_the_caller_that_replaced_it(
    firebase: EmulatorSuite, user: User
) -> None:
    """A holder that stalled past its minute: the next caller took the turn over; when the late
    holder finishes, the successor's turn stays."""
    from focus.adapters import clients, turns

    ref = clients.firestore().document(turn_path(user))
    later = NOW + 2 * MINUTE
    with turns.taken(ref, NOW, MINUTE):
        successor = turns.taken(ref, later, MINUTE)
        successor.__enter__()
    held = firebase.firestore.as_owner().get(turn_path(user)) or {}
    assert held["until"] == later + MINUTE
    successor.__exit__(None, None, None)
    assert firebase.firestore.as_owner().get(turn_path(user)) is None

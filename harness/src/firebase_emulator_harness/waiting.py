"""Waiting for asynchronous effects (triggers, workers) with a deadline, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Background effects on the emulators run through several functions (a trigger, a task, a
# Pub/Sub worker), and each may first start a worker process: seconds apiece on a busy machine.
# The deadline only bounds a failing wait; a passing one returns as soon as the effect shows.
DEFAULT_TIMEOUT = 60.0


def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.1,
    message: str = "condition",
) -> T:
    """Poll ``condition`` until it returns something truthy and return it; fail at the deadline.

    The failure names ``message`` and shows the last value seen, which is usually the clue.
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {message}; last value: {last!r}"
            )
        time.sleep(interval)

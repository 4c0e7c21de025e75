"""Contention never reaches the app as INTERNAL: many devices uploading one day at once merge to
the documented result; a call that still loses to contention answers a retryable code with
``retryAfterSeconds``, and retrying it with the same idempotency key converges
(docs/api.md, "Retrying"; scripts/bench-contention measures the same case)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import device_doc, envelope

from firebase_emulator_harness import EmulatorSuite, User

DEVICES = ("iphone-1", "ipad-1", "mac-1")
CALLS = 20
RETRYABLE = {"ABORTED", "UNAVAILABLE"}
MAX_TRIES = 12  # contention and then the rate limit (30 a minute, retries included) may both answer


def upload(n: int, day: str, base: datetime) -> dict[str, Any]:
    """Call ``n``'s payload: device ``n % 3``, measured ``n`` seconds after ``base``."""
    return {
        "deviceId": DEVICES[n % len(DEVICES)],
        "reports": [
            {
                "day": day,
                "timezone": "Europe/Berlin",
                "screenTimeMinutes": 10 + n,
                "pickups": n,
                "focusedMinutes": n,
                "asOf": (base + timedelta(seconds=n)).isoformat(),
            }
        ],
    }


def warm_up(firebase: EmulatorSuite) -> None:
    """Start one emulator worker per concurrent call first: the Functions emulator serves one
    request per Python worker, and 20 starting at once on a small machine can outlast the HTTP
    timeout. Another person, a refused payload: nothing of the case under test is touched."""
    other = firebase.auth.sign_up_anonymously()

    def refused(_: int) -> None:
        # A worker slow to start (an HTTP timeout) only has to be started.
        with contextlib.suppress(Exception):
            firebase.functions.call("uploadDailyReports", envelope({}), user=other)

    with ThreadPoolExecutor(CALLS) as pool:
        list(pool.map(refused, range(CALLS)))


def call_until_settled(
    firebase: EmulatorSuite, user: User, payload: dict[str, Any], start: threading.Barrier
) -> list[tuple[str, dict[str, Any]]]:
    """What the app does: send, and on a retryable code wait ``retryAfterSeconds`` and send the
    same request with the same idempotency key again. Every answer's (code, details)."""
    key = uuid.uuid4().hex
    answers: list[tuple[str, dict[str, Any]]] = []
    start.wait()
    for _ in range(MAX_TRIES):
        answer = firebase.functions.call(
            "uploadDailyReports", envelope(payload, key=key), user=user
        )
        code = answer.code or "OK"
        details = (answer.error or {}).get("details") or {}
        answers.append((code, details))
        if code not in RETRYABLE and details.get("reason") != "RATE_LIMITED":
            break
        time.sleep(float(details.get("retryAfterSeconds", 1)))
    return answers


def test_twenty_concurrent_uploads_from_three_devices_merge_with_no_internal(
    firebase: EmulatorSuite, user: User
) -> None:
    for name in DEVICES:  # uploads come from the person's registered devices
        firebase.firestore.as_user(user).set(f"users/{user.uid}/devices/{name}", device_doc())
    warm_up(firebase)
    now = datetime.now(UTC)
    day = (now - timedelta(days=1)).date().isoformat()
    base = now - timedelta(minutes=5)
    start = threading.Barrier(CALLS)

    with ThreadPoolExecutor(CALLS) as pool:
        runs = list(
            pool.map(
                lambda n: call_until_settled(firebase, user, upload(n, day, base), start),
                range(CALLS),
            )
        )

    codes = [code for answers in runs for code, _ in answers]
    assert "INTERNAL" not in codes, codes
    # Anything short of success was retryable and said when to retry ...
    for code, details in (a for answers in runs for a in answers if a[0] != "OK"):
        assert code in RETRYABLE | {"RESOURCE_EXHAUSTED"}, (code, details)
        assert details.get("retryAfterSeconds", 0) >= 1, (code, details)
    # ... and every call converged with its own idempotency key.
    assert [answers[-1][0] for answers in runs] == ["OK"] * CALLS, runs

    # Per device the latest measurement wins; screen time and pickups add up across devices,
    # focused minutes take the largest device's (focus.domain.reports).
    latest = {name: max(n for n in range(CALLS) if DEVICES[n % 3] == name) for name in DEVICES}
    stored = firebase.firestore.as_owner().get(f"users/{user.uid}/days/{day}") or {}
    assert stored["totals"] == {
        "screenTimeMinutes": sum(10 + n for n in latest.values()),
        "pickups": sum(latest.values()),
        "focusedMinutes": max(latest.values()),
    }
    assert {name: d["pickups"] for name, d in stored["devices"].items()} == latest

"""Contention benchmark: figures only (scripts/bench-contention starts the suite and runs this).

Per round, a fresh person opens the app, registers three devices (under the rules, as the app
does) and sends ``--calls`` concurrent ``uploadDailyReports`` calls for one day, call ``n`` from
device ``n % 3`` with values growing with ``n``. Each call is retried as docs/api.md tells the
app: on ABORTED / UNAVAILABLE (and, for code that predates them, INTERNAL) it waits
``retryAfterSeconds`` (1 s when absent) and resends with the same idempotency key, ``--tries``
times at most.

Contention is read from the functions' own log lines: every aborted transaction attempt is one
``transaction aborted`` line (``focus.adapters.store.transactional``), by function and
transaction; triggers that the uploads set off are included, since their contention is the
uploads' too. The figure is aborted attempts per 100 HTTP calls of the callable (first tries and
retries). Merged totals are checked against the documented merge (per device the latest
``asOf``; screen time and pickups summed, focused minutes the largest).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from firebase_emulator_harness import EmulatorSuite

ROOT = Path(__file__).resolve().parents[2]
DEVICES = ("iphone-1", "ipad-1", "mac-1")
CLIENT = {"platform": "ios", "appVersion": "3.4.0", "build": 412}
RETRYABLE = {"ABORTED", "UNAVAILABLE", "INTERNAL"}
SETTLE_SECONDS = 5.0  # triggers set off by the uploads finish (and log) within this


def log_lines(path: Path, offset: int) -> list[dict[str, Any]]:
    lines = []
    with path.open("rb") as log:
        log.seek(offset)
        for raw in log.read().decode(errors="replace").splitlines():
            if raw.startswith(">  {"):
                try:
                    lines.append(json.loads(raw[3:]))
                except json.JSONDecodeError:
                    continue
    return lines


def report(n: int, day: str, base: datetime) -> dict[str, Any]:
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


def one_call(
    suite: EmulatorSuite, user: Any, payload: dict[str, Any], tries: int, start: threading.Barrier
) -> list[str]:
    """The codes one logical call got, first try to last."""
    body = {"apiVersion": "2026-11-29", "client": CLIENT, "idempotencyKey": uuid.uuid4().hex}
    body["payload"] = payload
    codes: list[str] = []
    start.wait()
    for _ in range(tries):
        try:
            answer = suite.functions.call("uploadDailyReports", body, user=user)
            code = answer.code or "OK"
            details = (answer.error or {}).get("details") or {}
        except Exception as exc:  # a timeout of the HTTP call itself
            code, details = f"HTTP:{type(exc).__name__}", {}
        codes.append(code)
        if code not in RETRYABLE and details.get("reason") != "RATE_LIMITED":
            break
        time.sleep(float(details.get("retryAfterSeconds", 1)))
    return codes


def round_(suite: EmulatorSuite, log: Path, calls: int, tries: int) -> dict[str, Any]:
    suite.reset()
    user = suite.auth.sign_up_anonymously()
    launch = {"apiVersion": "2026-11-29", "client": CLIENT, "payload": {}}
    suite.functions.call("launch", launch, user=user).unwrap()
    for name in DEVICES:
        suite.firestore.as_user(user).set(
            f"users/{user.uid}/devices/{name}",
            {
                "schemaVersion": 1,
                "platform": "ios",
                "appVersion": "3.4.0",
                "osVersion": "26.1",
                "lastSeenAt": datetime.now(UTC),
            },
        )
    now = datetime.now(UTC)
    day = (now - timedelta(days=1)).date().isoformat()
    base = now - timedelta(minutes=5)
    offset = log.stat().st_size
    start = threading.Barrier(calls)
    began = time.monotonic()
    with ThreadPoolExecutor(calls) as pool:
        runs = list(
            pool.map(
                lambda n: one_call(suite, user, report(n, day, base), tries, start), range(calls)
            )
        )
    elapsed = time.monotonic() - began
    time.sleep(SETTLE_SECONDS)
    aborted = [
        line for line in log_lines(log, offset) if line.get("message") == "transaction aborted"
    ]
    latest = {name: max(n for n in range(calls) if DEVICES[n % 3] == name) for name in DEVICES}
    expected = {
        "screenTimeMinutes": sum(10 + n for n in latest.values()),
        "pickups": sum(latest.values()),
        "focusedMinutes": max(latest.values()),
    }
    stored = suite.firestore.as_owner().get(f"users/{user.uid}/days/{day}") or {}
    return {
        "http_calls": sum(len(codes) for codes in runs),
        "first": Counter(codes[0] for codes in runs),
        "final": Counter(codes[-1] for codes in runs),
        "all": Counter(code for codes in runs for code in codes),
        "aborted": len(aborted),
        "aborted_in_uploads": sum(1 for a in aborted if a.get("function") == "uploadDailyReports"),
        "by_transaction": Counter(f"{a.get('function')}/{a.get('transaction')}" for a in aborted),
        "totals": stored.get("totals"),
        "expected": expected,
        "seconds": elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--tries", type=int, default=4, help="tries per call, the first included")
    args = parser.parse_args()
    suite = EmulatorSuite(project="demo-focus", region="europe-west1")
    suite.firestore.load_rules((ROOT / "firestore.rules").read_text())
    log = Path(os.environ["FOCUS_EMULATOR_LOG"])
    # Warm-up, not measured: the emulator serves one request per Python worker; start as many
    # workers as there will be concurrent calls (20 starting at once outlast the HTTP timeout).
    round_(suite, log, args.calls, 1)
    results = []
    for n in range(args.rounds):
        result = round_(suite, log, args.calls, args.tries)
        results.append(result)
        per_100 = 100 * result["aborted"] / max(1, result["http_calls"])
        print(
            f"round {n + 1}: {args.calls} calls, {result['http_calls']} HTTP calls in "
            f"{result['seconds']:.1f}s; aborted attempts {result['aborted']} "
            f"({per_100:.0f} per 100 calls; {result['aborted_in_uploads']} in the callable)\n"
            f"  first try: {dict(result['first'])}; final: {dict(result['final'])}; "
            f"every answer: {dict(result['all'])}\n"
            f"  aborted by function/transaction: {dict(result['by_transaction'])}\n"
            f"  merged totals {result['totals']} (documented merge: {result['expected']}, "
            f"{'equal' if result['totals'] == result['expected'] else 'LOST UPDATES'})",
            flush=True,
        )
    calls = sum(r["http_calls"] for r in results)
    aborted = sum(r["aborted"] for r in results)
    first: Counter[str] = sum((r["first"] for r in results), Counter())
    final: Counter[str] = sum((r["final"] for r in results), Counter())
    exact = sum(1 for r in results if r["totals"] == r["expected"])
    print(
        f"\nsummary over {args.rounds} rounds x {args.calls} calls ({calls} HTTP calls): "
        f"{100 * aborted / max(1, calls):.1f} aborted transaction attempts per 100 calls "
        f"({100 * sum(r['aborted_in_uploads'] for r in results) / max(1, calls):.1f} in the "
        f"callable itself); first try {dict(first)}; after retries {dict(final)}; "
        f"merged totals exact in {exact}/{args.rounds} rounds"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

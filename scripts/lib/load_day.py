"""A day of Focus for N simulated people with several devices each, driven by Locust against the
running emulators (scripts/load; scripts/lib/load_run.py starts this in the load venv and checks
what it leaves behind). Runs under gevent: nothing here may run in the pytest process.

Each Locust user is one person; their devices act at once in greenlets of their own. Everything
goes through the real protocols: callables over the callable protocol with real Auth-emulator ID
tokens and the app's envelope, and the devices' own Firestore writes over the Firestore REST API
with the person's ID token, so the security rules judge them (the harness's clients: no gRPC under
gevent). The person's day:

1. (before the day, not timed) an account a month old: signed up, launched once, its profile
   backdated so the person counts in the community histogram (7 days at least).
2. Morning: every device launches and registers itself (``devices/{id}``).
3. The first device creates a time limit; every device runs focus sessions to their planned end,
   and the first one starts one more and cancels it.
4. Two devices edit the same block at once, each its own field, several times.
5. Every device uploads the last two days' reports late, sends the first upload twice (the same
   idempotency key: an answer lost on the way) and then uploads newer figures.
6. A device starts a long session, then every device uses the emergency pass at the same moment.
7. The person requests an export and follows it until it is ready; the evening launch on every
   device and the community comparison close the day.

Callables are retried as docs/api.md tells the app (ABORTED, UNAVAILABLE, RATE_LIMITED: wait
``retryAfterSeconds`` plus a random fraction, same key). Any other failure, a refused write or an
exception is an unexpected error. The run is bounded: ``--max-requests`` HTTP requests and
``--max-seconds`` of wall time, after which the remaining days are stopped (and reported).

The journal (``--out``, JSON) holds what each person did and expects, every HTTP request's latency
by name, the answers, the retries, the unexpected errors and the client-seen lags.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# Locust patches the standard library with gevent on import: before anything opens a socket.
import gevent  # type: ignore[import-untyped,import-not-found,unused-ignore]
from gevent.event import Event  # type: ignore[import-untyped,import-not-found,unused-ignore]
from locust import User, task  # type: ignore[import-not-found,unused-ignore]
from locust.env import Environment  # type: ignore[import-not-found,unused-ignore]
from locust.exception import StopUser  # type: ignore[import-not-found,unused-ignore]

from firebase_emulator_harness import EmulatorError, EmulatorSuite
from firebase_emulator_harness import User as Account

API_VERSION = "2026-11-29"
TIMEZONE = "Europe/Berlin"
# (install id, platform) of a person's devices, the first ``--devices`` of them.
DEVICES = (("iphone", "ios"), ("mac", "macos"), ("ipad", "ios"), ("pixel", "android"))
RETRYABLE = {"ABORTED", "UNAVAILABLE"}
# docs/api.md: give up (keep the data for later) after about a minute; twice that here, where a
# worker of the Functions emulator may take half a minute to start on a busy machine.
GIVE_UP_AFTER_S = 120.0
BLOCK_EDIT_ROUNDS = 3
EXPORT_WAIT_S = 120.0
DERIVED_WAIT_S = 120.0


class BudgetExhausted(Exception):
    """The run's request budget is spent: the day stops here."""


@dataclass
class Journal:
    """What the run did, for scripts/lib/load_run.py."""

    people: list[dict[str, Any]] = field(default_factory=list)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    answers: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lags_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    requests: int = 0
    days_finished: int = 0
    seconds: float = 0.0


class Run:
    """The run's settings and its journal, shared by every simulated person (one process)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.suite = EmulatorSuite(args.project, region=args.region, hub=args.hub)
        self.journal = Journal()
        self.all_done = Event()

    def spend(self) -> None:
        if self.journal.requests >= self.args.max_requests:
            raise BudgetExhausted(f"request budget of {self.args.max_requests} spent")
        self.journal.requests += 1

    def timed(self, environment: Any, kind: str, name: str, started: float, failed: bool) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.journal.latencies_ms[name].append(elapsed_ms)
        environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=elapsed_ms,
            response_length=0,
            exception=RuntimeError(name) if failed else None,
            context={},
        )


RUN: Run | None = None  # set by main() before Locust starts the people


def now() -> datetime:
    return datetime.now(UTC)


def aborted(error: EmulatorError) -> bool:
    """Firestore's ABORTED (HTTP 409 with that status; ALREADY_EXISTS is a 409 too): a write
    that lost a lock, retryable."""
    return error.status == 409 and '"ABORTED"' in str(error)


def envelope(device: str, payload: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    platform = dict(DEVICES)[device]
    return {
        "apiVersion": API_VERSION,
        "client": {"platform": platform, "appVersion": "3.4.0", "build": 412},
        "idempotencyKey": key or uuid.uuid4().hex,
        "payload": payload,
    }


class Person(User):  # type: ignore[misc,unused-ignore]
    """One person and their devices, through one day (then the user stops)."""

    def on_start(self) -> None:
        assert RUN is not None
        self.run = RUN
        self.devices = [name for name, _ in DEVICES[: self.run.args.devices]]
        self.record: dict[str, Any] = {
            "uid": None,
            "devices": self.devices,
            "sessions": {},
            "block": None,
            "uploads": {},
            "pass": Counter(),
            "export": None,
            "finished": False,
        }

    # -- the protocols -------------------------------------------------------------------------
    def call(
        self,
        device: str,
        name: str,
        payload: dict[str, Any],
        *,
        key: str | None = None,
        expected: frozenset[str] = frozenset(),
    ) -> tuple[str, Any]:
        """A callable as the app calls it, retried as docs/api.md says; (final reason or OK, data).
        A final answer other than OK or an ``expected`` reason is an unexpected error."""
        body = envelope(device, payload, key)
        deadline = time.monotonic() + GIVE_UP_AFTER_S
        wait = 1.0
        while True:
            self.run.spend()
            started = time.perf_counter()
            try:
                answer = self.run.suite.functions.call(name, body, user=self.account)
            except OSError:  # requests' timeouts and connection errors (not imported before gevent)
                # No answer in time (a worker starting on a busy machine): the app sends the same
                # request again, with the same key, as after any network failure.
                self.run.timed(self.environment, "callable", name, started, True)
                if time.monotonic() >= deadline:
                    raise
                self.run.journal.retries[f"{name} no answer (network)"] += 1
                gevent.sleep(wait * (1 + random.random() / 2))
                continue
            details = (answer.error or {}).get("details")
            details = details if isinstance(details, dict) else {}
            reason = str(details.get("reason") or answer.code)
            retry = answer.code in RETRYABLE or reason == "RATE_LIMITED"
            self.run.timed(self.environment, "callable", name, started, not answer.ok)
            if retry and time.monotonic() < deadline:
                self.run.journal.retries[f"{name} {answer.code} {reason}"] += 1
                wait = max(wait, float(str(details.get("retryAfterSeconds", 1))))
                gevent.sleep(wait * (1 + random.random() / 2))
                wait *= 2
                continue
            outcome = "OK" if answer.ok else reason
            self.run.journal.answers[f"{name} {outcome}"] += 1
            if outcome != "OK" and outcome not in expected:
                raise RuntimeError(f"{name} answered {answer.code} {reason}: {answer.error}")
            result = answer.result if isinstance(answer.result, dict) else {}
            return outcome, result.get("data")

    def write(self, what: str, action: str, path: str, data: dict[str, Any]) -> datetime:
        """A device's own Firestore write under the rules (REST, the person's ID token); when it
        was acknowledged. ABORTED (the rules' reads waited on a document a server transaction
        held) is retried with backoff, as the Firestore SDKs retry it on the device; nothing was
        written."""
        db = self.run.suite.firestore.as_user(self.account)
        deadline = time.monotonic() + GIVE_UP_AFTER_S
        wait = 0.5
        while True:
            self.run.spend()
            started = time.perf_counter()
            try:
                getattr(db, action)(path, data)
            except EmulatorError as exc:
                self.run.timed(self.environment, "firestore", what, started, True)
                if not aborted(exc) or time.monotonic() >= deadline:
                    raise
                self.run.journal.retries[f"{what} ABORTED (device write)"] += 1
                gevent.sleep(wait * (1 + random.random() / 2))
                wait = min(wait * 2, 8.0)
                continue
            self.run.timed(self.environment, "firestore", what, started, False)
            return now()

    def read(self, what: str, path: str) -> dict[str, Any] | None:
        self.run.spend()
        started = time.perf_counter()
        found = self.run.suite.firestore.as_user(self.account).get(path)
        self.run.timed(self.environment, "firestore", what, started, False)
        return found

    def on_every_device(self, step: Any, *args: Any) -> None:
        """``step(device, *args)`` on every device at once; the first failure is raised."""
        greenlets = [gevent.spawn(step, device, *args) for device in self.devices]
        gevent.joinall(greenlets, raise_error=True)

    # -- the day ---------------------------------------------------------------------------------
    @task  # type: ignore[untyped-decorator,unused-ignore]
    def day(self) -> None:
        started = time.monotonic()
        try:
            self.month_old_account()
            self.on_every_device(self.launch)
            self.focus_sessions()
            self.edit_block_from_two_devices()
            self.upload_reports()
            self.race_emergency_pass()
            self.export()
            self.on_every_device(self.evening)
            self.record["finished"] = True
        except BudgetExhausted as exc:
            self.run.journal.errors.append(f"person {self.record['uid']}: {exc}")
        except Exception as exc:  # an unexpected error ends this person's day, not the run
            self.run.journal.errors.append(
                f"person {self.record['uid']}: {type(exc).__name__}: {exc}"[:600]
            )
        self.record["seconds"] = time.monotonic() - started
        self.run.journal.people.append(self.record)
        self.run.journal.days_finished += 1
        print(
            f"[load] day {self.run.journal.days_finished}/{self.run.args.people} over "
            f"({self.record['seconds']:.0f} s, {self.run.journal.requests} requests so far)",
            file=sys.stderr,
            flush=True,
        )
        if self.run.journal.days_finished >= self.run.args.people:
            self.run.all_done.set()
        raise StopUser()

    def month_old_account(self) -> None:
        """Seeding, not part of the day: a person who has used the app for a month."""
        self.account: Account = self.run.suite.auth.sign_up_anonymously()
        self.record["uid"] = self.account.uid
        self.call(self.devices[0], "launch", {})
        self.run.suite.firestore.as_owner().update(
            f"users/{self.account.uid}", {"createdAt": now() - timedelta(days=30)}
        )

    def launch(self, device: str) -> None:
        self.call(device, "launch", {})
        platform = dict(DEVICES)[device]
        device_doc = {
            "schemaVersion": 1,
            "platform": platform,
            "appVersion": "3.4.0",
            "osVersion": "26.1",
            "lastSeenAt": now(),
        }
        self.write(
            "register device", "set", f"users/{self.account.uid}/devices/{device}", device_doc
        )

    def focus_sessions(self) -> None:
        block = {
            "schemaVersion": 1,
            "kind": "timeLimit",
            "name": "Social",
            "selection": {self.devices[0]: {"apps": ["AAEAAH9tb2tlbg=="], "categories": []}},
            "strictness": "easy",
            "timeLimit": {"dailyMinutes": 60},
        }
        path = f"users/{self.account.uid}/blocks/social"
        self.write("create block", "create", path, block)
        self.record["block"] = {"path": path, "name": block["name"], "dailyMinutes": 60}
        self.on_every_device(self.sessions_on)
        # One started by mistake and cancelled: never counted.
        start = now()
        self.start_session(self.devices[0], "cancelled", start, start + timedelta(minutes=25))
        gevent.sleep(random.uniform(0.5, 1.5))
        self.write(
            "cancel session",
            "update",
            self.session_path("cancelled"),
            {"status": "cancelled", "endedAt": now(), "endReason": "cancelled"},
        )
        self.record["sessions"]["cancelled"] = {"status": "cancelled"}

    def session_path(self, session_id: str) -> str:
        return f"users/{self.account.uid}/sessions/{session_id}"

    def start_session(
        self, device: str, session_id: str, start: datetime, planned_end: datetime
    ) -> None:
        doc = {
            "schemaVersion": 1,
            "status": "active",
            "strictness": "easy",
            "plannedStart": start,
            "plannedEnd": planned_end,
            "updatedBy": device,
        }
        self.write("start session", "create", self.session_path(session_id), doc)

    def sessions_on(self, device: str) -> None:
        """Sessions run to their planned end: completed by the device within the minute before it
        (the rules allow that much), so the server's planned-end task finds them completed. They
        started one to four minutes ago (a start is accepted within five minutes of the write)."""
        for n in range(self.run.args.sessions):
            session_id = f"{device}-{n}"
            planned_end = now() + timedelta(seconds=30)
            start = planned_end - timedelta(minutes=random.randint(1, 4), seconds=30)
            self.start_session(device, session_id, start, planned_end)
            gevent.sleep(random.uniform(1, 3))
            completed_at = self.write(
                "complete session",
                "update",
                self.session_path(session_id),
                {"status": "completed", "endedAt": planned_end, "endReason": "completed"},
            )
            self.record["sessions"][session_id] = {
                "status": "completed",
                "completedAt": completed_at.isoformat(),
            }

    def edit_block_from_two_devices(self) -> None:
        """The first device renames the block while the second changes its daily minutes, at
        the same moments: field-mask writes, so neither may lose the other's edit."""
        if len(self.devices) < 2:
            return
        block = self.record["block"]
        renamer, limiter = self.devices[0], self.devices[1]

        def rename(device: str) -> None:
            for n in range(BLOCK_EDIT_ROUNDS):
                block["name"] = f"Social, take {n + 1}"
                self.write("edit block", "update", block["path"], {"name": block["name"]})
                gevent.sleep(random.uniform(0, 0.3))

        def limit(device: str) -> None:
            for n in range(BLOCK_EDIT_ROUNDS):
                block["dailyMinutes"] = 45 - 5 * n
                changes = {"timeLimit.dailyMinutes": block["dailyMinutes"]}
                self.write("edit block", "update", block["path"], changes)
                gevent.sleep(random.uniform(0, 0.3))

        gevent.joinall(
            [gevent.spawn(rename, renamer), gevent.spawn(limit, limiter)], raise_error=True
        )

    def upload_reports(self) -> None:
        """The last two local days, uploaded late from every device at once; the first upload
        sent twice with one idempotency key, then newer figures. Per device the latest counts."""
        today = now().astimezone(ZoneInfo(TIMEZONE)).date()
        days = [(today - timedelta(days=back)).isoformat() for back in (2, 1)]
        self.record["uploads"] = {day: {} for day in days}
        self.on_every_device(self.upload_from, days)
        # The app watches its day: the derived fields (streak, community mark) follow the upload.
        sent = now()
        path = f"users/{self.account.uid}/days/{days[-1]}"
        deadline = time.monotonic() + DERIVED_WAIT_S
        while time.monotonic() < deadline:
            day = self.read("watch day", path) or {}
            if (day.get("community") or {}).get("revision") == day.get("revision"):
                self.run.journal.lags_s["upload -> day derived (client seen)"].append(
                    (now() - sent).total_seconds()
                )
                return
            gevent.sleep(0.5)
        raise RuntimeError(f"{path} not derived within {DERIVED_WAIT_S}s")

    def upload_from(self, device: str, days: list[str]) -> None:
        index = self.devices.index(device)
        for attempt, figures in enumerate(((60, 20), (90, 35))):
            screen, pickups = figures[0] + 10 * index, figures[1] + index
            reports = [
                {
                    "day": day,
                    "timezone": TIMEZONE,
                    "screenTimeMinutes": screen + back,
                    "pickups": pickups + back,
                    "focusedMinutes": 5 * index + back,
                    "asOf": (now() - timedelta(seconds=30 - attempt)).isoformat(),
                }
                for back, day in enumerate(days)
            ]
            payload = {"deviceId": device, "reports": reports}
            key = uuid.uuid4().hex
            self.call(device, "uploadDailyReports", payload, key=key)
            if attempt == 0:  # the answer was lost on the way: the same request again
                self.call(device, "uploadDailyReports", payload, key=key)
            for report in reports:
                self.record["uploads"][report["day"]][device] = {
                    "screenTimeMinutes": report["screenTimeMinutes"],
                    "pickups": report["pickups"],
                    "focusedMinutes": report["focusedMinutes"],
                }
            gevent.sleep(random.uniform(0.5, 2))

    def race_emergency_pass(self) -> None:
        """A long session runs on the last device; then every device uses the pass at once."""
        start = now()
        self.start_session(self.devices[-1], "long", start, start + timedelta(minutes=30))
        self.record["sessions"]["long"] = {"status": "emergency"}
        go = Event()

        def use(device: str) -> None:
            go.wait()
            outcome, _ = self.call(
                device, "useEmergencyPass", {}, expected=frozenset({"EMERGENCY_PASS_USED"})
            )
            self.record["pass"][outcome] += 1

        greenlets = [gevent.spawn(use, device) for device in self.devices]
        gevent.sleep(0)
        go.set()
        gevent.joinall(greenlets, raise_error=True)

    def export(self) -> None:
        _, answer = self.call(self.devices[0], "requestExport", {})
        export_id = answer["exportId"]
        deadline = time.monotonic() + EXPORT_WAIT_S
        while time.monotonic() < deadline:
            _, chunk = self.call(self.devices[0], "getExport", {"exportId": export_id})
            if chunk["state"] == "ready":
                self.record["export"] = {"id": export_id, "chunks": chunk["chunks"]}
                return
            gevent.sleep(1)
        raise RuntimeError(f"export {export_id} not ready within {EXPORT_WAIT_S}s")

    def evening(self, device: str) -> None:
        self.call(device, "launch", {})
        yesterday = max(self.record["uploads"])
        self.call(device, "getCommunityComparison", {"day": yesterday})


def main() -> int:
    global RUN
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hub", required=True, help="the Emulator Suite hub, host:port")
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--people", type=int, required=True)
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--sessions", type=int, required=True, help="completed ones per device")
    parser.add_argument("--spawn-rate", type=float, required=True, help="people starting a second")
    parser.add_argument("--max-requests", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, required=True)
    parser.add_argument("--out", required=True, help="where the journal (JSON) goes")
    args = parser.parse_args()
    RUN = Run(args)
    environment = Environment(user_classes=[Person])
    runner = environment.create_local_runner()
    began = time.monotonic()
    runner.start(args.people, spawn_rate=args.spawn_rate)
    finished = RUN.all_done.wait(timeout=args.max_seconds)
    runner.quit()
    RUN.journal.seconds = time.monotonic() - began
    if not finished:
        RUN.journal.errors.append(
            f"stopped at the time bound ({args.max_seconds:.0f} s): "
            f"{args.people - RUN.journal.days_finished} days unfinished"
        )
    with open(args.out, "w") as out:
        json.dump(vars(RUN.journal), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

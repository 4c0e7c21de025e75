"""The load tool (scripts/load): a day of Focus for N people with several devices each against the
running emulators, then a check of what it left behind. tests/test_load.py runs a small one.

Locust drives the people (scripts/lib/load_day.py, in its own venv and process: gevent patches
the standard library, which must not happen here or in pytest). When it ends, this process waits
for the background work to settle and reads the data back with admin reads:

- every session counted exactly once: each completed session has its result and has been added
  to hours saved; cancelled and emergency-ended ones have no result; the profile's counters equal
  the count and the sum of the counted minutes;
- hours saved equals the sum of every counted minute, on the shards and, after the roll-up, in
  the summary the app reads;
- community counts equal the people reporting, per day, on the histogram shards; each day's
  totals are the documented merge of what every device uploaded last (no lost upload);
- exactly one emergency pass per person per week: one racing device got it, the others were told
  it was used, and the profile counts one use;
- no lost block edit: the block holds the last name and the last daily minutes, written by two
  devices at once;
- every export requested became ready.

It prints p50/p95/p99 per callable and per device write, the trigger lags (a write -> the fields
derived from it) and any violation, and can draw the latency distribution as an SVG. Loopback
only: it refuses an Emulator Suite whose hub or emulators are anywhere else. Everything in the
suite's Firestore and Auth is deleted first.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from tables import format_table  # type: ignore[import-not-found]  # scripts/lib/tables.py

from firebase_emulator_harness import EmulatorError, EmulatorSuite
from focus.adapters import paths
from focus.domain import community, hours_saved
from focus.domain.reports import DeviceDay, totals_of

ROOT = Path(__file__).resolve().parents[2]
LOAD_PYTHON = ROOT / ".local" / "load-venv" / "bin" / "python"
DAY = Path(__file__).with_name("load_day.py")
PROJECT = json.loads((ROOT / ".firebaserc").read_text())["projects"]["default"]
REGION = "europe-west1"
SETTLE_S = 120.0  # background work (counting, hours saved, derivation) must finish within this
PERCENTILES = (50, 95, 99)
SESSIONS_PER_DEVICE = (
    2  # run to their end on each device; then one cancelled, one ended by the pass
)


@dataclass
class Outcome:
    """What a run did and what the check found."""

    people: int
    devices: int
    seconds: float
    requests: int
    errors: list[str]
    violations: list[str]
    latencies_ms: dict[str, list[float]]
    lags_s: dict[str, list[float]]
    answers: dict[str, int]
    retries: dict[str, int]
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def clients(self) -> int:
        return self.people * self.devices

    @property
    def passed(self) -> bool:
        return not self.errors and not self.violations


def refuse_remote(suite: EmulatorSuite) -> None:
    """Load goes to this machine only: the hub and every emulator must be on a loopback host."""
    hosts = {urlsplit(suite.hub_url).hostname or ""} | {e.host for e in suite.endpoints.values()}
    for host in hosts:
        if host == "localhost":
            continue
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise SystemExit(f"refusing to load {host}: the load tool runs against loopback only")


def run(
    suite: EmulatorSuite,
    *,
    people: int,
    devices: int,
    spawn_rate: float,
    max_requests: int,
    max_seconds: float,
    journal: Path,
) -> Outcome:
    """Run the day for ``people`` in a Locust subprocess, then check the data it left."""
    refuse_remote(suite)
    suite.reset()
    journal.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(LOAD_PYTHON),
        str(DAY),
        *("--hub", urlsplit(suite.hub_url).netloc),
        *("--project", suite.project, "--region", suite.region),
        *("--people", str(people), "--devices", str(devices)),
        *("--sessions", str(SESSIONS_PER_DEVICE)),
        *("--spawn-rate", str(spawn_rate), "--max-requests", str(max_requests)),
        *("--max-seconds", str(max_seconds), "--out", str(journal)),
    ]
    # Locust's own log (spawning, stopping) goes to stderr; the figures come from the journal.
    subprocess.run(command, check=True, timeout=max_seconds + 120, cwd=ROOT)
    done = json.loads(journal.read_text())
    outcome = Outcome(
        people=people,
        devices=devices,
        seconds=float(done["seconds"]),
        requests=int(done["requests"]),
        errors=list(done["errors"]),
        violations=[],
        latencies_ms=done["latencies_ms"],
        lags_s=done["lags_s"],
        answers=done["answers"],
        retries=done["retries"],
    )
    Check(suite, done["people"], outcome).run()
    return outcome


def moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class Check:
    """Correctness from the data, with admin reads, once the background work has settled."""

    def __init__(self, suite: EmulatorSuite, people: list[dict[str, Any]], outcome: Outcome):
        self.suite = suite
        self.db = suite.firestore.as_owner()
        self.people = [p for p in people if p["uid"]]
        self.outcome = outcome
        # One deadline for every wait: background work has settled by then, or it is a violation.
        self.deadline = time.monotonic() + SETTLE_S

    def doc(self, path: str) -> dict[str, Any]:
        """A stored document as plain values ({} when missing)."""
        return cast(dict[str, Any], self.db.get(path) or {})

    def docs(self, collection: str) -> dict[str, dict[str, Any]]:
        """A collection's documents by id."""
        return {
            p.rsplit("/", 1)[1]: cast(dict[str, Any], doc) for p, doc in self.db.query(collection)
        }

    def violation(self, text: str) -> None:
        self.outcome.violations.append(text)

    def lag(self, name: str, seconds: float) -> None:
        self.outcome.lags_s.setdefault(name, []).append(seconds)

    def run(self) -> None:
        counted = self.sessions()
        self.hours_saved(counted)
        self.days_and_community()
        for person in self.people:
            self.emergency_pass(person)
            self.block(person)
            self.export(person)

    def settled_sessions(self, person: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The person's sessions once every completed one is counted and added to hours saved
        (or at the deadline, as they are)."""
        expected = person["sessions"]
        while True:
            found = self.docs(f"users/{person['uid']}/sessions")
            pending = [
                sid
                for sid, want in expected.items()
                if want["status"] == "completed"
                and "addedToHoursSavedAt" not in ((found.get(sid) or {}).get("result") or {})
            ]
            if not pending or time.monotonic() > self.deadline:
                return found
            time.sleep(0.5)

    def sessions(self) -> int:
        """Every session counted exactly once; the total counted minutes of everyone."""
        total = 0
        for person in self.people:
            uid = person["uid"]
            found = self.settled_sessions(person)
            minutes = completed = 0
            for sid, want in person["sessions"].items():
                doc = found.get(sid)
                if doc is None:
                    self.violation(f"{uid}: session {sid} is missing")
                    continue
                result = doc.get("result") or {}
                if want["status"] == "completed":
                    if doc.get("status") != "completed" or "focusedMinutes" not in result:
                        self.violation(f"{uid}: completed session {sid} not counted: {result}")
                        continue
                    completed += 1
                    minutes += int(result["focusedMinutes"])
                    written = datetime.fromisoformat(want["completedAt"])
                    self.lag(
                        "session completed -> counted",
                        (moment(result["countedAt"]) - written).total_seconds(),
                    )
                    if "addedToHoursSavedAt" not in result:
                        self.violation(f"{uid}: session {sid} not added to hours saved: {result}")
                        continue
                    self.lag(
                        "session completed -> added to hours saved",
                        (moment(result["addedToHoursSavedAt"]) - written).total_seconds(),
                    )
                else:
                    reason = "emergency" if want["status"] == "emergency" else "cancelled"
                    if (doc.get("status"), doc.get("endReason")) != ("cancelled", reason):
                        self.violation(f"{uid}: session {sid} should be {reason}: {doc}")
                    if result:
                        self.violation(f"{uid}: {reason} session {sid} was counted: {result}")
            stats = self.doc(paths.user(uid)).get("stats") or {}
            if (stats.get("completedSessions"), stats.get("focusedMinutes")) != (
                completed,
                minutes,
            ):
                self.violation(
                    f"{uid}: profile counts {stats.get('completedSessions')} sessions and "
                    f"{stats.get('focusedMinutes')} minutes; the sessions say {completed} and "
                    f"{minutes}"
                )
            total += minutes
        self.outcome.checked["sessions"] = sum(len(p["sessions"]) for p in self.people)
        return total

    def hours_saved(self, counted_minutes: int) -> None:
        shards = [
            int(doc.get("minutes") or 0) for doc in self.docs(paths.HOURS_SAVED_SHARDS).values()
        ]
        on_shards = hours_saved.summarize(shards, now=datetime.now(UTC)).total_minutes
        if on_shards != counted_minutes:
            self.violation(
                f"hours saved shards hold {on_shards} minutes; sessions counted {counted_minutes}"
            )
        try:
            self.suite.functions.run_scheduled("roll_up_hours_saved")
        except (EmulatorError, OSError) as exc:  # OSError: requests' timeouts
            self.violation(f"the hours-saved roll-up did not run: {exc}")
            return
        summary = self.doc(paths.hours_saved_summary())
        if summary.get("totalMinutes") != counted_minutes:
            self.violation(
                f"hours saved summary says {summary.get('totalMinutes')} minutes after the "
                f"roll-up; sessions counted {counted_minutes}"
            )
        self.outcome.checked["hours saved minutes"] = counted_minutes

    def derived_day(self, uid: str, day: str) -> dict[str, Any]:
        """The person's day once its derivation caught up with its last upload."""
        while True:
            doc = self.doc(paths.day(uid, day))
            mark = doc.get("community") or {}
            if mark.get("revision") == doc.get("revision") or time.monotonic() > self.deadline:
                return doc
            time.sleep(0.5)

    def days_and_community(self) -> None:
        reporting: dict[str, int] = {}
        for person in self.people:
            uid = person["uid"]
            for day, by_device in person["uploads"].items():
                if not by_device:
                    continue
                reporting[day] = reporting.get(day, 0) + 1
                stored = self.derived_day(uid, day)
                last = {
                    device: DeviceDay.model_validate(
                        figures | {"asOf": datetime.now(UTC), "timezone": "UTC"}
                    )
                    for device, figures in by_device.items()
                }
                expected = totals_of(last).to_firestore()
                if stored.get("totals") != expected:
                    self.violation(
                        f"{uid}: day {day} totals {stored.get('totals')}, the devices' last "
                        f"uploads merge to {expected}"
                    )
                mark = stored.get("community") or {}
                if mark.get("revision") != stored.get("revision") or mark.get("bucket") is None:
                    self.violation(f"{uid}: day {day} not derived into the community: {mark}")
        for day, people in sorted(reporting.items()):
            shards = [
                {k: int(v) for k, v in (doc.get("buckets") or {}).items()}
                for doc in self.docs(
                    f"{paths.COMMUNITY_DAYS}/{day}/{paths.COMMUNITY_SHARDS}"
                ).values()
            ]
            counted = community.summarize(day, shards, datetime.now(UTC)).people
            if counted != people:
                self.violation(f"community {day}: {counted} people counted, {people} reported")
        self.outcome.checked["days"] = sum(reporting.values())

    def emergency_pass(self, person: dict[str, Any]) -> None:
        if not person["pass"]:
            return
        uid, devices = person["uid"], len(person["devices"])
        answers = {"OK": 1, "EMERGENCY_PASS_USED": devices - 1} if devices > 1 else {"OK": 1}
        if person["pass"] != answers:
            self.violation(f"{uid}: the racing devices got {person['pass']}, not {answers}")
        used = (self.doc(paths.user(uid)).get("emergencyPass") or {}).get("timesUsed")
        if used != 1:
            self.violation(f"{uid}: the emergency pass was used {used} times this week")

    def block(self, person: dict[str, Any]) -> None:
        block = person["block"]
        if block is None:
            return
        stored = self.doc(block["path"])
        kept = (stored.get("name"), (stored.get("timeLimit") or {}).get("dailyMinutes"))
        if kept != (block["name"], block["dailyMinutes"]):
            self.violation(
                f"{person['uid']}: block edit lost: {kept}, last edits "
                f"{(block['name'], block['dailyMinutes'])}"
            )

    def export(self, person: dict[str, Any]) -> None:
        if person["export"] is None:
            if person["finished"]:
                self.violation(f"{person['uid']}: no export")
            return
        stored = self.doc(paths.export(person["uid"], person["export"]["id"]))
        if stored.get("state") != "ready":
            self.violation(f"{person['uid']}: export {person['export']['id']} is not ready")
            return
        ready = (moment(stored["readyAt"]) - moment(stored["requestedAt"])).total_seconds()
        self.lag("export requested -> ready", ready)


# -- figures ---------------------------------------------------------------------------------------
def percentile(values: list[float], p: int) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def report(outcome: Outcome) -> str:
    latency_rows = [
        [name, str(len(values)), *(f"{percentile(values, p):.0f}" for p in (*PERCENTILES, 100))]
        for name, values in sorted(outcome.latencies_ms.items())
    ]
    lag_rows = [
        [name, str(len(values)), *(f"{percentile(values, p):.1f}" for p in (*PERCENTILES, 100))]
        for name, values in sorted(outcome.lags_s.items())
    ]
    lines = [
        f"{outcome.people} people x {outcome.devices} devices = {outcome.clients} simulated "
        f"clients; {outcome.requests} HTTP requests in {outcome.seconds:.0f} s "
        f"({outcome.requests / max(outcome.seconds, 1e-9):.1f}/s)",
        "",
        "latency per callable and device write (ms, every HTTP attempt):",
        format_table(["request", "n", "p50", "p95", "p99", "max"], latency_rows, "lrrrrr"),
        "",
        "trigger lag (s):",
        format_table(["write -> derived", "n", "p50", "p95", "p99", "max"], lag_rows, "lrrrrr"),
        "",
        "final answers: " + ", ".join(f"{k} {v}" for k, v in sorted(outcome.answers.items())),
        "retried (as the app retries): "
        + (", ".join(f"{k} {v}" for k, v in sorted(outcome.retries.items())) or "none"),
        "checked: " + ", ".join(f"{k} {v}" for k, v in outcome.checked.items()),
        f"unexpected errors: {len(outcome.errors)}",
        *(f"  {e}" for e in outcome.errors[:20]),
        f"correctness violations: {len(outcome.violations)}",
        *(f"  {v}" for v in outcome.violations[:50]),
    ]
    return "\n".join(lines)


def latency_svg(outcome: Outcome, title: str) -> str:
    """Per request name, a log-scale strip of every latency with its p50, p95 and p99 marked."""
    names = sorted(outcome.latencies_ms)
    left, width, row, top = 190, 560, 26, 46
    height = top + row * len(names) + 40
    low, high = 1.0, max(max(v) for v in outcome.latencies_ms.values()) * 1.2
    span = math.log10(high) - math.log10(low)

    def x(ms: float) -> float:
        return left + width * (math.log10(max(ms, low)) - math.log10(low)) / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="20" font-size="14">{title}</text>',
        f'<text x="{left}" y="36" fill="#555">every HTTP attempt (grey), p50 (blue), '
        "p95 (orange), p99 (red); log scale, ms</text>",
    ]
    tick = 1.0
    while tick <= high:
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" '
            f'y2="{height - 34}" stroke="#ddd"/>'
            f'<text x="{x(tick):.1f}" y="{height - 20}" text-anchor="middle">{tick:g}</text>'
        )
        tick *= 10
    for i, name in enumerate(names):
        y = top + row * i + row / 2
        values = outcome.latencies_ms[name]
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{name} ({len(values)})</text>'
        )
        parts.extend(
            f'<circle cx="{x(v):.1f}" cy="{y:.1f}" r="1.6" fill="#999" fill-opacity="0.35"/>'
            for v in values
        )
        for p, colour in zip(PERCENTILES, ("#1f77b4", "#ff7f0e", "#d62728"), strict=True):
            at = x(percentile(values, p))
            parts.append(
                f'<line x1="{at:.1f}" y1="{y - 9:.1f}" x2="{at:.1f}" y2="{y + 9:.1f}" '
                f'stroke="{colour}" stroke-width="2.5"/>'
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--devices", type=int, default=4, help="devices per person (1-4)")
    parser.add_argument("--spawn-rate", type=float, default=2.0, help="people starting a second")
    parser.add_argument("--max-requests", type=int, help="default: 120 per device")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--svg", type=Path, help="write the latency distribution chart here")
    parser.add_argument("--journal", type=Path, default=ROOT / ".local" / "load" / "journal.json")
    args = parser.parse_args()
    if not 1 <= args.devices <= 4:
        parser.error("--devices is 1 to 4")
    hub = os.environ.get("FIREBASE_EMULATOR_HUB")
    suite = EmulatorSuite(project=PROJECT, region=REGION, hub=hub)
    outcome = run(
        suite,
        people=args.people,
        devices=args.devices,
        spawn_rate=args.spawn_rate,
        max_requests=args.max_requests or 120 * args.people * args.devices,
        max_seconds=args.max_seconds,
        journal=args.journal,
    )
    print(report(outcome), flush=True)
    if args.svg:
        title = (
            f"Focus load: {outcome.people} people x {outcome.devices} devices "
            f"({outcome.clients} clients) on the emulators"
        )
        args.svg.write_text(latency_svg(outcome, title))
        print(f"wrote {args.svg}")
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())

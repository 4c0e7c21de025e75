"""Synthetic product events for the dbt models: a deterministic six and a half weeks of a few
hundred people (1 October to 15 November 2026), in the event contract's shape (docs/analytics.md),
loaded into a DuckDB file's ``raw_events`` the way scripts/analytics-collect loads real ones.

Realistic enough to read a report from: people arrive over the period (more at launch), open the
app less as the weeks go by and some stop for good; they run focus sessions at their preferred
strictness, cancelling easy ones more often than hardcore ones, and a cancelled hardcore session
costs an emergency pass; some buy Pro, renew it, and some let it lapse. Nothing depends on today's
date or on the machine: the same file every run (tests/test_analytics_models.py relies on it).

    analytics_seed.py DATABASE      write the events into DATABASE's raw_events (any Python: the
                                    load itself runs in the analytics venv, which has duckdb)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import random
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[2]
ANALYTICS_PYTHON = ROOT / ".local" / "analytics-venv" / "bin" / "python"
LOADER = ROOT / "scripts" / "lib" / "analytics_load.py"

FIRST_DAY = date(2026, 10, 1)
LAST_DAY = date(2026, 11, 15)
PEOPLE = 600
RANDOM_SEED = 14  # the number: any fixed value gives a fixed data set
# Event ids are uuid5 of the event name and the fact's id (the contract); a namespace of our own.
EVENT_NAMESPACE = uuid.UUID("6f1c1b9e-2a4e-5c7d-9a51-0e5b7c3d1a14")
STRICTNESS_COMPLETION = {"easy": 0.62, "harder": 0.78, "hardcore": 0.9}
PLANNED_MINUTES = (15, 25, 25, 30, 45, 60, 90)


class Emit(Protocol):
    def __call__(self, name: str, fact: str, at: datetime, **properties: Any) -> None: ...


@dataclass(frozen=True)
class Person:
    uid: str
    person_id: str  # the keyed hash the warehouse sees, never the uid
    first_day: date
    platform: str
    stickiness: float  # how likely they are to come back, 0..1
    quits_after: int | None  # days after their first day when they stop for good
    strictness: str  # the one they mostly use
    buys_pro_after: int | None  # days after their first day (on their next visit from then)
    lets_pro_lapse: bool


def days() -> list[date]:
    return [FIRST_DAY + timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]


def events() -> list[dict[str, Any]]:
    """Every event of the data set, ordered by event time: rows of ``raw_events`` as JSON lines
    give them (times as RFC 3339 UTC strings, ``properties`` as the JSON object's text)."""
    rng = random.Random(RANDOM_SEED)
    rows: list[dict[str, Any]] = []
    for number in range(PEOPLE):
        rows.extend(_life(_person(rng, number), rng))
    return sorted(rows, key=lambda row: (row["event_time"], row["event_id"]))


def _person(rng: random.Random, number: int) -> Person:
    uid = f"seed-person-{number:04d}"
    secret = hashlib.sha256(f"seed-secret-{number}".encode()).digest()  # per person, as in prod
    period = len(days())
    # A launch: two people in five arrive in the first week, the others over the whole period.
    offset = rng.randrange(7) if rng.random() < 0.4 else rng.randrange(period)
    stickiness = rng.betavariate(2.2, 2.8)
    return Person(
        uid=uid,
        person_id=hmac.new(secret, uid.encode(), hashlib.sha256).hexdigest(),
        first_day=FIRST_DAY + timedelta(days=offset),
        platform=rng.choices(["ios", "android", "macos", "web"], [0.5, 0.38, 0.09, 0.03])[0],
        stickiness=stickiness,
        quits_after=(1 + int(rng.expovariate(1 / 10))) if rng.random() < 0.45 else None,
        strictness=rng.choices(["easy", "harder", "hardcore"], [0.5, 0.33, 0.17])[0],
        buys_pro_after=rng.randrange(1, 15) if rng.random() < 0.05 + 0.2 * stickiness else None,
        lets_pro_lapse=rng.random() < 0.35,
    )


def _life(person: Person, rng: random.Random) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pro_bought = False

    def event(name: str, fact: str, at: datetime, **properties: Any) -> None:
        found.append(_row(person, name, fact, at, properties, rng))

    for day in days():
        age = (day - person.first_day).days
        if age < 0 or (person.quits_after is not None and age > person.quits_after):
            continue
        weekend = 0.8 if day.weekday() >= 5 else 1.0
        # Habit fades over the first weeks, towards a floor set by how sticky the person is.
        comes_back = person.stickiness * (0.35 + 0.65 * math.exp(-age / 5)) * weekend
        if age > 0 and rng.random() >= comes_back:
            continue
        for opening in range(rng.choice([1, 1, 1, 2, 2, 3])):
            event("app_opened", f"{person.uid}/{day}/open-{opening}", _moment(day, rng))
        if age == 0:
            event(
                "block_changed",
                f"{person.uid}/block-1/created",
                _moment(day, rng),
                kind=rng.choice(["schedule", "timeLimit", "appLock"]),
                strictness=person.strictness,
                change="created",
            )
        focused_today = 0
        for session in range(rng.choice([0, 1, 1, 2, 2, 3])):
            strictness = person.strictness if rng.random() < 0.8 else rng.choice(["easy", "harder"])
            planned = rng.choice(PLANNED_MINUTES)
            completed = rng.random() < STRICTNESS_COMPLETION[strictness]
            focused = planned if completed else rng.randrange(1, planned)
            focused_today += focused
            ended = _moment(day, rng)
            fact = f"{person.uid}/{day}/session-{session}"
            # Leaving a hardcore session early takes an emergency pass (a harder one sometimes).
            if not completed and (
                strictness == "hardcore" or (strictness == "harder" and rng.random() < 0.3)
            ):
                event("emergency_pass_used", fact, ended - timedelta(seconds=5))
            event(
                "session_completed",
                fact,
                ended,
                strictness=strictness,
                outcome="completed" if completed else "cancelled",
                planned_minutes=planned,
                focused_minutes=focused,
            )
        screen_time = rng.randrange(90, 420)
        event(
            "day_merged",
            f"{person.uid}/{day}",
            datetime.combine(day, datetime.max.time(), UTC).replace(microsecond=0),
            screen_time_minutes=screen_time,
            pickups=rng.randrange(20, 140),
            focused_minutes=focused_today,
            met_goal=screen_time < 180,
            score=max(0, min(100, 100 - screen_time // 5 + focused_today // 10)),
        )
        if not pro_bought and person.buys_pro_after is not None and age >= person.buys_pro_after:
            _pro(person, day, event, rng)
            pro_bought = True
    return found


def _pro(person: Person, bought: date, event: Emit, rng: random.Random) -> None:
    """Pro bought on ``bought``: renewed monthly, or lapsing at the end of a paid month."""
    store = {"ios": "app_store", "macos": "app_store", "android": "google_play"}.get(
        person.platform, "stripe"
    )
    event(
        "entitlement_changed",
        f"{person.uid}/pro-0",
        _moment(bought, rng),
        pro=True,
        store=store,
        state="subscribed",
    )
    month = 1
    while (renewal := bought + timedelta(days=30 * month)) <= LAST_DAY:
        fact = f"{person.uid}/pro-{month}"
        if person.lets_pro_lapse:
            event(
                "entitlement_changed",
                fact,
                _moment(renewal, rng),
                pro=False,
                store=store,
                state="expired",
            )
            return
        event(
            "entitlement_changed",
            fact,
            _moment(renewal, rng),
            pro=True,
            store=store,
            state="renewed",
        )
        month += 1


def _moment(day: date, rng: random.Random) -> datetime:
    """A time of ``day`` when people are awake (UTC, to the microsecond)."""
    seconds = rng.randrange(6 * 3600, 24 * 3600 - 60)
    start = datetime.combine(day, datetime.min.time(), UTC)
    return start + timedelta(seconds=seconds, microseconds=rng.randrange(1_000_000))


def _row(
    person: Person,
    name: str,
    fact: str,
    at: datetime,
    properties: dict[str, Any],
    rng: random.Random,
) -> dict[str, Any]:
    ingested = at + timedelta(microseconds=rng.randrange(50_000, 3_000_000))
    return {
        "event_id": str(uuid.uuid5(EVENT_NAMESPACE, f"{name}:{fact}")),
        "event_name": name,
        "schema_version": 1,
        "event_time": _rfc3339(at),
        "ingest_time": _rfc3339(ingested),
        "person_id": person.person_id,
        "app_version": "3.5.0" if at.date() >= date(2026, 11, 2) else "3.4.0",
        "platform": person.platform,
        "properties": json.dumps(properties, sort_keys=True),
    }


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seed(database: Path) -> str:
    """Write the events into ``database``'s raw_events (rows already there by event id are kept);
    what happened, in words."""
    if not ANALYTICS_PYTHON.exists():
        raise SystemExit(f"error: {ANALYTICS_PYTHON} is missing: run scripts/setup")
    database.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="analytics-seed-") as folder:
        lines = Path(folder) / "seed.jsonl"
        lines.write_text("".join(json.dumps(row) + "\n" for row in events()))
        loaded = subprocess.run(
            [str(ANALYTICS_PYTHON), str(LOADER), "load", folder, str(database)],
            check=True,
            capture_output=True,
            text=True,
        )
    return loaded.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database", type=Path, help="the DuckDB file (created if missing)")
    args = parser.parse_args()
    print(seed(args.database))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""scripts/analytics-collect: the product events on the local Pub/Sub emulator, kept on disk.

Production needs no code for this (a BigQuery subscription writes the topic to a table:
infra/terraform/analytics.tf). Locally, this drains the pull subscription ``product-events-local``
on topic ``product-events`` (scripts/dev creates both at start; made here if missing), checks each
message against the event contract (docs/analytics.md) and appends it to

  .local/analytics/events/<ingest day>.jsonl   one event per line, the contract's fields
  .local/analytics/events.duckdb                table ``raw_events``, the dbt project's local source

once per ``event_id``: a message delivered twice (or an event published twice) is one row.
An ``erasure_completed`` event deletes the rows of the person it names from both (that event
stays, as in the warehouse: infra/terraform/sql/delete-erased-people.sql), and their events that
arrive later are not kept.
Messages off the contract are kept in .local/analytics/rejected.jsonl with the reason, and
acknowledged. The DuckDB table is loaded by the analytics venv's Python
(.local/analytics-venv, which has duckdb: scripts/lib/analytics_load.py); without that venv the
JSON lines are all there is, and the next run with it loads them.

  analytics_collect.py            drain what is waiting, print the counts, exit
  analytics_collect.py --follow   keep pulling until Ctrl-C
  analytics_collect.py --forget PERSON_ID
                                  delete a person's rows from the local store by hand (as
                                  their erasure_completed event does)

Only against the emulator (PUBSUB_EMULATOR_HOST, which scripts/dev prints): production
events never land on a laptop.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / ".local" / "analytics"
EVENTS = STORE / "events"
REJECTED = STORE / "rejected.jsonl"
DATABASE = STORE / "events.duckdb"
ANALYTICS_PYTHON = ROOT / ".local" / "analytics-venv" / "bin" / "python"
LOADER = Path(__file__).with_name("analytics_load.py")
TOPIC = "product-events"  # focus.domain.wires, infra/terraform/analytics.tf
SUBSCRIPTION = "product-events-local"  # scripts/lib/suite.py creates it at start
ERASURE = "erasure_completed"  # names a person whose rows go (docs/analytics.md)
PULL_BATCH = 500
PULL_TIMEOUT_S = 3.0  # an empty subscription answers after this long: drained
FOLLOW_PAUSE_S = 1.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The event contract (docs/analytics.md, "Catalogue"): every field of a message, and the
# properties each event may carry with the values each may take (a type, or the allowed words).
FIELDS = (
    "event_id",
    "event_name",
    "schema_version",
    "event_time",
    "ingest_time",
    "person_id",
    "app_version",
    "platform",
    "properties",
)
Allowed = type | frozenset[str]
STRICTNESS = frozenset({"easy", "harder", "hardcore"})
CATALOGUE: dict[str, dict[str, Allowed]] = {
    "app_opened": {},
    "session_completed": {
        "strictness": STRICTNESS,
        "outcome": frozenset({"completed", "cancelled"}),
        "planned_minutes": int,
        "focused_minutes": int,
    },
    "day_merged": {
        "screen_time_minutes": int,
        "pickups": int,
        "focused_minutes": int,
        "met_goal": bool,
        "score": int,
    },
    "emergency_pass_used": {},
    "block_changed": {
        "kind": frozenset({"schedule", "timeLimit", "appLock"}),
        "strictness": STRICTNESS,
        "change": frozenset({"created", "updated", "deleted"}),
    },
    "entitlement_changed": {"pro": bool, "store": str, "state": str},
    "notification_sent": {"kind": str},
    "insight_rated": {
        "rating": frozenset({"up", "down"}),
        "source": frozenset({"model", "cache", "fallback"}),
    },
    "erasure_completed": {},
}
PLATFORMS = frozenset({"ios", "android", "macos", "web"})
MAX_WORD = 40  # an enum-like string property; anything longer is free text, which is refused


class OffContract(ValueError):
    """A message that is not a product event of the contract."""


def _unwrap(value: Any) -> Any:
    """Avro's JSON encoding of a union value (``{"string": "ios"}``) as the plain value."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in ("string", "int", "long", "boolean"):
            return inner
    return value


def _time(name: str, value: Any) -> str:
    """A contract time (RFC 3339 text, or Avro timestamp-micros) as RFC 3339 UTC microseconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        moment = EPOCH + timedelta(microseconds=value)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise OffContract(f"{name} is not a time: {value!r}") from exc
        if moment.tzinfo is None:
            raise OffContract(f"{name} has no time zone: {value!r}")
    else:
        raise OffContract(f"{name} is not a time: {value!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(name: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise OffContract(f"{name} is not text: {value!r}")
    return value


def _properties(event_name: str, value: Any) -> dict[str, Any]:
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise OffContract("properties is not a JSON object")
    allowed = CATALOGUE[event_name]
    unknown = set(parsed) - set(allowed)
    if unknown:
        raise OffContract(f"{event_name} carries unknown properties {sorted(unknown)}")
    for key, rule in allowed.items():
        item = parsed.get(key)
        if item is None:
            continue  # a property may be unknown (null or absent), never something else
        if isinstance(rule, frozenset):
            ok = isinstance(item, str) and item in rule
        elif rule is int:
            ok = isinstance(item, int) and not isinstance(item, bool)
        elif rule is str:
            ok = isinstance(item, str) and len(item) <= MAX_WORD and " " not in item
        else:
            ok = isinstance(item, rule)
        if not ok:
            raise OffContract(f"{event_name}.{key} = {item!r} is not allowed")
    return dict(parsed)


def check(data: bytes) -> dict[str, Any]:
    """The event a message carries, normalised (times as RFC 3339 UTC with microseconds,
    properties as compact JSON text), or OffContract saying why it is not one."""
    try:
        message = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OffContract(f"not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise OffContract("not a JSON object")
    message = {key: _unwrap(value) for key, value in message.items()}
    missing = [
        name for name in FIELDS if name not in message and name not in ("app_version", "platform")
    ]
    if missing:
        raise OffContract(f"missing {', '.join(missing)}")
    name = _text("event_name", message["event_name"])
    if name not in CATALOGUE:
        raise OffContract(f"unknown event {name!r}")
    version = message["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise OffContract(f"schema_version is not a version: {version!r}")
    platform = _text("platform", message.get("platform"), optional=True)
    if platform is not None and platform not in PLATFORMS:
        raise OffContract(f"unknown platform {platform!r}")
    properties = _properties(name, message["properties"])
    return {
        "event_id": _text("event_id", message["event_id"]),
        "event_name": name,
        "schema_version": version,
        "event_time": _time("event_time", message["event_time"]),
        "ingest_time": _time("ingest_time", message["ingest_time"]),
        "person_id": _text("person_id", message["person_id"]),
        "app_version": _text("app_version", message.get("app_version"), optional=True),
        "platform": platform,
        "properties": json.dumps(properties, separators=(",", ":"), sort_keys=True),
    }


@dataclass(frozen=True)
class Added:
    new: int  # events kept
    late: int  # events of people already erased: not kept
    deleted: int  # rows of people erased by a new erasure_completed: deleted


@dataclass
class Store:
    """The JSON-lines files: what is kept, which event ids they already hold, and who was erased."""

    folder: Path = field(default_factory=lambda: EVENTS)
    seen: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        rows = list(self.rows())
        self.seen = {row["event_id"] for row in rows}
        self.erased = {row["person_id"] for row in rows if row["event_name"] == ERASURE}

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.jsonl"))

    def rows(self) -> Iterator[dict[str, Any]]:
        for path in self.files():
            with path.open() as lines:
                for line in lines:
                    if line.strip():
                        yield json.loads(line)

    def add(self, events: Iterable[dict[str, Any]]) -> Added:
        """Append the events whose ids are new (durably, before anything is acknowledged), then
        delete the rows of each person a new ``erasure_completed`` names."""
        new, late = [], 0
        for event in events:
            if event["event_id"] in self.seen:
                continue
            if event["person_id"] in self.erased and event["event_name"] != ERASURE:
                late += 1  # published before the erasure, delivered after it
                continue
            self.seen.add(event["event_id"])
            new.append(event)
        if new:
            self.folder.mkdir(parents=True, exist_ok=True)
            day = datetime.now(UTC).date().isoformat()
            _append(self.folder / f"{day}.jsonl", new)
        erased = {e["person_id"] for e in new if e["event_name"] == ERASURE} - self.erased
        self.erased |= erased
        deleted = sum(self.forget(person_id) for person_id in sorted(erased))
        return Added(new=len(new), late=late, deleted=deleted)

    def forget(self, person_id: str) -> int:
        """Rewrite every file without the person's rows but an ``erasure_completed`` (the count
        of erasures, as in the warehouse); how many were deleted."""
        deleted = 0
        for path in self.files():
            with path.open() as lines:
                rows = [json.loads(line) for line in lines if line.strip()]
            kept = [
                row for row in rows if row["person_id"] != person_id or row["event_name"] == ERASURE
            ]
            if len(kept) != len(rows):
                deleted += len(rows) - len(kept)
                temporary = path.with_suffix(".tmp")
                _append(temporary, kept)
                temporary.replace(path)
        self.seen = {row["event_id"] for row in self.rows()}
        return deleted


def _append(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("a") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
        out.flush()
        os.fsync(out.fileno())


@dataclass
class Counts:
    pulled: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    erased: int = 0

    def __str__(self) -> str:
        erased = f", {self.erased} rows of erased people deleted" if self.erased else ""
        return (
            f"{self.pulled} pulled: {self.new} new, {self.duplicates} already kept, "
            f"{self.rejected} rejected{erased}"
        )


def project() -> str:
    for variable in ("GCLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT"):
        if os.environ.get(variable):
            return os.environ[variable]
    return str(json.loads((ROOT / ".firebaserc").read_text())["projects"]["default"])


class Collector:
    def __init__(self, project_id: str, store: Store) -> None:
        from google.cloud import pubsub_v1

        self.store = store
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.topic = self.publisher.topic_path(project_id, TOPIC)
        self.subscription = self.subscriber.subscription_path(project_id, SUBSCRIPTION)

    def ensure_subscription(self) -> None:
        from google.api_core import exceptions

        with contextlib.suppress(exceptions.AlreadyExists):
            self.publisher.create_topic(name=self.topic)
        with contextlib.suppress(exceptions.AlreadyExists):
            self.subscriber.create_subscription(
                request={"name": self.subscription, "topic": self.topic, "ack_deadline_seconds": 60}
            )

    def pull_once(self, counts: Counts) -> int:
        """One pull: keep the new events, reject the others, acknowledge all; how many came."""
        from google.api_core import exceptions

        try:
            response = self.subscriber.pull(
                request={"subscription": self.subscription, "max_messages": PULL_BATCH},
                timeout=PULL_TIMEOUT_S,
                retry=None,
            )
        except exceptions.DeadlineExceeded:
            return 0
        received = list(response.received_messages)
        if not received:
            return 0
        events, rejected = [], []
        for item in received:
            try:
                events.append(check(item.message.data))
            except OffContract as exc:
                rejected.append(
                    {
                        "reason": str(exc),
                        "messageId": item.message.message_id,
                        "data": item.message.data.decode(errors="replace"),
                    }
                )
        added = self.store.add(events)
        if rejected:
            STORE.mkdir(parents=True, exist_ok=True)
            _append(REJECTED, rejected)
        # Acknowledged only once kept: a crash before this redelivers, and the ids deduplicate.
        self.subscriber.acknowledge(
            request={"subscription": self.subscription, "ack_ids": [r.ack_id for r in received]}
        )
        counts.pulled += len(received)
        counts.new += added.new
        counts.duplicates += len(events) - added.new - added.late
        counts.rejected += len(rejected)
        counts.erased += added.late + added.deleted
        return len(received)

    def drain(self, counts: Counts) -> None:
        while self.pull_once(counts):
            pass


def load_into_duckdb() -> str:
    """Bring events.duckdb's raw_events up to the JSON lines (new ids only), with the analytics
    venv's Python; what happened, in words."""
    if not ANALYTICS_PYTHON.exists():
        return f"no {ANALYTICS_PYTHON.relative_to(ROOT)}: events kept as JSON lines only"
    result = subprocess.run(
        [str(ANALYTICS_PYTHON), str(LOADER), "load", str(EVENTS), str(DATABASE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"loading {DATABASE} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def forget_in_duckdb(person_id: str) -> str:
    if not ANALYTICS_PYTHON.exists() or not DATABASE.exists():
        return "no local DuckDB store"
    result = subprocess.run(
        [str(ANALYTICS_PYTHON), str(LOADER), "forget", person_id, str(DATABASE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"deleting from {DATABASE} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/analytics-collect", description=__doc__)
    parser.add_argument("--follow", action="store_true", help="keep pulling until Ctrl-C")
    parser.add_argument("--forget", metavar="PERSON_ID", help="delete a person's local rows")
    args = parser.parse_args(argv)
    store = Store()
    if args.forget:
        print(f"deleted {store.forget(args.forget)} rows from the JSON lines")
        print(forget_in_duckdb(args.forget))
        return 0
    if not os.environ.get("PUBSUB_EMULATOR_HOST"):
        print(
            "error: PUBSUB_EMULATOR_HOST is not set: this collects from the local emulator only\n"
            "       (scripts/dev prints it; production events go to BigQuery).",
            file=sys.stderr,
        )
        return 2
    collector = Collector(project(), store)
    collector.ensure_subscription()
    counts = Counts()
    try:
        collector.drain(counts)
        print(counts, flush=True)
        while args.follow:
            before = counts.pulled
            collector.drain(counts)
            if counts.pulled != before:
                print(counts, flush=True)
                print(load_into_duckdb(), flush=True)
            time.sleep(FOLLOW_PAUSE_S)
    except KeyboardInterrupt:
        print(counts)
    print(load_into_duckdb())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

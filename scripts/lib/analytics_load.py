"""The local DuckDB store of product events, run by the analytics venv's Python (it has duckdb;
the dev venv does not): scripts/lib/analytics_collect.py calls it.

  analytics_load.py load EVENTS_FOLDER DATABASE     add the JSON lines' events not yet in
                                                    raw_events (by event_id)
  analytics_load.py forget PERSON_ID DATABASE       delete a person's rows

``raw_events`` has the contract's columns (docs/analytics.md), the same as BigQuery's
``analytics.events``: times are TIMESTAMP in UTC, ``properties`` is the JSON object's text.

Every load ends with the warehouse's erasure delete (infra/terraform/sql/delete-erased-people.sql):
the rows of each person an ``erasure_completed`` event names go, that event stays. Here at once
and over every row: the local store has no partition filter to satisfy and no streaming buffer
to wait for, which is all the production statement's time bounds are for.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

CREATE = """
CREATE TABLE IF NOT EXISTS raw_events (
    event_id VARCHAR NOT NULL,
    event_name VARCHAR NOT NULL,
    schema_version INTEGER NOT NULL,
    event_time TIMESTAMP NOT NULL,
    ingest_time TIMESTAMP NOT NULL,
    person_id VARCHAR NOT NULL,
    app_version VARCHAR,
    platform VARCHAR,
    properties VARCHAR NOT NULL
)
"""
# Every line read as text, times parsed from RFC 3339 UTC, one row per event id.
LOAD = """
INSERT INTO raw_events BY NAME
SELECT
    event_id,
    event_name,
    CAST(schema_version AS INTEGER) AS schema_version,
    strptime(event_time, '%Y-%m-%dT%H:%M:%S.%fZ') AS event_time,
    strptime(ingest_time, '%Y-%m-%dT%H:%M:%S.%fZ') AS ingest_time,
    person_id,
    app_version,
    platform,
    properties
FROM read_json(?, format = 'newline_delimited', columns = {
    'event_id': 'VARCHAR', 'event_name': 'VARCHAR', 'schema_version': 'BIGINT',
    'event_time': 'VARCHAR', 'ingest_time': 'VARCHAR', 'person_id': 'VARCHAR',
    'app_version': 'VARCHAR', 'platform': 'VARCHAR', 'properties': 'VARCHAR'
})
WHERE event_id NOT IN (SELECT event_id FROM raw_events)
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ingest_time) = 1
"""
ERASURE = "erasure_completed"
DELETE_ERASED_PEOPLE = f"""
DELETE FROM raw_events
WHERE event_name != '{ERASURE}'
  AND person_id IN (SELECT person_id FROM raw_events WHERE event_name = '{ERASURE}')
"""


def load(events: Path, database: Path) -> str:
    files = sorted(str(path) for path in events.glob("*.jsonl"))
    with duckdb.connect(str(database)) as db:
        db.execute(CREATE)
        if not files:
            return f"{database.name}: no events yet"
        before = _count(db)
        db.execute(LOAD, [files])
        loaded = _count(db)
        db.execute(DELETE_ERASED_PEOPLE)
        after = _count(db)
    erased = f", {loaded - after} of erased people deleted" if loaded != after else ""
    return f"{database.name}: raw_events {after} rows ({loaded - before} added{erased})"


def forget(person_id: str, database: Path) -> str:
    """Delete a person's rows but an ``erasure_completed`` (as the warehouse's delete does)."""
    with duckdb.connect(str(database)) as db:
        db.execute(CREATE)
        before = _count(db)
        db.execute(
            "DELETE FROM raw_events WHERE person_id = ? AND event_name != ?", [person_id, ERASURE]
        )
        after = _count(db)
    return f"{database.name}: deleted {before - after} rows"


def _count(db: duckdb.DuckDBPyConnection) -> int:
    row = db.execute("SELECT count(*) FROM raw_events").fetchone()
    return int(row[0]) if row else 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "load":
        print(load(Path(argv[1]), Path(argv[2])))
        return 0
    if len(argv) == 3 and argv[0] == "forget":
        print(forget(argv[1], Path(argv[2])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

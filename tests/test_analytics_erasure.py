"""An erased person's analytics rows go, in the warehouse and in the local store (docs/analytics.md,
"Pseudonymisation and erasure"): the erasure publishes ``erasure_completed`` naming the person, and
every other row of that person is deleted; the erasure row stays (the count of erasures).

Pure: no emulator. The warehouse's statement (infra/terraform/sql/delete-erased-people.sql, run
monthly by BigQuery) is run on DuckDB with its BigQuery time functions spelt in DuckDB and "now"
fixed; the local collector (scripts/lib/analytics_collect.py) and its DuckDB loader
(scripts/lib/analytics_load.py, through the analytics venv that has duckdb) are run on temporary
folders.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))
import analytics_collect  # noqa: E402 - scripts/lib is not a package

ANALYTICS_PYTHON = ROOT / ".local" / "analytics-venv" / "bin" / "python"
LOADER = ROOT / "scripts" / "lib" / "analytics_load.py"
WAREHOUSE_DELETE = ROOT / "infra" / "terraform" / "sql" / "delete-erased-people.sql"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

needs_duckdb = pytest.mark.skipif(
    not ANALYTICS_PYTHON.exists(), reason=f"{ANALYTICS_PYTHON} is missing: run scripts/setup"
)

# Runs SQL on a DuckDB file with the analytics venv's duckdb and prints raw_events' rows as JSON:
#   python -c RUN DATABASE [SQL]   (no SQL: only read)
RUN = """
import json, sys, duckdb
with duckdb.connect(sys.argv[1]) as db:
    if len(sys.argv) > 2:
        db.execute(sys.argv[2])
    rows = db.execute(
        "select event_id, event_name, person_id, event_time from raw_events order by event_id"
    ).fetchall()
print(json.dumps([[i, n, p, t.isoformat()] for i, n, p, t in rows]))
"""


def event(event_id: str, person: str, at: datetime, name: str = "app_opened") -> dict[str, Any]:
    """A product event as the collector keeps it (the contract's fields, RFC 3339 UTC times)."""
    moment = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "event_id": event_id,
        "event_name": name,
        "schema_version": 1,
        "event_time": moment,
        "ingest_time": moment,
        "person_id": person,
        "app_version": "3.1.0",
        "platform": "ios",
        "properties": "{}",
    }


def erasure(event_id: str, person: str, at: datetime) -> dict[str, Any]:
    return event(event_id, person, at, "erasure_completed")


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def run(database: Path, sql: str | None = None) -> set[str]:
    """The event ids left in ``database``'s raw_events after ``sql``."""
    result = subprocess.run(
        [str(ANALYTICS_PYTHON), "-c", RUN, str(database), *([sql] if sql else [])],
        capture_output=True,
        text=True,
        check=True,
    )
    return {row[0] for row in json.loads(result.stdout)}


def load(folder: Path, database: Path) -> str:
    result = subprocess.run(
        [str(ANALYTICS_PYTHON), str(LOADER), "load", str(folder), str(database)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def in_duckdb(statement: str, now: datetime) -> str:
    """The warehouse's statement for the local table: BigQuery's table name and its
    ``TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL n DAY)``, the only BigQuery-only spellings in
    it, in DuckDB's words, with "now" fixed."""
    fixed = f"TIMESTAMP '{now.replace(tzinfo=None).isoformat(sep=' ')}'"
    translated = re.sub(
        r"TIMESTAMP_SUB\(CURRENT_TIMESTAMP\(\), INTERVAL (\d+) DAY\)",
        rf"({fixed} - INTERVAL \1 DAY)",
        statement.replace("analytics.events", "raw_events"),
    )
    assert "TIMESTAMP_SUB" not in translated and "CURRENT_TIMESTAMP" not in translated
    return translated


# --- The warehouse: the monthly scheduled query ------------------------------------------------


@needs_duckdb
def test_the_monthly_delete_removes_every_row_of_people_erased_before_yesterday(
    tmp_path: Path,
) -> None:
    rows = [
        # Ada: a year of events, erased ten days ago.
        event("ada-open-old", "ada", ago(days=400)),
        event("ada-session", "ada", ago(days=30), "session_completed"),
        event("ada-open", "ada", ago(days=11)),
        erasure("ada-erased", "ada", ago(days=10)),
        # Bob: never erased; his rows stay.
        event("bob-open-old", "bob", ago(days=500)),
        event("bob-open", "bob", ago(hours=2)),
        # Cy: erased two hours ago: the next run deletes his rows (streaming buffer, late events).
        event("cy-open", "cy", ago(days=3)),
        erasure("cy-erased", "cy", ago(hours=2)),
    ]
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    warehouse = tmp_path / "warehouse.duckdb"
    _insert(folder, warehouse)
    assert run(warehouse) == {row["event_id"] for row in rows}
    statement = WAREHOUSE_DELETE.read_text()

    left = run(warehouse, in_duckdb(statement, NOW))

    assert left == {"ada-erased", "bob-open-old", "bob-open", "cy-open", "cy-erased"}
    # A month later Cy's erasure is more than a day old: his rows go too.
    assert run(warehouse, in_duckdb(statement, NOW + timedelta(days=31))) == {
        "ada-erased",
        "bob-open-old",
        "bob-open",
        "cy-erased",
    }
    # The local store, which deletes as it loads, holds exactly that at once.
    local = tmp_path / "local.duckdb"
    load(folder, local)
    assert run(local) == run(warehouse)


def _insert(folder: Path, database: Path) -> None:
    """The JSON lines of ``folder`` as raw_events of ``database``, as the BigQuery subscription
    writes them (the loader's insert, without its delete)."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[3]); import duckdb, analytics_load\n"
        "with duckdb.connect(sys.argv[1]) as db:\n"
        "    db.execute(analytics_load.CREATE)\n"
        "    db.execute(analytics_load.LOAD, [[sys.argv[2]]])\n"
    )
    subprocess.run(
        [
            *(str(ANALYTICS_PYTHON), "-c", script, str(database)),
            *(str(folder / "rows.jsonl"), str(LOADER.parent)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )


# --- Locally: the collector and its DuckDB store ------------------------------------------------


def test_the_collector_deletes_an_erased_person_s_rows_and_keeps_none_that_arrive_later(
    tmp_path: Path,
) -> None:
    store = analytics_collect.Store(folder=tmp_path / "events")
    first = store.add(
        [
            event("ada-open", "ada", ago(days=2)),
            event("ada-session", "ada", ago(days=1), "session_completed"),
            event("bob-open", "bob", ago(days=1)),
        ]
    )

    erased = store.add([erasure("ada-erased", "ada", ago(hours=1))])
    late = store.add(
        [event("ada-late", "ada", ago(hours=3)), event("bob-late", "bob", ago(hours=3))]
    )

    assert (first.new, erased.new, erased.deleted) == (3, 1, 2)
    assert (late.new, late.late) == (1, 1)
    kept = {row["event_id"] for row in store.rows()}
    assert kept == {"ada-erased", "bob-open", "bob-late"}
    # A collector started afresh knows who was erased from the files alone.
    assert analytics_collect.Store(folder=tmp_path / "events").erased == {"ada"}


@needs_duckdb
def test_loading_an_erasure_deletes_the_person_s_rows_already_in_the_duckdb_store(
    tmp_path: Path,
) -> None:
    folder, database = tmp_path / "events", tmp_path / "events.duckdb"
    store = analytics_collect.Store(folder=folder)
    store.add([event("ada-open", "ada", ago(days=2)), event("bob-open", "bob", ago(days=2))])
    load(folder, database)
    assert run(database) == {"ada-open", "bob-open"}

    store.add([erasure("ada-erased", "ada", ago(hours=1))])
    said = load(folder, database)

    assert run(database) == {"ada-erased", "bob-open"}
    assert said == "events.duckdb: raw_events 2 rows (1 added, 1 of erased people deleted)"

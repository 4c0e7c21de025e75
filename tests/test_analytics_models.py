"""The dbt models of product analytics (analytics/, docs/analytics-models.md), built on DuckDB from
the seeded events the way scripts/analytics-report builds them: the marts say what the events say,
and the report is written.

Pure: no emulator. One `dbt build` (models, data tests, unit tests) on a temporary DuckDB file,
through the analytics venv that scripts/setup installs (.local/analytics-venv). The expected figures
are counted here, in Python, from the same seeded events (scripts/lib/analytics_seed.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import iac
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))
import analytics_seed  # noqa: E402 - scripts/lib is not a package

ANALYTICS_PYTHON = ROOT / ".local" / "analytics-venv" / "bin" / "python"
DBT = ROOT / ".local" / "analytics-venv" / "bin" / "dbt"
PROJECT = ROOT / "analytics"
MARTS = [
    "active_people_daily",
    "retention_cohorts",
    "session_completion_by_strictness",
    "focus_minutes_per_active_person",
    "emergency_pass_rate",
    "pro_conversion_and_churn",
]
# Every mart as JSON rows (dates as ISO strings), read by the analytics venv's duckdb.
DUMP = """
import json, sys, duckdb
with duckdb.connect(sys.argv[1], read_only=True) as db:
    marts = {}
    for name in sys.argv[2:]:
        cursor = db.execute(f"select * from analytics.{name}")
        columns = [c[0] for c in cursor.description]
        marts[name] = [dict(zip(columns, row)) for row in cursor.fetchall()]
print(json.dumps(marts, default=str))
"""

pytestmark = pytest.mark.skipif(
    not ANALYTICS_PYTHON.exists(), reason=f"{ANALYTICS_PYTHON} is missing: run scripts/setup"
)


class Built:
    def __init__(self, folder: Path, output: str, marts: dict[str, list[dict[str, Any]]]) -> None:
        self.folder = folder
        self.output = output
        self.marts = marts

    def row(self, mart: str, **key: Any) -> dict[str, Any]:
        (found,) = [r for r in self.marts[mart] if all(r[k] == v for k, v in key.items())]
        return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    folder = tmp_path_factory.mktemp("analytics")
    events = folder / "events.duckdb"
    report = subprocess.run(
        [
            *(str(ANALYTICS_PYTHON), str(ROOT / "scripts" / "lib" / "analytics_report.py")),
            *("--seed", "--events", str(events), "--report", str(folder / "report.html")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stdout[-4000:] + report.stderr[-4000:]
    dump = subprocess.run(
        [str(ANALYTICS_PYTHON), "-c", DUMP, str(events), *MARTS],
        capture_output=True,
        text=True,
        check=True,
    )
    yield Built(folder, report.stdout, json.loads(dump.stdout))


@pytest.fixture(scope="module")
def seeded() -> list[dict[str, Any]]:
    return analytics_seed.events()


def opened_on(seeded: list[dict[str, Any]]) -> dict[date, set[str]]:
    """Who opened the app on each UTC day, counted from the seeded events themselves."""
    found: dict[date, set[str]] = {}
    for event in seeded:
        if event["event_name"] == "app_opened":
            day = date.fromisoformat(event["event_time"][:10])
            found.setdefault(day, set()).add(event["person_id"])
    return found


def test_the_build_runs_every_model_data_test_and_unit_test(built: Built) -> None:
    assert "dbt build passed: 11 models, 64 tests, 10 unit tests" in built.output


def test_active_people_are_the_people_who_opened_the_app_in_the_day_week_and_month(
    built: Built, seeded: list[dict[str, Any]]
) -> None:
    opened = opened_on(seeded)
    day = date(2026, 11, 15)

    def within(days: int) -> set[str]:
        return set().union(*(opened.get(day - timedelta(n), set()) for n in range(days)))

    row = built.row("active_people_daily", activity_date=day.isoformat())

    assert row["daily_active_people"] == len(opened[day])
    assert row["weekly_active_people"] == len(within(7))
    assert row["monthly_active_people"] == len(within(30))
    assert row["full_month_observed"] is True
    # Every day of the period had someone open the app: one row per day.
    assert len(built.marts["active_people_daily"]) == len(analytics_seed.days())


def test_day_1_and_day_7_retention_are_the_shares_of_a_cohort_back_on_those_days(
    built: Built, seeded: list[dict[str, Any]]
) -> None:
    opened = opened_on(seeded)
    cohort_day = date(2026, 10, 5)
    first_days: dict[str, date] = {}
    for day in sorted(opened):
        for person in opened[day]:
            first_days.setdefault(person, day)
    cohort = {person for person, first in first_days.items() if first == cohort_day}
    back_on_day_1 = cohort & opened[cohort_day + timedelta(1)]
    back_on_day_7 = cohort & opened[cohort_day + timedelta(7)]

    row = built.row("retention_cohorts", cohort_date=cohort_day.isoformat())

    assert row["cohort_size"] == len(cohort)
    assert row["retained_day_1"] == len(back_on_day_1)
    assert row["retained_day_7"] == len(back_on_day_7)
    assert row["day_1_retention"] == round(len(back_on_day_1) / len(cohort), 4)
    # The data ends on 15 November: a cohort of 1 November has no day 30 yet.
    assert built.row("retention_cohorts", cohort_date="2026-11-01")["day_30_retention"] is None


def test_completion_by_strictness_counts_every_session_that_ended(
    built: Built, seeded: list[dict[str, Any]]
) -> None:
    sessions = [
        json.loads(e["properties"]) for e in seeded if e["event_name"] == "session_completed"
    ]
    for strictness in ("easy", "harder", "hardcore"):
        mine = [s for s in sessions if s["strictness"] == strictness]
        rows = [
            r
            for r in built.marts["session_completion_by_strictness"]
            if r["strictness"] == strictness
        ]
        assert sum(r["sessions"] for r in rows) == len(mine)
        assert sum(r["completed_sessions"] for r in rows) == sum(
            s["outcome"] == "completed" for s in mine
        )
        assert sum(r["focused_minutes"] for r in rows) == sum(s["focused_minutes"] for s in mine)


def test_pro_conversions_and_churn_count_purchases_and_lapses_not_renewals(
    built: Built, seeded: list[dict[str, Any]]
) -> None:
    states = [
        json.loads(e["properties"])["state"]
        for e in seeded
        if e["event_name"] == "entitlement_changed"
    ]
    weeks = built.marts["pro_conversion_and_churn"]

    assert "renewed" in states
    assert sum(w["people_becoming_pro"] for w in weeks) == states.count("subscribed")
    assert sum(w["people_losing_pro"] for w in weeks) == states.count("expired")
    assert weeks[-1]["pro_people_at_week_end"] == states.count("subscribed") - states.count(
        "expired"
    )


def test_emergency_passes_per_active_person_cover_every_pass(
    built: Built, seeded: list[dict[str, Any]]
) -> None:
    passes = sum(e["event_name"] == "emergency_pass_used" for e in seeded)
    weeks = built.marts["emergency_pass_rate"]

    assert sum(w["passes_used"] for w in weeks) == passes
    for week in weeks:
        assert week["passes_per_active_person"] == round(
            week["passes_used"] / week["active_people"], 4
        )


def test_the_report_is_a_page_with_its_three_charts(built: Built) -> None:
    report = built.folder / "report.html"
    page = report.read_text()

    assert f"report: {report}" in built.output
    assert page.count("<svg") == 3
    for title in ("Active people per day", "Retention", "Sessions completed, by strictness"):
        assert title in page


# --- Incremental staging: a daily run reads a few days, and gives what a full rebuild gives ------

# Rows written straight into raw_events, as the BigQuery subscription writes them: a redelivered
# message is a second row (the collector's loader would keep one; the warehouse does not).
INSERT = """
import json, sys, duckdb
with duckdb.connect(sys.argv[1]) as db:
    db.executemany(
        "insert into raw_events values (?, ?, 1, cast(? as timestamp), cast(? as timestamp),"
        " ?, null, ?, ?)",
        [[r[k] for k in ("event_id", "event_name", "event_time", "ingest_time", "person_id",
          "platform", "properties")] for r in json.loads(sys.argv[2])],
    )
"""
# The staging table and every mart, each as sorted JSON rows: what a build produced.
CONTENTS = """
import json, sys, duckdb
with duckdb.connect(sys.argv[1], read_only=True) as db:
    print(json.dumps({
        name: sorted(json.dumps(row, default=str) for row in db.execute(
            f"select * from analytics.{name}").fetchall())
        for name in sys.argv[2:]
    }))
"""


def dbt(database: Path, work: Path, *arguments: str) -> None:
    result = subprocess.run(
        [
            *(str(DBT), *arguments, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)),
            *("--target", "duckdb", "--target-path", str(work / "target")),
            *("--log-path", str(work / "logs")),
        ],
        env={
            **os.environ,
            "FOCUS_ANALYTICS_DUCKDB": str(database),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def contents(database: Path) -> dict[str, list[str]]:
    dump = subprocess.run(
        [str(ANALYTICS_PYTHON), "-c", CONTENTS, str(database), "stg_events", *MARTS],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, list[str]] = json.loads(dump.stdout)
    return result


def raw(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A seeded event as a raw_events row (times as DuckDB reads them), with ``changes``."""
    row = {**event, **changes}
    for key in ("event_time", "ingest_time"):
        row[key] = str(row[key]).replace("T", " ").removesuffix("Z")
    return row


def test_a_daily_incremental_run_with_late_and_redelivered_events_equals_a_full_rebuild(
    built: Built, seeded: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The day after the seeded period (16 November), the run of that day takes: the day's new
    events, one of them delivered twice; an event of the 14th that arrived late, on the 16th;
    and a second delivery of an event of the 14th already in stg_events. Reading only the 13th
    to the 16th (three days of lookback), it leaves stg_events and every mart as a full rebuild
    of all the events would."""
    opened = opened_on(seeded)
    regular = sorted(opened[date(2026, 11, 15)])[0]
    absent_on_14th = sorted(set().union(*opened.values()) - opened[date(2026, 11, 14)])[0]
    session_of_14th = next(
        e
        for e in seeded
        if e["event_name"] == "session_completed" and e["event_time"].startswith("2026-11-14")
    )
    opening = next(e for e in seeded if e["event_name"] == "app_opened")
    new_day = raw(
        opening,
        event_id="open-16th",
        person_id=regular,
        event_time="2026-11-16 08:00:00",
        ingest_time="2026-11-16 08:00:01",
    )
    arrivals = [
        new_day,
        raw(new_day, ingest_time="2026-11-16 08:03:00"),  # redelivered
        raw(
            opening,
            event_id="late-open-14th",
            person_id=absent_on_14th,
            event_time="2026-11-14 21:00:00",
            ingest_time="2026-11-16 07:00:00",
        ),
        raw(session_of_14th, ingest_time="2026-11-16 09:00:00"),  # redelivered two days on
    ]
    incremental, rebuilt = tmp_path / "incremental.duckdb", tmp_path / "rebuilt.duckdb"
    shutil.copy(built.folder / "events.duckdb", incremental)  # built through the 15th
    before = contents(incremental)
    subprocess.run(
        [str(ANALYTICS_PYTHON), "-c", INSERT, str(incremental), json.dumps(arrivals)], check=True
    )
    shutil.copy(incremental, rebuilt)
    (tmp_path / "daily").mkdir()
    (tmp_path / "full").mkdir()

    dbt(incremental, tmp_path / "daily", "build", "--vars", '{"run_date": "2026-11-16"}')
    dbt(rebuilt, tmp_path / "full", "run", "--full-refresh")

    after, full = contents(incremental), contents(rebuilt)
    assert after == full
    # And the run did take the new events: one more row in staging for each new event id.
    assert len(after["stg_events"]) == len(before["stg_events"]) + 2
    dau = {json.loads(r)[0]: json.loads(r)[1] for r in after["active_people_daily"]}
    dau_before = {json.loads(r)[0]: json.loads(r)[1] for r in before["active_people_daily"]}
    assert dau["2026-11-14"] == dau_before["2026-11-14"] + 1
    assert dau["2026-11-16"] == 1


def test_on_bigquery_stg_events_merges_only_the_window_s_partitions(tmp_path: Path) -> None:
    """The production target, parsed offline (no BigQuery connection): stg_events is partitioned
    by event day and clustered like analytics.events, merges by event_id with the target pruned to
    the run's window, and forgets its partitions when analytics.events does."""
    work = tmp_path
    result = subprocess.run(
        [
            *(str(DBT), "parse", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)),
            *("--target", "bigquery", "--target-path", str(work / "target")),
            *("--log-path", str(work / "logs")),
        ],
        env={
            **os.environ,
            "FOCUS_BIGQUERY_PROJECT": "focus-parse-only",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    config = manifest["nodes"]["model.focus_analytics.stg_events"]["config"]

    assert config["materialized"] == "incremental"
    assert config["incremental_strategy"] == "merge"
    assert config["unique_key"] == "event_id"
    assert config["partition_by"] == {
        "field": "event_date",
        "data_type": "date",
        "granularity": "day",
    }
    assert config["cluster_by"] == ["event_name", "person_id"]
    (predicate,) = config["incremental_predicates"]
    assert predicate.startswith("DBT_INTERNAL_DEST.event_date >= ")
    assert "datetime_add(" in predicate and "interval -3 day" in predicate  # BigQuery's words
    retention = iac.load().locals["analytics_retention_days"]
    assert config["partition_expiration_days"] == retention
    # A daily run's staging tests read the window, not the whole table.
    staging_tests = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node["original_file_path"].startswith("models/staging")
    ]
    assert staging_tests
    assert {node["config"]["where"] for node in staging_tests} == {"incremental_window"}

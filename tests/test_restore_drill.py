"""The restore drill (scripts/restore-drill): Firestore is restored into a scratch database and
the copy is counted per collection group against the source; a copy that lost or gained a
document fails the drill. On the emulator the drill really exports and imports (the Firestore
emulator's export and import endpoints, a second project id as the scratch database); on Google
Cloud it runs gcloud, whose command lines are specified here (docs/runbooks/restore.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import iac
import pytest
from conftest import device_doc, session_doc

from firebase_emulator_harness import EmulatorSuite, Firestore
from firebase_emulator_harness.firestore import FirestoreEmulator

SCRIPT = iac.ROOT / "scripts" / "restore-drill"
sys.path.insert(0, str(iac.ROOT / "scripts" / "lib"))
import restore_drill  # noqa: E402 - scripts/lib is not a package

SCRATCH = "demo-focus-restore-drill"
TODAY = datetime.now(UTC).date()


def drill(*args: str) -> subprocess.CompletedProcess[str]:
    """The drill as an operator runs it, against this test session's emulators."""
    return subprocess.run(
        [str(SCRIPT), "--emulator", *args],
        env=os.environ.copy(),  # GCLOUD_PROJECT and FIRESTORE_EMULATOR_HOST point at the suite
        capture_output=True,
        text=True,
        timeout=300,
    )


def counts(output: str) -> dict[str, tuple[int, int, str]]:
    """The drill's table: collection group -> (source, restored, verdict)."""
    table = {}
    for line in output.splitlines()[2:]:
        group, source, restored, *verdict = line.split()
        table[group] = (int(source), int(restored), " ".join(verdict))
    return table


def scratch(firebase: EmulatorSuite) -> Firestore:
    """The restored copy, as the backend would read it."""
    return FirestoreEmulator(firebase.endpoints["firestore"].url, SCRATCH).as_owner()


@pytest.fixture
def data(firebase: EmulatorSuite, triggers_off: None) -> Firestore:
    """Two people's data and the shared documents, written as the backend writes them (no
    triggers: the drill needs a source that holds still while it is exported)."""
    db = firebase.firestore.as_owner()
    for uid, sessions in (("ada", 3), ("grace", 2)):
        db.set(f"users/{uid}", {"displayName": uid.title(), "timezone": "Europe/Berlin"})
        db.set(f"users/{uid}/devices/iphone-1", device_doc())
        for n in range(sessions):
            db.set(f"users/{uid}/sessions/s{n}", session_doc(status="completed"))
        db.set(f"users/{uid}/consents/analytics", {"granted": True, "policyVersion": "2026-11"})
        db.set(f"users/{uid}/consents/analytics/history/1", {"granted": True})
    # A document that exists only as the parent of its subcollection is restored as such.
    db.set(f"communityDays/{TODAY.isoformat()}/shards/0", {"sessions": 4})
    db.set("hoursSavedShards/0", {"minutes": 90})
    db.set("config/clients", {"minimumBuild": {"ios": 400}})
    return db


def test_a_restored_copy_holds_every_document_of_every_collection_group(
    firebase: EmulatorSuite, data: Firestore
) -> None:
    result = drill("--keep")

    assert result.returncode == 0, result.stderr
    table = counts(result.stdout)
    assert table["users"] == (2, 2, "ok")
    assert table["sessions"] == (5, 5, "ok")
    assert table["history"] == (2, 2, "ok")
    assert table["shards"] == (1, 1, "ok")
    assert table["communityDays"] == (0, 0, "ok")  # a parent only: no document of its own
    assert table["total"] == (16, 16, "ok")
    # The copy is the data, not only the counts.
    assert scratch(firebase).get("users/ada/sessions/s2") == data.get("users/ada/sessions/s2")
    assert scratch(firebase).get("config/clients") == {"minimumBuild": {"ios": 400}}


def test_a_damaged_restore_fails_the_drill_and_says_where(
    firebase: EmulatorSuite, data: Firestore
) -> None:
    assert drill("--keep").returncode == 0
    # The copy loses a session and gains a stray device (a restore from the wrong moment).
    scratch(firebase).delete("users/grace/sessions/s1")
    scratch(firebase).set("users/nobody/devices/ipad", device_doc())

    result = drill("--verify-only")

    assert result.returncode == 1, result.stderr
    table = counts(result.stdout)
    assert table["sessions"] == (5, 4, "MISSING 1")
    assert table["devices"] == (2, 3, "EXTRA 1")
    assert table["users"] == (2, 2, "ok")
    assert table["total"] == (16, 16, "ok")  # a total alone would not have shown it


def test_the_drill_leaves_no_copy_behind_unless_asked(
    firebase: EmulatorSuite, data: Firestore
) -> None:
    assert drill().returncode == 0

    assert scratch(firebase).query("users") == []
    # ... and re-running the drill starts from an empty scratch database, never adding up.
    assert drill("--keep").returncode == 0
    assert counts(drill("--verify-only").stdout)["total"] == (16, 16, "ok")


def test_the_drill_never_uses_the_source_as_its_scratch_database() -> None:
    result = drill("--scratch-project", os.environ.get("GCLOUD_PROJECT", "demo-focus"))

    assert result.returncode == 2
    assert "must not be the source" in result.stderr


# -- Google Cloud: the commands it runs (it cannot run here) --------------------------------------

NOW = datetime(2026, 11, 30, 9, 17, 23, tzinfo=UTC)


def test_a_point_in_time_drill_exports_the_database_as_it_was_into_a_new_database() -> None:
    read_time = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

    commands = restore_drill.pitr_commands(
        "focus-staging", "drill-20261129", read_time, "gs://focus-staging-drills/"
    )

    export = "gs://focus-staging-drills/restore-drill/20261129T0800Z"
    assert commands == [
        [
            "gcloud", "firestore", "databases", "create", "--project=focus-staging",
            "--database=drill-20261129", "--location=eur3",
        ],
        [
            "gcloud", "firestore", "export", export, "--project=focus-staging",
            "--database=(default)", "--snapshot-time=2026-11-29T08:00:00Z",
        ],
        [
            "gcloud", "firestore", "import", export, "--project=focus-staging",
            "--database=drill-20261129",
        ],
    ]  # fmt: skip


def test_a_backup_drill_restores_the_newest_ready_backup_of_the_default_database() -> None:
    listing = [
        {
            "name": "projects/focus-staging/locations/eur3/backups/older",
            "database": "projects/focus-staging/databases/(default)",
            "snapshotTime": "2026-11-28T03:00:00.123Z",
            "state": "READY",
        },
        {
            "name": "projects/focus-staging/locations/eur3/backups/newest",
            "database": "projects/focus-staging/databases/(default)",
            "snapshotTime": "2026-11-29T03:00:00Z",
            "state": "READY",
        },
        {
            "name": "projects/focus-staging/locations/eur3/backups/running",
            "database": "projects/focus-staging/databases/(default)",
            "snapshotTime": "2026-11-30T03:00:00Z",
            "state": "CREATING",
        },
        {
            "name": "projects/focus-staging/locations/eur3/backups/elsewhere",
            "database": "projects/focus-staging/databases/drill-20261101",
            "snapshotTime": "2026-11-30T04:00:00Z",
            "state": "READY",
        },
    ]

    backup = restore_drill.latest_backup(listing, "focus-staging")

    assert backup.name.endswith("/backups/newest")
    assert backup.snapshot_time == datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    assert restore_drill.list_backups_command("focus-staging") == [
        "gcloud", "firestore", "backups", "list", "--project=focus-staging",
        "--location=eur3", "--format=json",
    ]  # fmt: skip
    assert restore_drill.restore_command("focus-staging", "drill-20261129", "newest") == [
        "gcloud", "firestore", "databases", "restore", "--project=focus-staging",
        "--source-backup=projects/focus-staging/locations/eur3/backups/newest",
        "--destination-database=drill-20261129", "--format=value(name)",
    ]  # fmt: skip
    assert restore_drill.delete_command("focus-staging", "drill-20261129") == [
        "gcloud", "firestore", "databases", "delete", "--project=focus-staging",
        "--database=drill-20261129", "--quiet",
    ]  # fmt: skip


def test_a_backup_taken_between_two_whole_minutes_is_held_against_the_source_at_both() -> None:
    """PITR reads whole minutes only; a backup's snapshot time rarely is one."""
    snapshot = datetime(2026, 11, 29, 3, 0, 0, 123000, tzinfo=UTC)
    assert restore_drill.whole_minutes_around(snapshot) == (
        datetime(2026, 11, 29, 3, 0, tzinfo=UTC),
        datetime(2026, 11, 29, 3, 1, tzinfo=UTC),
    )
    at_3_00, at_3_01 = {"sessions": 5, "users": 2}, {"sessions": 7, "users": 2}

    within = restore_drill.compare(at_3_00, {"sessions": 6, "users": 2}, at_3_01)
    short = restore_drill.compare(at_3_00, {"sessions": 4, "users": 2}, at_3_01)
    over = restore_drill.compare(at_3_00, {"sessions": 8, "users": 2}, at_3_01)

    assert [(r.group, r.source, r.verdict) for r in within] == [
        ("sessions", "5-7", "ok"),
        ("users", "2", "ok"),
    ]
    assert restore_drill.matches(within)
    assert [r.verdict for r in short] == ["MISSING 1", "ok"] and not restore_drill.matches(short)
    assert [r.verdict for r in over] == ["EXTRA 1", "ok"] and not restore_drill.matches(over)


@pytest.mark.parametrize(
    ("read_time", "why"),
    [
        (NOW - timedelta(hours=1, seconds=30), "whole minutes"),
        (NOW.replace(second=0) + timedelta(minutes=5), "not in the past"),
        (NOW.replace(second=0) - timedelta(days=8), "older than"),
    ],
)
def test_a_restore_point_outside_point_in_time_recovery_is_refused(
    read_time: datetime, why: str
) -> None:
    with pytest.raises(restore_drill.DrillError, match=why):
        restore_drill.check_read_time(read_time.replace(microsecond=0), NOW)


@pytest.mark.parametrize("name", ["(default)", "Drill", "dr", "drill_1", "1drill", "drill-"])
def test_the_scratch_database_is_a_new_database_never_the_live_one(name: str) -> None:
    with pytest.raises(restore_drill.DrillError, match="never"):
        restore_drill.check_scratch_name(name)
    restore_drill.check_scratch_name("drill-20261129")  # what a drill uses


def test_a_drill_on_google_cloud_shows_its_commands_without_running_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    read_time = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)

    status = restore_drill.main(
        [
            "--project=focus-staging",
            "--database-scratch=drill-1",
            f"--read-time={read_time:%Y-%m-%dT%H:%M:%SZ}",
            "--bucket=gs://focus-staging-drills",
            "--dry-run",
        ]
    )

    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["gcloud", "firestore", "databases"],
        ["gcloud", "firestore", "export"],
        ["gcloud", "firestore", "import"],
    ]

"""Schema evolution: profiles v1 -> v2 (``settings.weekStartsOn``), read in both versions meanwhile,
and ``scripts/migrate`` upgrading stored documents in resumable, atomic batches, as an operator
runs it (a subprocess against the emulator)."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import envelope

from firebase_emulator_harness import EmulatorSuite, User, assert_allowed, assert_denied
from focus.domain.locales import first_day_of_week, region_of
from focus.domain.profiles import PROFILE_SCHEMA_VERSION, Profile, new_profile, upgrade_from_v1
from focus_tools import migrations

ROOT = Path(__file__).resolve().parents[1]
NAME = "0001_profile_week_start"
CREATED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MONDAY, SATURDAY, SUNDAY = 1, 6, 7


def v1_profile(locale: str = "en-US", **settings: Any) -> dict[str, Any]:
    """A profile as launch wrote it before v2."""
    return {
        "schemaVersion": 1,
        "createdAt": CREATED,
        "displayName": "Ada",
        "settings": {
            "timezone": "America/New_York",
            "locale": locale,
            "dayStartHour": 4,
            "dailyGoalMinutes": 120,
        }
        | settings,
        "stats": {"completedSessions": 3, "focusedMinutes": 95},
    }


# -- the upgrade and the readers (pure) ---------------------------------------------------------
@pytest.mark.parametrize(
    ("locale", "region", "first_day"),
    [
        ("en-US", "US", SUNDAY),
        ("en_US", "US", SUNDAY),  # as iOS and Android report it
        ("de-DE", "DE", MONDAY),
        ("en-GB", "GB", MONDAY),
        ("zh-Hant-TW", "TW", SUNDAY),
        ("ar-EG", "EG", SATURDAY),
        ("es-419", "419", MONDAY),  # Latin America as a whole: no single calendar
        ("en", None, MONDAY),  # no region: ISO 8601
        ("en-u-fw-sun", None, MONDAY),  # extensions are not regions
    ],
)
def test_the_week_starts_on_the_day_the_locales_region_starts_it(
    locale: str, region: str | None, first_day: int
) -> None:
    assert region_of(locale) == region
    assert first_day_of_week(locale) == first_day


def test_upgrading_a_v1_profile_adds_the_week_start_and_changes_nothing_else() -> None:
    old = v1_profile("en-US")

    new = upgrade_from_v1(old)

    assert new == {
        **old,
        "schemaVersion": 2,
        "settings": {**old["settings"], "weekStartsOn": SUNDAY},
    }
    assert old == v1_profile("en-US")  # pure: the input is not modified


def test_the_upgrade_keeps_a_week_start_a_new_app_already_wrote_to_a_v1_profile() -> None:
    assert upgrade_from_v1(v1_profile("en-US", weekStartsOn=3))["settings"]["weekStartsOn"] == 3


def test_readers_see_a_v1_and_a_v2_profile_alike() -> None:
    old = v1_profile("ar-EG")

    read_old = Profile.model_validate(old)
    read_new = Profile.model_validate(upgrade_from_v1(old))

    assert read_old == read_new
    assert read_old.schema_version == PROFILE_SCHEMA_VERSION == 2
    assert read_old.settings.week_starts_on == SATURDAY


def test_a_settings_map_an_old_app_rewrote_without_the_week_start_still_reads_with_one() -> None:
    # During the rollout an app from before v2 may replace `settings` whole on a v2 profile.
    rewritten = {**upgrade_from_v1(v1_profile("en-US")), "settings": {"locale": "en-CA"}}

    assert Profile.model_validate(rewritten).settings.week_starts_on == SUNDAY


def test_new_profiles_are_written_at_v2_with_the_week_start_of_the_devices_locale() -> None:
    stored = new_profile(now=CREATED, timezone="Asia/Tokyo", locale="ja-JP").to_firestore()

    assert stored["schemaVersion"] == 2
    assert stored["settings"]["weekStartsOn"] == SUNDAY


def test_every_migration_moves_one_version_and_is_named_after_its_module() -> None:
    declared = migrations.all_migrations()

    assert NAME in declared
    assert list(declared) == sorted(declared)
    for migration in declared.values():
        if isinstance(migration, migrations.Migration):
            assert migration.to_version == migration.from_version + 1
        else:  # a backfill moves no version
            assert (migration.from_version, migration.to_version) == (None, None)
    with pytest.raises(KeyError, match="no migration named"):
        migrations.get("9999_nothing")


# -- the runner, through the emulator -----------------------------------------------------------
def migrate(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """scripts/migrate as an operator runs it, against this test session's emulators."""
    return subprocess.run(
        [str(ROOT / "scripts" / "migrate"), *args],
        env=os.environ.copy(),  # GCLOUD_PROJECT and FIRESTORE_EMULATOR_HOST point at the suite
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


def run_json(*args: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(migrate("run", NAME, "--json", *args).stdout)
    return answer


def seed(firebase: EmulatorSuite, old: int, current: int) -> None:
    """``old`` v1 profiles (locales alternating US / DE) and ``current`` v2 ones whose owners
    chose Wednesday; ids sort so that the two kinds interleave."""
    owner = firebase.firestore.as_owner()
    docs = [(f"users/u{n:05d}", v1_profile("en-US" if n % 2 else "de-DE")) for n in range(old)]
    docs += [
        (f"users/u{n * 21:05d}x", upgrade_from_v1(v1_profile(weekStartsOn=3)))
        for n in range(current)
    ]
    with firebase.functions.background_triggers_disabled(), ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda doc: owner.set(*doc), docs))


def profiles(firebase: EmulatorSuite) -> dict[str, dict[str, Any]]:
    return dict(firebase.firestore.as_owner().query("users"))


def update_times() -> dict[str, datetime]:
    from focus.adapters import clients

    return {
        s.reference.path: s.update_time for s in clients.firestore().collection("users").stream()
    }


def progress(firebase: EmulatorSuite) -> dict[str, Any] | None:
    return firebase.firestore.as_owner().get(f"migrations/{NAME}")


def test_a_dry_run_reports_what_would_change_and_writes_nothing(firebase: EmulatorSuite) -> None:
    seed(firebase, old=120, current=10)
    before = update_times()

    answer = run_json("--dry-run")

    assert (answer["dryRun"], answer["scannedNow"], answer["upgradedNow"]) == (True, 130, 120)
    assert "settings -> " in answer["examples"][0] and len(answer["examples"]) == 3
    assert update_times() == before
    assert progress(firebase) is None  # not even progress


def test_an_interrupted_run_resumes_and_upgrades_every_document_exactly_once(
    firebase: EmulatorSuite,
) -> None:
    seed(firebase, old=1050, current=50)
    current_before = {p: t for p, t in update_times().items() if p.endswith("x")}

    first = migrate("run", NAME, "--batch-size", "100", "--limit", "450")
    stopped = progress(firebase) or {}
    second = migrate("run", NAME, "--batch-size", "100")
    done = progress(firebase) or {}

    assert "stopped (run again to resume)" in first.stdout
    assert stopped["scanned"] == 450 and "finishedAt" not in stopped
    assert stopped["cursor"] == sorted(profiles(firebase))[449]
    assert "finished" in second.stdout and "docs/s" in second.stderr  # the progress bar
    assert {k: done[k] for k in ("scanned", "upgraded", "current", "unexpected", "conflicts")} == {
        "scanned": 1100,
        "upgraded": 1050,  # counted once each, across both runs
        "current": 50,
        "unexpected": 0,
        "conflicts": 0,
    }
    assert done["finishedAt"] >= done["startedAt"]
    stored = profiles(firebase)
    assert {p["schemaVersion"] for p in stored.values()} == {2}
    assert stored["users/u00001"]["settings"]["weekStartsOn"] == SUNDAY  # en-US
    assert stored["users/u00002"]["settings"]["weekStartsOn"] == MONDAY  # de-DE
    assert stored["users/u00001"]["stats"] == v1_profile()["stats"]
    # Documents already at v2 were never written: their owners' choice and update time are kept.
    assert {p: t for p, t in update_times().items() if p.endswith("x")} == current_before
    assert all(stored[p]["settings"]["weekStartsOn"] == 3 for p in current_before)


def test_running_a_finished_migration_again_does_nothing(firebase: EmulatorSuite) -> None:
    seed(firebase, old=30, current=0)
    run_json()
    before, finished = update_times(), progress(firebase)

    again = run_json()

    assert again["alreadyFinished"] is True and again["scannedNow"] == 0
    assert update_times() == before and progress(firebase) == finished


def test_an_app_write_during_a_batch_is_kept_and_the_batch_retried(
    firebase: EmulatorSuite,
) -> None:
    from focus.adapters import clients, store
    from focus_tools import migrations_runner

    seed(firebase, old=5, current=0)
    migration = migrations.get(NAME)
    page = store.query(migrations_runner.SCANS[NAME], None, limit=5)
    start = migrations_runner.MigrationProgress(
        name=NAME, collection="users", from_version=1, to_version=2,
        started_at=datetime.now(UTC), updated_at=datetime.now(UTC),
    )  # fmt: skip
    # A device of a new app version changes its settings after the page was read.
    firebase.firestore.as_owner().update(
        "users/u00003", {"settings.weekStartsOn": 4, "settings.dailyGoalMinutes": 45}
    )

    committed = migrations_runner.upgrade_page(migration, page, start, dry_run=False)

    assert (committed.upgraded, committed.conflicts) == (5, 1)
    stored = clients.firestore().document("users/u00003").get().to_dict() or {}
    assert stored["schemaVersion"] == 2
    assert stored["settings"]["weekStartsOn"] == 4 and stored["settings"]["dailyGoalMinutes"] == 45


def test_the_command_line_lists_migrations_shows_status_and_refuses_oversized_batches(
    firebase: EmulatorSuite,
) -> None:
    assert NAME in migrate("list").stdout
    assert migrate("status", NAME).stdout.strip() == "null"
    oversized = migrate("run", NAME, "--batch-size", "500", check=False)
    assert oversized.returncode == 2 and "1..499" in oversized.stderr
    unknown = migrate("run", "9999_nothing", check=False)
    assert unknown.returncode == 2 and "no migration named" in unknown.stderr


def test_launch_serves_a_v1_profile_as_v2_before_the_migration_has_run(
    firebase: EmulatorSuite, user: User
) -> None:
    with firebase.functions.background_triggers_disabled():
        firebase.firestore.as_owner().set(f"users/{user.uid}", v1_profile("en-US"))

    answer = firebase.functions.call("launch", envelope(), user=user).unwrap()

    assert answer["data"]["profile"]["settings"]["weekStartsOn"] == SUNDAY
    stored = firebase.firestore.as_owner().get(f"users/{user.uid}") or {}
    assert stored["schemaVersion"] == 1  # reading does not write; the migration will


# -- rules during the rollout -------------------------------------------------------------------
def test_old_and_new_app_versions_may_both_edit_settings_during_the_rollout(
    firebase: EmulatorSuite, user: User
) -> None:
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}"

    # A new app sets the week start; an old one edits a field, or rewrites the map without it.
    assert_allowed(lambda: db.update(path, {"settings.weekStartsOn": 3}))
    assert_allowed(lambda: db.update(path, {"settings.dailyGoalMinutes": 60}))
    assert_allowed(lambda: db.update(path, {"settings": {"locale": "en-US", "timezone": "UTC"}}))
    for invalid in (0, 8, "monday"):
        assert_denied(lambda v=invalid: db.update(path, {"settings.weekStartsOn": v}))


def test_migration_progress_is_server_only(firebase: EmulatorSuite, user: User) -> None:
    firebase.firestore.as_owner().set(f"migrations/{NAME}", {"schemaVersion": 1, "scanned": 1})
    db = firebase.firestore.as_user(user)

    assert_denied(lambda: db.get(f"migrations/{NAME}"))
    assert_denied(lambda: db.set(f"migrations/{NAME}", {"scanned": 0}))
    assert_denied(lambda: db.query("migrations"))


# -- sweep shards: a backfill of documents without a version ------------------------------------
SHARD_BACKFILLS = (
    "0002_day_changes_sweep_shard",
    "0003_outbox_sweep_shard",
    "0004_push_tokens_sweep_shard",
)


def test_a_persons_sweep_shard_is_a_stable_hash_that_spreads_people_evenly() -> None:
    from focus.domain import sweep_shards

    # CRC-32, not Python's salted hash(): the same in every process and release.
    assert [sweep_shards.shard_of(uid) for uid in ("ada", "grace", "uid-ada")] == [0, 3, 4]
    counts = [0] * sweep_shards.SHARDS
    for n in range(8_000):
        counts[sweep_shards.shard_of(f"user-{n}")] += 1
    assert min(counts) > 900 and max(counts) < 1_100


def test_the_backfill_gives_a_document_its_owners_shard_and_leaves_one_that_has_it() -> None:
    from focus.domain import sweep_shards

    backfill = migrations.get("0003_outbox_sweep_shard")
    entry = {"kind": "sync", "state": "pending"}

    assert backfill.outcome("users/ada/outbox/e1", entry) == {**entry, "sweepShard": 0}
    assert backfill.outcome("users/grace/outbox/e1", entry) == {**entry, "sweepShard": 3}
    assert backfill.outcome("users/ada/outbox/e1", {**entry, "sweepShard": 0}) == "current"
    assert entry == {"kind": "sync", "state": "pending"}  # pure
    for name in SHARD_BACKFILLS:
        declared = migrations.get(name)
        assert isinstance(declared, migrations.Backfill) and declared.field == sweep_shards.FIELD


def test_documents_written_before_the_sweep_shards_are_swept_once_backfilled(
    firebase: EmulatorSuite, user: User
) -> None:
    """The rollout (docs/data-model.md, "Sweep shards"): the sweeps read shard by shard, so a
    document written before the writers set its shard waits for the backfill, then is found."""
    from datetime import timedelta

    from focus.adapters import sweeps
    from focus.domain import sweep_shards
    from focus.domain.outbox import EntryState
    from focus.services import days, outbox, push_tokens

    now = datetime.now(UTC)
    hour_ago, month_ago = now - timedelta(hours=1), now - push_tokens.STALE_AFTER - timedelta(1)
    legacy: dict[str, dict[str, Any]] = {
        "dayChanges/c1": {"days": ["2026-11-01"], "createdAt": hour_ago},
        "outbox/sync-1": {"kind": "sync", "state": "pending", "dueAt": hour_ago},
        "pushTokens/old-ipad": {"token": "t-1", "platform": "ios", "refreshedAt": month_ago},
    }
    owner = firebase.firestore.as_owner()
    with firebase.functions.background_triggers_disabled():
        for path, data in legacy.items():
            owner.set(f"users/{user.uid}/{path}", data)

    def swept() -> dict[str, bool]:
        pending = [EntryState.PENDING.value, now - outbox.SWEEP_AFTER]
        return {
            "dayChanges": user.uid in days.left_behind(now - timedelta(minutes=5)),
            "outbox": any(uid == user.uid for uid, _ in sweeps.owned(outbox.OVERDUE, pending, page=50)),
            "pushTokens": any(t.uid == user.uid for t in push_tokens.stale(now - push_tokens.STALE_AFTER)),
        }  # fmt: skip

    assert swept() == {"dayChanges": False, "outbox": False, "pushTokens": False}

    for name in SHARD_BACKFILLS:
        migrate("run", name)

    assert swept() == {"dayChanges": True, "outbox": True, "pushTokens": True}
    for path in legacy:
        stored = owner.get(f"users/{user.uid}/{path}") or {}
        assert stored["sweepShard"] == sweep_shards.shard_of(user.uid)

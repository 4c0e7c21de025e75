"""scripts/restore-drill: restore Firestore into a scratch database, then prove nothing is missing.

A drill, not a recovery: the source database is only read. The restored copy is counted per
collection group (every collection of the personal-data registry, plus any other top-level
collection found) and compared with the source as it was at the restore point; any difference
fails the drill. docs/runbooks/restore.md says when and how to run it.

    scripts/restore-drill --emulator [--scratch-project ID] [--keep] [--verify-only]
        The running emulator's data (FIRESTORE_EMULATOR_HOST, GCLOUD_PROJECT): exported with the
        emulator's export endpoint, imported into a scratch project (the emulator imports only
        into a project's default database, so a second project id is the scratch database).

    scripts/restore-drill --project P --database-scratch NAME --read-time T --bucket gs://B
        Point-in-time recovery: `gcloud firestore export --snapshot-time=T` of (default), imported
        into the new database NAME.
    scripts/restore-drill --project P --database-scratch NAME [--backup ID]
        A scheduled backup (default: the newest) restored with `gcloud firestore databases
        restore` into the new database NAME.
        Both: application default credentials; the source is counted as it was at the restore
        point (a PITR read), the scratch database is deleted afterwards unless --keep (it holds
        personal data). --dry-run prints the gcloud commands without running anything.

Exit status: 0 when every collection group has as many documents in the restored copy as in the
source, 1 when one differs, 2 when the drill could not run (bad arguments, a failed command, a
source that changed while it was exported).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tables import format_table

from focus.services.privacy.registry import REGISTRY

DEFAULT_DATABASE = "(default)"
LOCATION = "eur3"  # infra/terraform: var.firestore_location
# Terraform enables point-in-time recovery: 7 days of versions, readable at any whole minute.
PITR_WINDOW = timedelta(days=7)
EXPORT_NAME = "restore-drill"
OPERATION_POLL_S = 10.0
HTTP_TIMEOUT_S = 120.0
_SCRATCH_NAME = re.compile(r"[a-z][a-z0-9-]{2,61}[a-z0-9]")


class DrillError(Exception):
    """The drill could not run; the message says why (exit status 2)."""


# -- counting and comparing (both targets) --------------------------------------------------------


def registered_groups() -> list[str]:
    """The collection ids of the personal-data registry: every collection the backend writes."""
    return list(dict.fromkeys(entry.collection for entry in REGISTRY))


def collection_groups(*found: Iterable[str]) -> list[str]:
    """The registry's groups, then any other top-level collection found in either database."""
    groups = registered_groups()
    extra = sorted({name for names in found for name in names} - set(groups))
    return groups + extra


def top_level_collections(db: Any, read_time: datetime | None = None) -> list[str]:
    collections = db.collections(read_time=read_time) if read_time else db.collections()
    return [collection.id for collection in collections]


def count_documents(
    db: Any, groups: Sequence[str], read_time: datetime | None = None
) -> dict[str, int]:
    """Documents per collection group (every depth), one aggregation query per group; with
    ``read_time``, as the database was then (a PITR read)."""
    counts = {}
    for group in groups:
        query = db.collection_group(group).count(alias="documents")
        result = query.get(read_time=read_time) if read_time else query.get()
        counts[group] = int(result[0][0].value)
    return counts


@dataclass(frozen=True)
class GroupCount:
    """A collection group's documents in the source and in the restored copy. A restore point
    between two whole minutes (a backup's snapshot time) cannot be read exactly: the source is
    then counted at both minutes and the copy must lie between (``low`` to ``high``)."""

    group: str
    low: int
    high: int
    restored: int

    @property
    def verdict(self) -> str:
        if self.restored < self.low:
            return f"MISSING {self.low - self.restored}"
        if self.restored > self.high:
            return f"EXTRA {self.restored - self.high}"
        return "ok"

    @property
    def source(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


def compare(
    source: Mapping[str, int],
    restored: Mapping[str, int],
    source_a_minute_later: Mapping[str, int] | None = None,
) -> list[GroupCount]:
    later = source if source_a_minute_later is None else source_a_minute_later
    rows = []
    for group in dict.fromkeys([*source, *restored]):
        low, high = sorted((source.get(group, 0), later.get(group, 0)))
        rows.append(GroupCount(group, low, high, restored.get(group, 0)))
    return rows


def report(rows: Sequence[GroupCount]) -> str:
    total = GroupCount(
        "total",
        sum(r.low for r in rows),
        sum(r.high for r in rows),
        sum(r.restored for r in rows),
    )
    cells = [[r.group, r.source, str(r.restored), r.verdict] for r in [*rows, total]]
    return format_table(["collection group", "source", "restored", ""], cells, align="lrrl")


def matches(rows: Sequence[GroupCount]) -> bool:
    return all(row.verdict == "ok" for row in rows)


def say(message: str) -> None:
    print(f"restore-drill: {message}", file=sys.stderr, flush=True)


# -- on the emulator ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Emulator:
    """The Firestore emulator's own export and import endpoints (what `firebase emulators:export`
    and `--import` use): an export is the same format a production export writes."""

    host: str  # FIRESTORE_EMULATOR_HOST

    def _post(self, path: str, body: dict[str, str]) -> None:
        import requests

        response = requests.post(f"http://{self.host}{path}", json=body, timeout=HTTP_TIMEOUT_S)
        if response.status_code != 200:
            raise DrillError(f"emulator {path}: {response.status_code} {response.text.strip()}")

    def export(self, project: str, directory: Path) -> Path:
        """Export the project's default database under ``directory``; its metadata file."""
        self._post(
            f"/emulator/v1/projects/{project}:export",
            {
                "database": f"projects/{project}/databases/{DEFAULT_DATABASE}",
                "export_directory": str(directory),
                "export_name": EXPORT_NAME,
            },
        )
        metadata = directory / EXPORT_NAME / f"{EXPORT_NAME}.overall_export_metadata"
        if not metadata.is_file():
            raise DrillError(f"the emulator wrote no export metadata at {metadata}")
        return metadata

    def import_into(self, project: str, metadata: Path) -> None:
        """Import an export into ``project``'s default database (named databases are not
        imported into by the emulator: it answers OK and stores nothing)."""
        self._post(
            f"/emulator/v1/projects/{project}:import",
            {
                "database": f"projects/{project}/databases/{DEFAULT_DATABASE}",
                "export_directory": str(metadata),
            },
        )

    def clear(self, project: str) -> None:
        import requests

        response = requests.delete(
            f"http://{self.host}/emulator/v1/projects/{project}/databases/{DEFAULT_DATABASE}/documents",
            timeout=HTTP_TIMEOUT_S,
        )
        if response.status_code != 200:
            raise DrillError(f"clearing {project}: {response.status_code} {response.text}")


def firestore_client(project: str, database: str = DEFAULT_DATABASE) -> Any:
    from google.cloud import firestore

    return firestore.Client(project=project, database=database)


def emulator_drill(
    emulator: Emulator, source: str, scratch: str, *, restore: bool
) -> list[GroupCount]:
    """Count ``source``; with ``restore``, export it and import the export into the cleared
    ``scratch`` project; then count the scratch copy and compare. The source is counted before
    and after its export: if it changed meanwhile there is nothing to compare with (DrillError)."""
    source_db, scratch_db = firestore_client(source), firestore_client(scratch)
    source_counts = count_documents(source_db, collection_groups(top_level_collections(source_db)))
    if restore:
        with tempfile.TemporaryDirectory(prefix="restore-drill-") as directory:
            say(f"exporting {source} from the emulator at {emulator.host}")
            metadata = emulator.export(source, Path(directory))
            after = collection_groups(top_level_collections(source_db))
            if count_documents(source_db, after) != source_counts:
                raise DrillError(f"{source} changed while it was exported: run the drill again")
            say(f"importing the export into the scratch project {scratch}")
            emulator.clear(scratch)
            emulator.import_into(scratch, metadata)
    found = collection_groups(top_level_collections(scratch_db))
    source_counts |= count_documents(source_db, [g for g in found if g not in source_counts])
    return compare(source_counts, count_documents(scratch_db, list(source_counts)))


def run_on_emulator(args: argparse.Namespace) -> int:
    host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if not host:
        raise DrillError("--emulator needs FIRESTORE_EMULATOR_HOST (scripts/dev prints it)")
    source = os.environ.get("GCLOUD_PROJECT") or "demo-focus"
    scratch = args.scratch_project or f"{source}-restore-drill"
    if scratch == source:
        raise DrillError("the scratch project must not be the source project")
    emulator = Emulator(host)
    rows = emulator_drill(emulator, source, scratch, restore=not args.verify_only)
    print(report(rows))
    if args.keep or args.verify_only:
        say(f"the restored copy stays in the emulator project {scratch}")
    else:
        emulator.clear(scratch)
    return 0 if matches(rows) else 1


# -- on Google Cloud ------------------------------------------------------------------------------

Command = list[str]


def check_scratch_name(name: str) -> None:
    if name == DEFAULT_DATABASE or not _SCRATCH_NAME.fullmatch(name):
        raise DrillError(
            f"--database-scratch {name!r}: a new database id (4-63 of a-z, 0-9, -; starting "
            "with a letter), never (default)"
        )


def check_read_time(read_time: datetime, now: datetime) -> None:
    """A PITR restore point: a whole minute, in the past, inside the 7-day window."""
    if read_time.second or read_time.microsecond:
        raise DrillError(f"--read-time {read_time.isoformat()}: PITR reads whole minutes only")
    if read_time >= now:
        raise DrillError(f"--read-time {read_time.isoformat()} is not in the past")
    if now - read_time > PITR_WINDOW:
        raise DrillError(
            f"--read-time {read_time.isoformat()} is older than point-in-time recovery keeps "
            f"({PITR_WINDOW.days} days)"
        )


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def firestore_command(*args: str) -> Command:
    return ["gcloud", "firestore", *args]


def pitr_commands(project: str, scratch: str, read_time: datetime, bucket: str) -> list[Command]:
    """Create the scratch database, export (default) as it was at ``read_time``, import it."""
    uri = f"{bucket.rstrip('/')}/{EXPORT_NAME}/{read_time.astimezone(UTC):%Y%m%dT%H%MZ}"
    where = f"--project={project}"
    snapshot = f"--snapshot-time={rfc3339(read_time)}"
    return [
        firestore_command(
            "databases", "create", where, f"--database={scratch}", f"--location={LOCATION}"
        ),
        firestore_command("export", uri, where, f"--database={DEFAULT_DATABASE}", snapshot),
        firestore_command("import", uri, where, f"--database={scratch}"),
    ]


def list_backups_command(project: str) -> Command:
    return firestore_command(
        "backups", "list", f"--project={project}", f"--location={LOCATION}", "--format=json"
    )


def backup_name(project: str, backup: str) -> str:
    """A backup id or its full name, as its full name."""
    if backup.startswith("projects/"):
        return backup
    return f"projects/{project}/locations/{LOCATION}/backups/{backup}"


def restore_command(project: str, scratch: str, backup: str) -> Command:
    """Restore a backup into the new scratch database; prints the long-running operation."""
    source = f"--source-backup={backup_name(project, backup)}"
    return firestore_command(
        "databases", "restore", f"--project={project}", source,
        f"--destination-database={scratch}", "--format=value(name)",
    )  # fmt: skip


def operation_command(project: str, scratch: str, operation: str) -> Command:
    return firestore_command(
        "operations", "describe", operation, f"--project={project}", f"--database={scratch}",
        "--format=json",
    )  # fmt: skip


def delete_command(project: str, scratch: str) -> Command:
    return firestore_command(
        "databases", "delete", f"--project={project}", f"--database={scratch}", "--quiet"
    )


@dataclass(frozen=True)
class Backup:
    name: str
    snapshot_time: datetime


def _timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def latest_backup(listing: Sequence[Mapping[str, Any]], project: str) -> Backup:
    """The newest ready backup of the (default) database in a `backups list --format=json`."""
    source = f"projects/{project}/databases/{DEFAULT_DATABASE}"
    ready = [
        Backup(str(b["name"]), _timestamp(str(b["snapshotTime"])))
        for b in listing
        if b.get("state") == "READY" and b.get("database") == source and b.get("snapshotTime")
    ]
    if not ready:
        raise DrillError(f"no ready backup of {source} in {LOCATION}")
    return max(ready, key=lambda b: b.snapshot_time)


def find_backup(listing: Sequence[Mapping[str, Any]], project: str, backup: str) -> Backup:
    wanted = backup_name(project, backup)
    for entry in listing:
        if entry.get("name") == wanted and entry.get("snapshotTime"):
            return Backup(wanted, _timestamp(str(entry["snapshotTime"])))
    raise DrillError(f"no backup {wanted}")


Runner = Callable[[Command], str]


def run_command(command: Command) -> str:
    """Run a gcloud command, its progress on stderr; its standard output."""
    say("$ " + shlex.join(command))
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise DrillError(f"{shlex.join(command[:4])} failed (exit status {result.returncode})")
    return result.stdout


def wait_for_operation(run: Runner, project: str, scratch: str, operation: str) -> None:
    while True:
        state = json.loads(run(operation_command(project, scratch, operation)))
        if state.get("error"):
            raise DrillError(f"{operation}: {state['error']}")
        if state.get("done"):
            return
        time.sleep(OPERATION_POLL_S)


def whole_minutes_around(moment: datetime) -> tuple[datetime, datetime]:
    """The whole minutes a PITR read can use at or just before and at or just after ``moment``."""
    before = moment.replace(second=0, microsecond=0)
    return before, before if before == moment else before + timedelta(minutes=1)


def gcp_verify(project: str, scratch: str, restore_point: datetime) -> list[GroupCount]:
    """The scratch database now against (default) as it was at ``restore_point``, read with
    PITR (whole minutes only: a point between two is bracketed by both)."""
    before, after = whole_minutes_around(restore_point)
    if after > datetime.now(UTC):
        raise DrillError("the restore point is less than a minute old: run the drill again")
    source_db, scratch_db = firestore_client(project), firestore_client(project, scratch)
    groups = collection_groups(
        top_level_collections(source_db, before), top_level_collections(scratch_db)
    )
    source = count_documents(source_db, groups, before)
    later = count_documents(source_db, groups, after) if after != before else None
    return compare(source, count_documents(scratch_db, groups), later)


def run_on_gcp(args: argparse.Namespace, run: Runner = run_command) -> int:
    """The drill on Google Cloud; ``run`` runs one gcloud command and returns its output."""
    project, scratch = args.project, args.database_scratch
    check_scratch_name(scratch)
    now = datetime.now(UTC)
    if args.read_time is not None:
        read_time = _timestamp(args.read_time)
        check_read_time(read_time, now)
        if not args.bucket and not args.verify_only:
            raise DrillError("a --read-time drill exports through Cloud Storage: name --bucket")
        restore = (
            [] if args.verify_only else pitr_commands(project, scratch, read_time, args.bucket)
        )
        if args.dry_run:
            print("\n".join(shlex.join(command) for command in restore))
            return 0
    else:
        if args.dry_run:
            backup = backup_name(project, args.backup or "<newest READY backup>")
            print(shlex.join(list_backups_command(project)))
            print(shlex.join(restore_command(project, scratch, backup)))
            print(shlex.join(operation_command(project, scratch, "<operation>")))
            return 0
        listing = json.loads(run(list_backups_command(project)))
        chosen = find_backup(listing, project, args.backup) if args.backup else None
        chosen = chosen or latest_backup(listing, project)
        read_time = chosen.snapshot_time
        if now - whole_minutes_around(read_time)[0] > PITR_WINDOW:
            raise DrillError(
                f"{chosen.name} is older than the PITR window: the source cannot be counted as "
                "it was then; drill with a newer backup"
            )
        restore = [] if args.verify_only else [restore_command(project, scratch, chosen.name)]
    created = False  # only a database this run created is deleted
    try:
        for command in restore:
            output = run(command)
            created = True  # the first command creates the scratch database
            if command[:4] == firestore_command("databases", "restore"):
                wait_for_operation(run, project, scratch, output.strip())
        rows = gcp_verify(project, scratch, read_time)
        print(f"restore point {rfc3339(read_time)}")
        print(report(rows))
    finally:
        if created and not args.keep:
            run(delete_command(project, scratch))
        else:
            say(f"database {scratch} kept: it holds personal data, delete it when done:")
            say("$ " + shlex.join(delete_command(project, scratch)))
    return 0 if matches(rows) else 1


# -- the command line -----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--emulator", action="store_true", help="drill on the running emulator")
    target.add_argument("--project", help="the Google Cloud project whose (default) is drilled")
    p.add_argument("--scratch-project", help="emulator: the scratch project id")
    p.add_argument("--database-scratch", help="GCP: the new database to restore into")
    p.add_argument("--read-time", help="GCP: the PITR restore point, RFC 3339, a whole minute")
    p.add_argument("--bucket", help="GCP, with --read-time: gs://bucket for the export")
    p.add_argument("--backup", help="GCP: the backup id to restore (default: the newest)")
    p.add_argument("--keep", action="store_true", help="keep the restored copy afterwards")
    p.add_argument(
        "--verify-only",
        action="store_true",
        help="restore nothing: compare an existing restored copy with the source",
    )
    p.add_argument("--dry-run", action="store_true", help="GCP: print the commands only")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.emulator:
            return run_on_emulator(args)
        if not args.database_scratch:
            raise DrillError("--project needs --database-scratch NAME (a new database)")
        if args.read_time is not None and args.backup is not None:
            raise DrillError("--read-time (PITR) and --backup are two kinds of drill: name one")
        return run_on_gcp(args)
    except DrillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

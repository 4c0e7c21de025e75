"""scripts/migrate: list, run (resumably, with a progress bar) and inspect schema migrations.

The engine is focus_tools.migrations_runner; this is the operator's command line around it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, TextIO

from focus_tools import migrations
from focus_tools import migrations_runner as runner
from focus_tools.migrations_runner import Outcome

BAR_WIDTH = 30
LOG_EVERY_S = 2.0  # when stderr is not a terminal, a progress line at most this often


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        return _list()
    if not choose_target(args.project):
        return 2
    try:
        migration = migrations.get(args.name)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.command == "status":
        progress = runner.status(migration)
        print(json.dumps(_jsonable(progress.to_firestore()) if progress else None, indent=2))
        return 0

    stored = None if args.restart else runner.status(migration)
    finished = stored is not None and stored.finished_at is not None
    total = stored.scanned if stored and finished else runner.estimate_total(migration)
    bar = ProgressBar(total, stored.scanned if stored else 0)
    outcome = runner.run(
        migration,
        dry_run=args.dry_run,
        batch_size=args.batch_size,
        limit=args.limit,
        restart=args.restart,
        on_batch=lambda p: bar.update(
            p.scanned, f"upgraded {p.upgraded:,}  current {p.current:,}", p.finished_at is not None
        ),
    )
    bar.close()
    if args.json:
        summary = {
            "dryRun": outcome.dry_run,
            "alreadyFinished": outcome.already_finished,
            "scannedNow": outcome.scanned_now,
            "upgradedNow": outcome.upgraded_now,
            "progress": _jsonable(outcome.progress.to_firestore()),
            "examples": outcome.examples,
        }
        print(json.dumps(summary, indent=2))
    else:
        print(_summary(outcome, bar.rate()))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/migrate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every migration, in order")
    for name, text in (("run", "apply a migration"), ("status", "a migration's stored progress")):
        command = commands.add_parser(name, help=text)
        command.add_argument("name")
        command.add_argument("--project", help="the Firebase project (needed outside the emulator)")
    run = commands.choices["run"]
    run.add_argument("--dry-run", action="store_true", help="read and report; write nothing")
    run.add_argument(
        "--batch-size",
        type=_batch_size,
        default=runner.DEFAULT_BATCH,
        help=f"documents per atomic batch, 1..{runner.MAX_BATCH} (default {runner.DEFAULT_BATCH})",
    )
    run.add_argument("--limit", type=positive, help="stop after scanning this many documents")
    run.add_argument("--restart", action="store_true", help="scan again from the beginning")
    run.add_argument("--json", action="store_true", help="print the outcome as JSON")
    return parser


def _batch_size(text: str) -> int:
    # A batch also writes the progress document, and Firestore commits at most 500 writes.
    size = int(text)
    if not 1 <= size <= runner.MAX_BATCH:
        raise argparse.ArgumentTypeError(f"must be 1..{runner.MAX_BATCH}, not {size}")
    return size


def positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _list() -> int:
    for migration in migrations.all_migrations().values():
        scope = "collection group" if migration.collection_group else "collection"
        print(f"{migration.name}  ({scope} {migration.collection}) {migration.description}")
    return 0


def choose_target(project: str | None) -> bool:
    """Point the clients at the emulator or at production, and say which, before anything runs."""
    emulator = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if project:
        os.environ["GCLOUD_PROJECT"] = project
    if emulator:
        project = os.environ.get("GCLOUD_PROJECT") or "demo-focus"
        os.environ["GCLOUD_PROJECT"] = project
        print(f"target: Firestore emulator {emulator}, project {project}", file=sys.stderr)
        return True
    if not project:
        print(
            "error: FIRESTORE_EMULATOR_HOST is not set; to run against production, name the "
            "project: --project <id> (credentials: gcloud auth application-default login)",
            file=sys.stderr,
        )
        return False
    print(f"target: PRODUCTION Firestore, project {project}", file=sys.stderr)
    return True


class ProgressBar:
    """``[#####-----] 420/1,050 40%  upgraded 400  current 20  350 docs/s`` on stderr (the
    counts are the caller's: scripts/analytics-backfill shows its own).

    Redrawn in place on a terminal; in a log (not a terminal), one line every few seconds.
    """

    def __init__(self, total: int, resumed_at: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.resumed_at = resumed_at  # documents earlier runs scanned: not this run's rate
        self.scanned = resumed_at
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_line_at = 0.0

    def update(self, scanned: int, counts: str, finished: bool) -> None:
        self.scanned = scanned
        now = time.monotonic()
        if not self.tty and now - self.last_line_at < LOG_EVERY_S and not finished:
            return
        self.last_line_at = now
        total = max(self.total, scanned)  # the collection may have grown since counted
        filled = BAR_WIDTH * scanned // total if total else BAR_WIDTH
        percent = 100 * scanned // total if total else 100
        line = (
            f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {scanned:,}/{total:,} "
            f"{percent}%  {counts}  {self.rate():,.0f} docs/s"
        )
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()

    def rate(self) -> float:
        """Documents scanned per second by this invocation."""
        elapsed = time.monotonic() - self.started
        return (self.scanned - self.resumed_at) / elapsed if elapsed > 0 else 0.0

    def close(self) -> None:
        if self.tty and self.scanned != self.resumed_at:
            self.stream.write("\n")


def _summary(outcome: Outcome, rate: float) -> str:
    p = outcome.progress
    if outcome.already_finished:
        return f"{p.name}: finished {p.finished_at:%Y-%m-%d %H:%M} UTC; nothing to do (--restart to scan again)"
    if outcome.dry_run:
        lines = [
            f"{p.name}: DRY RUN, nothing written: would upgrade {outcome.upgraded_now:,} of "
            f"{outcome.scanned_now:,} documents scanned"
        ]
        lines += [f"  e.g. {example}" for example in outcome.examples]
        return "\n".join(lines)
    state = "finished" if p.finished_at else "stopped (run again to resume)"
    return (
        f"{p.name}: {state}: this run scanned {outcome.scanned_now:,} and upgraded "
        f"{outcome.upgraded_now:,} ({rate:,.0f} docs/s); in all scanned {p.scanned:,}, "
        f"upgraded {p.upgraded:,}, current {p.current:,}, unexpected {p.unexpected:,}, "
        f"conflicts {p.conflicts:,}"
    )


def _jsonable(data: dict[str, Any]) -> Any:
    """Datetimes as ISO strings."""
    return json.loads(json.dumps(data, default=lambda value: value.isoformat()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

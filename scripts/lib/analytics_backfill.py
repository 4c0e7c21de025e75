"""scripts/analytics-backfill: publish the product events the sessions and days already stored
state (docs/analytics.md, "History"), resumably, with a progress bar on stderr and a summary on
stdout.

The engine is focus_tools.analytics_backfill; this is the operator's command line around it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import structlog
from migrate import ProgressBar, choose_target, positive  # type: ignore[import-not-found]
from pydantic.alias_generators import to_camel

from focus.adapters import clients, logs
from focus_tools import analytics_backfill as backfill
from focus_tools.analytics_backfill import BackfillProgress, Outcome


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not choose_target(args.project) or not _ready(args.dry_run):
        return 2
    stored = None if args.restart else backfill.status()
    finished = stored is not None and stored.finished_at is not None
    total = stored.scanned if stored and finished else backfill.estimate_total()
    bar = ProgressBar(total, stored.scanned if stored else 0)
    try:
        outcome = backfill.run(
            dry_run=args.dry_run,
            limit=args.limit,
            restart=args.restart,
            on_page=lambda p: bar.update(p.scanned, _counts(p), p.finished_at is not None),
        )
    except backfill.PublishingFailed as exc:
        bar.close()
        print(
            f"error: Pub/Sub did not take a page of events ({exc}); what was published before it "
            "is saved: run again to resume",
            file=sys.stderr,
        )
        return 1
    bar.close()
    if args.json:
        summary = {
            "dryRun": outcome.dry_run,
            "alreadyFinished": outcome.already_finished,
            "thisRun": {to_camel(count): n for count, n in outcome.this_run().items()},
            "progress": outcome.progress.model_dump(mode="json", by_alias=True),
        }
        print(json.dumps(summary, indent=2))
    else:
        print(_summary(outcome, bar.rate()))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/analytics-backfill", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="count only: publish, write nothing")
    parser.add_argument("--limit", type=positive, help="stop after scanning this many documents")
    parser.add_argument("--restart", action="store_true", help="from the beginning, even if done")
    parser.add_argument("--project", help="the Firebase project (needed outside the emulator)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    return parser


def _ready(dry_run: bool) -> bool:
    """Events go where the documents come from, and a poison document can be logged."""
    emulated = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if emulated and not dry_run and not os.environ.get(clients.PUBSUB_EMULATOR_SETTING):
        print(
            f"error: {clients.PUBSUB_EMULATOR_SETTING} is not set: the emulator's events would "
            "go to production Pub/Sub (scripts/dev prints it)",
            file=sys.stderr,
        )
        return False
    logs.configure("analytics-backfill", stream=sys.stderr)  # stdout is the summary's
    # Warnings and errors only: on the emulators every Firestore call also logs a span line.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        logs.pseudonymous_user_id("")  # poison documents are logged with their owner's pseudonym
    except (logs.MissingPseudonymKey, logs.MalformedPseudonymKeys) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def _counts(progress: BackfillProgress) -> str:
    return (
        f"published {progress.published:,}  skipped {progress.skipped:,}  "
        f"failed {progress.failed:,}"
    )


def _summary(outcome: Outcome, rate: float) -> str:
    p, now = outcome.progress, outcome.this_run()
    if outcome.already_finished:
        return (
            f"{backfill.NAME}: finished {p.finished_at:%Y-%m-%d %H:%M} UTC; nothing to do "
            "(--restart to publish again)"
        )
    counts = (
        f"not yet a fact {now['not_yet']:,}, skipped (no consent or no key) {now['skipped']:,}, "
        f"failed {now['failed']:,}"
    )
    if outcome.dry_run:
        return (
            f"{backfill.NAME}: DRY RUN, nothing published or written: would publish "
            f"{now['published']:,} events of {now['scanned']:,} documents scanned; {counts}"
        )
    state = "finished" if p.finished_at else f"stopped in {p.stage.value} (run again to resume)"
    return (
        f"{backfill.NAME}: {state}: this run scanned {now['scanned']:,} documents and published "
        f"{now['published']:,} events ({rate:,.0f} docs/s); {counts}; in all scanned "
        f"{p.scanned:,}, published {p.published:,}, skipped {p.skipped:,}, failed {p.failed:,}"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

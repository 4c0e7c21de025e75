"""What every codebase's main.py does first: global function options and logging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from focus.adapters import clients, logs
from focus.adapters.environment import REGION, is_emulated
from focus.domain.wires import Task, lanes

if TYPE_CHECKING:
    from firebase_functions.options import RateLimits

# The Functions emulator starts one Python worker per concurrent invocation of a function and
# keeps it until the suite stops (~130 MB each); bursts of retried tasks across a test run once
# filled a 24 GB CI machine and the kernel killed the Firestore emulator. On the emulator a task
# queue therefore dispatches at most this many at once (its retries and backoff are unchanged).
EMULATED_CONCURRENT_DISPATCHES = 4


def start_codebase(codebase: str, *, secrets: Sequence[str] = (), **options: Any) -> None:
    """Set the EU region and ``options`` for every function in ``codebase`` (``secrets``: the
    Secret Manager secrets its functions read beyond the pseudonym key); configure logging;
    initialise the Admin SDK app (the SDK verifies callers' ID tokens with it before our code runs).

    ``cpu`` must be explicit wherever ``concurrency`` > 1: the SDK's default fractional CPU
    only allows one request at a time per instance.
    """
    from firebase_functions import options as fn_options

    # Each codebase runs as its own least-privilege identity (infra/terraform/iam.tf; the CLI
    # completes "name@" with the project). Secrets come from Secret Manager in production
    # (functions:secrets:set) and from each codebase's .secret.local on the emulator (written by
    # scripts/setup, never deployed); named by string, as a SecretParam object would reach the
    # manifest as an expression.
    options.setdefault("service_account", f"focus-{codebase}@")
    options["secrets"] = [logs.PSEUDONYM_KEY_SECRET, *secrets]
    fn_options.set_global_options(region=REGION, **options)
    logs.configure(codebase)
    clients.firebase_app()


def task_rate_limits(max_concurrent_dispatches: int, *, lane_of: Task | None = None) -> RateLimits:
    """A task queue's rate limits: ``max_concurrent_dispatches`` in production, at most
    ``EMULATED_CONCURRENT_DISPATCHES`` on the emulator (see there). A lane of a task (``lane_of``,
    ``focus.domain.wires.LANES``) gets its share of that on the emulator, at least one: lanes
    exist for Cloud Tasks' ceiling per queue, and on one small machine they would only start more
    workers and run more of the same person's work at once than production does."""
    from firebase_functions import options as fn_options

    if is_emulated():
        emulated = EMULATED_CONCURRENT_DISPATCHES
        if lane_of is not None:
            emulated = max(1, emulated // len(lanes(lane_of)))
        max_concurrent_dispatches = min(max_concurrent_dispatches, emulated)
    return fn_options.RateLimits(max_concurrent_dispatches=max_concurrent_dispatches)

"""What every codebase's main.py does first: global function options and logging."""

from __future__ import annotations

from typing import Any

from focus.platform import clients, logs
from focus.platform.environment import REGION

PSEUDONYM_KEY_SECRET = "USER_PSEUDONYM_KEY"


def start_codebase(codebase: str, **options: Any) -> None:
    """Set the EU region and ``options`` for every function in ``codebase``; configure logging;
    initialise the Admin SDK app (the SDK verifies callers' ID tokens with it before our code runs).

    ``cpu`` must be explicit wherever ``concurrency`` > 1: the SDK's default fractional CPU
    only allows one request at a time per instance.
    """
    from firebase_functions import options as fn_options

    # Each codebase runs as its own least-privilege identity (infra/terraform/iam.tf; the CLI
    # completes "name@" with the project) and reads the log pseudonymisation key from Secret
    # Manager (the emulator reads it from the codebase's .secret.local, written by scripts/setup).
    options.setdefault("service_account", f"focus-{codebase}@")
    options.setdefault("secrets", [PSEUDONYM_KEY_SECRET])
    fn_options.set_global_options(region=REGION, **options)
    logs.configure(codebase)
    clients.firebase_app()

"""What every codebase's main.py does first: global function options and logging."""

from __future__ import annotations

from typing import Any

from focus.platform import clients, logs
from focus.platform.environment import REGION


def start_codebase(codebase: str, **options: Any) -> None:
    """Set the EU region and ``options`` for every function in ``codebase``; configure logging;
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
    options.setdefault("secrets", [logs.PSEUDONYM_KEY_SECRET])
    fn_options.set_global_options(region=REGION, **options)
    logs.configure(codebase)
    clients.firebase_app()

"""Where we run: project id, region, emulator or production. Read from the environment once."""

from __future__ import annotations

import functools
import json
import os

# EU residency: every function runs here and Firestore is created in the EU multi-region (eur3).
REGION = "europe-west1"


@functools.cache
def project_id() -> str:
    """The Firebase project id, from whichever variable this runtime provides."""
    for var in ("GCLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT"):
        if os.environ.get(var):
            return os.environ[var]
    config = os.environ.get("FIREBASE_CONFIG", "")
    if config.startswith("{"):
        project = json.loads(config).get("projectId")
        if project:
            return str(project)
    raise RuntimeError("no project id: set GCLOUD_PROJECT (the emulator and Cloud Functions do)")


def is_emulated() -> bool:
    """True inside the Functions emulator or when tests point clients at emulators."""
    return os.environ.get("FUNCTIONS_EMULATOR") == "true" or bool(
        os.environ.get("FIRESTORE_EMULATOR_HOST")
    )


SYNC_WINDOW_SETTING = "FOCUS_SYNC_COALESCING_SECONDS"


@functools.cache
def sync_coalescing_seconds() -> int | None:
    """The local suite's shorter sync coalescing window (``FOCUS_SYNC_COALESCING_SECONDS``), so
    its tests need not wait the two minutes production coalesces for; None in production, where
    the setting is refused (docs/notifications.md)."""
    value = os.environ.get(SYNC_WINDOW_SETTING, "").strip()
    if not value:
        return None
    if not is_emulated():
        raise RuntimeError(f"{SYNC_WINDOW_SETTING} is for the emulators only")
    return int(value)

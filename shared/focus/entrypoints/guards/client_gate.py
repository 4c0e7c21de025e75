"""The upgrade gate: app builds below the minimum for their platform are asked to update.

The minimums live in the Firestore document ``config/clients`` (admins edit it; no deploy),
for example ``{"minimumBuild": {"ios": 400, "android": 310}, "updateUrl": {"ios": "https://..."}}``.
Each instance reads it at most once a minute (on the emulator, on every call, so a test or a
developer sees a change at once).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from focus.adapters import clients, paths, store
from focus.adapters.environment import is_emulated
from focus.domain.errors import FailedPrecondition, Reason

CACHE_SECONDS = 60.0

_lock = threading.Lock()
_cached: tuple[float, dict[str, Any]] | None = None


def _config() -> dict[str, Any]:
    global _cached
    with _lock:
        cached = _cached
    if cached is not None and not is_emulated() and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    snapshot = store.get(clients.firestore().document(paths.clients_config()))
    config = (snapshot.to_dict() or {}) if snapshot.exists else {}
    with _lock:
        _cached = (time.monotonic(), config)
    return config


def check(platform: str, build: int) -> None:
    config = _config()
    minimum = int((config.get("minimumBuild") or {}).get(platform, 0))
    if build < minimum:
        raise FailedPrecondition(
            "This version of the app is no longer supported; please update.",
            reason=Reason.UPGRADE_REQUIRED,
            details={
                "minimumBuild": minimum,
                "updateUrl": (config.get("updateUrl") or {}).get(platform),
            },
        )

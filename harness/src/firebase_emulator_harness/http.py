"""One HTTP session for every emulator call (keep-alive matters: tests make thousands)."""

from __future__ import annotations

import functools

import requests

OWNER = {"Authorization": "Bearer owner"}  # the emulators' admin token: bypasses security rules
TIMEOUT_S = 30


@functools.cache
def session() -> requests.Session:
    return requests.Session()

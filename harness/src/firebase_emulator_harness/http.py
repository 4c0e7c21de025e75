"""One HTTP session for every emulator call (keep-alive matters: tests make thousands)."""

from __future__ import annotations

import functools

import requests

OWNER = {"Authorization": "Bearer owner"}  # the emulators' admin token: bypasses security rules
TIMEOUT_S = 30


@functools.cache
def session() -> requests.Session:
    return requests.Session()


@functools.cache
def node_session() -> requests.Session:
    """A session for the emulators firebase-tools serves from Node (Functions, Auth).

    Node closes an idle kept-alive connection after 5 s; a request sent on it just as it
    closes is reset before the emulator reads it (seen in CI between two specs). A new
    connection per request on loopback costs well under a millisecond, so never reuse one.
    """
    fresh = requests.Session()
    fresh.headers["Connection"] = "close"
    return fresh

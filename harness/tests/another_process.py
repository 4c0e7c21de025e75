"""A harness server run in another process, as a suite runner (scripts/test) runs one: what the
tests of a control API steer from here, as tests steer the suite runner's server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from firebase_emulator_harness.local_server import LocalServer

# Serves until its standard input closes, as a suite runner serves until it stops.
SERVE = """
import sys
from firebase_emulator_harness import {server}
with {server}() as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def served_in_another_process(server: type[LocalServer]) -> Iterator[str]:
    """A ``server`` (``FcmServer``, ``PlayServer``) serving in a child process until the block
    ends; its URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(server=server.__name__)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        process.wait(timeout=10)

"""Reading our functions' JSON log lines from the emulator log that scripts/lib/suite.py writes.

The Firebase CLI prints each line a function writes to stdout prefixed with ">  "; ours are JSON
objects (focus.adapters.logs). scripts/test names the file in ``FOCUS_EMULATOR_LOG``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firebase_emulator_harness import wait_for
from focus.adapters import logs

PREFIX = ">  {"
TRACE_KEY = "logging.googleapis.com/trace"
SPAN_KEY = "logging.googleapis.com/spanId"
Line = dict[str, Any]


def log_path() -> Path:
    path = os.environ.get("FOCUS_EMULATOR_LOG")
    if not path:
        pytest.skip("FOCUS_EMULATOR_LOG is not set: run the suite through scripts/test")
    return Path(path)


def json_lines() -> list[Line]:
    """Every JSON line our functions have written so far (other output of the CLI is skipped)."""
    lines = []
    for raw in log_path().read_text(errors="replace").splitlines():
        if raw.startswith(PREFIX):
            try:
                lines.append(json.loads(raw[len(PREFIX) - 1 :]))
            except json.JSONDecodeError:
                continue  # a line still being written
    return lines


def person_requests(uid: str) -> list[Line]:
    """The request lines of every invocation done for the person so far (each function binds
    the pseudonymous user it serves)."""
    pseudonym = logs.pseudonymous_user_id(uid)
    return [
        line
        for line in json_lines()
        if line.get("message") == "request" and line.get("user") == pseudonym
    ]


def trace_id(line: Line) -> str | None:
    """The trace id of a log line (Cloud Logging's ``projects/<p>/traces/<id>``) or a span line."""
    if line.get("message") == "span":
        return str(line["traceId"])
    value = line.get(TRACE_KEY)
    return str(value).rsplit("/", 1)[-1] if value else None


def wait_for_lines(
    predicate: Callable[[Line], bool], *, count: int = 1, message: str, timeout: float = 20.0
) -> list[Line]:
    """The matching lines once at least ``count`` of them are in the log (output is asynchronous)."""

    def matching() -> list[Line] | None:
        found = [line for line in json_lines() if predicate(line)]
        return found if len(found) >= count else None

    return wait_for(matching, timeout=timeout, message=message)


def requests(function: str, trace: str) -> Callable[[Line], bool]:
    return lambda line: (
        line.get("message") == "request"
        and line.get("function") == function
        and trace_id(line) == trace
    )


def spans(trace: str) -> Callable[[Line], bool]:
    return lambda line: line.get("message") == "span" and line.get("traceId") == trace

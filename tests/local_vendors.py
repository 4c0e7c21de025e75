"""The settings that point our vendor adapters at the harness's local Vertex AI and Cloud Storage
servers, for specs of the adapters themselves (no emulator involved: they need only a project id
and the emulated environment), and a captured log to read what the adapters said.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from firebase_emulator_harness import StorageServer, VertexServer
from focus.adapters import logs, model, objects

BUCKET = "demo-focus-insight-batches"
INSIGHT = {
    "headline": "Tuesdays drift",
    "body": "Tuesday ran 1 h 10 min over your goal. A short session after lunch could help.",
    "suggestedAction": {"kind": "startFocusSession", "minutes": 25},
    "language": "en",
}


def _forget_clients() -> None:
    """Clients and settings are made once per process, under the settings of that moment: start
    from none, and leave none made under a spec module's settings."""
    for cached in (model._client, model.model_name, model.location, model._timeout_ceiling_ms):
        cached.cache_clear()
    objects._client.cache_clear()
    objects.bucket_uri.cache_clear()


@contextlib.contextmanager
def pointed_at(
    *, vertex: VertexServer | None = None, storage: StorageServer | None = None
) -> Iterator[None]:
    """The adapters talk to these local servers (and to no real Google service) inside."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GCLOUD_PROJECT", "demo-focus")
        env.setenv("FUNCTIONS_EMULATOR", "true")
        if vertex is not None:
            env.setenv(model.ENDPOINT_SETTING, vertex.url)
        if storage is not None:
            env.setenv(objects.EMULATOR_SETTING, storage.url)
        for setting in (
            model.MODEL_SETTING,
            model.LOCATION_SETTING,
            model.TIMEOUT_SETTING,
            objects.BUCKET_SETTING,
        ):
            env.delenv(setting, raising=False)
        _forget_clients()
        try:
            yield
        finally:
            _forget_clients()


def captured_log() -> io.StringIO:
    """The insights codebase's log, written to a string instead of stdout."""
    stream = io.StringIO()
    logs.configure("insights", stream=stream)
    return stream


def logged(stream: io.StringIO, message: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line.get("message") == message]

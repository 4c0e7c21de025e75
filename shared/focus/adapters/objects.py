"""Cloud Storage objects read and written as lines of text: the JSONL files of Vertex AI batch
prediction (docs/adr/0010).

``write_lines(uri, lines)`` writes an object line by line, ``read_lines(uri)`` reads it back line
by line (neither holds a whole file in memory: a job's output can hold a line per person),
``list_uris(prefix_uri)`` lists the objects under a prefix, ``delete_prefix(prefix_uri)`` deletes
them, ``bucket_uri()`` is the bucket batch files live in. URIs are ``gs://<bucket>/<name>``.

Failures are the library's (``google.api_core.exceptions``), after its own retries of what may
succeed later; a missing object is ``ObjectNotFound``.

The client is ``google.cloud.storage.Client``, made on first use and reused for the life of the
instance; the library is imported then, never at cold start.

Settings:
  ``FOCUS_INSIGHTS_BUCKET``  the bucket (``<project>-insight-batches`` unless set: Terraform
                             creates it, infra/terraform ``local.bucket_names``).

Access: production calls Cloud Storage as the runtime service account, with application default
credentials: the object permissions of ``NEEDS`` on that bucket, for ``focus_tools.permissions``.

Local endpoint: Cloud Storage has no emulator. ``STORAGE_EMULATOR_HOST`` (e.g.
``http://127.0.0.1:9193``), the library's own setting, sends every call to a server speaking the
same JSON API there (``firebase_emulator_harness.StorageServer``), without credentials; only with
the emulators, which never call Cloud Storage.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from focus.adapters import tracing
from focus.adapters.environment import is_emulated, project_id
from focus.adapters.iam import BUCKET, Need

if TYPE_CHECKING:
    from google.cloud.storage import Client

BUCKET_SETTING = "FOCUS_INSIGHTS_BUCKET"
EMULATOR_SETTING = "STORAGE_EMULATOR_HOST"  # read by google-cloud-storage itself
BUCKET_SUFFIX = "-insight-batches"
CONTENT_TYPE = "application/jsonl"

# IAM (focus_tools.permissions): object permissions on the batch bucket (named as Terraform's
# local.bucket_names names it).
_BATCHES = "insight-batches"
NEEDS = {
    "write_lines": (
        Need("storage.objects.create", BUCKET, _BATCHES, why="write a batch input file"),
        # Writing over an object deletes the old one: a task that writes its file again.
        Need("storage.objects.delete", BUCKET, _BATCHES, why="replace a batch input file"),
    ),
    "read_lines": (Need("storage.objects.get", BUCKET, _BATCHES, why="read batch predictions"),),
    "list_uris": (Need("storage.objects.list", BUCKET, _BATCHES, why="find batch output files"),),
    "delete_prefix": (
        Need("storage.objects.list", BUCKET, _BATCHES, why="find a run's batch files"),
        Need("storage.objects.delete", BUCKET, _BATCHES, why="delete a run's batch files"),
    ),
}


class ObjectNotFound(LookupError):
    """No object at ``uri``."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"no object at {uri}")
        self.uri = uri


def write_lines(uri: str, lines: Iterable[str]) -> None:
    """Write ``lines`` (each without a line break) as the object ``uri``, one per line,
    replacing any object there. The object appears whole once every line is written, or not at
    all."""
    bucket, name = _split(uri)
    # Binary: the writer then cancels the upload when the block raises (a text wrapper would
    # store what was written so far).
    with (
        tracing.span("storage.objects.insert", bucket=bucket),
        _client().bucket(bucket).blob(name).open("wb", content_type=CONTENT_TYPE) as file,
    ):
        for line in lines:
            if "\n" in line or "\r" in line:
                raise ValueError(f"a line of {uri} holds a line break")
            file.write(f"{line}\n".encode())


def read_lines(uri: str) -> Iterator[str]:
    """The lines of the object ``uri`` (without their line breaks; blank lines skipped), read a
    chunk at a time. Not a span of its own: the caller's work runs between lines."""
    from google.api_core.exceptions import NotFound

    bucket, name = _split(uri)
    try:
        with _client().bucket(bucket).blob(name).open("rt", encoding="utf-8") as file:
            for line in file:
                if stripped := line.rstrip("\r\n"):
                    yield stripped
    except NotFound:
        raise ObjectNotFound(uri) from None


def list_uris(prefix_uri: str) -> list[str]:
    """The URIs of every object whose URI starts with ``prefix_uri``, in name order."""
    bucket, prefix = _split(prefix_uri)
    with tracing.span("storage.objects.list", bucket=bucket):
        names = [blob.name for blob in _client().list_blobs(bucket, prefix=prefix)]
    return [f"gs://{bucket}/{name}" for name in names]


def delete_prefix(prefix_uri: str) -> int:
    """Delete every object whose URI starts with ``prefix_uri``; how many were deleted (one
    already gone, e.g. deleted by a concurrent run, is not counted)."""
    from google.api_core.exceptions import NotFound

    bucket, prefix = _split(prefix_uri)
    deleted = 0
    with tracing.span("storage.objects.delete", bucket=bucket):
        client = _client()
        for blob in client.list_blobs(bucket, prefix=prefix):
            try:
                blob.delete()
            except NotFound:
                continue
            deleted += 1
    return deleted


@functools.cache
def bucket_uri() -> str:
    """``gs://<bucket>`` of the bucket batch files live in."""
    name = os.environ.get(BUCKET_SETTING, "").strip() or f"{project_id()}{BUCKET_SUFFIX}"
    return f"gs://{name}"


def _split(uri: str) -> tuple[str, str]:
    """The bucket and object name (or name prefix) of ``gs://bucket/name``."""
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket:
        raise ValueError(f"not a Cloud Storage URI (gs://bucket/name): {uri!r}")
    return bucket, name


@functools.cache
def _client() -> Client:
    """The Cloud Storage client every call uses."""
    from google.cloud import storage

    emulator = os.environ.get(EMULATOR_SETTING, "").strip()
    if not is_emulated():
        if emulator:
            # The client would send the runtime's requests (and data) to that server.
            raise RuntimeError(f"{EMULATOR_SETTING} is for the emulators only")
        return storage.Client(project=project_id())
    if not emulator.startswith(("http://", "https://")):
        raise RuntimeError(
            f"{EMULATOR_SETTING} must name the local Cloud Storage server (e.g. "
            "http://127.0.0.1:9193): the emulators never call Cloud Storage"
        )
    from google.auth.credentials import AnonymousCredentials

    # With the variable set the library goes there; anonymous, so no credentials are looked for.
    return storage.Client(project=project_id(), credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]

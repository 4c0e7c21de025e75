"""Batch files live in Cloud Storage (focus.adapters.objects, docs/adr/0010): the real
google-cloud-storage client, pointed at the harness's local Cloud Storage by
``STORAGE_EMULATOR_HOST``, writes and reads them a line at a time, lists them under a prefix and
deletes a run's files.

No emulator is involved: the adapter only needs a project id and the emulated environment.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from local_vendors import BUCKET, captured_log, logged, pointed_at

from firebase_emulator_harness import StorageServer
from focus.adapters import objects
from focus.adapters.objects import ObjectNotFound


@pytest.fixture(scope="module")
def server() -> Iterator[StorageServer]:
    with StorageServer() as storage, pointed_at(storage=storage):
        yield storage


@pytest.fixture
def storage(server: StorageServer) -> StorageServer:
    server.reset()
    return server


@pytest.fixture
def log() -> io.StringIO:
    return captured_log()


def test_lines_written_are_read_back_in_order(storage: StorageServer) -> None:
    lines = [json.dumps({"request": {"n": n, "text": "Grüße"}}) for n in range(5000)]

    objects.write_lines(f"gs://{BUCKET}/runs/2026-11-30/in/0.jsonl", iter(lines))

    stored = storage.get(BUCKET, "runs/2026-11-30/in/0.jsonl")
    assert stored is not None and stored.content_type == "application/jsonl"
    assert stored.data == "".join(f"{line}\n" for line in lines).encode()
    assert list(objects.read_lines(f"gs://{BUCKET}/runs/2026-11-30/in/0.jsonl")) == lines


def test_blank_lines_and_carriage_returns_are_not_lines(storage: StorageServer) -> None:
    storage.put(BUCKET, "out/predictions.jsonl", b'{"a": 1}\r\n\n{"b": 2}\n\n')

    assert list(objects.read_lines(f"gs://{BUCKET}/out/predictions.jsonl")) == [
        '{"a": 1}',
        '{"b": 2}',
    ]


def test_a_line_holding_a_line_break_is_refused_and_nothing_is_stored(
    storage: StorageServer,
) -> None:
    with pytest.raises(ValueError, match="line break"):
        objects.write_lines(f"gs://{BUCKET}/in.jsonl", ['{"a": 1}', '{"b":\n2}'])

    assert storage.objects(BUCKET) == {}


def test_writing_again_replaces_the_file(storage: StorageServer) -> None:
    objects.write_lines(f"gs://{BUCKET}/in.jsonl", ["first", "attempt"])
    objects.write_lines(f"gs://{BUCKET}/in.jsonl", ["second"])

    assert storage.objects(BUCKET) == {"in.jsonl": b"second\n"}


def test_reading_a_missing_file_says_which(storage: StorageServer) -> None:
    with pytest.raises(ObjectNotFound) as missing:
        list(objects.read_lines(f"gs://{BUCKET}/nowhere.jsonl"))

    assert missing.value.uri == f"gs://{BUCKET}/nowhere.jsonl"


def test_every_file_under_a_prefix_is_listed_past_the_first_page(storage: StorageServer) -> None:
    for n in range(1003):  # Cloud Storage lists 1000 at most per page
        storage.put(BUCKET, f"runs/2026-11-30/out/predictions_{n:04d}.jsonl", b"{}\n")
    storage.put(BUCKET, "runs/2026-11-29/out/predictions_0000.jsonl", b"{}\n")

    listed = objects.list_uris(f"gs://{BUCKET}/runs/2026-11-30/")

    assert len(listed) == 1003
    assert listed[:2] == [
        f"gs://{BUCKET}/runs/2026-11-30/out/predictions_0000.jsonl",
        f"gs://{BUCKET}/runs/2026-11-30/out/predictions_0001.jsonl",
    ]
    assert objects.list_uris(f"gs://{BUCKET}/runs/2026-12-01/") == []


def test_deleting_a_prefix_deletes_only_the_files_under_it(storage: StorageServer) -> None:
    for name in ["runs/a/in/0.jsonl", "runs/a/out/p.jsonl", "runs/ab/in/0.jsonl"]:
        storage.put(BUCKET, name, b"{}\n")

    assert objects.delete_prefix(f"gs://{BUCKET}/runs/a/") == 2
    assert list(storage.objects(BUCKET)) == ["runs/ab/in/0.jsonl"]
    assert objects.delete_prefix(f"gs://{BUCKET}/runs/a/") == 0


def test_each_write_listing_and_deletion_is_a_span(
    storage: StorageServer, log: io.StringIO
) -> None:
    objects.write_lines(f"gs://{BUCKET}/in.jsonl", ["{}"])
    objects.list_uris(f"gs://{BUCKET}/")
    objects.delete_prefix(f"gs://{BUCKET}/")

    assert [line["name"] for line in logged(log, "span")] == [
        "storage.objects.insert",
        "storage.objects.list",
        "storage.objects.delete",
    ]


def test_the_bucket_is_the_projects_insight_batches_unless_set(
    server: StorageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert objects.bucket_uri() == f"gs://{BUCKET}"
    monkeypatch.setenv(objects.BUCKET_SETTING, "focus-batches-eu")
    objects.bucket_uri.cache_clear()
    try:
        assert objects.bucket_uri() == "gs://focus-batches-eu"
    finally:
        objects.bucket_uri.cache_clear()


def test_a_uri_that_is_not_cloud_storage_is_refused(storage: StorageServer) -> None:
    with pytest.raises(ValueError, match="not a Cloud Storage URI"):
        objects.list_uris("s3://bucket/prefix/")


def test_the_local_server_is_refused_outside_the_emulators(
    server: StorageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FUNCTIONS_EMULATOR")
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    objects._client.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="STORAGE_EMULATOR_HOST is for the emulators only"):
            objects.list_uris(f"gs://{BUCKET}/")
    finally:
        objects._client.cache_clear()


def test_the_emulators_never_call_cloud_storage_without_a_local_server(
    server: StorageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(objects.EMULATOR_SETTING)
    objects._client.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="must name the local Cloud Storage server"):
            objects.list_uris(f"gs://{BUCKET}/")
    finally:
        objects._client.cache_clear()

"""The local Cloud Storage server answers the real google-cloud-storage client, pointed at it by
``STORAGE_EMULATOR_HOST`` as the library reads it, the way Cloud Storage does: uploads of every
kind the client sends, downloads whole and in ranges, listings a page at a time, deletes and
Google's 404; a test in another process puts and reads objects through its control API. No
emulators needed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from another_process import served_in_another_process
from google.api_core.exceptions import NotFound
from google.cloud import storage

from firebase_emulator_harness import EmulatorError, StorageRemote, StorageServer
from firebase_emulator_harness.cloud_storage import crc32c

BUCKET = "demo-focus-insight-batches"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """A Cloud Storage server in another process, as scripts/test runs one; its URL."""
    with served_in_another_process(StorageServer) as url:
        yield url


@pytest.fixture
def objects(served: str) -> StorageRemote:
    remote = StorageRemote(served)
    remote.reset()
    return remote


@pytest.fixture
def bucket(served: str, monkeypatch: pytest.MonkeyPatch) -> storage.Bucket:
    """A bucket through the production client, set up as focus.adapters.objects sets it up on
    the emulators (the library reads the variable when the client is made)."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", served)
    return storage.Client(project="demo-focus").bucket(BUCKET)


def test_an_upload_is_stored_with_its_content_type_and_checksums(
    objects: StorageRemote, bucket: storage.Bucket
) -> None:
    blob = bucket.blob("runs/2026-11-30/in/part 1.jsonl")  # a space: names arrive encoded

    blob.upload_from_string('{"request": {}}\n', content_type="application/jsonl")

    assert objects.objects(BUCKET) == {"runs/2026-11-30/in/part 1.jsonl": b'{"request": {}}\n'}
    stored = bucket.get_blob("runs/2026-11-30/in/part 1.jsonl")
    assert stored is not None
    assert (stored.size, stored.content_type) == (16, "application/jsonl")
    assert stored.crc32c == crc32c(b'{"request": {}}\n')  # the client checked it on upload too


def test_a_file_written_in_chunks_arrives_whole(
    objects: StorageRemote, bucket: storage.Bucket
) -> None:
    lines = [f'{{"line": {n:06d}}}\n' for n in range(40_000)]  # ~640 kB: three chunks
    blob = bucket.blob("runs/big.jsonl", chunk_size=256 * 1024)

    with blob.open("w") as file:  # a resumable upload, as the client always writes a file
        file.writelines(lines)

    assert objects.objects(BUCKET)["runs/big.jsonl"] == "".join(lines).encode()


def test_a_writer_that_raises_stores_nothing(
    objects: StorageRemote, bucket: storage.Bucket
) -> None:
    blob = bucket.blob("runs/broken.jsonl", chunk_size=256 * 1024)

    with pytest.raises(RuntimeError), blob.open("wb") as file:
        file.write(b"x" * 300_000)  # a chunk already sent
        raise RuntimeError("the caller failed half way")

    assert objects.objects(BUCKET) == {}


def test_an_object_put_by_a_test_downloads_whole_and_line_by_line(
    objects: StorageRemote, bucket: storage.Bucket
) -> None:
    data = "".join(f"prediction {n}\n" for n in range(30_000)).encode()
    objects.put(BUCKET, "out/predictions.jsonl", data, "application/jsonl")

    assert bucket.blob("out/predictions.jsonl").download_as_bytes() == data
    reader = bucket.blob("out/predictions.jsonl").open("r", chunk_size=100_000)
    with reader as file:  # ranged requests, a chunk at a time
        assert list(file) == [f"prediction {n}\n" for n in range(30_000)]


def test_a_listing_has_the_objects_under_a_prefix_in_name_order_a_page_at_a_time(
    objects: StorageRemote, bucket: storage.Bucket
) -> None:
    for name in ["runs/b/2.jsonl", "runs/a/1.jsonl", "runs/b/1.jsonl", "other/1.jsonl"]:
        objects.put(BUCKET, name, b"{}\n")
    client = bucket.client

    pages = client.list_blobs(BUCKET, prefix="runs/", page_size=2).pages
    listed = [[blob.name for blob in page] for page in pages]

    assert listed == [["runs/a/1.jsonl", "runs/b/1.jsonl"], ["runs/b/2.jsonl"]]
    folders = client.list_blobs(BUCKET, prefix="runs/", delimiter="/")
    assert list(folders) == [] and folders.prefixes == {"runs/a/", "runs/b/"}
    assert [blob.name for blob in client.list_blobs("another-bucket")] == []


def test_a_deleted_object_is_gone_and_deleting_it_again_is_not_found(
    objects: StorageRemote, bucket: storage.Bucket
) -> None:
    objects.put(BUCKET, "runs/in.jsonl", b"{}\n")

    bucket.blob("runs/in.jsonl").delete()

    assert objects.objects(BUCKET) == {}
    with pytest.raises(NotFound) as again:
        bucket.blob("runs/in.jsonl").delete()
    assert again.value.code == 404


def test_a_missing_object_is_googles_404(objects: StorageRemote, bucket: storage.Bucket) -> None:
    with pytest.raises(NotFound):
        bucket.blob("nowhere.jsonl").download_as_bytes()
    assert bucket.get_blob("nowhere.jsonl") is None

    answer = requests.get(f"{objects.url}/storage/v1/b/{BUCKET}/o/nowhere.jsonl", timeout=10)

    assert answer.status_code == 404
    assert answer.json() == {
        "error": {
            "code": 404,
            "message": f"No such object: {BUCKET}/nowhere.jsonl",
            "errors": [
                {
                    "message": f"No such object: {BUCKET}/nowhere.jsonl",
                    "domain": "global",
                    "reason": "notFound",
                }
            ],
        }
    }


def test_objects_are_listed_by_bucket_and_prefix_and_reset_forgets_them(
    objects: StorageRemote,
) -> None:
    objects.put(BUCKET, "runs/a.jsonl", b"a\n")
    objects.put(BUCKET, "other/b.jsonl", b"\x00\xff")  # any bytes
    objects.put("another-bucket", "runs/c.jsonl", b"c\n")

    assert objects.objects(BUCKET, prefix="runs/") == {"runs/a.jsonl": b"a\n"}
    assert objects.objects(BUCKET) == {"other/b.jsonl": b"\x00\xff", "runs/a.jsonl": b"a\n"}
    objects.reset()
    assert objects.objects(BUCKET) == objects.objects("another-bucket") == {}


def test_a_malformed_control_request_is_refused_and_changes_nothing(
    objects: StorageRemote,
) -> None:
    with pytest.raises(EmulatorError) as refused:
        objects._control.call("POST", "objects", {"bucket": BUCKET, "name": "a", "data": "%%"})
    with pytest.raises(EmulatorError):
        objects._control.call("POST", "objects", {"bucket": "", "name": "a", "data": ""})

    assert refused.value.status == 400
    assert objects.objects(BUCKET) == {}


def test_crc32c_is_castagnolis_as_cloud_storage_writes_it() -> None:
    assert crc32c(b"") == "AAAAAA=="
    assert crc32c(b"123456789") == "4waSgw=="  # the check value 0xE3069283

"""A local server that speaks the Cloud Storage JSON API, holding objects in memory.

Cloud Storage has no emulator this harness can run (the Firebase Storage emulator needs a rules
runtime that must be downloaded). This server answers the subset of the JSON API that
``google-cloud-storage`` uses when ``STORAGE_EMULATOR_HOST=<this server's url>`` is set (the
client then sends no credentials, and none are asked for), so the production client talks to it
unchanged:

* uploads: ``POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name=...``, ``multipart``
  (metadata, then the data, in one ``multipart/related`` body) and ``resumable`` (a session
  ``POST`` answered with its URL in ``Location``, then ``PUT`` chunks with ``Content-Range``,
  each answered ``308`` with the ``Range`` received until the last, as ``blob.open("w")`` sends;
  ``DELETE`` on the session cancels it, answered ``499``, as the client's writer does when the
  code writing raises);
* ``GET /storage/v1/b/{bucket}/o/{object}``: the object's metadata, ``crc32c`` and ``md5Hash``
  included (the client checks them after an upload);
* downloads: ``GET /download/storage/v1/b/{bucket}/o/{object}?alt=media`` (what the client
  builds) or ``GET /storage/v1/b/{bucket}/o/{object}?alt=media``, with ``Range: bytes=a-b`` (what
  ``blob.open("r")`` sends, chunk by chunk) and ``X-Goog-Hash``;
* ``GET /storage/v1/b/{bucket}/o?prefix=...&delimiter=...&maxResults=...&pageToken=...``:
  objects in name order, a page at a time (``nextPageToken``);
* ``DELETE /storage/v1/b/{bucket}/o/{object}``: ``204``;
* ``GET /storage/v1/b/{bucket}``: the bucket (the client fetches it in the background for its
  traces). Every bucket exists: none needs creating.

Object names arrive percent-encoded in paths (``a%2Fb.jsonl``). Errors carry Google's body,
``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}`` (404
``notFound``: ``No such object: bucket/name``).

    with StorageServer() as storage:
        os.environ["STORAGE_EMULATOR_HOST"] = storage.url
        storage.put("bucket", "in/batch.jsonl", b'{"request": {}}\\n')
        ...
        storage.objects("bucket", prefix="out/")   # {name: data}

A test in another process steers the same server through its control API under
``/_storage/``: ``POST /_storage/objects`` (``{"bucket", "name", "data"}``, data in base64) puts
an object, ``GET /_storage/objects?bucket=...&prefix=...`` answers ``{"objects": {name:
base64}}``, ``POST /_storage/reset`` forgets every object; a malformed request is answered 400
``{"error": "<what is wrong>"}``. ``StorageRemote(url)`` is its client, with the methods of
``StorageServer``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.local_server import (
    TIMEOUT_S,
    ControlClient,
    JsonHandler,
    LocalServer,
    answer_control,
)
from firebase_emulator_harness.values import JsonObject, JsonValue

CONTROL_PATH = "/_storage/"  # the control API's paths: kept apart from Google's own
_BUCKET_PATH = re.compile(r"^/storage/v1/b/(?P<bucket>[^/]+)$")
_OBJECTS_PATH = re.compile(r"^/storage/v1/b/(?P<bucket>[^/]+)/o$")
_OBJECT_PATH = re.compile(r"^(?:/download)?/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<name>[^/]+)$")
_UPLOAD_PATH = re.compile(r"^/upload/storage/v1/b/(?P<bucket>[^/]+)/o$")
_RANGE = re.compile(r"^bytes=(?P<first>\d+)-(?P<last>\d*)$")
# Content-Range of a resumable upload's chunk: ``bytes 0-99/*``, ``bytes 0-99/100``, ``bytes */100``.
_CHUNK_RANGE = re.compile(r"^bytes (?:(?P<first>\d+)-(?P<last>\d+)|\*)/(?P<total>\d+|\*)$")
MAX_PAGE = 1000  # objects per list page, as Cloud Storage caps maxResults
LOCATION = "EUROPE-WEST1"  # what the buckets say they are in


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ 0x82F63B78 if value & 1 else value >> 1
        table.append(value)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> str:
    """CRC32C (Castagnoli) of ``data``, as Cloud Storage writes it: base64 of 4 big-endian bytes.
    Plain Python, so the harness needs nothing compiled."""
    value = 0xFFFFFFFF
    for byte in data:
        value = _CRC32C[(value ^ byte) & 0xFF] ^ (value >> 8)
    return base64.b64encode((value ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


@dataclass(frozen=True)
class StoredObject:
    """One object: its bytes and the metadata Cloud Storage keeps about them."""

    bucket: str
    name: str
    data: bytes
    content_type: str
    generation: int
    created: datetime
    crc32c: str
    md5: str

    @classmethod
    def of(
        cls, bucket: str, name: str, data: bytes, content_type: str, generation: int
    ) -> StoredObject:
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # Cloud Storage keeps an MD5
        now = datetime.now(UTC)
        return cls(bucket, name, data, content_type, generation, now, crc32c(data), md5)

    def resource(self, base_url: str) -> JsonObject:
        """Its ``storage#object`` resource; links point at ``base_url``."""
        quoted = urllib.parse.quote(self.name, safe="")
        path = f"/storage/v1/b/{self.bucket}/o/{quoted}"
        written = _rfc3339(self.created)
        return {
            "kind": "storage#object",
            "id": f"{self.bucket}/{self.name}/{self.generation}",
            "selfLink": f"{base_url}{path}",
            "mediaLink": f"{base_url}/download{path}?generation={self.generation}&alt=media",
            "name": self.name,
            "bucket": self.bucket,
            "generation": str(self.generation),
            "metageneration": "1",
            "contentType": self.content_type,
            "storageClass": "STANDARD",
            "size": str(len(self.data)),
            "md5Hash": self.md5,
            "crc32c": self.crc32c,
            "etag": f"CL{self.generation}AE=",
            "timeCreated": written,
            "updated": written,
            "timeStorageClassUpdated": written,
        }


@dataclass
class _Upload:
    """A resumable upload under way: what it will name and what has arrived so far."""

    bucket: str
    name: str
    content_type: str
    received: bytearray = field(default_factory=bytearray)


class StorageServer(LocalServer):
    """The local Cloud Storage; ``url`` (``http://127.0.0.1:<port>``) is its base URL once
    started (``start``/``stop``, or ``with``): what ``STORAGE_EMULATOR_HOST`` names.
    Thread-safe."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, name="Cloud Storage")
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], StoredObject] = {}  # (bucket, name) -> object
        self._uploads: dict[str, _Upload] = {}  # upload_id -> upload under way
        self._generations = itertools.count(1_700_000_000_000_001)  # microseconds, like GCS's

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- what tests (and other local servers) ask of it

    def put(
        self, bucket: str, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        """Store ``data`` as ``name`` in ``bucket``, replacing any object of that name."""
        with self._lock:
            stored = StoredObject.of(
                bucket, name, bytes(data), content_type, next(self._generations)
            )
            self._objects[(bucket, name)] = stored
            return stored

    def get(self, bucket: str, name: str) -> StoredObject | None:
        with self._lock:
            return self._objects.get((bucket, name))

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object of ``bucket`` whose name starts with ``prefix``: name -> data, in name
        order."""
        with self._lock:
            found = self._listed(bucket, prefix)
        return {stored.name: stored.data for stored in found}

    def delete(self, bucket: str, name: str) -> bool:
        """Delete an object; False if there was none."""
        with self._lock:
            return self._objects.pop((bucket, name), None) is not None

    def reset(self) -> None:
        """Forget every object and every upload under way."""
        with self._lock:
            self._objects.clear()
            self._uploads.clear()

    def _listed(self, bucket: str, prefix: str) -> list[StoredObject]:
        """The caller holds the lock."""
        return sorted(
            (o for (b, n), o in self._objects.items() if b == bucket and n.startswith(prefix)),
            key=lambda o: o.name,
        )

    # -- answering (called by the request handler threads)

    def _list(self, bucket: str, query: dict[str, str], base_url: str) -> tuple[int, JsonObject]:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        try:
            page_size = min(int(query.get("maxResults") or MAX_PAGE), MAX_PAGE)
        except ValueError:
            return _google_error(400, "invalid", "Invalid value for maxResults")
        after = query.get("pageToken", "")
        with self._lock:
            listed = [o for o in self._listed(bucket, prefix) if o.name > after]
        items: list[JsonValue] = []
        prefixes: list[str] = []
        last = ""
        for stored in listed:
            if len(items) + len(prefixes) == page_size:
                break
            last = stored.name
            rest = stored.name[len(prefix) :]
            if delimiter and delimiter in rest:
                folder = prefix + rest.split(delimiter, 1)[0] + delimiter
                if folder not in prefixes:
                    prefixes.append(folder)
                continue
            items.append(stored.resource(base_url))
        answer: JsonObject = {"kind": "storage#objects"}
        if items:
            answer["items"] = items
        if prefixes:
            answer["prefixes"] = list(prefixes)
        if last and listed and listed[-1].name != last:
            answer["nextPageToken"] = last
        return 200, answer

    def _begin_upload(self, bucket: str, name: str, content_type: str) -> str:
        upload_id = f"local-{next(self._generations)}"
        with self._lock:
            self._uploads[upload_id] = _Upload(bucket, name, content_type)
        return upload_id

    def _cancel_upload(self, upload_id: str) -> None:
        with self._lock:
            self._uploads.pop(upload_id, None)

    def _upload_chunk(
        self, upload_id: str, content_range: str, chunk: bytes, base_url: str
    ) -> tuple[int, JsonObject, dict[str, str]]:
        """A resumable upload's chunk: 308 with what arrived so far, or 200 with the object
        once all of it has."""
        match = _CHUNK_RANGE.match(content_range.strip())
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None:
                return *_google_error(404, "notFound", "No such upload session"), {}
            if match is None:
                return *_google_error(400, "invalid", f"bad Content-Range {content_range!r}"), {}
            if match["first"] is not None and int(match["first"]) == len(upload.received):
                upload.received += chunk  # a chunk sent again after a lost answer is dropped
            total = match["total"]
            if total == "*" or int(total) != len(upload.received):
                headers = (
                    {"Range": f"bytes=0-{len(upload.received) - 1}"} if upload.received else {}
                )
                return 308, {}, headers
            del self._uploads[upload_id]
        stored = self.put(upload.bucket, upload.name, bytes(upload.received), upload.content_type)
        return 200, stored.resource(base_url), {}


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _google_error(code: int, reason: str, message: str) -> tuple[int, JsonObject]:
    detail: JsonObject = {"message": message, "domain": "global", "reason": reason}
    return code, {"error": {"code": code, "message": message, "errors": [detail]}}


def _no_such_object(bucket: str, name: str) -> tuple[int, JsonObject]:
    return _google_error(404, "notFound", f"No such object: {bucket}/{name}")


def _multipart(content_type: str, body: bytes) -> tuple[JsonObject, str, bytes] | None:
    """The metadata, content type and data of a ``multipart/related`` upload body; None if it
    is not one."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if boundary is None:
        return None
    parts = body.split(b"--" + boundary[1].encode())
    if len(parts) < 4:  # preamble, metadata, data, closing "--"
        return None
    (_, meta_part), (data_headers, data) = (
        part.removeprefix(b"\r\n").removesuffix(b"\r\n").split(b"\r\n\r\n", 1)
        for part in parts[1:3]
    )
    try:
        metadata = json.loads(meta_part)
    except ValueError:
        return None
    media_type = re.search(rb"(?im)^content-type:\s*(\S+)", data_headers)
    kind = media_type[1].decode() if media_type else "application/octet-stream"
    return (metadata, kind, data) if isinstance(metadata, dict) else None


# -- the control API


def _steer_objects(storage: StorageServer, body: JsonObject) -> None:
    bucket, name, data = body.get("bucket"), body.get("name"), body.get("data")
    content_type = body.get("contentType", "application/octet-stream")
    if not (isinstance(bucket, str) and bucket and isinstance(name, str) and name):
        raise ValueError("bucket and name must be non-empty strings")
    if not isinstance(data, str) or not isinstance(content_type, str):
        raise ValueError("data must be a base64 string, contentType a string")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError as exc:
        raise ValueError(f"data is not base64: {exc}") from None
    storage.put(bucket, name, raw, content_type)


_CONTROL_ACTIONS: dict[str, Callable[[StorageServer, JsonObject], None]] = {
    "objects": _steer_objects,
    "reset": lambda storage, _: storage.reset(),
}


def _handler_for(storage: StorageServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _base_url(self) -> str:
            # Links (mediaLink, the resumable session) name the server as the client reached it.
            return f"http://{self.headers.get('Host') or storage.url.removeprefix('http://')}"

        def _query(self) -> dict[str, str]:
            return dict(urllib.parse.parse_qsl(self.path.partition("?")[2]))

        def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            path, query = self._request_path(), self._query()
            if path == f"{CONTROL_PATH}objects":
                found = storage.objects(query.get("bucket", ""), query.get("prefix", ""))
                encoded: JsonObject = {
                    name: base64.b64encode(data).decode() for name, data in found.items()
                }
                self._reply(200, {"objects": encoded})
            elif match := _BUCKET_PATH.match(path):
                bucket = urllib.parse.unquote(match["bucket"])
                self._reply(200, _bucket(bucket))
            elif match := _OBJECTS_PATH.match(path):
                bucket = urllib.parse.unquote(match["bucket"])
                self._reply(*storage._list(bucket, query, self._base_url()))
            elif match := _OBJECT_PATH.match(path):
                bucket, name = (urllib.parse.unquote(match[g]) for g in ("bucket", "name"))
                stored = storage.get(bucket, name)
                if stored is None:
                    self._reply(*_no_such_object(bucket, name))
                elif query.get("alt") == "media" or path.startswith("/download/"):
                    self._download(stored)
                else:
                    self._reply(200, stored.resource(self._base_url()))
            else:
                self._reply(*_google_error(404, "notFound", "Not Found"))

        def _download(self, stored: StoredObject) -> None:
            headers = {
                "Content-Type": stored.content_type,
                "X-Goog-Hash": f"crc32c={stored.crc32c},md5={stored.md5}",
                "X-Goog-Generation": str(stored.generation),
                "X-Goog-Metageneration": "1",
                "X-Goog-Stored-Content-Length": str(len(stored.data)),
                "X-Goog-Stored-Content-Encoding": "identity",
            }
            wanted = _RANGE.match(self.headers.get("Range") or "")
            if wanted is None:
                self._send_bytes(200, stored.data, headers)
                return
            size = len(stored.data)
            first = int(wanted["first"])
            last = min(int(wanted["last"]) if wanted["last"] else size - 1, size - 1)
            if first >= size:
                self._send_bytes(416, b"", headers | {"Content-Range": f"bytes */{size}"})
                return
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
            self._send_bytes(206, stored.data[first : last + 1], headers)

        def do_POST(self) -> None:  # noqa: N802
            raw = self._request_body()
            path, query = self._request_path(), self._query()
            if path.startswith(CONTROL_PATH):
                action = path.removeprefix(CONTROL_PATH)
                self._reply(*answer_control(storage, _CONTROL_ACTIONS, action, raw))
                return
            match = _UPLOAD_PATH.match(path)
            if match is None:
                self._reply(*_google_error(404, "notFound", "Not Found"))
                return
            bucket = urllib.parse.unquote(match["bucket"])
            kind = query.get("uploadType")
            if kind == "media":
                name = query.get("name", "")
                content_type = self.headers.get("Content-Type") or "application/octet-stream"
                self._store(bucket, name, raw, content_type)
            elif kind == "multipart":
                parsed = _multipart(self.headers.get("Content-Type") or "", raw)
                if parsed is None:
                    self._reply(*_google_error(400, "invalid", "Malformed multipart body."))
                    return
                metadata, content_type, data = parsed
                name = str(metadata.get("name") or query.get("name", ""))
                self._store(bucket, name, data, str(metadata.get("contentType") or content_type))
            elif kind == "resumable":
                self._begin_resumable(bucket, raw, query)
            else:
                self._reply(*_google_error(400, "invalid", f"Unknown uploadType {kind!r}"))

        def _store(self, bucket: str, name: str, data: bytes, content_type: str) -> None:
            if not name:
                self._reply(*_google_error(400, "required", "Required"))
                return
            stored = storage.put(bucket, name, data, content_type)
            self._reply(200, stored.resource(self._base_url()))

        def _begin_resumable(self, bucket: str, raw: bytes, query: dict[str, str]) -> None:
            try:
                metadata = json.loads(raw or b"{}")
            except ValueError:
                metadata = None
            if not isinstance(metadata, dict):
                self._reply(*_google_error(400, "parseError", "Parse Error"))
                return
            name = str(metadata.get("name") or query.get("name", ""))
            if not name:
                self._reply(*_google_error(400, "required", "Required"))
                return
            content_type = str(
                metadata.get("contentType")
                or self.headers.get("X-Upload-Content-Type")
                or "application/octet-stream"
            )
            upload_id = storage._begin_upload(bucket, name, content_type)
            session = (
                f"{self._base_url()}/upload/storage/v1/b/{urllib.parse.quote(bucket)}/o"
                f"?uploadType=resumable&upload_id={upload_id}"
            )
            self._send_bytes(200, b"", {"Location": session})

        def do_PUT(self) -> None:  # noqa: N802
            chunk = self._request_body()
            upload_id = self._query().get("upload_id")
            if not _UPLOAD_PATH.match(self._request_path()) or upload_id is None:
                self._reply(*_google_error(404, "notFound", "Not Found"))
                return
            content_range = self.headers.get("Content-Range") or f"bytes */{len(chunk)}"
            status, answer, headers = storage._upload_chunk(
                upload_id, content_range, chunk, self._base_url()
            )
            if status == 308:
                self._send_bytes(308, b"", headers)
            else:
                self._reply(status, answer, headers)

        def do_DELETE(self) -> None:  # noqa: N802
            path, upload_id = self._request_path(), self._query().get("upload_id")
            if _UPLOAD_PATH.match(path) and upload_id is not None:
                # A cancelled resumable upload: Cloud Storage answers 499, and stores nothing.
                storage._cancel_upload(upload_id)
                self._send_bytes(499, b"", {})
                return
            match = _OBJECT_PATH.match(path)
            if match is None:
                self._reply(*_google_error(404, "notFound", "Not Found"))
                return
            bucket, name = (urllib.parse.unquote(match[g]) for g in ("bucket", "name"))
            if storage.delete(bucket, name):
                self._send_bytes(204, b"", {})
            else:
                self._reply(*_no_such_object(bucket, name))

    return Handler


def _bucket(name: str) -> JsonObject:
    return {
        "kind": "storage#bucket",
        "id": name,
        "name": name,
        "location": LOCATION,
        "locationType": "region",
        "storageClass": "STANDARD",
        "metageneration": "1",
    }


class StorageRemote:
    """The local Cloud Storage server at ``url`` (``StorageServer.url`` of the process that
    started it), steered over its control API with the methods of ``StorageServer``. Raises
    ``EmulatorNotRunning`` if nothing answers there, ``EmulatorError`` if the server refuses a
    request. Plain ``urllib``, so it needs nothing installed."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_S) -> None:
        self._control = ControlClient(url, CONTROL_PATH, name="Cloud Storage", timeout=timeout)
        self.url = self._control.url

    def put(
        self, bucket: str, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        """Store ``data`` as ``name`` in ``bucket`` (``StorageServer.put``)."""
        body: JsonObject = {
            "bucket": bucket,
            "name": name,
            "data": base64.b64encode(data).decode(),
            "contentType": content_type,
        }
        self._control.call("POST", "objects", body)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object of ``bucket`` whose name starts with ``prefix``: name -> data."""
        query = urllib.parse.urlencode({"bucket": bucket, "prefix": prefix})
        listed = self._control.call("GET", f"objects?{query}").get("objects")
        if not isinstance(listed, dict) or not all(isinstance(v, str) for v in listed.values()):
            raise EmulatorError(f"{self.url} did not list objects", body=listed)
        return {name: base64.b64decode(str(data)) for name, data in listed.items()}

    def reset(self) -> None:
        """Forget every object."""
        self._control.call("POST", "reset", {})

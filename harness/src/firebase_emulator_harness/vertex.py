"""A local server that speaks Vertex AI's ``generateContent`` (Gemini), answering what a test scripts.

Vertex AI has no emulator. This server answers
``POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent``
(and the same under ``/v1beta1/``, the SDK's default version) with the shapes Vertex uses, so the
production client (``google.genai.Client(vertexai=True, project=..., location=...,
credentials=<any token>, http_options=HttpOptions(base_url=<this server's url>, ...))``, or any
HTTP client) talks to it unchanged. As Vertex does, it answers 401 to a request without
``Authorization: Bearer ...`` (any bearer is accepted: there is nobody to check it against) and
400 ``INVALID_ARGUMENT`` to a body that is no JSON object with ``contents``.

A model's answers cannot be predicted, so a test scripts them, in order, one per request:

* ``answer(text)``: a candidate whose only part is ``text`` (valid JSON or not: the server does
  not look), finished ``STOP`` unless ``finish_reason`` says otherwise (``MAX_TOKENS`` ...);
* ``block(reason)``: the prompt was blocked: no candidate, ``promptFeedback.blockReason``;
* ``stop_for_safety()``: a candidate stopped with ``finishReason: SAFETY`` and no content;
* ``fail(error)``: Google's error body and status (``VertexError``: 429, 500, 503, 400).

Each may wait ``delay_seconds`` before answering (for a client's timeout). With nothing
scripted, a request gets ``DEFAULT_ANSWER`` (``{}``, finished ``STOP``): the server knows no
product and no schema, so an unscripted request gets an answer that is valid JSON and fits
nothing useful, which a caller validating its answers must refuse. Every answer but an error
carries ``usageMetadata``, counted as a quarter token per character (``tokens``) of the prompt
(every ``text`` part of ``contents`` and ``systemInstruction``) and of the answer, so a caller's
cost accounting has figures to check.

    with VertexServer() as vertex:
        vertex.answer('{"headline": "..."}')
        vertex.fail(VertexError.RESOURCE_EXHAUSTED)
        ...
        [first, second] = vertex.requests()
        first.prompt, first.generation_config["responseMimeType"]

A test in another process steers the same server through its control API under ``/_vertex/`` (no
Google path starts so; no bearer needed): ``POST /_vertex/answer`` (``{"text", "finishReason",
"delaySeconds"}``), ``POST /_vertex/block`` (``{"reason", "delaySeconds"}``), ``POST
/_vertex/safety`` (``{"delaySeconds"}``), ``POST /_vertex/fail`` (``{"error", "delaySeconds"}``)
and ``POST /_vertex/reset`` do what the methods of the same names do and answer ``{}``; ``GET
/_vertex/requests`` answers ``{"requests": [...]}`` (each a ``ReceivedRequest.to_json()``). A
malformed control request is answered 400 ``{"error": "<what is wrong>"}`` and changes nothing.
``VertexRemote(url)`` is its client, with the methods of ``VertexServer``.

Batch prediction (``VertexServer(storage=<a StorageServer>)``): Gemini answers a JSONL file of
requests in Cloud Storage with a JSONL file of predictions there. The server answers

* ``POST /v1/projects/{project}/locations/{location}/batchPredictionJobs`` (``displayName``,
  ``model``: ``publishers/google/models/{model}``, ``inputConfig``: ``{"instancesFormat":
  "jsonl", "gcsSource": {"uris": [...]}}``, ``outputConfig``: ``{"predictionsFormat": "jsonl",
  "gcsDestination": {"outputUriPrefix": ...}}``) with the ``BatchPredictionJob``, state
  ``JOB_STATE_PENDING``;
* ``GET .../batchPredictionJobs/{id}``: the job. The first read of a pending job runs it: each
  line of the input files (``{"request": <a generateContent body>}``) gets the next scripted
  answer, exactly as ``generateContent`` would, and ``{outputUriPrefix}/prediction-model-<create
  time>/predictions.jsonl`` gets one line per input line, in input order, as Vertex writes them:
  ``{"status": "", "processed_time": "<ISO time>", "request": <the line's request>, "response":
  <GenerateContentResponse>}``, or, for a line answered with an error, ``status`` ``"<HTTP
  reason>: <Google's error body>"`` and no ``response``. Fields of a line beside ``request`` are
  not echoed (Vertex drops them): a caller matches answers to requests by the request's
  ``labels``, which are. The job then says ``JOB_STATE_SUCCEEDED`` with ``outputInfo`` and
  ``completionStats``, or ``JOB_STATE_FAILED`` with an ``error`` when an input file is missing or
  a test asked for it (``fail_next_batch``);
* ``POST .../batchPredictionJobs/{id}:cancel``: an unfinished job is ``JOB_STATE_CANCELLED``;
* ``GET .../batchPredictionJobs``: every job of that project and location.

``batch_jobs()`` lists the jobs received (``BatchJob``: what was asked, its state, the request of
every line once run). Control API: ``POST /_vertex/failNextBatch`` (``{"message", "code"}``) and
``GET /_vertex/batchJobs`` (``{"batchJobs": [...]}``).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

from firebase_emulator_harness.cloud_storage import StorageServer
from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.local_server import (
    TIMEOUT_S,
    ControlClient,
    JsonHandler,
    LocalServer,
    answer_control,
    enum_field,
)
from firebase_emulator_harness.values import JsonObject, JsonValue, json_object

CONTROL_PATH = "/_vertex/"  # the control API's paths: kept apart from Google's own
_GENERATE_PATH = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/google/models/(?P<model>[^/:]+):generateContent$"
)
_LOCATION = r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
_BATCH_JOBS_PATH = re.compile(_LOCATION + r"/batchPredictionJobs$")
_BATCH_JOB_PATH = re.compile(_LOCATION + r"/batchPredictionJobs/(?P<id>\d+)(?P<cancel>:cancel)?$")
DEFAULT_ANSWER = "{}"  # what a request gets when nothing is scripted
CHARACTERS_PER_TOKEN = 4  # roughly, for Gemini's tokenizer on English text


class VertexError(StrEnum):
    """What the server can answer instead of a generation, as Vertex answers it."""

    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"  # 429: quota or shared capacity, try later
    INTERNAL = "INTERNAL"  # 500
    UNAVAILABLE = "UNAVAILABLE"  # 503
    INVALID_ARGUMENT = "INVALID_ARGUMENT"  # 400: the request itself is wrong


# HTTP status and message of each.
_ERRORS: dict[VertexError, tuple[int, str]] = {
    VertexError.RESOURCE_EXHAUSTED: (
        429,
        "Resource exhausted. Please try again later. Please refer to "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
    ),
    VertexError.INTERNAL: (500, "Internal error encountered."),
    VertexError.UNAVAILABLE: (503, "The service is currently unavailable."),
    VertexError.INVALID_ARGUMENT: (400, "Request contains an invalid argument."),
}


class BlockReason(StrEnum):
    """``promptFeedback.blockReason`` of a blocked prompt."""

    SAFETY = "SAFETY"
    PROHIBITED_CONTENT = "PROHIBITED_CONTENT"
    BLOCKLIST = "BLOCKLIST"
    OTHER = "OTHER"


_SAFETY_RATINGS: list[JsonValue] = [
    {
        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
        "probability": "HIGH",
        "probabilityScore": 0.93,
        "severity": "HARM_SEVERITY_HIGH",
        "severityScore": 0.88,
        "blocked": True,
    }
]


@dataclass(frozen=True)
class _Scripted:
    """One scripted answer: exactly one of ``text``, ``block``, ``safety`` and ``error``."""

    text: str | None = None
    finish_reason: str = "STOP"
    block: BlockReason | None = None
    safety: bool = False
    error: VertexError | None = None
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    """One ``generateContent`` request, as it arrived: the path's parts, the JSON ``body`` and
    the ``X-Server-Timeout`` header (seconds, as the SDK sends its timeout), if any."""

    api_version: str
    project: str
    location: str
    model: str
    body: JsonObject
    server_timeout: str | None

    @property
    def prompt(self) -> str:
        """Every ``text`` part of the user's ``contents``, joined by newlines."""
        return "\n".join(_texts(self.body.get("contents")))

    @property
    def system_instruction(self) -> str | None:
        instruction = self.body.get("systemInstruction")
        return "\n".join(_texts([instruction])) if instruction is not None else None

    @property
    def generation_config(self) -> JsonObject:
        config = self.body.get("generationConfig")
        return config if isinstance(config, dict) else {}

    def to_json(self) -> JsonObject:
        return {
            "apiVersion": self.api_version,
            "project": self.project,
            "location": self.location,
            "model": self.model,
            "body": self.body,
            "serverTimeout": self.server_timeout,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> ReceivedRequest:
        """The request ``to_json`` gave; ``ValueError`` if ``data`` is not one."""
        names = ("apiVersion", "project", "location", "model")
        parts = [data.get(name) for name in names]
        body, timeout = data.get("body"), data.get("serverTimeout")
        if not (
            all(isinstance(part, str) for part in parts)
            and isinstance(body, dict)
            and (timeout is None or isinstance(timeout, str))
        ):
            raise ValueError(f"not a received request: {data!r}")
        version, project, location, model = (str(part) for part in parts)
        return cls(version, project, location, model, body, timeout)


def _texts(contents: JsonValue) -> list[str]:
    """The ``text`` of every part of every content in ``contents`` (a list of contents)."""
    found: list[str] = []
    for content in contents if isinstance(contents, list) else []:
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                found.append(str(part["text"]))
    return found


def tokens(text: str) -> int:
    """The tokens the server counts for ``text``: a quarter per character, at least one for any
    text."""
    return max(1, len(text) // CHARACTERS_PER_TOKEN) if text else 0


class BatchState(StrEnum):
    """``BatchPredictionJob.state``: the states this server moves a job through."""

    PENDING = "JOB_STATE_PENDING"
    SUCCEEDED = "JOB_STATE_SUCCEEDED"
    FAILED = "JOB_STATE_FAILED"
    CANCELLED = "JOB_STATE_CANCELLED"


@dataclass(frozen=True)
class BatchJob:
    """One batch prediction job, as received and as it stands: its resource ``name``
    (``projects/{project}/locations/{location}/batchPredictionJobs/{id}``), what was asked, its
    ``state``, the ``error`` (``{"code", "message"}``) it failed or was cancelled with, where its
    predictions went (``output_directory``, once succeeded), and the request of every input line
    it answered (``requests``, in input order, once run). ``api_version``: the path's (``v1``)."""

    api_version: str
    name: str
    display_name: str
    model: str
    input_uris: tuple[str, ...]
    output_prefix_uri: str
    state: BatchState
    create_time: datetime
    update_time: datetime
    error: JsonObject | None = None
    output_directory: str | None = None
    requests: tuple[ReceivedRequest, ...] = ()
    successful_lines: int = 0  # lines answered with a response
    failed_lines: int = 0  # lines answered with an error

    @property
    def finished(self) -> bool:
        """Whether it has ended (succeeded, failed or cancelled): it will not change again."""
        return self.state is not BatchState.PENDING

    def resource(self) -> JsonObject:
        """The ``BatchPredictionJob`` Vertex answers for it."""
        job: JsonObject = {
            "name": self.name,
            "displayName": self.display_name,
            "model": self.model,
            "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [*self.input_uris]}},
            "outputConfig": {
                "predictionsFormat": "jsonl",
                "gcsDestination": {"outputUriPrefix": self.output_prefix_uri},
            },
            "state": self.state.value,
            "createTime": _rfc3339(self.create_time),
            "updateTime": _rfc3339(self.update_time),
        }
        if self.finished:
            job["startTime"] = job["endTime"] = _rfc3339(self.update_time)
        if self.error is not None:
            job["error"] = self.error
        if self.output_directory is not None:
            job["outputInfo"] = {"gcsOutputDirectory": self.output_directory}
            job["completionStats"] = {  # int64 fields: strings in JSON
                "successfulCount": str(self.successful_lines),
                "failedCount": str(self.failed_lines),
                "incompleteCount": "0",
            }
        return job

    def to_json(self) -> JsonObject:
        """How the control API lists it (``GET /_vertex/batchJobs``)."""
        return self.resource() | {
            "apiVersion": self.api_version,
            "successfulLines": self.successful_lines,
            "failedLines": self.failed_lines,
            "requests": [request.to_json() for request in self.requests],
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> BatchJob:
        """The job ``to_json`` gave; ``ValueError`` if ``data`` is not one."""
        try:
            inputs = json_object(data["inputConfig"], "inputConfig")
            outputs = json_object(data["outputConfig"], "outputConfig")
            uris = json_object(inputs["gcsSource"], "gcsSource")["uris"]
            prefix = json_object(outputs["gcsDestination"], "gcsDestination")["outputUriPrefix"]
            info = data.get("outputInfo")
            error, requests = data.get("error"), data["requests"]
            succeeded, failed = data["successfulLines"], data["failedLines"]
            if not (
                isinstance(uris, list)
                and isinstance(requests, list)
                and isinstance(succeeded, int)
                and isinstance(failed, int)
                and (error is None or isinstance(error, dict))
            ):
                raise ValueError("a field has the wrong type")
            return cls(
                api_version=str(data["apiVersion"]),
                name=str(data["name"]),
                display_name=str(data["displayName"]),
                model=str(data["model"]),
                input_uris=tuple(str(uri) for uri in uris),
                output_prefix_uri=str(prefix),
                state=BatchState(str(data["state"])),
                create_time=datetime.fromisoformat(str(data["createTime"])),
                update_time=datetime.fromisoformat(str(data["updateTime"])),
                error=error,
                output_directory=(
                    str(json_object(info, "outputInfo")["gcsOutputDirectory"]) if info else None
                ),
                requests=tuple(
                    ReceivedRequest.from_json(json_object(r, "a request")) for r in requests
                ),
                successful_lines=succeeded,
                failed_lines=failed,
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a batch job ({exc}): {data!r}") from None


def _rfc3339(moment: datetime) -> str:
    """A time as Vertex writes one: UTC, microseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _gcs_object(uri: str) -> tuple[str, str]:
    """The bucket and object name of ``gs://bucket/name``; ``ValueError`` for another URI."""
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket:
        raise ValueError(f"not a Cloud Storage URI: {uri!r}")
    return bucket, name


class VertexServer(LocalServer):
    """The local Vertex AI ``generateContent`` and batch prediction; ``url``
    (``http://127.0.0.1:<port>``) is its base URL once started (``start``/``stop``, or ``with``).
    Batch jobs read and write their files in ``storage`` (without it, creating one is refused).
    Thread-safe."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, storage: StorageServer | None = None
    ) -> None:
        super().__init__(host, port, name="Vertex")
        self._storage = storage
        self._lock = threading.Lock()
        self._script: deque[_Scripted] = deque()
        self._requests: list[ReceivedRequest] = []
        self._answered = 0  # numbers responseId
        self._jobs: dict[str, BatchJob] = {}  # by id, in creation order
        self._batch_failures: deque[JsonObject] = deque()  # errors of the next jobs to run
        self._doomed: dict[str, JsonObject] = {}  # job id -> the error it will fail with
        self._job_ids = itertools.count(1_000_000_000_000_000_001)  # Vertex's are long digits

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- what tests ask of it

    def answer(self, text: str, *, finish_reason: str = "STOP", delay_seconds: float = 0) -> None:
        """Script the next answer: a candidate whose only part is ``text``,
        finished ``finish_reason``."""
        self._push(_Scripted(text=text, finish_reason=finish_reason, delay_seconds=delay_seconds))

    def block(self, reason: BlockReason = BlockReason.SAFETY, *, delay_seconds: float = 0) -> None:
        """Script the next answer: a blocked prompt, no candidate,
        ``promptFeedback.blockReason`` ``reason``."""
        self._push(_Scripted(block=reason, delay_seconds=delay_seconds))

    def stop_for_safety(self, *, delay_seconds: float = 0) -> None:
        """Script the next answer: a candidate stopped for safety, with no content."""
        self._push(_Scripted(safety=True, delay_seconds=delay_seconds))

    def fail(self, error: VertexError, *, delay_seconds: float = 0) -> None:
        """Script the next answer: ``error``, in Google's error format."""
        self._push(_Scripted(error=error, delay_seconds=delay_seconds))

    def fail_next_batch(self, message: str = "Internal error occurred.", *, code: int = 13) -> None:
        """Make the next batch job created fail when it runs: ``JOB_STATE_FAILED`` with
        ``error`` ``{"code": code, "message": message}`` (``code`` a ``google.rpc.Code``: 13
        INTERNAL, 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED ...) and no output."""
        with self._lock:
            self._batch_failures.append({"code": code, "message": message})

    def requests(self) -> list[ReceivedRequest]:
        """Every ``generateContent`` request received so far, in arrival order (a batch job's
        lines are its own: ``batch_jobs()``)."""
        with self._lock:
            return list(self._requests)

    def batch_jobs(self) -> list[BatchJob]:
        """Every batch prediction job created so far, as it stands, in creation order."""
        with self._lock:
            return list(self._jobs.values())

    def reset(self) -> None:
        """Forget scripted answers, received requests, batch jobs and scripted job failures."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._jobs.clear()
            self._batch_failures.clear()
            self._doomed.clear()

    def _push(self, scripted: _Scripted) -> None:
        if scripted.delay_seconds < 0:
            raise ValueError(f"delay_seconds must not be negative, got {scripted.delay_seconds}")
        with self._lock:
            self._script.append(scripted)

    # -- answering (called by the request handler threads)

    def _generate(self, request: ReceivedRequest) -> tuple[float, int, JsonObject]:
        """How long to wait, then the status and body to answer ``request`` with."""
        with self._lock:
            self._requests.append(request)
            scripted, number = self._next_scripted()
        return scripted.delay_seconds, *_answer(scripted, request, number)

    def _next_scripted(self) -> tuple[_Scripted, int]:
        """The next scripted answer (``DEFAULT_ANSWER`` when none is), and its number. The caller
        holds the lock."""
        scripted = self._script.popleft() if self._script else _Scripted(text=DEFAULT_ANSWER)
        self._answered += 1
        return scripted, self._answered

    # -- batch prediction (called by the request handler threads)

    def _create_batch(
        self, version: str, project: str, location: str, body: JsonObject
    ) -> tuple[int, JsonObject]:
        try:
            display_name, model, input_uris, output_prefix = _batch_request(body)
        except ValueError as exc:
            return _google_error(400, "INVALID_ARGUMENT", str(exc))
        if self._storage is None:
            message = "this local Vertex server has no Cloud Storage (VertexServer(storage=...))"
            return _google_error(400, "FAILED_PRECONDITION", message)
        now = datetime.now(UTC)
        with self._lock:
            job_id = str(next(self._job_ids))
            job = BatchJob(
                api_version=version,
                name=f"projects/{project}/locations/{location}/batchPredictionJobs/{job_id}",
                display_name=display_name,
                model=model,
                input_uris=input_uris,
                output_prefix_uri=output_prefix,
                state=BatchState.PENDING,
                create_time=now,
                update_time=now,
            )
            self._jobs[job_id] = job
            if self._batch_failures:
                self._doomed[job_id] = self._batch_failures.popleft()
        return 200, job.resource()

    def _find_job(self, project: str, location: str, job_id: str) -> BatchJob | None:
        """The job ``job_id`` if it is one of that project and location. The caller holds the
        lock."""
        job = self._jobs.get(job_id)
        if job is None or not job.name.startswith(f"projects/{project}/locations/{location}/"):
            return None
        return job

    def _get_batch(self, project: str, location: str, job_id: str) -> tuple[int, JsonObject]:
        """The job, run first if it was pending (the first look at it)."""
        with self._lock:
            job = self._find_job(project, location, job_id)
            if job is not None and not job.finished:
                job = self._jobs[job_id] = self._run(job, self._doomed.pop(job_id, None))
        return (200, job.resource()) if job else _no_such_job(project, location, job_id)

    def _cancel_batch(self, project: str, location: str, job_id: str) -> tuple[int, JsonObject]:
        with self._lock:
            job = self._find_job(project, location, job_id)
            if job is None:
                return _no_such_job(project, location, job_id)
            if not job.finished:
                cancelled: JsonObject = {"code": 1, "message": "CANCELED"}
                self._jobs[job_id] = replace(
                    job, state=BatchState.CANCELLED, error=cancelled, update_time=datetime.now(UTC)
                )
                self._doomed.pop(job_id, None)
        return 200, {}

    def _list_batches(self, project: str, location: str) -> tuple[int, JsonObject]:
        with self._lock:
            jobs: list[JsonValue] = [
                job.resource()
                for job in self._jobs.values()
                if job.name.startswith(f"projects/{project}/locations/{location}/")
            ]
        return 200, ({"batchPredictionJobs": jobs} if jobs else {})  # Vertex omits an empty list

    def _run(self, job: BatchJob, doomed: JsonObject | None) -> BatchJob:
        """``job`` run to its end: every input line answered and the predictions written, or
        failed. The caller holds the lock (the storage has its own)."""
        now = datetime.now(UTC)
        if doomed is not None:
            return replace(job, state=BatchState.FAILED, error=doomed, update_time=now)
        if self._storage is None:
            raise RuntimeError("no storage: creating the job should have been refused")
        lines: list[str] = []
        for uri in job.input_uris:
            stored = self._storage.get(*_gcs_object(uri))
            if stored is None:
                error: JsonObject = {"code": 5, "message": f"Input file {uri} was not found."}
                return replace(job, state=BatchState.FAILED, error=error, update_time=now)
            lines += [line for line in stored.data.decode().splitlines() if line.strip()]
        _, project, _, location = job.name.split("/")[:4]
        model = job.model.rsplit("/", 1)[-1]
        predictions: list[JsonObject] = []
        requests: list[ReceivedRequest] = []
        for line in lines:
            request = _line_request(line)
            if request is None:  # as Vertex answers a malformed line: without asking the model
                status, answer = vertex_error_body(VertexError.INVALID_ARGUMENT)
            else:
                received = ReceivedRequest(job.api_version, project, location, model, request, None)
                requests.append(received)
                scripted, number = self._next_scripted()
                status, answer = _answer(scripted, received, number)
            predictions.append(_prediction(line, request, status, answer))
        directory = f"{job.output_prefix_uri.rstrip('/')}/prediction-model-{_rfc3339(now)}"
        bucket, folder = _gcs_object(directory)
        output = "".join(f"{json.dumps(prediction)}\n" for prediction in predictions).encode()
        self._storage.put(bucket, f"{folder}/predictions.jsonl", output, "application/jsonl")
        failed = sum(1 for prediction in predictions if prediction["status"])
        return replace(
            job,
            state=BatchState.SUCCEEDED,
            update_time=now,
            output_directory=directory,
            requests=tuple(requests),
            successful_lines=len(predictions) - failed,
            failed_lines=failed,
        )


def _prediction(
    line: str, request: JsonObject | None, status: int, answer: JsonObject
) -> JsonObject:
    """The line of ``predictions.jsonl`` for the input ``line`` (whose ``request`` it echoes,
    or the line itself if it had none) answered ``status`` ``answer``."""
    prediction: JsonObject = {
        "status": "" if status == 200 else f"{HTTPStatus(status).phrase}: {json.dumps(answer)}",
        "processed_time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "request": request if request is not None else line,
    }
    if status == 200:
        prediction["response"] = answer
    return prediction


def _line_request(line: str) -> JsonObject | None:
    """The ``generateContent`` body of an input line (``{"request": {"contents": [...],
    ...}}``); None if the line is not one."""
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    request = parsed.get("request") if isinstance(parsed, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("contents"), list):
        return None
    return request


def _batch_request(body: JsonObject) -> tuple[str, str, tuple[str, ...], str]:
    """The display name, model, input URIs and output prefix of a job's creation request;
    ``ValueError`` saying what is wrong, as Vertex would refuse it."""
    name, model = body.get("displayName"), body.get("model")
    inputs, outputs = body.get("inputConfig"), body.get("outputConfig")
    if not isinstance(name, str) or not name:
        raise ValueError("displayName is required.")
    if not isinstance(model, str) or "/models/" not in f"/{model}":
        raise ValueError("model must name a model: publishers/google/models/{model}.")
    if not isinstance(inputs, dict) or inputs.get("instancesFormat") != "jsonl":
        raise ValueError("inputConfig.instancesFormat must be jsonl.")
    source = inputs.get("gcsSource")
    uris = source.get("uris") if isinstance(source, dict) else None
    if not isinstance(uris, list) or not uris:
        raise ValueError("inputConfig.gcsSource.uris is required.")
    if not isinstance(outputs, dict) or outputs.get("predictionsFormat") != "jsonl":
        raise ValueError("outputConfig.predictionsFormat must be jsonl.")
    destination = outputs.get("gcsDestination")
    prefix = destination.get("outputUriPrefix") if isinstance(destination, dict) else None
    for uri in [*uris, prefix]:
        _gcs_object(uri if isinstance(uri, str) else repr(uri))  # ValueError if not gs://
    return name, model, tuple(str(uri) for uri in uris), str(prefix)


def _no_such_job(project: str, location: str, job_id: str) -> tuple[int, JsonObject]:
    name = f"projects/{project}/locations/{location}/batchPredictionJobs/{job_id}"
    return _google_error(404, "NOT_FOUND", f"The BatchPredictionJob {name} does not exist.")


def _answer(scripted: _Scripted, request: ReceivedRequest, number: int) -> tuple[int, JsonObject]:
    if scripted.error is not None:
        return vertex_error_body(scripted.error)
    prompt_tokens = tokens("\n".join([request.prompt, request.system_instruction or ""]).strip())
    if scripted.block is not None:
        return 200, {
            "promptFeedback": {
                "blockReason": scripted.block.value,
                "blockReasonMessage": "The prompt was blocked because of safety reasons.",
                "safetyRatings": _SAFETY_RATINGS,
            },
            "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
        }
    candidate: JsonObject
    answer_tokens = 0
    if scripted.safety:
        candidate = {"finishReason": "SAFETY", "safetyRatings": _SAFETY_RATINGS}
    else:
        text = scripted.text or ""
        answer_tokens = tokens(text)
        candidate = {
            "content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": scripted.finish_reason,
            "avgLogprobs": -0.25,
        }
    return 200, {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": answer_tokens,
            "totalTokenCount": prompt_tokens + answer_tokens,
            "trafficType": "ON_DEMAND",
        },
        "modelVersion": request.model,
        "createTime": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "responseId": f"local-{number}",
    }


def vertex_error_body(error: VertexError) -> tuple[int, JsonObject]:
    """The HTTP status and JSON body Vertex answers for ``error``."""
    code, message = _ERRORS[error]
    return _google_error(code, error.value, message)


def _google_error(code: int, status: str, message: str) -> tuple[int, JsonObject]:
    return code, {"error": {"code": code, "message": message, "status": status}}


def _unauthenticated() -> tuple[int, JsonObject]:
    message = (
        "Request is missing required authentication credential. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential."
    )
    return _google_error(401, "UNAUTHENTICATED", message)


# -- the control API


def _delay(body: JsonObject) -> float:
    delay = body.get("delaySeconds", 0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ValueError(f"delaySeconds must be a number of seconds, not negative, got {delay!r}")
    return float(delay)


def _steer_answer(vertex: VertexServer, body: JsonObject) -> None:
    text, finish = body.get("text"), body.get("finishReason", "STOP")
    if not isinstance(text, str):
        raise ValueError("text must be a string")
    if not isinstance(finish, str) or not finish:
        raise ValueError("finishReason must be a non-empty string")
    vertex.answer(text, finish_reason=finish, delay_seconds=_delay(body))


def _steer_block(vertex: VertexServer, body: JsonObject) -> None:
    reason = enum_field(BlockReason, body.get("reason", BlockReason.SAFETY.value), "reason")
    vertex.block(reason, delay_seconds=_delay(body))


def _steer_fail(vertex: VertexServer, body: JsonObject) -> None:
    vertex.fail(enum_field(VertexError, body.get("error"), "error"), delay_seconds=_delay(body))


def _steer_fail_next_batch(vertex: VertexServer, body: JsonObject) -> None:
    message, code = body.get("message"), body.get("code", 13)
    if not isinstance(message, str) or not message:
        raise ValueError("message must be a non-empty string")
    if isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 16:
        raise ValueError(f"code must be a google.rpc.Code from 1 to 16, got {code!r}")
    vertex.fail_next_batch(message, code=code)


# The control API's actions (``POST /_vertex/<action>``): each does what the method of its name
# does (``safety``: ``stop_for_safety``).
_CONTROL_ACTIONS: dict[str, Callable[[VertexServer, JsonObject], None]] = {
    "answer": _steer_answer,
    "block": _steer_block,
    "safety": lambda vertex, body: vertex.stop_for_safety(delay_seconds=_delay(body)),
    "fail": _steer_fail,
    "failNextBatch": _steer_fail_next_batch,
    "reset": lambda vertex, _: vertex.reset(),
}


def _handler_for(vertex: VertexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            path = self._request_path()
            if path == f"{CONTROL_PATH}requests":
                listed: list[JsonValue] = [r.to_json() for r in vertex.requests()]
                self._reply(200, {"requests": listed})
            elif path == f"{CONTROL_PATH}batchJobs":
                jobs: list[JsonValue] = [job.to_json() for job in vertex.batch_jobs()]
                self._reply(200, {"batchJobs": jobs})
            elif (match := _BATCH_JOB_PATH.match(path)) and not match["cancel"]:
                if self._has_bearer():
                    self._reply(
                        *vertex._get_batch(match["project"], match["location"], match["id"])
                    )
                else:
                    self._reply(*_unauthenticated())
            elif match := _BATCH_JOBS_PATH.match(path):
                if self._has_bearer():
                    self._reply(*vertex._list_batches(match["project"], match["location"]))
                else:
                    self._reply(*_unauthenticated())
            else:
                self._reply(*_google_error(404, "NOT_FOUND", "Not Found"))

        def _json_body(self, raw: bytes) -> JsonObject | None:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return None
            return body if isinstance(body, dict) else None

        def do_POST(self) -> None:  # noqa: N802
            raw = self._request_body()
            path = self._request_path()
            if path.startswith(CONTROL_PATH):
                action = path.removeprefix(CONTROL_PATH)
                self._reply(*answer_control(vertex, _CONTROL_ACTIONS, action, raw))
                return
            match = (
                _GENERATE_PATH.match(path)
                or _BATCH_JOBS_PATH.match(path)
                or _BATCH_JOB_PATH.match(path)
            )
            if match is None:
                self._reply(*_google_error(404, "NOT_FOUND", "Not Found"))
                return
            if not self._has_bearer():
                self._reply(*_unauthenticated())
                return
            body = self._json_body(raw)
            where = match["project"], match["location"]
            if match.re is _BATCH_JOB_PATH and match["cancel"]:
                self._reply(*vertex._cancel_batch(*where, match["id"]))
            elif match.re is _BATCH_JOB_PATH:  # a POST to a job without a method
                self._reply(*_google_error(404, "NOT_FOUND", "Not Found"))
            elif match.re is _BATCH_JOBS_PATH:
                if body is None:
                    self._reply(*vertex_error_body(VertexError.INVALID_ARGUMENT))
                else:
                    self._reply(*vertex._create_batch(match["version"], *where, body))
            else:
                self._generate(match, body)

        def _generate(self, match: re.Match[str], body: JsonObject | None) -> None:
            if body is None or not isinstance(body.get("contents"), list):
                self._reply(*vertex_error_body(VertexError.INVALID_ARGUMENT))
                return
            request = ReceivedRequest(
                api_version=match["version"],
                project=match["project"],
                location=match["location"],
                model=match["model"],
                body=body,
                server_timeout=self.headers.get("X-Server-Timeout"),
            )
            delay, status, answer = vertex._generate(request)
            if delay:
                time.sleep(delay)
            try:
                self._reply(status, answer)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped waiting (its timeout)

    return Handler


class VertexRemote:
    """The local Vertex server at ``url`` (``VertexServer.url`` of the process that started it),
    steered over its control API with the methods of ``VertexServer``. Raises
    ``EmulatorNotRunning`` if nothing answers there, ``EmulatorError`` if the server refuses a
    request. Plain ``urllib``, so it needs nothing installed."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_S) -> None:
        self._control = ControlClient(url, CONTROL_PATH, name="Vertex", timeout=timeout)
        self.url = self._control.url

    def answer(self, text: str, *, finish_reason: str = "STOP", delay_seconds: float = 0) -> None:
        """Script the next answer: ``text`` (``VertexServer.answer``)."""
        body: JsonObject = {"text": text, "finishReason": finish_reason}
        self._control.call("POST", "answer", body | {"delaySeconds": delay_seconds})

    def block(self, reason: BlockReason = BlockReason.SAFETY, *, delay_seconds: float = 0) -> None:
        """Script the next answer: a blocked prompt (``VertexServer.block``)."""
        body: JsonObject = {"reason": reason.value, "delaySeconds": delay_seconds}
        self._control.call("POST", "block", body)

    def stop_for_safety(self, *, delay_seconds: float = 0) -> None:
        """Script the next answer: a candidate stopped for safety."""
        self._control.call("POST", "safety", {"delaySeconds": delay_seconds})

    def fail(self, error: VertexError, *, delay_seconds: float = 0) -> None:
        """Script the next answer: ``error`` (``VertexServer.fail``)."""
        self._control.call("POST", "fail", {"error": error.value, "delaySeconds": delay_seconds})

    def requests(self) -> list[ReceivedRequest]:
        """Every ``generateContent`` request received so far, in arrival order."""
        listed = self._control.call("GET", "requests").get("requests")
        if not isinstance(listed, list):
            raise EmulatorError(f"{self.url} did not list requests", body=listed)
        return [ReceivedRequest.from_json(json_object(r, "a received request")) for r in listed]

    def fail_next_batch(self, message: str = "Internal error occurred.", *, code: int = 13) -> None:
        """Make the next batch job created fail when it runs (``VertexServer.fail_next_batch``)."""
        self._control.call("POST", "failNextBatch", {"message": message, "code": code})

    def batch_jobs(self) -> list[BatchJob]:
        """Every batch prediction job created so far, as it stands, in creation order."""
        listed = self._control.call("GET", "batchJobs").get("batchJobs")
        if not isinstance(listed, list):
            raise EmulatorError(f"{self.url} did not list batch jobs", body=listed)
        return [BatchJob.from_json(json_object(job, "a batch job")) for job in listed]

    def reset(self) -> None:
        """Forget scripted answers, received requests, batch jobs and scripted job failures."""
        self._control.call("POST", "reset", {})

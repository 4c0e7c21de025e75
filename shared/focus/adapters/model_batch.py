"""Gemini batch prediction on Vertex AI, through google-genai: many prompts in one job, answered
within a day at half the online price (docs/adr/0010).

* ``request_line(key, prompt, schema)``: one line of a job's JSONL input, asking what
  ``model.generate`` asks online (the prompt as the user turn, JSON following ``schema``);
* ``submit(display_name, input_uris, output_prefix_uri)`` creates the job, ``job(name)`` reads
  it back: a ``BatchJob`` with its ``BatchState``;
* ``output_uris(job)`` lists the predictions files a finished job wrote, ``results_of(uri)``
  reads one (``results(job)``: all of them): one ``BatchResult`` per line, carrying the line's
  ``key`` and an answer, a refusal or an error.

Vertex copies only a line's ``request`` into its prediction, in no promised order, so the key
travels in the request's ``labels`` (``KEY_LABEL``), which Vertex accepts on a request and
echoes: a label value, so lowercase letters, digits, ``_`` and ``-``, 63 at most.

Calls raise ``ModelUnavailable`` (429, 5xx, a timeout, a network failure) or
``ModelRequestRejected`` (400, 403, 404) as ``model.generate`` does; nothing is retried here.
``submit`` and ``job`` are child spans (``vertex.batchPredictionJobs.create``/``.get``);
predictions are read through focus.adapters.objects (a listing is a span, reading is not).

The client, model and region are focus.adapters.model's (``FOCUS_VERTEX_MODEL``,
``FOCUS_VERTEX_LOCATION``, ``FOCUS_VERTEX_ENDPOINT`` on the emulators).

Access: creating and reading jobs needs ``aiplatform.batchPredictionJobs.create``/``.get``
(``NEEDS``); the job itself reads its input and writes its output in Cloud Storage as Vertex AI's
service agent (``service-<project number>@gcp-sa-aiplatform.iam.gserviceaccount.com``), which
needs the objects of the bucket.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from focus.adapters import logs, objects, tracing
from focus.adapters.iam import Need
from focus.adapters.model import (
    ModelAnswer,
    ModelRefused,
    _answer,
    _client,
    _usage,
    model_name,
    vertex_errors,
)

if TYPE_CHECKING:
    from google.genai import types

KEY_LABEL = "focus_key"
# What Vertex accepts as a label value.
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{1,63}$")
_MIME_JSON = "application/json"

# IAM (focus_tools.permissions).
NEEDS = {
    "submit": (Need("aiplatform.batchPredictionJobs.create", why="ask Gemini in batch"),),
    "job": (Need("aiplatform.batchPredictionJobs.get", why="follow a batch job"),),
}


class BatchState(StrEnum):
    """Where a batch job stands (Vertex's ``JOB_STATE_*``)."""

    PENDING = "pending"  # queued or preparing
    RUNNING = "running"  # answering (also while being cancelled, paused or updated)
    SUCCEEDED = "succeeded"  # every line has its prediction
    PARTIALLY_SUCCEEDED = "partially_succeeded"  # some predictions written, some missing
    FAILED = "failed"  # no usable output: see the job's error
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # not finished within Vertex's time limit


_STATES = {
    "JOB_STATE_QUEUED": BatchState.PENDING,
    "JOB_STATE_PENDING": BatchState.PENDING,
    "JOB_STATE_RUNNING": BatchState.RUNNING,
    "JOB_STATE_CANCELLING": BatchState.RUNNING,
    "JOB_STATE_PAUSED": BatchState.RUNNING,
    "JOB_STATE_UPDATING": BatchState.RUNNING,
    "JOB_STATE_SUCCEEDED": BatchState.SUCCEEDED,
    "JOB_STATE_PARTIALLY_SUCCEEDED": BatchState.PARTIALLY_SUCCEEDED,
    "JOB_STATE_FAILED": BatchState.FAILED,
    "JOB_STATE_CANCELLED": BatchState.CANCELLED,
    "JOB_STATE_EXPIRED": BatchState.EXPIRED,
}
_ENDED = frozenset(
    {
        BatchState.SUCCEEDED,
        BatchState.PARTIALLY_SUCCEEDED,
        BatchState.FAILED,
        BatchState.CANCELLED,
        BatchState.EXPIRED,
    }
)


@dataclass(frozen=True)
class BatchJob:
    """A batch job: its resource ``name``, its ``state``, where it writes
    (``output_prefix_uri``, and the folder it wrote in, ``output_directory``, once Vertex says),
    and why it failed or was cancelled (``error``)."""

    name: str
    state: BatchState
    output_prefix_uri: str
    error: str | None = None
    output_directory: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the job has ended: it will not change again."""
        return self.state in _ENDED


@dataclass(frozen=True)
class BatchResult:
    """One line's outcome, for the line sent with ``key``: exactly one of ``answer`` (to be
    checked by the caller, as ``model.generate``'s), ``refused`` (the model would not answer this
    input) and ``error`` (Vertex could not answer the line: its status)."""

    key: str
    answer: ModelAnswer | None = None
    refused: ModelRefused | None = None
    error: str | None = None


def request_line(key: str, prompt: str, schema: dict[str, Any]) -> str:
    """The JSONL line asking the model about ``prompt`` with the answer following the JSON
    Schema ``schema``, as ``model.generate`` asks online, carrying ``key`` (a label value:
    lowercase letters, digits, ``_`` and ``-``, 63 at most; ``ValueError`` otherwise)."""
    if not _LABEL_VALUE.match(key):
        raise ValueError(f"a batch key must be 1-63 of a-z, 0-9, _ and -, got {key!r}")
    request = {
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": {"responseMimeType": _MIME_JSON, "responseJsonSchema": schema},
        "labels": {KEY_LABEL: key},
    }
    return json.dumps({"request": request}, ensure_ascii=False, separators=(",", ":"))


def submit(display_name: str, input_uris: list[str], output_prefix_uri: str) -> BatchJob:
    """Create a batch job answering every line of the JSONL files ``input_uris`` into a folder
    under ``output_prefix_uri``, with the configured model."""
    from google.genai import types

    model = model_name()
    source = types.BatchJobSource(format="jsonl", gcs_uri=list(input_uris))
    config = types.CreateBatchJobConfig(
        display_name=display_name,
        dest=types.BatchJobDestination(format="jsonl", gcs_uri=output_prefix_uri),
    )
    with tracing.span("vertex.batchPredictionJobs.create", model=model, files=len(input_uris)):
        with vertex_errors():
            created = _client().batches.create(model=model, src=source, config=config)
        job = _batch_job(created)
    logs.get_logger().info("batch job submitted", job=job.name, model=model, files=len(input_uris))
    return job


def job(name: str) -> BatchJob:
    """The batch job ``name`` (``projects/.../locations/.../batchPredictionJobs/<id>``) as it
    stands."""
    with tracing.span("vertex.batchPredictionJobs.get"):
        with vertex_errors():
            found = _client().batches.get(name=name)
        return _batch_job(found)


def output_uris(job: BatchJob) -> list[str]:
    """The predictions files ``job`` wrote (every ``predictions*.jsonl`` in the folder Vertex
    named, ``output_directory``), in name order; none before it names one (the prefix may hold
    other jobs' folders: nothing there is known to be this job's)."""
    if job.output_directory is None:
        return []
    listed = objects.list_uris(job.output_directory.rstrip("/") + "/")
    return [uri for uri in listed if _is_predictions(uri.rsplit("/", 1)[-1])]


def results_of(uri: str) -> Iterator[BatchResult]:
    """The predictions of one file of ``output_uris``, a line at a time. A line whose key is
    missing was not written by ``request_line``: logged and skipped."""
    for line in objects.read_lines(uri):
        result = _result(line)
        if result is None:
            logs.get_logger().warning("batch prediction without a key", file=uri)
            continue
        yield result


def results(job: BatchJob) -> Iterator[BatchResult]:
    """Every prediction ``job`` wrote: ``results_of`` each of its ``output_uris``."""
    for uri in output_uris(job):
        yield from results_of(uri)


def _is_predictions(file: str) -> bool:
    # Gemini writes predictions.jsonl; other models predictions_0001.jsonl, ... (and errors_*).
    return file.startswith("predictions") and file.endswith(".jsonl")


def _result(line: str) -> BatchResult | None:
    """A prediction line's outcome; None if it carries no key."""
    from google.genai import types

    prediction = json.loads(line)
    request = prediction.get("request")
    labels = request.get("labels") if isinstance(request, dict) else None
    key = labels.get(KEY_LABEL) if isinstance(labels, dict) else None
    if not isinstance(key, str):
        return None
    status, response = prediction.get("status"), prediction.get("response")
    if status or not isinstance(response, dict):
        return BatchResult(key, error=str(status or "no response"))
    # As the SDK reads an online answer: fields it does not know are dropped.
    parsed = types.GenerateContentResponse._from_response(response=response, kwargs={})
    usage = _usage(parsed)
    try:
        return BatchResult(key, answer=_answer(parsed, usage))
    except ModelRefused as refused:
        return BatchResult(key, refused=refused)


def _batch_job(found: types.BatchJob) -> BatchJob:
    state = found.state.value if found.state is not None else ""
    error = found.error
    directory = found.output_info.gcs_output_directory if found.output_info else None
    return BatchJob(
        name=found.name or "",
        # A state this code does not know yet: not ended, so it is asked about again.
        state=_STATES.get(state, BatchState.RUNNING),
        output_prefix_uri=(found.dest.gcs_uri if found.dest else None) or "",
        error=f"{error.message or 'no message'} (code {error.code})" if error else None,
        output_directory=directory,
    )

"""Weekly insights are asked in batch (focus.adapters.model_batch, docs/adr/0010): the real
google-genai client submits a Vertex AI batch prediction job over JSONL files in Cloud Storage and
follows it, against the harness's local Vertex AI and Cloud Storage; each prediction comes back
under the key its line was sent with, as an answer to check, a refusal, or an error.

No emulator is involved: the adapters only need a project id and the emulated environment.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from local_vendors import BUCKET, INSIGHT, captured_log, logged, pointed_at

from firebase_emulator_harness import StorageServer, VertexError, VertexServer
from firebase_emulator_harness.vertex import BlockReason, tokens
from focus.adapters import model, model_batch, objects
from focus.adapters.model import ModelRequestRejected, ModelUnavailable, TokenUsage
from focus.adapters.model_batch import BatchJob, BatchResult, BatchState
from focus.domain.insights import Insight, answer_schema

RUN = f"gs://{BUCKET}/runs/2026-11-30"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[VertexServer, StorageServer]]:
    with (
        StorageServer() as storage,
        VertexServer(storage=storage) as vertex,
        pointed_at(vertex=vertex, storage=storage),
    ):
        yield vertex, storage


@pytest.fixture
def storage(servers: tuple[VertexServer, StorageServer]) -> StorageServer:
    servers[1].reset()
    return servers[1]


@pytest.fixture
def vertex(servers: tuple[VertexServer, StorageServer], storage: StorageServer) -> VertexServer:
    servers[0].reset()
    return servers[0]


@pytest.fixture
def log() -> io.StringIO:
    return captured_log()


def prompt(key: str) -> str:
    return f'Write a weekly insight. Facts: {{"person": "{key}", "screenMinutes": 190}}'


def write_part(name: str, keys: list[str]) -> str:
    uri = f"{RUN}/in/{name}.jsonl"
    objects.write_lines(
        uri, (model_batch.request_line(k, prompt(k), answer_schema()) for k in keys)
    )
    return uri


def run(*input_uris: str) -> BatchJob:
    """A job over ``input_uris``, submitted and then read back (the local server runs it then)."""
    submitted = model_batch.submit("insights 2026-11-30", list(input_uris), f"{RUN}/out")
    return model_batch.job(submitted.name)


def test_a_line_asks_what_an_online_call_asks_and_carries_its_key(vertex: VertexServer) -> None:
    model.generate(prompt("k-1"), answer_schema(), timeout_s=10)
    [online] = vertex.requests()

    line = json.loads(model_batch.request_line("k-1", prompt("k-1"), answer_schema()))

    assert list(line) == ["request"]  # Vertex echoes only the request
    assert line["request"] == online.body | {"labels": {model_batch.KEY_LABEL: "k-1"}}


@pytest.mark.parametrize("key", ["", "Upper", "a.b", "x" * 64, "ü"])
def test_a_key_vertex_would_not_take_as_a_label_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="batch key"):
        model_batch.request_line(key, "p", {})


def test_a_submitted_job_is_pending_then_succeeds_with_every_answer_under_its_key(
    vertex: VertexServer, storage: StorageServer
) -> None:
    first, second = write_part("0", ["k-1"]), write_part("1", ["k-2", "k-3"])
    vertex.answer(json.dumps(INSIGHT))
    vertex.answer(json.dumps(INSIGHT | {"headline": "Mornings hold"}))

    submitted = model_batch.submit("insights 2026-11-30", [first, second], f"{RUN}/out")
    job = model_batch.job(submitted.name)

    assert (submitted.state, submitted.finished) == (BatchState.PENDING, False)
    assert list(model_batch.results(submitted)) == []  # nothing written yet
    assert submitted.output_prefix_uri == f"{RUN}/out"
    assert (job.name, job.state, job.finished, job.error) == (
        submitted.name,
        BatchState.SUCCEEDED,
        True,
        None,
    )
    assert job.output_directory is not None
    assert job.output_directory.startswith(f"{RUN}/out/prediction-model-")
    results = {result.key: result for result in model_batch.results(job)}
    assert list(results) == ["k-1", "k-2", "k-3"]
    answer = results["k-1"].answer
    assert answer is not None and results["k-1"].refused is results["k-1"].error is None
    assert Insight.model_validate_json(answer.text or "").headline == "Tuesdays drift"
    assert (answer.finish_reason, answer.model_version) == ("STOP", model.DEFAULT_MODEL)
    answer_tokens = tokens(json.dumps(INSIGHT))
    assert answer.usage == TokenUsage(
        prompt=tokens(prompt("k-1")),
        answer=answer_tokens,
        total=tokens(prompt("k-1")) + answer_tokens,
    )
    assert results["k-3"].answer is not None and results["k-3"].answer.text == "{}"  # unscripted
    [received] = vertex.batch_jobs()
    assert received.model == f"publishers/google/models/{model.DEFAULT_MODEL}"
    assert received.input_uris == (first, second)
    assert received.display_name == "insights 2026-11-30"
    assert received.name.startswith("projects/demo-focus/locations/europe-west1/")


def test_refusals_and_line_errors_come_back_under_their_keys(vertex: VertexServer) -> None:
    uri = write_part("0", ["k-1", "k-2", "k-3", "k-4"])
    vertex.block(BlockReason.PROHIBITED_CONTENT)
    vertex.stop_for_safety()
    vertex.fail(VertexError.RESOURCE_EXHAUSTED)
    vertex.answer('{"headline": "Tues', finish_reason="MAX_TOKENS")

    blocked, stopped, failed, cut = model_batch.results(run(uri))

    assert blocked.key == "k-1" and blocked.answer is None and blocked.refused is not None
    assert (blocked.refused.reason, blocked.refused.blocked_prompt) == ("PROHIBITED_CONTENT", True)
    assert blocked.refused.usage.prompt == tokens(prompt("k-1"))
    assert stopped.refused is not None
    assert (stopped.refused.reason, stopped.refused.blocked_prompt) == ("SAFETY", False)
    assert failed == BatchResult("k-3", error=failed.error)
    assert failed.error is not None and "RESOURCE_EXHAUSTED" in failed.error
    assert cut.answer is not None and cut.answer.finish_reason == "MAX_TOKENS"  # caller refuses


def test_a_failed_job_says_why_and_has_no_results(vertex: VertexServer) -> None:
    uri = write_part("0", ["k-1"])
    vertex.fail_next_batch("Quota exceeded for batch prediction.", code=8)

    job = run(uri)

    assert (job.state, job.finished) == (BatchState.FAILED, True)
    assert job.error == "Quota exceeded for batch prediction. (code 8)"
    assert list(model_batch.results(job)) == []


def test_a_prediction_without_a_key_is_skipped_and_logged(
    vertex: VertexServer, storage: StorageServer, log: io.StringIO
) -> None:
    uri = write_part("0", ["k-1"])
    foreign = {"request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}}
    storage.put(BUCKET, "runs/2026-11-30/in/1.jsonl", json.dumps(foreign).encode() + b"\n")

    results = list(model_batch.results(run(uri, f"{RUN}/in/1.jsonl")))

    assert [result.key for result in results] == ["k-1"]
    assert len(logged(log, "batch prediction without a key")) == 1


def test_only_this_jobs_predictions_are_read(vertex: VertexServer) -> None:
    earlier = run(write_part("0", ["k-old"]))
    later = run(write_part("1", ["k-new"]))

    assert [r.key for r in model_batch.results(earlier)] == ["k-old"]
    assert [r.key for r in model_batch.results(later)] == ["k-new"]


def test_a_jobs_predictions_files_can_be_read_one_by_one(vertex: VertexServer) -> None:
    job = run(write_part("0", ["k-1", "k-2"]))

    [uri] = model_batch.output_uris(job)

    assert uri == f"{job.output_directory}/predictions.jsonl"
    assert [r.key for r in model_batch.results_of(uri)] == ["k-1", "k-2"]


def test_a_request_vertex_refuses_is_rejected_not_retried(vertex: VertexServer) -> None:
    with pytest.raises(ModelRequestRejected) as invalid:
        model_batch.submit("insights", [f"{RUN}/in/0.jsonl"], "gs://")
    with pytest.raises(ModelRequestRejected) as missing:
        model_batch.job("projects/demo-focus/locations/europe-west1/batchPredictionJobs/404")

    assert (invalid.value.status, invalid.value.reason) == (400, "INVALID_ARGUMENT")
    assert (missing.value.status, missing.value.reason) == (404, "NOT_FOUND")


def test_vertex_out_of_reach_is_unavailability(
    vertex: VertexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with VertexServer() as gone:
        url = gone.url  # a port nothing listens on once it stops
    monkeypatch.setenv(model.ENDPOINT_SETTING, url)
    model._client.cache_clear()
    try:
        with pytest.raises(ModelUnavailable) as unavailable:
            model_batch.job("projects/demo-focus/locations/europe-west1/batchPredictionJobs/1")
    finally:
        model._client.cache_clear()

    assert unavailable.value.status is None


def test_submitting_and_reading_a_job_are_spans(vertex: VertexServer, log: io.StringIO) -> None:
    run(write_part("0", ["k-1"]))

    spans = [line["name"] for line in logged(log, "span")]
    assert spans == [
        "storage.objects.insert",
        "vertex.batchPredictionJobs.create",
        "vertex.batchPredictionJobs.get",
    ]
    [submitted] = logged(log, "batch job submitted")
    assert (submitted["model"], submitted["files"]) == (model.DEFAULT_MODEL, 1)

"""The local Vertex AI server answers Gemini's ``generateContent`` and batch prediction jobs as
Vertex does, to the real google-genai client pointed at it as docs/adr/0009 says, with the answers
a test scripts from another process through its control API; a batch job reads its input and
writes its predictions in the local Cloud Storage as Vertex writes them. No emulators needed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import google.oauth2.credentials
import pytest
import requests
from another_process import served_in_another_process
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from firebase_emulator_harness import (
    BatchState,
    EmulatorError,
    StorageRemote,
    StorageServer,
    VertexError,
    VertexRemote,
    VertexServer,
)
from firebase_emulator_harness.vertex import DEFAULT_ANSWER, BlockReason, tokens

MODEL = "gemini-2.5-flash-lite"
PROMPT = "Write one weekly insight about these figures: {}"


class Tip(BaseModel):
    headline: str
    minutes: int


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """A Vertex server in another process, as scripts/test runs one; its URL."""
    with served_in_another_process(VertexServer) as url:
        yield url


@pytest.fixture
def vertex(served: str) -> VertexRemote:
    remote = VertexRemote(served)
    remote.reset()
    return remote


@pytest.fixture
def client(served: str) -> genai.Client:
    """The production client, pointed at the local server exactly as the adapter points it."""
    return genai.Client(
        vertexai=True,
        project="demo-focus",
        location="europe-west1",
        credentials=google.oauth2.credentials.Credentials(token="owner"),  # type: ignore[no-untyped-call]
        http_options=types.HttpOptions(base_url=served + "/", api_version="v1", timeout=10_000),
    )


def ask(client: genai.Client, prompt: str = PROMPT) -> types.GenerateContentResponse:
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_json_schema=Tip.model_json_schema()
    )
    return client.models.generate_content(model=MODEL, contents=prompt, config=config)


def test_a_scripted_structured_answer_reaches_the_client_parsed(
    vertex: VertexRemote, client: genai.Client
) -> None:
    vertex.answer('{"headline": "Tuesdays drift", "minutes": 45}')

    response = ask(client)

    assert response.text == '{"headline": "Tuesdays drift", "minutes": 45}'
    assert Tip.model_validate_json(response.text or "") == Tip(
        headline="Tuesdays drift", minutes=45
    )
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.model_version == MODEL
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == tokens(PROMPT) > 0
    assert usage.candidates_token_count == tokens('{"headline": "Tuesdays drift", "minutes": 45}')
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count


def test_the_server_records_what_the_client_sent_where(
    vertex: VertexRemote, client: genai.Client
) -> None:
    ask(client, "exactly this prompt")

    [received] = vertex.requests()
    assert (received.api_version, received.project, received.location, received.model) == (
        "v1",
        "demo-focus",
        "europe-west1",
        MODEL,
    )
    assert received.prompt == "exactly this prompt"
    assert received.body["contents"] == [
        {"role": "user", "parts": [{"text": "exactly this prompt"}]}
    ]
    assert received.generation_config == {
        "responseMimeType": "application/json",
        "responseJsonSchema": Tip.model_json_schema(),
    }
    assert received.server_timeout == "10"  # the client's 10 000 ms, in seconds


def test_with_nothing_scripted_the_answer_is_an_empty_json_object(
    vertex: VertexRemote, client: genai.Client
) -> None:
    response = ask(client)

    assert response.text == DEFAULT_ANSWER == "{}"
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP


def test_scripted_answers_are_given_in_order_then_the_default(
    vertex: VertexRemote, client: genai.Client
) -> None:
    vertex.answer('{"headline": "first", "minutes": 1}')
    vertex.answer('{"headline": "second", "minutes": 2}', finish_reason="MAX_TOKENS")

    answers = [ask(client) for _ in range(3)]

    assert [a.text for a in answers] == [
        '{"headline": "first", "minutes": 1}',
        '{"headline": "second", "minutes": 2}',
        "{}",
    ]
    assert answers[1].candidates and answers[1].candidates[0].finish_reason == "MAX_TOKENS"
    assert len(vertex.requests()) == 3


def test_a_blocked_prompt_has_no_answer_and_says_why(
    vertex: VertexRemote, client: genai.Client
) -> None:
    vertex.block(BlockReason.PROHIBITED_CONTENT)

    response = ask(client)

    assert response.text is None
    assert response.parsed is None
    assert not response.candidates
    assert response.prompt_feedback is not None
    assert response.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    usage = response.usage_metadata
    assert usage is not None and usage.prompt_token_count == usage.total_token_count == tokens(
        PROMPT
    )


def test_an_answer_stopped_for_safety_has_no_text(
    vertex: VertexRemote, client: genai.Client
) -> None:
    vertex.stop_for_safety()

    response = ask(client)

    assert response.text is None
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert response.candidates[0].content is None
    assert response.usage_metadata is not None
    assert response.usage_metadata.candidates_token_count == 0


def test_a_malformed_answer_is_passed_on_as_written(
    vertex: VertexRemote, client: genai.Client
) -> None:
    vertex.answer("Sure! Here is your insight: headline=Tuesdays")

    response = ask(client)

    assert response.text == "Sure! Here is your insight: headline=Tuesdays"
    assert response.parsed is None  # the SDK swallows the misfit: why the adapter validates


@pytest.mark.parametrize(
    ("error", "raised", "code"),
    [
        (VertexError.RESOURCE_EXHAUSTED, errors.ClientError, 429),
        (VertexError.INVALID_ARGUMENT, errors.ClientError, 400),
        (VertexError.INTERNAL, errors.ServerError, 500),
        (VertexError.UNAVAILABLE, errors.ServerError, 503),
    ],
)
def test_a_scripted_error_raises_the_sdks_error_with_googles_code_and_status(
    vertex: VertexRemote,
    client: genai.Client,
    error: VertexError,
    raised: type[errors.APIError],
    code: int,
) -> None:
    vertex.fail(error)

    with pytest.raises(raised) as failure:
        ask(client)

    assert (failure.value.code, failure.value.status) == (code, error.value)
    assert failure.value.message
    assert len(vertex.requests()) == 1  # the SDK's retries are off by default: one attempt


def test_a_delayed_answer_runs_into_the_clients_timeout(
    vertex: VertexRemote, client: genai.Client
) -> None:
    import httpx2

    vertex.answer("{}", delay_seconds=2)
    config = types.GenerateContentConfig(http_options=types.HttpOptions(timeout=300))

    with pytest.raises(httpx2.TimeoutException):
        client.models.generate_content(model=MODEL, contents=PROMPT, config=config)

    [received] = vertex.requests()
    assert received.server_timeout == "1"  # 300 ms, rounded up to whole seconds


def test_a_request_without_a_bearer_is_unauthenticated(vertex: VertexRemote) -> None:
    url = (
        f"{vertex.url}/v1/projects/demo-focus/locations/europe-west1/publishers/google/models/"
        f"{MODEL}:generateContent"
    )
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

    answer = requests.post(url, json=body, timeout=10)

    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == "UNAUTHENTICATED"
    assert vertex.requests() == []


def test_a_request_without_contents_is_an_invalid_argument(vertex: VertexRemote) -> None:
    url = (
        f"{vertex.url}/v1beta1/projects/demo-focus/locations/europe-west1/publishers/google/"
        f"models/{MODEL}:generateContent"
    )

    answer = requests.post(url, data=b"not json", headers={"Authorization": "Bearer x"}, timeout=10)

    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": 400,
        "message": "Request contains an invalid argument.",
        "status": "INVALID_ARGUMENT",
    }


def test_a_malformed_control_request_is_refused_and_changes_nothing(
    vertex: VertexRemote, client: genai.Client
) -> None:
    with pytest.raises(EmulatorError) as refused:
        vertex._control.call("POST", "fail", {"error": "TEAPOT"})
    with pytest.raises(EmulatorError):
        vertex._control.call("POST", "answer", {"text": 42})
    with pytest.raises(EmulatorError):
        vertex._control.call("POST", "answer", {"text": "{}", "delaySeconds": -1})

    assert refused.value.status == 400
    assert ask(client).text == "{}"  # nothing was scripted


def test_reset_forgets_scripted_answers_and_requests(
    vertex: VertexRemote, client: genai.Client
) -> None:
    ask(client, "before the reset")
    vertex.fail(VertexError.INTERNAL)
    vertex.reset()

    assert ask(client).text == "{}"
    assert [r.prompt for r in vertex.requests()] == [PROMPT]


def test_an_in_process_server_answers_the_same_way() -> None:
    with VertexServer() as vertex:
        vertex.answer('{"headline": "here", "minutes": 5}')
        client = genai.Client(
            vertexai=True,
            project="demo-focus",
            location="europe-west4",
            credentials=google.oauth2.credentials.Credentials(token="owner"),  # type: ignore[no-untyped-call]
            http_options=types.HttpOptions(base_url=vertex.url + "/"),
        )

        response = ask(client)

        assert response.text == '{"headline": "here", "minutes": 5}'
        [received] = vertex.requests()
        assert (received.api_version, received.location) == ("v1beta1", "europe-west4")


# -- batch prediction: JSONL in Cloud Storage, answered line by line


@pytest.fixture(scope="module")
def batch_servers() -> Iterator[tuple[str, str]]:
    """A Cloud Storage server and a Vertex server whose batch jobs use it, as scripts/test runs
    them; their URLs (steered over HTTP, as from another process)."""
    with StorageServer() as storage, VertexServer(storage=storage) as vertex:
        yield vertex.url, storage.url


@pytest.fixture
def batch_vertex(batch_servers: tuple[str, str]) -> VertexRemote:
    remote = VertexRemote(batch_servers[0])
    remote.reset()
    return remote


@pytest.fixture
def storage(batch_servers: tuple[str, str]) -> StorageRemote:
    remote = StorageRemote(batch_servers[1])
    remote.reset()
    return remote


@pytest.fixture
def batch_client(batch_servers: tuple[str, str]) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project="demo-focus",
        location="europe-west1",
        credentials=google.oauth2.credentials.Credentials(token="owner"),  # type: ignore[no-untyped-call]
        http_options=types.HttpOptions(
            base_url=batch_servers[0] + "/", api_version="v1", timeout=10_000
        ),
    )


def batch_line(prompt: str, key: str) -> str:
    """An input line as Vertex documents it, its key in the request's labels (which Vertex
    echoes, unlike a field beside the request)."""
    request = {
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": {"responseMimeType": "application/json"},
        "labels": {"key": key},
    }
    return json.dumps({"request": request, "ignored": key})


def put_lines(storage: StorageRemote, name: str, lines: list[str]) -> str:
    storage.put("batches", name, "".join(f"{line}\n" for line in lines).encode())
    return f"gs://batches/{name}"


def submit(
    client: genai.Client, *input_uris: str, dest: str = "gs://batches/out"
) -> types.BatchJob:
    return client.batches.create(
        model=MODEL,
        src=types.BatchJobSource(format="jsonl", gcs_uri=list(input_uris)),
        config=types.CreateBatchJobConfig(display_name="weekly insights", dest=dest),
    )


def predictions(storage: StorageRemote, prefix: str = "out/") -> list[dict[str, Any]]:
    [(name, data)] = storage.objects("batches", prefix).items()
    assert re.fullmatch(r"out/prediction-model-\d{4}-\d\d-\d\dT[\d:.]+Z/predictions\.jsonl", name)
    return [json.loads(line) for line in data.decode().splitlines()]


def answer_text(prediction: dict[str, Any]) -> str:
    return str(prediction["response"]["candidates"][0]["content"]["parts"][0]["text"])


def test_a_batch_job_answers_every_line_in_order_with_the_scripted_answers(
    batch_vertex: VertexRemote, storage: StorageRemote, batch_client: genai.Client
) -> None:
    first = put_lines(storage, "in/1.jsonl", [batch_line("week of ada", "k1")])
    second = put_lines(
        storage, "in/2.jsonl", [batch_line("week of bo", "k2"), batch_line("week of cy", "k3")]
    )
    batch_vertex.answer('{"headline": "first", "minutes": 1}')
    batch_vertex.answer('{"headline": "second", "minutes": 2}')

    created = submit(batch_client, first, second)
    assert created.state == types.JobState.JOB_STATE_PENDING
    assert not created.done and storage.objects("batches", "out/") == {}
    job = batch_client.batches.get(name=created.name or "")

    assert job.state == types.JobState.JOB_STATE_SUCCEEDED and job.done
    assert job.name == created.name
    assert (job.name or "").startswith(
        "projects/demo-focus/locations/europe-west1/batchPredictionJobs/"
    )
    assert (job.display_name, job.model) == ("weekly insights", f"publishers/google/models/{MODEL}")
    lines = predictions(storage)
    assert job.output_info and job.output_info.gcs_output_directory
    assert f"gs://batches/{next(iter(storage.objects('batches', 'out/')))}".startswith(
        job.output_info.gcs_output_directory + "/"
    )
    assert job.completion_stats and job.completion_stats.successful_count == 3
    assert [line["request"]["labels"]["key"] for line in lines] == ["k1", "k2", "k3"]
    assert all(set(line) == {"status", "processed_time", "request", "response"} for line in lines)
    assert all(line["status"] == "" for line in lines)
    assert lines[0]["request"] == json.loads(batch_line("week of ada", "k1"))["request"]
    assert [answer_text(line) for line in lines] == [
        '{"headline": "first", "minutes": 1}',
        '{"headline": "second", "minutes": 2}',
        DEFAULT_ANSWER,
    ]
    usage = lines[0]["response"]["usageMetadata"]
    assert usage["promptTokenCount"] == tokens("week of ada")
    [recorded] = batch_vertex.batch_jobs()
    assert [r.prompt for r in recorded.requests] == ["week of ada", "week of bo", "week of cy"]
    assert recorded.input_uris == (first, second)
    assert batch_vertex.requests() == []  # online requests are apart


def test_a_line_answered_with_an_error_has_a_status_and_no_response(
    batch_vertex: VertexRemote, storage: StorageRemote, batch_client: genai.Client
) -> None:
    uri = put_lines(
        storage, "in/1.jsonl", [batch_line(f"week {n}", f"k{n}") for n in range(4)] + ["not json"]
    )
    batch_vertex.answer('{"headline": "fine", "minutes": 5}')
    batch_vertex.fail(VertexError.RESOURCE_EXHAUSTED)
    batch_vertex.block(BlockReason.PROHIBITED_CONTENT)
    batch_vertex.stop_for_safety()

    job = batch_client.batches.get(name=submit(batch_client, uri).name or "")

    assert job.state == types.JobState.JOB_STATE_SUCCEEDED  # a failed line fails only itself
    assert job.completion_stats is not None
    assert (job.completion_stats.successful_count, job.completion_stats.failed_count) == (3, 2)
    answered, exhausted, blocked, stopped, malformed = predictions(storage)
    assert answered["status"] == ""
    assert "response" not in exhausted
    assert exhausted["status"].startswith("Too Many Requests: ")
    error = json.loads(exhausted["status"].removeprefix("Too Many Requests: "))["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert exhausted["request"]["labels"] == {"key": "k1"}
    assert blocked["status"] == "" and not blocked["response"].get("candidates")
    assert blocked["response"]["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT"
    assert stopped["response"]["candidates"][0]["finishReason"] == "SAFETY"
    assert malformed["status"].startswith("Bad Request: ") and "response" not in malformed
    assert malformed["request"] == "not json"


def test_a_job_told_to_fail_fails_with_its_error_and_writes_nothing(
    batch_vertex: VertexRemote, storage: StorageRemote, batch_client: genai.Client
) -> None:
    uri = put_lines(storage, "in/1.jsonl", [batch_line("week", "k1")])
    batch_vertex.fail_next_batch("Quota exceeded for batch prediction.", code=8)
    batch_vertex.answer('{"headline": "kept", "minutes": 1}')

    failed = batch_client.batches.get(name=submit(batch_client, uri).name or "")
    then = batch_client.batches.get(name=submit(batch_client, uri).name or "")

    assert failed.state == types.JobState.JOB_STATE_FAILED and failed.done
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == (8, "Quota exceeded for batch prediction.")
    assert failed.output_info is None
    assert then.state == types.JobState.JOB_STATE_SUCCEEDED  # only the next job failed
    # The failed job took no scripted answer.
    assert answer_text(predictions(storage)[0]) == '{"headline": "kept", "minutes": 1}'
    assert [job.state for job in batch_vertex.batch_jobs()] == [
        BatchState.FAILED,
        BatchState.SUCCEEDED,
    ]


def test_a_job_whose_input_is_missing_fails(
    batch_vertex: VertexRemote, storage: StorageRemote, batch_client: genai.Client
) -> None:
    job = batch_client.batches.get(name=submit(batch_client, "gs://batches/none.jsonl").name or "")

    assert job.state == types.JobState.JOB_STATE_FAILED
    assert job.error is not None and job.error.code == 5
    assert "gs://batches/none.jsonl" in (job.error.message or "")


def test_a_cancelled_job_never_runs(
    batch_vertex: VertexRemote, storage: StorageRemote, batch_client: genai.Client
) -> None:
    uri = put_lines(storage, "in/1.jsonl", [batch_line("week", "k1")])
    created = submit(batch_client, uri)

    batch_client.batches.cancel(name=created.name or "")

    job = batch_client.batches.get(name=created.name or "")
    assert job.state == types.JobState.JOB_STATE_CANCELLED
    assert storage.objects("batches", "out/") == {}


def test_jobs_are_listed_and_reset_forgets_them(
    batch_vertex: VertexRemote, storage: StorageRemote, batch_client: genai.Client
) -> None:
    uri = put_lines(storage, "in/1.jsonl", [batch_line("week", "k1")])
    names = [submit(batch_client, uri).name, submit(batch_client, uri).name]

    assert [job.name for job in batch_client.batches.list()] == names
    batch_vertex.reset()
    assert list(batch_client.batches.list()) == batch_vertex.batch_jobs() == []
    with pytest.raises(errors.ClientError) as missing:
        batch_client.batches.get(name=names[0] or "")
    assert missing.value.code == 404


def test_a_job_request_is_checked_as_vertex_checks_it(
    batch_vertex: VertexRemote, storage: StorageRemote
) -> None:
    url = f"{batch_vertex.url}/v1/projects/demo-focus/locations/europe-west1/batchPredictionJobs"
    body = {
        "displayName": "weekly",
        "model": f"publishers/google/models/{MODEL}",
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": ["gs://b/in.jsonl"]}},
        "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": ""}},
    }
    bearer = {"Authorization": "Bearer owner"}

    unauthenticated = requests.post(url, json=body, timeout=10)
    invalid = requests.post(url, json=body, headers=bearer, timeout=10)

    assert unauthenticated.status_code == 401
    assert invalid.status_code == 400
    assert invalid.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert batch_vertex.batch_jobs() == []
    with pytest.raises(EmulatorError):
        batch_vertex._control.call("POST", "failNextBatch", {"message": "", "code": 13})


def test_without_storage_a_batch_job_is_refused() -> None:
    with VertexServer() as vertex:
        url = f"{vertex.url}/v1/projects/p/locations/europe-west1/batchPredictionJobs"
        body = {
            "displayName": "weekly",
            "model": f"publishers/google/models/{MODEL}",
            "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": ["gs://b/i"]}},
            "outputConfig": {
                "predictionsFormat": "jsonl",
                "gcsDestination": {"outputUriPrefix": "gs://b/out"},
            },
        }

        answer = requests.post(url, json=body, headers={"Authorization": "Bearer x"}, timeout=10)

        assert answer.status_code == 400
        assert answer.json()["error"]["status"] == "FAILED_PRECONDITION"

"""The local Vertex AI server answers Gemini's ``generateContent`` as Vertex does, to the real
google-genai client pointed at it as docs/adr/0009 says, with the answers a test scripts from
another process through its control API; no emulators needed."""

from __future__ import annotations

from collections.abc import Iterator

import google.oauth2.credentials
import pytest
import requests
from another_process import served_in_another_process
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from firebase_emulator_harness import EmulatorError, VertexError, VertexRemote, VertexServer
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

"""The backend asks Gemini through one adapter (focus.adapters.model, docs/adr/0009): the real
google-genai client, pointed at a local server speaking Vertex AI's ``generateContent``
(``FOCUS_VERTEX_ENDPOINT``). What arrives there is what Vertex would receive, and each way a model
answers or fails becomes the typed outcome the insights service acts on: an answer to check, a
refusal that is final for that input, or an unavailability that a later attempt may get past.

No emulator is involved: the adapter only needs a project id and the emulated environment.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from local_vendors import INSIGHT, captured_log, logged, pointed_at

from firebase_emulator_harness import VertexError, VertexServer
from firebase_emulator_harness.vertex import BlockReason, tokens
from focus.adapters import model
from focus.adapters.model import (
    ModelAnswer,
    ModelRefused,
    ModelRequestRejected,
    ModelUnavailable,
    TokenUsage,
)
from focus.domain.insights import Insight, answer_schema

PROMPT = 'Write a weekly insight. Facts: {"days":[{"screenMinutes":190}]}'


@pytest.fixture(scope="module")
def server() -> Iterator[VertexServer]:
    with VertexServer() as vertex, pointed_at(vertex=vertex):
        yield vertex


@pytest.fixture
def vertex(server: VertexServer) -> VertexServer:
    server.reset()
    return server


@pytest.fixture
def log() -> io.StringIO:
    return captured_log()


def generate(prompt: str = PROMPT, timeout_s: float = 10) -> ModelAnswer:
    return model.generate(prompt, answer_schema(), timeout_s=timeout_s)


def test_an_answer_comes_back_as_written_with_its_cost_and_model_version(
    vertex: VertexServer,
) -> None:
    vertex.answer(json.dumps(INSIGHT))

    answer = generate()

    assert answer.text == json.dumps(INSIGHT)
    assert Insight.model_validate_json(answer.text).headline == "Tuesdays drift"
    assert answer.finish_reason == "STOP"
    assert answer.model_version == model.DEFAULT_MODEL
    assert answer.usage == TokenUsage(
        prompt=tokens(PROMPT),
        answer=tokens(json.dumps(INSIGHT)),
        thoughts=0,
        total=tokens(PROMPT) + tokens(json.dumps(INSIGHT)),
    )


def test_the_prompt_is_sent_exactly_as_given_with_the_schema_for_structured_output(
    vertex: VertexServer,
) -> None:
    generate()

    [request] = vertex.requests()
    assert request.body["contents"] == [{"role": "user", "parts": [{"text": PROMPT}]}]
    assert "systemInstruction" not in request.body
    assert request.generation_config == {
        "responseMimeType": "application/json",
        "responseJsonSchema": answer_schema(),
    }


def test_the_call_goes_to_the_cheapest_model_in_the_eu_on_v1(vertex: VertexServer) -> None:
    generate()

    [request] = vertex.requests()
    assert (request.api_version, request.project, request.location, request.model) == (
        "v1",
        "demo-focus",
        "europe-west1",
        "gemini-2.5-flash-lite",
    )


def test_the_callers_timeout_is_sent_and_capped_by_the_setting(
    vertex: VertexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(timeout_s=7.5)
    monkeypatch.setenv(model.TIMEOUT_SETTING, "3000")
    model._timeout_ceiling_ms.cache_clear()
    try:
        generate(timeout_s=60)
    finally:
        model._timeout_ceiling_ms.cache_clear()

    assert [r.server_timeout for r in vertex.requests()] == ["8", "3"]  # whole seconds, up


def test_an_answer_cut_short_is_returned_with_its_finish_reason(vertex: VertexServer) -> None:
    vertex.answer('{"headline": "Tues', finish_reason="MAX_TOKENS")

    answer = generate()

    assert (answer.text, answer.finish_reason) == ('{"headline": "Tues', "MAX_TOKENS")


def test_a_malformed_answer_is_returned_for_the_caller_to_refuse(vertex: VertexServer) -> None:
    vertex.answer("Sure! Here is an insight about your week.")

    answer = generate()

    assert answer.text == "Sure! Here is an insight about your week."
    assert answer.finish_reason == "STOP"


def test_a_blocked_prompt_is_refused_and_still_costs_its_prompt(vertex: VertexServer) -> None:
    vertex.block(BlockReason.PROHIBITED_CONTENT)

    with pytest.raises(ModelRefused) as refused:
        generate()

    assert refused.value.blocked_prompt
    assert refused.value.reason == "PROHIBITED_CONTENT"
    assert refused.value.usage == TokenUsage(prompt=tokens(PROMPT), total=tokens(PROMPT))


def test_an_answer_stopped_for_safety_is_refused(vertex: VertexServer) -> None:
    vertex.stop_for_safety()

    with pytest.raises(ModelRefused) as refused:
        generate()

    assert not refused.value.blocked_prompt
    assert refused.value.reason == "SAFETY"
    assert refused.value.usage.prompt == tokens(PROMPT)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (VertexError.RESOURCE_EXHAUSTED, 429),
        (VertexError.INTERNAL, 500),
        (VertexError.UNAVAILABLE, 503),
    ],
)
def test_quota_and_server_errors_are_unavailability_tried_once(
    vertex: VertexServer, error: VertexError, status: int
) -> None:
    vertex.fail(error)

    with pytest.raises(ModelUnavailable) as unavailable:
        generate()

    assert (unavailable.value.status, unavailable.value.reason) == (status, error.value)
    assert len(vertex.requests()) == 1  # no retry here: the caller's budget decides


def test_a_timeout_is_unavailability(vertex: VertexServer) -> None:
    vertex.answer(json.dumps(INSIGHT), delay_seconds=2)

    with pytest.raises(ModelUnavailable) as unavailable:
        generate(timeout_s=0.3)

    assert (unavailable.value.status, unavailable.value.reason) == (None, "timeout")


def test_an_invalid_request_is_rejected_not_retried(vertex: VertexServer) -> None:
    vertex.fail(VertexError.INVALID_ARGUMENT)

    with pytest.raises(ModelRequestRejected) as rejected:
        generate()

    assert (rejected.value.status, rejected.value.reason) == (400, "INVALID_ARGUMENT")
    assert not isinstance(rejected.value, ModelUnavailable | ModelRefused)


def test_each_call_logs_its_cost_in_a_span_of_its_own(
    vertex: VertexServer, log: io.StringIO
) -> None:
    vertex.answer(json.dumps(INSIGHT))
    vertex.stop_for_safety()

    generate()
    with pytest.raises(ModelRefused):
        generate()

    answered = logged(log, "model answered")
    assert [(line["outcome"], line["promptTokens"]) for line in answered] == [
        ("STOP", tokens(PROMPT)),
        ("SAFETY", tokens(PROMPT)),
    ]
    assert answered[0]["answerTokens"] == tokens(json.dumps(INSIGHT))
    assert answered[0]["totalTokens"] == tokens(PROMPT) + tokens(json.dumps(INSIGHT))
    assert answered[0]["model"] == answered[0]["modelVersion"] == model.DEFAULT_MODEL
    spans = [line["name"] for line in logged(log, "span")]
    assert spans == ["vertex.generateContent", "vertex.generateContent"]


def test_the_client_is_made_once_and_reused(vertex: VertexServer) -> None:
    generate()
    first = model._client()
    generate()

    assert model._client() is first
    assert len(vertex.requests()) == 2


def test_the_local_endpoint_is_refused_outside_the_emulators(
    server: VertexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FUNCTIONS_EMULATOR")
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    model._client.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="FOCUS_VERTEX_ENDPOINT is for the emulators only"):
            generate()
    finally:
        model._client.cache_clear()


def test_the_emulators_never_call_vertex_without_a_local_endpoint(
    server: VertexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(model.ENDPOINT_SETTING)
    model._client.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="must name the local Vertex server"):
            generate()
    finally:
        model._client.cache_clear()

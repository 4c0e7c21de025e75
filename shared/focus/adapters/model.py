"""The one way the backend asks a generative model: Gemini on Vertex AI, through google-genai.

``generate(prompt, schema, timeout_s=...)`` sends one prompt with a JSON Schema the answer must
follow (structured output) and returns a ``ModelAnswer``: the answer's text (unchecked: the
caller validates it, e.g. ``focus.domain.insights.check``), why the model stopped, the tokens it
billed and the model version that answered. It raises

* ``ModelUnavailable`` when trying again later may succeed: 429 (quota, shared capacity), 408,
  5xx, a timeout or a network failure;
* ``ModelRefused`` when the model would not answer this input: the prompt was blocked, or the
  answer was stopped for safety (or recitation, a blocklist ...); final for that input;
* ``ModelRequestRejected`` when Vertex refused the request itself (400, 403, 404): a bug or a
  misconfiguration, which trying again does not fix.

Nothing is retried here (the SDK's own retries stay off, its default): the caller's budget
decides, e.g. a task queue's backoff (docs/adr/0008, docs/adr/0009). Each call is a child span
(``vertex.generateContent``) carrying the model, finish reason and token counts, and its usage is
logged (``model answered``), so cost can be followed per call.

The client is ``google.genai.Client(vertexai=True, ...)``, made on first use and reused for the
life of the instance; ``google.genai`` (about 0.6 s to import) is imported then, never at cold
start. ``project`` and ``location`` are always passed: with a custom ``base_url`` and either
missing, the SDK switches to an "API gateway" mode with neither resource path nor credentials.

Settings:
  ``FOCUS_VERTEX_MODEL``       the model (``DEFAULT_MODEL`` unless set);
  ``FOCUS_VERTEX_LOCATION``    the Vertex region (``DEFAULT_LOCATION``, in the EU, unless set);
  ``FOCUS_VERTEX_TIMEOUT_MS``  the longest any call may take, whatever timeout the caller asks
                               (``DEFAULT_TIMEOUT_MS`` unless set).

Access: production calls Vertex AI as the runtime service account, with application default
credentials and the cloud-platform scope: ``aiplatform.endpoints.predict`` on the project
(``roles/aiplatform.user``), declared in ``NEEDS`` for ``focus_tools.permissions``. The project
must have the Vertex AI API (``aiplatform.googleapis.com``) enabled.

Local endpoint: Vertex AI has no emulator. ``FOCUS_VERTEX_ENDPOINT`` (e.g.
``http://127.0.0.1:9192``) sends every call to a server speaking the same API there
(``firebase_emulator_harness.VertexServer``), with a fixed bearer that never reaches Google; only
with the emulators, which never call Vertex AI.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from focus.adapters import logs, tracing
from focus.adapters.environment import REGION, is_emulated, project_id
from focus.adapters.iam import Need

if TYPE_CHECKING:
    from google.genai import Client
    from google.genai.types import GenerateContentResponse

ENDPOINT_SETTING = "FOCUS_VERTEX_ENDPOINT"
MODEL_SETTING = "FOCUS_VERTEX_MODEL"
LOCATION_SETTING = "FOCUS_VERTEX_LOCATION"
TIMEOUT_SETTING = "FOCUS_VERTEX_TIMEOUT_MS"
# The cheapest Gemini on Vertex AI that follows a response schema: an insight is a short answer
# to a short prompt, for every person every week, so price per token decides.
DEFAULT_MODEL = "gemini-2.5-flash-lite"
# EU residency (docs/adr/0009): the prompt, figures about a person's week, is processed here.
DEFAULT_LOCATION = REGION
DEFAULT_TIMEOUT_MS = 30_000
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# HTTP statuses after which the same request may succeed later.
_RETRYABLE = frozenset({408, 429})
# Finish reasons that mean the model stopped rather than answer this input.
_REFUSING_FINISHES = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)

# IAM (focus_tools.permissions): generating content is a prediction on the publisher model.
NEEDS = {"generate": (Need("aiplatform.endpoints.predict", why="ask Gemini for insights"),)}


@dataclass(frozen=True)
class TokenUsage:
    """What a call billed (``usageMetadata``): the prompt's tokens, the answer's, the model's
    thinking (billed as answer tokens, counted apart) and their total. 0 when not reported."""

    prompt: int = 0
    answer: int = 0
    thoughts: int = 0
    total: int = 0


@dataclass(frozen=True)
class ModelAnswer:
    """The model's answer: ``text`` as it wrote it (``None`` if it wrote none), why it stopped
    (``STOP``; ``MAX_TOKENS`` when cut short ...), what it cost, and which model version wrote it."""

    text: str | None
    finish_reason: str | None
    usage: TokenUsage
    model_version: str | None


class ModelError(Exception):
    """The model gave no answer to use."""


class ModelUnavailable(ModelError):
    """Vertex could not answer now (``status`` 429, 408 or 5xx; ``None`` for a timeout or a
    network failure): the same request may succeed later."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(f"the model is unavailable ({status or 'no answer'}): {reason}")
        self.status = status
        self.reason = reason


class ModelRefused(ModelError):
    """The model would not answer this input: the prompt was blocked (``blocked_prompt``) or the
    answer stopped (``reason``: ``SAFETY``, ``PROHIBITED_CONTENT`` ...). Final for that input;
    ``usage`` is still billed."""

    def __init__(self, reason: str, *, blocked_prompt: bool, usage: TokenUsage) -> None:
        where = "the prompt was blocked" if blocked_prompt else "the answer was stopped"
        super().__init__(f"{where} ({reason})")
        self.reason = reason
        self.blocked_prompt = blocked_prompt
        self.usage = usage


class ModelRequestRejected(ModelError):
    """Vertex refused the request itself (400 invalid argument, 403 permission, 404 model ...):
    a bug or a misconfiguration, which trying again does not fix."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"Vertex AI refused the request ({status} {reason}): {message}")
        self.status = status
        self.reason = reason


def generate(prompt: str, schema: dict[str, Any], *, timeout_s: float) -> ModelAnswer:
    """The model's answer to ``prompt`` (the whole user turn, sent as it is), asked to follow the
    JSON Schema ``schema`` (``responseJsonSchema``: full JSON Schema, ``$defs`` and ``oneOf``
    included). Waits ``timeout_s`` at most (never more than ``FOCUS_VERTEX_TIMEOUT_MS``)."""
    from google.genai import types

    model = model_name()
    timeout_ms = max(1, min(round(timeout_s * 1000), _timeout_ceiling_ms()))
    config = types.GenerateContentConfig(
        response_mime_type="application/json",
        response_json_schema=schema,
        http_options=types.HttpOptions(timeout=timeout_ms),
    )
    with tracing.span("vertex.generateContent", model=model):
        response = _call(model, prompt, config)
        usage = _usage(response)
        try:
            answer = _answer(response, usage)
        except ModelRefused as refused:  # billed all the same
            _record(model, refused.reason, usage, response.model_version)
            raise
        _record(model, answer.finish_reason, usage, answer.model_version)
    return answer


def _call(model: str, prompt: str, config: Any) -> GenerateContentResponse:
    """One request; the SDK's and the transport's failures as ``ModelError``s."""
    with vertex_errors():
        response = _client().models.generate_content(model=model, contents=prompt, config=config)
    return response


@contextmanager
def vertex_errors() -> Iterator[None]:
    """Raise the SDK's and the transport's failures of a Vertex AI call made within as
    ``ModelUnavailable`` or ``ModelRequestRejected`` (also for focus.adapters.model_batch)."""
    import google.auth.exceptions
    import httpx
    import httpx2
    from google.genai import errors

    try:
        yield
    except errors.APIError as exc:
        status = exc.status or "UNKNOWN"
        if exc.code in _RETRYABLE or exc.code >= 500:
            raise ModelUnavailable(exc.code, status) from exc
        raise ModelRequestRejected(exc.code, status, exc.message or "") from exc
    except (httpx2.TimeoutException, httpx.TimeoutException) as exc:
        raise ModelUnavailable(None, "timeout") from exc
    except (httpx2.TransportError, httpx.TransportError) as exc:
        raise ModelUnavailable(None, type(exc).__name__) from exc
    except google.auth.exceptions.TransportError as exc:  # fetching the access token
        raise ModelUnavailable(None, "credentials unavailable") from exc


def _usage(response: GenerateContentResponse) -> TokenUsage:
    metadata = response.usage_metadata
    if metadata is None:
        return TokenUsage()
    return TokenUsage(
        prompt=metadata.prompt_token_count or 0,
        answer=metadata.candidates_token_count or 0,
        thoughts=metadata.thoughts_token_count or 0,
        total=metadata.total_token_count or 0,
    )


def _answer(response: GenerateContentResponse, usage: TokenUsage) -> ModelAnswer:
    """The answer in ``response``; ``ModelRefused`` if the model refused."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise ModelRefused(_name(feedback.block_reason), blocked_prompt=True, usage=usage)
    candidate = response.candidates[0] if response.candidates else None
    finish = _name(candidate.finish_reason) if candidate and candidate.finish_reason else None
    if finish in _REFUSING_FINISHES:
        raise ModelRefused(finish or "", blocked_prompt=False, usage=usage)
    return ModelAnswer(
        text=response.text if candidate else None,
        finish_reason=finish,
        usage=usage,
        model_version=response.model_version,
    )


def _name(value: Any) -> str:
    """An SDK enum member's name as Vertex writes it (``SAFETY``), or a value it does not know."""
    return str(getattr(value, "value", value))


def _record(model: str, outcome: str | None, usage: TokenUsage, version: str | None) -> None:
    """A call's outcome (its finish or block reason) and cost, on its span and in the log."""
    from opentelemetry import trace

    counts = {
        "promptTokens": usage.prompt,
        "answerTokens": usage.answer,
        "thoughtsTokens": usage.thoughts,
        "totalTokens": usage.total,
    }
    trace.get_current_span().set_attributes(
        {f"model.{name}": value for name, value in counts.items()}
        | {"model.outcome": outcome or "", "model.version": version or ""}
    )
    logs.get_logger().info(
        "model answered", model=model, modelVersion=version, outcome=outcome, **counts
    )


@functools.cache
def model_name() -> str:
    """The Gemini model every call asks."""
    return os.environ.get(MODEL_SETTING, "").strip() or DEFAULT_MODEL


@functools.cache
def location() -> str:
    """The Vertex AI region every call goes to."""
    return os.environ.get(LOCATION_SETTING, "").strip() or DEFAULT_LOCATION


@functools.cache
def _timeout_ceiling_ms() -> int:
    value = os.environ.get(TIMEOUT_SETTING, "").strip()
    ceiling = int(value) if value else DEFAULT_TIMEOUT_MS
    if ceiling <= 0:
        raise RuntimeError(f"{TIMEOUT_SETTING} must be a positive number of milliseconds")
    return ceiling


@functools.cache
def _client() -> Client:
    """The Vertex AI client every call uses, with its credentials and endpoint."""
    from google import genai
    from google.genai import types

    endpoint = os.environ.get(ENDPOINT_SETTING, "").strip()
    if not is_emulated():
        if endpoint:
            # The client would send the service account's real OAuth token to that server.
            raise RuntimeError(f"{ENDPOINT_SETTING} is for the emulators only")
        import google.auth

        credentials, _ = google.auth.default(scopes=[SCOPE])
        return genai.Client(
            vertexai=True,
            project=project_id(),
            location=location(),
            credentials=credentials,
            http_options=types.HttpOptions(api_version="v1", timeout=_timeout_ceiling_ms()),
        )
    if not endpoint.startswith(("http://", "https://")):
        raise RuntimeError(
            f"{ENDPOINT_SETTING} must name the local Vertex server (e.g. http://127.0.0.1:9192): "
            "the emulators never call Vertex AI"
        )
    from google.oauth2.credentials import Credentials

    # A fixed bearer that never refreshes: nothing goes to Google for a token, and the local
    # server, like Vertex, refuses a request without one.
    return genai.Client(
        vertexai=True,
        project=project_id(),
        location=location(),
        credentials=Credentials(token="owner"),  # type: ignore[no-untyped-call]
        http_options=types.HttpOptions(
            base_url=endpoint.rstrip("/") + "/", api_version="v1", timeout=_timeout_ceiling_ms()
        ),
    )

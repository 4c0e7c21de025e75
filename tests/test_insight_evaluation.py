"""The evaluation set runs through the production model client: each of the 34 synthetic
person-weeks' real prompt, the answer checked and scored against the week's expected properties
(scripts/insights-eval, docs/insights.md "Evaluation").

Against the local Vertex server the answers are scripted (a model-like answer written for the
week where the set has one, else the template's), which proves the pipeline and the scoring.
Against Vertex AI itself it runs only with Google credentials and ``FOCUS_EVAL_REAL_MODEL=1``;
otherwise it is skipped, and the skip says so."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from insight_weeks import WEEKS

from focus.adapters import model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "lib"))
import insights_eval

PASS_RATE_REQUIRED = 0.9  # of a real model's weeks: no violation at all


def _forget_client() -> None:
    for cached in (model._client, model.model_name, model.location, model._timeout_ceiling_ms):
        cached.cache_clear()


@pytest.fixture
def local_vertex(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Set here so that monkeypatch restores them: local_vertex() points them at its server.
    monkeypatch.setenv("GCLOUD_PROJECT", "demo-focus")
    monkeypatch.setenv("FUNCTIONS_EMULATOR", "true")
    monkeypatch.setenv(model.ENDPOINT_SETTING, "http://127.0.0.1:1")
    monkeypatch.delenv(model.MODEL_SETTING, raising=False)
    _forget_client()
    with insights_eval.local_vertex():
        yield
    _forget_client()


def test_the_evaluation_set_has_at_least_30_weeks_in_four_languages() -> None:
    assert len(WEEKS) >= 30
    assert {week.features().language.value for week in WEEKS} == {"en", "de", "fr", "es"}


def test_every_week_passes_through_the_real_client_the_checks_and_the_scoring(
    local_vertex: None,
) -> None:
    results = insights_eval.evaluate()

    assert [r.week for r in results if not r.passed] == []
    assert all(r.prompt_tokens > 0 and r.answer_tokens > 0 for r in results)


@pytest.mark.skipif(
    os.environ.get("FOCUS_EVAL_REAL_MODEL") != "1",
    reason="the evaluation against Vertex AI did not run: set FOCUS_EVAL_REAL_MODEL=1 with "
    "Google application default credentials (roles/aiplatform.user) to run it",
)
def test_the_real_model_keeps_the_weeks_properties() -> None:
    why_not = insights_eval.real_vertex_ready()
    if why_not:
        pytest.skip(f"the evaluation against Vertex AI did not run: {why_not}")
    _forget_client()
    results = insights_eval.evaluate()
    print(insights_eval.report(results, f"Vertex AI, {model.model_name()}"))

    passed = sum(r.passed for r in results)
    assert passed / len(results) >= PASS_RATE_REQUIRED, insights_eval.report(results, "Vertex AI")

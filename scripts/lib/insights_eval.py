"""Evaluate weekly insights over the synthetic person-weeks of tests/insight_weeks.py: each week's
real prompt goes through the production model client (``focus.adapters.model.generate``), the
answer through ``insights.check``, and the result is scored against the week's expected
properties (``insight_weeks.violations``: names the weakest day, an action the app can carry
out, within the length limits, echoes nothing of the person).

  scripts/insights-eval            against the local Vertex server (no network): each week is
                                   answered with a model-like answer written for it where the set
                                   has one, else the template's; this checks the pipeline and the
                                   scoring, not a model
  scripts/insights-eval --real     against Vertex AI (gemini-2.5-flash-lite unless
                                   FOCUS_VERTEX_MODEL says otherwise), as the application default
                                   credentials (GOOGLE_CLOUD_PROJECT, roles/aiplatform.user);
                                   refuses to start without them

Prints one row per week and a summary (docs/insights.md, "Evaluation").
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from insight_weeks import (  # type: ignore[import-not-found]  # noqa: E402
    MODEL_ANSWERS,
    WEEKS,
    PersonWeek,
    violations,
)

from focus.adapters import logs, model  # noqa: E402
from focus.adapters.model import ModelError  # noqa: E402
from focus.domain.insight_fallback import fallback  # noqa: E402
from focus.domain.insights import Refusal, answer_schema, check, prompt_for  # noqa: E402

TIMEOUT_S = 30


@dataclass(frozen=True)
class Scored:
    week: str
    language: str
    outcome: str  # "ok", a check's refusal, or the model's failure
    violations: tuple[str, ...]
    prompt_tokens: int
    answer_tokens: int

    @property
    def passed(self) -> bool:
        return self.outcome == "ok" and not self.violations


def scripted_answer(week: PersonWeek) -> str:
    """What the local server answers for ``week``."""
    return MODEL_ANSWERS.get(week.name) or fallback(week.features()).model_dump_json(by_alias=True)


def score(week: PersonWeek) -> Scored:
    features = week.features()
    language = features.language.value
    try:
        answer = model.generate(prompt_for(features), answer_schema(), timeout_s=TIMEOUT_S)
    except ModelError as failed:
        return Scored(week.name, language, f"model: {failed}", (), 0, 0)
    checked = check(answer.text or "", features)
    outcome = checked.value if isinstance(checked, Refusal) else "ok"
    broken = () if isinstance(checked, Refusal) else tuple(violations(checked, week))
    usage = answer.usage
    return Scored(week.name, language, outcome, broken, usage.prompt, usage.answer)


@contextmanager
def local_vertex() -> Iterator[None]:
    """A local Vertex server answering each week in order, and the client pointed at it."""
    from firebase_emulator_harness import VertexServer

    with VertexServer() as vertex:
        for week in WEEKS:
            vertex.answer(scripted_answer(week))
        os.environ.update(
            {
                "GCLOUD_PROJECT": os.environ.get("GCLOUD_PROJECT") or "demo-focus",
                "FUNCTIONS_EMULATOR": "true",
                model.ENDPOINT_SETTING: vertex.url,
            }
        )
        yield


def real_vertex_ready() -> str | None:
    """Why the real model cannot be asked here, or None when it can."""
    import google.auth
    import google.auth.exceptions

    if os.environ.get("FUNCTIONS_EMULATOR") or os.environ.get(model.ENDPOINT_SETTING):
        return "the environment points at the emulators or a local Vertex server"
    try:
        _, project = google.auth.default()
    except google.auth.exceptions.DefaultCredentialsError:
        return "no Google application default credentials"
    if not (project or os.environ.get("GOOGLE_CLOUD_PROJECT")):
        return "no Google Cloud project (set GOOGLE_CLOUD_PROJECT)"
    return None


def evaluate(weeks: tuple[PersonWeek, ...] = WEEKS) -> list[Scored]:
    return [score(week) for week in weeks]


def report(results: list[Scored], against: str) -> str:
    rows = [f"insight evaluation against {against}: {len(results)} person-weeks", ""]
    rows.append(f"{'week':44} {'lang':4} {'outcome':24} tokens in/out  violations")
    for r in results:
        broken = "; ".join(r.violations) or "-"
        tokens = f"{r.prompt_tokens}/{r.answer_tokens}"
        rows.append(f"{r.week[:44]:44} {r.language:4} {r.outcome[:24]:24} {tokens:13} {broken}")
    passed = sum(r.passed for r in results)
    prompts = [r.prompt_tokens for r in results if r.prompt_tokens]
    answers = [r.answer_tokens for r in results if r.answer_tokens]
    rows.append("")
    rows.append(f"passed {passed}/{len(results)} ({100 * passed / len(results):.0f}%)")
    if prompts and answers:
        rows.append(
            f"tokens: prompt median {statistics.median(prompts):.0f},"
            f" answer median {statistics.median(answers):.0f}"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="ask Vertex AI itself")
    args = parser.parse_args()
    logs.configure("insights-eval", stream=io.StringIO())  # the table is the output
    if args.real:
        why_not = real_vertex_ready()
        if why_not:
            print(f"error: cannot ask Vertex AI: {why_not}", file=sys.stderr)
            return 2
        results = evaluate()
        print(report(results, f"Vertex AI, {model.model_name()} in {model.location()}"))
    else:
        with local_vertex():
            results = evaluate()
        print(report(results, "the local Vertex server (scripted answers)"))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

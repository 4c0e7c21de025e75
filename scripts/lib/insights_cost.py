"""What a weekly insight costs on Vertex AI, from our real prompts (docs/insights.md, "Cost").

For each of the 34 synthetic person-weeks of the evaluation set (tests/insight_weeks.py), builds
the exact prompt the batch sends (``insights.prompt_for``) and the answer schema sent beside it
(``insights.answer_schema``, as ``responseJsonSchema``), takes the fallback insight written for the
same week as a typical answer (``insight_fallback.fallback``: the checks hold a model's answer to
the same limits), and counts tokens the way the local Vertex server does
(``firebase_emulator_harness.vertex.tokens``: 4 characters a token). No network: an estimate,
until the ``usageMetadata`` of the first real Vertex call replaces it (docs/adr/0009).

    scripts/insights-cost
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from firebase_emulator_harness.vertex import CHARACTERS_PER_TOKEN, tokens
from focus.adapters.model import DEFAULT_MODEL
from focus.domain.insight_fallback import fallback
from focus.domain.insight_features import WeekFeatures
from focus.domain.insights import answer_schema, prompt_for

EVALUATION_SET = Path(__file__).resolve().parents[2] / "tests" / "insight_weeks.py"

# List prices of gemini-2.5-flash-lite on Vertex AI, USD per 1M tokens (text input, text output);
# batch prediction is half. Source and date: docs/insights.md, "Cost".
ONLINE_INPUT_USD, ONLINE_OUTPUT_USD = 0.10, 0.40
BATCH_DISCOUNT = 0.5
PEOPLE = 1_000_000


class PersonWeek(Protocol):
    """What this script reads of a ``tests/insight_weeks.PersonWeek``."""

    @property
    def name(self) -> str: ...

    def features(self) -> WeekFeatures: ...


def evaluation_weeks() -> Sequence[PersonWeek]:
    """``WEEKS`` of tests/insight_weeks.py (the evaluation set lives with the tests)."""
    spec = importlib.util.spec_from_file_location("insight_weeks", EVALUATION_SET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    weeks: Sequence[PersonWeek] = module.WEEKS
    return weeks


@dataclass(frozen=True)
class Week:
    name: str
    prompt: int  # the prompt's tokens
    schema: int  # the response schema's tokens (billed as input: see docs/insights.md)
    answer: int  # a typical answer's tokens

    @property
    def input(self) -> int:
        return self.prompt + self.schema


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def measured() -> list[Week]:
    schema = tokens(compact(answer_schema()))
    return [
        Week(
            week.name,
            tokens(prompt_for(week.features())),
            schema,
            tokens(fallback(week.features()).model_dump_json(by_alias=True)),
        )
        for week in evaluation_weeks()
    ]


def usd(input_tokens: float, output_tokens: float, *, batch: bool) -> float:
    factor = BATCH_DISCOUNT if batch else 1.0
    return factor * (input_tokens * ONLINE_INPUT_USD + output_tokens * ONLINE_OUTPUT_USD) / 1e6


def spread(values: list[int]) -> str:
    return f"min {min(values):>4}  median {statistics.median(values):>6.1f}  max {max(values):>4}"


def main() -> int:
    weeks = measured()
    print(
        f"{len(weeks)} synthetic weeks (tests/insight_weeks.py), model {DEFAULT_MODEL},"
        f" {CHARACTERS_PER_TOKEN} characters a token (an estimate: see docs/insights.md)\n"
    )
    print(f"prompt tokens          {spread([w.prompt for w in weeks])}")
    print(f"schema tokens          {spread([w.schema for w in weeks])}")
    print(f"input tokens (both)    {spread([w.input for w in weeks])}")
    print(f"output tokens          {spread([w.answer for w in weeks])}\n")
    print(
        f"USD, at ${ONLINE_INPUT_USD} per 1M input tokens and ${ONLINE_OUTPUT_USD} per 1M output"
        f" tokens online, x{BATCH_DISCOUNT} in batch; the schema billed as input, and not"
    )
    print(f"{'':16}{'per insight':>14}{'per 1M people a week':>24}{'(prompt only)':>16}")
    for label, pick in (("median", statistics.median), ("max", max)):
        prompt = pick([w.prompt for w in weeks])
        both = pick([w.input for w in weeks])
        answer = pick([w.answer for w in weeks])
        for mode, batch in (("online", False), ("batch", True)):
            cost = usd(both, answer, batch=batch)
            alone = usd(prompt, answer, batch=batch) * PEOPLE
            print(f"{label + ', ' + mode:16}{cost:>14.8f}{cost * PEOPLE:>24,.2f}{alone:>16,.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

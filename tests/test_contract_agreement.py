"""The server accepts exactly what the published request schema of the client's version accepts.

For every callable and every API version, instances are generated from the published schema
(docs/api/<version>/<callable>.request.schema.json) with ``hypothesis-jsonschema``; half are then
broken in one place (an unknown property, a missing one, a value of another type, a number out of
range). The schema, read by ``jsonschema`` with the formats docs/api.md defines, is the judge:

* an instance the schema refuses is refused INVALID_ARGUMENT ``SCHEMA_VIOLATION``;
* an instance the schema accepts is never refused as a schema violation: it is served, or refused
  for a documented rule of the product (a day outside the window, an unknown timezone, ...);
* whatever the answer, its code and reason are a pair the callable declares (docs/api.md), and
  it is never INTERNAL.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from firebase_emulator_harness import EmulatorSuite

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))

import api_contract_cli  # noqa: E402
from test_api_contract import retired, server_now  # noqa: E402
from test_fuzz_callables import IPHONE, People  # noqa: E402

from focus.contracts import versions  # noqa: E402
from focus.contracts.schemas import FORMATS  # noqa: E402
from focus.domain.errors import Reason  # noqa: E402
from focus.entrypoints import callables  # noqa: E402

if not callables.CALLABLES:
    api_contract_cli.load_api_codebase()
CALLABLES = dict(callables.CALLABLES)
CASES = [(name, v.date) for name in sorted(CALLABLES) for v in versions.VERSIONS]
EXAMPLES = 30

AGREEMENT = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def published(name: str, version: str) -> dict[str, Any]:
    path = ROOT / "docs" / "api" / version / f"{name}.request.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def realistic(value: Any, today: date, index: int = 0) -> Any:
    """The same instance with the fields a real app fills sensibly (recent, distinct days, a real
    timezone, a measurement of that day) set so: random ones are mostly refused by the product's
    rules, and acceptance needs exercising too. The judge still decides what is valid."""
    if isinstance(value, list):
        return [realistic(v, today, i) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    out = {k: realistic(v, today) for k, v in value.items()}
    day = (today - timedelta(days=1 + index)).isoformat()
    if isinstance(out.get("day"), str):
        out["day"] = day
    if isinstance(out.get("timezone"), str):
        out["timezone"] = "Europe/Berlin"
    if isinstance(out.get("asOf"), str):
        out["asOf"] = f"{day}T20:00:00Z"
    return out


@st.composite
def broken(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one thing changed somewhere; the judge says whether it is still valid."""
    places: list[tuple[tuple[Any, ...], Any]] = []

    def walk(node: Any, at: tuple[Any, ...]) -> None:
        places.append((at, node))
        children = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, child in children:
            walk(child, (*at, key))

    walk(value, ())
    at, target = draw(st.sampled_from(places))
    value = json.loads(json.dumps(value))
    parent = value
    for step in at[:-1]:
        parent = parent[step]
    if isinstance(target, dict):
        node = value if not at else parent[at[-1]]
        if node and draw(st.booleans()):
            del node[draw(st.sampled_from(sorted(node)))]
        else:
            node[draw(st.sampled_from(["unknown", "extra", "screenTimeMinutes", "debug"]))] = 1
        return value
    replacement = draw(
        st.sampled_from(
            [
                str(target),
                [target],
                None,
                True,
                12,
                -1,
                10**9,
                1.5,
                "",
                "x" * 300,
                "2026-11-29T21:00:00",  # a moment without its offset
                "2026-02-30",  # a day that does not exist
            ]
        )
    )
    if not at:
        return replacement
    parent[at[-1]] = replacement
    return value


@pytest.mark.parametrize(("name", "version"), CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_the_server_agrees_with_the_published_schema(
    firebase: EmulatorSuite, name: str, version: str
) -> None:
    spec = CALLABLES[name]
    schema = published(name, version)
    judge = Draft202012Validator(schema, format_checker=FORMATS)
    people = People(firebase, spec.per_minute)
    today = server_now(firebase, people.current).date()
    if retired(version, today):
        pytest.skip(f"API version {version} is past its sunset on the server's {today}")

    instances = from_schema(schema).flatmap(
        lambda valid: st.one_of(
            st.just(valid),
            st.just(realistic(valid, today)),
            broken(valid),
            broken(realistic(valid, today)),
        )
    )

    seen: Counter[str] = Counter()

    @AGREEMENT
    @given(payload=instances)
    def agrees(payload: Any) -> None:
        valid = judge.is_valid(payload)
        request = {
            "apiVersion": version,
            "client": IPHONE,
            "idempotencyKey": uuid.uuid4().hex,
            "payload": payload,
        }
        answer = firebase.functions.call(name, request, user=people.next())
        details = (answer.error or {}).get("details") or {}
        reason = details.get("reason")
        outcome = f"{'valid' if valid else 'invalid'} -> {answer.code} {reason or ''}".strip()
        event(outcome)
        seen[outcome] += 1

        assert answer.code != "INTERNAL", payload
        if not valid:
            assert (answer.code, reason) == ("INVALID_ARGUMENT", Reason.SCHEMA_VIOLATION), payload
            assert details["fields"], payload
        else:
            assert reason != Reason.SCHEMA_VIOLATION, (payload, details)
        if answer.code != "OK":
            assert spec.declares(answer.code, reason), (answer.code, reason, payload)
        if answer.code == "INVALID_ARGUMENT":
            assert all({"path", "message", "type"} <= set(f) for f in details["fields"])
        if answer.code == "OK" and spec.mutating:
            people.retire()  # accepted work (an erasure, an export) changes the person

    agrees()
    print(f"{name} {version}: {dict(seen)}")
    # Both sides of the schema were tried, or the agreement says nothing.
    assert any(o.startswith("valid") for o in seen) and any(o.startswith("invalid") for o in seen)

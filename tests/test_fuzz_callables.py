"""Hostile input, property-based: whatever a client sends, every callable of the mobile API answers
with a typed client error it declares (or OK when the input happens to be valid), never INTERNAL or
a non-JSON or 5xx answer, and a refused call leaves the person's data as it was.

Callables are discovered from ``focus.entrypoints.callables.CALLABLES`` after loading the api
codebase, so a new callable is fuzzed without touching this file. Requests are derived from each
version's published request schema (docs/api/<version>/<callable>.request.schema.json): a plausible
payload with one field broken, plus garbage at every level (the `data`, the envelope, the payload).
Bodies are sent as raw JSON so values Python's JSON reader accepts but strict JSON forbids (NaN,
Infinity) reach the server too.

Firestore triggers are disabled while fuzzing: a rare valid upload would otherwise change the
person's data in the background (streaks, weeks) and blur the "a refused call wrote nothing"
check, which is about the callables.
"""

from __future__ import annotations

import json
import math
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from firebase_emulator_harness import EmulatorSuite, User
from firebase_emulator_harness.http import TIMEOUT_S, session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))

import api_contract_cli  # noqa: E402
from emulator_log import json_lines, requests, wait_for_lines  # noqa: E402

from focus.adapters import paths  # noqa: E402
from focus.contracts import versions  # noqa: E402
from focus.entrypoints import callables  # noqa: E402

if not callables.CALLABLES:
    api_contract_cli.load_api_codebase()
CALLABLES = dict(callables.CALLABLES)

EXAMPLES_PER_CALLABLE = 40
MAX_REQUEST_BYTES = 1_000_000
# What a hostile request may be answered with: typed errors the app can act on, or OK.
CLIENT_CODES = {
    "OK",
    "NOT_FOUND",
    "PERMISSION_DENIED",
    "INVALID_ARGUMENT",
    "FAILED_PRECONDITION",
    "UNAUTHENTICATED",
    "RESOURCE_EXHAUSTED",
    "ABORTED",  # contention: the app retries
}
# The person's data a callable may change. users/{uid}/rateLimits and users/{uid}/idempotency
# are left out on purpose: they are the envelope's bookkeeping and legitimately change on a refused
# call (a counted attempt, a stored refusal replayed on retry).
USER_COLLECTIONS = (
    paths.DEVICES,
    paths.BLOCKS,
    paths.SESSIONS,
    paths.DAYS,
    paths.WEEKS,
    paths.MILESTONES,
)
IPHONE = {"platform": "ios", "appVersion": "3.4.0", "build": 412}

# -- values -----------------------------------------------------------------------------------

ODD_CHARACTERS = [
    "\x00",  # NUL
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\ufeff",  # byte order mark
    "\u0301",  # combining accent with nothing to combine with
    "\uffff",  # non-character
    "\U0010ffff",  # the last code point
    "\U0001f600",  # emoji (4 bytes in UTF-8, 2 UTF-16 units)
    "\u0663",  # ARABIC-INDIC DIGIT THREE (\d matches it)
    "\U0001d7d8",  # MATHEMATICAL DOUBLE-STRUCK DIGIT ZERO
    "\u3000",  # ideographic space (stripped as whitespace)
    "\n",
    "'",
    '"',
    "\\",
    "/",
    "..",
    "%00",
    "$",
    "`",
]
odd_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40) | st.lists(
    st.sampled_from(ODD_CHARACTERS), max_size=12
).map("".join)
huge_text = st.builds(
    lambda unit, count: unit * count,
    st.sampled_from(["a", "7", "\u200f", "\U0001f600", "\x00"]),
    st.integers(10_000, MAX_REQUEST_BYTES // 12),  # \ud83d\ude00 is 12 bytes of JSON
)
numbers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, -0.0, 1e308, 5e-324]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, odd_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(odd_text, inner, max_size=5),
    max_leaves=20,
)
deep = st.integers(50, 400).map(lambda depth: _nest(depth))
hostile = st.one_of(json_values, huge_text, deep)


def _nest(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"x": value}
    return value


# -- schema-derived, near-valid payloads -------------------------------------------------------


def _recent_day(days_ago: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


def _moment(kind: str) -> str:
    now = datetime.now(UTC)
    return {
        "now": now.isoformat(),
        "zulu": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "naive": now.replace(tzinfo=None).isoformat(),
        "offset": now.astimezone().isoformat(),
        "epoch": "1970-01-01T00:00:00Z",
        "first": "0001-01-01T00:00:00+01:00",
        "last": "9999-12-31T23:59:59.999999-23:59",
        "date": now.date().isoformat(),
        "bad": "2026-02-30T25:61:61Z",
    }[kind]


DATE_TIMES = ["now", "zulu", "naive", "offset", "epoch", "first", "last", "date", "bad"]
TIMEZONES = ["Europe/Berlin", "UTC", "Asia/Kolkata", "Pacific/Kiritimati", "Etc/GMT+12"]


def plausible(
    schema: dict[str, Any], defs: dict[str, Any], name: str = ""
) -> st.SearchStrategy[Any]:
    """Mostly valid values for a JSON Schema, with the odd edge a real client might send."""
    if "$ref" in schema:
        return plausible(defs[schema["$ref"].rsplit("/", 1)[1]], defs, name)
    if "anyOf" in schema:
        return st.one_of([plausible(option, defs, name) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {key: plausible(sub, defs, key) for key, sub in properties.items() if key in required},
            optional={
                key: plausible(sub, defs, key)
                for key, sub in properties.items()
                if key not in required
            },
        )
    if kind == "array":
        items = plausible(schema.get("items", {}), defs, name)
        low = schema.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=min(schema.get("maxItems", 3), low + 2))
    if kind == "integer":
        low, high = schema.get("minimum", -(2**31)), schema.get("maximum", 2**31)
        return st.integers(low, high) | st.sampled_from([low, high])
    if kind == "string":
        if schema.get("format") == "date-time":
            return st.sampled_from(DATE_TIMES).map(_moment)
        if schema.get("format") == "date":
            return st.integers(-2, 40).map(_recent_day) | st.from_regex(
                schema["pattern"], fullmatch=True
            )
        if schema.get("pattern"):
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: (
                    len(s) <= schema.get("maxLength", 64) and len(s) >= schema.get("minLength", 0)
                )
            )
        if name == "timezone":
            return st.sampled_from(TIMEZONES)
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 20))
    if kind == "null":
        return st.none()
    return json_values


Path_ = tuple[str | int, ...]


def _containers(value: Any, at: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield at, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _containers(child, (*at, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _containers(child, (*at, index))


@st.composite
def broken(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one thing broken somewhere: a key dropped or added, a value replaced."""
    places = list(_containers(value))
    at, target = draw(st.sampled_from(places))
    value = json.loads(json.dumps(value))  # a copy
    parent: Any = value
    for step in at[:-1]:
        parent = parent[step]

    def put(new: Any) -> Any:
        if not at:
            return new
        parent[at[-1]] = new
        return value

    how = draw(st.sampled_from(["replace", "drop", "extra", "flip"]))
    if how == "drop" and isinstance(target, dict) and target:
        del target[draw(st.sampled_from(sorted(target)))]
        return value
    if how == "drop" and isinstance(target, list) and target:
        target.pop()
        return value
    if how == "extra" and isinstance(target, dict):
        target[draw(odd_text)] = draw(scalars)
        return value
    if how == "extra" and isinstance(target, list):
        target.extend(draw(st.lists(hostile, min_size=1, max_size=40)))
        return value
    if how == "flip" and isinstance(target, bool | int | float):
        return put(draw(st.sampled_from([True, False, str(target), -1, 2**63, math.nan, 0.5])))
    if how == "flip" and isinstance(target, str):
        return put(
            draw(
                st.sampled_from(
                    [
                        target + draw(odd_text),
                        draw(st.sampled_from(ODD_CHARACTERS)) + target,
                        target.upper(),
                        " " + target + " ",
                        target * 40,
                        [target],
                        {"value": target},
                    ]
                )
            )
        )
    return put(draw(hostile))


def _schema(version: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (ROOT / "docs" / "api" / version / f"{name}.request.schema.json").read_text()
    )
    return schema


def _key() -> str:
    return uuid.uuid4().hex


@st.composite
def requests_for(draw: st.DrawFn, name: str) -> Any:
    """The `data` of a request to callable ``name``: near-valid or garbage, at every level."""
    version = draw(st.sampled_from([v.date for v in versions.VERSIONS]))
    schema = _schema(version, name)
    payload = draw(plausible(schema, schema.get("$defs", {})))
    envelope: dict[str, Any] = {
        "apiVersion": version,
        "client": dict(IPHONE),
        "idempotencyKey": draw(st.sampled_from([_key(), "k" * 16, "-" * 64])),
        "payload": payload,
    }
    kind = draw(
        st.sampled_from(["payload", "payload", "payload", "valid", "envelope", "garbage", "data"])
    )
    if kind == "valid":
        return envelope
    if kind == "payload":
        return envelope | {"payload": draw(broken(payload))}
    if kind == "envelope":
        bad = draw(broken({k: v for k, v in envelope.items() if k != "payload"}))
        return bad | {"payload": payload} if isinstance(bad, dict) else bad
    if kind == "garbage":
        return envelope | {"payload": draw(hostile)}
    return draw(hostile)


# -- calling and observing ---------------------------------------------------------------------


def call_raw(
    firebase: EmulatorSuite, name: str, data: Any, user: User | None
) -> tuple[int, str, str | None]:
    """POST ``{"data": data}`` as raw JSON (NaN and Infinity included); the HTTP status, the code
    and the error's ``details.reason``.

    Fails the example when the answer is not the callable protocol's JSON."""
    functions = firebase.functions
    body = json.dumps({"data": data}, allow_nan=True)
    headers = {"Content-Type": "application/json", **(user.bearer if user else {})}
    response = session().post(
        f"{functions.base_url}/{functions.project}/{functions.region}/{name}",
        data=body.encode("utf-8"),
        headers=headers,
        timeout=TIMEOUT_S,
    )
    try:
        answer = response.json()
    except ValueError:
        pytest.fail(f"{name} answered {response.status_code} with non-JSON: {response.text[:300]}")
    assert isinstance(answer, dict) and ("result" in answer or "error" in answer), answer
    if "error" not in answer:
        return response.status_code, "OK", None
    error = answer["error"]
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    return response.status_code, str(error.get("status")), details.get("reason")


def snapshot(firebase: EmulatorSuite, uid: str) -> dict[str, Any]:
    """The person's profile and every document under it, bookkeeping excluded (see above)."""
    db = firebase.firestore.as_owner()
    state: dict[str, Any] = {"profile": db.get(paths.user(uid))}
    for collection in USER_COLLECTIONS:
        state[collection] = db.query(f"{paths.user(uid)}/{collection}")
    return state


class People:
    """Signed-in people to call as; a fresh one before any callable's rate limit is reached."""

    def __init__(self, firebase: EmulatorSuite, per_minute: int) -> None:
        self.firebase = firebase
        self.calls_each = max(1, per_minute // 2)
        self.calls = 0
        self.current = self._fresh()
        self.state = snapshot(firebase, self.current.uid)

    def _fresh(self) -> User:
        user = self.firebase.auth.sign_up_anonymously()
        self.firebase.functions.call(
            "launch", {"apiVersion": versions.HEAD, "client": IPHONE}, user=user
        ).unwrap()
        return user

    def retire(self) -> None:
        """Move on to a fresh person at the next call."""
        self.calls = self.calls_each

    def next(self) -> User:
        self.calls += 1
        if self.calls > self.calls_each:
            self.calls = 1
            self.current = self._fresh()
            self.state = snapshot(self.firebase, self.current.uid)
        return self.current


FUZZ = settings(
    max_examples=EXAMPLES_PER_CALLABLE,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one clean suite per callable is what we want
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_hostile_requests_get_typed_errors_and_change_nothing(
    triggers_off: None, firebase: EmulatorSuite, name: str
) -> None:
    people = People(firebase, CALLABLES[name].per_minute)

    @FUZZ
    @given(data=requests_for(name), signed_in=st.integers(0, 9).map(lambda n: n > 0))
    def hostile_call(data: Any, signed_in: bool) -> None:
        user = people.next() if signed_in else None
        status, code, reason = call_raw(firebase, name, data, user)
        event(f"{code} {reason or ''}".strip())

        assert code in CLIENT_CODES, f"{name} answered {code} (HTTP {status})"
        assert status < 500, f"{name} answered HTTP {status} ({code})"
        if code != "OK":
            assert CALLABLES[name].declares(code, reason), f"{name} answered {code} {reason}"
        if user is None:
            return
        after = snapshot(firebase, user.uid)
        if code != "OK":
            assert after == people.state, f"{name} refused with {code} but changed data"
        people.state = after
        if code == "OK" and CALLABLES[name].mutating:
            # Accepted work may go on in the background (an erasure, an export) and would blur
            # the next comparison: the next call is made as someone new.
            people.retire()

    hostile_call()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"data": ',
        b"[]",
        b"null",
        b'"data"',
        b"{}",
        b'{"data": {"apiVersion": NaN}}',
        b'{"data": {}, "extra": 1}',
        b'{"data": {"apiVersion": "2026-11-29", "client": {"platform": "ios", "appVersion": "3.4.0", "build": 1e999}}}',
        b"\xff\xfe\x00garbage",
        '{"data": {"apiVersion": "\u0662\u0660\u0662\u0666-11-29"}}'.encode(),
    ],
)
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_malformed_bodies_get_a_json_error(
    firebase: EmulatorSuite, user: User, body: bytes, content_type: str
) -> None:
    functions = firebase.functions
    for name in sorted(CALLABLES):
        response = session().post(
            f"{functions.base_url}/{functions.project}/{functions.region}/{name}",
            data=body,
            headers={"Content-Type": content_type, **user.bearer},
            timeout=TIMEOUT_S,
        )
        answer = response.json()
        assert "error" in answer, (name, answer)
        assert response.status_code < 500, (name, response.status_code, answer)
        assert answer["error"]["status"] in CLIENT_CODES, (name, answer)


def test_no_callable_answered_an_error_it_does_not_declare(firebase: EmulatorSuite) -> None:
    """The envelope logs every answer outside its callable's contract (``undeclared error``):
    none among this run's calls so far, the hostile ones above and every test module run before
    this one."""
    trace = uuid.uuid4().hex  # one last call, to know the log has caught up with the calls before
    firebase.functions.call(
        "launch",
        {"apiVersion": versions.HEAD, "client": IPHONE},
        user=firebase.auth.sign_up_anonymously(),
        headers={"traceparent": f"00-{trace}-{uuid.uuid4().hex[:16]}-01"},
    ).unwrap()
    wait_for_lines(requests("launch", trace), message="the last launch's request line")

    undeclared = [line for line in json_lines() if line.get("message") == "undeclared error"]

    assert undeclared == []

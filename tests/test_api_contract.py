"""The mobile API contract: old app versions keep working, and the published schemas are the code's.

Golden files in tests/contracts/<version>/<callable>.json pin a real request and its answer per
API version. An edit of a head model that changes what an old version sees, made without a
version change, fails here (the answer no longer matches the golden file, and the generated
schemas no longer match docs/api/).

Nothing here reads the test machine's clock: the server decides time. A golden request names its
day as ``<day>`` (the server's yesterday, read from ``meta.serverTime``), and answers are
normalised by field name, never by value, so no real value can be mistaken for a placeholder
(once, yesterday's date equalled the head version's date and ``meta.apiVersion`` was rewritten).
CI runs this file again with the test process's clock moved and its time zone changed
(``scripts/test-shifted-dates``).
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import IPHONE, envelope, register_device

from firebase_emulator_harness import EmulatorSuite, User
from focus.contracts import versions

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "contracts"
MOMENTS = {"createdAt", "serverTime", "nextAvailableAt", "suspendedUntil", "asOf"}
DAYS = {"day"}
UPDATE = os.environ.get("FOCUS_UPDATE_GOLDEN") == "1"


def normalized(value: Any) -> Any:
    """Moments and days become placeholders, by field name; the emulator-only cost counter goes."""
    if isinstance(value, dict):
        return {
            k: "<datetime>" if k in MOMENTS and v else "<day>" if k in DAYS else normalized(v)
            for k, v in value.items()
            if k != "usage"
        }
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def concrete(request: dict[str, Any], day: date) -> Any:
    """A golden request with ``<day>`` replaced by a real day (reports older than 30 days are
    refused, so golden requests cannot name a fixed one)."""
    return json.loads(json.dumps(request).replace("<day>", day.isoformat()))


def server_now(firebase: EmulatorSuite, user: User) -> datetime:
    """The server's clock, as the app learns it: the person opens the app (``launch``), which
    registers its device."""
    meta = firebase.functions.call("launch", envelope(), user=user).unwrap()["meta"]
    register_device(firebase, user)
    return datetime.fromisoformat(meta["serverTime"])


def retired(version: str, today: date) -> bool:
    """Whether ``version`` has passed its sunset on the server's ``today``: its tests then expect
    the refusal an old app gets, so this file passes on any date."""
    sunset = next(v.sunset for v in versions.VERSIONS if v.date == version)
    return sunset is not None and today.isoformat() >= sunset


def assert_refused_as_retired(answer: Any) -> None:
    assert answer.code == "FAILED_PRECONDITION"
    assert answer.error["details"]["reason"] == "UNSUPPORTED_API_VERSION"


CASES = {
    ("2026-06-01", "launch"): {"payload": {}},
    ("2026-11-29", "launch"): {"payload": {}},
    (
        "2026-06-01",
        "uploadDailyReports",
    ): {
        "idempotencyKey": "golden-upload-2026-06-01",
        "payload": {
            "deviceId": "iphone-1",
            "reports": [
                {
                    "day": "<day>",
                    "timezone": "Europe/Berlin",
                    "screenTimeSeconds": 5430,
                    "pickups": 31,
                    "focusedSeconds": 3600,
                    "asOf": "<day>T21:00:00Z",
                }
            ],
        },
    },
    (
        "2026-11-29",
        "uploadDailyReports",
    ): {
        "idempotencyKey": "golden-upload-2026-11-29",
        "payload": {
            "deviceId": "iphone-1",
            "reports": [
                {
                    "day": "<day>",
                    "timezone": "Europe/Berlin",
                    "screenTimeMinutes": 90,
                    "pickups": 31,
                    "focusedMinutes": 60,
                    "asOf": "<day>T21:00:00Z",
                }
            ],
        },
    },
}


@pytest.mark.parametrize(("version", "name"), sorted(CASES))
def test_each_version_keeps_its_golden_answers(
    firebase: EmulatorSuite, version: str, name: str
) -> None:
    request = {"apiVersion": version, "client": IPHONE, **CASES[(version, name)]}
    path = GOLDEN / version / f"{name}.json"
    user = firebase.auth.sign_up_anonymously()
    now = server_now(firebase, user)  # a fresh person who opened the app once

    answer = firebase.functions.call(
        name, concrete(request, now.date() - timedelta(days=1)), user=user
    )

    if retired(version, now.date()):
        assert_refused_as_retired(answer)
        return
    data = answer.unwrap()
    schema = json.loads((ROOT / "docs/api" / version / f"{name}.response.schema.json").read_text())
    jsonschema.validate(data["data"], schema)
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"request": request, "answer": normalized(data)}, indent=2, sort_keys=True)
            + "\n"
        )
    golden = json.loads(path.read_text())
    assert golden["request"] == request
    assert normalized(data) == golden["answer"]


def test_an_old_client_reporting_seconds_is_stored_in_minutes(firebase: EmulatorSuite) -> None:
    request = {
        "apiVersion": "2026-06-01",
        "client": IPHONE,
        **CASES[("2026-06-01", "uploadDailyReports")],
    }
    user = firebase.auth.sign_up_anonymously()
    now = server_now(firebase, user)
    yesterday = now.date() - timedelta(days=1)

    answer = firebase.functions.call("uploadDailyReports", concrete(request, yesterday), user=user)

    if retired("2026-06-01", now.date()):
        assert_refused_as_retired(answer)
        return
    answer.unwrap()
    stored = firebase.firestore.as_owner().get(f"users/{user.uid}/days/{yesterday}") or {}
    assert stored["totals"] == {"screenTimeMinutes": 90, "pickups": 31, "focusedMinutes": 60}


def test_a_request_dated_between_versions_is_served_as_the_earlier_one(
    firebase: EmulatorSuite,
) -> None:
    user = firebase.auth.sign_up_anonymously()
    now = server_now(firebase, user)

    answer = firebase.functions.call("launch", envelope(version="2026-09-15"), user=user)

    if retired("2026-06-01", now.date()):
        assert_refused_as_retired(answer)
        return
    data = answer.unwrap()
    assert data["meta"]["apiVersion"] == "2026-06-01"
    assert data["meta"]["deprecation"]["sunsetAt"] == "2027-06-01"
    assert "emergencyPassAvailable" in data["data"]


def test_a_request_dated_after_the_newest_version_is_served_as_the_newest(
    firebase: EmulatorSuite,
) -> None:
    user = firebase.auth.sign_up_anonymously()

    meta = firebase.functions.call("launch", envelope(version="2099-01-01"), user=user).unwrap()

    assert meta["meta"]["apiVersion"] == versions.HEAD


def test_a_version_older_than_any_supported_is_refused(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()
    today = server_now(firebase, user).date()

    answer = firebase.functions.call("launch", envelope(version="2025-01-01"), user=user)

    assert answer.code == "FAILED_PRECONDITION"
    oldest_live = next(v.date for v in versions.VERSIONS if not retired(v.date, today))
    assert answer.error["details"] == {
        "reason": "UNSUPPORTED_API_VERSION",
        "oldestSupported": oldest_live,
    }


def old_upload(report: dict[str, Any]) -> dict[str, Any]:
    payload = {"deviceId": "iphone-1", "reports": [report]}
    return envelope(payload, version="2026-06-01")


def yesterdays_report(now: datetime, **fields: Any) -> dict[str, Any]:
    day = (now.date() - timedelta(days=1)).isoformat()
    report = {"day": day, "timezone": "Europe/Berlin", "pickups": 3, "asOf": f"{day}T21:00:00Z"}
    return report | fields


@pytest.mark.parametrize(
    ("fields", "paths"),
    [
        (  # the head version's names
            {"screenTimeMinutes": 90, "focusedMinutes": 60},
            {
                ("screenTimeSeconds", "required"),
                ("focusedSeconds", "required"),
                ("screenTimeMinutes", "additionalProperties"),
                ("focusedMinutes", "additionalProperties"),
            },
        ),
        (  # both names: nothing silently wins
            {"screenTimeSeconds": 5400, "focusedSeconds": 60, "screenTimeMinutes": 90},
            {("screenTimeMinutes", "additionalProperties")},
        ),
        (  # a number sent as text is not coerced
            {"screenTimeSeconds": "5400", "focusedSeconds": 60},
            {("screenTimeSeconds", "type")},
        ),
        ({"focusedSeconds": 60}, {("screenTimeSeconds", "required")}),
    ],
    ids=["head-names", "both-names", "text-number", "missing"],
)
def test_an_old_version_is_held_to_its_own_schema_in_its_own_names(
    firebase: EmulatorSuite, fields: dict[str, Any], paths: set[tuple[str, str]]
) -> None:
    user = firebase.auth.sign_up_anonymously()
    now = server_now(firebase, user)

    answer = firebase.functions.call(
        "uploadDailyReports", old_upload(yesterdays_report(now, **fields)), user=user
    )

    if retired("2026-06-01", now.date()):
        assert_refused_as_retired(answer)
        return
    assert answer.code == "INVALID_ARGUMENT"
    assert answer.error["details"]["reason"] == "SCHEMA_VIOLATION"
    reported = {(f["path"], f["type"]) for f in answer.error["details"]["fields"]}
    assert reported == {(f"payload.reports.0.{name}", kind) for name, kind in paths}
    assert firebase.firestore.as_owner().query(f"users/{user.uid}/days") == []


def test_the_head_version_carries_no_deprecation_notice(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()

    meta = firebase.functions.call("launch", envelope(), user=user).unwrap()["meta"]

    assert meta["apiVersion"] == "2026-11-29" and "deprecation" not in meta

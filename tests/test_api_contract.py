"""The mobile API contract: old app versions keep working, and the published schemas are the code's.

Golden files in tests/contracts/<version>/<callable>.json pin a real request and its answer per
API version. An edit of a head model that changes what an old version sees, made without a
version change, fails here (the answer no longer matches the golden file, and the generated
schemas no longer match docs/api/).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import IPHONE, envelope

from firebase_emulator_harness import EmulatorSuite

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "contracts"
VOLATILE = {"createdAt", "serverTime", "nextAvailableAt", "suspendedUntil", "asOf"}
UPDATE = os.environ.get("FOCUS_UPDATE_GOLDEN") == "1"
# Golden requests name a recent day symbolically: reports older than 30 days are refused.
YESTERDAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def normalized(value: Any) -> Any:
    """Volatile values become placeholders; the emulator-only cost counter is left out."""
    if isinstance(value, dict):
        return {
            k: "<datetime>" if k in VOLATILE and v else normalized(v)
            for k, v in value.items()
            if k != "usage"
        }
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return "<yesterday>" if value == YESTERDAY else value


def concrete(value: Any) -> Any:
    return json.loads(json.dumps(value).replace("<yesterday>", YESTERDAY))


def replay(
    firebase: EmulatorSuite, version: str, name: str, request: dict[str, Any]
) -> dict[str, Any]:
    """A fresh person who opened the app once makes the golden request."""
    user = firebase.auth.sign_up_anonymously()
    firebase.functions.call("launch", envelope(), user=user).unwrap()
    answer: dict[str, Any] = firebase.functions.call(name, concrete(request), user=user).unwrap()
    schema = json.loads(
        (ROOT / "docs" / "api" / version / f"{name}.response.schema.json").read_text()
    )
    jsonschema.validate(answer["data"], schema)
    return normalized(answer)


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
                    "day": "<yesterday>",
                    "timezone": "Europe/Berlin",
                    "screenTimeSeconds": 5430,
                    "pickups": 31,
                    "focusedSeconds": 3600,
                    "asOf": "<yesterday>T21:00:00+00:00",
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
                    "day": "<yesterday>",
                    "timezone": "Europe/Berlin",
                    "screenTimeMinutes": 90,
                    "pickups": 31,
                    "focusedMinutes": 60,
                    "asOf": "<yesterday>T21:00:00+00:00",
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

    answer = replay(firebase, version, name, request)

    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"request": request, "answer": answer}, indent=2, sort_keys=True) + "\n"
        )
    golden = json.loads(path.read_text())
    assert golden["request"] == request
    assert answer == golden["answer"]


def test_an_old_client_reporting_seconds_is_stored_in_minutes(firebase: EmulatorSuite) -> None:
    request = {
        "apiVersion": "2026-06-01",
        "client": IPHONE,
        **CASES[("2026-06-01", "uploadDailyReports")],
    }
    user = firebase.auth.sign_up_anonymously()
    firebase.functions.call("launch", envelope(), user=user).unwrap()

    firebase.functions.call("uploadDailyReports", concrete(request), user=user).unwrap()

    stored = firebase.firestore.as_owner().get(f"users/{user.uid}/days/{YESTERDAY}") or {}
    assert stored["totals"] == {"screenTimeMinutes": 90, "pickups": 31, "focusedMinutes": 60}


def test_a_request_dated_between_versions_is_served_as_the_earlier_one(
    firebase: EmulatorSuite,
) -> None:
    user = firebase.auth.sign_up_anonymously()

    answer = firebase.functions.call("launch", envelope(version="2026-09-15"), user=user).unwrap()

    assert answer["meta"]["apiVersion"] == "2026-06-01"
    assert answer["meta"]["deprecation"]["sunsetAt"] == "2027-06-01"
    assert "emergencyPassAvailable" in answer["data"]


def test_a_version_older_than_any_supported_is_refused(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()

    answer = firebase.functions.call("launch", envelope(version="2025-01-01"), user=user)

    assert answer.code == "FAILED_PRECONDITION"
    assert answer.error["details"] == {
        "reason": "UNSUPPORTED_API_VERSION",
        "oldestSupported": "2026-06-01",
    }


def test_the_head_version_carries_no_deprecation_notice(firebase: EmulatorSuite) -> None:
    user = firebase.auth.sign_up_anonymously()

    meta = firebase.functions.call("launch", envelope(), user=user).unwrap()["meta"]

    assert meta["apiVersion"] == "2026-11-29" and "deprecation" not in meta

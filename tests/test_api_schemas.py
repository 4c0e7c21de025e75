"""The JSON Schemas in docs/api/ and docs/api.md are generated from the code and must match it."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))

import api_contract_cli  # noqa: E402

from focus_tools import api_contract  # noqa: E402


def committed() -> dict[str, str | None]:
    return api_contract_cli.committed(list(api_contract.files()))


def setup_module() -> None:
    if not api_contract.CALLABLES:
        api_contract_cli.load_api_codebase()


def test_the_committed_contract_matches_the_code() -> None:
    assert api_contract.drift(committed()) == []


def test_every_callable_has_schemas_for_every_version() -> None:
    names = {spec for spec in api_contract.CALLABLES}
    assert {
        "launch",
        "useEmergencyPass",
        "uploadDailyReports",
        "deleteAccount",
        "setConsent",
    } <= names
    for version in ("2026-06-01", "2026-11-29"):
        for name in names:
            for part in ("request", "response"):
                assert (ROOT / "docs" / "api" / version / f"{name}.{part}.schema.json").exists()


def test_a_breaking_head_edit_without_a_version_change_is_caught(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Renaming a head response field changes what every version's clients see."""
    from focus.contracts.launch import LaunchResponse

    original = LaunchResponse.model_json_schema

    def renamed(*args, **kwargs):  # type: ignore[no-untyped-def]
        schema = original(*args, **kwargs)
        schema["properties"]["communityHours"] = schema["properties"].pop("communityHoursSaved")
        return schema

    monkeypatch.setattr(LaunchResponse, "model_json_schema", renamed)

    stale = api_contract.drift(committed())
    assert "api/2026-06-01/launch.response.schema.json" in stale
    assert "api/2026-11-29/launch.response.schema.json" in stale

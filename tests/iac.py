"""An offline checker for infra/terraform (no Terraform binary can be installed here).

``problems(folder)`` parses every ``.tf`` file with python-hcl2 and returns what is wrong, one
sentence each: references to things never declared, and the settings this project requires
(EU Firestore with PITR and delete protection, bounded retries and dead letters on subscriptions,
a runbook behind every alert, runtime roles from an allow-list). tests/test_infra.py runs it on the
real folder and on broken copies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[1]
TERRAFORM = ROOT / "infra" / "terraform"
OPTIONS = hcl2.SerializationOptions(
    with_comments=False, strip_string_quotes=True, explicit_blocks=False
)

EU_LOCATIONS = re.compile(r"^(eur\d+|europe-[a-z]+\d+)$")
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
# What a functions codebase's runtime identity may hold at project level. Anything else (a topic,
# a secret, acting as another service account) must be granted on that one resource. These lists
# repeat the Terraform's on purpose: a policy read from the code it checks would approve anything.
RUNTIME_ROLES = {
    "api": {
        "roles/datastore.user",
        "roles/logging.logWriter",
        "roles/cloudtrace.agent",
        "roles/monitoring.metricWriter",
    },
    "triggers": {
        "roles/datastore.user",
        "roles/logging.logWriter",
        "roles/cloudtrace.agent",
        "roles/monitoring.metricWriter",
        "roles/eventarc.eventReceiver",
        "roles/cloudtasks.enqueuer",
    },
    "jobs": {
        "roles/datastore.user",
        "roles/logging.logWriter",
        "roles/cloudtrace.agent",
        "roles/monitoring.metricWriter",
        "roles/eventarc.eventReceiver",
    },
}
DEPLOYER_ROLES = {
    "roles/cloudfunctions.developer",
    "roles/run.admin",
    "roles/firebaserules.admin",
    "roles/datastore.indexAdmin",
    "roles/pubsub.editor",
    "roles/eventarc.admin",
    "roles/cloudscheduler.admin",
    "roles/cloudtasks.queueAdmin",
    "roles/artifactregistry.writer",
    "roles/cloudbuild.builds.editor",
    "roles/secretmanager.viewer",
    "roles/firebaseextensions.viewer",
}
SERVICE_AGENT_ROLES = {"roles/pubsub.subscriber"}

_REF = re.compile(
    r"(?<![\w.\]])(?:(var|local|module)\.([\w-]+)|data\.(\w+)\.([\w-]+)|(google_\w+)\.([A-Za-z_][\w-]*))"
)
_RUNBOOK = re.compile(r"docs/runbooks/[\w.-]+\.md")
_MAP_RUNBOOK = re.compile(r"local\.(\w+)\[[^\]]+\]\.runbook")


@dataclass
class Resource:
    kind: str  # "resource" or "data"
    type: str
    name: str
    body: dict[str, Any]
    file: str

    @property
    def address(self) -> str:
        prefix = "data." if self.kind == "data" else ""
        return f"{prefix}{self.type}.{self.name}"


@dataclass
class Terraform:
    resources: list[Resource] = field(default_factory=list)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == "resource" and r.type == type_]

    def resolve(self, value: Any) -> Any:
        """A ``${var.x}`` or ``${local.x}`` value replaced by the variable's default / the local."""
        if isinstance(value, str) and (match := re.fullmatch(r"\$\{(var|local)\.(\w+)\}", value)):
            kind, name = match.groups()
            if kind == "var":
                return self.variables.get(name, {}).get("default")
            return self.locals.get(name)
        return value


def load(folder: Path = TERRAFORM) -> Terraform:
    """Every .tf file in ``folder`` parsed (a file that does not parse raises)."""
    tf = Terraform()
    for path in sorted(folder.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=OPTIONS)
        tf.files[path.name] = parsed
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for type_, named in block.items():
                    for name, body in named.items():
                        tf.resources.append(Resource(kind, type_, name, body, path.name))
        for block in parsed.get("variable", []):
            tf.variables.update(block)
        for block in parsed.get("locals", []):
            tf.locals.update(block)
        for block in parsed.get("module", []):
            tf.modules.update(block)
    return tf


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _interpolations(text: str) -> Iterator[str]:
    """The contents of each top-level ``${ ... }`` in ``text`` (nested braces matched)."""
    start = text.find("${")
    while start != -1:
        depth, index = 0, start + 1
        while index < len(text):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        yield text[start + 2 : index]
        start = text.find("${", index)


def reference_problems(tf: Terraform) -> list[str]:
    declared = {r.address for r in tf.resources}
    found = []
    for file, parsed in tf.files.items():
        for text in _strings(parsed):
            for expression in _interpolations(text):
                for match in _REF.finditer(expression):
                    kind, name, data_type, data_name, res_type, res_name = match.groups()
                    if kind == "var" and name not in tf.variables:
                        found.append(f"{file}: var.{name} is not declared")
                    elif kind == "local" and name not in tf.locals:
                        found.append(f"{file}: local.{name} is not declared")
                    elif kind == "module" and name not in tf.modules:
                        found.append(f"{file}: module.{name} is not declared")
                    elif data_type and f"data.{data_type}.{data_name}" not in declared:
                        found.append(f"{file}: data.{data_type}.{data_name} is not declared")
                    elif res_type and f"{res_type}.{res_name}" not in declared:
                        found.append(f"{file}: {res_type}.{res_name} is not declared")
    return sorted(set(found))


def firestore_problems(tf: Terraform) -> list[str]:
    databases = tf.of_type("google_firestore_database")
    if not databases:
        return ["no google_firestore_database is declared"]
    found = []
    for db in databases:
        location = tf.resolve(db.body.get("location_id"))
        if not (isinstance(location, str) and EU_LOCATIONS.match(location)):
            found.append(f"{db.address}: location_id {location!r} is not in the EU")
        if db.body.get("point_in_time_recovery_enablement") != "POINT_IN_TIME_RECOVERY_ENABLED":
            found.append(f"{db.address}: point-in-time recovery is not enabled")
        if db.body.get("delete_protection_state") != "DELETE_PROTECTION_ENABLED":
            found.append(f"{db.address}: delete protection is not enabled")
    return found


def _block(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    blocks = body.get(name)
    return blocks[0] if isinstance(blocks, list) and blocks else None


def subscription_problems(tf: Terraform) -> list[str]:
    """Every subscription retries with backoff; every one not on a dead-letter topic dead-letters."""
    dead_letter_topics = {
        f"google_pubsub_topic.{t.name}"
        for t in tf.of_type("google_pubsub_topic")
        if str(t.body.get("name", "")).endswith("-dead-letter")
    }
    found = []
    for sub in tf.of_type("google_pubsub_subscription"):
        retry = _block(sub.body, "retry_policy")
        if retry is None or not retry.get("minimum_backoff") or not retry.get("maximum_backoff"):
            found.append(f"{sub.address}: no retry_policy with minimum and maximum backoff")
        topic = str(sub.body.get("topic", ""))
        if any(name in topic for name in dead_letter_topics):
            continue  # the end of the line
        policy = _block(sub.body, "dead_letter_policy")
        if policy is None or "dead_letter_topic" not in policy:
            found.append(f"{sub.address}: no dead_letter_policy")
            continue
        attempts = tf.resolve(policy.get("max_delivery_attempts"))
        if not (isinstance(attempts, int) and 5 <= attempts <= 100):
            found.append(f"{sub.address}: max_delivery_attempts {attempts!r} is not in 5..100")
    return found


def _runbooks_of_local(tf: Terraform, local: str) -> list[str]:
    entries = tf.locals.get(local)
    if not isinstance(entries, dict) or not entries:
        return []
    return [str(entry.get("runbook", "")) for entry in entries.values()]


def alert_problems(tf: Terraform, root: Path = ROOT) -> list[str]:
    """Every alert policy's documentation links a runbook that exists in the repository."""
    found = []
    for alert in tf.of_type("google_monitoring_alert_policy"):
        docs = _block(alert.body, "documentation")
        content = str((docs or {}).get("content", ""))
        runbooks = _RUNBOOK.findall(content)
        for match in _MAP_RUNBOOK.finditer(content):
            runbooks += _runbooks_of_local(tf, match[1]) or [f"<local.{match[1]} has no runbooks>"]
        if not runbooks:
            found.append(f"{alert.address}: documentation links no runbook")
        found += [
            f"{alert.address}: runbook {runbook} does not exist"
            for runbook in runbooks
            if not (root / runbook).is_file()
        ]
    return found


def _granted_roles(tf: Terraform, binding: Resource) -> set[str]:
    """The roles a (possibly for_each'd) IAM binding grants."""
    role = str(binding.body.get("role", ""))
    if not role.startswith("${"):
        return {role}
    for_each = str(binding.body.get("for_each", ""))
    if "local.codebase_role_pairs" in for_each:
        roles = tf.locals.get("codebase_roles", {})
        return {r for codebase_roles in roles.values() for r in codebase_roles}
    return set(re.findall(r"roles/[\w.]+", for_each)) or {f"<unresolved {role}>"}


def iam_problems(tf: Terraform) -> list[str]:
    found = []
    codebase_roles = tf.locals.get("codebase_roles", {})
    for codebase, roles in codebase_roles.items():
        allowed = RUNTIME_ROLES.get(codebase, set())
        found += [
            f"local.codebase_roles: {codebase} may not hold {role}"
            for role in roles
            if role not in allowed
        ]
    for binding in tf.resources:
        if not (binding.type.endswith("_iam_member") or binding.type.endswith("_iam_binding")):
            continue
        roles = _granted_roles(tf, binding)
        member = str(binding.body.get("member", binding.body.get("members", "")))
        found += [f"{binding.address}: grants primitive {r}" for r in roles & PRIMITIVE_ROLES]
        if binding.type != "google_project_iam_member":
            continue  # resource-level grants are as narrow as their resource
        if "google_service_account.codebase" in member:
            allowed = set().union(*RUNTIME_ROLES.values())
        elif "google_service_account.deployer" in member:
            allowed = DEPLOYER_ROLES
        elif "gcp-sa-pubsub" in member or "pubsub_service_agent" in member:
            allowed = SERVICE_AGENT_ROLES
        else:
            found.append(f"{binding.address}: project role for an unknown member {member}")
            continue
        found += [f"{binding.address}: {r} is not allowed" for r in sorted(roles - allowed)]
    return found


def problems(folder: Path = TERRAFORM, root: Path = ROOT) -> list[str]:
    tf = load(folder)
    return (
        reference_problems(tf)
        + firestore_problems(tf)
        + subscription_problems(tf)
        + alert_problems(tf, root)
        + iam_problems(tf)
    )

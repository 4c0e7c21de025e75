"""An offline checker for infra/terraform (no Terraform binary can be installed here).

``problems(folder)`` parses every ``.tf`` file with python-hcl2 and returns what is wrong, one
sentence each: references to things never declared, and the settings this project requires
(EU Firestore with PITR and delete protection, bounded retries and dead letters on subscriptions,
a runbook and a person behind every alert, runtime grants that are exactly what the code needs:
``focus_tools.permissions``). tests/test_infra.py runs it on the real folder and on broken
copies.
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
# How iam.tf turns local.runtime_iam into bindings: resource -> (its kind in runtime_iam, the role
# it grants; None: the role is the listed name itself). A runtime account bound anywhere else is
# a problem: every grant to it must be one the code is checked against.
RUNTIME_BINDINGS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("google_project_iam_member", "runtime"): ("project", None),
    ("google_project_iam_member", "runtime_custom"): ("custom", None),
    ("google_secret_manager_secret_iam_member", "runtime"): (
        "secrets",
        "roles/secretmanager.secretAccessor",
    ),
    ("google_pubsub_topic_iam_member", "runtime"): ("topics", "roles/pubsub.publisher"),
    ("google_cloud_tasks_queue_iam_member", "runtime"): ("queues", "roles/cloudtasks.enqueuer"),
    ("google_cloud_run_v2_service_iam_member", "runtime"): ("invokes", "roles/run.invoker"),
    ("google_storage_bucket_iam_member", "runtime"): ("buckets", "roles/storage.objectUser"),
    ("google_service_account_iam_member", "runtime_act_as"): (
        "act_as",
        "roles/iam.serviceAccountUser",
    ),
}
# The resource kind (focus_tools.permissions) each runtime_iam list grants on.
RUNTIME_KINDS = {
    "project": "project",
    "secrets": "secret",
    "topics": "topic",
    "queues": "queue",
    "invokes": "service",
    "buckets": "bucket",
}
# The accepted channel expressions of an alert policy: pages or tickets, nothing else.
CHANNEL_LOCALS = {"local.page_channels", "local.ticket_channels"}
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
    """The roles a (possibly for_each'd) IAM binding grants, where they are literal."""
    role = str(binding.body.get("role", ""))
    if not role.startswith("${"):
        return {role}
    for_each = str(binding.body.get("for_each", ""))
    return set(re.findall(r"roles/[\w.]+", for_each)) or {f"<unresolved {role}>"}


def runtime_grants(tf: Terraform) -> dict[str, set[Any]]:
    """What local.runtime_iam grants each codebase's account, as ``permissions.Grant``s."""
    from focus_tools.permissions import CUSTOM, SELF, Grant

    found: dict[str, set[Any]] = {}
    for codebase, iam in (tf.locals.get("runtime_iam") or {}).items():
        grants: set[Any] = set()
        for list_name, kind in RUNTIME_KINDS.items():
            role = next(
                (r for (_, _), (k, r) in RUNTIME_BINDINGS.items() if k == list_name and r), None
            )
            for name in iam.get(list_name) or []:
                if kind == "project":
                    grants.add(Grant(name, "project"))
                else:
                    grants.add(Grant(str(role), kind, name))
        grants |= {Grant(permission, CUSTOM) for permission in iam.get("custom") or []}
        if iam.get("act_as") is True:
            grants.add(Grant("roles/iam.serviceAccountUser", SELF))
        found[codebase] = grants
    return found


def _runtime_binding_problems(tf: Terraform) -> list[str]:
    """iam.tf binds local.runtime_iam as RUNTIME_BINDINGS says, and runtime accounts nowhere else."""
    found = []
    declared = {(r.type, r.name): r for r in tf.resources if r.kind == "resource"}
    for (type_, name), (kind, role) in RUNTIME_BINDINGS.items():
        binding = declared.get((type_, name))
        if binding is None:
            found.append(f"{type_}.{name} is missing: local.runtime_iam.{kind} is granted by it")
            continue
        for_each = str(binding.body.get("for_each", ""))
        expected_source = {
            "custom": "google_project_iam_custom_role.runtime",
            "act_as": "iam.act_as",
        }.get(kind, f"local.runtime_grants.{kind}")
        if expected_source not in for_each:
            found.append(f"{binding.address}: for_each {for_each!r} is not {expected_source}")
        granted = str(binding.body.get("role", ""))
        wanted = role or ("${each.value.name}")
        if granted != wanted:
            found.append(f"{binding.address}: role {granted!r} is not {wanted!r}")
    custom = declared.get(("google_project_iam_custom_role", "runtime"))
    if custom is None or custom.body.get("permissions") != "${each.value.custom}":
        found.append("google_project_iam_custom_role.runtime must hold each codebase's custom list")
    for binding in tf.resources:
        if not binding.type.endswith(("_iam_member", "_iam_binding", "_iam_policy")):
            continue
        member = str(binding.body.get("member", binding.body.get("members", "")))
        if "google_service_account.codebase" in member and (
            (binding.type, binding.name) not in RUNTIME_BINDINGS
        ):
            found.append(f"{binding.address}: grants a runtime account outside local.runtime_iam")
    return found


def permission_problems(tf: Terraform, needed: dict[str, set[Any]]) -> list[str]:
    """Least privilege both ways: each codebase's account holds exactly ``needed`` (the grants
    its code needs, ``permissions.grants(permissions.needs(codebase))``)."""
    granted = runtime_grants(tf)
    found = [
        f"local.runtime_iam: no entry for the {codebase} codebase"
        for codebase in sorted(set(needed) - set(granted))
    ]
    found += [
        f"local.runtime_iam: {codebase} is not a codebase (functions/{codebase}/main.py)"
        for codebase in sorted(set(granted) - set(needed))
    ]
    for codebase in sorted(set(needed) & set(granted)):
        for grant in sorted(needed[codebase] - granted[codebase]):
            found.append(f"{codebase} lacks {_show(grant)}, which its code needs")
        for grant in sorted(granted[codebase] - needed[codebase]):
            found.append(f"{codebase} holds {_show(grant)}, which its code does not need")
    return found


def _show(grant: Any) -> str:
    if grant.kind == "custom":
        return f"{grant.role} (custom role)"
    on = {"project": "the project", "self": "its own account"}.get(
        grant.kind, f"{grant.kind} {grant.name}"
    )
    return f"{grant.role} on {on}"


def code_needs() -> dict[str, set[Any]]:
    """The grants each codebase's code needs (focus_tools.permissions)."""
    from focus_tools import permissions

    return {
        codebase: permissions.grants(permissions.needs(codebase))
        for codebase in permissions.codebases()
    }


def iam_problems(tf: Terraform, needed: dict[str, set[Any]] | None = None) -> list[str]:
    found = _runtime_binding_problems(tf)
    found += permission_problems(tf, code_needs() if needed is None else needed)
    for binding in tf.resources:
        if not (binding.type.endswith("_iam_member") or binding.type.endswith("_iam_binding")):
            continue
        roles = _granted_roles(tf, binding)
        member = str(binding.body.get("member", binding.body.get("members", "")))
        found += [f"{binding.address}: grants primitive {r}" for r in roles & PRIMITIVE_ROLES]
        if binding.type != "google_project_iam_member":
            continue  # resource-level grants are as narrow as their resource
        if "google_service_account.codebase" in member:
            continue  # checked against the code above
        if "google_service_account.deployer" in member:
            allowed = DEPLOYER_ROLES
        elif "gcp-sa-pubsub" in member or "pubsub_service_agent" in member:
            allowed = SERVICE_AGENT_ROLES
        else:
            found.append(f"{binding.address}: project role for an unknown member {member}")
            continue
        found += [f"{binding.address}: {r} is not allowed" for r in sorted(roles - allowed)]
    return found


def load_tfvars(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        parsed: dict[str, Any] = hcl2.load(handle, serialization_options=OPTIONS)
    return parsed


def alert_channels(tf: Terraform, tfvars: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Who each alert policy can notify in the environment ``tfvars`` describes, per channel list
    it uses (``pages`` / ``tickets``; a conditional uses both): ``pager:<type>`` and
    ``email:<address>`` entries, as notifications.tf creates them from those variables. A policy
    whose channels are anything else (``[]``, a variable, a literal id) gets ``{"other": []}``."""
    emails = [f"email:{address}" for address in tfvars.get("ticket_emails") or []]
    pager = tfvars.get("pager") or {}
    pagers = [f"pager:{pager['type']}"] if pager.get("type") in ("pagerduty", "sms") else []
    lists = {
        "local.page_channels": ("pages", pagers + emails),
        "local.ticket_channels": ("tickets", emails),
    }
    found: dict[str, dict[str, list[str]]] = {}
    for alert in tf.of_type("google_monitoring_alert_policy"):
        expression = str(alert.body.get("notification_channels", ""))
        # `<condition> ? a : b`: the condition picks one of the lists after the `?`.
        chosen = expression.split("?", 1)[1] if "?" in expression else expression
        used = set(re.findall(r"local\.\w+|var\.\w+", chosen))
        if not used or not used <= CHANNEL_LOCALS or not expression.startswith("${"):
            found[alert.address] = {"other": []}
            continue
        found[alert.address] = dict(lists[name] for name in sorted(used))
    return found


def channel_problems(tf: Terraform) -> list[str]:
    """notifications.tf builds the page list from the pager and the emails, the ticket list from
    the emails; nothing else."""
    page = str(tf.locals.get("page_channels", ""))
    ticket = str(tf.locals.get("ticket_channels", ""))
    found = []
    for part in ("pagerduty", "sms", "email"):
        if f"google_monitoring_notification_channel.{part}" not in page:
            found.append(f"local.page_channels does not include the {part} channel")
    if "google_monitoring_notification_channel.email" not in ticket:
        found.append("local.ticket_channels does not include the email channels")
    return found


def problems(folder: Path = TERRAFORM, root: Path = ROOT) -> list[str]:
    tf = load(folder)
    return (
        reference_problems(tf)
        + firestore_problems(tf)
        + subscription_problems(tf)
        + alert_problems(tf, root)
        + channel_problems(tf)
        + iam_problems(tf)
    )

"""An offline checker for infra/terraform (no Terraform binary can be installed here).

``problems(folder)`` parses every ``.tf`` file with python-hcl2 and returns what is wrong, one
sentence each: references to things never declared, and the settings this project requires
(EU Firestore with PITR and delete protection, bounded retries and dead letters on subscriptions,
a runbook and a person behind every alert, runtime grants that are exactly what the code needs:
``focus_tools.permissions``). tests/test_infra.py runs it on the real folder and on broken
copies.
"""

from __future__ import annotations

import json
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
# The account of the monthly delete of erased people's analytics rows (analytics_erasure.tf):
# query jobs are project resources; its data access is on the events table alone.
ANALYTICS_ERASER_ROLES = {"roles/bigquery.jobUser"}

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
        """A ``${var.x}`` or ``${local.x}`` (or ``${local.x.key}``) value replaced by the
        variable's default / the local (its entry)."""
        if isinstance(value, str) and (
            match := re.fullmatch(r"\$\{(var|local)\.(\w+)((?:\.\w+)*)\}", value)
        ):
            kind, name, keys = match.groups()
            if kind == "var":
                return self.variables.get(name, {}).get("default") if not keys else value
            found = self.locals.get(name)
            for key in keys.split(".")[1:]:
                found = found.get(key) if isinstance(found, dict) else None
            return found
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


# Product analytics (analytics.tf): the topic validates against the domain's schema and a BigQuery
# subscription writes it to a partitioned, clustered table that forgets old days by itself.
ANALYTICS_TOPIC = "product-events"
ANALYTICS_CLUSTERING = ["event_name", "person_id"]
# Retention bounds: at least 13 months (a year-over-year month), at most 3 years.
ANALYTICS_RETENTION_DAYS = range(396, 3 * 366)
DAY_MS = 86_400_000
_FILE = re.compile(r'^\$\{file\("\$\{path\.module\}/([^"]+)"\)\}$')
_BIGQUERY_EU = re.compile(r"^(EU|europe-[a-z]+\d+)$")


def _named(tf: Terraform, type_: str, name: str) -> Resource | None:
    """The resource of ``type_`` whose ``name`` is ``name`` (literally or through a local)."""
    for resource in tf.of_type(type_):
        declared = str(resource.body.get("name", ""))
        for local, value in tf.locals.items():
            declared = declared.replace(f"${{local.{local}}}", str(value))
        if declared == name:
            return resource
    return None


def _ref(resource: Resource) -> str:
    return f"{resource.type}.{resource.name}"


def _file_of(value: Any, folder: Path) -> Path | None:
    match = _FILE.match(str(value))
    return folder / match[1] if match else None


def _int_expression(tf: Terraform, value: Any) -> int | None:
    """An integer literal or a ``${local.x * n}`` product of integers."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\$\{(.*)\}", str(value))
    if not match:
        return None
    total = 1
    for factor in match[1].split("*"):
        factor = factor.strip()
        known = (
            tf.locals.get(factor.removeprefix("local.")) if factor.startswith("local.") else None
        )
        number = known if isinstance(known, int) else int(factor) if factor.isdigit() else None
        if number is None:
            return None
        total *= number
    return total


def analytics_problems(tf: Terraform, folder: Path = TERRAFORM) -> list[str]:
    found: list[str] = []
    topic = _named(tf, "google_pubsub_topic", ANALYTICS_TOPIC)
    if topic is None:
        return [f"no topic {ANALYTICS_TOPIC} is declared"]
    settings = _block(topic.body, "schema_settings") or {}
    schema = next(
        (s for s in tf.of_type("google_pubsub_schema") if _ref(s) in str(settings.get("schema"))),
        None,
    )
    if schema is None:
        found.append(f"{topic.address}: no schema_settings naming a google_pubsub_schema")
    elif schema.body.get("type") != "AVRO":
        found.append(f"{schema.address}: type is not AVRO")
    if settings.get("encoding") != "JSON":
        found.append(f"{topic.address}: schema encoding is not JSON")
    avsc = _file_of(schema.body.get("definition"), folder) if schema else None
    fields: list[dict[str, Any]] = []
    if schema is not None and (avsc is None or not avsc.is_file()):
        found.append(f"{schema.address}: definition is not a schema file in the folder")
    elif avsc is not None:
        fields = json.loads(avsc.read_text()).get("fields", [])

    subscriptions = [
        s
        for s in tf.of_type("google_pubsub_subscription")
        if _ref(topic) + ".id" in str(s.body.get("topic", ""))
        and _block(s.body, "bigquery_config") is not None
    ]
    if not subscriptions:
        return [*found, f"{topic.address}: no BigQuery subscription"]
    for sub in subscriptions:
        config = _block(sub.body, "bigquery_config") or {}
        wanted = {"use_topic_schema": True, "write_metadata": False, "drop_unknown_fields": True}
        found += [
            f"{sub.address}: bigquery_config {key} is not {str(value).lower()}"
            for key, value in wanted.items()
            if config.get(key) is not value
        ]
        policy = _block(sub.body, "dead_letter_policy") or {}
        dead_letter = next(
            (
                t
                for t in tf.of_type("google_pubsub_topic")
                if _ref(t) + ".id" in str(policy.get("dead_letter_topic", ""))
            ),
            None,
        )
        if dead_letter is None:
            found.append(f"{sub.address}: dead letters go to no declared topic")
        elif not any(
            _ref(dead_letter) + ".id" in str(s.body.get("topic", ""))
            and s.body.get("message_retention_duration") == "604800s"
            for s in tf.of_type("google_pubsub_subscription")
        ):
            found.append(f"{dead_letter.address}: no subscription keeps its dead letters 7 days")
        table = next(
            (t for t in tf.of_type("google_bigquery_table") if _ref(t) in str(config.get("table"))),
            None,
        )
        if table is None:
            found.append(f"{sub.address}: writes to no declared google_bigquery_table")
            continue
        found += _table_problems(tf, table, fields, folder)
    return found


def _table_problems(
    tf: Terraform, table: Resource, fields: list[dict[str, Any]], folder: Path
) -> list[str]:
    found = []
    partitioning = _block(table.body, "time_partitioning") or {}
    if (partitioning.get("type"), partitioning.get("field")) != ("DAY", "event_time"):
        found.append(f"{table.address}: not partitioned by DAY on event_time")
    if partitioning.get("require_partition_filter") is not True:
        found.append(f"{table.address}: queries without a partition filter are not refused")
    expiration = _int_expression(tf, partitioning.get("expiration_ms"))
    if (
        expiration is None
        or expiration % DAY_MS
        or expiration // DAY_MS not in (ANALYTICS_RETENTION_DAYS)
    ):
        found.append(f"{table.address}: partition expiration is not a retention of 13-36 months")
    if table.body.get("clustering") != ANALYTICS_CLUSTERING:
        found.append(f"{table.address}: not clustered by {', '.join(ANALYTICS_CLUSTERING)}")
    dataset = next(
        (d for d in tf.of_type("google_bigquery_dataset") if _ref(d) in table.body["dataset_id"]),
        None,
    )
    if dataset is None:
        found.append(f"{table.address}: in no declared dataset")
    else:
        if not _BIGQUERY_EU.match(str(tf.resolve(dataset.body.get("location")))):
            found.append(f"{dataset.address}: location is not in the EU")
        if "default_table_expiration_ms" in dataset.body:
            found.append(f"{dataset.address}: a default table expiration would drop the table")
    columns_file = _file_of(table.body.get("schema"), folder)
    if columns_file is None or not columns_file.is_file():
        return [*found, f"{table.address}: schema is not a column file in the folder"]
    columns = {c["name"]: c for c in json.loads(columns_file.read_text())}
    for message_field in fields:
        name, kind = message_field["name"], message_field["type"]
        nullable = isinstance(kind, list) and "null" in kind
        column = columns.pop(name, None)
        if column is None:
            found.append(f"{table.address}: no column for the topic schema's {name}")
        elif (column.get("mode") == "NULLABLE") != nullable:
            found.append(f"{table.address}: column {name} nullability differs")
    found += [f"{table.address}: column {name} is in no message" for name in sorted(columns)]
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
        elif "google_service_account.analytics_eraser" in member:
            allowed = ANALYTICS_ERASER_ROLES
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
        + analytics_problems(tf, folder)
        + alert_problems(tf, root)
        + channel_problems(tf)
        + iam_problems(tf)
    )

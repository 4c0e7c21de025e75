"""Infrastructure as code, checked offline: every file parses, every reference resolves, the
settings we rely on are there, every runtime account holds exactly the permissions its code needs
(focus_tools.permissions), every alert reaches a person and has a runbook, the push monitoring
reads what the sender logs, Terraform and the function decorators agree on what each owns, the
policy checker (checkov) passes, and the checks do fail on broken copies."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import hcl2
import iac
import pytest

from focus.domain.devices import Platform
from focus.domain.notifications import SYNC_COALESCING_WINDOW, MessageKind
from focus.domain.outbox import DeliveryOutcome
from focus_tools import permissions
from focus_tools.permissions import Grant

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
        "google_service_account",
        "google_project_iam_custom_role",
        "google_cloud_tasks_queue_iam_member",
        "google_cloud_run_v2_service_iam_member",
        "google_monitoring_notification_channel",
        "google_monitoring_uptime_check_config",
        "google_billing_budget",
        "google_firebase_app_check_service_config",
        "google_monitoring_slo",
        "google_monitoring_alert_policy",
        "google_logging_metric",
        "google_monitoring_dashboard",
        "google_secret_manager_secret",
    } <= types
    (ttl,) = tf.of_type("google_firestore_field")
    assert ttl.body["field"] == "expireAt" and "ttl_config" in ttl.body
    assert set(tf.locals["runtime_iam"]) == {"api", "triggers", "jobs", "webhooks", "insights"}
    secrets = {s.name: s.body for s in tf.of_type("google_secret_manager_secret")}
    assert secrets["user_pseudonym_key"]["secret_id"] == "USER_PSEUDONYM_KEY"
    assert '"STRIPE_WEBHOOK_SECRET"' in secrets["store"]["for_each"]  # the webhooks codebase's
    assert not tf.of_type("google_secret_manager_secret_version")  # values never in Terraform


def test_burn_rate_alerts_follow_the_sre_workbook() -> None:
    alerts = iac.load().locals["burn_alerts"]
    windows = {(a["long"], a["short"], a["factor"], a["page"]) for a in alerts.values()}
    assert windows == {
        ("3600s", "300s", 14.4, True),
        ("21600s", "1800s", 6, True),
        ("259200s", "21600s", 1, False),
    }


# --- Permissions derived from the code -----------------------------------------------------------


def test_each_runtime_account_holds_exactly_what_its_code_needs() -> None:
    """Least privilege both ways: what focus_tools.permissions derives from each codebase's
    main.py (and everything it calls) is what local.runtime_iam grants, no more, no less."""
    needed = iac.code_needs()
    tf = iac.load()

    assert iac.permission_problems(tf, needed) == []
    assert iac.runtime_grants(tf) == needed
    # The flows the issue named: each is derived, not listed by hand.
    api, triggers, jobs = needed["api"], needed["triggers"], needed["jobs"]
    assert Grant("roles/cloudtasks.enqueuer", "queue", "eraseAccount") in api  # deleteAccount
    assert Grant("roles/run.invoker", "service", "buildExport") in api  # requestExport
    assert Grant("roles/iam.serviceAccountUser", "self") in api  # tasks signed as itself
    assert Grant("firebaseauth.users.get", "custom") in api  # web erasure: revoked tokens
    assert Grant("firebaseauth.users.delete", "custom") in jobs  # the erasure task
    assert Grant("firebaseauth.users.delete", "custom") not in api
    assert Grant("roles/run.invoker", "service", "deriveDays") in triggers  # on_days_changed
    assert Grant("roles/cloudtasks.enqueuer", "queue", "deriveDays") not in jobs
    assert Grant("roles/pubsub.publisher", "topic", "countCompletedSession-dead-letter") in jobs
    assert Grant("roles/eventarc.eventReceiver", "project") in triggers  # Firestore events
    assert Grant("roles/eventarc.eventReceiver", "project") not in jobs  # Pub/Sub pushes directly


def test_the_derivation_sees_every_google_call_the_codebases_can_make() -> None:
    """Every declared Google call in the deployed package is reached by some codebase: the tools
    (erasure scan, migrations) live outside it and run with a person's credentials, so anything
    here would be a call the analysis missed."""
    assert permissions.unreached_google_calls() == set()


def _copy_of_the_code(tmp_path: Path, codebase: str, old: str, new: str) -> Path:
    """A repository whose ``functions/<codebase>/main.py`` has ``old`` replaced by ``new``."""
    for name in permissions.codebases():
        folder = tmp_path / "functions" / name
        folder.mkdir(parents=True)
        text = (iac.ROOT / "functions" / name / "main.py").read_text()
        if name == codebase:
            assert old in text, f"{old!r} not in functions/{name}/main.py"
            text = text.replace(old, new, 1)
        (folder / "main.py").write_text(text)
    return tmp_path


def test_new_code_calling_google_needs_a_grant_and_unused_grants_are_found(
    tmp_path: Path,
) -> None:
    """The api starts deleting Auth users itself and stops requesting exports: the check wants
    the new permission and flags the enqueue and invoke grants on buildExport as unneeded."""
    repo = _copy_of_the_code(
        tmp_path,
        "api",
        "    export_id = export.request(call.caller.uid, call.now)\n    messaging.enqueue(",
        "    from firebase_admin import auth\n\n"
        "    auth.delete_user(call.caller.uid)\n"
        "    export_id = export.request(call.caller.uid, call.now)\n    messaging.log_only(",
    )
    needed = {c: permissions.grants(permissions.needs(c, repo)) for c in permissions.codebases()}

    found = iac.permission_problems(iac.load(), needed)

    assert "api lacks firebaseauth.users.delete (custom role), which its code needs" in found
    assert (
        "api holds roles/cloudtasks.enqueuer on queue buildExport, which its code does not need"
    ) in found
    assert not any(problem.startswith(("jobs", "triggers")) for problem in found), found


def test_a_resource_name_the_code_computes_at_run_time_is_reported_not_guessed(
    tmp_path: Path,
) -> None:
    repo = _copy_of_the_code(
        tmp_path,
        "triggers",
        "    days.hand_off(uid, change_id, datetime.now(UTC))\n",
        "    from focus.adapters import messaging\n\n"
        "    messaging.enqueue(uid.upper(), {}, at=datetime.now(UTC), task_id=change_id)\n",
    )

    with pytest.raises(permissions.Unresolved, match=r"uid\.upper\(\)"):
        permissions.needs("triggers", repo)


# --- One owner per resource: queues and schedules belong to the decorators (docs/adr/0008) ------


def _decorated(decorator: str) -> set[str]:
    return {
        name
        for functions in permissions.triggers().values()
        for name, made_by in functions.items()
        if made_by == decorator
    }


def test_queues_and_schedules_are_owned_by_the_decorators_and_terraform_agrees() -> None:
    tf = iac.load()
    task_functions = _decorated("firebase_functions.tasks_fn.on_task_dispatched")
    schedules = _decorated("firebase_functions.scheduler_fn.on_schedule")

    # Terraform declares neither (firebase deploy upserts both on every deploy).
    assert not tf.of_type("google_cloud_tasks_queue")
    assert not tf.of_type("google_cloud_scheduler_job")
    assert "task_queues" not in tf.locals and "schedules" not in tf.locals
    # What Terraform says about queues names real task-queue functions.
    queues = {q for iam in tf.locals["runtime_iam"].values() for q in iam["queues"]}
    assert queues <= task_functions
    assert set(tf.locals["immediate_queues"]) <= task_functions
    assert set(tf.locals["dead_lettered_tasks"]) <= task_functions
    # Every task-queue function is enqueued by some codebase, and every schedule is declared
    # with the timezone the runbooks assume.
    assert task_functions <= queues
    # The scheduled jobs live in the jobs codebase, and the insights batch's own two in insights.
    assert schedules and schedules <= {
        *tf.locals["functions"]["jobs"],
        *tf.locals["functions"]["insights"],
    }
    decorators = (iac.ROOT / "docs" / "adr" / "0008-queues-and-schedules.md").read_text()
    assert "Decision" in decorators


def test_the_function_lists_and_instance_limits_match_the_code() -> None:
    """Platform SLIs, capacity alerts and invoker bindings select Cloud Run services by these
    names; a function added in code and missing here would go unwatched."""
    tf = iac.load()
    assert {c: set(names) for c, names in tf.locals["functions"].items()} == {
        c: set(functions) for c, functions in permissions.triggers().items()
    }
    limits = {}
    for codebase in permissions.codebases():
        tree = ast.parse((iac.ROOT / "functions" / codebase / "main.py").read_text())
        (call,) = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "start_codebase"
        ]
        limits[codebase] = next(
            ast.literal_eval(k.value) for k in call.keywords if k.arg == "max_instances"
        )
    assert tf.locals["max_instances"] == limits


def test_only_the_calls_people_wait_on_after_opening_the_app_stay_warm() -> None:
    """``launch`` and ``uploadDailyReports`` keep one idle instance each (about $50 a month
    each); every other function scales to zero (docs/performance.md, "`min_instances` for the
    api"). A minimum is per function, so one set for the whole codebase would keep every
    callable warm."""
    sys.path.insert(0, str(iac.ROOT / "scripts" / "lib"))
    import api_contract_cli

    api_contract_cli.load_api_codebase()
    api = sys.modules["focus_api_main"]
    warm = {}
    for name in permissions.triggers()["api"]:
        minimum = getattr(api, name).__firebase_endpoint__.minInstances
        if isinstance(minimum, int):
            warm[name] = minimum
    assert warm == {"launch": 1, "uploadDailyReports": 1}


# --- Alerts reach a person ----------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_every_alert_reaches_a_person(environment: str) -> None:
    tf = iac.load()
    tfvars = iac.load_tfvars(iac.TERRAFORM / "environments" / f"{environment}.tfvars")

    channels = iac.alert_channels(tf, tfvars)

    assert set(channels) == {a.address for a in tf.of_type("google_monitoring_alert_policy")}
    empty = {
        f"{alert} ({name})" for alert, lists in channels.items() for name, who in lists.items()
    } - {
        f"{alert} ({name})"
        for alert, lists in channels.items()
        for name, who in lists.items()
        if who
    }
    assert empty == set()
    # Paging alerts wake someone: the pager is on every page list.
    pages = [lists["pages"] for lists in channels.values() if "pages" in lists]
    assert pages and all(any(w.startswith("pager:") for w in who) for who in pages)
    if environment == "production":
        assert tfvars["pager"]["type"] == "pagerduty", "production pages through PagerDuty"


def test_an_alert_without_channels_is_found(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(iac.TERRAFORM, copy)
    _replace(
        "slos.tf", "notification_channels = local.ticket_channels", "notification_channels = []"
    )(copy)
    tfvars = iac.load_tfvars(iac.TERRAFORM / "environments" / "production.tfvars")

    assert iac.alert_channels(iac.load(copy), tfvars)[
        "google_monitoring_alert_policy.dead_letters"
    ] == {"other": []}
    no_emails = iac.alert_channels(iac.load(), {**tfvars, "ticket_emails": []})
    assert no_emails["google_monitoring_alert_policy.alerts"]["tickets"] == []


# --- Push sending: the metrics, the SLO and the alert read what the sender logs -----------------

# The `push sent` line, one per send attempt (focus.services.outbox): the values of its labelled
# fields, from the code that writes them, and every field it carries.
PUSH_LINE = {
    "kind": {kind.value for kind in MessageKind},
    "platform": {platform.value for platform in Platform},
    "outcome": {outcome.value for outcome in DeliveryOutcome},
}
PUSH_LINE_FIELDS = {"message", *PUSH_LINE, "attempt", "reason", "budgetDelayed", "syncLatencyMs"}
PUSH_RUNBOOKS = ("docs/runbooks/push-sending.md", "docs/runbooks/sync-push-latency.md")

_PUSH_FIELD = re.compile(r"(?:jsonPayload|metric\.label)\.(\w+)")
_PUSH_VALUE = re.compile(
    r"(?:jsonPayload|metric\.label)\.(kind|platform|outcome)!?=(?:one_of\(([^)]*)\)|\"([^\"]*)\")"
)


def _resource(tf: iac.Terraform, type_: str, name: str) -> iac.Resource:
    (found,) = [r for r in tf.of_type(type_) if r.name == name]
    return found


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _push_queries() -> list[str]:
    """Every filter and query that reads `push sent` lines or the metrics made of them: the push
    metrics, the sync-push SLO, the push alert, their dashboard tiles, the runbooks' queries."""
    tf = iac.load()
    parts: list[Any] = [
        _resource(tf, "google_logging_metric", "push_sends").body,
        _resource(tf, "google_logging_metric", "sync_push_latency").body,
        _resource(tf, "google_monitoring_alert_policy", "push_send_failures").body,
        tf.locals["push_filter"],
        tf.locals["push_sends_metric"],
        tf.locals["slos"]["sync-push-latency"],
        [tile for tile in tf.locals["dashboard_tiles"] if "push" in tile["filter"]],
    ]
    for runbook in PUSH_RUNBOOKS:
        blocks = re.findall(r"^```[a-z]*\n(.*?)^```", (iac.ROOT / runbook).read_text(), re.M | re.S)
        parts += [block for block in blocks if '"push sent"' in block]
    return [text for part in parts for text in _texts(part)]


def push_words(queries: list[str]) -> set[str]:
    """The fields the queries read (``field``) and the values they compare the labelled ones with
    (``field=value``)."""
    words = {field for query in queries for field in _PUSH_FIELD.findall(query)}
    for query in queries:
        for field, listed, single in _PUSH_VALUE.findall(query):
            values = re.findall(r'"([^"]*)"', listed) if listed else [single]
            words |= {f"{field}={value}" for value in values}
    return words


LOGGED_PUSH_WORDS = PUSH_LINE_FIELDS | {
    f"{field}={value}" for field, values in PUSH_LINE.items() for value in values
}


def test_push_monitoring_names_only_fields_and_values_the_sender_logs() -> None:
    """A misspelt field or value (`quota_exceded`) would match nothing and silence an alert or
    an SLO: whatever the push metrics, SLO, alert, dashboard and runbook queries name, the `push
    sent` line carries."""
    words = push_words(_push_queries())

    assert words - LOGGED_PUSH_WORDS == set()
    assert {
        "syncLatencyMs",
        "budgetDelayed",
        "kind=sync",
        "outcome=accepted",
        "outcome=failed",
        "outcome=quota_exceeded",
    } <= words
    misspelt = ['jsonPayload.outcome="quota_exceded"', "jsonPayload.syncLatencyMS>0"]
    assert push_words(misspelt) - LOGGED_PUSH_WORDS == {"outcome=quota_exceded", "syncLatencyMS"}


def test_every_push_sent_is_counted_by_kind_platform_and_outcome() -> None:
    tf = iac.load()
    sends = _resource(tf, "google_logging_metric", "push_sends")

    assert tf.resolve(sends.body["filter"]) == (
        'resource.type="cloud_run_revision" AND jsonPayload.message="push sent"'
    )
    (descriptor,) = sends.body["metric_descriptor"]
    assert (descriptor["metric_kind"], descriptor["value_type"]) == ("DELTA", "INT64")
    assert [label["key"] for label in descriptor["labels"]] == list(PUSH_LINE)
    assert sends.body["label_extractors"] == {f: f"EXTRACT(jsonPayload.{f})" for f in PUSH_LINE}


def test_the_sync_push_slo_is_the_coalescing_window_plus_a_minute_from_change_to_fcm() -> None:
    """99% of the sync pushes FCM accepted, bar those the hourly budget held back (they wait up
    to an hour by design), within 180 s of the first change they carry: the 2-minute coalescing
    window and a minute for the queue, the sender and FCM. 180 s is a bucket bound of the
    distribution, so the SLO's cut counts exactly the pushes under it."""
    tf = iac.load()
    latency = _resource(tf, "google_logging_metric", "sync_push_latency")
    slo = tf.locals["slos"]["sync-push-latency"]

    assert {
        "${local.push_filter}",
        'jsonPayload.kind="sync"',
        'jsonPayload.outcome="accepted"',
        "NOT jsonPayload.budgetDelayed=true",
    } <= set(latency.body["filter"].split(" AND "))
    assert latency.body["value_extractor"] == "EXTRACT(jsonPayload.syncLatencyMs)"
    assert "google_logging_metric.sync_push_latency.name" in slo["latency"]["filter"]
    assert slo["goal"] == 0.99
    assert slo["runbook"] == "docs/runbooks/sync-push-latency.md"
    cut = slo["latency"]["max_ms"]
    assert timedelta(milliseconds=cut) == SYNC_COALESCING_WINDOW + timedelta(minutes=1)
    ((explicit,),) = [options["explicit_buckets"] for options in latency.body["bucket_options"]]
    assert cut in explicit["bounds"] and explicit["bounds"] == sorted(set(explicit["bounds"]))


def test_pushes_failing_or_over_quota_page_by_their_share_per_platform() -> None:
    """`failed` + `quota_exceeded` above 5% of the pushes sent to one platform for 10 minutes
    pages (the SLO sees accepted pushes only); uninstalls (`token_gone`) and retried
    `transient` answers do not count."""
    tf = iac.load()
    alert = _resource(tf, "google_monitoring_alert_policy", "push_send_failures")
    (condition,) = alert.body["conditions"]
    (threshold,) = condition["condition_threshold"]

    assert "google_logging_metric.push_sends.name" in tf.locals["push_sends_metric"]
    assert threshold["denominator_filter"] == "${local.push_sends_metric}"
    numerator, counted = threshold["filter"].split(" AND metric.label.outcome=one_of")
    assert numerator == "${local.push_sends_metric}"
    assert set(re.findall(r'"([^"]*)"', counted)) == {
        DeliveryOutcome.FAILED,
        DeliveryOutcome.QUOTA_EXCEEDED,
    }
    assert (threshold["threshold_value"], threshold["duration"]) == (0.05, "600s")
    assert threshold["aggregations"] == threshold["denominator_aggregations"]
    (aggregation,) = threshold["aggregations"]
    assert aggregation["group_by_fields"] == ["metric.label.platform"]
    assert alert.body["notification_channels"] == "${local.page_channels}"
    (documentation,) = alert.body["documentation"]
    assert "docs/runbooks/push-sending.md" in documentation["content"]


# --- Product analytics: a schema-checked topic, a BigQuery subscription, a table that forgets ---


def test_product_events_reach_a_partitioned_clustered_table_through_a_bigquery_subscription() -> (
    None
):
    """Events are checked against the topic schema at publish time, written as they come by a
    BigQuery subscription using that schema (no code of ours in between), and what BigQuery
    refuses waits 7 days on a dead-letter topic; the table is partitioned by the day of the
    fact, clustered by event and person, refuses unpruned queries and drops a partition after
    25 months (docs/analytics.md, "Transport")."""
    tf = iac.load()

    assert iac.analytics_problems(tf) == []
    table = _resource(tf, "google_bigquery_table", "events")
    (partitioning,) = table.body["time_partitioning"]
    assert iac._int_expression(tf, partitioning["expiration_ms"]) == 760 * iac.DAY_MS
    assert "760 days" in (iac.ROOT / "docs" / "analytics.md").read_text()
    subscription = _resource(tf, "google_pubsub_subscription", "product_events_bigquery")
    (policy,) = subscription.body["dead_letter_policy"]
    assert (
        tf.resolve(policy["max_delivery_attempts"])
        == tf.locals["pubsub_delivery"]["max_delivery_attempts"]
    )
    # The Pub/Sub service agent may write that one table and dead-letter, nothing wider; the
    # functions only publish (their grants are derived from the code, like every other topic's).
    writers = [
        b
        for b in tf.resources
        if b.type.startswith("google_bigquery_") and b.type.endswith("_iam_member")
    ]
    assert {(b.type, b.body["role"], b.body["member"]) for b in writers} == {
        (
            "google_bigquery_table_iam_member",
            "roles/bigquery.dataEditor",
            "${local.pubsub_service_agent}",
        ),
        ("google_bigquery_dataset_iam_member", "roles/bigquery.dataViewer", "${each.key}"),
        (
            "google_bigquery_table_iam_member",
            "roles/bigquery.dataEditor",
            "serviceAccount:${google_service_account.analytics_eraser.email}",
        ),
    }
    assert (
        "(local.analytics_topic) = google_pubsub_topic.product_events.id" in tf.locals["topic_ids"]
    )


ERASER = "serviceAccount:${google_service_account.analytics_eraser.email}"


def test_erased_people_s_rows_are_deleted_monthly_by_a_scheduled_query_of_its_own() -> None:
    """Crypto-shredding makes an erased person's rows unlinkable; a scheduled query deletes them
    too, once a month, as an account that can run jobs and edit the events table and nothing
    else, and a failed run opens a ticket with its runbook (docs/analytics.md, "Pseudonymisation
    and erasure")."""
    tf = iac.load()
    query = _resource(tf, "google_bigquery_data_transfer_config", "delete_erased_people")
    dataset = _resource(tf, "google_bigquery_dataset", "analytics")

    assert query.body["data_source_id"] == "scheduled_query"
    assert query.body["schedule"] == "1 of month 03:00"
    assert query.body["location"] == "${google_bigquery_dataset.analytics.location}"
    assert dataset.body["location"] == "EU"
    assert "destination_dataset_id" not in query.body  # DML: it changes analytics.events itself
    assert query.body["params"]["query"] == '${file("${path.module}/sql/delete-erased-people.sql")}'
    assert query.body["service_account_name"] == "${google_service_account.analytics_eraser.email}"
    # What the eraser holds, everywhere: jobs on the project, edit on the one table.
    held = {
        (b.type, b.body["role"])
        for b in tf.resources
        if b.type.endswith("_iam_member") and b.body.get("member") == ERASER
    }
    assert held == {
        ("google_project_iam_member", "roles/bigquery.jobUser"),
        ("google_bigquery_table_iam_member", "roles/bigquery.dataEditor"),
    }
    edits = _resource(tf, "google_bigquery_table_iam_member", "analytics_eraser_edits_events")
    assert edits.body["table_id"] == "${google_bigquery_table.events.table_id}"
    # The transfer service runs the query as the eraser: a token grant on that account alone.
    agent = _resource(
        tf, "google_service_account_iam_member", "transfer_agent_acts_as_analytics_eraser"
    )
    assert agent.body["service_account_id"] == "${google_service_account.analytics_eraser.name}"
    assert agent.body["member"] == "${local.bigquery_transfer_agent}"
    # A failed run: the log-based metric on the transfer's ERROR lines, and a ticket.
    failed = _resource(tf, "google_logging_metric", "erased_people_delete_failed")
    assert set(failed.body["filter"].split(" AND ")) == {
        'resource.type="bigquery_dts_config"',
        'resource.labels.config_id="${basename(google_bigquery_data_transfer_config'
        '.delete_erased_people.name)}"',
        "severity>=ERROR",
    }
    alert = tf.locals["alerts"]["erased-people-delete-failed"]
    assert "google_logging_metric.erased_people_delete_failed.name" in alert["filter"]
    assert (alert["absent"], alert["value"], alert["duration"]) == (False, 0, "0s")
    assert alert["page"] is False  # a ticket: the rows are unlinkable already
    assert alert["runbook"] == "docs/runbooks/analytics-erasure.md"


def test_the_scheduled_delete_reads_the_events_within_their_retention_and_keeps_the_erasures() -> (
    None
):
    """analytics.events refuses a query without an event_time filter: both reads of the
    statement bound it to the table's retention; the erasure rows stay (the count of erasures)
    and erasures of the last day wait (rows in the streaming buffer cannot be deleted). What the
    statement does to rows is run on DuckDB in tests/test_analytics_erasure.py."""
    tf = iac.load()
    sql = (iac.TERRAFORM / "sql" / "delete-erased-people.sql").read_text()
    statement = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    retention = (
        f"TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL {tf.locals['analytics_retention_days']} DAY)"
    )

    assert statement.strip().startswith("DELETE FROM analytics.events\n")
    assert statement.count("FROM analytics.events") == 2
    assert statement.count(f"event_time >= {retention}") == 2
    assert "AND event_name != 'erasure_completed'" in statement
    assert "WHERE event_name = 'erasure_completed'" in statement
    assert "event_time < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)" in statement


def test_the_topic_schema_and_the_table_columns_are_the_ones_the_code_publishes() -> None:
    """infra/terraform/schemas/ is written from focus.domain.analytics_events.avro_schema() by
    scripts/lib/analytics_schema.py: a field added in code and not in Terraform would be refused
    by the topic (or dropped by the subscription), so the files must not drift."""
    sys.path.insert(0, str(iac.ROOT / "scripts" / "lib"))
    import analytics_schema

    from focus.domain.analytics_events import avro_schema

    assert analytics_schema.stale() == [], "run .venv/bin/python scripts/lib/analytics_schema.py"
    columns = json.loads(analytics_schema.TABLE_SCHEMA.read_text())
    assert [c["name"] for c in columns] == [f["name"] for f in avro_schema()["fields"]]
    types = {c["name"]: c["type"] for c in columns}
    assert types["properties"] == "JSON"
    assert types["event_time"] == types["ingest_time"] == "TIMESTAMP"
    assert analytics_schema.column({"name": "n", "type": ["null", "int"]}) == {
        "name": "n",
        "type": "INTEGER",
        "mode": "NULLABLE",
    }
    with pytest.raises(ValueError, match="no column type"):
        analytics_schema.column({"name": "m", "type": {"type": "map", "values": "string"}})


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
        _replace("iam.tf", "local.runtime_grants.project", "local.runtime_grant.project"),
        "local.runtime_grant is not declared",
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
    "runtime role the code does not need": (
        _replace(
            "locals.tf",
            'project = ["roles/datastore.user", "roles/cloudtrace.agent"]',
            'project = ["roles/datastore.owner", "roles/cloudtrace.agent"]',
        ),
        "holds roles/datastore.owner on the project, which its code does not need",
    ),
    "task function without an invoker for its enqueuer": (
        _replace(
            "locals.tf", 'invokes = ["buildExport", "eraseAccount"]', 'invokes = ["buildExport"]'
        ),
        "api lacks roles/run.invoker on service eraseAccount, which its code needs",
    ),
    "actAs removed": (
        _replace("locals.tf", "act_as  = true", "act_as  = false"),
        "lacks roles/iam.serviceAccountUser on its own account",
    ),
    "runtime account bound outside local.runtime_iam": (
        _append(
            "iam.tf",
            '\nresource "google_project_iam_member" "sneaky" {\n'
            '  project = var.project_id\n  role    = "roles/pubsub.editor"\n'
            '  member  = "serviceAccount:${google_service_account.codebase["api"].email}"\n}\n',
        ),
        "google_project_iam_member.sneaky: grants a runtime account outside local.runtime_iam",
    ),
    "invoker binding granting another role": (
        _replace("iam.tf", '  role     = "roles/run.invoker"', '  role     = "roles/run.admin"'),
        "google_cloud_run_v2_service_iam_member.runtime: role 'roles/run.admin'",
    ),
    "alert linking a missing runbook in its own documentation": (
        _replace(
            "alerts.tf",
            "main/docs/runbooks/push-sending.md",
            "main/docs/runbooks/push-sendng.md",
        ),
        "runbook docs/runbooks/push-sendng.md does not exist",
    ),
    "alert linking a missing runbook in a map": (
        _replace("alerts.tf", "docs/runbooks/capacity.md", "docs/runbooks/capacty.md"),
        "runbook docs/runbooks/capacty.md does not exist",
    ),
    "pager left out of the page channels": (
        _replace(
            "notifications.tf", "    google_monitoring_notification_channel.pagerduty[*].id,\n", ""
        ),
        "local.page_channels does not include the pagerduty channel",
    ),
    "primitive role": (
        _replace("iam.tf", '"roles/run.admin"', '"roles/editor"'),
        "grants primitive roles/editor",
    ),
    "analytics table partitioned by ingest time": (
        _replace(
            "analytics.tf", 'field                    = "event_time"', 'field = "ingest_time"'
        ),
        "google_bigquery_table.events: not partitioned by DAY on event_time",
    ),
    "analytics table without a required partition filter": (
        _replace(
            "analytics.tf", "require_partition_filter = true", "require_partition_filter = false"
        ),
        "google_bigquery_table.events: queries without a partition filter are not refused",
    ),
    "analytics table kept ten years": (
        _replace(
            "analytics.tf", "analytics_retention_days = 760", "analytics_retention_days = 3650"
        ),
        "google_bigquery_table.events: partition expiration is not a retention of 13-36 months",
    ),
    "analytics table not clustered by person": (
        _replace("analytics.tf", '["event_name", "person_id"]', '["event_name"]'),
        "google_bigquery_table.events: not clustered by event_name, person_id",
    ),
    "BigQuery subscription ignoring the topic schema": (
        _replace("analytics.tf", "use_topic_schema    = true", "use_topic_schema    = false"),
        "google_pubsub_subscription.product_events_bigquery: bigquery_config use_topic_schema",
    ),
    "analytics dead letters kept by nobody": (
        _replace(
            "analytics.tf",
            "topic                      = google_pubsub_topic.product_events_dead_letter.id",
            "topic                      = google_pubsub_topic.product_events.id",
        ),
        "google_pubsub_topic.product_events_dead_letter: no subscription keeps its dead letters",
    ),
    "topic without its schema": (
        _replace("analytics.tf", '    encoding = "JSON"', '    encoding = "BINARY"'),
        "google_pubsub_topic.product_events: schema encoding is not JSON",
    ),
    "table column renamed": (
        _replace("schemas/product-events.table.json", '"name": "platform"', '"name": "device"'),
        "google_bigquery_table.events: no column for the topic schema's platform",
    ),
    "analytics eraser given more than jobs on the project": (
        _replace("analytics_erasure.tf", '"roles/bigquery.jobUser"', '"roles/bigquery.dataOwner"'),
        "google_project_iam_member.analytics_eraser_runs_jobs: roles/bigquery.dataOwner is not "
        "allowed",
    ),
    "erasure delete alert linking a missing runbook": (
        _replace("alerts.tf", "runbooks/analytics-erasure.md", "runbooks/erasure.md"),
        "runbook docs/runbooks/erasure.md does not exist",
    ),
    "analytics dataset outside the EU": (
        _replace("analytics.tf", 'location                   = "EU"', 'location = "US"'),
        "google_bigquery_dataset.analytics: location is not in the EU",
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

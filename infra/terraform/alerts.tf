# Alerts beyond the SLO burn rates (slos.tf): no data, the uptime check, capacity, backlogs,
# Firestore errors, the erasure SLO, push sending. Each pages (local.page_channels) or opens a
# ticket (local.ticket_channels) and links its runbook (tests/test_infra.py checks both).
# Thresholds and their reasons: docs/operations.md.

locals {
  task_queue_metric = "resource.type=\"cloud_tasks_queue\" AND resource.label.location=\"${var.region}\""
  # Queues whose tasks run at once (depth means a backlog); the others hold tasks scheduled for
  # later (a session's planned end, the erasure sweep), where only lateness means trouble.
  immediate_queues = [
    "countCompletedSession", "countCompletedSession2", "deriveDays", "deriveDays2", "buildExport",
    "eraseAccount",
  ]

  alerts = {
    "callables-no-traffic" = {
      display  = "No callable traffic at all"
      page     = true
      runbook  = "docs/runbooks/no-traffic.md"
      why      = "Cloud Run saw no request to any callable for 15 minutes: the app cannot reach the backend, or the metrics pipeline broke. Either way the SLOs are blind."
      absent   = true
      filter   = "${local.run_requests} AND ${local.services_of.api}"
      aligner  = "ALIGN_RATE"
      reducer  = "REDUCE_SUM"
      group_by = []
      duration = "900s"
      value    = 0
    }
    "request-lines-missing" = {
      display  = "No request log lines from callables"
      page     = false
      runbook  = "docs/runbooks/no-traffic.md"
      why      = "No `request` line from any callable for 30 minutes: logging or the log-based metrics broke, and every log-based SLO reads zero."
      absent   = true
      filter   = "${local.requests_metric} AND metric.label.kind=\"callable\""
      aligner  = "ALIGN_RATE"
      reducer  = "REDUCE_SUM"
      group_by = []
      duration = "1800s"
      value    = 0
    }
    "schedules-silent" = {
      display  = "Scheduled jobs stopped running"
      page     = false
      runbook  = "docs/runbooks/job-success.md"
      why      = "roll_up_hours_saved (every 5 minutes) wrote no `request` line for 30 minutes: Cloud Scheduler or the jobs codebase is not running it."
      absent   = true
      filter   = "${local.requests_metric} AND metric.label.kind=\"schedule\" AND metric.label.function=\"roll_up_hours_saved\""
      aligner  = "ALIGN_RATE"
      reducer  = "REDUCE_SUM"
      group_by = []
      duration = "1800s"
      value    = 0
    }
    "health-check-failing" = {
      display  = "Uptime check of /health failing"
      page     = true
      runbook  = "docs/runbooks/no-traffic.md"
      why      = "The health endpoint fails from more than one checker region for 5 minutes."
      absent   = false
      filter   = "resource.type=\"uptime_url\" AND metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND metric.label.check_id=\"${google_monitoring_uptime_check_config.health.uptime_check_id}\""
      aligner  = "ALIGN_NEXT_OLDER"
      reducer  = "REDUCE_COUNT_FALSE"
      group_by = ["resource.label.host"]
      duration = "300s"
      value    = 1
    }
    "requests-refused-at-max-instances" = {
      display  = "Requests refused at max_instances (429)"
      page     = true
      runbook  = "docs/runbooks/capacity.md"
      why      = "Cloud Run answered 429 \"no available instance\": a codebase is at max_instances and callers are refused before our code runs."
      absent   = false
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.no_instance.name}\""
      aligner  = "ALIGN_RATE"
      reducer  = "REDUCE_SUM"
      group_by = ["metric.label.service"]
      duration = "300s"
      value    = 0.1
    }
    "pubsub-oldest-unacked" = {
      display  = "Pub/Sub worker backlog older than 15 minutes"
      page     = true
      runbook  = "docs/runbooks/pubsub-backlog.md"
      why      = "The oldest unacknowledged message on a worker (Eventarc) subscription is older than 15 minutes: completions are not reaching hours saved."
      absent   = false
      filter   = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.label.subscription_id=starts_with(\"eventarc-\")"
      aligner  = "ALIGN_MAX"
      reducer  = "REDUCE_MAX"
      group_by = ["resource.label.subscription_id"]
      duration = "600s"
      value    = 900
    }
    "task-queue-depth" = {
      display  = "Task queue backlog"
      page     = false
      runbook  = "docs/runbooks/task-queues.md"
      why      = "More than 5000 tasks wait on a queue whose tasks run at once, for 15 minutes."
      absent   = false
      filter   = "${local.task_queue_metric} AND metric.type=\"cloudtasks.googleapis.com/queue/depth\" AND resource.label.queue_id=one_of(${join(", ", [for q in local.immediate_queues : "\"${q}\""])})"
      aligner  = "ALIGN_MAX"
      reducer  = "REDUCE_MAX"
      group_by = ["resource.label.queue_id"]
      duration = "900s"
      value    = 5000
    }
    "task-queue-lateness" = {
      display  = "Tasks dispatched late"
      page     = false
      runbook  = "docs/runbooks/task-queues.md"
      why      = "The 99th percentile delay between a task's scheduled time and its attempt is above 5 minutes for 15 minutes: sessions end late, counts and derivations lag."
      absent   = false
      filter   = "${local.task_queue_metric} AND metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_delays\""
      aligner  = "ALIGN_PERCENTILE_99"
      reducer  = "REDUCE_MAX"
      group_by = ["resource.label.queue_id"]
      duration = "900s"
      value    = 300000
    }
    "task-dispatch-denied" = {
      display  = "Task dispatch refused (401/403)"
      page     = true
      runbook  = "docs/runbooks/task-queues.md"
      why      = "Cloud Tasks' attempts are refused as unauthenticated or forbidden: the enqueuing account lacks run.invoker on the task function, so the function never runs and writes no log line."
      absent   = false
      filter   = "${local.task_queue_metric} AND metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_count\" AND metric.label.response_code=one_of(\"permission_denied\", \"unauthenticated\")"
      aligner  = "ALIGN_RATE"
      reducer  = "REDUCE_SUM"
      group_by = ["resource.label.queue_id"]
      duration = "300s"
      value    = 0
    }
    "firestore-contention" = {
      display  = "Firestore transactions aborting (contention)"
      page     = false
      runbook  = "docs/runbooks/firestore-errors.md"
      why      = "More than 5 transaction attempts per second abort on contention for 15 minutes (the `transaction aborted` lines): a hot document."
      absent   = false
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.transaction_aborts.name}\""
      aligner  = "ALIGN_RATE"
      reducer  = "REDUCE_SUM"
      group_by = ["metric.label.transaction"]
      duration = "900s"
      value    = 5
    }
    "callables-answer-aborted" = {
      display  = "Callables answering ABORTED (CONTENTION)"
      page     = false
      runbook  = "docs/runbooks/firestore-errors.md"
      why      = "More than one callable per second answers ABORTED for 15 minutes: every attempt of a transaction aborted, the app has to retry."
      absent   = false
      filter   = "${local.requests_metric} AND metric.label.kind=\"callable\" AND metric.label.error_code=\"ABORTED\""
      aligner  = "ALIGN_RATE"
      reducer  = "REDUCE_SUM"
      group_by = ["metric.label.function"]
      duration = "900s"
      value    = 1
    }
    "store-notifications-failing" = {
      display  = "Store notifications failing"
      page     = true
      runbook  = "docs/runbooks/store-outage.md"
      why      = "A store's notifications (App Store, Google Play, Stripe) fail on our side at more than one every 3 minutes for 15 minutes: purchases, renewals and refunds stop reaching people's entitlements. The stores deliver again for days, so nothing is lost yet."
      absent   = false
      filter   = "${local.requests_metric} AND metric.label.function=one_of(\"appStoreNotifications\", \"stripeWebhook\", \"on_play_notification\") AND metric.label.outcome=\"error\""
      aligner  = "ALIGN_RATE"
      reducer  = "REDUCE_SUM"
      group_by = ["metric.label.function"]
      duration = "900s"
      value    = 0.005
    }
    "firestore-quota" = {
      display  = "Firestore quota exceeded (RESOURCE_EXHAUSTED)"
      page     = true
      runbook  = "docs/runbooks/firestore-errors.md"
      why      = "Firestore answers RESOURCE_EXHAUSTED: a quota or limit is reached and requests fail."
      absent   = false
      filter   = "resource.type=\"firestore_instance\" AND metric.type=\"firestore.googleapis.com/api/request_count\" AND metric.label.response_code=\"RESOURCE_EXHAUSTED\""
      aligner  = "ALIGN_RATE"
      reducer  = "REDUCE_SUM"
      group_by = ["metric.label.api_method"]
      duration = "300s"
      value    = 0
    }
    "outbox-overdue" = {
      display  = "Pushes left behind by their tasks"
      page     = false
      runbook  = "docs/runbooks/push-sending.md"
      why      = "Two outbox sweeps in a row found pushes pending past due: their sendPush tasks are lost, or the queue is paused or failing (the other push alerts see no sends at all then)."
      absent   = false
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.outbox_overdue.name}\""
      aligner  = "ALIGN_SUM"
      reducer  = "REDUCE_SUM"
      group_by = []
      duration = "1200s"
      value    = 0
    }
    "erasure-overdue" = {
      display  = "Erasure older than 24 hours"
      page     = false
      runbook  = "docs/runbooks/erasure-overdue.md"
      why      = "An erasure requested more than 24 hours ago is still open (erasure SLO; the legal limit is one month)."
      absent   = false
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.erasures_overdue.name}\""
      aligner  = "ALIGN_SUM"
      reducer  = "REDUCE_SUM"
      group_by = []
      duration = "0s"
      value    = 0
    }
    "erasure-checks-missing" = {
      display  = "Open-erasure check not running"
      page     = false
      runbook  = "docs/runbooks/erasure-overdue.md"
      why      = "No `erasures checked` line for 3 hours: nothing measures the erasure SLO, so an overdue erasure would go unnoticed."
      absent   = true
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.erasure_checks.name}\""
      aligner  = "ALIGN_SUM"
      reducer  = "REDUCE_SUM"
      group_by = []
      duration = "10800s"
      value    = 0
    }
    "erased-people-delete-failed" = {
      display  = "Erased people's analytics rows not deleted"
      page     = false
      runbook  = "docs/runbooks/analytics-erasure.md"
      why      = "The monthly scheduled query deleting erased people's rows from analytics.events failed (analytics_erasure.tf). Their rows are already unlinkable (their secrets are gone), but the erasure promise is to delete them within the month."
      absent   = false
      filter   = "resource.type=\"bigquery_dts_config\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.erased_people_delete_failed.name}\""
      aligner  = "ALIGN_SUM"
      reducer  = "REDUCE_SUM"
      group_by = []
      duration = "0s"
      value    = 0
    }
  }
}

resource "google_monitoring_alert_policy" "alerts" {
  for_each              = local.alerts
  display_name          = "${each.value.display} (${var.environment})"
  combiner              = "OR"
  severity              = each.value.page ? "CRITICAL" : "WARNING"
  notification_channels = each.value.page ? local.page_channels : local.ticket_channels

  conditions {
    display_name = each.value.display
    dynamic "condition_threshold" {
      for_each = each.value.absent ? [] : [1]
      content {
        filter          = each.value.filter
        comparison      = "COMPARISON_GT"
        threshold_value = each.value.value
        duration        = each.value.duration
        aggregations {
          alignment_period     = "300s"
          per_series_aligner   = each.value.aligner
          cross_series_reducer = each.value.reducer
          group_by_fields      = each.value.group_by
        }
      }
    }
    dynamic "condition_absent" {
      for_each = each.value.absent ? [1] : []
      content {
        filter   = each.value.filter
        duration = each.value.duration
        aggregations {
          alignment_period     = "300s"
          per_series_aligner   = each.value.aligner
          cross_series_reducer = each.value.reducer
        }
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "Focus ${var.environment}: ${each.value.display}"
    content   = "${each.value.why} Runbook: ${var.repository_url}/blob/main/${local.alerts[each.key].runbook}"
  }
}

# The uptime check: the api codebase's /health, from Google's checkers in several regions.
resource "google_monitoring_uptime_check_config" "health" {
  display_name = "Focus ${var.environment} api /health"
  timeout      = "10s"
  period       = "60s"

  http_check {
    path           = "/health"
    port           = 443
    use_ssl        = true
    validate_ssl   = true
    request_method = "GET"
    accepted_response_status_codes {
      status_class = "STATUS_CLASS_2XX"
    }
  }

  content_matchers {
    content = "\"ok\""
    matcher = "CONTAINS_STRING"
  }

  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = "${var.region}-${var.project_id}.cloudfunctions.net"
    }
  }
}

# A codebase running more than 80% of its max_instances (functions/<codebase>/main.py) for 10
# minutes: the next spike is refused with 429 (the page above). A ticket: raise the limit or
# find the load.
resource "google_monitoring_alert_policy" "instances_near_max" {
  for_each              = local.max_instances
  display_name          = "${each.key}: instances near max_instances (${var.environment})"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.ticket_channels

  conditions {
    display_name = "a ${each.key} service above 80% of ${each.value} instances"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/container/instance_count\" AND ${local.services_of[each.key]}"
      comparison      = "COMPARISON_GT"
      threshold_value = floor(each.value * 0.8)
      duration        = "600s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "Focus ${var.environment}: ${each.key} near max_instances"
    content   = "A ${each.key} function runs more than 80% of its max_instances (${each.value}). Runbook: ${var.repository_url}/blob/main/docs/runbooks/capacity.md"
  }
}

# Pushes FCM refuses for good (`failed`: a credential, permission or payload problem) or for quota
# (`quota_exceeded` after the Admin SDK's own retries): above 5% of the pushes sent to a platform
# for 10 minutes. Designed rates are ~0% and < 1% (campaign pacing), so 5% is a real fault; per
# platform, so an expired APNs key (iOS and macOS only) is not diluted by Android. `token_gone`
# (uninstalls) and `transient` (retried; a long FCM outage burns the sync-push SLO) are not
# counted. It pages: the sync-push SLO only measures accepted pushes, so nothing else sees pushes
# that never go out. Why 5% and what to do: docs/runbooks/push-sending.md.
locals {
  push_sends_metric = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.push_sends.name}\""
}

resource "google_monitoring_alert_policy" "push_send_failures" {
  display_name          = "Pushes failing or over quota (${var.environment})"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = local.page_channels

  conditions {
    display_name = "failed + quota_exceeded above 5% of the pushes sent to a platform, for 10 minutes"
    condition_threshold {
      filter             = "${local.push_sends_metric} AND metric.label.outcome=one_of(\"failed\", \"quota_exceeded\")"
      denominator_filter = local.push_sends_metric
      comparison         = "COMPARISON_GT"
      threshold_value    = 0.05
      duration           = "600s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.platform"]
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.platform"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "Focus ${var.environment}: pushes failing or over quota"
    content   = "More than 5% of the pushes sent to a platform (label platform) came back failed or quota_exceeded for 10 minutes: people's other devices are not told about changes, visible notifications are lost. Runbook: ${var.repository_url}/blob/main/docs/runbooks/push-sending.md"
  }
}

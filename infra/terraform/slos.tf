# Service level objectives, measured from the log-based metrics in metrics.tf, and the
# multi-window, multi-burn-rate alerts of the SRE workbook (chapter 5) on each of them:
#   page    1 h and 5 min windows both burning > 14.4x  (2% of a 30-day budget in an hour)
#   page    6 h and 30 min windows both burning > 6x    (5% of the budget in 6 hours)
#   ticket  3 d and 6 h windows both burning > 1x       (on course to spend the whole budget)
# Every alert's documentation links its runbook (tests/test_infra.py checks the file exists).

#
# Two sources: the platform's own request metrics (Cloud Run: every request, including those our
# code never saw: crashes, timeouts, out-of-memory kills, cold starts, requests refused at
# max_instances), and our `request` log line (business outcomes: which callable, which error
# code, how old the event was). An outage with no log lines burns the platform SLOs; the no-data
# alerts in alerts.tf page when even the platform sees no traffic.
locals {
  requests_metric = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.requests.name}\" AND resource.type=\"cloud_run_revision\""
  run_requests    = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\""
  background      = "(${local.services_of.triggers} OR ${local.services_of.jobs})"

  slos = {
    "platform-callable-availability" = {
      display = "Callable and web requests get no 5xx from Cloud Run (crashes, timeouts, OOM included)"
      goal    = 0.999
      runbook = "docs/runbooks/callable-availability.md"
      good    = "${local.run_requests} AND ${local.services_of.api} AND metric.label.response_code_class!=\"5xx\""
      total   = "${local.run_requests} AND ${local.services_of.api}"
      latency = null
    }
    "platform-callable-latency" = {
      display = "Callable and web requests answer within 1 s at the Cloud Run front end (cold starts included)"
      goal    = 0.99
      runbook = "docs/runbooks/callable-latency.md"
      good    = null
      total   = null
      latency = {
        filter = "metric.type=\"run.googleapis.com/request_latencies\" AND resource.type=\"cloud_run_revision\" AND ${local.services_of.api}"
        max_ms = 1000
      }
    }
    "platform-background-availability" = {
      display = "Event, task and schedule deliveries get no 5xx from Cloud Run"
      goal    = 0.995
      runbook = "docs/runbooks/job-success.md"
      good    = "${local.run_requests} AND ${local.background} AND metric.label.response_code_class!=\"5xx\""
      total   = "${local.run_requests} AND ${local.background}"
      latency = null
    }
    "callable-availability" = {
      display = "Callables answer without a server error"
      goal    = 0.999
      runbook = "docs/runbooks/callable-availability.md"
      good    = "${local.requests_metric} AND metric.label.kind=\"callable\" AND metric.label.outcome!=\"error\""
      total   = "${local.requests_metric} AND metric.label.kind=\"callable\""
      latency = null
    }
    "callable-latency" = {
      display = "Callables answer within 1 s"
      goal    = 0.99
      runbook = "docs/runbooks/callable-latency.md"
      good    = null
      total   = null
      latency = {
        filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.latency.name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.kind=\"callable\""
        max_ms = 1000
      }
    }
    "trigger-freshness" = {
      display = "Firestore and Pub/Sub events are handled within 10 s of happening"
      goal    = 0.99
      runbook = "docs/runbooks/trigger-freshness.md"
      good    = null
      total   = null
      latency = {
        filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.event_age.name}\" AND resource.type=\"cloud_run_revision\" AND (metric.label.kind=\"firestore\" OR metric.label.kind=\"pubsub\")"
        max_ms = 10000
      }
    }
    "job-success" = {
      display = "Workers, tasks and scheduled jobs succeed"
      goal    = 0.995
      runbook = "docs/runbooks/job-success.md"
      good    = "${local.requests_metric} AND (metric.label.kind=\"pubsub\" OR metric.label.kind=\"task\" OR metric.label.kind=\"schedule\" OR metric.label.kind=\"firestore\") AND metric.label.outcome=\"ok\""
      total   = "${local.requests_metric} AND (metric.label.kind=\"pubsub\" OR metric.label.kind=\"task\" OR metric.label.kind=\"schedule\" OR metric.label.kind=\"firestore\")"
      latency = null
    }
    # 180 s = the 2-minute coalescing window (a push waits for it by design) + 60 s for the
    # outbox, queue, sender and FCM. Budget-held pushes are left out (metrics.tf). Only pushes
    # FCM accepted are measured: refusals are the push-send-failures alert (alerts.tf).
    "sync-push-latency" = {
      display = "Sync pushes are accepted by FCM within 3 minutes of the change (2-minute coalescing included)"
      goal    = 0.99
      runbook = "docs/runbooks/sync-push-latency.md"
      good    = null
      total   = null
      latency = {
        filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.sync_push_latency.name}\" AND resource.type=\"cloud_run_revision\""
        max_ms = 180000
      }
    }
  }

  burn_alerts = {
    page-fast   = { long = "3600s", short = "300s", factor = 14.4, severity = "CRITICAL", page = true }
    page-slow   = { long = "21600s", short = "1800s", factor = 6, severity = "CRITICAL", page = true }
    ticket-slow = { long = "259200s", short = "21600s", factor = 1, severity = "WARNING", page = false }
  }
}

resource "google_monitoring_custom_service" "backend" {
  service_id   = "focus-backend"
  display_name = "Focus backend (${var.environment})"
}

resource "google_monitoring_slo" "slo" {
  for_each            = local.slos
  service             = google_monitoring_custom_service.backend.service_id
  slo_id              = each.key
  display_name        = each.value.display
  goal                = each.value.goal
  rolling_period_days = 28

  request_based_sli {
    dynamic "good_total_ratio" {
      for_each = each.value.latency == null ? [1] : []
      content {
        good_service_filter  = each.value.good
        total_service_filter = each.value.total
      }
    }
    dynamic "distribution_cut" {
      for_each = each.value.latency == null ? [] : [each.value.latency]
      content {
        distribution_filter = distribution_cut.value.filter
        range {
          min = 0
          max = distribution_cut.value.max_ms
        }
      }
    }
  }
}

# One alert policy per SLO and burn-rate pair (the pairs combine their two windows with AND).
resource "google_monitoring_alert_policy" "burn_rate" {
  for_each = {
    for pair in setproduct(keys(local.slos), keys(local.burn_alerts)) :
    "${pair[0]}/${pair[1]}" => { slo = pair[0], alert = pair[1] }
  }
  display_name          = "SLO ${each.value.slo}: ${each.value.alert} burn (${var.environment})"
  combiner              = "AND"
  severity              = local.burn_alerts[each.value.alert].severity
  notification_channels = local.burn_alerts[each.value.alert].page ? local.page_channels : local.ticket_channels

  dynamic "conditions" {
    for_each = [local.burn_alerts[each.value.alert].long, local.burn_alerts[each.value.alert].short]
    content {
      display_name = "burn rate > ${local.burn_alerts[each.value.alert].factor}x over ${conditions.value}"
      condition_threshold {
        filter          = "select_slo_burn_rate(\"${google_monitoring_slo.slo[each.value.slo].name}\", \"${conditions.value}\")"
        comparison      = "COMPARISON_GT"
        threshold_value = local.burn_alerts[each.value.alert].factor
        duration        = "0s"
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "Focus ${var.environment}: ${local.slos[each.value.slo].display} (${each.value.alert})"
    content   = "The error budget of SLO ${each.value.slo} burns ${local.burn_alerts[each.value.alert].factor}x too fast. Runbook: ${var.repository_url}/blob/main/${local.slos[each.value.slo].runbook}"
  }
}

# Dead letters are never expected: any message there is a bug or an outage to look at.
resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "Dead letters waiting (${var.environment})"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.ticket_channels

  conditions {
    display_name = "undelivered messages on a dead-letter subscription"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.label.subscription_id=ends_with(\"-dead-letter\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "Focus ${var.environment}: dead letters waiting"
    content   = "Messages failed every delivery attempt and wait on a dead-letter subscription. Runbook: ${var.repository_url}/blob/main/docs/runbooks/dead-letters.md"
  }
}

# A function dead-lettered something (an unreadable message, a poison document, a count past its
# retry age): a fact waits for a fix and a replay. A ticket, like the dead letters waiting.
resource "google_monitoring_alert_policy" "dead_letters_written" {
  display_name          = "Dead letters written (${var.environment})"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.ticket_channels

  conditions {
    display_name = "a function wrote a dead letter"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.dead_letters.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.source", "metric.label.reason"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "Focus ${var.environment}: dead letters written"
    content   = "A function dead-lettered a message or task it can never apply as it is (label reason). Runbook: ${var.repository_url}/blob/main/docs/runbooks/dead-letters.md"
  }
}

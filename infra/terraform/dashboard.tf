# The on-call dashboard: traffic and errors, latency, event freshness, dead letters, pushes,
# SLO budgets.
locals {
  user_metric = "logging.googleapis.com/user"

  dashboard_tiles = [
    {
      title   = "Invocations by outcome (per function)"
      filter  = "metric.type=\"${local.user_metric}/${google_logging_metric.requests.name}\" resource.type=\"cloud_run_revision\""
      aligner = "ALIGN_RATE"
      reducer = "REDUCE_SUM"
      group   = ["metric.label.function", "metric.label.outcome"]
    },
    {
      title   = "Callable errors by code"
      filter  = "metric.type=\"${local.user_metric}/${google_logging_metric.requests.name}\" resource.type=\"cloud_run_revision\" metric.label.kind=\"callable\" metric.label.outcome!=\"ok\""
      aligner = "ALIGN_RATE"
      reducer = "REDUCE_SUM"
      group   = ["metric.label.error_code"]
    },
    {
      title   = "Callable latency p95 (ms)"
      filter  = "metric.type=\"${local.user_metric}/${google_logging_metric.latency.name}\" resource.type=\"cloud_run_revision\" metric.label.kind=\"callable\""
      aligner = "ALIGN_DELTA"
      reducer = "REDUCE_PERCENTILE_95"
      group   = ["metric.label.function"]
    },
    {
      title   = "Event age p95 at delivery (ms)"
      filter  = "metric.type=\"${local.user_metric}/${google_logging_metric.event_age.name}\" resource.type=\"cloud_run_revision\""
      aligner = "ALIGN_DELTA"
      reducer = "REDUCE_PERCENTILE_95"
      group   = ["metric.label.function"]
    },
    {
      title   = "Dead letters waiting"
      filter  = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\" resource.label.subscription_id=ends_with(\"-dead-letter\")"
      aligner = "ALIGN_MAX"
      reducer = "REDUCE_SUM"
      group   = ["resource.label.subscription_id"]
    },
    {
      title   = "Cloud Run 5xx and 429 (per service): what our code never logged"
      filter  = "metric.type=\"run.googleapis.com/request_count\" resource.type=\"cloud_run_revision\" (metric.label.response_code_class=\"5xx\" OR metric.label.response_code=\"429\")"
      aligner = "ALIGN_RATE"
      reducer = "REDUCE_SUM"
      group   = ["resource.label.service_name", "metric.label.response_code"]
    },
    {
      title   = "Request latency p99 at the front end (ms, cold starts included)"
      filter  = "metric.type=\"run.googleapis.com/request_latencies\" resource.type=\"cloud_run_revision\""
      aligner = "ALIGN_DELTA"
      reducer = "REDUCE_PERCENTILE_99"
      group   = ["resource.label.service_name"]
    },
    {
      title   = "Cold starts: container startup latency p95 (ms)"
      filter  = "metric.type=\"run.googleapis.com/container/startup_latencies\" resource.type=\"cloud_run_revision\""
      aligner = "ALIGN_DELTA"
      reducer = "REDUCE_PERCENTILE_95"
      group   = ["resource.label.service_name"]
    },
    {
      title   = "Task queue depth"
      filter  = "metric.type=\"cloudtasks.googleapis.com/queue/depth\" resource.type=\"cloud_tasks_queue\""
      aligner = "ALIGN_MAX"
      reducer = "REDUCE_SUM"
      group   = ["resource.label.queue_id"]
    },
    {
      title   = "Oldest unacked Pub/Sub message (s)"
      filter  = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" resource.type=\"pubsub_subscription\""
      aligner = "ALIGN_MAX"
      reducer = "REDUCE_MAX"
      group   = ["resource.label.subscription_id"]
    },
    {
      title   = "Transaction attempts aborted (per transaction)"
      filter  = "metric.type=\"${local.user_metric}/${google_logging_metric.transaction_aborts.name}\" resource.type=\"cloud_run_revision\""
      aligner = "ALIGN_RATE"
      reducer = "REDUCE_SUM"
      group   = ["metric.label.transaction"]
    },
    {
      title   = "Instances (per service)"
      filter  = "metric.type=\"run.googleapis.com/container/instance_count\" resource.type=\"cloud_run_revision\""
      aligner = "ALIGN_MAX"
      reducer = "REDUCE_SUM"
      group   = ["resource.label.service_name"]
    },
    {
      title   = "Pushes sent by outcome (per kind)"
      filter  = "metric.type=\"${local.user_metric}/${google_logging_metric.push_sends.name}\" resource.type=\"cloud_run_revision\""
      aligner = "ALIGN_RATE"
      reducer = "REDUCE_SUM"
      group   = ["metric.label.kind", "metric.label.outcome"]
    },
    {
      title   = "Sync push latency p99, change to FCM (ms, 2-minute coalescing included)"
      filter  = "metric.type=\"${local.user_metric}/${google_logging_metric.sync_push_latency.name}\" resource.type=\"cloud_run_revision\""
      aligner = "ALIGN_DELTA"
      reducer = "REDUCE_PERCENTILE_99"
      group   = ["metric.label.platform"]
    },
  ]

  slo_tiles = [
    for id, slo in local.slos : {
      title  = "Error budget left: ${slo.display}"
      filter = "select_slo_budget_fraction(\"${google_monitoring_slo.slo[id].name}\")"
    }
  ]
}

resource "google_monitoring_dashboard" "backend" {
  dashboard_json = jsonencode({
    displayName = "Focus backend (${var.environment})"
    mosaicLayout = {
      columns = 12
      tiles = concat(
        [
          for index, tile in local.dashboard_tiles : {
            xPos   = (index % 2) * 6
            yPos   = floor(index / 2) * 4
            width  = 6
            height = 4
            widget = {
              title = tile.title
              xyChart = {
                dataSets = [{
                  plotType = "LINE"
                  timeSeriesQuery = {
                    timeSeriesFilter = {
                      filter = tile.filter
                      aggregation = {
                        alignmentPeriod    = "60s"
                        perSeriesAligner   = tile.aligner
                        crossSeriesReducer = tile.reducer
                        groupByFields      = tile.group
                      }
                    }
                  }
                }]
              }
            }
          }
        ],
        [
          for index, tile in local.slo_tiles : {
            xPos   = (index % 4) * 3
            yPos   = ceil(length(local.dashboard_tiles) / 2) * 4 + floor(index / 4) * 4
            width  = 3
            height = 4
            widget = {
              title = tile.title
              scorecard = {
                timeSeriesQuery = { timeSeriesFilter = { filter = tile.filter } }
                gaugeView       = { lowerBound = 0, upperBound = 1 }
              }
            }
          }
        ],
      )
    }
  })
}

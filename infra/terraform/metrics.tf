# Log-based metrics from the one `request` line every invocation writes (focus.entrypoints.invocation,
# for callables, event handlers and web endpoints alike): jsonPayload.{kind, function, outcome, errorCode, latencyMs,
# eventAgeMs}. They feed the SLOs, alerts and dashboard; nothing else has to be instrumented.

locals {
  request_filter = "resource.type=\"cloud_run_revision\" AND jsonPayload.message=\"request\""
  request_labels = {
    kind       = "EXTRACT(jsonPayload.kind)"
    function   = "EXTRACT(jsonPayload.function)"
    outcome    = "EXTRACT(jsonPayload.outcome)"
    error_code = "EXTRACT(jsonPayload.errorCode)"
  }
  # Distributions (latency, event age) are broken down by kind and function only.
  distribution_labels = {
    kind     = "callable, firestore, pubsub, task or schedule"
    function = "function name"
  }
}

resource "google_logging_metric" "requests" {
  name   = "focus/requests"
  filter = local.request_filter
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Focus invocations"
    labels {
      key         = "kind"
      description = "callable, firestore, pubsub, task or schedule"
    }
    labels {
      key         = "function"
      description = "function name"
    }
    labels {
      key         = "outcome"
      description = "ok, client_error or error"
    }
    labels {
      key         = "error_code"
      description = "OK or the callable error code"
    }
  }
  label_extractors = local.request_labels
}

resource "google_logging_metric" "latency" {
  name            = "focus/latency"
  filter          = local.request_filter
  value_extractor = "EXTRACT(jsonPayload.latencyMs)"
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "Focus invocation latency"
    dynamic "labels" {
      for_each = local.distribution_labels
      content {
        key         = labels.key
        description = labels.value
      }
    }
  }
  label_extractors = { for key in keys(local.distribution_labels) : key => local.request_labels[key] }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.4
      scale              = 1
    }
  }
}

resource "google_logging_metric" "event_age" {
  name            = "focus/event_age"
  filter          = "${local.request_filter} AND jsonPayload.eventAgeMs>=0"
  value_extractor = "EXTRACT(jsonPayload.eventAgeMs)"
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "Focus event age at delivery"
    dynamic "labels" {
      for_each = local.distribution_labels
      content {
        key         = labels.key
        description = labels.value
      }
    }
  }
  label_extractors = { for key in keys(local.distribution_labels) : key => local.request_labels[key] }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.5
      scale              = 10
    }
  }
}

# Every dead letter a function writes itself (focus.adapters.messaging.dead_letter logs one `dead
# letter` line: source, kind, reason). Pub/Sub's own dead-lettering after the last attempt is
# seen on the dead-letter subscriptions instead (slos.tf, alert dead_letters).
resource "google_logging_metric" "dead_letters" {
  name   = "focus/dead_letters"
  filter = "resource.type=\"cloud_run_revision\" AND jsonPayload.message=\"dead letter\""
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Focus dead letters written"
    labels {
      key         = "source"
      description = "the topic or task-queue function the message or task came from"
    }
    labels {
      key         = "kind"
      description = "pubsub or task"
    }
    labels {
      key         = "reason"
      description = "notJson, unknownSchemaVersion, invalidEvent, poisonDocument or tooOld"
    }
  }
  label_extractors = {
    source = "EXTRACT(jsonPayload.source)"
    kind   = "EXTRACT(jsonPayload.kind)"
    reason = "EXTRACT(jsonPayload.reason)"
  }
}

# Requests Cloud Run refused because every instance up to max_instances was busy (HTTP 429
# "no available instance"): our code never ran, so no `request` line exists for them.
resource "google_logging_metric" "no_instance" {
  name   = "focus/no_instance"
  filter = "resource.type=\"cloud_run_revision\" AND logName:\"run.googleapis.com%2Frequests\" AND httpRequest.status=429 AND textPayload:\"no available instance\""
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Requests refused at max_instances"
    labels {
      key         = "service"
      description = "Cloud Run service (function name in lower case)"
    }
  }
  label_extractors = {
    service = "EXTRACT(resource.labels.service_name)"
  }
}

# Firestore transaction attempts aborted by contention (focus.adapters.store.transactional logs
# `transaction aborted` for each, with the transaction's name; the envelope answers ABORTED
# CONTENTION once every attempt aborted).
resource "google_logging_metric" "transaction_aborts" {
  name   = "focus/transaction_aborts"
  filter = "resource.type=\"cloud_run_revision\" AND jsonPayload.message=\"transaction aborted\""
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Focus transaction attempts aborted"
    labels {
      key         = "transaction"
      description = "the transaction's name (e.g. erasure.delete_batch)"
    }
  }
  label_extractors = {
    transaction = "EXTRACT(jsonPayload.transaction)"
  }
}

# Erasure SLO (docs/operations.md): every erasure completes within 24 h of its request. The
# measure is a periodic check of the open erasures (the `erasures` progress documents), which
# logs one `erasure open` line per open erasure with `erasureAgeMs` (now - requestedAt) and one
# `erasures checked` line per run. Lines older than the SLO are counted here (alerts.tf: any one
# is an alert); the runs are counted below, so a check that stopped running, or was never
# deployed, is an alert too (no data), never silence.
resource "google_logging_metric" "erasures_overdue" {
  name   = "focus/erasures_overdue"
  filter = "resource.type=\"cloud_run_revision\" AND jsonPayload.message=\"erasure open\" AND jsonPayload.erasureAgeMs>86400000"
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Open erasures older than 24 h (per check)"
  }
}

resource "google_logging_metric" "erasure_checks" {
  name   = "focus/erasure_checks"
  filter = "resource.type=\"cloud_run_revision\" AND jsonPayload.message=\"erasures checked\""
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Runs of the open-erasure check"
  }
}

# Sweeps of the push outbox that found entries pending five minutes past due (their task lost, or
# the sendPush queue paused or failing): `outbox swept` with handedOff > 0.
resource "google_logging_metric" "outbox_overdue" {
  name   = "focus/outbox_overdue"
  filter = "resource.type=\"cloud_run_revision\" AND jsonPayload.message=\"outbox swept\" AND jsonPayload.handedOff>0"
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Outbox sweeps that found overdue pushes"
  }
}

# Push sending (docs/notifications.md): the sender logs one `push sent` line per send attempt, with
# jsonPayload.{kind, platform, outcome} and, for silent sync pushes, `budgetDelayed` (the device's
# hourly background-push budget held it past the coalescing window) and, once FCM accepted one,
# `syncLatencyMs` (first change it carries written -> FCM accepted, the 2-minute coalescing window
# included). Outcomes feed the push-sending alert (alerts.tf), latency the sync-push SLO (slos.tf).
locals {
  push_filter = "resource.type=\"cloud_run_revision\" AND jsonPayload.message=\"push sent\""
}

resource "google_logging_metric" "push_sends" {
  name   = "focus/push_sends"
  filter = local.push_filter
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Focus pushes sent (attempts, by outcome)"
    labels {
      key         = "kind"
      description = "sync, session_finished, streak_at_risk, weekly_report or billing_problem"
    }
    labels {
      key         = "platform"
      description = "ios, android or macos"
    }
    labels {
      key         = "outcome"
      description = "accepted, token_gone, quota_exceeded, transient or failed"
    }
  }
  label_extractors = {
    kind     = "EXTRACT(jsonPayload.kind)"
    platform = "EXTRACT(jsonPayload.platform)"
    outcome  = "EXTRACT(jsonPayload.outcome)"
  }
}

# Sync pushes FCM accepted, except those the hourly budget held back: by design they wait up to an
# hour, and the SLO is about the path we run (outbox, queue, sender, FCM). `NOT ...=true` rather
# than `=false`: a line that lost the flag counts against us instead of vanishing from the SLO.
# Explicit buckets: the SLO's cut (180 s) must be a bucket bound, since a distribution cut counts
# whole buckets; dense just after the 2-minute window, where every healthy push lands; coarse up to
# 2 hours (retries after quota or outages).
resource "google_logging_metric" "sync_push_latency" {
  name            = "focus/sync_push_latency"
  filter          = "${local.push_filter} AND jsonPayload.kind=\"sync\" AND jsonPayload.outcome=\"accepted\" AND NOT jsonPayload.budgetDelayed=true AND jsonPayload.syncLatencyMs>=0"
  value_extractor = "EXTRACT(jsonPayload.syncLatencyMs)"
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "Focus sync push latency (change written -> accepted by FCM)"
    labels {
      key         = "platform"
      description = "ios, android or macos"
    }
  }
  label_extractors = {
    platform = "EXTRACT(jsonPayload.platform)"
  }
  bucket_options {
    explicit_buckets {
      bounds = [
        1000, 10000, 60000, 110000, 120000, 121000, 122000, 125000, 130000, 140000, 150000,
        165000, 180000, 210000, 240000, 300000, 420000, 600000, 900000, 1800000, 3600000, 7200000,
      ]
    }
  }
}

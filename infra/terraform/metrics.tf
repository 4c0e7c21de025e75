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

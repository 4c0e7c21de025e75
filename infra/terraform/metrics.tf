# Log-based metrics from the one `request` line every invocation writes (focus.platform.callables
# and focus.platform.handlers): jsonPayload.{kind, function, outcome, errorCode, latencyMs,
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

# AI insights (docs/insights.md): the Cloud Storage bucket the weekly Vertex AI batch reads its
# input from and writes its output to, what may touch it, the Vertex AI spend budget and the alert
# on a failed batch. The insights codebase's own grants (the bucket among them) are in
# local.runtime_iam, derived from its code like every codebase's.
#
# Terraform enables no API here: the Vertex AI API must be enabled on the project first
# (`gcloud services enable aiplatform.googleapis.com`, docs/insights.md), which also creates the
# Vertex AI service agent the bucket grant below names.

locals {
  # Batch prediction reads the input files and writes the output files as the Vertex AI service
  # agent, not as the account that submitted the job.
  vertex_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-aiplatform.iam.gserviceaccount.com"

  # Buckets by the name the code's IAM declarations use (focus.adapters.iam.BUCKET), for grants.
  bucket_names = {
    "insight-batches" = google_storage_bucket.insight_batches.name
  }
}

# One run's files live a few hours (insight_runs deletes them once applied); the lifecycle rule
# deletes whatever a failed run left behind. They hold a random key and a person's weekly figures,
# never a uid (docs/insights.md, "Privacy argument"), so no copy is kept: no versioning.
resource "google_storage_bucket" "insight_batches" {
  # checkov:skip=CKV_GCP_62: transient batch files; data access is in Cloud Audit Logs if enabled
  # checkov:skip=CKV_GCP_78: no versioning on purpose: a deleted batch file must be gone
  name                        = "${var.project_id}-insight-batches"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = false
  }

  lifecycle_rule {
    condition {
      age = 3
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_iam_member" "vertex_batches" {
  bucket = google_storage_bucket.insight_batches.name
  role   = "roles/storage.objectUser"
  member = local.vertex_service_agent
}

# Vertex AI spend alone, beside the project's budget (budget.tf): the model is the one cost that
# grows with every consenting person every week, and a runaway (a loop calling it online, a batch
# submitted twice) shows here before it moves the project's total. Same thresholds and channels.
# Runbook: docs/runbooks/budget.md.
resource "google_billing_budget" "vertex_ai" {
  billing_account = var.billing_account
  display_name    = "Focus ${var.environment} Vertex AI monthly"

  budget_filter {
    projects = ["projects/${data.google_project.this.number}"]
    services = [var.vertex_ai_billing_service]
  }

  amount {
    specified_amount {
      currency_code = var.budget_currency
      units         = tostring(var.monthly_vertex_budget)
    }
  }

  threshold_rules {
    threshold_percent = 0.5
  }
  threshold_rules {
    threshold_percent = 0.9
  }
  threshold_rules {
    threshold_percent = 1.0
  }

  all_updates_rule {
    monitoring_notification_channels = slice(local.ticket_channels, 0, min(5, length(local.ticket_channels)))
    disable_default_iam_recipients   = false
  }
}

# A batch prediction job that ended failed, cancelled or expired (focus.services.insight_runs logs
# `insight batch failed`): everyone in that run got the fallback insight instead of the model's.
resource "google_logging_metric" "insight_batches_failed" {
  name   = "focus/insight_batches_failed"
  filter = "resource.type=\"cloud_run_revision\" AND jsonPayload.message=\"insight batch failed\""
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Insight batch prediction jobs failed"
  }
}

resource "google_monitoring_alert_policy" "insight_batch_failed" {
  display_name          = "Insight batch failed (${var.environment})"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.ticket_channels

  conditions {
    display_name = "an insight batch prediction job failed"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.insight_batches_failed.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "Focus ${var.environment}: insight batch failed"
    content   = "A Vertex AI batch prediction job of the weekly insights ended without results (jsonPayload.state, jsonPayload.error in the `insight batch failed` line): that run's people got the fallback insight. Runbook: ${var.repository_url}/blob/main/docs/runbooks/insight-batches.md"
  }
}

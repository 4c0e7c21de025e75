# Erased people's analytics rows are deleted, not only made unlinkable (docs/analytics.md,
# "Pseudonymisation and erasure"). Crypto-shredding already meets erasure: the person's secret
# (users/{uid}/analyticsKeys/current) goes with the account, and nobody can recompute their
# person_id. This deletes the rows too, where BigQuery allows it: once a month, a scheduled query
# runs sql/delete-erased-people.sql, which deletes every row of each person an `erasure_completed`
# event names (the erasure publishes it with the person's id, computed before the secret went).
#
# Monthly, not daily: each run reads the person_id column of all 760 days and every partition it
# rewrites loses the long-term storage price for 90 days (the cost table in docs/analytics.md).
# Within a month of the erasure, as GDPR's time limit asks of the rest of the erasure.

locals {
  # The Data Transfer Service's agent mints the eraser's tokens to run the query as it.
  bigquery_transfer_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"
}

# The identity the DELETE runs as: it can run query jobs and change that one table, nothing else
# (no runtime account of the functions, no person, can read the events through it).
resource "google_service_account" "analytics_eraser" {
  account_id   = "focus-analytics-eraser"
  display_name = "Focus analytics eraser"
  description  = "Runs the monthly scheduled query deleting erased people's rows from analytics.events."
}

# Reads and deletes rows of analytics.events (bigquery.tables.getData and updateData on the table).
resource "google_bigquery_table_iam_member" "analytics_eraser_edits_events" {
  project    = google_bigquery_table.events.project
  dataset_id = google_bigquery_table.events.dataset_id
  table_id   = google_bigquery_table.events.table_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.analytics_eraser.email}"
}

# Runs the query job (jobs are project resources: there is no narrower place to grant it).
resource "google_project_iam_member" "analytics_eraser_runs_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.analytics_eraser.email}"
}

resource "google_service_account_iam_member" "transfer_agent_acts_as_analytics_eraser" {
  service_account_id = google_service_account.analytics_eraser.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.bigquery_transfer_agent
}

# A DML scheduled query: no destination table (the statement changes analytics.events itself), in
# the dataset's location. 03:00 UTC on the 1st, after the daily models (docs/analytics.md).
resource "google_bigquery_data_transfer_config" "delete_erased_people" {
  display_name         = "Delete erased people's analytics rows"
  data_source_id       = "scheduled_query"
  location             = google_bigquery_dataset.analytics.location
  schedule             = "1 of month 03:00"
  service_account_name = google_service_account.analytics_eraser.email
  params = {
    query = file("${path.module}/sql/delete-erased-people.sql")
  }
  # The alert below tells the on-call rota; the transfer's own e-mail would go to whoever applied.
  email_preferences {
    enable_failure_email = false
  }

  depends_on = [
    google_bigquery_table_iam_member.analytics_eraser_edits_events,
    google_project_iam_member.analytics_eraser_runs_jobs,
    google_service_account_iam_member.transfer_agent_acts_as_analytics_eraser,
  ]
}

# Every run of the transfer logs to resource bigquery_dts_config; a failed run (the query refused,
# a permission lost, the table missing) logs at ERROR. Any opens a ticket: the alert
# "erased-people-delete-failed" in alerts.tf (runbook docs/runbooks/analytics-erasure.md).
resource "google_logging_metric" "erased_people_delete_failed" {
  name   = "focus/erased_people_delete_failed"
  filter = "resource.type=\"bigquery_dts_config\" AND resource.labels.config_id=\"${basename(google_bigquery_data_transfer_config.delete_erased_people.name)}\" AND severity>=ERROR"
  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Runs of the erased-people delete that failed"
  }
}

# Cloud Tasks queues and Cloud Scheduler jobs. `firebase deploy` creates both from the function
# declarations (functions/jobs/main.py); they are declared here too so their retry and rate settings
# are reviewed, versioned and restorable in one place. Import the deployed ones once per project:
#   terraform import 'google_cloud_tasks_queue.task_functions["completeSessionAtPlannedEnd"]' \
#     projects/<project>/locations/europe-west1/queues/completeSessionAtPlannedEnd
# tests/test_infra.py checks these values equal the ones in main.py.

resource "google_cloud_tasks_queue" "task_functions" {
  for_each = local.task_queues
  name     = each.key
  location = var.region

  rate_limits {
    max_concurrent_dispatches = each.value.max_concurrent_dispatches
    max_dispatches_per_second = each.value.max_dispatches_per_second
  }

  retry_config {
    max_attempts  = each.value.max_attempts
    min_backoff   = each.value.min_backoff
    max_backoff   = each.value.max_backoff
    max_doublings = 4
  }

  stackdriver_logging_config {
    sampling_ratio = 0.01
  }
}

# Firebase names a scheduled function's job firebase-schedule-<function>-<region> and points it at
# the function; Terraform keeps the schedule and retry settings, deploy keeps the target.
resource "google_cloud_scheduler_job" "schedules" {
  for_each         = local.schedules
  name             = "firebase-schedule-${each.key}-${var.region}"
  region           = var.region
  schedule         = each.value
  time_zone        = "UTC"
  attempt_deadline = "180s"

  retry_config {
    retry_count          = 1
    min_backoff_duration = "10s"
    max_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://${var.region}-${var.project_id}.cloudfunctions.net/${each.key}"
    oidc_token {
      service_account_email = google_service_account.codebase["jobs"].email
    }
  }

  lifecycle {
    ignore_changes = [http_target]
  }
}

locals {
  # Topics carrying domain events, and the dead-letter topic each one's consumers fall back to.
  topics = {
    "session-completed" = { consumer = "on_session_completed" }
  }

  # Bounded retries for every consumer subscription (the Eventarc ones get them at deploy time from
  # `scripts/dead-letters attach`, which uses the same figures).
  pubsub_delivery = {
    max_delivery_attempts = 10
    minimum_backoff       = "10s"
    maximum_backoff       = "600s"
  }

  # Firebase deploy creates the task queue in front of each task-queue function, named after the
  # function; these mirror the retry configs declared in functions/jobs/main.py (a test checks).
  task_queues = {
    "completeSessionAtPlannedEnd" = {
      max_attempts              = 5
      min_backoff               = "10s"
      max_backoff               = "300s"
      max_concurrent_dispatches = 50
      max_dispatches_per_second = 500
    }
    "eraseAccount" = {
      max_attempts              = 20
      min_backoff               = "5s"
      max_backoff               = "300s"
      max_concurrent_dispatches = 20
      max_dispatches_per_second = 50
    }
    "buildExport" = {
      max_attempts              = 5
      min_backoff               = "30s"
      max_backoff               = "300s"
      max_concurrent_dispatches = 10
      max_dispatches_per_second = 10
    }
  }

  # Scheduled functions (functions/jobs/main.py) and their Cloud Scheduler cron.
  schedules = {
    "roll_up_hours_saved" = "*/5 * * * *"
    "roll_up_community"   = "*/10 * * * *"
    "sweep_uncounted_sessions" = "*/30 * * * *"
  }

  # Transient collections whose documents carry `expireAt` (shared/focus/platform/repositories/paths.py).
  ttl_collections = ["shards", "communityDays", "idempotency", "rateLimits", "exports", "chunks", "erasures", "erasureAudit"]

  # Least privilege: project-level roles each codebase's runtime service account gets. Anything
  # narrower (one topic, one secret, one service account) is granted on that resource instead.
  # tests/test_infra.py fails on any project role outside this allow-list.
  codebase_roles = {
    api = [
      "roles/datastore.user",
      "roles/logging.logWriter",
      "roles/cloudtrace.agent",
      "roles/monitoring.metricWriter",
    ]
    triggers = [
      "roles/datastore.user",
      "roles/logging.logWriter",
      "roles/cloudtrace.agent",
      "roles/monitoring.metricWriter",
      "roles/eventarc.eventReceiver",
      "roles/cloudtasks.enqueuer",
    ]
    jobs = [
      "roles/datastore.user",
      "roles/logging.logWriter",
      "roles/cloudtrace.agent",
      "roles/monitoring.metricWriter",
      "roles/eventarc.eventReceiver",
    ]
  }

  codebase_role_pairs = flatten([
    for codebase, roles in local.codebase_roles : [
      for role in roles : { codebase = codebase, role = role }
    ]
  ])
}

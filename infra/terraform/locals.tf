locals {
  # Topics carrying domain events, and the dead-letter topic each one's consumers fall back to.
  topics = {
    "session-completed" = { consumer = "on_session_completed" }
    # Google Play's real-time developer notifications: the Play Console publishes here (pubsub.tf
    # grants Google's publisher account).
    "play-billing-notifications" = { consumer = "on_play_notification" }
  }

  # Task-queue functions that dead-letter what they give up on (focus.adapters.messaging.dead_letter)
  # to the topic `<function>-dead-letter`; scripts/dead-letters replays them as tasks.
  dead_lettered_tasks = ["countCompletedSession", "applyInsightResults"]

  # Bounded retries for every consumer subscription (the Eventarc ones get them at deploy time from
  # `scripts/dead-letters attach`, which uses the same figures).
  pubsub_delivery = {
    max_delivery_attempts = 10
    minimum_backoff       = "10s"
    maximum_backoff       = "600s"
  }

  # Task queues and Cloud Scheduler jobs are owned by the functions' decorators in
  # functions/jobs/main.py and functions/insights/main.py (`firebase deploy` upserts them):
  # docs/adr/0008-queues-and-schedules.md.
  # Terraform declares neither; tests/test_infra.py checks that every queue it grants on is a
  # task-queue function.

  # Transient collections whose documents carry `expireAt` (shared/focus/adapters/paths.py).
  ttl_collections = ["shards", "communityDays", "idempotency", "rateLimits", "exports", "chunks", "erasures", "erasureAudit"]

  # Least privilege, derived from the code: what each codebase's runtime service account holds,
  # and on what. tests/test_infra.py derives the same from functions/<codebase>/main.py and the
  # permissions its Google API calls declare (focus_tools.permissions) and fails on any
  # difference, either way. iam.tf turns each list into bindings:
  #   project  predefined roles on the project
  #   custom   permissions of the codebase's custom role (Auth user operations: no predefined
  #            role is narrow enough)
  #   secrets  roles/secretmanager.secretAccessor on these secrets
  #   topics   roles/pubsub.publisher on these topics
  #   queues   roles/cloudtasks.enqueuer on the queues of these task-queue functions
  #   invokes  roles/run.invoker on the Cloud Run services of these functions: the task functions
  #            it enqueues to (Cloud Tasks calls them with this account's OIDC token) and its own
  #            event-triggered functions (Eventarc pushes as the function's account)
  #   buckets  roles/storage.objectUser on these Cloud Storage buckets (local.bucket_names)
  #   act_as   roles/iam.serviceAccountUser on its own account (the Admin SDK signs its tasks
  #            as the enqueuing account)
  runtime_iam = {
    api = {
      project = ["roles/datastore.user", "roles/cloudtrace.agent"]
      custom  = ["firebaseauth.users.get", "firebaseauth.users.update"]
      secrets = ["USER_PSEUDONYM_KEY"]
      topics  = ["product-events"]
      queues  = ["buildExport", "eraseAccount"]
      invokes = ["buildExport", "eraseAccount"]
      buckets = []
      act_as  = true
    }
    triggers = {
      project = ["roles/datastore.user", "roles/cloudtrace.agent", "roles/eventarc.eventReceiver"]
      custom  = []
      secrets = ["USER_PSEUDONYM_KEY"]
      topics  = ["product-events"]
      queues = [
        "completeSessionAtPlannedEnd", "completeSessionAtPlannedEnd2", "countCompletedSession",
        "countCompletedSession2", "deriveDays", "deriveDays2", "sendPush", "sendPush2", "sendPush3", "sendPush4",
      ]
      invokes = [
        "completeSessionAtPlannedEnd", "completeSessionAtPlannedEnd2", "countCompletedSession",
        "countCompletedSession2", "deriveDays", "deriveDays2", "sendPush", "sendPush2", "sendPush3", "sendPush4",
        "on_session_written", "on_block_written", "on_device_created", "on_profile_updated",
        "on_days_changed",
      ]
      buckets = []
      act_as  = true
    }
    jobs = {
      project = [
        "roles/datastore.user", "roles/cloudtrace.agent", "roles/firebasecloudmessaging.admin",
      ]
      custom  = ["firebaseauth.users.get", "firebaseauth.users.update", "firebaseauth.users.delete"]
      secrets = ["USER_PSEUDONYM_KEY"]
      topics = [
        "session-completed", "session-completed-dead-letter", "countCompletedSession-dead-letter",
        "product-events",
      ]
      queues = [
        "completeSessionAtPlannedEnd", "completeSessionAtPlannedEnd2", "eraseAccount", "buildExport",
        "sendPush", "sendPush2", "sendPush3", "sendPush4", "sendCampaignBatch", "writeNudge",
      ]
      invokes = [
        "completeSessionAtPlannedEnd", "completeSessionAtPlannedEnd2", "eraseAccount", "buildExport",
        "sendPush", "sendPush2", "sendPush3", "sendPush4", "sendCampaignBatch", "writeNudge", "on_session_completed",
      ]
      buckets = []
      act_as  = true
    }
    webhooks = {
      project = ["roles/datastore.user", "roles/cloudtrace.agent"]
      custom  = ["firebaseauth.users.get", "firebaseauth.users.update"]
      secrets = ["USER_PSEUDONYM_KEY", "STRIPE_WEBHOOK_SECRET", "APPLE_ROOT_CERTIFICATES"]
      topics  = ["play-billing-notifications-dead-letter", "product-events"]
      queues  = ["sendPush", "sendPush2", "sendPush3", "sendPush4"]
      invokes = ["sendPush", "sendPush2", "sendPush3", "sendPush4", "on_play_notification"]
      buckets = []
      act_as  = true
    }
    # The model on Vertex AI (online for nudges, batch prediction jobs for the weekly insights),
    # the batch files in their bucket, pushes for nudges (the outbox, as jobs sends campaigns).
    insights = {
      project = [
        "roles/datastore.user", "roles/cloudtrace.agent", "roles/aiplatform.user",
        "roles/firebasecloudmessaging.admin",
      ]
      custom  = []
      secrets = ["USER_PSEUDONYM_KEY"]
      topics  = ["applyInsightResults-dead-letter", "product-events"]
      queues  = ["prepareInsights", "applyInsightResults", "sendPush", "sendPush2", "sendPush3", "sendPush4"]
      invokes = ["prepareInsights", "applyInsightResults", "sendPush", "sendPush2", "sendPush3", "sendPush4"]
      buckets = ["insight-batches"]
      act_as  = true
    }
  }

  # The functions each codebase deploys (each is one Cloud Run service) and its max_instances
  # (start_codebase in functions/<codebase>/main.py); tests/test_infra.py checks both against the
  # code. Platform SLIs, capacity and no-data alerts select services by these names.
  functions = {
    api = [
      "launch", "useEmergencyPass", "uploadDailyReports", "getCommunityComparison",
      "deleteAccount", "deleteAccountWeb", "requestExport", "getExport", "setConsent", "health",
      "registerPushToken", "getEntitlements", "getInsights", "rateInsight",
    ]
    triggers = [
      "on_session_written", "on_block_written", "on_device_created", "on_profile_updated",
      "on_days_changed",
    ]
    jobs = [
      "on_session_completed", "completeSessionAtPlannedEnd", "completeSessionAtPlannedEnd2",
      "countCompletedSession", "countCompletedSession2", "eraseAccount", "buildExport",
      "deriveDays", "deriveDays2", "roll_up_hours_saved", "roll_up_community",
      "sweep_uncounted_sessions", "sweep_day_changes", "check_open_erasures", "prune_push_tokens",
      "sendPush", "sendPush2", "sendPush3", "sendPush4", "sweep_outbox", "plan_campaigns",
      "sendCampaignBatch",
    ]
    webhooks = ["appStoreNotifications", "stripeWebhook", "on_play_notification", "restorePurchases"]
    insights = [
      "plan_weekly_insights", "prepareInsights", "follow_insight_batches", "applyInsightResults",
      "writeNudge",
    ]
  }
  max_instances = {
    api      = 100
    triggers = 200
    jobs     = 100
    webhooks = 20
    insights = 20
  }
  # Monitoring filter clauses selecting a codebase's Cloud Run services.
  services_of = {
    for codebase, names in local.functions : codebase =>
    "resource.label.service_name=one_of(${join(", ", [for name in names : "\"${replace(lower(name), "_", "-")}\""])})"
  }

  # local.runtime_iam as one map per binding kind, keyed "<codebase>/<name>" (iam.tf's for_each).
  runtime_grants = {
    for kind in ["project", "secrets", "topics", "queues", "invokes", "buckets"] : kind => merge([
      for codebase, iam in local.runtime_iam : {
        for name in iam[kind] : "${codebase}/${name}" => { codebase = codebase, name = name }
      }
    ]...)
  }

  # Every topic by name, for grants on topics.
  topic_ids = merge(
    { for key, topic in google_pubsub_topic.events : key => topic.id },
    { for key, topic in google_pubsub_topic.dead_letter : "${key}-dead-letter" => topic.id },
    { for key, topic in google_pubsub_topic.task_dead_letter : "${key}-dead-letter" => topic.id },
    { (local.analytics_topic) = google_pubsub_topic.product_events.id }, # analytics.tf
  )
  secret_ids = merge(
    { USER_PSEUDONYM_KEY = google_secret_manager_secret.user_pseudonym_key.id },
    { for name, secret in google_secret_manager_secret.store : name => secret.id },
  )
}

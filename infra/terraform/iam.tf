# One runtime service account per codebase (functions pick theirs up through
# `service_account="focus-<codebase>@"` in focus.entrypoints.runtime), holding exactly what
# local.runtime_iam lists (derived from the code and checked by tests/test_infra.py). The default
# compute service account keeps none of these.
#
# Order on a new project: the queue and service bindings name resources `firebase deploy`
# creates, so apply the accounts first (`terraform apply -target=google_service_account.codebase`),
# deploy, then apply everything (docs/deploy.md).

resource "google_service_account" "codebase" {
  for_each     = local.runtime_iam
  account_id   = "focus-${each.key}"
  display_name = "Focus ${each.key} functions"
  description  = "Runtime identity of the ${each.key} codebase's functions."
}

resource "google_project_iam_member" "runtime" {
  for_each = local.runtime_grants.project
  project  = var.project_id
  role     = each.value.name
  member   = "serviceAccount:${google_service_account.codebase[each.value.codebase].email}"
}

# The Auth user operations a codebase performs (read, update, delete), and nothing else of Auth.
resource "google_project_iam_custom_role" "runtime" {
  for_each    = { for codebase, iam in local.runtime_iam : codebase => iam if length(iam.custom) > 0 }
  role_id     = "focus_${each.key}_runtime"
  title       = "Focus ${each.key} runtime (Auth users)"
  description = "The Firebase Auth user operations the ${each.key} codebase performs."
  permissions = each.value.custom
}

resource "google_project_iam_member" "runtime_custom" {
  for_each = google_project_iam_custom_role.runtime
  project  = var.project_id
  role     = each.value.name
  member   = "serviceAccount:${google_service_account.codebase[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each  = local.runtime_grants.secrets
  secret_id = local.secret_ids[each.value.name]
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.codebase[each.value.codebase].email}"
}

resource "google_pubsub_topic_iam_member" "runtime" {
  for_each = local.runtime_grants.topics
  topic    = local.topic_ids[each.value.name]
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.codebase[each.value.codebase].email}"
}

# The queue in front of a task-queue function is named after the function (created by deploy).
resource "google_cloud_tasks_queue_iam_member" "runtime" {
  for_each = local.runtime_grants.queues
  project  = var.project_id
  location = var.region
  name     = each.value.name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.codebase[each.value.codebase].email}"
}

# A function's Cloud Run service is its name in lower case with `_` as `-` (created by deploy).
resource "google_cloud_run_v2_service_iam_member" "runtime" {
  for_each = local.runtime_grants.invokes
  project  = var.project_id
  location = var.region
  name     = replace(lower(each.value.name), "_", "-")
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.codebase[each.value.codebase].email}"
}

# Objects in a bucket the code names (local.bucket_names): create, read, list and delete them, the
# narrowest predefined role holding all four; nothing on the bucket itself.
resource "google_storage_bucket_iam_member" "runtime" {
  for_each = local.runtime_grants.buckets
  bucket   = local.bucket_names[each.value.name]
  role     = "roles/storage.objectUser"
  member   = "serviceAccount:${google_service_account.codebase[each.value.codebase].email}"
}

resource "google_service_account_iam_member" "runtime_act_as" {
  for_each           = { for codebase, iam in local.runtime_iam : codebase => iam if iam.act_as }
  service_account_id = google_service_account.codebase[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.codebase[each.key].email}"
}

# Keyless deploys from GitHub Actions: a workload identity pool trusting this repository only.
resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = "github"
  display_name              = "GitHub Actions"
}

resource "google_iam_workload_identity_pool_provider" "github" {
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  display_name                       = "GitHub OIDC"
  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
    "attribute.ref"        = "assertion.ref"
  }
  # Only this repository's deploy jobs running in the GitHub environment named after this project's
  # environment (whose protection rules decide which branches and tags may deploy) get tokens.
  attribute_condition = "assertion.sub == 'repo:${var.github_owner}/${var.github_repo}:environment:${var.environment}'"
  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account" "deployer" {
  account_id   = "focus-deployer"
  display_name = "Focus deployer (GitHub Actions)"
}

resource "google_service_account_iam_member" "github_deployer" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository/${var.github_owner}/${var.github_repo}"
}

# What `firebase deploy --only functions,firestore:rules,firestore:indexes` and
# `scripts/dead-letters attach` need, and nothing to read user data with.
resource "google_project_iam_member" "deployer" {
  for_each = toset([
    "roles/cloudfunctions.developer",
    "roles/run.admin",
    "roles/firebaserules.admin",
    "roles/datastore.indexAdmin",
    "roles/pubsub.editor",
    "roles/eventarc.admin",
    "roles/cloudscheduler.admin",
    "roles/cloudtasks.queueAdmin",
    "roles/artifactregistry.writer",
    "roles/secretmanager.viewer",
    "roles/firebaseextensions.viewer",
  ])
  project = var.project_id
  role    = each.key
  member  = "serviceAccount:${google_service_account.deployer.email}"
}

# Functions deploys build in Cloud Build; the role is broad (checkov flags it), so it stands alone.
resource "google_project_iam_member" "deployer_cloud_build" {
  # checkov:skip=CKV_GCP_49: `firebase deploy` must start Cloud Build builds of the functions
  project = var.project_id
  role    = "roles/cloudbuild.builds.editor"
  member  = "serviceAccount:${google_service_account.deployer.email}"
}

# Deploying functions that run as the codebase identities.
resource "google_service_account_iam_member" "deployer_act_as" {
  for_each           = local.runtime_iam
  service_account_id = google_service_account.codebase[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.deployer.email}"
}

# One runtime service account per codebase (functions pick theirs up through
# `service_account="focus-<codebase>@"` in focus.platform.runtime), with the project roles in
# locals.codebase_roles and narrower grants on single resources below. The default compute service
# account keeps none of these.

resource "google_service_account" "codebase" {
  for_each     = local.codebase_roles
  account_id   = "focus-${each.key}"
  display_name = "Focus ${each.key} functions"
  description  = "Runtime identity of the ${each.key} codebase's functions."
}

resource "google_project_iam_member" "codebase" {
  for_each = { for pair in local.codebase_role_pairs : "${pair.codebase}/${pair.role}" => pair }
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.codebase[each.value.codebase].email}"
}

# Triggers publish domain events: on those topics only.
resource "google_pubsub_topic_iam_member" "triggers_publish" {
  for_each = local.topics
  topic    = google_pubsub_topic.events[each.key].id
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.codebase["triggers"].email}"
}

# Triggers enqueue tasks that run as the jobs identity (Cloud Tasks signs the call with it).
resource "google_service_account_iam_member" "triggers_act_as_jobs" {
  service_account_id = google_service_account.codebase["jobs"].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.codebase["triggers"].email}"
}

# Every codebase pseudonymises users in logs with the same key.
resource "google_secret_manager_secret_iam_member" "pseudonym_key" {
  for_each  = local.codebase_roles
  secret_id = google_secret_manager_secret.user_pseudonym_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.codebase[each.key].email}"
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
  for_each           = local.codebase_roles
  service_account_id = google_service_account.codebase[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.deployer.email}"
}

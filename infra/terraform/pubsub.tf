# Domain-event topics and their dead letters.
#
# A Pub/Sub-triggered function's own subscription is created by Eventarc at deploy time, so
# Terraform cannot declare it; the deploy workflow attaches a dead-letter policy and retry bounds
# to it (`scripts/dead-letters attach`, settings in locals.pubsub_delivery). What Terraform owns: the topics, the
# dead-letter topics, a pull subscription on each dead-letter topic that keeps failed messages
# for inspection and replay (scripts/dead-letters), and the IAM the Pub/Sub service agent needs
# to move messages there.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "events" {
  # checkov:skip=CKV_GCP_83: Google-managed encryption; events hold ids and minutes, no content
  for_each                   = local.topics
  name                       = each.key
  message_retention_duration = "86400s"
}

resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83: Google-managed encryption, as for the source topics
  for_each                   = local.topics
  name                       = "${each.key}-dead-letter"
  message_retention_duration = "604800s"
}

# Keeps dead letters 7 days for scripts/dead-letters. Nothing consumes it automatically: a
# dead letter is a bug or an outage to look at, not something to retry blindly.
resource "google_pubsub_subscription" "dead_letter" {
  for_each                   = local.topics
  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false
  expiration_policy {
    ttl = ""
  }
  # The end of the line: a dead letter's own subscription has no dead-letter policy.
  retry_policy {
    minimum_backoff = local.pubsub_delivery.minimum_backoff
    maximum_backoff = local.pubsub_delivery.maximum_backoff
  }
}

# The Pub/Sub service agent forwards undeliverable messages to the dead-letter topic, and must be
# allowed to acknowledge them on the source subscriptions.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.topics
  topic    = google_pubsub_topic.dead_letter[each.key].id
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_service_agent
}

resource "google_project_iam_member" "pubsub_agent_subscriber" {
  project = var.project_id
  role    = "roles/pubsub.subscriber"
  member  = local.pubsub_service_agent
}

# Dead letters of task-queue functions: what a task gave up on (a document no model accepts, a
# failure past its retry age) with the error in its attributes, kept 7 days like the others.
resource "google_pubsub_topic" "task_dead_letter" {
  # checkov:skip=CKV_GCP_83: Google-managed encryption, as for the source topics
  for_each                   = toset(local.dead_lettered_tasks)
  name                       = "${each.key}-dead-letter"
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "task_dead_letter" {
  for_each                   = toset(local.dead_lettered_tasks)
  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.task_dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false
  expiration_policy {
    ttl = ""
  }
  retry_policy {
    minimum_backoff = local.pubsub_delivery.minimum_backoff
    maximum_backoff = local.pubsub_delivery.maximum_backoff
  }
}

# Google Play publishes its real-time developer notifications as this Google-owned account (Play
# Console, Monetization setup: topic projects/<project>/topics/play-billing-notifications).
resource "google_pubsub_topic_iam_member" "play_notifications_publisher" {
  topic  = google_pubsub_topic.events["play-billing-notifications"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:google-play-developer-notifications@system.gserviceaccount.com"
}

# Product analytics (docs/analytics.md): consented, pseudonymous product events from the functions
# to BigQuery without code of ours in between. The functions publish each event as JSON to the
# topic `product-events`, whose Avro schema rejects anything off the contract at publish time; a
# BigQuery subscription writes each message as one row of `analytics.events` (columns = the
# schema's fields); what BigQuery refuses goes to `product-events-dead-letter`, kept 7 days for
# scripts/dead-letters like every other dead letter.
#
# One source for the shape: the domain's `avro_schema()` (focus.domain.analytics_events) is written
# to schemas/product-events.avsc and the table's columns to schemas/product-events.table.json by
# scripts/lib/analytics_schema.py; tests/test_infra.py fails when either file drifts from the code.

locals {
  analytics_topic = "product-events"
  # Partitions (one per UTC day of event_time) older than this are dropped by BigQuery itself:
  # 25 months = two full years of monthly cohorts compared year over year, plus the month running.
  analytics_retention_days = 760
}

resource "google_pubsub_schema" "product_events" {
  name       = local.analytics_topic
  type       = "AVRO"
  definition = file("${path.module}/schemas/product-events.avsc")
}

resource "google_pubsub_topic" "product_events" {
  # checkov:skip=CKV_GCP_83: Google-managed encryption; events hold pseudonyms and numbers only
  name                       = local.analytics_topic
  message_retention_duration = "86400s"
  schema_settings {
    schema   = google_pubsub_schema.product_events.id
    encoding = "JSON"
  }
}

resource "google_bigquery_dataset" "analytics" {
  # checkov:skip=CKV_GCP_81: Google-managed encryption: pseudonymous ids and aggregated numbers
  dataset_id                 = "analytics"
  friendly_name              = "Product analytics"
  description                = "Consented, pseudonymous product events (docs/analytics.md). No default table expiration: events expire by partition."
  location                   = "EU"
  delete_contents_on_destroy = false
  labels = {
    purpose = "product-analytics"
  }
}

# One row per event. Partitioned by the UTC day the fact became true and clustered by what nearly
# every model filters or groups on, so a day's DAU or a cohort reads only its days and blocks; a
# query without an event_time filter is refused (require_partition_filter) instead of scanning
# 25 months. `properties` is JSON: the topic schema's string must then hold valid JSON (a message
# that does not is refused and dead-lettered), and models read one key without parsing the rest.
resource "google_bigquery_table" "events" {
  # checkov:skip=CKV_GCP_80: Google-managed encryption, as for the dataset
  dataset_id          = google_bigquery_dataset.analytics.dataset_id
  table_id            = "events"
  description         = "Product events from topic product-events (BigQuery subscription, topic schema)."
  deletion_protection = true
  schema              = file("${path.module}/schemas/product-events.table.json")
  clustering          = ["event_name", "person_id"]

  time_partitioning {
    type                     = "DAY"
    field                    = "event_time"
    expiration_ms            = local.analytics_retention_days * 86400000
    require_partition_filter = true
  }
}

# Writes each message's fields to the same-named columns (use_topic_schema), no Pub/Sub metadata
# columns (event_id, ingest_time are in the message), and ignores fields the table does not have
# yet (drop_unknown_fields: a producer may add an optional field before the table gets its column).
# At least once: a redelivered message is a second row with the same event_id; the models
# deduplicate by event_id (docs/analytics-models.md).
resource "google_pubsub_subscription" "product_events_bigquery" {
  name                       = "${local.analytics_topic}-bigquery"
  topic                      = google_pubsub_topic.product_events.id
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }

  bigquery_config {
    table               = "${google_bigquery_table.events.project}.${google_bigquery_table.events.dataset_id}.${google_bigquery_table.events.table_id}"
    use_topic_schema    = true
    write_metadata      = false
    drop_unknown_fields = true
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.product_events_dead_letter.id
    max_delivery_attempts = local.pubsub_delivery.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = local.pubsub_delivery.minimum_backoff
    maximum_backoff = local.pubsub_delivery.maximum_backoff
  }

  depends_on = [google_bigquery_table_iam_member.pubsub_agent_writes_events]
}

# What BigQuery refused (a column type or a JSON property it could not take, a missing table):
# the message with Pub/Sub's CloudPubSubDeadLetter* attributes, for scripts/dead-letters.
resource "google_pubsub_topic" "product_events_dead_letter" {
  # checkov:skip=CKV_GCP_83: Google-managed encryption, as for the source topic
  name                       = "${local.analytics_topic}-dead-letter"
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "product_events_dead_letter" {
  name                       = "${local.analytics_topic}-dead-letter"
  topic                      = google_pubsub_topic.product_events_dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false
  expiration_policy {
    ttl = ""
  }
  # The end of the line, as in pubsub.tf: no dead-letter policy of its own.
  retry_policy {
    minimum_backoff = local.pubsub_delivery.minimum_backoff
    maximum_backoff = local.pubsub_delivery.maximum_backoff
  }
}

# The Pub/Sub service agent writes the rows: BigQuery Data Editor on this one table (it includes
# reading the table's metadata, which the subscription checks), nothing on the dataset or project.
resource "google_bigquery_table_iam_member" "pubsub_agent_writes_events" {
  project    = google_bigquery_table.events.project
  dataset_id = google_bigquery_table.events.dataset_id
  table_id   = google_bigquery_table.events.table_id
  role       = "roles/bigquery.dataEditor"
  member     = local.pubsub_service_agent
}

# ... and moves undeliverable messages to the dead-letter topic (the subscriber role it needs on
# the source subscription is granted project-wide in pubsub.tf).
resource "google_pubsub_topic_iam_member" "product_events_dead_letter_publisher" {
  topic  = google_pubsub_topic.product_events_dead_letter.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

# People who read the events and run the models in production (docs/analytics.md): read access to
# this dataset only. No runtime account of the functions can read it: they publish to the topic
# (local.runtime_iam, derived from the code), nothing more.
resource "google_bigquery_dataset_iam_member" "analytics_readers" {
  for_each   = toset(var.analytics_readers)
  dataset_id = google_bigquery_dataset.analytics.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = each.key
}

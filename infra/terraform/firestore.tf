# The (default) Firestore database: EU multi-region, point-in-time recovery (7 days of versions to
# read or restore from) and delete protection (a `terraform destroy` or console click cannot drop
# it). Rules and indexes are deployed with the code (`firebase deploy --only firestore:*`).
resource "google_firestore_database" "default" {
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"
}

# Daily backups kept for 14 days: PITR covers mistakes noticed within a week; backups cover the rest.
resource "google_firestore_backup_schedule" "daily" {
  database  = google_firestore_database.default.name
  retention = "1209600s"
  daily_recurrence {}
}

# TTL policies: documents whose `expireAt` has passed are deleted by Firestore (within ~24 h), free.
# The transient collections are listed in locals.tf (tests check them against the code's list).
resource "google_firestore_field" "ttl" {
  for_each   = toset(local.ttl_collections)
  database   = google_firestore_database.default.name
  collection = each.key
  field      = "expireAt"
  ttl_config {}
  # TTL fields need no single-field index: skip indexing them (cheaper writes, no hot spot).
  index_config {}
}

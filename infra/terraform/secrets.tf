# Secrets without values: Terraform owns the secret and who may read it; the value is added once
# per environment by a person (`npx firebase functions:secrets:set USER_PSEUDONYM_KEY`) and is
# never in state, code or CI.
resource "google_secret_manager_secret" "user_pseudonym_key" {
  secret_id = "USER_PSEUDONYM_KEY"
  labels = {
    purpose = "log-pseudonymisation"
  }
  replication {
    user_managed {
      replicas {
        location = var.region
      }
      replicas {
        location = "europe-west4"
      }
    }
  }
}

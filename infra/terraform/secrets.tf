# Secrets without values: Terraform owns the secret and who may read it; the value is added once
# per environment by a person (`npx firebase functions:secrets:set USER_PSEUDONYM_KEY`) and is
# never in state, code or CI. Its value is a key ring (`v2:<key>,v1:<key>`, current key first);
# a rotation adds a version (docs/runbooks/pseudonym-key-rotation.md).
resource "google_secret_manager_secret" "user_pseudonym_key" {
  secret_id = "USER_PSEUDONYM_KEY"
  labels = {
    purpose = "log-pseudonymisation"
  }
  # A destroyed version is only disabled for 30 days first: a key retired by mistake (erasure
  # ids and log lines made with it would no longer lead to anyone) can still be brought back.
  version_destroy_ttl = "2592000s"
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

# The webhooks codebase's store secrets (docs/subscriptions.md, "Operations"), values set by a
# person per environment like the key above: the signing secret of the Stripe webhook endpoint,
# and Apple's root certificates that App Store signatures must chain to.
resource "google_secret_manager_secret" "store" {
  for_each  = toset(["STRIPE_WEBHOOK_SECRET", "APPLE_ROOT_CERTIFICATES"])
  secret_id = each.key
  labels = {
    purpose = "store-notifications"
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

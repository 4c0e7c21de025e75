# Everything the Focus backend needs around the functions that `firebase deploy` does not create:
# the Firestore database, Pub/Sub dead letters, task queue and schedule settings, service accounts,
# secrets and monitoring (SLOs, alerts, log-based metrics, dashboard). One state per environment:
#   terraform init -backend-config="bucket=<project>-tfstate" -backend-config="prefix=focus"
#   terraform apply -var-file=environments/<env>.tfvars
# Checked offline by tests/test_infra.py (parse, references, required settings, checkov).

terraform {
  required_version = ">= 1.7"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.20"
    }
  }
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}

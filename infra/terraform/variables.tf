variable "project_id" {
  description = "The Firebase / Google Cloud project of this environment."
  type        = string
}

variable "environment" {
  description = "staging or production: names, alert severity and notification channels follow it."
  type        = string
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "region" {
  description = "Where functions, queues and schedules run (EU residency)."
  type        = string
  default     = "europe-west1"
}

variable "firestore_location" {
  description = "Firestore location: the EU multi-region. Cannot change after creation."
  type        = string
  default     = "eur3"
  validation {
    condition     = contains(["eur3"], var.firestore_location)
    error_message = "Firestore must live in the EU multi-region eur3 (data residency)."
  }
}

variable "page_notification_channels" {
  description = "Monitoring notification channel ids that page the on-call engineer."
  type        = list(string)
  default     = []
}

variable "ticket_notification_channels" {
  description = "Monitoring notification channel ids that open a ticket (no page)."
  type        = list(string)
  default     = []
}

variable "repository_url" {
  description = "Where runbooks are read: alert documentation links to <repository_url>/blob/main/docs/runbooks/."
  type        = string
  default     = "https://github.com/focus-app/focus-backend"
}

variable "github_owner" {
  description = "GitHub organisation of the repository whose Actions may deploy (workload identity)."
  type        = string
  default     = "focus-app"
}

variable "github_repo" {
  description = "Name of that repository."
  type        = string
  default     = "focus-backend"
}

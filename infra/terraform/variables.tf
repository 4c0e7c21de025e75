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

variable "ticket_emails" {
  description = "Addresses that receive tickets (alerts that can wait for working hours) and a copy of every page."
  type        = list(string)
  validation {
    condition     = length(var.ticket_emails) > 0
    error_message = "At least one address must receive alerts."
  }
}

variable "pager" {
  description = <<-EOT
    The paging channel that wakes the on-call engineer: a PagerDuty service (`pagerduty`) or an
    SMS number (`sms`, E.164). Its PagerDuty integration key is not here: it comes from the
    sensitive variable pagerduty_service_key (TF_VAR_pagerduty_service_key at apply time).
  EOT
  type = object({
    type   = string
    target = string
  })
  validation {
    condition     = contains(["pagerduty", "sms"], var.pager.type)
    error_message = "pager.type must be pagerduty or sms."
  }
}

variable "pagerduty_service_key" {
  description = "PagerDuty Events API v2 integration key (pager.type = pagerduty). Never committed."
  type        = string
  default     = ""
  sensitive   = true
}

variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) the project's budget is set on."
  type        = string
  validation {
    condition     = can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account))
    error_message = "billing_account must be a billing account id (XXXXXX-XXXXXX-XXXXXX)."
  }
}

variable "monthly_budget" {
  description = "Expected monthly spend in whole units of budget_currency; alerts at 50/90/100% and at a 100% forecast."
  type        = number
}

variable "budget_currency" {
  description = "Currency of the billing account."
  type        = string
  default     = "EUR"
}

variable "monthly_vertex_budget" {
  description = "Expected monthly Vertex AI spend (insights and nudges) in whole units of budget_currency; alerts at 50/90/100% (insights.tf)."
  type        = number
}

variable "vertex_ai_billing_service" {
  description = "The Cloud Billing service Gemini on Vertex AI is billed under (Billing > Reports, grouped by service; or the Cloud Billing Catalog API's services list), for the Vertex AI budget."
  type        = string
  default     = "services/C7E2-9256-1C43"
}

variable "firestore_app_check" {
  description = "App Check enforcement on Firestore: ENFORCED (requests without a valid App Check token are refused) or UNENFORCED (metrics only, before a release that sends tokens)."
  type        = string
  default     = "ENFORCED"
  validation {
    condition     = contains(["ENFORCED", "UNENFORCED"], var.firestore_app_check)
    error_message = "firestore_app_check must be ENFORCED or UNENFORCED."
  }
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

variable "analytics_readers" {
  description = "Who may read the product events (BigQuery dataset `analytics`, docs/analytics.md) and run the models on them: IAM members such as `group:analytics@focus.app`. Read access to that dataset only."
  type        = list(string)
  default     = []
}

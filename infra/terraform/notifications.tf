# Where alerts go: one paging channel (wakes the on-call engineer) and email for tickets, per
# environment (environments/<env>.tfvars). Every alert policy uses local.page_channels or
# local.ticket_channels, never an empty list (tests/test_infra.py checks both, for production).

resource "google_monitoring_notification_channel" "email" {
  for_each     = toset(var.ticket_emails)
  display_name = "Focus ${var.environment} tickets: ${each.key}"
  type         = "email"
  labels = {
    email_address = each.key
  }
}

resource "google_monitoring_notification_channel" "pagerduty" {
  count        = var.pager.type == "pagerduty" ? 1 : 0
  display_name = "Focus ${var.environment} on-call (PagerDuty: ${var.pager.target})"
  type         = "pagerduty"
  sensitive_labels {
    service_key = var.pagerduty_service_key
  }
  lifecycle {
    precondition {
      condition     = var.pagerduty_service_key != ""
      error_message = "Set TF_VAR_pagerduty_service_key: a PagerDuty channel without a key pages nobody."
    }
  }
}

resource "google_monitoring_notification_channel" "sms" {
  count        = var.pager.type == "sms" ? 1 : 0
  display_name = "Focus ${var.environment} on-call (SMS)"
  type         = "sms"
  labels = {
    number = var.pager.target
  }
}

locals {
  # Pages reach the pager and, as a written record, the ticket addresses.
  page_channels = concat(
    google_monitoring_notification_channel.pagerduty[*].id,
    google_monitoring_notification_channel.sms[*].id,
    [for channel in google_monitoring_notification_channel.email : channel.id],
  )
  ticket_channels = [for channel in google_monitoring_notification_channel.email : channel.id]
}

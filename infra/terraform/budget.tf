# Spend: a monthly budget on this project with alerts at 50%, 90% and 100% of actual spend and at
# a forecast of 100%, sent to the ticket channels (and the billing account's administrators).
# Runbook: docs/runbooks/budget.md.
resource "google_billing_budget" "monthly" {
  billing_account = var.billing_account
  display_name    = "Focus ${var.environment} monthly"

  budget_filter {
    projects = ["projects/${data.google_project.this.number}"]
  }

  amount {
    specified_amount {
      currency_code = var.budget_currency
      units         = tostring(var.monthly_budget)
    }
  }

  threshold_rules {
    threshold_percent = 0.5
  }
  threshold_rules {
    threshold_percent = 0.9
  }
  threshold_rules {
    threshold_percent = 1.0
  }
  threshold_rules {
    threshold_percent = 1.0
    spend_basis       = "FORECASTED_SPEND"
  }

  all_updates_rule {
    monitoring_notification_channels = slice(local.ticket_channels, 0, min(5, length(local.ticket_channels)))
    disable_default_iam_recipients   = false
  }
}

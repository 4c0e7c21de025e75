project_id  = "focus-production"
environment = "production"

# Alerts reach people: pages go to PagerDuty (integration key from TF_VAR_pagerduty_service_key,
# never committed) and, as a copy, to the tickets address; tickets by email (docs/operations.md).
ticket_emails = ["backend-oncall@focus.app"]
pager = {
  type   = "pagerduty"
  target = "Focus backend production"
}

# The billing account (Billing > Account management): set before the first apply; the
# placeholder fails validation on purpose.
billing_account     = "SET-BEFORE-APPLY"
monthly_budget      = 6000
# Vertex AI (insights and nudges): docs/insights.md, "Cost" (about 70 USD a week per million
# people in batch, estimated), with room for the online nudges.
monthly_vertex_budget = 600
firestore_app_check = "ENFORCED"
# Product analytics (docs/analytics.md): who reads the pseudonymous events and runs the models.
analytics_readers = ["group:analytics@focus.app"]

project_id  = "focus-staging"
environment = "staging"

# Staging pages nobody at night: its "pages" are text messages to the backend lead's team phone
# during the working day rota, its tickets go to the team address (docs/operations.md).
ticket_emails = ["backend-staging@focus.app"]
pager = {
  type   = "sms"
  target = "+31200000000"
}

# The billing account (Billing > Account management): set before the first apply; the
# placeholder fails validation on purpose.
billing_account = "SET-BEFORE-APPLY"
# 400: includes about 100 for the two callables kept warm in every environment (launch and
# uploadDailyReports, one idle instance each: docs/performance.md, "`min_instances` for the api").
monthly_budget        = 400
monthly_vertex_budget = 20
firestore_app_check   = "ENFORCED"
analytics_readers     = ["group:backend-staging@focus.app"]

project_id  = "focus-staging"
environment = "staging"

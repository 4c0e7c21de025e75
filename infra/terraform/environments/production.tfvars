project_id  = "focus-production"
environment = "production"

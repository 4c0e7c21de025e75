# App Check on Firestore: clients read and write Firestore directly (firestore.rules), so requests
# without a valid App Check token (scripts, emulated apps, abuse) are refused in production, as
# callables refuse them (focus.entrypoints.callables). The emulators ignore App Check: local runs
# and tests need no token (docs/security.md). Auth: App Check for the Identity Toolkit API is not
# in the App Check v1 API; sign-in abuse is limited by Auth's own quotas until it is.
# The admin SDK (our functions) bypasses App Check: service accounts are not apps.
resource "google_firebase_app_check_service_config" "firestore" {
  service_id       = "firestore.googleapis.com"
  enforcement_mode = var.firestore_app_check
}

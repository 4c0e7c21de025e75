"""Every Firestore path the backend uses. docs/data-model.md describes each collection."""

USERS = "users"
SESSIONS = "sessions"  # subcollection of a user
HOURS_SAVED_SHARDS = "hoursSavedShards"
AGGREGATES = "aggregates"
HOURS_SAVED_SUMMARY = "hoursSaved"  # document in AGGREGATES


def user(uid: str) -> str:
    return f"{USERS}/{uid}"


def session(uid: str, session_id: str) -> str:
    return f"{USERS}/{uid}/{SESSIONS}/{session_id}"

"""Every Firestore path the backend uses. docs/data-model.md describes each collection."""

USERS = "users"
SESSIONS = "sessions"  # users/{uid}/sessions/{sessionId}
BLOCKS = "blocks"  # users/{uid}/blocks/{blockId}
DEVICES = "devices"  # users/{uid}/devices/{deviceId}
PUSH_TOKENS = "pushTokens"  # users/{uid}/pushTokens/{deviceId}: a device's push token, server-only
OUTBOX = "outbox"  # users/{uid}/outbox/{entryId}: pushes owed to the person, server-only
PREFERENCES = "preferences"  # users/{uid}/preferences/notifications: client-written settings
DAYS = "days"  # users/{uid}/days/{YYYY-MM-DD}
TURNS = "turns"  # users/{uid}/turns/{name}: create-only turns (counting, the emergency pass)
DAY_CHANGES = "dayChanges"  # users/{uid}/dayChanges/{changeId}: days an upload changed, to derive
WEEKS = "weeks"  # users/{uid}/weeks/{YYYY-Www}
MILESTONES = "milestones"  # users/{uid}/milestones/{kind-threshold}
HOURS_SAVED_SHARDS = "hoursSavedShards"
AGGREGATES = "aggregates"
HOURS_SAVED_SUMMARY = "hoursSaved"  # document in AGGREGATES
CONSENTS = "consents"  # users/{uid}/consents/{purpose}
CONSENT_HISTORY = "history"  # users/{uid}/consents/{purpose}/history/{entry}
# users/{uid}/analyticsKeys/current: the person's secret that keys their analytics ids, server-only
ANALYTICS_KEYS = "analyticsKeys"
EXPORTS = "exports"  # users/{uid}/exports/{exportId} (+ chunks/{n})
EXPORT_CHUNKS = "chunks"
IDEMPOTENCY = "idempotency"  # users/{uid}/idempotency/{key}
RATE_LIMITS = "rateLimits"  # users/{uid}/rateLimits/{callable}
ERASURES = "erasures"  # erasures/{erasureId}: an erasure's progress, server-only
ERASURE_AUDIT = "erasureAudit"  # erasureAudit/{erasureId}: the audit record (the tombstone)
CONFIG = "config"
COMMUNITY_DAYS = "communityDays"  # communityDays/{YYYY-MM-DD}
COMMUNITY_SHARDS = "shards"  # communityDays/{day}/shards/{n}
CAMPAIGNS = (
    "campaigns"  # campaigns/{name}: a fan-out campaign's planned waves and budget, server-only
)
MIGRATIONS = "migrations"  # migrations/{name}: scripts/migrate's progress, server-only
SUBSCRIPTIONS = "subscriptions"  # users/{uid}/subscriptions/{key}: a store subscription's state
STORE_SUBSCRIPTIONS = "storeSubscriptions"  # storeSubscriptions/{key}: the account it is bound to
STORE_EVENTS = "storeEvents"  # storeEvents/{key}: store notifications applied (duplicates), TTL
PURCHASE_ACCOUNTS = "purchaseAccounts"  # purchaseAccounts/{token}: the uid a purchase token names
# stripePayments/{id}: the subscription a Stripe invoice paid for (or, by payment id, its invoice),
# for refunds and disputes, which name only the payment; server-only, TTL
INSIGHTS = "insights"  # users/{uid}/insights/{week}: weekly insights, one per week of theirs
MODEL_USE = "modelUse"  # users/{uid}/modelUse/{day}: the person's model calls that day (budget)
MODEL_DAYS = "modelDays"  # modelDays/{day}/shards/{n}: everyone's model calls that day (budget)
MODEL_DAY_SHARDS = "shards"
INSIGHT_CACHE = "insightCache"  # insightCache/{id}: checked insights by their figures, TTL
INSIGHT_RUNS = "insightRuns"  # insightRuns/{run}: a day's weekly batch (+ parts/{part})
INSIGHT_PARTS = "parts"  # insightRuns/{run}/parts/{part}: batch keys -> people, until applied
STRIPE_PAYMENTS = "stripePayments"  # stripePayments/{id}: invoice/payment -> subscription links


def user(uid: str) -> str:
    return f"{USERS}/{uid}"


def session(uid: str, session_id: str) -> str:
    return f"{USERS}/{uid}/{SESSIONS}/{session_id}"


def device(uid: str, device_id: str) -> str:
    return f"{USERS}/{uid}/{DEVICES}/{device_id}"


def push_token(uid: str, device_id: str) -> str:
    return f"{USERS}/{uid}/{PUSH_TOKENS}/{device_id}"


def outbox_entry(uid: str, entry_id: str) -> str:
    return f"{USERS}/{uid}/{OUTBOX}/{entry_id}"


def notification_settings(uid: str) -> str:
    return f"{USERS}/{uid}/{PREFERENCES}/notifications"


def day(uid: str, local_day: str) -> str:
    return f"{USERS}/{uid}/{DAYS}/{local_day}"


def counting_turn(uid: str) -> str:
    return f"{USERS}/{uid}/{TURNS}/counting"


def emergency_pass_turn(uid: str) -> str:
    return f"{USERS}/{uid}/{TURNS}/emergencyPass"


def day_changes(uid: str) -> str:
    """The collection of a person's change documents (ids chosen by Firestore)."""
    return f"{USERS}/{uid}/{DAY_CHANGES}"


def day_change(uid: str, change_id: str) -> str:
    return f"{day_changes(uid)}/{change_id}"


def week(uid: str, iso_week: str) -> str:
    return f"{USERS}/{uid}/{WEEKS}/{iso_week}"


def milestone(uid: str, key: str) -> str:
    return f"{USERS}/{uid}/{MILESTONES}/{key}"


def consent(uid: str, purpose: str) -> str:
    return f"{USERS}/{uid}/{CONSENTS}/{purpose}"


def analytics_key(uid: str) -> str:
    return f"{USERS}/{uid}/{ANALYTICS_KEYS}/current"  # one document per person


def export(uid: str, export_id: str) -> str:
    return f"{USERS}/{uid}/{EXPORTS}/{export_id}"


def idempotency_record(uid: str, key: str) -> str:
    return f"{USERS}/{uid}/{IDEMPOTENCY}/{key}"


def rate_limit(uid: str, callable_name: str) -> str:
    return f"{USERS}/{uid}/{RATE_LIMITS}/{callable_name}"


def erasure(erasure_id: str) -> str:
    return f"{ERASURES}/{erasure_id}"


def erasure_audit(erasure_id: str) -> str:
    return f"{ERASURE_AUDIT}/{erasure_id}"


def hours_saved_summary() -> str:
    return f"{AGGREGATES}/{HOURS_SAVED_SUMMARY}"


def clients_config() -> str:
    """The upgrade gate's minimum builds per platform (admins edit it)."""
    return f"{CONFIG}/clients"


def campaign(name: str) -> str:
    return f"{CAMPAIGNS}/{name}"


def migration(name: str) -> str:
    return f"{MIGRATIONS}/{name}"


def subscriptions(uid: str) -> str:
    return f"{USERS}/{uid}/{SUBSCRIPTIONS}"


def subscription(uid: str, key: str) -> str:
    return f"{USERS}/{uid}/{SUBSCRIPTIONS}/{key}"


def store_subscription(key: str) -> str:
    return f"{STORE_SUBSCRIPTIONS}/{key}"


def store_event(key: str) -> str:
    return f"{STORE_EVENTS}/{key}"


def purchase_account(token: str) -> str:
    return f"{PURCHASE_ACCOUNTS}/{token}"


def stripe_payment(stripe_id: str) -> str:
    return f"{STRIPE_PAYMENTS}/{stripe_id}"


def insight(uid: str, week: str) -> str:
    return f"{USERS}/{uid}/{INSIGHTS}/{week}"


def model_use(uid: str, day: str) -> str:
    return f"{USERS}/{uid}/{MODEL_USE}/{day}"


def model_day_shard(day: str, shard: int) -> str:
    return f"{MODEL_DAYS}/{day}/{MODEL_DAY_SHARDS}/{shard}"


def insight_cache(key: str) -> str:
    return f"{INSIGHT_CACHE}/{key}"


def insight_run(run: str) -> str:
    return f"{INSIGHT_RUNS}/{run}"


def insight_part(run: str, part: str) -> str:
    return f"{INSIGHT_RUNS}/{run}/{INSIGHT_PARTS}/{part}"


def community_day(local_day: str) -> str:
    return f"{COMMUNITY_DAYS}/{local_day}"


def community_shard(local_day: str, shard: int) -> str:
    return f"{COMMUNITY_DAYS}/{local_day}/{COMMUNITY_SHARDS}/{shard}"


# Transient collections (collection id -> TTL field): Firestore deletes a document once the
# field's time has passed. firestore.indexes.json declares each TTL (a test checks it).
TTL_FIELDS = {
    COMMUNITY_SHARDS: "expireAt",  # 60 days after the day: the daily summary keeps the result
    COMMUNITY_DAYS: "expireAt",  # 400 days after the last roll-up
    IDEMPOTENCY: "expireAt",  # 1 day
    TURNS: "expireAt",  # a minute: a turn its crashed holder never gave back
    RATE_LIMITS: "expireAt",  # 1 day
    EXPORTS: "expireAt",  # 7 days
    EXPORT_CHUNKS: "expireAt",  # 7 days, with their export
    ERASURES: "expireAt",  # 30 days: a safety net; finished erasures delete theirs
    ERASURE_AUDIT: "expireAt",  # 3 years
    OUTBOX: "expireAt",  # 30 days after an entry was sent, dropped or failed
    STORE_EVENTS: "expireAt",  # 90 days: stores redeliver for days, never for months
    STRIPE_PAYMENTS: "expireAt",
    MODEL_USE: "expireAt",  # 2 days: a budget is about today
    INSIGHT_CACHE: "expireAt",  # 8 days
    INSIGHT_RUNS: "expireAt",  # 14 days: a run's record, kept for the on-call engineer
    INSIGHT_PARTS: "expireAt",  # 14 days; emptied of people as soon as applied  # 180 days: a card dispute can come 120 days after a payment
}

"""The personal-data registry: every place the backend stores data, what it holds, and what
happens to it on erasure and export. Erasure, export and the verification scan are driven by it,
and a test fails when a collection exists in the code or the rules without an entry here.

Paths are patterns: ``{uid}`` is the person's id; other ``{...}`` segments are document ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Erasure(StrEnum):
    DELETE = "delete"  # deleted with the account
    KEEP_ANONYMOUS = "keep anonymous"  # holds no personal data: anonymous totals survive erasure
    PSEUDONYMOUS = "pseudonymous"  # keyed by a keyed hash, no personal data; kept for its retention


@dataclass(frozen=True)
class DataEntry:
    path: str
    description: str
    personal: bool
    erasure: Erasure
    export: bool  # part of the person's export bundle
    purpose: str
    legal_basis: str
    retention: str

    @property
    def collection(self) -> str:
        """The collection id (the segment before the last)."""
        return self.path.split("/")[-2]

    @property
    def user_scoped(self) -> bool:
        return self.path.startswith("users/{uid}/")


CONTRACT = "contract (providing the service)"
LEGITIMATE = "legitimate interest"
CONSENTED = "consent (withdrawable at any time)"
AI = "AI insights and nudges"

REGISTRY: tuple[DataEntry, ...] = (
    DataEntry(
        "users/{uid}",
        "profile: display name, settings, totals, streak, entitlements, pass",
        True,
        Erasure.DELETE,
        True,
        "the service",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/devices/{deviceId}",
        "the person's devices: platform and versions",
        True,
        Erasure.DELETE,
        True,
        "sync across devices",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/pushTokens/{deviceId}",
        "each device's push (FCM) token, platform, app version, registration and refresh times",
        True,
        Erasure.DELETE,
        True,  # the person's own data, and the export reaches only them (docs/data-model.md)
        "notifications",
        CONTRACT,
        "until not refreshed for 30 days, FCM reports it unregistered, or another device takes it",
    ),
    DataEntry(
        "users/{uid}/outbox/{entryId}",
        "pushes owed to and sent to the person: kind, due and sent times, the message (session id,"
        " minutes, week or day), the push sent to each device (its token, title, body) and FCM's"
        " answer",
        True,
        Erasure.DELETE,
        True,
        "notifications",
        CONTRACT,
        "30 days after it was sent, dropped or failed (TTL expireAt)",
    ),
    DataEntry(
        "users/{uid}/preferences/{name}",
        "notification settings: each kind of visible push on or off, quiet hours",
        True,
        Erasure.DELETE,
        True,
        "notifications",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/subscriptions/{subscriptionKey}",
        "each store subscription's latest state: store, product, state, expiry, store time",
        True,
        Erasure.DELETE,
        True,
        "subscriptions",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/insights/{week}",
        "weekly AI insights: the week, the text and suggested action written from the week's"
        " figures, its source (model, cache, template), the figures' fingerprint, the rating",
        True,
        Erasure.DELETE,
        True,
        AI,
        CONSENTED,
        "life of the account; deleted at once when AI processing is withdrawn",
    ),
    DataEntry(
        "users/{uid}/modelUse/{day}",
        "how many model calls were made for the person that day (the per-person budget)",
        True,
        Erasure.DELETE,
        True,
        AI,
        CONSENTED,
        "2 days (TTL)",
    ),
    DataEntry(
        "users/{uid}/blocks/{blockId}",
        "schedules, limits, locks with opaque app tokens",
        True,
        Erasure.DELETE,
        True,
        "the service",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/sessions/{sessionId}",
        "focus sessions and what they counted",
        True,
        Erasure.DELETE,
        True,
        "the service",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/days/{day}",
        "daily screen-time totals per device, score, streak",
        True,
        Erasure.DELETE,
        True,
        "reports",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/turns/{name}",
        "whose turn it is to count the person's sessions or use their emergency pass (times only)",
        True,
        Erasure.DELETE,
        False,
        "reports",
        CONTRACT,
        "a minute (TTL)",
    ),
    DataEntry(
        "users/{uid}/dayChanges/{changeId}",
        "which days an upload changed, until what they imply is derived (minutes)",
        True,
        Erasure.DELETE,
        False,
        "reports",
        CONTRACT,
        "until derived (minutes)",
    ),
    DataEntry(
        "users/{uid}/weeks/{week}",
        "weekly summaries",
        True,
        Erasure.DELETE,
        True,
        "reports",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/milestones/{milestone}",
        "milestones reached",
        True,
        Erasure.DELETE,
        True,
        "motivation",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/consents/{purpose}",
        "current consent per purpose",
        True,
        Erasure.DELETE,
        True,
        "consent records",
        "legal obligation",
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/consents/{purpose}/history/{entry}",
        "every consent change",
        True,
        Erasure.DELETE,
        True,
        "consent records",
        "legal obligation",
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/analyticsKeys/{key}",
        "the person's analytics key: 32 random bytes keying their warehouse id and event ids"
        " (HMAC-SHA256), created when analytics consent is granted; deleting it with the account"
        " makes every warehouse row of theirs unlinkable (crypto-shredding, docs/analytics.md)",
        True,
        Erasure.DELETE,
        # Not exported: a server-made secret, not data about the person (Art. 15 and 20 cover
        # what we hold about them and what they provided); an export bundle that leaked would
        # otherwise re-link their warehouse rows. The privacy notice says that it exists.
        False,
        "product analytics",
        CONSENTED,
        "life of the account",
    ),
    DataEntry(
        "users/{uid}/exports/{exportId}",
        "export requests",
        True,
        Erasure.DELETE,
        False,
        "right of access",
        "legal obligation",
        "7 days (TTL)",
    ),
    DataEntry(
        "users/{uid}/exports/{exportId}/chunks/{n}",
        "the export bundle itself",
        True,
        Erasure.DELETE,
        False,
        "right of access",
        "legal obligation",
        "7 days (TTL)",
    ),
    DataEntry(
        "users/{uid}/idempotency/{key}",
        "replayable answers to recent calls",
        True,
        Erasure.DELETE,
        False,
        "reliability",
        LEGITIMATE,
        "1 day (TTL)",
    ),
    DataEntry(
        "users/{uid}/rateLimits/{callable}",
        "call counts per minute",
        True,
        Erasure.DELETE,
        False,
        "abuse prevention",
        LEGITIMATE,
        "1 day (TTL)",
    ),
    DataEntry(
        "erasures/{erasureId}",
        "an erasure in progress (holds the uid and the person's analytics id until done)",
        True,
        Erasure.DELETE,
        False,
        "right to erasure",
        "legal obligation",
        "until done; 30 days (TTL)",
    ),
    DataEntry(
        "erasureAudit/{erasureId}",
        "proof an erasure happened (and its tombstone): state, times and counts only",
        False,
        Erasure.PSEUDONYMOUS,
        False,
        "accountability",
        "legal obligation",
        "3 years (TTL)",
    ),
    DataEntry(
        "purchaseAccounts/{token}",
        "which account a purchase account token (a UUID the app passes to the stores) names",
        True,
        Erasure.DELETE,
        False,
        "subscriptions",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "storeSubscriptions/{subscriptionKey}",
        "the account a store subscription is bound to (uid, store, when): one receipt, one account",
        True,
        Erasure.DELETE,
        False,
        "subscriptions",
        CONTRACT,
        "life of the account",
    ),
    DataEntry(
        "storeEvents/{eventKey}",
        "store notifications applied, against duplicates: store, state, store and receipt times"
        " (no account, no subscription id)",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        "subscriptions",
        LEGITIMATE,
        "90 days (TTL)",
    ),
    DataEntry(
        "stripePayments/{stripeId}",
        "which Stripe subscription an invoice, payment or charge belongs to (Stripe ids only), to"
        " find the subscription a refund or dispute is about",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        "subscriptions",
        CONTRACT,
        "180 days (TTL)",
    ),
    DataEntry(
        "hoursSavedShards/{shard}",
        "global hours-saved counter shards",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        "community counter",
        LEGITIMATE,
        "indefinite",
    ),
    DataEntry(
        "aggregates/{name}",
        "global summaries (hours saved)",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        "community counter",
        LEGITIMATE,
        "indefinite",
    ),
    DataEntry(
        "communityDays/{day}",
        "daily screen-time histogram summary",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        "community comparison",
        LEGITIMATE,
        "400 days (TTL)",
    ),
    DataEntry(
        "communityDays/{day}/shards/{shard}",
        "histogram shards (counts only)",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        "community comparison",
        LEGITIMATE,
        "60 days (TTL)",
    ),
    DataEntry(
        "insightRuns/{run}/parts/{part}",
        "an insight batch's key map: each line's random key -> the person (uid) and their week's"
        " figures (aggregates only); the batch files in Cloud Storage carry the key, never the uid",
        True,
        Erasure.DELETE,
        False,
        AI,
        CONSENTED,
        "until the batch's answers are applied (hours); 14 days (TTL) at most",
    ),
    DataEntry(
        "insightRuns/{run}",
        "a day's insight batch: its state, the Vertex AI job's name, counts",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        AI,
        LEGITIMATE,
        "14 days (TTL)",
    ),
    DataEntry(
        "insightCache/{key}",
        "checked insights by a fingerprint of the aggregated figures they were written for (no"
        " uid, no date: the same figures get the same text, whoever has them)",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        AI,
        LEGITIMATE,
        "8 days (TTL)",
    ),
    DataEntry(
        "modelDays/{day}",
        "the parent of the day's model-call shards (holds no fields)",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        AI,
        LEGITIMATE,
        "2 days (its shards' TTL)",
    ),
    DataEntry(
        "modelDays/{day}/shards/{shard}",
        "everyone's model calls that day, counted in shards (the daily budget)",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        AI,
        LEGITIMATE,
        "2 days (TTL)",
    ),
    DataEntry(
        "campaigns/{name}",
        "the campaigns' planned waves (time zones, device counts, moments) and their budget",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        "notifications",
        LEGITIMATE,
        "one document; each wave for 8 days (counts of devices, never people)",
    ),
    DataEntry(
        "migrations/{name}",
        "schema migration and analytics backfill progress: counts, and while running a cursor "
        "(a document path)",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        "operations",
        LEGITIMATE,
        "indefinite; the cursor is dropped when the run finishes",
    ),
    DataEntry(
        "config/{name}",
        "operational configuration (minimum app builds)",
        False,
        Erasure.KEEP_ANONYMOUS,
        False,
        "operations",
        LEGITIMATE,
        "indefinite",
    ),
)

# Outside Firestore: the Firebase Auth account (deleted last), Cloud Logging (pseudonymous user
# ids only, 30 days), Cloud Tasks payloads (uid, until the task runs), the insight batch files in
# Cloud Storage (a week's figures and a random key per line, never a uid; deleted when the run is
# applied, 3 days at most by the bucket's lifecycle; erasure removes the key's link to the person
# from insightRuns/{run}/parts at once), and the product events in BigQuery (person ids keyed
# with users/{uid}/analyticsKeys, unlinkable once erasure deletes it; the erasure_completed event
# names the rows the warehouse deletes: docs/analytics.md). Sinks added later that hold a uid
# register an eraser in focus.services.privacy.erasure.EXTERNAL_ERASERS.


def user_entries() -> list[DataEntry]:
    """The user-scoped entries, deepest first (children are erased before their parents)."""
    scoped = [e for e in REGISTRY if e.user_scoped]
    return sorted(scoped, key=lambda e: e.path.count("/"), reverse=True)


def normalized(path: str) -> str:
    """A path pattern with every variable written ``{}`` (for comparing with the rules)."""
    return "/".join("{}" if part.startswith("{") else part for part in path.split("/"))

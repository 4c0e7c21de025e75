"""Consents: ``users/{uid}/consents/{purpose}`` with ``.../history/{entry}`` kept append-only."""

from __future__ import annotations

import uuid

from google.cloud import firestore as gcf

from focus.adapters import clients, paths, store, tracing
from focus.domain.consent import Consent, Purpose, allows
from focus.services import analytics, insights


@tracing.traced("firestore.consents.record")
def record(uid: str, consent: Consent) -> None:
    """Set the current consent for its purpose and append it to the history, atomically; for
    analytics, also its mirror on the profile (``Profile.analytics_consent``), in the same
    transaction as the profile's creation reads the consent, so the two never disagree."""
    db = clients.firestore()
    current = db.document(paths.consent(uid, consent.purpose.value))
    profile = db.document(paths.user(uid))
    history = current.collection(paths.CONSENT_HISTORY).document(uuid.uuid4().hex)

    def run(tx: gcf.Transaction) -> None:
        mirrored = consent.purpose is Purpose.ANALYTICS and store.get(profile, tx).exists
        out = store.writes(tx)
        out.set(current, consent.to_firestore())
        out.create(history, consent.to_firestore())
        if mirrored:
            out.update(profile, {"analyticsConsent": allows(consent)})

    store.transactional(run, name="consents.record")


def change(uid: str, consent: Consent) -> None:
    """Record a grant or a withdrawal; withdrawing AI processing also deletes what it produced
    (every stored insight, and the person's place in insight batches still running); granting
    analytics makes sure the person has the key their product events are keyed with."""
    record(uid, consent)
    if consent.purpose is Purpose.AI_PROCESSING and not consent.granted:
        insights.forget(uid)
    if consent.purpose is Purpose.ANALYTICS and consent.granted:
        analytics.ensure_key(uid)


@tracing.traced("firestore.consents.current")
def current(uid: str, purpose: Purpose) -> Consent | None:
    ref = clients.firestore().document(paths.consent(uid, purpose.value))
    snapshot = store.get(ref)
    return Consent.model_validate(snapshot.to_dict()) if snapshot.exists else None


@tracing.traced("firestore.consents.require")
def require(uid: str, purpose: Purpose) -> bool:
    """Every processing path for an optional purpose asks this first (no record: no)."""
    return allows(current(uid, purpose))

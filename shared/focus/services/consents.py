"""Consents: ``users/{uid}/consents/{purpose}`` with ``.../history/{entry}`` kept append-only."""

from __future__ import annotations

import uuid

from focus.adapters import clients, paths, store, tracing
from focus.domain.consent import Consent, Purpose, allows
from focus.services import analytics, insights


@tracing.traced("firestore.consents.record")
def record(uid: str, consent: Consent) -> None:
    """Set the current consent for its purpose and append it to the history, atomically."""
    db = clients.firestore()
    current = db.document(paths.consent(uid, consent.purpose.value))
    batch = db.batch()
    out = store.writes(batch)
    out.set(current, consent.to_firestore())
    out.create(
        current.collection(paths.CONSENT_HISTORY).document(uuid.uuid4().hex), consent.to_firestore()
    )
    batch.commit()


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

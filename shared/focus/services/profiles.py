"""Profiles: ``users/{uid}``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from google.cloud import firestore as gcf

from focus.adapters import clients, paths, store, tracing
from focus.domain.consent import Consent, Purpose, allows
from focus.domain.profiles import Profile
from focus.services import analytics, tolerant

if TYPE_CHECKING:
    from focus.contracts.envelope import ClientInfo


@tracing.traced("firestore.profiles.get_or_create")
def get_or_create(uid: str, make: Callable[[], Profile]) -> tuple[Profile, bool]:
    """The user's profile, created from ``make()`` if it does not exist yet (exactly once).

    A transaction makes two first launches racing on two devices create one profile, not two.
    A new profile mirrors the analytics consent (``Profile.analytics_consent``), read in the same
    transaction: a consent recorded at the same moment is serialised with it (consents.record).
    """
    db = clients.firestore()
    ref = db.document(paths.user(uid))
    consent_ref = db.document(paths.consent(uid, Purpose.ANALYTICS.value))

    def run(tx: gcf.Transaction) -> tuple[Profile, bool]:
        snapshot = store.get(ref, tx)
        if snapshot.exists:
            return read(uid, snapshot.to_dict()), False
        consent = store.get(consent_ref, tx)
        granted = consent.exists and allows(Consent.model_validate(consent.to_dict()))
        profile = make().model_copy(update={"analytics_consent": granted})
        store.writes(tx).create(ref, profile.to_firestore())
        return profile, True

    return store.transactional(run, name="profiles.get_or_create")


def open_app(
    uid: str, make: Callable[[], Profile], *, now: datetime, client: ClientInfo
) -> tuple[Profile, bool]:
    """An app launch: the profile (``get_or_create``), and the day's ``app_opened`` product event
    once it is there (consented; never fails the launch)."""
    found = get_or_create(uid, make)
    analytics.app_opened(uid, now, client, consent=found[0].analytics_consent)
    return found


def read(uid: str, data: Any) -> Profile:
    """A stored profile, read tolerantly: a malformed client-written setting (say, a timezone that
    is not an IANA name) falls back to its default and is logged, so opening the app, the
    emergency pass and the jobs keep working for the person (``focus.services.tolerant``)."""
    return tolerant.read(Profile, data, kind="profile", uid=uid)

"""Profiles: ``users/{uid}``."""

from __future__ import annotations

from collections.abc import Callable

from google.cloud import firestore as gcf

from focus.domain.profiles import Profile
from focus.platform import clients, store, tracing
from focus.platform.repositories import paths


@tracing.traced("firestore.profiles.get_or_create")
def get_or_create(uid: str, make: Callable[[], Profile]) -> tuple[Profile, bool]:
    """The user's profile, created from ``make()`` if it does not exist yet (exactly once).

    A transaction makes two first launches racing on two devices create one profile, not two.
    """
    db = clients.firestore()
    ref = db.document(paths.user(uid))

    @gcf.transactional
    def run(tx: gcf.Transaction) -> tuple[Profile, bool]:
        snapshot = store.get(ref, tx)
        if snapshot.exists:
            return Profile.model_validate(snapshot.to_dict()), False
        profile = make()
        store.writes(tx).create(ref, profile.to_firestore())
        return profile, True

    return run(db.transaction())  # type: ignore[no-any-return]

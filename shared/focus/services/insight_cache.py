"""Checked insights by the figures they were written for (``insightCache/{id}``): a second person
with the very same week (the same figures, language and goal) is served the same insight without
a model call. The figures are aggregates and the key is their fingerprint
(``insight_features.features_key``) with the model: nothing in an entry names anyone."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from focus.adapters import clients, paths, store
from focus.domain.insights import Insight

KEPT_FOR = timedelta(days=8)  # a week's figures recur within the week's runs


def _ref(fingerprint: str, model: str):  # type: ignore[no-untyped-def]
    key = hashlib.sha256(f"{fingerprint}\x1f{model}".encode()).hexdigest()
    return clients.firestore().document(paths.insight_cache(key))


def get(fingerprint: str, model: str) -> Insight | None:
    snapshot = store.get(_ref(fingerprint, model))
    data = snapshot.to_dict() if snapshot.exists else None
    return Insight.model_validate(data["insight"]) if data else None


def put(fingerprint: str, model: str, insight: Insight, now: datetime) -> None:
    entry = {"insight": insight.model_dump(by_alias=True, mode="json"), "expireAt": now + KEPT_FOR}
    store.set_now(_ref(fingerprint, model), entry)

"""Where a stored insight came from and how its reader rated it: named by the product events and
the API without loading the insight models themselves (focus.domain.insight_history)."""

from __future__ import annotations

from enum import StrEnum


class InsightSource(StrEnum):
    MODEL = "model"  # the model's answer, checked
    CACHE = "cache"  # a checked answer for identical figures, written for someone else's week
    FALLBACK = "fallback"  # the template: the model failed, refused, was invalid or over budget


class Rating(StrEnum):
    UP = "up"
    DOWN = "down"

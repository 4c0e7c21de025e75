"""Consent: per purpose, versioned, with its full history. Everything optional is opt-in."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from focus.domain.model import Document


class Purpose(StrEnum):
    ANALYTICS = "analytics"  # product analytics export (BigQuery)
    PRODUCT_MESSAGES = "productMessages"  # product emails and visible pushes
    AI_PROCESSING = "aiProcessing"  # AI-written insights and nudges


class Consent(Document):
    purpose: Purpose
    granted: bool
    policy_version: str = Field(min_length=1, max_length=32)
    updated_at: datetime
    source: str = Field(max_length=16)  # "app" or "web"


def allows(consent: Consent | None) -> bool:
    """No record means no consent (opt-in)."""
    return consent is not None and consent.granted

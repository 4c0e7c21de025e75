"""Privacy callables: erasure, export, consent."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from focus.domain.consent import Purpose
from focus.domain.model import Contract


class DeleteAccountRequest(Contract):
    pass


class DeleteAccountResponse(Contract):
    erasure_id: str
    started: bool  # False when an erasure was already under way (or done)
    # ``erasing`` until every document and the sign-in account are gone, then ``erased``.
    state: Literal["erasing", "erased"]


class RequestExportRequest(Contract):
    pass


class RequestExportResponse(Contract):
    export_id: str
    expires_at: datetime


class GetExportRequest(Contract):
    export_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    chunk: int = Field(default=0, ge=0, le=10_000)


class GetExportResponse(Contract):
    export_id: str
    state: str  # building | ready
    chunks: int
    chunk: int
    data: str | None  # this chunk of the JSON bundle; concatenate all chunks in order


class SetConsentRequest(Contract):
    purpose: Purpose
    granted: bool
    policy_version: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")


class SetConsentResponse(Contract):
    purpose: Purpose
    granted: bool
    policy_version: str
    updated_at: datetime

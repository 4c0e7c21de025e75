"""``useEmergencyPass``: end every active block now, once per rolling week."""

from __future__ import annotations

from datetime import datetime

from focus.domain.model import Contract


class UseEmergencyPassRequest(Contract):
    pass


class UseEmergencyPassResponse(Contract):
    sessions_ended: list[str]
    blocks_suspended: list[str]
    suspended_until: datetime
    next_available_at: datetime

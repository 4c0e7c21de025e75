"""``registerPushToken``: a registered device hands the server its push (FCM) token."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from focus.domain.devices import Platform
from focus.domain.model import Contract


class RegisterPushTokenRequest(Contract):
    device_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    # FCM tokens are printable ASCII without spaces (about 160 characters today); the bound
    # leaves room for the format to grow without letting a megabyte through.
    token: str = Field(min_length=1, max_length=4096, pattern=r"^[!-~]+$")
    platform: Platform | None = None  # default: the calling client's platform


class RegisterPushTokenResponse(Contract):
    registered: bool
    refreshed_at: datetime

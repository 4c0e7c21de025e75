"""Blocks: what a person blocks and how strictly.

Four kinds share one model of the blocked selection and of strictness:
* a **session** is one-off (its lifecycle lives in ``sessions``),
* a **schedule** recurs on chosen weekdays between two local times,
* a **time limit** pools a daily allowance across the chosen apps,
* an **app lock** allows N unlocks a day, each for M minutes.

The device enforces them; the server keeps them in sync across a person's devices. Apple only
lets the app see opaque tokens for the apps it blocks, so a selection is stored exactly as each
device gave it, per device, and never interpreted here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from focus.domain.model import Document

BLOCK_SCHEMA_VERSION = 1
MAX_TOKENS_PER_DEVICE = 500
MAX_TOKEN_LENGTH = 1024
MAX_DEVICES_PER_SELECTION = 10
MAX_VACATION_DAYS = 30

Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]
HourMinute = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class Strictness(StrEnum):
    EASY = "easy"  # breaks and cancelling allowed
    HARDER = "harder"  # a waiting room before each break (15 s, doubling per break, max 10 min)
    HARDCORE = "hardcore"  # no breaks, no early end (Pro); only the emergency pass ends it


class BlockKind(StrEnum):
    SCHEDULE = "schedule"
    TIME_LIMIT = "timeLimit"
    APP_LOCK = "appLock"


class DeviceSelection(Document):
    """One device's opaque tokens (iOS ApplicationToken/WebDomainToken data, Android packages)."""

    apps: list[Token] = Field(default_factory=list, max_length=MAX_TOKENS_PER_DEVICE)
    categories: list[Token] = Field(default_factory=list, max_length=MAX_TOKENS_PER_DEVICE)
    web_domains: list[Token] = Field(default_factory=list, max_length=MAX_TOKENS_PER_DEVICE)


Selection = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=128)], DeviceSelection],
    Field(max_length=MAX_DEVICES_PER_SELECTION),
]


class Vacation(Document):
    """A pause: until a time (1-30 days after it started), or indefinitely (``until`` is None)."""

    since: datetime
    until: datetime | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Vacation:
        if self.until is not None and not (
            timedelta(days=1) <= self.until - self.since <= timedelta(days=MAX_VACATION_DAYS)
        ):
            raise ValueError("a vacation lasts 1-30 days, or is indefinite")
        return self

    def covers(self, moment: datetime) -> bool:
        return self.since <= moment and (self.until is None or moment < self.until)


class ScheduleRule(Document):
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(min_length=1, max_length=7)  # ISO
    start: HourMinute
    end: HourMinute  # may be before start: the block runs overnight


class TimeLimitRule(Document):
    daily_minutes: int = Field(ge=1, le=24 * 60)


class AppLockRule(Document):
    unlocks_per_day: int = Field(ge=0, le=100)
    minutes_per_unlock: int = Field(ge=1, le=240)


class Block(Document):
    schema_version: int = BLOCK_SCHEMA_VERSION
    kind: BlockKind
    name: str = Field(min_length=1, max_length=80)
    selection: Selection
    strictness: Strictness = Strictness.EASY
    vacation: Vacation | None = None
    # Set by the emergency pass: the block does not apply again until this moment.
    suspended_until: datetime | None = None
    schedule: ScheduleRule | None = None
    time_limit: TimeLimitRule | None = None
    app_lock: AppLockRule | None = None

    @model_validator(mode="after")
    def _rule_matches_kind(self) -> Block:
        rules = {
            BlockKind.SCHEDULE: self.schedule,
            BlockKind.TIME_LIMIT: self.time_limit,
            BlockKind.APP_LOCK: self.app_lock,
        }
        if rules[self.kind] is None or sum(rule is not None for rule in rules.values()) != 1:
            raise ValueError(f"a {self.kind.value} block carries exactly its own rule")
        return self

    def applies_at(self, moment: datetime) -> bool:
        """False while on vacation or suspended by the emergency pass."""
        if self.vacation is not None and self.vacation.covers(moment):
            return False
        return self.suspended_until is None or moment >= self.suspended_until

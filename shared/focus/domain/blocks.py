"""Blocks: what a person blocks and how strictly.

Four kinds share one model of the blocked selection and of strictness:
* a **session** is one-off (its lifecycle lives in ``sessions``),
* a **schedule** recurs on chosen weekdays between two local times,
* a **time limit** pools a daily allowance across the chosen apps,
* an **app lock** allows N unlocks a day, each for M minutes.

The device enforces them; the server keeps them in sync across a person's devices. Apple only
lets the app see opaque tokens for the apps it blocks, so a selection is stored exactly as each
device gave it, per device, and never interpreted here.

**Hardcore only tightens.** An edit of a hardcore block may make it stricter or leave it as
strict, never looser (``tightens``): the selection only grows, a schedule only covers more, a
time limit only falls, an app lock only gets stricter; the name stays editable. ``firestore.rules``
enforces the same relation on device writes (``hardcoreTightened``).

**At most ``MAX_BLOCKS_PER_PERSON`` blocks.** Rules cannot count a collection, so the server
counts after each creation and removes a block created over the cap (``over_cap``); blocks that
already exist, hardcore ones above all, are never removed for it. The cap also bounds what the
emergency pass writes in its one transaction.
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
# Generous for people (a few schedules, limits and locks; typically < 20), small enough that the
# emergency pass suspends them all in one transaction (500 writes) with its sessions.
MAX_BLOCKS_PER_PERSON = 100

Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]
HourMinute = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
MINUTES_PER_DAY = 24 * 60


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

    def contains(self, other: DeviceSelection) -> bool:
        """Every token of ``other`` is here too (order and repeats do not matter)."""
        return (
            set(other.apps) <= set(self.apps)
            and set(other.categories) <= set(self.categories)
            and set(other.web_domains) <= set(self.web_domains)
        )


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


def selection_contains(
    larger: dict[str, DeviceSelection], smaller: dict[str, DeviceSelection]
) -> bool:
    """``larger`` keeps every device of ``smaller`` and, per device, every token of it."""
    return all(
        device in larger and larger[device].contains(tokens) for device, tokens in smaller.items()
    )


def _minutes(hour_minute: str) -> int:
    hours, minutes = hour_minute.split(":")
    return int(hours) * 60 + int(minutes)


class ScheduleRule(Document):
    """On each of ``weekdays`` (ISO, 1 Monday ... 7 Sunday), local time, from ``start`` to ``end``.

    An ``end`` at or before ``start`` runs overnight: the block that starts on a Monday at 22:00
    with end 06:00 ends on Tuesday at 06:00 (end equal to start: a full 24 hours)."""

    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(min_length=1, max_length=7)
    start: HourMinute
    end: HourMinute

    @property
    def overnight(self) -> bool:
        return self.end <= self.start  # "HH:MM" texts order as the times do

    def window(self) -> tuple[int, int]:
        """Minutes after the midnight that begins each of the weekdays: start, end (past 1440
        when overnight)."""
        start, end = _minutes(self.start), _minutes(self.end)
        return start, end + MINUTES_PER_DAY if self.overnight else end

    def covers(self, other: ScheduleRule) -> bool:
        """Blocked at every moment ``other`` blocks: on each of its weekdays a window that starts
        no later and ends no earlier, both counted from that weekday's midnight.

        So a window may widen across midnight (09:00-17:00 to 08:00-01:00), and an overnight
        one widens on either side (22:00-06:00 to 21:00-07:00), but an overnight window never
        becomes a daytime one. Deliberately conservative: coverage assembled from a neighbouring
        day's window (the 00:00-06:00 of a Tuesday-only block covered by a Monday 22:00-06:00
        one) does not count."""
        start, end = self.window()
        other_start, other_end = other.window()
        return (
            set(other.weekdays) <= set(self.weekdays) and start <= other_start and end >= other_end
        )


class TimeLimitRule(Document):
    daily_minutes: int = Field(ge=1, le=MINUTES_PER_DAY)

    def at_least_as_strict_as(self, other: TimeLimitRule) -> bool:
        return self.daily_minutes <= other.daily_minutes


class AppLockRule(Document):
    unlocks_per_day: int = Field(ge=0, le=100)
    minutes_per_unlock: int = Field(ge=1, le=240)

    def at_least_as_strict_as(self, other: AppLockRule) -> bool:
        """No more unlocks a day, and none of them longer."""
        return (
            self.unlocks_per_day <= other.unlocks_per_day
            and self.minutes_per_unlock <= other.minutes_per_unlock
        )


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


def tightens(before: Block, after: Block) -> bool:
    """``after`` is stricter than ``before`` or as strict: the edits a hardcore block allows.

    Same kind; the selection only grows (no device dropped, per device no app, category or web
    domain dropped); a schedule covers at least what it covered (``ScheduleRule.covers``); a time
    limit's daily minutes and an app lock's unlocks per day and minutes per unlock only fall. The
    name is free. Strictness, vacations and the emergency pass's suspension have their own rules
    (``hardcoreKept`` and the update rule in ``firestore.rules``)."""
    if after.kind != before.kind or not selection_contains(after.selection, before.selection):
        return False
    if after.schedule is not None and before.schedule is not None:
        return after.schedule.covers(before.schedule)
    if after.time_limit is not None and before.time_limit is not None:
        return after.time_limit.at_least_as_strict_as(before.time_limit)
    if after.app_lock is not None and before.app_lock is not None:
        return after.app_lock.at_least_as_strict_as(before.app_lock)
    return False  # unreachable for valid blocks: each carries exactly its kind's rule


def over_cap(blocks_stored: int) -> bool:
    """Whether a person now holding ``blocks_stored`` blocks, counting the one just created,
    holds more than they may: the new one is then removed."""
    return blocks_stored > MAX_BLOCKS_PER_PERSON

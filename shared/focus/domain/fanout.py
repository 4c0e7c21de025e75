"""Fan-out campaigns: when each batch of a campaign may go, so that the project stays under FCM's
quota (docs/notifications.md, "Fan-out campaigns").

A campaign (the weekly report at 09:00 local time for everyone) is sharded twice: by time zone
into **waves** (the people of every zone whose 09:00 falls at the same UTC moment,
``campaign_waves``) and by token ranges into **batches** of at most ``BATCH_SIZE`` devices, one
Cloud Tasks task each, sent with one ``send_each`` call. FCM accepts ``FCM_QUOTA_PER_MINUTE``
messages in any rolling minute and answers 429 beyond it; latency-bound sync pushes share that
quota, so a campaign paces to ``TARGET_SHARE`` of what the sync traffic leaves (``Pace``).

``plan_waves`` gives every batch its dispatch moment (the task's schedule time). One rule makes
every guarantee: batches, of any wave, follow one another at least ``Pace.spacing`` apart, which
fits exactly ``Pace.batches_per_window`` full batches in one quota window and is never shorter
than the task queue's dispatch limit allows. Hence any rolling window (half-open, as FCM's)
carries at most ``batches_per_window * batch_size <= Pace.budget`` messages, and at full pace
exactly that; waves that overlap in time share the one budget (a later wave's batches queue
behind the earlier wave's); and the only state to carry from one planning to the next is the
next free moment (``Plan.next_free``).

``run_figures`` turns what FCM answered during a run into the figures the target is stated in
(share of the quota sustained, duration, share of requests answered 429); the benchmark
(``scripts/bench-fanout``) and the tests use it alike.

Pure: every moment is an argument and must be timezone-aware; nothing reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from focus.domain.model import utc_text

FCM_QUOTA_PER_MINUTE = 600_000  # messages per project in any rolling minute (FCM HTTP v1)
QUOTA_WINDOW = timedelta(minutes=1)
BATCH_SIZE = 500  # the most messages one send_each call takes: one task, one batch
QUEUE_DISPATCHES_PER_SECOND = 500  # the most tasks a Cloud Tasks queue dispatches per second
# The share of the quota left by sync traffic that a campaign uses: the rest absorbs what the
# plan cannot see (sync bursts above the reserve, latency spreading a batch's arrivals, clock
# differences between Cloud Tasks and FCM).
TARGET_SHARE = 0.95
WEEKLY_REPORT_AT = time(9)  # local time, in each person's zone

_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment


@dataclass(frozen=True)
class Pace:
    """How fast a campaign may send. The defaults are production's: FCM's quota per rolling
    minute, 500 messages per batch, Cloud Tasks' 500 dispatches per second, 95% of what the sync
    traffic leaves. ``reserve_per_window`` is the sync traffic to leave room for (messages per
    window, measured). A benchmark scales ``quota_per_window``, ``window`` and ``batch_size``."""

    reserve_per_window: int = 0
    quota_per_window: int = FCM_QUOTA_PER_MINUTE
    window: timedelta = QUOTA_WINDOW
    target_share: float = TARGET_SHARE
    batch_size: int = BATCH_SIZE
    dispatches_per_second: int = QUEUE_DISPATCHES_PER_SECOND

    def __post_init__(self) -> None:
        if not 0 <= self.reserve_per_window < self.quota_per_window:
            raise ValueError("the sync reserve must be below the quota")
        if not 0 < self.target_share <= 1:
            raise ValueError("the target share must be in (0, 1]")
        if not 0 < self.batch_size <= BATCH_SIZE:
            raise ValueError(f"a batch holds 1 to {BATCH_SIZE} messages (one send_each call)")
        if self.window <= timedelta(0) or self.dispatches_per_second <= 0:
            raise ValueError("the window and the dispatch limit must be positive")
        if self.batches_per_window < 1:
            raise ValueError("the budget does not hold one batch: lower the batch size")

    @property
    def budget(self) -> int:
        """The most campaign messages in any rolling window:
        ``target_share * (quota_per_window - reserve_per_window)``, rounded down."""
        # The epsilon keeps 0.95 * 600,000 at 570,000 despite 0.95 having no exact binary form.
        available = self.quota_per_window - self.reserve_per_window
        return math.floor(self.target_share * available + 1e-6)

    @property
    def batches_per_window(self) -> int:
        """Full batches the budget holds per window (1,140 in production)."""
        return self.budget // self.batch_size

    @property
    def spacing(self) -> Fraction:
        """The time between two dispatches in microseconds, exactly: one window shared by
        ``batches_per_window`` batches, and never faster than the queue dispatches."""
        per_batch = Fraction(self.window // _MICROSECOND, self.batches_per_window)
        return max(per_batch, Fraction(1_000_000, self.dispatches_per_second))

    @property
    def interval(self) -> timedelta:
        """``spacing`` rounded up to the microsecond (52.632 ms in production; the queue alone
        would allow 2 ms)."""
        return math.ceil(self.spacing) * _MICROSECOND


@dataclass(frozen=True)
class Wave:
    """The devices of one campaign that may be reached from ``starts_at`` on (e.g. every
    person whose 09:00 is that UTC moment). ``key`` names the wave within its campaign; a batch
    is ``(key, index)``. ``zones`` are the time zones it gathers (for the job's token queries)."""

    key: str
    starts_at: datetime
    devices: int
    zones: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _aware(self.starts_at, "a wave's start")
        if self.devices < 0:
            raise ValueError("a wave cannot have fewer than no devices")


@dataclass(frozen=True)
class ScheduledBatch:
    """Batch ``index`` of wave ``wave``: the wave's devices ``first_device`` to
    ``first_device + devices - 1`` (in the order the job reads the wave's tokens), to dispatch
    at ``dispatch_at`` (UTC; the schedule time of its task)."""

    wave: str
    index: int
    first_device: int
    devices: int
    dispatch_at: datetime


@dataclass(frozen=True)
class Plan:
    """The batches in dispatch order, and the earliest moment the next batch of any later
    planning may go (persist it and pass it back as ``next_free``; ``None`` if nothing was ever
    planned)."""

    batches: tuple[ScheduledBatch, ...]
    next_free: datetime | None

    @property
    def finishes_at(self) -> datetime | None:
        """The last batch's dispatch moment."""
        return self.batches[-1].dispatch_at if self.batches else None


def plan_waves(
    waves: Sequence[Wave], pace: Pace = Pace(), *, next_free: datetime | None = None
) -> Plan:
    """Every batch of ``waves`` with its dispatch moment, under one budget.

    Waves go in order of start (then key), each batch of a wave in index order, every batch as
    soon as the pace allows, never before its wave starts nor before ``next_free`` (the previous
    planning's ``Plan.next_free``: campaigns planned separately still share the budget). Each
    device is in exactly one batch; the same input always gives the same plan."""
    keys = [wave.key for wave in waves]
    if len(set(keys)) != len(keys):
        raise ValueError("two waves share a key: a batch would not be named once")
    spacing = pace.spacing
    # Exact arithmetic in microseconds: rounding each step would lose a batch every few minutes
    # or, rounded down, let a window carry one batch too many. Only dispatch moments are rounded
    # (up); then any ``batches_per_window`` consecutive dispatches span at least one window.
    cursor = None if next_free is None else Fraction(_microseconds(_aware(next_free, "next_free")))
    batches: list[ScheduledBatch] = []
    for wave in sorted(waves, key=lambda wave: (wave.starts_at, wave.key)):
        start = _microseconds(wave.starts_at)
        # A wave starts on a whole microsecond, so planning waves one call at a time (passing
        # next_free on) gives exactly the plan of planning them together.
        position = Fraction(start if cursor is None else max(math.ceil(cursor), start))
        for index, first in enumerate(range(0, wave.devices, pace.batch_size)):
            size = min(pace.batch_size, wave.devices - first)
            moment = _moment(math.ceil(position))
            batches.append(ScheduledBatch(wave.key, index, first, size, moment))
            position += spacing
        if wave.devices:
            cursor = position
    return Plan(tuple(batches), None if cursor is None else _moment(math.ceil(cursor)))


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _moment(microseconds: int) -> datetime:
    return _EPOCH + microseconds * _MICROSECOND


def campaign_waves(
    devices_by_zone: Mapping[str, int], day: date, at: time = WEEKLY_REPORT_AT
) -> list[Wave]:
    """The waves of a campaign sent at ``at`` o'clock local time on ``day`` (each zone's own
    calendar date): zones whose moment is the same UTC instant form one wave, keyed by that
    instant (``2026-11-30T08:00:00Z``), in order of start. ``devices_by_zone``: IANA zone name
    to devices. A wall time the clocks skip counts with the offset before the change."""
    zones_at: dict[datetime, list[str]] = {}
    for zone in sorted(devices_by_zone):
        moment = datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)
        zones_at.setdefault(moment, []).append(zone)
    return [
        Wave(
            key=utc_text(moment),
            starts_at=moment,
            devices=sum(devices_by_zone[zone] for zone in zones),
            zones=tuple(zones),
        )
        for moment, zones in sorted(zones_at.items())
    ]


# --- Figures of a run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answers:
    """What FCM answered at one moment: ``accepted`` messages taken, ``throttled`` answered 429
    (one record per message, or per group of messages answered together)."""

    at: datetime
    accepted: int
    throttled: int = 0


@dataclass(frozen=True)
class RunFigures:
    """A run measured as the target is stated, against a quota per window:

    - ``sustained_share``: the messages accepted per window while sending, as a share of the
      quota: the mean over the whole windows from the first accepted message on (the last,
      partial window left out; ``None`` if the run is shorter than a window);
    - ``mean_share``: messages accepted per window from the run's start (e.g. 09:00) to the last
      accepted message, as a share of the quota: start-up and the last partial window included;
    - ``duration``: from the run's start to the last accepted message;
    - ``throttled_share``: the share of requests answered 429;
    - ``busiest_window``: the most messages accepted in any rolling window."""

    messages: int
    requests: int
    throttled: int
    duration: timedelta
    sustained_share: float | None
    mean_share: float
    throttled_share: float
    busiest_window: int


def run_figures(answers: Iterable[Answers], *, started_at: datetime, pace: Pace) -> RunFigures:
    """The figures of a run that started at ``started_at`` (e.g. its first wave's start),
    against ``pace``'s quota and window."""
    _aware(started_at, "started_at")
    records = sorted(answers, key=lambda answer: answer.at)
    messages = sum(answer.accepted for answer in records)
    throttled = sum(answer.throttled for answer in records)
    requests = messages + throttled
    accepted = [answer for answer in records if answer.accepted]
    duration = max(accepted[-1].at - started_at, timedelta(0)) if accepted else timedelta(0)
    windows = duration / pace.window
    sustained = _per_whole_window(accepted, pace.window)
    return RunFigures(
        messages=messages,
        requests=requests,
        throttled=throttled,
        duration=duration,
        sustained_share=None if sustained is None else sustained / pace.quota_per_window,
        mean_share=messages / windows / pace.quota_per_window if windows else 0.0,
        throttled_share=throttled / requests if requests else 0.0,
        busiest_window=busiest_window(records, pace.window),
    )


def busiest_window(answers: Sequence[Answers], window: timedelta) -> int:
    """The most messages accepted in any rolling ``window`` (half-open: a message ``window``
    after another is in the next one), over ``answers`` sorted by moment."""
    inside: deque[Answers] = deque()
    count = busiest = 0
    for answer in answers:
        inside.append(answer)
        count += answer.accepted
        while inside[0].at <= answer.at - window:
            count -= inside.popleft().accepted
        busiest = max(busiest, count)
    return busiest


def _per_whole_window(accepted: Sequence[Answers], window: timedelta) -> float | None:
    """Messages per window over the whole windows from the first of ``accepted`` (sorted) on."""
    if not accepted:
        return None
    whole = (accepted[-1].at - accepted[0].at) // window
    if whole < 1:
        return None
    end = accepted[0].at + whole * window
    return sum(answer.accepted for answer in accepted if answer.at < end) / whole

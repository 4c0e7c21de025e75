"""Fan-out benchmark: figures only (scripts/bench-fanout runs this; no emulator needed).

What a weekly-report campaign to 10M devices achieves against FCM's quota (600,000 messages in
any rolling minute), paced by the production planner (``focus.domain.fanout.plan_waves``) and
retried with the production policy (``focus.domain.notifications.retry_delay``). Two parts:

1. **Simulated at full scale** on a fake clock (discrete events, seconds of wall time): a fake
   FCM that enforces the quota over a true rolling 60 s window and answers 429 with
   ``Retry-After`` (whole seconds until enough of the window has passed); a Cloud Tasks queue
   that dispatches at most 500 tasks a second, each at its planned moment at the earliest; a
   worker per task that starts 5-30 ms after dispatch and sends its batch as ``send_each`` does
   (all requests at once, here in groups of 100 with their own latency, log-normal around 60 ms);
   throttled messages re-enqueued after ``retry_delay``. Sync pushes, where present, arrive on
   their own at the reserve's rate (Poisson, per 100 ms) and retry the same way.
2. **Real, scaled down**: the harness's local FCM server (``firebase_emulator_harness.fcm``,
   ``quota(limit, window_seconds)``) and the production send path, ``focus.adapters.push.send``
   through the Admin SDK unchanged (``FOCUS_FCM_ENDPOINT``), its own 429 retries included.
   Time runs 60 times faster and the quota is 1/3,000: 200 messages per 1 s window stand for
   600,000 per minute, batches of 10 for 500, 3,334 devices for 10M (as many quota windows).
   Note the local server's window is fixed (opened by the first message after the last one
   closed), not FCM's rolling one.

Figures (``focus.domain.fanout.run_figures``): the campaign's sustained share of the quota (the
fewest messages in any full minute while sending), its mean share from the wave's start, the time
for 10M devices (wave start to last message accepted), the share of its requests answered 429;
and over all traffic (campaign and sync) the busiest rolling minute and the 429 share.

Usage: bench_fanout.py [--seed N] [--simulated-only]
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tables import format_table  # type: ignore[import-not-found]

from firebase_emulator_harness.fcm import FcmServer
from focus.adapters import push
from focus.adapters.push import QuotaExceeded
from focus.domain.devices import Platform
from focus.domain.fanout import (
    FCM_QUOTA_PER_MINUTE,
    QUEUE_DISPATCHES_PER_SECOND,
    Answers,
    Pace,
    Plan,
    RunFigures,
    Wave,
    plan_waves,
    run_figures,
)
from focus.domain.notifications import MessageKind, Push, retry_delay

DEVICES = 10_000_000
NINE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin and Paris
SYNC_RESERVE = 33_600  # 5.6% of the quota: 2M sync pushes an hour (docs/notifications.md)
GROUP = 100  # requests of one send_each that the simulation moves together


# --- Part 1: the simulation ----------------------------------------------------------------------


class RollingQuota:
    """FCM's quota as the simulation enforces it: at most ``limit`` messages accepted in any
    rolling ``window`` seconds; beyond, 429 with the whole seconds until enough has left it."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.accepted: deque[tuple[float, int]] = deque()
        self.count = 0

    def take(self, now: float, messages: int) -> tuple[int, int | None]:
        """Messages accepted now out of ``messages``, and the Retry-After for the rest."""
        while self.accepted and self.accepted[0][0] <= now - self.window:
            self.count -= self.accepted.popleft()[1]
        taken = min(messages, self.limit - self.count)
        if taken:
            self.accepted.append((now, taken))
            self.count += taken
        if taken == messages:
            return taken, None
        # The earliest moment the oldest accepted messages leave the window.
        oldest = self.accepted[0][0] if self.accepted else now
        return taken, max(1, math.ceil(oldest + self.window - now))


# A simulated event, as a tuple so that the heap compares it fast: when, a tie-breaker, what
# (READY: a task enters the queue; ARRIVE: requests reach FCM), messages, attempt, campaign or sync.
Event = tuple[float, int, int, int, int, bool]
READY, ARRIVE = 0, 1


@dataclass
class Simulation:
    """One run on a fake clock; seconds from ``origin``."""

    origin: datetime
    rng: random.Random
    quota: RollingQuota = field(default_factory=lambda: RollingQuota(FCM_QUOTA_PER_MINUTE, 60.0))
    events: list[Event] = field(default_factory=list)
    queue_free: float = float("-inf")
    campaign: list[Answers] = field(default_factory=list)
    sync: list[Answers] = field(default_factory=list)
    order: int = 0

    def at(self, moment: datetime) -> float:
        return (moment - self.origin).total_seconds()

    def push(self, at: float, kind: int, messages: int, attempt: int, campaign: bool) -> None:
        self.order += 1
        heapq.heappush(self.events, (at, self.order, kind, messages, attempt, campaign))

    def latency(self) -> float:
        return self.rng.lognormvariate(math.log(0.060), 0.5)

    def run(self) -> None:
        while self.events:
            at, _, kind, messages, attempt, campaign = heapq.heappop(self.events)
            if kind == READY:
                self.dispatch(at, messages, attempt)
            else:
                self.arrive(at, messages, attempt, campaign)

    def dispatch(self, ready: float, messages: int, attempt: int) -> None:
        # The queue dispatches in order of readiness, at most QUEUE_DISPATCHES_PER_SECOND.
        dispatched = max(ready, self.queue_free)
        self.queue_free = dispatched + 1 / QUEUE_DISPATCHES_PER_SECOND
        started = dispatched + self.rng.uniform(0.005, 0.030)
        for first in range(0, messages, GROUP):
            group = min(GROUP, messages - first)
            self.push(started + self.latency(), ARRIVE, group, attempt, True)

    def arrive(self, at: float, messages: int, attempt: int, campaign: bool) -> None:
        taken, retry_after = self.quota.take(at, messages)
        answers = Answers(self.origin + timedelta(seconds=at), taken, messages - taken)
        (self.campaign if campaign else self.sync).append(answers)
        if taken < messages:
            wait = retry_delay(retry_after, attempt, self.rng.random()).total_seconds()
            # A campaign task puts the rest back on the queue; a sync push is sent again.
            kind = READY if campaign else ARRIVE
            self.push(at + wait, kind, messages - taken, attempt + 1, campaign)

    def add_plan(self, plan: Plan) -> None:
        for batch in plan.batches:
            self.push(self.at(batch.dispatch_at), READY, batch.devices, 1, True)

    def add_sync_traffic(self, per_minute: int, until: float) -> None:
        # Sync pushes follow edits: Poisson arrivals, drawn per 100 ms (normal approximation).
        mean = per_minute / 600
        for tick in range(int(until * 10)):
            count = max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
            if count:
                self.push(tick / 10 + self.rng.random() / 10, ARRIVE, count, 1, False)


@dataclass(frozen=True)
class Scenario:
    name: str
    waves: Sequence[Wave]
    reserve: int = 0  # what the pace leaves for sync pushes
    sync_per_minute: int = 0  # the sync traffic actually sent
    shared_budget: bool = True  # False: each wave paced alone (what the global budget prevents)


@dataclass(frozen=True)
class Result:
    name: str
    campaign: RunFigures
    everything: RunFigures


def simulate(scenario: Scenario, seed: int) -> Result:
    pace = Pace(reserve_per_window=scenario.reserve)
    origin = min(wave.starts_at for wave in scenario.waves)
    simulation = Simulation(origin, random.Random(seed))
    plans = (
        [plan_waves(scenario.waves, pace)]
        if scenario.shared_budget
        else [plan_waves([wave], pace) for wave in scenario.waves]
    )
    for plan in plans:
        simulation.add_plan(plan)
    if scenario.sync_per_minute:
        last = max(simulation.at(plan.finishes_at) for plan in plans if plan.finishes_at)
        simulation.add_sync_traffic(scenario.sync_per_minute, until=last + 60)
    simulation.run()
    campaign = run_figures(simulation.campaign, started_at=origin, pace=pace)
    quota = Pace()  # everything is measured against the whole quota
    everything = run_figures(simulation.campaign + simulation.sync, started_at=origin, pace=quota)
    return Result(scenario.name, campaign, everything)


def scenarios() -> list[Scenario]:
    one = [Wave("cet", NINE, DEVICES)]
    # A wave of 6M at 09:00 and one of 4M five minutes later, still inside the first.
    two = [Wave("first", NINE, 6_000_000), Wave("second", NINE + timedelta(minutes=5), 4_000_000)]
    return [
        Scenario("one wave of 10M", one),
        Scenario("one wave, sync reserve 5.6%", one, SYNC_RESERVE, SYNC_RESERVE),
        Scenario("two overlapping waves (6M, +5 min 4M)", two),
        Scenario("contrast: sync traffic, no reserve", one, 0, SYNC_RESERVE),
        Scenario("contrast: two waves paced alone", two, shared_budget=False),
    ]


# --- Part 2: a real run, scaled down -------------------------------------------------------------

SCALED_QUOTA = 200  # messages per SCALED_WINDOW, standing for 600,000 a minute
SCALED_WINDOW = timedelta(seconds=1)  # standing for a minute: time runs 60 times faster
SCALED_BATCH = 10  # standing for 500
SCALED_DEVICES = math.ceil(DEVICES * SCALED_QUOTA / FCM_QUOTA_PER_MINUTE)  # 3,334
SCALED_RESERVE = 10  # 5% of the scaled quota (a whole number of batches remains)


def a_push(token: str, kind: MessageKind) -> Push:
    silent = kind is MessageKind.SYNC
    return Push(
        token=token,
        platform=Platform.IOS,
        kind=kind,
        silent=silent,
        data={"kind": kind.value},
        title=None if silent else "Your weekly report is ready",
        body=None if silent else "See how your week went.",
        collapse_key=kind.value,
        ttl_seconds=3600,
    )


def real_runs(reserves: Sequence[int], seed: int) -> list[Result]:
    """One scaled run per reserve, through one local FCM server."""
    with FcmServer() as fcm:
        os.environ.setdefault("GCLOUD_PROJECT", "demo-focus")
        os.environ["FUNCTIONS_EMULATOR"] = "true"  # the endpoint setting's guard
        os.environ[push.ENDPOINT_SETTING] = fcm.url
        push.send([a_push("warm-up", MessageKind.SYNC)])  # connections, the SDK's set-up
        return [real_run(fcm, reserve, seed) for reserve in reserves]


def real_run(fcm: FcmServer, reserve: int, seed: int) -> Result:
    rng = random.Random(seed)
    sync_rng = random.Random(seed + 1)
    pace = Pace(
        reserve_per_window=reserve,
        quota_per_window=SCALED_QUOTA,
        window=SCALED_WINDOW,
        batch_size=SCALED_BATCH,
    )
    fcm.reset()
    fcm.quota(SCALED_QUOTA, SCALED_WINDOW.total_seconds())
    start = datetime.now(UTC) + timedelta(milliseconds=300)
    plan = plan_waves([Wave("scaled", start, SCALED_DEVICES)], pace)
    workers = ThreadPoolExecutor(max_workers=32)
    pending = threading.Semaphore(0)
    outstanding = [len(plan.batches)]
    lock = threading.Lock()

    def finished() -> None:
        with lock:
            outstanding[0] -= 1
            if outstanding[0] == 0:
                pending.release()

    def send(pushes: list[Push], attempt: int) -> None:
        try:
            outcomes = push.send(pushes)
        except Exception as error:  # a figure is still printed; the error says why it is off
            print(f"send failed: {error!r}")
            finished()
            return
        throttled = [o for o in outcomes if isinstance(o, QuotaExceeded)]
        if not throttled:
            finished()
            return
        after = max((o.retry_after_seconds or 0) for o in throttled) or None
        with lock:
            jitter = rng.random()
        wait = retry_delay(after, attempt, jitter).total_seconds()
        again = [o.push for o in throttled]
        timer = threading.Timer(wait, workers.submit, (send, again, attempt + 1))
        timer.daemon = True
        timer.start()

    done = threading.Event()

    def sync_traffic() -> None:
        # Sync pushes at the reserve's rate, one at a time, as edits come (Poisson).
        count = 0
        while not done.is_set():
            time.sleep(sync_rng.expovariate(reserve / SCALED_WINDOW.total_seconds()))
            count += 1
            workers.submit(push.send, [a_push(f"sync-{count}", MessageKind.SYNC)])

    sync = threading.Thread(target=sync_traffic, daemon=True) if reserve else None
    if sync:
        sync.start()
    for batch in plan.batches:
        time.sleep(max(0.0, (batch.dispatch_at - datetime.now(UTC)).total_seconds()))
        first = batch.first_device
        pushes = [
            a_push(f"campaign-{first + i}", MessageKind.WEEKLY_REPORT) for i in range(batch.devices)
        ]
        workers.submit(send, pushes, 1)
    if not pending.acquire(timeout=120):
        print("gave up waiting for the last batches after 120 s")
    done.set()
    if sync:
        sync.join()
    workers.shutdown(wait=True)
    received = fcm.received()

    def answers(prefix: str) -> list[Answers]:
        return [
            Answers(m.at, int(m.status == 200), int(m.status == 429))
            for m in received
            if (m.token or "").startswith(prefix)
        ]

    campaign = run_figures(answers("campaign-"), started_at=start, pace=pace)
    whole = Pace(quota_per_window=SCALED_QUOTA, window=SCALED_WINDOW, batch_size=SCALED_BATCH)
    everything = run_figures(answers(""), started_at=start, pace=whole)
    return Result(f"scaled real run, reserve {reserve / SCALED_QUOTA:.0%}", campaign, everything)


# --- Report --------------------------------------------------------------------------------------


def minutes(duration: timedelta, scale: float = 1.0) -> str:
    return f"{duration.total_seconds() * scale / 60:.2f} min"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def report(results: Sequence[Result], scale: float, quota: int) -> str:
    rows = [
        [
            result.name,
            share(result.campaign.sustained_share),
            share(result.campaign.mean_share),
            minutes(result.campaign.duration, scale),
            share(result.campaign.throttled_share),
            share(result.everything.busiest_window / quota),
            share(result.everything.throttled_share),
        ]
        for result in results
    ]
    headers = [
        "scenario",
        "sustained",
        "mean from 09:00",
        "time for 10M",
        "429 (campaign)",
        "busiest minute",
        "429 (all)",
    ]
    table: str = format_table(headers, rows, "lrrrrrr")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--simulated-only", action="store_true")
    options = parser.parse_args()

    pace = Pace()
    print(
        f"Pace: budget {pace.budget:,} messages a minute ({pace.budget / FCM_QUOTA_PER_MINUTE:.0%}"
        f" of {FCM_QUOTA_PER_MINUTE:,}), batches of {pace.batch_size} every"
        f" {pace.interval.total_seconds() * 1000:.3f} ms ({pace.batches_per_window:,} a minute);"
        f" with a {SYNC_RESERVE:,} sync reserve: {Pace(reserve_per_window=SYNC_RESERVE).budget:,}."
    )
    print(
        "Target: sustained >= 95% of the quota, 10M devices in <= 18 min, < 1% of requests 429.\n"
        "sustained: the campaign's messages per whole minute while sending, as a share of the\n"
        "quota; mean from 09:00: the same from the wave's start to the last message; 429: share\n"
        "of requests answered 429; busiest minute: the most accepted in any rolling minute, all\n"
        "traffic (campaign and sync), as a share of the quota.\n"
    )

    started = time.perf_counter()
    simulated = [simulate(scenario, options.seed) for scenario in scenarios()]
    took = time.perf_counter() - started
    print(f"Simulated, 10M devices, fake clock ({took:.1f} s of wall time):")
    print(report(simulated, 1.0, FCM_QUOTA_PER_MINUTE))

    if options.simulated_only:
        return
    started = time.perf_counter()
    real = real_runs((0, SCALED_RESERVE), options.seed)
    took = time.perf_counter() - started
    print(
        f"\nReal, scaled down ({took:.1f} s of wall time): local FCM server, quota"
        f" {SCALED_QUOTA} per {SCALED_WINDOW.total_seconds():.0f} s window, batches of"
        f" {SCALED_BATCH}, {SCALED_DEVICES:,} devices; times shown x60 (1 s stands for a minute):"
    )
    print(report(real, 60.0, SCALED_QUOTA))


if __name__ == "__main__":
    main()

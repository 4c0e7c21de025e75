"""Cost per person-day: what a typical daily user costs in Firestore reads and writes and function
invocations, flow by flow, against the least each flow could cost, and in dollars per 1M daily
users a month at list prices. Pure arithmetic, no I/O (docs/performance.md, "Cost per
person-day").

The typical day is ``limits_sim.PersonDay``'s (docs/data-model.md, "Cost per user flow"): two
launches (each also refreshes the push token), three uploads of the day's totals, two sessions
started and completed, one block edited, on a person with two devices (so every change owes the
other device a silent sync push).

``MEASURED`` holds what each flow made the backend do on the emulators, invocation by
invocation, as the functions' own counters report it (``focus.adapters.store``: a callable's
``meta.usage``, a background run's request line); tests/test_cost_model.py runs every flow and
fails when a figure moves, so this table cannot drift from the code. Two corrections turn an
emulator figure into a production one, both stated where they are applied:

* the upgrade gate reads ``config/clients`` on every call on the emulator, at most once a minute
  per instance in production (``client_gate.CACHE_SECONDS``): one read less per callable;
* a task the emulator delivers before its schedule time fails after reading its entry and is
  retried; Cloud Tasks does not deliver early, so only the runs that succeeded are counted.

``MINIMUM`` is the least a flow could cost and still do what the person sees, each figure argued
beside it: the product's own documents, read and written once, and nothing for the guarantees
(erasure lock-out, rate limits, idempotency, exactly-once counting, analytics consent) nor for
the bounded-amplification change records; the ratio is the price of those.

Usage: cost_model.py [--people N] [--svg PATH]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tables import format_table  # type: ignore[import-not-found]

DAILY_PEOPLE = 1_000_000
DAYS_PER_MONTH = 30
# Firestore list prices, Standard edition, multi-region eur3 (the project's location): per
# 100,000 documents read / written (a delete is billed as a write here: at most the write's
# price). Cloud Run functions: $0.40 per million invocations (compute is priced apart).
READ_PRICE = 0.06 / 100_000
WRITE_PRICE = 0.18 / 100_000
INVOCATION_PRICE = 0.40 / 1_000_000
GATE_READ = 1  # config/clients: per call on the emulator, once a minute per instance in production


@dataclass(frozen=True)
class Run:
    """One function invocation a flow causes, as counted on the emulator."""

    function: str
    reads: int
    writes: int


@dataclass(frozen=True)
class Cost:
    """Reads, writes and invocations beside the least reads and writes they could be."""

    reads: float
    writes: float
    invocations: float
    minimum_reads: float
    minimum_writes: float

    @property
    def ratio(self) -> float:
        return (self.reads + self.writes) / (self.minimum_reads + self.minimum_writes)

    @property
    def dollars(self) -> float:
        """Firestore and invocations."""
        return (
            self.reads * READ_PRICE
            + self.writes * WRITE_PRICE
            + self.invocations * INVOCATION_PRICE
        )

    @property
    def minimum_dollars(self) -> float:
        """Firestore only."""
        return self.minimum_reads * READ_PRICE + self.minimum_writes * WRITE_PRICE

    def times(self, n: float) -> Cost:
        return Cost(
            self.reads * n,
            self.writes * n,
            self.invocations * n,
            self.minimum_reads * n,
            self.minimum_writes * n,
        )

    def plus(self, other: Cost) -> Cost:
        return Cost(
            self.reads + other.reads,
            self.writes + other.writes,
            self.invocations + other.invocations,
            self.minimum_reads + other.minimum_reads,
            self.minimum_writes + other.minimum_writes,
        )


@dataclass(frozen=True)
class Flow:
    name: str
    per_day: float  # times in the typical person-day
    callable: str | None  # the callable the app calls, if any (its run is the first of ``runs``)
    client_writes: int  # documents the app writes itself, under the rules (billed as writes)
    runs: tuple[Run, ...]  # every invocation, the callable's first, then the background ones
    minimum_reads: int
    minimum_writes: int
    minimum_why: str

    @property
    def cost(self) -> Cost:
        """One occurrence's cost, in production (the gate's read taken out of a callable's)."""
        gate = GATE_READ if self.callable else 0
        return Cost(
            reads=sum(run.reads for run in self.runs) - gate,
            writes=self.client_writes + sum(run.writes for run in self.runs),
            invocations=len(self.runs),
            minimum_reads=self.minimum_reads,
            minimum_writes=self.minimum_writes,
        )


FLOWS: tuple[Flow, ...] = (
    Flow(
        name="launch (returning)",
        per_day=2,
        callable="launch",
        client_writes=0,
        runs=(Run("launch", 6, 1),),
        minimum_reads=3,
        minimum_writes=0,
        minimum_why=(
            "the profile, the active sessions (a query: 1 read when empty) and the "
            "hours-saved summary"
        ),
    ),
    Flow(
        name="registerPushToken (refresh)",
        per_day=2,
        callable="registerPushToken",
        client_writes=0,
        runs=(Run("registerPushToken", 5, 4),),
        minimum_reads=2,
        minimum_writes=1,
        minimum_why=(
            "the device (registered?), the token's holders (a query; it returns this "
            "device's own token document too); the token document written"
        ),
    ),
    Flow(
        name="uploadDailyReports (one day, changed)",
        per_day=3,
        callable="uploadDailyReports",
        client_writes=0,
        runs=(
            Run("uploadDailyReports", 6, 5),
            Run("on_days_changed", 0, 0),
            Run("deriveDays", 5, 3),
        ),
        minimum_reads=5,
        minimum_writes=3,
        minimum_why=(
            "the device (registered?), the profile (settings, streak), the day, the day "
            "before (streak), the week; the day, the week and the day's community shard "
            "written"
        ),
    ),
    Flow(
        name="session started and completed",
        per_day=2,
        callable=None,
        client_writes=2,
        runs=(
            Run("on_session_written", 2, 2),
            Run("on_session_written", 2, 1),
            Run("on_session_written", 0, 0),
            Run("on_session_written", 0, 0),
            Run("countCompletedSession", 3, 3),
            Run("on_session_completed", 1, 2),
            Run("on_session_completed", 1, 0),
            Run("completeSessionAtPlannedEnd", 1, 0),
            Run("sendPush", 7, 2),  # the "session finished" push, sent
            Run("sendPush", 2, 3),  # the silent sync of the session's start
            Run("sendPush", 4, 1),  # the "session finished" push, deferred to the planned end
            Run("on_profile_updated", 0, 0),
        ),
        minimum_reads=2,
        minimum_writes=4,
        minimum_why=(
            "the app writes the session twice (start, end); the profile read and written "
            "(totals), the other device's token read (one push tells it), one hours-saved "
            "shard written"
        ),
    ),
    Flow(
        name="block edited",
        per_day=1,
        callable=None,
        client_writes=1,
        runs=(
            Run("on_block_written", 3, 3),
            Run("on_profile_updated", 0, 0),
            Run("sendPush", 2, 3),
        ),
        minimum_reads=2,
        minimum_writes=2,
        minimum_why=(
            "the app writes the block; the profile's sync marker written (read first), the "
            "other device's token read (the sync push)"
        ),
    ),
)


def person_day(flows: Sequence[Flow] = FLOWS) -> Cost:
    day = Cost(0, 0, 0, 0, 0)
    for flow in flows:
        day = day.plus(flow.cost.times(flow.per_day))
    return day


def monthly(dollars_per_person_day: float, people: int) -> float:
    return dollars_per_person_day * people * DAYS_PER_MONTH


def _number(value: float) -> str:
    return f"{value:g}"


def _row(name: str, per_day: str, cost: Cost, monthly_dollars: float) -> list[str]:
    figures = (cost.reads, cost.minimum_reads, cost.writes, cost.minimum_writes, cost.invocations)
    return [
        name,
        per_day,
        *map(_number, figures),
        f"{cost.ratio:.2f}",
        f"{monthly_dollars:,.0f}",
    ]


def table(people: int = DAILY_PEOPLE) -> str:
    headers = ["flow", "/day", "reads", "min", "writes", "min", "runs", "ratio", "$/month"]
    rows = [
        _row(f.name, _number(f.per_day), f.cost, monthly(f.per_day * f.cost.dollars, people))
        for f in FLOWS
    ]
    day = person_day()
    rows.append(_row("person-day", "", day, monthly(day.dollars, people)))
    text: str = format_table(headers, rows, "lrrrrrrrr")
    return text


def svg(people: int = DAILY_PEOPLE) -> str:
    """A bar chart: each flow's monthly dollars per ``people`` daily users, measured beside the
    minimum (Firestore only for the minimum; invocations in the measured bar)."""
    width, row, left, scale_to = 760, 46, 270, 440
    flows = list(FLOWS)
    costs = [monthly(f.per_day * f.cost.dollars, people) for f in flows]
    minimums = [monthly(f.per_day * f.cost.minimum_dollars, people) for f in flows]
    top = max(costs)
    height = 60 + row * len(flows) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">Cost per flow, $ a month per '
        f"{people:,} daily users (scripts/cost-model)</text>",
        '<rect x="10" y="34" width="12" height="10" fill="#3b6ea8"/>'
        '<text x="28" y="44">measured (Firestore + invocations)</text>'
        '<rect x="270" y="34" width="12" height="10" fill="#b7c9de"/>'
        '<text x="288" y="44">theoretical minimum (Firestore)</text>',
    ]
    for i, (flow, cost, least) in enumerate(zip(flows, costs, minimums, strict=True)):
        y = 60 + i * row
        parts += [
            f'<text x="10" y="{y + 16}">{flow.name}</text>',
            f'<rect x="{left}" y="{y + 4}" width="{cost / top * scale_to:.1f}" height="16" '
            f'fill="#3b6ea8"/>',
            f'<text x="{left + cost / top * scale_to + 6:.1f}" y="{y + 17}">${cost:,.0f} '
            f"(x{flow.cost.ratio:.2f})</text>",
            f'<rect x="{left}" y="{y + 22}" width="{least / top * scale_to:.1f}" height="10" '
            f'fill="#b7c9de"/>',
        ]
    day = person_day()
    parts.append(
        f'<text x="10" y="{height - 12}">Person-day: ${monthly(day.dollars, people):,.0f} a month, '
        f"x{day.ratio:.2f} the minimum</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=DAILY_PEOPLE, help="daily users")
    parser.add_argument("--svg", type=Path, help="also write the chart there")
    args = parser.parse_args(argv)
    day = person_day()
    print(table(args.people))
    print()
    print(
        f"person-day: {day.reads:g} reads, {day.writes:g} writes, {day.invocations:g} invocations"
        f" (minimum {day.minimum_reads:g} / {day.minimum_writes:g}), x{day.ratio:.2f} the minimum; "
        f"${day.dollars * 1e6:,.2f} per 1M person-days, "
        f"${monthly(day.dollars, args.people):,.0f} a month for {args.people:,} daily users"
    )
    if args.svg:
        args.svg.write_text(svg(args.people))
    return 0


if __name__ == "__main__":
    sys.exit(main())

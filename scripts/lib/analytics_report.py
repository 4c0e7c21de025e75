"""The local analytics report: build the dbt models (analytics/) on the local DuckDB events, then
read the marts and write one HTML page a person can open, with its charts drawn as inline SVG
(retention curve, daily/weekly/monthly active people, session completion by strictness) and the
weekly tables (emergency passes, Pro conversion and churn). Run by scripts/analytics-report with the
analytics venv's Python, which has dbt and duckdb (docs/analytics-models.md).

    analytics_report.py [--seed] [--events FILE] [--report FILE]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

# duckdb is installed in the analytics venv only (requirements/analytics.txt); the dev venv's mypy
# sees it as untyped.
import duckdb  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "analytics"
DBT = ROOT / ".local" / "analytics-venv" / "bin" / "dbt"
SEED = ROOT / "scripts" / "lib" / "analytics_seed.py"
EVENTS = ROOT / ".local" / "analytics" / "events.duckdb"
REPORT = ROOT / ".local" / "analytics" / "report.html"
MARTS = "analytics"  # the schema the duckdb target builds into (analytics/profiles.yml)
RETENTION_DAYS = (1, 7, 30)
STRICTNESSES = ("easy", "harder", "hardcore")
COLOURS = {"dau": "#2563eb", "wau": "#16a34a", "mau": "#9333ea", "curve": "#ea580c"}
STRICTNESS_COLOURS = {"easy": "#60a5fa", "harder": "#f59e0b", "hardcore": "#dc2626"}


@dataclass(frozen=True)
class Build:
    """What `dbt build` did: how many nodes of each kind passed, and how long it took."""

    passed: dict[str, int]
    failed: list[str]
    seconds: float

    def summary(self) -> str:
        kinds = ", ".join(f"{count} {kind}s" for kind, count in sorted(self.passed.items()))
        return f"dbt build passed: {kinds} in {self.seconds:.1f} s"


def build(events: Path, work: Path) -> Build:
    """``dbt build`` (models, data tests and unit tests) on the DuckDB target over ``events``;
    dbt's own files go under ``work``. A full refresh: the local events are few, and rebuilding
    stg_events from them reflects at once the rows an erasure deleted from raw_events
    (incremental runs are for BigQuery's cost: docs/analytics-models.md)."""
    result = subprocess.run(
        [
            str(DBT),
            "build",
            "--full-refresh",
            *("--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)),
            *("--target", "duckdb"),
            *("--target-path", str(work / "target"), "--log-path", str(work / "logs")),
        ],
        env={
            **os.environ,
            "FOCUS_ANALYTICS_DUCKDB": str(events),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        capture_output=True,
        text=True,
    )
    results_file = work / "target" / "run_results.json"
    if not results_file.exists():
        raise SystemExit(f"error: dbt build did not run:\n{result.stdout}{result.stderr}")
    run = json.loads(results_file.read_text())
    passed: Counter[str] = Counter()
    failed: list[str] = []
    for node in run["results"]:
        kind = node["unique_id"].split(".")[0].replace("_", " ")
        if node["status"] in ("success", "pass"):
            passed[kind] += 1
        else:
            failed.append(f"{node['unique_id']}: {node['status']} {node.get('message') or ''}")
    if result.returncode != 0 or failed:
        raise SystemExit(
            f"error: dbt build failed:\n{result.stdout[-6000:]}{result.stderr[-2000:]}\n"
            + "\n".join(failed)
        )
    return Build(dict(passed), failed, float(run["elapsed_time"]))


# -- the marts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    active: list[tuple[date, int, int, int]]  # day, DAU, WAU, MAU
    retention: dict[int, float | None]  # day N -> share of the cohorts that can show it
    completion: dict[str, tuple[int, int]]  # strictness -> (completed, sessions)
    focus_minutes_per_active_person: float | None  # mean over the days
    passes: list[tuple[date, int, int, float]]  # week, days observed, active people, passes each
    pro: list[tuple[date, int, int, int, float | None, float | None]]


def read(events: Path) -> Figures:
    with duckdb.connect(str(events), read_only=True) as db:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return list(db.execute(sql).fetchall())

        active = rows(
            f"select activity_date, daily_active_people, weekly_active_people,"
            f" monthly_active_people from {MARTS}.active_people_daily order by activity_date"
        )
        # A day-N figure pools every cohort that has reached day N (weighting by cohort size).
        pooled = ", ".join(
            f"sum(retained_day_{n}) / sum(case when retained_day_{n} is not null"
            f" then cohort_size end)"
            for n in RETENTION_DAYS
        )
        (retention,) = rows(f"select {pooled} from {MARTS}.retention_cohorts")
        completion = rows(
            f"select strictness, sum(completed_sessions), sum(sessions)"
            f" from {MARTS}.session_completion_by_strictness group by strictness"
        )
        (focus,) = rows(
            f"select avg(focus_minutes_per_active_person)"
            f" from {MARTS}.focus_minutes_per_active_person"
        )
        passes = rows(
            f"select week_start, days_observed, active_people, passes_per_active_person"
            f" from {MARTS}.emergency_pass_rate order by week_start"
        )
        pro = rows(
            f"select week_start, people_becoming_pro, people_losing_pro, pro_people_at_week_end,"
            f" conversion_rate, churn_rate from {MARTS}.pro_conversion_and_churn order by week_start"
        )
    return Figures(
        active=[(day, int(d), int(w), int(m)) for day, d, w, m in active],
        retention={
            n: None if share is None else float(share)
            for n, share in zip(RETENTION_DAYS, retention, strict=True)
        },
        completion={str(s): (int(done), int(total)) for s, done, total in completion},
        focus_minutes_per_active_person=None if focus[0] is None else float(focus[0]),
        passes=[(week, int(days), int(people), float(each)) for week, days, people, each in passes],
        pro=[
            (week, int(gained), int(lost), int(held), _float(conversion), _float(churn))
            for week, gained, lost, held, conversion, churn in pro
        ],
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# -- the page --------------------------------------------------------------------------------------

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 40, 56, 44  # TOP leaves room for the title and legend


def line_chart(
    title: str,
    x: list[float],
    x_labels: dict[float, str],
    series: list[tuple[str, str, list[float]]],
    percent: bool = False,
    x_caption: str = "",
) -> str:
    """An SVG line chart: ``series`` are (name, colour, y values at ``x``); ``x_labels`` names
    some of the x positions on the axis."""
    top = max((y for _, _, ys in series for y in ys), default=1.0)
    top = 1.0 if percent else _nice_ceiling(top)
    low, high = min(x), max(x)

    def px(value: float) -> float:
        return LEFT + (value - low) / ((high - low) or 1) * (WIDTH - LEFT - RIGHT)

    def py(value: float) -> float:
        return HEIGHT - BOTTOM - value / top * (HEIGHT - TOP - BOTTOM)

    parts = _frame(title, top, py, percent)
    for position, label in x_labels.items():
        parts.append(
            f'<text x="{px(position):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle"'
            f' class="tick">{html.escape(label)}</text>'
        )
    for number, (name, colour, ys) in enumerate(series):
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, ys, strict=True))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        if len(ys) <= 8:
            for a, b in zip(x, ys, strict=True):
                value = f"{b:.0%}" if percent else f"{b:,.0f}"
                parts.append(f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3.5" fill="{colour}"/>')
                parts.append(
                    f'<text x="{px(a) + 6:.1f}" y="{py(b) - 6:.1f}" class="value">{value}</text>'
                )
        legend_x = LEFT + 10 + number * 190
        parts.append(
            f'<rect x="{legend_x}" y="{TOP - 34}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="{TOP - 24}" class="legend">{html.escape(name)}</text>'
        )
    if x_caption:
        parts.append(
            f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" text-anchor="middle"'
            f' class="tick">{html.escape(x_caption)}</text>'
        )
    return _svg(parts)


def bar_chart(title: str, bars: list[tuple[str, str, float, str]]) -> str:
    """An SVG bar chart of shares: ``bars`` are (label, colour, share 0..1, caption)."""

    def py(value: float) -> float:
        return HEIGHT - BOTTOM - value * (HEIGHT - TOP - BOTTOM)

    parts = _frame(title, 1.0, py, percent=True)
    slot = (WIDTH - LEFT - RIGHT) / max(len(bars), 1)
    for number, (label, colour, share, caption) in enumerate(bars):
        x = LEFT + number * slot + slot * 0.2
        parts.append(
            f'<rect x="{x:.1f}" y="{py(share):.1f}" width="{slot * 0.6:.1f}"'
            f' height="{py(0) - py(share):.1f}" fill="{colour}"/>'
            f'<text x="{x + slot * 0.3:.1f}" y="{py(share) - 6:.1f}" text-anchor="middle"'
            f' class="value">{share:.0%}</text>'
            f'<text x="{x + slot * 0.3:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle"'
            f' class="tick">{html.escape(label)}</text>'
            f'<text x="{x + slot * 0.3:.1f}" y="{HEIGHT - BOTTOM + 32}" text-anchor="middle"'
            f' class="tick">{html.escape(caption)}</text>'
        )
    return _svg(parts)


def _frame(title: str, top: float, py: Callable[[float], float], percent: bool) -> list[str]:
    parts = [f'<text x="{LEFT}" y="16" class="title">{html.escape(title)}</text>']
    for step in range(5):
        value = top * step / 4
        label = f"{value:.0%}" if percent else f"{value:,.0f}"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(value):.1f}" y2="{py(value):.1f}"'
            f' class="grid"/><text x="{LEFT - 6}" y="{py(value) + 4:.1f}" text-anchor="end"'
            f' class="tick">{label}</text>'
        )
    return parts


def _svg(parts: list[str]) -> str:
    body = "".join(parts)
    return f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" role="img">{body}</svg>'


def _nice_ceiling(value: float) -> float:
    for step in (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000):
        if value <= step * 4:
            return float(step * 4)
    return value


def page(figures: Figures, built: Build, events: Path) -> str:
    days = [day for day, *_ in figures.active]
    x = [float(n) for n in range(len(days))]
    every = max(1, len(days) // 8)
    active_chart = line_chart(
        "Active people per day",
        x,
        {x[n]: days[n].strftime("%d %b") for n in range(0, len(days), every)},
        [
            ("daily (DAU)", COLOURS["dau"], [float(d) for _, d, _, _ in figures.active]),
            ("weekly (7 days, WAU)", COLOURS["wau"], [float(w) for _, _, w, _ in figures.active]),
            ("monthly (30 days, MAU)", COLOURS["mau"], [float(m) for *_, m in figures.active]),
        ],
    )
    curve = [(0, 1.0)] + [(n, s) for n, s in figures.retention.items() if s is not None]
    retention_chart = line_chart(
        "Retention: share of a cohort opening the app again on day N",
        [float(n) for n, _ in curve],
        {float(n): str(n) for n, _ in curve},
        [("every cohort that has reached day N", COLOURS["curve"], [s for _, s in curve])],
        percent=True,
        x_caption="days after a person first opened the app",
    )
    bars = []
    for strictness in STRICTNESSES:
        done, total = figures.completion.get(strictness, (0, 0))
        if total:
            colour = STRICTNESS_COLOURS[strictness]
            bars.append((strictness, colour, done / total, f"{done:,} of {total:,}"))
    completion_chart = bar_chart("Sessions completed, by strictness", bars)
    last_day, dau, wau, mau = figures.active[-1]
    focus = figures.focus_minutes_per_active_person
    headline = [
        ("Last day", last_day.strftime("%d %b %Y")),
        ("DAU / WAU / MAU", f"{dau:,} / {wau:,} / {mau:,}"),
        ("DAU / MAU", f"{dau / mau:.0%}" if mau else "n/a"),
        *(
            (f"Day {n} retention", "n/a" if share is None else f"{share:.1%}")
            for n, share in figures.retention.items()
        ),
        ("Focus minutes per active person per day", "n/a" if focus is None else f"{focus:.1f}"),
    ]
    passes_table = _table(
        ["Week of", "Days in data", "Active people", "Passes per active person"],
        [[w.isoformat(), str(d), f"{p:,}", f"{e:.3f}"] for w, d, p, e in figures.passes],
    )
    pro_table = _table(
        ["Week of", "Became Pro", "Lost Pro", "Pro at week end", "Conversion", "Churn"],
        [
            [w.isoformat(), str(g), str(lost), str(h), _percent(c), _percent(ch)]
            for w, g, lost, h, c, ch in figures.pro
        ],
    )
    facts = "".join(
        f"<div class='fact'><span>{html.escape(k)}</span><b>{html.escape(v)}</b></div>"
        for k, v in headline
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Focus analytics</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 760px; color: #111; }}
.facts {{ display: grid; grid-template-columns: repeat(4, 1fr); gap: .5rem; margin: 1rem 0 2rem; }}
.fact {{ background: #f3f4f6; padding: .5rem .75rem; border-radius: 6px; }}
.fact span {{ display: block; color: #555; font-size: 12px; }} .fact b {{ font-size: 18px; }}
svg {{ display: block; margin: 1.5rem 0; max-width: 100%; height: auto; }}
.title {{ font-weight: 600; font-size: 14px; }} .tick, .legend {{ font-size: 11px; fill: #444; }}
.value {{ font-size: 11px; fill: #111; }} .grid {{ stroke: #e5e7eb; }}
table {{ border-collapse: collapse; margin: .5rem 0 2rem; }}
td, th {{ padding: .25rem .75rem; border-bottom: 1px solid #e5e7eb; text-align: right; }}
.note {{ color: #555; font-size: 12px; }}
</style></head><body>
<h1>Focus analytics</h1>
<p class="note">From {html.escape(events.name)}, {days[0]:%d %b} to {days[-1]:%d %b %Y} (UTC days).
{html.escape(built.summary())}. Models and definitions: docs/analytics-models.md.</p>
<div class="facts">{facts}</div>
{active_chart}
{retention_chart}
{completion_chart}
<h2>Emergency passes per week</h2>{passes_table}
<h2>Pro conversion and churn per week</h2>{pro_table}
<p class="note">Weeks run Monday to Sunday; the first and last may be partial. Conversion is over the
week's active people, churn over the Pro people at the week's start.</p>
</body></html>
"""


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{header}</tr>{body}</table>"


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.1%}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seed", action="store_true", help="seed synthetic events if the events file is missing"
    )
    parser.add_argument("--events", type=Path, default=EVENTS, help="the DuckDB file of events")
    parser.add_argument("--report", type=Path, default=REPORT, help="where to write the page")
    args = parser.parse_args()
    events: Path = args.events.resolve()
    if not events.exists():
        if not args.seed:
            print(
                f"error: {events} does not exist: collect events (scripts/analytics-collect beside"
                " scripts/dev) or pass --seed for synthetic ones",
                file=sys.stderr,
            )
            return 1
        print(f"seeding {events} with synthetic events (scripts/lib/analytics_seed.py)")
        subprocess.run([sys.executable, str(SEED), str(events)], check=True)
    built = build(events, events.parent / "dbt")
    print(built.summary())
    figures = read(events)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(page(figures, built, events))
    print(f"report: {args.report.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

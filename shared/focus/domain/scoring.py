"""The focus score: one number from 0 to 100 for a day, explained in docs/data-model.md.

    score = round(100 * (0.5 * goal + 0.3 * focus + 0.2 * calm))

* goal  = 1 when screen time is within the daily goal, else goal / screen time
          (twice the goal scores 0.5 on this part);
* focus = focused minutes / 120, capped at 1 (two focused hours a day is full marks);
* calm  = 1 - pickups / 150, floored at 0 (150 pickups a day or more scores 0).
"""

from __future__ import annotations

from typing import Protocol

FOCUS_TARGET_MINUTES = 120
PICKUPS_CEILING = 150


class Totals(Protocol):
    screen_time_minutes: int
    pickups: int
    focused_minutes: int


def focus_score(totals: Totals, goal_minutes: int) -> int:
    screen = totals.screen_time_minutes
    goal = 1.0 if screen <= goal_minutes else goal_minutes / screen
    focus = min(1.0, totals.focused_minutes / FOCUS_TARGET_MINUTES)
    calm = max(0.0, 1.0 - totals.pickups / PICKUPS_CEILING)
    return round(100 * (0.5 * goal + 0.3 * focus + 0.2 * calm))

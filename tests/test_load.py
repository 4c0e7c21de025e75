"""Under load the backend loses nothing: a day of eight people with three devices each, on the
real protocols and all at once, leaves every session counted exactly once, hours saved equal to
the counted minutes, community counts equal to the people reporting, one emergency pass per
person, no lost block edit and every export ready, with no unexpected error on the way.

This is the CI-sized run of the load tool (scripts/load, scripts/lib/load_run.py); the large one
(200 clients) is a benchmark whose figures are in docs/performance.md, "Load". Locust runs in a
subprocess in its own venv: gevent's patching of the standard library never reaches pytest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from firebase_emulator_harness import EmulatorSuite

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))

import load_run  # noqa: E402  (scripts/lib/load_run.py)

PEOPLE, DEVICES = 8, 3


def test_a_day_of_eight_people_on_three_devices_each_loses_nothing(
    firebase: EmulatorSuite, tmp_path: Path
) -> None:
    if not load_run.LOAD_PYTHON.exists():
        pytest.fail(f"{load_run.LOAD_PYTHON} is missing: run scripts/setup", pytrace=False)

    outcome = load_run.run(
        firebase,
        people=PEOPLE,
        devices=DEVICES,
        spawn_rate=2,
        max_requests=4000,
        max_seconds=240,
        journal=tmp_path / "journal.json",
    )

    print(load_run.report(outcome))
    assert outcome.errors == []
    assert outcome.violations == []
    # Every device ran its sessions; one more was cancelled and one ended by the pass.
    assert outcome.checked["sessions"] == PEOPLE * (DEVICES * load_run.SESSIONS_PER_DEVICE + 2)
    assert outcome.checked["days"] == PEOPLE * 2
    assert outcome.checked["hours saved minutes"] > 0

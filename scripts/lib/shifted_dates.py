"""Run pytest once per shifted clock (see scripts/test-shifted-dates); fail if any run fails.

Each shift is a moment the test process believes it is, and a time zone: the day the head API
version's date is yesterday (the collision that once broke the golden files), a sunset day, the
last seconds of a year far from UTC on both sides, and a leap day.
"""

from __future__ import annotations

import os
import subprocess
import sys

SHIFTS = (
    ("2026-11-30T00:00:30+00:00", "Pacific/Kiritimati"),  # UTC+14: yesterday is the head version
    ("2027-06-01T12:00:00+00:00", "America/Los_Angeles"),  # the 2026-06-01 version's sunset
    ("2027-12-31T23:59:50+00:00", "Pacific/Pago_Pago"),  # UTC-11, seconds before a new year
    ("2028-02-29T23:59:59+00:00", "Asia/Kolkata"),  # a leap day, at its last second (UTC)
)


def main() -> int:
    failed = []
    for moment, zone in SHIFTS:
        print(f"[shifted] test clock {moment}, TZ={zone}", flush=True)
        env = {**os.environ, "FOCUS_TEST_NOW": moment, "TZ": zone}
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", *sys.argv[1:]], env=env)
        if run.returncode != 0:
            failed.append(f"{moment} {zone}")
    if failed:
        print("[shifted] failed under: " + "; ".join(failed), file=sys.stderr)
        return 1
    print(f"[shifted] passed under all {len(SHIFTS)} shifted clocks")
    return 0


if __name__ == "__main__":
    sys.exit(main())

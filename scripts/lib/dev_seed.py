"""Demo data for scripts/dev: a few people with some history, created the way the app creates it.

Accounts come from the Auth emulator, profiles from the real `launch` callable and reports from
the real `uploadDailyReports`. Past sessions are written with the Admin SDK (a device can only
start a session now: firestore.rules), as the history a device left behind; the real triggers
count them and the real workers feed the community counter.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from firebase_emulator_harness import EmulatorSuite, User, wait_for

PASSWORD = "focus-demo-1"
PEOPLE = [
    # email, timezone, locale, sessions per day over the last week, minutes per session
    ("ada@demo.focus", "Europe/London", "en-GB", 2, 50),
    ("lin@demo.focus", "Asia/Singapore", "zh-SG", 1, 90),
    ("sam@demo.focus", "America/New_York", "en-US", 3, 25),
]
IPHONE = {"platform": "ios", "appVersion": "3.4.0", "build": 412}
API_VERSION = "2026-11-29"


def _launch(suite: EmulatorSuite, user: User, timezone: str, locale: str) -> dict[str, Any]:
    request = {
        "apiVersion": API_VERSION,
        "client": IPHONE,
        "payload": {"timezone": timezone, "locale": locale},
    }
    result: dict[str, Any] = suite.functions.call("launch", request, user=user).unwrap()
    return result


def _history(suite: EmulatorSuite, user: User, per_day: int, minutes: int, now: datetime) -> int:
    db = suite.firestore.as_owner()  # last week's sessions: no device may create them now
    written = 0
    for day in range(7, 0, -1):
        for n in range(per_day):
            start = (now - timedelta(days=day)).replace(
                hour=9 + 3 * n, minute=0, second=0, microsecond=0
            )
            db.create(
                f"users/{user.uid}/sessions/d{day}-{n}",
                {
                    "schemaVersion": 1,
                    "status": "completed",
                    "plannedStart": start,
                    "plannedEnd": start + timedelta(minutes=minutes),
                    "endedAt": start + timedelta(minutes=minutes),
                    "endReason": "completed",
                },
            )
            written += 1
    return written


def _reports(suite: EmulatorSuite, user: User, timezone: str, minutes: int, now: datetime) -> None:
    """A week of daily totals from the person's phone, uploaded as the app does."""
    reports = [
        {
            "day": (now - timedelta(days=day)).date().isoformat(),
            "timezone": timezone,
            "screenTimeMinutes": minutes + 17 * (day % 3),
            "pickups": 40 + 5 * day,
            "focusedMinutes": 60 + 10 * (day % 2),
            "asOf": now.isoformat(),
        }
        for day in range(7, -1, -1)
    ]
    # The app registers its install on first launch; reports come only from a registered device.
    suite.firestore.as_user(user).set(
        f"users/{user.uid}/devices/demo-iphone",
        {
            "schemaVersion": 1,
            "platform": "ios",
            "appVersion": IPHONE["appVersion"],
            "osVersion": "26.1",
            "lastSeenAt": now,
        },
    )
    request = {
        "apiVersion": API_VERSION,
        "client": IPHONE,
        "idempotencyKey": uuid.uuid4().hex,
        "payload": {"deviceId": "demo-iphone", "reports": reports},
    }
    suite.functions.call("uploadDailyReports", request, user=user).unwrap()


def seed_and_describe(env: dict[str, str]) -> None:
    project = env["GCLOUD_PROJECT"]
    suite = EmulatorSuite(project=project, region="europe-west1", hub=env["FIREBASE_EMULATOR_HUB"])
    now = datetime.now(UTC)
    print("[dev] seeding demo data ...", flush=True)
    people = []
    expected_sessions = 0
    for email, timezone, locale, per_day, minutes in PEOPLE:
        user = suite.auth.create_user(email, PASSWORD)
        _launch(suite, user, timezone, locale)
        expected_sessions += _history(suite, user, per_day, minutes, now)
        _reports(suite, user, timezone, 70 + 40 * len(people), now)
        people.append(user)
    anonymous = suite.auth.sign_up_anonymously()
    _launch(suite, anonymous, "Europe/Paris", "fr-FR")

    def everything_counted() -> bool:
        counted = suite.firestore.as_owner().query(
            "sessions",
            where=[("result.addedToHoursSavedAt", ">", now - timedelta(days=1))],
            all_descendants=True,
        )
        return len(counted) >= expected_sessions

    wait_for(everything_counted, timeout=180, interval=0.5, message="demo sessions counted")
    suite.functions.run_scheduled("roll_up_hours_saved")
    suite.functions.run_scheduled("roll_up_community")
    community = _launch(suite, people[0], "Europe/London", "en-GB")["data"]["communityHoursSaved"]

    def host(name: str) -> str:
        return f"{suite.endpoints[name].host}:{suite.endpoints[name].port}"

    print(
        f"""
[dev] The Focus backend is running (project {project}, region europe-west1).
  Auth        http://{host("auth")}
  Firestore   http://{host("firestore")}
  Functions   http://{host("functions")}   e.g. POST http://{host("functions")}/{project}/europe-west1/launch
  Pub/Sub     {host("pubsub")}
  Cloud Tasks {host("tasks")}
  Hub         http://{host("hub")}
  FCM (local) {env["FOCUS_FCM_ENDPOINT"]}   every push sent arrives here: scripts/pushes --follow

  Sign in as  {PEOPLE[0][0]} / {PASSWORD}   (also {PEOPLE[1][0]}, {PEOPLE[2][0]}; same password)
              or anonymously. {expected_sessions} past sessions and a week of daily reports
              seeded; community total {community} h.
  Point the app's Firebase SDKs at the emulators (useEmulator) with project id {project}.
  Ctrl-C stops everything.
""",
        flush=True,
    )

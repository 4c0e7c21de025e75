"""The analytics backfill (docs/analytics.md, "History"), as an operator runs it against the
emulators (``scripts/analytics-backfill``, a subprocess): the sessions and days already stored
become the very events the live paths publish (same ids, so the warehouse counts each fact once),
only for people who consent now, resumably, and a document no model accepts never stops it.

Events are read from the Pub/Sub emulator as tests/test_analytics_events.py reads them."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import envelope, launched_user, session_doc
from test_analytics_events import CONSENT, ProductEvents, consenting, ids, properties, quietly

from firebase_emulator_harness import EmulatorSuite, User
from focus.domain.analytics_events import EventName
from focus.services import completions, sessions

ROOT = Path(__file__).resolve().parents[1]
PROGRESS = "migrations/analytics-backfill"


@pytest.fixture(scope="module")
def product_events(firebase_suite: EmulatorSuite) -> ProductEvents:
    return ProductEvents.from_now(firebase_suite)


def backfill(*args: str) -> dict[str, Any]:
    """scripts/analytics-backfill --json as an operator runs it, against this session's emulators;
    its summary, with the progress bar it drew (``stderr``)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "analytics-backfill"), "--json", *args],
        env=os.environ.copy(),  # GCLOUD_PROJECT and the emulator hosts point at the suite
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    summary["stderr"] = done.stderr
    return summary


def counted_session(minutes: int = 40) -> dict[str, Any]:
    """A completed session the server has counted (its ``result``)."""
    result = {"focusedMinutes": minutes, "countedAt": datetime.now(UTC)}
    return session_doc(status="completed", minutes=minutes) | {"result": result}


def stored_day(day: str, revision: int = 2) -> dict[str, Any]:
    """A person's merged day as uploads left it."""
    return {
        "schemaVersion": 1,
        "day": day,
        "timezone": "Europe/Berlin",
        "totals": {"screenTimeMinutes": 95, "pickups": 41, "focusedMinutes": 60},
        "goalMinutes": 120,
        "metGoal": True,
        "score": 71,
        "revision": revision,
    }


def seed(firebase: EmulatorSuite, docs: dict[str, dict[str, Any]]) -> None:
    """Documents as earlier releases left them, written without firing any trigger."""
    owner = firebase.firestore.as_owner()
    with firebase.functions.background_triggers_disabled():
        for path, data in docs.items():
            owner.set(path, data)


def person_with_history(firebase: EmulatorSuite, sessions: int, days: int = 0) -> tuple[User, str]:
    """A consenting person with ``sessions`` cancelled sessions and ``days`` days stored."""
    user, person = consenting(firebase)
    today = datetime.now(UTC).date()
    docs = {
        f"users/{user.uid}/sessions/s-{n:03d}": session_doc(status="cancelled")
        for n in range(sessions)
    }
    docs |= {
        f"users/{user.uid}/days/{today - timedelta(days=n + 1)}": stored_day(
            str(today - timedelta(days=n + 1))
        )
        for n in range(days)
    }
    seed(firebase, docs)
    return user, person


def test_backfilled_events_have_the_ids_the_live_events_have(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = consenting(firebase)
    # Live: a session completed and counted, one cancelled by the person, one running, a day
    # uploaded; the sessions' live paths run here, as their count task and trigger run them.
    running = session_doc(status="active", minutes=60, strictness="harder")
    ended_at = datetime.now(UTC)
    cancelled = running | {"status": "cancelled", "endedAt": ended_at, "endReason": "cancelled"}
    mine = f"users/{user.uid}/sessions"
    seed(
        firebase,
        {
            f"{mine}/s-done": session_doc(status="completed"),
            f"{mine}/s-cancel": cancelled,
            f"{mine}/s-running": session_doc(status="active"),
        },
    )
    sessions.ensure_counted(user.uid, "s-done", datetime.now(UTC))
    completions.session_written(
        user.uid, "s-cancel", cancelled, ended_at, datetime.now(UTC), before=running
    )
    report = {
        "day": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
        "timezone": "Europe/Berlin",
        "screenTimeMinutes": 90,
        "pickups": 40,
        "focusedMinutes": 60,
        "asOf": datetime.now(UTC).isoformat(),
    }
    payload = {"deviceId": "iphone-1", "reports": [report]}
    firebase.functions.call("uploadDailyReports", envelope(payload), user=user).unwrap()
    live = product_events.wait(person, EventName.SESSION_COMPLETED, count=2)
    live += product_events.wait(person, EventName.DAY_MERGED)
    quietly()
    already = len(product_events.of(person))

    summary = backfill()

    backfilled = product_events.of(person)[already:]
    assert ids(backfilled) == ids(live) and len(backfilled) == 3
    by_id = {m["event_id"]: m for m in live}
    for message in backfilled:
        stated = by_id[message["event_id"]]
        assert (message["event_name"], message["person_id"]) == (
            stated["event_name"],
            stated["person_id"],
        )
        assert properties(message) == properties(stated)
        if message["event_name"] == EventName.SESSION_COMPLETED:
            assert message["event_time"] == stated["event_time"]  # when the session ended
    assert summary["thisRun"] == {
        "scanned": 4,
        "published": 3,
        "notYet": 1,  # the running session states nothing yet
        "skipped": 0,
        "failed": 0,
    }
    assert "docs/s" in summary["stderr"]  # the progress bar


def test_a_finished_backfill_publishes_nothing_again_until_it_is_restarted(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    _, person = person_with_history(firebase, sessions=3, days=2)

    first = backfill()
    published = product_events.wait(person, EventName.SESSION_COMPLETED, count=3)
    published += product_events.wait(person, EventName.DAY_MERGED, count=2)
    again = backfill()
    quietly()

    assert first["progress"]["finishedAt"] and first["progress"]["cursor"] is None
    assert again["alreadyFinished"] is True and again["thisRun"]["scanned"] == 0
    assert len(product_events.of(person)) == 5

    restarted = backfill("--restart")

    assert restarted["thisRun"]["published"] == 5
    everything = product_events.wait(person, EventName.SESSION_COMPLETED, count=6)
    everything += product_events.wait(person, EventName.DAY_MERGED, count=4)
    assert ids(everything) == ids(published) and len(ids(published)) == 5


def test_an_interrupted_backfill_resumes_after_its_last_saved_page(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = person_with_history(firebase, sessions=30, days=2)

    stopped = backfill("--limit", "12")
    saved = firebase.firestore.as_owner().get(PROGRESS) or {}
    resumed = backfill()

    assert stopped["thisRun"]["published"] == 12 and stopped["progress"]["finishedAt"] is None
    assert saved["cursor"] == f"users/{user.uid}/sessions/s-011"
    assert (saved["stage"], saved["scanned"], saved["published"]) == ("sessions", 12, 12)
    assert resumed["thisRun"]["published"] == 20  # the other 18 sessions and the 2 days
    assert resumed["progress"]["finishedAt"] and resumed["progress"]["published"] == 32
    sessions = product_events.wait(person, EventName.SESSION_COMPLETED, count=30)
    days = product_events.wait(person, EventName.DAY_MERGED, count=2)
    quietly()
    assert len(product_events.of(person)) == 32  # none published twice
    assert len(ids(sessions + days)) == 32


def test_a_dry_run_counts_and_publishes_and_writes_nothing(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    _, person = person_with_history(firebase, sessions=4, days=1)

    summary = backfill("--dry-run")
    quietly()

    assert summary["dryRun"] is True
    assert summary["thisRun"] == {
        "scanned": 5,
        "published": 5,  # would be
        "notYet": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert product_events.of(person) == []
    assert firebase.firestore.as_owner().get(PROGRESS) is None


def test_nothing_is_backfilled_for_a_person_who_does_not_consent_now(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    _, person = person_with_history(firebase, sessions=2)
    never = launched_user(firebase)  # never consented: no key either
    withdrew, withdrawn_person = consenting(firebase)
    firebase.functions.call(
        "setConsent", envelope(CONSENT | {"granted": False}), user=withdrew
    ).unwrap()
    seed(
        firebase,
        {
            f"users/{uid}/sessions/s-{n}": counted_session()
            for uid in (never.uid, withdrew.uid)
            for n in range(3)
        },
    )

    summary = backfill()
    product_events.wait(person, EventName.SESSION_COMPLETED, count=2)
    quietly()

    assert (summary["thisRun"]["published"], summary["thisRun"]["skipped"]) == (2, 6)
    assert product_events.of(withdrawn_person, EventName.SESSION_COMPLETED) == []
    key = firebase.firestore.as_owner().get(f"users/{never.uid}/analyticsKeys/current")
    assert key is None  # the backfill never makes a key


def test_a_poison_document_is_counted_and_logged_and_the_run_goes_on(
    firebase: EmulatorSuite, product_events: ProductEvents
) -> None:
    user, person = person_with_history(firebase, sessions=2, days=1)
    seed(
        firebase,
        {
            f"users/{user.uid}/sessions/s-000a": {"status": "completed", "plannedEnd": "soon"},
            f"users/{user.uid}/days/2026-13-40": stored_day("not a day"),
        },
    )

    summary = backfill()

    assert summary["progress"]["finishedAt"]
    assert summary["thisRun"]["failed"] == 2 and summary["thisRun"]["published"] == 3
    product_events.wait(person, EventName.SESSION_COMPLETED, count=2)
    product_events.wait(person, EventName.DAY_MERGED)
    poison = [
        json.loads(line)
        for line in summary["stderr"].splitlines()
        if line.startswith("{") and "poison item skipped" in line
    ]
    assert [line["kind"] for line in poison] == ["sessions", "days"]
    assert user.uid not in summary["stderr"]  # the owner appears as a pseudonym

"""The cost of a typical person-day, flow by flow (scripts/cost-model, docs/performance.md "Cost
per person-day"): each flow of the day runs against the emulators for a person with two devices,
and what every invocation it caused read and wrote, by the functions' own counters, is exactly
the figure the cost model prices. A change that makes a flow dearer (or cheaper) fails here
until scripts/lib/cost_model.py and the documents say so."""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import block_doc, envelope, launched_user, register_device
from emulator_log import person_requests
from test_reports import report

from firebase_emulator_harness import EmulatorSuite, User, wait_for

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))
import cost_model  # noqa: E402 - scripts/lib is not a package

DEVICES = ("iphone-1", "ipad-1")
# No new request line for this long: the flow's background work is done (a silent sync push waits
# out its coalescing window, 10 s on the local suite, before its task runs).
QUIET_SECONDS = 12.0


def token(device: str) -> str:
    return f"fcm-token:{device}-" + "x" * 120


def runs_of(user: User) -> list[dict[str, Any]]:
    """The person's request lines so far; a task the emulator delivered before its schedule time
    (it fails, and is retried) is left out: Cloud Tasks never delivers early (cost_model)."""
    return [
        line
        for line in person_requests(user.uid)
        if not (line.get("kind") == "task" and line.get("outcome") != "ok")
    ]


def settled(firebase: EmulatorSuite, user: User) -> int:
    """How many request lines the person has once nothing new arrived for QUIET_SECONDS and no
    push is still owed (a silent sync push waits out its coalescing window, and on a busy machine
    its task may run later than that: it belongs to the change that owed it, not to the next)."""
    seen, since = len(runs_of(user)), time.monotonic()
    deadline = since + 120.0
    while time.monotonic() - since < QUIET_SECONDS or owes_push(firebase, user):
        assert time.monotonic() < deadline, "the background never settled"
        time.sleep(0.5)
        now = len(runs_of(user))
        if now != seen:
            seen, since = now, time.monotonic()
    return seen


def owes_push(firebase: EmulatorSuite, user: User) -> bool:
    """A push of the person's is due within the minute and not sent yet (one held back to the
    morning by quiet hours is due later: nothing the flow waits for)."""
    soon = datetime.now(UTC) + timedelta(minutes=1)
    return any(
        entry.get("state") in {"pending", "sending"} and entry.get("dueAt", soon) < soon
        for _, entry in firebase.firestore.as_owner().query(f"users/{user.uid}/outbox")
    )


def person(firebase: EmulatorSuite) -> User:
    """A person who has used the app before on two devices, each with its push token."""
    user = launched_user(firebase)
    register_device(firebase, user, DEVICES[1])
    for device in DEVICES:
        firebase.functions.call(
            "registerPushToken", envelope({"deviceId": device, "token": token(device)}), user=user
        ).unwrap()
    return user


def measured(
    firebase: EmulatorSuite, user: User, flow: Callable[[], Any], expected: cost_model.Flow
) -> list[cost_model.Run]:
    """The invocations ``flow`` caused, the callable's first, each with its reads and writes."""
    before = settled(firebase, user)
    flow()
    names = sorted(run.function for run in expected.runs)
    with contextlib.suppress(AssertionError):  # timed out: the comparison shows what ran
        wait_for(
            lambda: sorted(line["function"] for line in runs_of(user)[before:]) == names or None,
            timeout=60.0,
            message=f"{expected.name}: runs {names}",
        )
    lines = runs_of(user)[: settled(firebase, user)][before:]
    runs = [
        cost_model.Run(line["function"], line["firestoreReads"], line["firestoreWrites"])
        for line in lines
    ]
    head = [run for run in runs if run.function == expected.callable]
    return head + sorted(
        (run for run in runs if run.function != expected.callable), key=_order(expected)
    )


def _order(expected: cost_model.Flow) -> Callable[[cost_model.Run], tuple[int, int, int]]:
    """The model's order of runs (the same function may run twice: the costlier first)."""
    rank = {run.function: i for i, run in reversed(list(enumerate(expected.runs)))}
    return lambda run: (rank.get(run.function, len(rank)), -run.reads, -run.writes)


def flow_named(name: str) -> cost_model.Flow:
    return next(flow for flow in cost_model.FLOWS if flow.name.startswith(name))


def call(firebase: EmulatorSuite, user: User, name: str, payload: dict[str, Any]) -> Any:
    return firebase.functions.call(name, envelope(payload), user=user).unwrap()


def test_a_returning_launch(firebase: EmulatorSuite) -> None:
    user, model = person(firebase), flow_named("launch")

    runs = measured(firebase, user, lambda: call(firebase, user, "launch", {}), model)

    assert runs == list(model.runs)


def test_a_push_token_refresh(firebase: EmulatorSuite) -> None:
    user, model = person(firebase), flow_named("registerPushToken")
    refresh = {"deviceId": DEVICES[0], "token": token(DEVICES[0])}

    runs = measured(
        firebase, user, lambda: call(firebase, user, "registerPushToken", refresh), model
    )

    assert runs == list(model.runs)


def test_an_upload_of_the_day_that_changes_it(firebase: EmulatorSuite) -> None:
    user, model = person(firebase), flow_named("uploadDailyReports")
    today = datetime.now(UTC).date().isoformat()
    call(
        firebase,
        user,
        "uploadDailyReports",
        {"deviceId": DEVICES[0], "reports": [report(today, screen=60)]},
    )
    later = {"deviceId": DEVICES[0], "reports": [report(today, screen=90)]}

    runs = measured(
        firebase, user, lambda: call(firebase, user, "uploadDailyReports", later), model
    )

    assert runs == list(model.runs)


def test_a_session_started_and_completed_on_one_device(firebase: EmulatorSuite) -> None:
    user, model = person(firebase), flow_named("session")
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/sessions/morning"
    now = datetime.now(UTC)
    # Completed by the device (at its planned end, which may be up to a minute ahead) and counted
    # before the planned-end task arrives: that task then only finds it done. (When the task
    # races the count it checks the count itself: the count is idempotent, the cost is not.)
    end = now + timedelta(seconds=40)
    session = {
        "schemaVersion": 1,
        "status": "active",
        "strictness": "easy",
        "plannedStart": now - timedelta(minutes=2),
        "plannedEnd": end,
        "updatedBy": DEVICES[0],
    }

    def start_and_complete() -> None:
        db.create(path, session)
        db.update(path, {"status": "completed", "endedAt": end, "endReason": "completed"})

    runs = measured(firebase, user, start_and_complete, model)

    # Which of the count task and the planned-end task counts the session, whether both publish
    # the completion, and whether the last silent push is still owed, depend on timing: no run
    # the model lacks, and at most the model's figures (the costlier order).
    ran = Counter(run.function for run in runs)
    assert not ran - Counter(run.function for run in model.runs), ran
    assert sum(run.reads for run in runs) <= sum(run.reads for run in model.runs)
    assert sum(run.writes for run in runs) <= sum(run.writes for run in model.runs)


def test_a_block_edited_on_one_device(firebase: EmulatorSuite) -> None:
    user, model = person(firebase), flow_named("block")
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/blocks/evenings"
    db.create(path, block_doc("schedule", updatedBy=DEVICES[0]))

    # The app names the device that made the edit, so only the other device is woken.
    edit = {"name": "Evenings, no phone", "updatedBy": DEVICES[0]}
    runs = measured(firebase, user, lambda: db.update(path, edit), model)

    assert runs == list(model.runs)


def test_the_day_is_the_limits_simulations_typical_day() -> None:
    import limits_sim

    day = limits_sim.PersonDay()
    per_day = {flow.name.split(" ")[0]: flow.per_day for flow in cost_model.FLOWS}

    assert per_day["launch"] == per_day["registerPushToken"] == day.launches
    assert per_day["uploadDailyReports"] == day.uploads
    assert per_day["session"] == day.sessions
    assert per_day["block"] == day.block_edits
    assert len(DEVICES) == 1 + day.other_devices

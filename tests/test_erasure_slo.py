"""The erasure SLO (every erasure done within 24 hours of its request): an hourly check logs each
open erasure's age, which the alerts read, and restarts one that stalled, so an erasure whose
task gave up or was lost still finishes (docs/runbooks/erasure-overdue.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import envelope
from emulator_log import wait_for_lines

from firebase_emulator_harness import EmulatorSuite, wait_for
from focus.services.privacy import erasure


def test_a_stalled_erasure_is_reported_overdue_and_restarted_by_the_hourly_check(
    firebase: EmulatorSuite,
) -> None:
    person = firebase.auth.create_user("forgotten@example.com")
    firebase.functions.call("launch", envelope(), user=person).unwrap()
    # Asked for a day and a half ago; its task was lost and nothing has moved since.
    requested = erasure.request(person.uid, datetime.now(UTC), via="app", enqueue=False)
    long_ago = datetime.now(UTC) - timedelta(hours=36)
    firebase.firestore.as_owner().update(
        f"erasures/{requested.erasure_id}", {"requestedAt": long_ago, "updatedAt": long_ago}
    )

    firebase.functions.run_scheduled("check_open_erasures")

    (line,) = wait_for_lines(
        lambda line: (
            line.get("message") == "erasure open" and line.get("erasureId") == requested.erasure_id
        ),
        message="the open erasure logged",
    )
    assert line["overdue"] is True and line["restarted"] is True
    assert line["erasureAgeMs"] >= timedelta(hours=36).total_seconds() * 1000
    assert "uid" not in line and person.uid not in str(line)  # the erasure id is a pseudonym
    checked = wait_for_lines(
        lambda line: line.get("message") == "erasures checked", message="the check's summary"
    )
    assert checked[-1]["overdue"] >= 1 and checked[-1]["restarted"] >= 1
    audit = wait_for(lambda: finished(firebase, requested.erasure_id), timeout=40, message="done")
    assert audit["documentsDeleted"]["users"] == 1
    assert firebase.firestore.as_owner().get(f"users/{person.uid}") is None


def finished(firebase: EmulatorSuite, erasure_id: str) -> dict[str, Any] | None:
    audit = firebase.firestore.as_owner().get(f"erasureAudit/{erasure_id}")
    return audit if audit is not None and audit.get("state") == "erased" else None

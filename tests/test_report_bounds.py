"""Bounded amplification: what one upload call can make the server do is capped and measured.

A month of days in one call used to fan out into about 527 trigger runs (each day's trigger,
its own derived writes re-firing it, streak updates of later days firing theirs), with ~625
reads and ~627 writes. Now the call records its changed days once; one trigger hands them to
one task that derives them all in one transaction, and no derived write triggers anything.
The figures below are read from the functions' own request lines (reads and writes counted by
focus.adapters.store), so they are what production would bill.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import envelope, register_device
from emulator_log import person_requests
from test_reports import report, settle

from firebase_emulator_harness import EmulatorSuite, User, wait_for

MONTH = 31
# Upper bounds documented in docs/data-model.md ("Cost per flow"), per upload call of D days:
# the call reads D + 5 (the upgrade gate's config is cached by then; the analytics consent comes
# with the profile) and writes D + 4; its derivation reads at most D + 3 (days from the earliest)
# + 6 weeks + 4 and writes at most 3 per day + 6 weeks + 3.
DERIVED_READS_PER_CALL = MONTH + 3 + 6 + 4
DERIVED_WRITES_PER_CALL = 3 * MONTH + 6 + 3


def month(tz: str = "Europe/Berlin", screen: int = 60) -> list[dict[str, Any]]:
    today = datetime.now(UTC).date()
    return [
        report((today - timedelta(days=n)).isoformat(), screen=screen, tz=tz)
        for n in range(MONTH - 1, -1, -1)
    ]


def background_lines(user: User) -> list[dict[str, Any]]:
    """The request lines of every background invocation done for ``user`` so far, but for the
    device registrations the test makes itself (they are not the upload's doing)."""
    return [
        line
        for line in person_requests(user.uid)
        if line.get("kind") in {"firestore", "task", "pubsub"}
        and line.get("function") != "on_device_created"
    ]


def settled_cost(
    firebase: EmulatorSuite, user: User, days: list[str], runs: list[str]
) -> dict[str, Any]:
    """The background cost once the days are derived and the expected ``runs`` have logged."""
    settle(firebase, user, *days)
    wait_for(
        lambda: not firebase.firestore.as_owner().query(f"users/{user.uid}/dayChanges"),
        message="change records consumed",
    )
    wait_for(
        lambda: sorted(line["function"] for line in background_lines(user)) == sorted(runs),
        message=f"background runs {sorted(runs)}",
    )
    lines = background_lines(user)
    return {
        "runs": sorted(line["function"] for line in lines),
        "reads": sum(line["firestoreReads"] for line in lines),
        "writes": sum(line["firestoreWrites"] for line in lines),
    }


def test_a_month_uploaded_in_one_call_is_derived_once(firebase: EmulatorSuite, user: User) -> None:
    reports = month()
    answer = firebase.functions.call(
        "uploadDailyReports", envelope({"deviceId": "iphone-1", "reports": reports}), user=user
    ).unwrap()

    # The derivation's write of the profile's streak fires the profile trigger, which reads
    # nothing when the settings did not change.
    derivation = ["on_days_changed", "deriveDays", "on_profile_updated"]
    cost = settled_cost(firebase, user, [r["day"] for r in reports], derivation)
    print(f"\n31-day upload: call {answer['meta']['usage']}, background {cost}")

    assert answer["meta"]["usage"] == {"reads": MONTH + 5, "writes": MONTH + 4}
    assert cost["reads"] <= DERIVED_READS_PER_CALL
    assert cost["writes"] <= DERIVED_WRITES_PER_CALL


def test_uploading_the_month_again_from_another_device_costs_one_derivation_again(
    firebase: EmulatorSuite, user: User
) -> None:
    firebase.functions.call(
        "uploadDailyReports", envelope({"deviceId": "iphone-1", "reports": month()}), user=user
    ).unwrap()
    derivation = ["on_days_changed", "deriveDays"]
    first = settled_cost(
        firebase, user, [r["day"] for r in month()], [*derivation, "on_profile_updated"]
    )
    register_device(firebase, user, "ipad-1")

    firebase.functions.call(
        "uploadDailyReports",
        envelope({"deviceId": "ipad-1", "reports": month(screen=20)}),
        user=user,
    ).unwrap()
    # The second device's smaller screen time changes no streak: no profile write this time.
    both = settled_cost(firebase, user, [r["day"] for r in month()], [*derivation, *first["runs"]])

    assert both["writes"] - first["writes"] <= DERIVED_WRITES_PER_CALL

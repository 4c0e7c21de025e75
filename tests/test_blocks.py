"""Blocks (schedules, time limits, app locks): what devices may write, and how an edit on one
device reaches the others (the profile's sync marker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import block_doc, make_pro
from emulator_log import wait_for_lines

from firebase_emulator_harness import EmulatorSuite, User, assert_allowed, assert_denied, wait_for
from focus.adapters.logs import pseudonymous_user_id
from focus.domain.blocks import MAX_BLOCKS_PER_PERSON


def sync_marker(firebase: EmulatorSuite, user: User) -> datetime | None:
    profile = firebase.firestore.as_owner().get(f"users/{user.uid}") or {}
    return (profile.get("sync") or {}).get("blocksChangedAt")


def test_a_block_edited_on_one_device_moves_the_sync_marker_the_others_watch(
    firebase: EmulatorSuite, user: User
) -> None:
    db = firebase.firestore.as_user(user)
    db.create(f"users/{user.uid}/blocks/evenings", block_doc("schedule"))
    first = wait_for(lambda: sync_marker(firebase, user), message="sync marker set")

    db.update(f"users/{user.uid}/blocks/evenings", {"name": "Evenings, no phone"})

    second = wait_for(
        lambda: (m := sync_marker(firebase, user)) and m > first and m, message="marker moved"
    )
    assert second > first
    # The other device reads the marker from its own profile (rules allow it).
    assert (
        firebase.firestore.as_user(user).get(f"users/{user.uid}")["sync"]["blocksChangedAt"]
        == second
    )


def test_each_kind_of_block_is_accepted_with_its_own_rule(
    firebase: EmulatorSuite, user: User
) -> None:
    db = firebase.firestore.as_user(user)
    for kind in ("schedule", "timeLimit", "appLock"):
        assert_allowed(
            lambda kind=kind: db.create(f"users/{user.uid}/blocks/{kind}", block_doc(kind))
        )


def test_blocks_belong_to_their_owner(firebase: EmulatorSuite, user: User) -> None:
    other = firebase.auth.sign_up_anonymously()
    firebase.firestore.as_user(user).create(f"users/{user.uid}/blocks/b", block_doc())

    assert_denied(lambda: firebase.firestore.as_user(other).get(f"users/{user.uid}/blocks/b"))
    assert_denied(
        lambda: firebase.firestore.as_user(other).set(f"users/{user.uid}/blocks/c", block_doc())
    )
    assert_denied(lambda: firebase.firestore.unauthenticated().get(f"users/{user.uid}/blocks/b"))


def test_malformed_blocks_are_refused(firebase: EmulatorSuite, user: User) -> None:
    db = firebase.firestore.as_user(user)
    base = f"users/{user.uid}/blocks"

    assert_denied(
        lambda: db.create(
            f"{base}/a", block_doc(kind="timeLimit", timeLimit=None) | {"appLock": {}}
        )
    )
    assert_denied(lambda: db.create(f"{base}/b", block_doc(strictness="impossible")))
    assert_denied(lambda: db.create(f"{base}/c", block_doc(name="x" * 81)))
    assert_denied(lambda: db.create(f"{base}/d", block_doc(extra="field")))
    assert_denied(lambda: db.create(f"{base}/e", block_doc(suspendedUntil=datetime.now(UTC))))
    eleven_devices = {f"d{n}": {"apps": []} for n in range(11)}
    assert_denied(lambda: db.create(f"{base}/f", block_doc(selection=eleven_devices)))


def test_vacation_pauses_a_block_for_one_to_thirty_days_or_indefinitely(
    firebase: EmulatorSuite, user: User
) -> None:
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/blocks/limit"
    db.create(path, block_doc())
    now = datetime.now(UTC)

    assert_allowed(
        lambda: db.update(path, {"vacation": {"since": now, "until": now + timedelta(days=7)}})
    )
    assert_allowed(lambda: db.update(path, {"vacation": {"since": now}}))
    assert_denied(
        lambda: db.update(path, {"vacation": {"since": now, "until": now + timedelta(days=31)}})
    )
    assert_denied(
        lambda: db.update(path, {"vacation": {"since": now, "until": now + timedelta(hours=2)}})
    )


def test_hardcore_is_a_pro_feature(firebase: EmulatorSuite, user: User) -> None:
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/blocks/strict"

    assert_denied(lambda: db.create(path, block_doc(strictness="hardcore")))
    make_pro(firebase, user)
    assert_allowed(lambda: db.create(path, block_doc(strictness="hardcore")))


def test_a_hardcore_block_cannot_be_escaped_from_the_device(
    firebase: EmulatorSuite, user: User
) -> None:
    make_pro(firebase, user)
    db = firebase.firestore.as_user(user)
    path = f"users/{user.uid}/blocks/strict"
    db.create(path, block_doc(strictness="hardcore"))
    now = datetime.now(UTC)

    assert_denied(lambda: db.delete(path))
    assert_denied(lambda: db.update(path, {"strictness": "easy"}))
    assert_denied(lambda: db.update(path, {"vacation": {"since": now}}))
    assert_denied(lambda: db.update(path, {"suspendedUntil": now + timedelta(days=1)}))
    # Planned a day ahead, a vacation is fine even in hardcore.
    later = now + timedelta(days=2)
    assert_allowed(
        lambda: db.update(path, {"vacation": {"since": later, "until": later + timedelta(days=3)}})
    )


def test_a_blocks_rule_must_fit_its_kind(firebase: EmulatorSuite, user: User) -> None:
    db = firebase.firestore.as_user(user)
    base = f"users/{user.uid}/blocks"

    assert_denied(
        lambda: db.create(f"{base}/a", block_doc("timeLimit", timeLimit={"dailyMinutes": 0}))
    )
    assert_denied(
        lambda: db.create(f"{base}/b", block_doc("appLock", appLock={"unlocksPerDay": 3}))
    )
    assert_denied(
        lambda: db.create(
            f"{base}/c",
            block_doc("schedule", schedule={"weekdays": [1], "start": "25:00", "end": "07:00"}),
        )
    )


def test_a_selection_holds_per_device_lists_of_at_most_1500_tokens(
    firebase: EmulatorSuite, user: User
) -> None:
    db = firebase.firestore.as_user(user)
    base = f"users/{user.uid}/blocks"

    def with_device(device: object) -> dict[str, object]:
        return block_doc(selection={"iphone": device})

    def tokens(count: int) -> list[str]:
        return [f"token-{n}" for n in range(count)]

    refused = {
        "a device's tokens not a map": with_device(["app"]),
        "an unknown list": with_device({"apps": [], "widgets": []}),
        "apps not a list": with_device({"apps": "all"}),
        "categories not a list": with_device({"categories": {"games": True}}),
        "web domains not a list": with_device({"webDomains": "example.com"}),
        "1,501 tokens on a device": with_device(
            {"apps": tokens(500), "categories": tokens(500), "webDomains": tokens(501)}
        ),
    }
    for label, doc in refused.items():
        try:
            assert_denied(lambda doc=doc: db.create(f"{base}/refused", doc))
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None

    assert_allowed(lambda: db.create(f"{base}/bare", with_device({})))
    full = {"apps": tokens(500), "categories": tokens(500), "webDomains": tokens(500)}
    assert_allowed(lambda: db.create(f"{base}/full", with_device(full)))
    assert db.get(f"{base}/full")["selection"] == {"iphone": full}


def test_every_one_of_ten_devices_in_a_selection_is_checked(
    firebase: EmulatorSuite, user: User
) -> None:
    db = firebase.firestore.as_user(user)
    base = f"users/{user.uid}/blocks"
    ten = {f"device{n}": {"apps": [f"app-{n}"]} for n in range(10)}

    for n in range(10):
        malformed = ten | {f"device{n}": {"apps": f"app-{n}"}}
        assert_denied(
            lambda malformed=malformed: db.create(f"{base}/b", block_doc(selection=malformed))
        )
    assert_allowed(lambda: db.create(f"{base}/b", block_doc(selection=ten)))
    assert db.get(f"{base}/b")["selection"] == ten


def test_a_block_created_over_the_cap_of_100_is_removed_and_the_others_stay(
    firebase: EmulatorSuite, user: User
) -> None:
    """Rules cannot count a collection: the block trigger counts after each creation and removes
    a new block over the cap, with a log line; existing blocks (hardcore ones too) stay."""
    make_pro(firebase, user)
    base = f"users/{user.uid}/blocks"
    owner = firebase.firestore.as_owner()
    with firebase.functions.background_triggers_disabled():  # arranging 98 quietly
        owner.set(f"{base}/hard", block_doc(strictness="hardcore"))
        for n in range(MAX_BLOCKS_PER_PERSON - 2):
            owner.set(f"{base}/b{n:03d}", block_doc())
    db = firebase.firestore.as_user(user)
    pseudonym = pseudonymous_user_id(user.uid)

    def block_runs(count: int) -> None:
        wait_for_lines(
            lambda line: (
                line.get("message") == "request"
                and line.get("function") == "on_block_written"
                and line.get("user") == pseudonym
            ),
            count=count,
            message=f"{count} on_block_written runs",
            timeout=90,
        )

    assert_allowed(lambda: db.create(f"{base}/hundredth", block_doc()))
    block_runs(1)  # counted: 100, within the cap
    assert_allowed(lambda: db.create(f"{base}/one-too-many", block_doc(strictness="hardcore")))

    wait_for(lambda: db.get(f"{base}/one-too-many") is None, message="removed", timeout=60)
    (removed,) = wait_for_lines(
        lambda line: (
            line.get("message") == "block over the cap removed" and line.get("owner") == pseudonym
        ),
        message="the removal is logged",
    )
    assert (removed["blocks"], removed["cap"]) == (101, 100)
    remaining = {path.rsplit("/", 1)[1] for path, _ in owner.query(base)}
    assert len(remaining) == MAX_BLOCKS_PER_PERSON
    assert {"hard", "hundredth"} <= remaining

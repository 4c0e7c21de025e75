"""Pseudonym key rotation: users appear in logs and erasure ids as a keyed hash, and the key can be
replaced. ``USER_PSEUDONYM_KEY`` holds a key ring (``v<N>:<key>`` entries, the current key
first): new pseudonyms are made with the current key and say which version made them, while
pseudonyms made with a retained older key still lead to the person, so an erasure asked for
before a rotation is found after it (docs/runbooks/pseudonym-key-rotation.md)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from conftest import envelope

from firebase_emulator_harness import EmulatorSuite, User, wait_for
from focus.adapters import logs
from focus.services.privacy import erasure

UID = "uid-ada-123"
OLD_KEY = "a-long-random-production-key"  # the single key set before key versions existed
NEW_KEY = "Zm9jdXMtcm90YXRlZC1rZXktMjAyNg"


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A production process: no emulator, a real project; the key ring is set per test."""
    for var in (logs.PSEUDONYM_KEY_SECRET, "FIRESTORE_EMULATOR_HOST", "FUNCTIONS_EMULATOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(logs, "project_id", lambda: "focus-production")
    return monkeypatch


def with_key(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(logs.PSEUDONYM_KEY_SECRET, value)


# -- pure: the key ring ---------------------------------------------------------------------------


def test_the_single_key_set_before_rotation_existed_is_version_1_and_its_pseudonyms_stay(
    production: pytest.MonkeyPatch,
) -> None:
    with_key(production, OLD_KEY)
    before = logs.pseudonymous_user_id(UID)

    with_key(production, f"v1:{OLD_KEY}")

    assert logs.pseudonymous_user_id(UID) == before  # logs and erasure ids keep their ids
    assert logs.pseudonyms_of(UID) == (before,)


def test_after_a_rotation_new_log_lines_use_the_new_key_and_say_its_version(
    production: pytest.MonkeyPatch,
) -> None:
    with_key(production, OLD_KEY)
    old = logs.pseudonymous_user_id(UID)
    with_key(production, f"v2:{NEW_KEY} v1:{OLD_KEY}")
    stream = io.StringIO()
    logs.configure("api", stream=stream)

    logs.bind_invocation(function="launch", user_id=UID)
    logs.get_logger().info("request")

    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["user"] == logs.pseudonymous_user_id(UID)
    assert line["user"].startswith("v2-") and line["user"] != old
    assert UID not in json.dumps(line)


def test_after_a_rotation_the_old_pseudonym_still_leads_to_the_person(
    production: pytest.MonkeyPatch,
) -> None:
    with_key(production, OLD_KEY)
    old = logs.pseudonymous_user_id(UID)

    with_key(production, f"v2:{NEW_KEY}\nv1:{OLD_KEY}")

    new = logs.pseudonymous_user_id(UID)
    assert logs.pseudonyms_of(UID) == (new, old)  # current first, then every key still held
    assert erasure.erasure_ids(UID) == (new, old)
    assert old not in logs.pseudonyms_of("uid-someone-else")


def test_a_staged_key_is_known_before_it_becomes_current(
    production: pytest.MonkeyPatch,
) -> None:
    """Rotation in two deploys: first every codebase learns the new key (still signing with the
    old one), then the new key becomes current; no codebase ever meets an id it cannot find."""
    with_key(production, OLD_KEY)
    old = logs.pseudonymous_user_id(UID)

    with_key(production, f"v1:{OLD_KEY},v2:{NEW_KEY}")
    staged = logs.pseudonyms_of(UID)
    with_key(production, f"v2:{NEW_KEY},v1:{OLD_KEY}")
    switched = logs.pseudonyms_of(UID)

    assert staged[0] == old and switched[0] != old
    assert set(staged) == set(switched)


def test_pseudonyms_of_different_key_versions_never_collide(
    production: pytest.MonkeyPatch,
) -> None:
    """The same key under two versions still gives distinguishable pseudonyms."""
    with_key(production, f"v3:{NEW_KEY} v2:{NEW_KEY}")

    v3, v2 = logs.pseudonyms_of(UID)

    assert v3.startswith("v3-") and v2.startswith("v2-")
    assert v3.removeprefix("v3-") == v2.removeprefix("v2-") and v3 != v2


@pytest.mark.parametrize(
    "ring",
    [
        f"v2:{NEW_KEY} v1",  # an entry without its key
        f"v2:{NEW_KEY} {OLD_KEY}",  # a key without its version
        f"v2:{NEW_KEY} v2:{OLD_KEY}",  # one version, two keys
        f"v2:{NEW_KEY} v0:{OLD_KEY}",  # versions start at 1
    ],
)
def test_an_unreadable_key_ring_fails_loudly_without_showing_a_key(
    production: pytest.MonkeyPatch, ring: str
) -> None:
    with_key(production, ring)

    with pytest.raises(logs.MalformedPseudonymKeys) as raised:
        logs.pseudonymous_user_id(UID)

    assert NEW_KEY not in str(raised.value) and OLD_KEY not in str(raised.value)


def test_there_is_no_fallback_key_in_production(production: pytest.MonkeyPatch) -> None:
    with_key(production, "")

    with pytest.raises(logs.MissingPseudonymKey):
        logs.pseudonymous_user_id(UID)
    with pytest.raises(logs.MissingPseudonymKey):
        erasure.erasure_ids(UID)


# -- against the emulators: erasure across a rotation ---------------------------------------------


@pytest.fixture
def person(firebase: EmulatorSuite) -> User:
    user = firebase.auth.create_user("erase.me@example.com")
    firebase.functions.call("launch", envelope(), user=user).unwrap()
    return user


def rotate(monkeypatch: pytest.MonkeyPatch, firebase: EmulatorSuite) -> None:
    """This test process moves to a new current key, keeping the suite's key as version 1 (the
    functions keep the suite's single key: the emulator reads it from .secret.local)."""
    with_key(monkeypatch, f"v2:{NEW_KEY} v1:emulator:{firebase.project}")


def test_an_erasure_asked_for_before_a_rotation_is_continued_after_it_not_started_again(
    firebase: EmulatorSuite, person: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = erasure.request(person.uid, datetime.now(UTC), via="app", enqueue=False)
    rotate(monkeypatch, firebase)

    after = erasure.request(person.uid, datetime.now(UTC), via="app", enqueue=False)

    assert (after.erasure_id, after.started, after.state) == (before.erasure_id, False, "erasing")
    owner = firebase.firestore.as_owner()
    assert [path for path, _ in owner.query("erasures")] == [f"erasures/{before.erasure_id}"]
    assert [path for path, _ in owner.query("erasureAudit")] == [
        f"erasureAudit/{before.erasure_id}"
    ]
    # Someone asking only after the rotation gets an id made with the new key.
    newcomer = firebase.auth.create_user("new.here@example.com")
    fresh = erasure.request(newcomer.uid, datetime.now(UTC), via="app", enqueue=False)
    assert fresh.started and fresh.erasure_id.startswith("v2-")


def test_a_finished_erasure_is_still_found_after_a_rotation(
    firebase: EmulatorSuite, person: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = firebase.functions.call("deleteAccount", envelope(), user=person).unwrap()["data"]
    audit_path = f"erasureAudit/{answer['erasureId']}"
    wait_for(
        lambda: (firebase.firestore.as_owner().get(audit_path) or {}).get("state") == "erased",
        timeout=40,
        message="erasure finished",
    )
    rotate(monkeypatch, firebase)

    again = erasure.request(person.uid, datetime.now(UTC), via="support", enqueue=False)

    assert (again.erasure_id, again.started, again.state) == (answer["erasureId"], False, "erased")
    assert firebase.firestore.as_owner().query("erasures") == []  # nothing restarted

"""The harness's own specification, run against the real emulators with rules of its own.

Nothing here knows the product: each test loads the tiny rules below, and the plugin restores the
project's configured rules afterwards. The start/stop tests start a second, tiny suite (the Auth
emulator alone) on ports the running suite already holds.
"""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from firebase_emulator_harness import (
    DocumentData,
    EmulatorError,
    EmulatorNotRunning,
    EmulatorSuite,
    PermissionDenied,
    assert_allowed,
    assert_denied,
    emulators,
    wait_for,
)
from firebase_emulator_harness.functions import FunctionsEmulator

pytest_plugins = ["pytester"]

NOTES_RULES = """
rules_version = '2';
service cloud.firestore {
  match /databases/{database}/documents {
    match /notes/{owner}/items/{item} {
      allow read, write: if request.auth != null && request.auth.uid == owner;
    }
    match /public/{doc} {
      allow read: if true;
      allow write: if request.auth != null && request.auth.token.admin == true;
    }
  }
}
"""


@pytest.fixture
def notes(firebase: EmulatorSuite, firestore_rules: Callable[[str], None]) -> EmulatorSuite:
    firestore_rules(NOTES_RULES)
    return firebase


def test_users_get_real_id_tokens_from_the_auth_emulator(firebase: EmulatorSuite) -> None:
    anonymous = firebase.auth.sign_up_anonymously()
    named = firebase.auth.create_user("lin@example.com")

    assert anonymous.anonymous and anonymous.uid != named.uid
    assert anonymous.id_token.count(".") == 2
    assert (firebase.auth.lookup(named.uid) or {})["email"] == "lin@example.com"


def test_as_uid_signs_in_the_uid_asked_for_with_its_claims_in_the_token(
    notes: EmulatorSuite,
) -> None:
    alice = notes.as_uid("alice")
    boss = notes.auth.as_uid("boss", claims={"admin": True})

    assert (alice.uid, boss.uid, boss.claims) == ("alice", "boss", {"admin": True})
    assert_allowed(lambda: notes.firestore.as_user(alice).set("notes/alice/items/1", {"n": 1}))
    assert_denied(lambda: notes.firestore.as_user(alice).get("notes/boss/items/1"))
    assert_denied(lambda: notes.firestore.as_user(alice).set("public/notice", {"text": "hi"}))
    assert_allowed(lambda: notes.firestore.as_user(boss).set("public/notice", {"text": "hi"}))
    assert (notes.auth.lookup("alice") or {})["localId"] == "alice"  # a real account


def test_as_uid_again_is_the_same_user_and_its_claims_survive_a_refresh(
    notes: EmulatorSuite,
) -> None:
    first = notes.as_uid("boss", claims={"admin": True})
    notes.firestore.as_user(first).set("notes/boss/items/1", {"n": 1})

    again = notes.auth.refresh(notes.as_uid("boss", claims={"admin": True}))

    assert notes.firestore.as_user(again).get("notes/boss/items/1") == {"n": 1}
    assert_allowed(lambda: notes.firestore.as_user(again).set("public/notice", {"text": "hi"}))
    account = notes.auth.lookup("boss") or {}
    assert "customAttributes" not in account  # token claims, not stored claims (set_claims)


def test_custom_claims_reach_the_rules_after_refresh(notes: EmulatorSuite) -> None:
    plain = notes.auth.create_user("plain@example.com")
    admin = notes.auth.create_user("admin@example.com", claims={"admin": True})

    assert_denied(lambda: notes.firestore.as_user(plain).set("public/notice", {"text": "hi"}))
    assert_allowed(lambda: notes.firestore.as_user(admin).set("public/notice", {"text": "hi"}))
    assert notes.firestore.unauthenticated().get("public/notice") == {"text": "hi"}


def test_rules_allow_a_users_own_document_and_deny_another_users(notes: EmulatorSuite) -> None:
    alice, bob = notes.auth.sign_up_anonymously(), notes.auth.sign_up_anonymously()
    path = f"notes/{alice.uid}/items/1"

    assert_allowed(lambda: notes.firestore.as_user(alice).create(path, {"text": "mine"}))
    assert_denied(lambda: notes.firestore.as_user(bob).get(path))
    assert_denied(lambda: notes.firestore.as_user(bob).set(path, {"text": "theirs"}))
    assert_denied(lambda: notes.firestore.unauthenticated().get(path))
    assert notes.firestore.as_user(alice).get(path) == {"text": "mine"}


def test_assertions_fail_when_the_rules_disagree(notes: EmulatorSuite) -> None:
    alice = notes.auth.sign_up_anonymously()
    db = notes.firestore.as_user(alice)

    with pytest.raises(AssertionError, match="expected the rules to deny"):
        assert_denied(lambda: db.set(f"notes/{alice.uid}/items/1", {"n": 1}))
    with pytest.raises(AssertionError, match="expected the rules to allow"):
        assert_allowed(lambda: db.get("notes/someone-else/items/1"))


def test_values_round_trip_through_firestore(notes: EmulatorSuite) -> None:
    owner = notes.firestore.as_owner()
    when = datetime(2026, 11, 29, 8, 30, 15, 123456, tzinfo=UTC)
    data: DocumentData = {
        "text": "é ✓",
        "count": 3,
        "ratio": 0.25,
        "flag": False,
        "none": None,
        "when": when,
        "raw": b"\x00\x01",
        "list": [1, "two", {"three": 3}],
        "map": {"nested": {"deep": True}},
    }

    owner.set("anything/doc", data)

    assert owner.get("anything/doc") == data


def test_create_update_delete_and_query(notes: EmulatorSuite) -> None:
    owner = notes.firestore.as_owner()
    owner.create("items/a", {"n": 1, "tags": ["x"], "meta": {"seen": False}})
    owner.create("items/b", {"n": 2, "tags": ["y"]})
    owner.create("items/c", {"n": 3, "tags": ["x", "y"]})

    with pytest.raises(EmulatorError):
        owner.create("items/a", {"n": 9})  # already exists
    owner.update("items/a", {"meta.seen": True, "n": 10})
    with pytest.raises(EmulatorError):
        owner.update("items/missing", {"n": 1})
    owner.delete("items/b")

    assert owner.get("items/a") == {"n": 10, "tags": ["x"], "meta": {"seen": True}}
    assert owner.get("items/b") is None
    tagged = owner.query("items", where=[("tags", "array-contains", "x")], order_by=[("n", "desc")])
    assert [path for path, _ in tagged] == ["items/a", "items/c"]
    assert owner.query("items", where=[("n", ">", 5)], limit=1) == [
        ("items/a", owner.get("items/a"))
    ]


def test_collection_group_queries_reach_every_subcollection(notes: EmulatorSuite) -> None:
    owner = notes.firestore.as_owner()
    owner.set("notes/u1/items/1", {"k": 1})
    owner.set("notes/u2/items/2", {"k": 2})

    paths = [path for path, _ in owner.query("items", all_descendants=True)]

    assert sorted(paths) == ["notes/u1/items/1", "notes/u2/items/2"]


def test_queries_as_a_user_are_checked_by_the_rules(notes: EmulatorSuite) -> None:
    alice, bob = notes.auth.sign_up_anonymously(), notes.auth.sign_up_anonymously()
    notes.firestore.as_user(alice).set(f"notes/{alice.uid}/items/1", {"n": 1})

    assert len(notes.firestore.as_user(alice).query(f"notes/{alice.uid}/items")) == 1
    with pytest.raises(PermissionDenied):
        notes.firestore.as_user(bob).query(f"notes/{alice.uid}/items")


def test_each_test_starts_with_empty_firestore_and_auth(firebase: EmulatorSuite) -> None:
    firebase.firestore.as_owner().set("leftover/doc", {"x": 1})
    firebase.auth.create_user("left@example.com")

    firebase.reset()

    assert firebase.firestore.as_owner().get("leftover/doc") is None
    assert firebase.firestore.as_owner().query("leftover") == []


def test_rule_coverage_shows_which_expressions_the_tests_exercised(notes: EmulatorSuite) -> None:
    before = notes.firestore.uncovered_expressions()
    alice = notes.auth.sign_up_anonymously()

    notes.firestore.as_user(alice).set(f"notes/{alice.uid}/items/1", {"n": 1})

    after = notes.firestore.uncovered_expressions()
    assert any("request.auth.uid == owner" in miss for miss in before)
    assert not any("request.auth.uid == owner" in miss for miss in after)
    assert any("request.auth.token.admin == true" in miss for miss in after)
    assert "Rule Coverage Report" in notes.firestore.rule_coverage_html()


def test_conditions_seen_only_passing_or_only_failing_are_reported(notes: EmulatorSuite) -> None:
    alice, bob = notes.auth.sign_up_anonymously(), notes.auth.sign_up_anonymously()
    notes.firestore.as_user(alice).set(f"notes/{alice.uid}/items/1", {"n": 1})

    only_passed = notes.firestore.one_sided_conditions()
    assert_denied(lambda: notes.firestore.as_user(bob).get(f"notes/{alice.uid}/items/1"))

    assert any("passed only" in c and "request.auth.uid == owner" in c for c in only_passed)
    assert not any("request.auth.uid == owner" in c for c in notes.firestore.one_sided_conditions())


def test_the_rule_coverage_check_adds_up_coverage_across_rule_reloads(
    firebase_suite: EmulatorSuite,
    firestore_rules: Callable[[str], None],  # the inner sessions load their own rules
    pytester: pytest.Pytester,
) -> None:
    """--rule-coverage fails a session that misses a condition, passes one that shows every
    condition passing and failing, although a test in between loads other rules."""
    pytester.makefile(".rules", firestore=NOTES_RULES.replace("public", "open"))
    pytester.makeini(
        f"""
        [pytest]
        firebase_project = {firebase_suite.project}
        firebase_rules_file = firestore.rules
        """
    )
    pytester.makepyfile(
        test_notes=f"""
        from firebase_emulator_harness import assert_allowed, assert_denied

        def test_owner_writes(firebase):
            alice = firebase.auth.sign_up_anonymously()
            path = f"notes/{{alice.uid}}/items/1"
            assert_allowed(lambda: firebase.firestore.as_user(alice).set(path, {{"n": 1}}))

        def test_other_rules_in_between(firebase, firestore_rules):
            firestore_rules({NOTES_RULES!r})

        def test_others_are_refused(firebase):
            alice, bob = firebase.auth.sign_up_anonymously(), firebase.auth.sign_up_anonymously()
            path = f"notes/{{alice.uid}}/items/1"
            assert_denied(lambda: firebase.firestore.as_user(bob).set(path, {{"n": 1}}))
            assert_denied(lambda: firebase.firestore.unauthenticated().set(path, {{"n": 1}}))
        """
    )

    partial = pytester.runpytest("--rule-coverage", "-p", "no:cacheprovider")
    partial.assert_outcomes(passed=3, failed=1)
    partial.stdout.fnmatch_lines(
        ["*expression(s) no test evaluated*", "*request.auth.token.admin == true*"]
    )

    pytester.makepyfile(
        test_open="""
        from firebase_emulator_harness import assert_allowed, assert_denied

        def test_open_notices(firebase):
            admin = firebase.auth.create_user("admin@example.com", claims={"admin": True})
            plain = firebase.auth.sign_up_anonymously()
            assert_allowed(lambda: firebase.firestore.unauthenticated().get("open/notice"))
            assert_allowed(lambda: firebase.firestore.as_user(admin).set("open/notice", {}))
            assert_denied(lambda: firebase.firestore.as_user(plain).set("open/notice", {}))
            assert_denied(lambda: firebase.firestore.unauthenticated().set("open/notice", {}))
        """
    )
    complete = pytester.runpytest("--rule-coverage", "-p", "no:cacheprovider")
    complete.assert_outcomes(passed=5)
    selected = pytester.runpytest("--rule-coverage", "-p", "no:cacheprovider", "-k", "notes")
    selected.assert_outcomes(passed=3, skipped=1, deselected=1)


def test_invalid_rules_are_refused_with_the_compiler_message(notes: EmulatorSuite) -> None:
    with pytest.raises(EmulatorError, match="rules rejected"):
        notes.firestore.load_rules(
            "rules_version = '2'; service cloud.firestore { match /x { allow read: if ; } }"
        )


def test_publishing_to_pubsub_returns_the_message_id(firebase: EmulatorSuite) -> None:
    firebase.pubsub.ensure_topic("harness-selftest")

    assert firebase.pubsub.publish("harness-selftest", {"hello": "world"}, origin="test")
    assert firebase.pubsub.publish("harness-selftest", b"\x00raw")


def test_calling_a_missing_callable_is_an_emulator_error(firebase: EmulatorSuite) -> None:
    with pytest.raises(EmulatorError):
        firebase.functions.call("noSuchFunction", {})


def test_firing_an_unknown_schedule_is_an_emulator_error(firebase: EmulatorSuite) -> None:
    with pytest.raises(EmulatorError, match="no scheduled function"):
        firebase.functions.run_scheduled("noSuchSchedule")


def test_delivering_to_an_unknown_event_function_is_an_emulator_error(
    firebase: EmulatorSuite,
) -> None:
    event = firebase.pubsub.message_event("some-topic", {"n": 1}, attributes={"a": "b"})
    with pytest.raises(EmulatorError, match="noSuchWorker"):
        firebase.functions.deliver_event("noSuchWorker", event)


def test_a_message_event_is_the_cloud_event_a_subscriber_receives(firebase: EmulatorSuite) -> None:
    event = firebase.pubsub.message_event(
        "some-topic", b"raw", attributes={"a": "b"}, message_id="42"
    )

    assert event["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert event["source"].endswith(f"/projects/{firebase.project}/topics/some-topic")
    assert event["id"] == event["data"]["message"]["messageId"] == "42"
    assert base64.b64decode(event["data"]["message"]["data"]) == b"raw"
    assert event["data"]["message"]["attributes"] == {"a": "b"}
    assert event["time"].endswith("Z")


def test_wait_for_returns_the_first_truthy_value_and_times_out_with_the_last() -> None:
    values = iter([None, 0, "ready"])

    assert wait_for(lambda: next(values), interval=0.01) == "ready"
    with pytest.raises(AssertionError, match="waiting for nothing; last value: False"):
        wait_for(lambda: False, timeout=0.05, interval=0.01, message="nothing")


def test_a_suite_that_is_not_running_is_reported_clearly() -> None:
    with pytest.raises(EmulatorNotRunning, match="no Emulator Suite hub"):
        EmulatorSuite("demo-test", hub="127.0.0.1:9")


# -- starting and stopping a suite --------------------------------------------------------------


@pytest.fixture
def crowded_project(firebase_suite: EmulatorSuite, tmp_path: Path) -> Path:
    """A project folder whose suite is the Auth emulator alone (quick to start, no Java), on the
    very ports the running suite holds: a suite started from it must move."""
    taken = {
        name: {"host": endpoint.host, "port": endpoint.port}
        for name, endpoint in firebase_suite.endpoints.items()
        if name in ("hub", "logging", "auth")
    }
    emulators_block = {"singleProjectMode": True, **taken, "ui": {"enabled": False}}
    (tmp_path / "firebase.json").write_text(json.dumps({"emulators": emulators_block}))
    (tmp_path / ".firebaserc").write_text(json.dumps({"projects": {"default": "demo-harness"}}))
    return tmp_path


def firebase_cli(rootpath: Path) -> str:
    local = rootpath / "node_modules" / ".bin" / "firebase"
    found = shutil.which("firebase") or (str(local) if local.exists() else None)
    if found is None:
        pytest.fail("the Firebase CLI is neither on PATH nor in node_modules/.bin")
    return found


def test_a_started_suite_moves_off_taken_ports_and_stops_with_nothing_left(
    crowded_project: Path, firebase_suite: EmulatorSuite, pytestconfig: pytest.Config
) -> None:
    ports = emulators.load_config(crowded_project / "firebase.json")["emulators"]
    assert isinstance(ports, dict)
    taken = [name for name in ("hub", "logging", "auth") if name in ports]

    with emulators.start(
        crowded_project, project="demo-harness", firebase=firebase_cli(pytestconfig.rootpath)
    ) as running:
        pid, shifted_config = running.pid, running.config_path
        user = running.connect().auth.sign_up_anonymously()
        environment = running.environment()
        assert running.offset in emulators.PORT_OFFSETS[1:]
        assert shifted_config.exists() and shifted_config.parent == crowded_project
        assert [busy.split()[0] for busy in emulators.busy_ports(ports, running.offset)] == taken
        assert firebase_suite.auth.lookup(user.uid) is None  # another suite entirely

    auth_port = firebase_suite.endpoints["auth"].port + running.offset
    assert environment["FIREBASE_AUTH_EMULATOR_HOST"] == f"127.0.0.1:{auth_port}"
    assert environment["GCLOUD_PROJECT"] == "demo-harness"
    assert emulators.busy_ports(ports, running.offset) == []
    assert pid is not None and emulators._group_members(pid) == []
    assert not shifted_config.exists()
    assert emulators.READY_MARK in running.log_path.read_text()
    assert running.stop() == []  # stopping again does nothing


def test_a_suite_that_may_not_move_reports_the_taken_ports_and_starts_nothing(
    crowded_project: Path, firebase_suite: EmulatorSuite
) -> None:
    hub = firebase_suite.endpoints["hub"]

    with pytest.raises(emulators.PortsInUse) as refused:
        emulators.start(
            crowded_project, project="demo-harness", firebase="false", shift_if_busy=False
        )

    assert f"hub {hub.host}:{hub.port}" in refused.value.busy
    assert sorted(p.name for p in crowded_project.iterdir()) == [".firebaserc", "firebase.json"]


def test_a_cli_that_exits_before_ready_is_an_error_and_leaves_nothing_behind(
    crowded_project: Path,
) -> None:
    with pytest.raises(emulators.EmulatorStartError, match=r"exited \(1\) before the emulators"):
        emulators.start(crowded_project, project="demo-harness", firebase="false")

    assert not list(crowded_project.glob("firebase.suite-*.local.json"))


def test_the_command_line_runs_a_command_against_a_fresh_suite_and_exits_with_its_status(
    crowded_project: Path, firebase_suite: EmulatorSuite, pytestconfig: pytest.Config
) -> None:
    report = "import os, sys; print(os.environ['FIREBASE_AUTH_EMULATOR_HOST']); sys.exit(3)"
    command = [sys.executable, "-m", "firebase_emulator_harness"]
    command += ["--project-dir", str(crowded_project), "--only", "auth"]
    command += ["--firebase", firebase_cli(pytestconfig.rootpath)]
    command += ["--", sys.executable, "-c", report]

    done = subprocess.run(command, capture_output=True, text=True, timeout=600)

    assert done.returncode == 3, done.stderr
    ready, auth_host, *_, stopped = done.stdout.splitlines()
    offset = int(ready.split(" on port offset ")[1].split()[0])
    assert auth_host == f"127.0.0.1:{firebase_suite.endpoints['auth'].port + offset}"
    assert stopped == "[emulators] stopped; no emulator process left"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_emulators_the_cli_started_in_their_own_session_are_stopped_with_it() -> None:
    # The CLI starts the Firestore and Pub/Sub JVMs in sessions of their own; when its shutdown
    # is cut short they would outlive it and hold the ports. A parent that starts a detached
    # child stands for the CLI here: real processes, real signals.
    from firebase_emulator_harness.emulators import _alive, _detached_children, _stop_detached

    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time;"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
            " start_new_session=True); time.sleep(60)",
        ],
        start_new_session=True,
    )
    try:
        detached = wait_for(
            lambda: _detached_children(parent.pid, parent.pid), timeout=10, message="the child"
        )
        parent.kill()
        parent.wait()

        assert _stop_detached(detached) == []
        assert not any(_alive(pid) for pid in detached)  # a zombie holds no port
    finally:
        parent.kill()


class _Answers(http.server.BaseHTTPRequestHandler):
    """Answers each POST with the next (status, body) of ``script``, counting requests."""

    script: ClassVar[list[tuple[int, str]]] = []
    requests: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.requests.append(self.rfile.read(int(self.headers["Content-Length"])))
        status, body = self.script.pop(0)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def answers() -> Iterator[tuple[FunctionsEmulator, type[_Answers]]]:
    """A FunctionsEmulator pointed at a local server that answers as scripted: the answers of
    the emulator's own proxy are reproduced here, since a broken worker connection cannot be
    caused on demand."""
    _Answers.script, _Answers.requests = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        yield FunctionsEmulator(url, url, "demo-test", "europe-west1"), _Answers
    finally:
        server.shutdown()


def test_a_connection_the_emulator_lost_to_its_worker_is_sent_again_never_read_as_a_result(
    answers: tuple[FunctionsEmulator, type[_Answers]],
) -> None:
    functions, server = answers
    server.script = [(500, '{"code":"ECONNRESET"}'), (200, '{"result":{"n":1}}')]

    assert functions.call("upload", {"idempotencyKey": "k"}).result == {"n": 1}
    assert len(server.requests) == 2 and server.requests[0] == server.requests[1]


def test_a_callable_handed_to_a_background_functions_worker_is_sent_again(
    answers: tuple[FunctionsEmulator, type[_Answers]],
) -> None:
    functions, server = answers
    refused = "<!doctype html><title>400 Bad Request</title><p>parsing CloudEvent failed</p>"
    server.script = [(400, refused), (200, '{"result":{"n":1}}')]

    assert functions.call("upload", {"idempotencyKey": "k"}).result == {"n": 1}
    assert len(server.requests) == 2 and server.requests[0] == server.requests[1]


def test_an_answer_outside_the_callable_protocol_is_an_emulator_error(
    answers: tuple[FunctionsEmulator, type[_Answers]],
) -> None:
    functions, server = answers
    server.script = [(500, '{"code":"ECONNRESET"}')] * 3
    with pytest.raises(EmulatorError, match="outside the callable protocol"):
        functions.call("upload", {})
    assert len(server.requests) == 3

    server.script, server.requests = [(200, '{"status":"fine"}')], []
    with pytest.raises(EmulatorError, match="outside the callable protocol"):
        functions.call("upload", {})
    assert len(server.requests) == 1  # only the emulator's own socket error is sent again

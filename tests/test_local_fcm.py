"""scripts/test runs a local FCM endpoint beside the emulators and names it in
``FOCUS_FCM_ENDPOINT`` to the Functions emulator's workers and to the tests (docs/notifications.md,
"Local FCM endpoint"): what our code sends lands there, and a test sees and steers it through the
``fcm`` fixture as if the server ran in the test process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firebase_emulator_harness import EmulatorSuite, FcmError, FcmRemote
from firebase_emulator_harness.functions import function_workers
from focus.adapters import push
from focus.adapters.push import Accepted, TokenGone
from focus.domain.devices import Platform
from focus.domain.notifications import MessageKind, Push


@pytest.fixture(scope="module", autouse=True)
def sender_under_the_suites_settings() -> Iterator[None]:
    """The sender reads ``FOCUS_FCM_ENDPOINT`` once per process: read it afresh here (another
    module may have pointed it at a server of its own) and leave nothing behind."""
    push._app.cache_clear()
    yield
    push._app.cache_clear()


def sync_push(token: str) -> Push:
    return Push(
        token=token,
        platform=Platform.IOS,
        kind=MessageKind.SYNC,
        silent=True,
        data={"kind": "sync", "changed": "blocks"},
        collapse_key="sync",
        ttl_seconds=3600,
    )


def test_a_push_sent_under_the_suites_settings_arrives_at_the_suites_endpoint(
    fcm: FcmRemote,
) -> None:
    [outcome] = push.send([sync_push("iphone-token")])

    [received] = fcm.received()
    assert isinstance(outcome, Accepted)
    assert received.accepted and received.name == outcome.message_id
    assert received.token == "iphone-token"
    assert received.message["data"] == {"kind": "sync", "changed": "blocks"}


def test_a_failure_set_through_the_fixture_is_what_the_sender_is_answered(
    fcm: FcmRemote,
) -> None:
    fcm.fail("uninstalled", FcmError.UNREGISTERED)

    outcomes = push.send([sync_push("uninstalled"), sync_push("installed")])

    assert outcomes[0] == TokenGone(sync_push("uninstalled"), "UNREGISTERED")
    assert isinstance(outcomes[1], Accepted)
    assert sorted((m.token, m.status) for m in fcm.received()) == [
        ("installed", 200),
        ("uninstalled", 404),
    ]


def test_the_functions_emulator_runs_jobs_pointed_at_the_same_endpoint(
    firebase_suite: EmulatorSuite, fcm: FcmRemote
) -> None:
    # The wiring every push a function sends relies on, apart from any sender's rules (which
    # tests/test_notifications.py exercises end to end): the Firebase CLI hands its own
    # environment to each function worker it starts.
    firebase_suite.functions.run_scheduled("roll_up_community")  # a jobs worker runs now

    codebases = {
        codebase
        for codebase, environment in worker_environments()
        if environment.get(push.ENDPOINT_SETTING) == fcm.url
    }

    assert "jobs" in codebases


def worker_environments() -> list[tuple[str, dict[str, str]]]:
    """(codebase folder, environment) of every Python function worker on this machine (Linux)."""
    found = []
    for pid in function_workers():
        proc = Path(f"/proc/{pid}")
        try:
            folder = (proc / "cwd").resolve().name
            raw = (proc / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or another user's
        variables = (item.partition(b"=") for item in raw.split(b"\0") if item)
        found.append((folder, {k.decode(): v.decode(errors="replace") for k, _, v in variables}))
    return found

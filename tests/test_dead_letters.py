"""scripts/dead-letters against the emulators: a dead letter is listed without being consumed,
and replaying it makes the real worker do what the failed deliveries did not. Dead letters come
from Pub/Sub (a message that failed every delivery) or from our functions themselves: a message
the worker cannot read (schema drift, junk) and a task that gives up (a session no model
accepts); nothing is acknowledged and dropped."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import iac
import pytest
from conftest import session_doc
from emulator_log import trace_id, wait_for_lines

from firebase_emulator_harness import EmulatorError, EmulatorSuite, User, wait_for
from firebase_emulator_harness.http import session

TOPIC = "session-completed"
COUNT_TASK = "countCompletedSession"
SCRIPT = iac.ROOT / "scripts" / "dead-letters"
sys.path.insert(0, str(iac.ROOT / "scripts" / "lib"))
import dead_letters  # noqa: E402 - scripts/lib is not a package

from focus.adapters import messaging  # noqa: E402


def dead_letters_cli(*args: str) -> tuple[list[dict[str, Any]], str]:
    """Run the script as an operator would; its JSON lines and its stderr summary."""
    result = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=120, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


class PubSubRest:
    """A dead-letter topic and subscription, made in the emulator as Terraform makes them."""

    def __init__(self, firebase: EmulatorSuite, source: str = TOPIC) -> None:
        self.base = f"{firebase.endpoints['pubsub'].url}/v1/projects/{firebase.project}"
        self.dead_letter = f"{source}-dead-letter"

    def ensure(self) -> None:
        name = self.dead_letter
        for path, body in (
            (f"topics/{name}", {}),
            (f"subscriptions/{name}", {"topic": f"{self.base_path}/topics/{name}"}),
        ):
            response = session().put(f"{self.base}/{path}", json=body, timeout=10)
            assert response.status_code in (200, 409), response.text

    @property
    def base_path(self) -> str:
        return self.base.split("/v1/", 1)[1]

    def drain(self) -> None:
        """Acknowledge whatever earlier runs left on the dead-letter subscription."""
        while True:
            response = session().post(
                f"{self.base}/subscriptions/{self.dead_letter}:pull",
                json={"maxMessages": 100, "returnImmediately": True},
                timeout=10,
            )
            ack_ids = [m["ackId"] for m in response.json().get("receivedMessages", [])]
            if not ack_ids:
                return
            session().post(
                f"{self.base}/subscriptions/{self.dead_letter}:acknowledge",
                json={"ackIds": ack_ids},
                timeout=10,
            ).raise_for_status()

    def publish(self, data: dict[str, Any], attributes: dict[str, str]) -> str:
        message = {
            "data": base64.b64encode(json.dumps(data).encode()).decode(),
            "attributes": attributes,
        }
        response = session().post(
            f"{self.base}/topics/{self.dead_letter}:publish",
            json={"messages": [message]},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["messageIds"][0])


@pytest.fixture
def dead_letter_topic(firebase: EmulatorSuite) -> PubSubRest:
    rest = PubSubRest(firebase)
    rest.ensure()
    rest.drain()
    return rest


@pytest.fixture
def task_dead_letters(firebase: EmulatorSuite) -> PubSubRest:
    rest = PubSubRest(firebase, COUNT_TASK)
    rest.ensure()
    rest.drain()
    return rest


def counted_session(firebase: EmulatorSuite, user: User, minutes: int) -> str:
    """A session counted for its owner whose minutes never reached the community counter (its
    message was dead-lettered). Its ``result`` makes the trigger treat it as counted already.
    (Not arranged with triggers disabled: re-enabling them re-registers the Pub/Sub trigger, and
    messages published meanwhile are lost.)"""
    path = f"users/{user.uid}/sessions/lost"
    doc = session_doc(status="completed", minutes=minutes, started_minutes_ago=minutes + 5)
    doc["result"] = {"focusedMinutes": minutes, "countedAt": datetime.now(UTC)}
    firebase.firestore.as_owner().set(path, doc)
    return path


def community_minutes(firebase: EmulatorSuite) -> int:
    return sum(d["minutes"] for _, d in firebase.firestore.as_owner().query("hoursSavedShards"))


def test_a_dead_letter_is_listed_then_replayed_to_the_worker(
    firebase: EmulatorSuite, user: User, dead_letter_topic: PubSubRest
) -> None:
    path = counted_session(firebase, user, minutes=25)
    trace, span = secrets.token_hex(16), secrets.token_hex(8)
    message_id = dead_letter_topic.publish(
        {
            "userId": user.uid,
            "sessionId": "lost",
            "focusedMinutes": 25,
            "completedAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        },
        {
            "CloudPubSubDeadLetterSourceDeliveryCount": "10",
            "CloudPubSubDeadLetterSourceSubscription": f"eventarc-{TOPIC}-sub",
            "traceparent": f"00-{trace}-{span}-01",
        },
    )

    listed, summary = dead_letters_cli("list", TOPIC)

    assert [(m["messageId"], m["deliveryAttempts"]) for m in listed] == [(message_id, "10")]
    assert json.loads(listed[0]["data"])["sessionId"] == "lost"
    assert "1 dead letter(s)" in summary
    assert dead_letters_cli("list", TOPIC)[0] == listed  # listing consumed nothing
    assert community_minutes(firebase) == 0

    replayed, _ = dead_letters_cli("replay", TOPIC)

    assert [r["replayed"] for r in replayed] == [message_id]
    session_after = wait_for(
        lambda: ((firebase.firestore.as_owner().get(path) or {}).get("result") or {}).get(
            "addedToHoursSavedAt"
        ),
        message="the worker to add the replayed session",
    )
    assert session_after
    assert community_minutes(firebase) == 25
    # The replay kept the message's trace context: the worker continued the original trace.
    (worker,) = wait_for_lines(
        lambda line: (
            line.get("function") == "on_session_completed"
            and line.get("message") == "request"
            and trace_id(line) == trace
        ),
        message="worker request line in the replayed trace",
    )
    assert worker["outcome"] == "ok"
    assert dead_letters_cli("list", TOPIC)[0] == []


def test_replay_can_pick_messages_and_dry_run_changes_nothing(
    firebase: EmulatorSuite, dead_letter_topic: PubSubRest
) -> None:
    # Readable completions of sessions that do not exist: the worker applies them as no-ops.
    nobody = {"userId": "nobody", "focusedMinutes": 1, "completedAt": "2026-01-01T00:00:00Z"}
    first = dead_letter_topic.publish(nobody | {"sessionId": "a"}, {})
    second = dead_letter_topic.publish(nobody | {"sessionId": "b"}, {})

    dry, _ = dead_letters_cli("replay", TOPIC, "--dry-run")
    assert {d["wouldReplay"] for d in dry} == {first, second}

    picked, _ = dead_letters_cli("replay", TOPIC, "--message-id", second)
    assert [p["replayed"] for p in picked] == [second]
    assert [m["messageId"] for m in dead_letters_cli("list", TOPIC)[0]] == [first]


def test_the_scripts_delivery_bounds_match_the_terraform() -> None:
    delivery = iac.load().locals["pubsub_delivery"]

    assert delivery == {
        "max_delivery_attempts": dead_letters.MAX_DELIVERY_ATTEMPTS,
        "minimum_backoff": f"{dead_letters.MINIMUM_BACKOFF_SECONDS}s",
        "maximum_backoff": f"{dead_letters.MAXIMUM_BACKOFF_SECONDS}s",
    }


def test_attach_gives_consumer_subscriptions_dead_letters_and_bounded_retries(
    firebase: EmulatorSuite,
) -> None:
    rest = PubSubRest(firebase)
    topic = f"probe-{secrets.token_hex(3)}"
    for path, body in (
        (f"topics/{topic}", {}),
        (f"topics/{topic}-dead-letter", {}),
        (f"subscriptions/{topic}-worker", {"topic": f"{rest.base_path}/topics/{topic}"}),
    ):
        session().put(f"{rest.base}/{path}", json=body, timeout=10).raise_for_status()

    attached, _ = dead_letters_cli("attach", topic)

    assert [a["attached"] for a in attached] == [f"{rest.base_path}/subscriptions/{topic}-worker"]
    sub = session().get(f"{rest.base}/subscriptions/{topic}-worker", timeout=10).json()
    assert sub["deadLetterPolicy"] == {
        "deadLetterTopic": f"{rest.base_path}/topics/{topic}-dead-letter",
        "maxDeliveryAttempts": dead_letters.MAX_DELIVERY_ATTEMPTS,
    }
    assert sub["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    assert dead_letters_cli("attach", topic)[0] == []  # idempotent


def test_the_script_strips_what_the_functions_add_to_a_dead_letter() -> None:
    ours = {
        messaging.DEAD_LETTER_KIND: dead_letters.KIND_ATTRIBUTE,
        messaging.DEAD_LETTER_REASON: dead_letters.REASON_ATTRIBUTE,
        messaging.DEAD_LETTER_ERROR: dead_letters.ERROR_ATTRIBUTE,
        messaging.DEAD_LETTER_FUNCTION: dead_letters.FUNCTION_ATTRIBUTE,
    }

    assert all(
        a == b and a.startswith(dead_letters.FOCUS_ATTRIBUTE_PREFIX) for a, b in ours.items()
    )
    assert messaging.DEAD_LETTER_SUFFIX == dead_letters.DEAD_LETTER_SUFFIX


def listed_when_there(source: str, *, besides: Collection[str] = ()) -> list[dict[str, Any]]:
    """The dead letters of ``source`` once one not in ``besides`` (message ids) has arrived."""
    return wait_for(
        lambda: (
            [m for m in dead_letters_cli("list", source)[0] if m["messageId"] not in besides]
            or None
        ),
        timeout=30,
        message=f"a dead letter of {source}",
    )


def test_a_schema_drifted_message_is_dead_lettered_and_applied_once_after_replay(
    firebase: EmulatorSuite, user: User, dead_letter_topic: PubSubRest
) -> None:
    path = counted_session(firebase, user, minutes=25)
    # A newer publisher, deployed first, renamed a field the deployed worker reads.
    drifted = {
        "schemaVersion": 2,
        "userId": user.uid,
        "sessionId": "lost",
        "minutes": 25,
        "completedAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    firebase.pubsub.publish(TOPIC, drifted)

    (letter,) = listed_when_there(TOPIC)

    assert json.loads(letter["data"]) == drifted  # the raw payload, as published
    assert (letter["kind"], letter["reason"], letter["function"]) == (
        "pubsub",
        "invalidEvent",
        "on_session_completed",
    )
    assert "focusedMinutes: Field required" in letter["error"]
    assert "minutes: Extra inputs are not permitted" in letter["error"]
    assert user.uid not in letter["error"]  # the error names fields, never values
    (line,) = wait_for_lines(
        lambda line: (
            line.get("message") == "dead letter"
            and line.get("deadLetterId") == (letter["messageId"])
        ),
        message="the metric's log line",
    )
    assert (line["source"], line["kind"], line["reason"], line["severity"]) == (
        TOPIC,
        "pubsub",
        "invalidEvent",
        "ERROR",
    )
    assert community_minutes(firebase) == 0

    # Replayed before the fix, it is refused again: back in the dead letters, not lost.
    dead_letters_cli("replay", TOPIC)
    (again,) = listed_when_there(TOPIC, besides={letter["messageId"]})
    assert json.loads(again["data"]) == drifted

    # The fix (the publisher's field name restored) applies it, once.
    fixed = {k: v for k, v in drifted.items() if k != "minutes"} | {"focusedMinutes": 25}
    replayed, _ = dead_letters_cli(
        "replay", TOPIC, "--message-id", again["messageId"], "--data", json.dumps(fixed)
    )

    assert [r["replayed"] for r in replayed] == [again["messageId"]]
    wait_for(
        lambda: ((firebase.firestore.as_owner().get(path) or {}).get("result") or {}).get(
            "addedToHoursSavedAt"
        ),
        message="the worker to apply the replayed message",
    )
    firebase.pubsub.publish(TOPIC, fixed)  # and a duplicate of it changes nothing
    time.sleep(1.5)
    assert community_minutes(firebase) == 25
    assert dead_letters_cli("list", TOPIC)[0] == []


def test_a_task_dead_letters_a_session_no_model_accepts_and_replay_counts_it_after_the_fix(
    firebase: EmulatorSuite, user: User, task_dead_letters: PubSubRest
) -> None:
    path = f"users/{user.uid}/sessions/junk"
    # Written by a modified app: the count task can never read it, and must not drop it.
    firebase.firestore.as_owner().set(
        path, session_doc(status="completed", minutes=20) | {"breaks": "not a list"}
    )

    (letter,) = listed_when_there(COUNT_TASK)

    assert (letter["kind"], letter["reason"]) == ("task", "poisonDocument")
    assert letter["error"].startswith("breaks: ")
    assert {k: json.loads(letter["data"])[k] for k in ("userId", "sessionId")} == {
        "userId": user.uid,
        "sessionId": "junk",
    }
    assert "result" not in (firebase.firestore.as_owner().get(path) or {})

    firebase.firestore.as_owner().update(path, {"breaks": []})  # the fix
    replayed, _ = dead_letters_cli("replay", COUNT_TASK)

    assert [r["replayed"] for r in replayed] == [letter["messageId"]]
    assert replayed[0]["as"].startswith("task ")
    session = wait_for(
        lambda: (
            ((firebase.firestore.as_owner().get(path) or {}).get("result") or {}).get(
                "addedToHoursSavedAt"
            )
            and firebase.firestore.as_owner().get(path)
        ),
        message="the replayed task counts the session",
    )
    assert session["result"]["focusedMinutes"] == 20
    profile = firebase.firestore.as_owner().get(f"users/{user.uid}") or {}
    assert (profile["stats"]["completedSessions"], profile["stats"]["focusedMinutes"]) == (1, 20)
    assert dead_letters_cli("list", COUNT_TASK)[0] == []


def test_a_count_failing_past_its_age_limit_is_dead_lettered_instead_of_retried(
    firebase: EmulatorSuite, user: User, task_dead_letters: PubSubRest
) -> None:
    # A session id no Firestore path can hold makes every attempt fail (not a poison document).
    task = {"userId": user.uid, "sessionId": "a/b"}
    recent = task | {"eventTime": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    old = task | {"eventTime": (datetime.now(UTC) - timedelta(hours=7)).isoformat()}

    with pytest.raises(EmulatorError) as failed:  # young enough: fails, so the queue retries it
        firebase.functions.dispatch_task(COUNT_TASK, recent)
    assert failed.value.status == 500
    assert firebase.functions.dispatch_task(COUNT_TASK, old) < 300  # done: no retries for days

    (letter,) = listed_when_there(COUNT_TASK)
    assert (letter["kind"], letter["reason"]) == ("task", "tooOld")
    assert json.loads(letter["data"]) == old

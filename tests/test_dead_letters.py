"""scripts/dead-letters against the Pub/Sub emulator: a dead letter is listed without being
consumed, and replaying it makes the real worker do what the failed deliveries did not."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import iac
import pytest
from conftest import session_doc
from emulator_log import trace_id, wait_for_lines

from firebase_emulator_harness import EmulatorSuite, User, wait_for
from firebase_emulator_harness.http import session

TOPIC = "session-completed"
DEAD_LETTER = f"{TOPIC}-dead-letter"
SCRIPT = iac.ROOT / "scripts" / "dead-letters"
sys.path.insert(0, str(iac.ROOT / "scripts" / "lib"))
import dead_letters  # noqa: E402 - scripts/lib is not a package


def dead_letters_cli(*args: str) -> tuple[list[dict[str, Any]], str]:
    """Run the script as an operator would; its JSON lines and its stderr summary."""
    result = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=120, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


class PubSubRest:
    """The dead-letter topic and subscription, made in the emulator as Terraform makes them."""

    def __init__(self, firebase: EmulatorSuite) -> None:
        self.base = f"{firebase.endpoints['pubsub'].url}/v1/projects/{firebase.project}"

    def ensure(self) -> None:
        for path, body in (
            (f"topics/{DEAD_LETTER}", {}),
            (f"subscriptions/{DEAD_LETTER}", {"topic": f"{self.base_path}/topics/{DEAD_LETTER}"}),
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
                f"{self.base}/subscriptions/{DEAD_LETTER}:pull",
                json={"maxMessages": 100, "returnImmediately": True},
                timeout=10,
            )
            ack_ids = [m["ackId"] for m in response.json().get("receivedMessages", [])]
            if not ack_ids:
                return
            session().post(
                f"{self.base}/subscriptions/{DEAD_LETTER}:acknowledge",
                json={"ackIds": ack_ids},
                timeout=10,
            ).raise_for_status()

    def publish(self, data: dict[str, Any], attributes: dict[str, str]) -> str:
        message = {
            "data": base64.b64encode(json.dumps(data).encode()).decode(),
            "attributes": attributes,
        }
        response = session().post(
            f"{self.base}/topics/{DEAD_LETTER}:publish", json={"messages": [message]}, timeout=10
        )
        response.raise_for_status()
        return str(response.json()["messageIds"][0])


@pytest.fixture
def dead_letter_topic(firebase: EmulatorSuite) -> PubSubRest:
    rest = PubSubRest(firebase)
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
    first = dead_letter_topic.publish({"not": "a session"}, {})
    second = dead_letter_topic.publish({"also": "not"}, {})

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

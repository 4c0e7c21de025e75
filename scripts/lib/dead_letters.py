"""Inspect and replay dead letters; give consumer subscriptions their dead-letter policy.

Naming (infra/terraform/pubsub.tf): dead letters of ``S`` wait on topic ``S-dead-letter``, kept on
the pull subscription ``S-dead-letter``. ``S`` is a topic (messages that exhausted their deliveries,
moved there by Pub/Sub, or a message its worker could not read, put there by the worker) or a
task-queue function (a task it gave up on). Dead letters our functions write carry
``focusDeadLetter*`` attributes: kind (``pubsub`` or ``task``), reason, error, function.

  dead_letters.py list S [--max N]                  print each dead letter (they stay put)
  dead_letters.py replay S [--max N] [--message-id ID ...] [--dry-run] [--data JSON]
                                                    republish to topic S (or enqueue the task
                                                    for function S again), then acknowledge;
                                                    --data replaces the payload of the one
                                                    message named (a sender's bug fixed by hand)
  dead_letters.py attach T                          dead-letter policy + retry bounds on every
                                                    subscription of topic T lacking them (deploy)

Works against production (application default credentials, ``--project`` or GCLOUD_PROJECT)
and against the emulators (``PUBSUB_EMULATOR_HOST``, and ``CLOUD_TASKS_EMULATOR_HOST`` to replay
tasks, as scripts/test and scripts/dev set).
Payloads can hold user ids: print them to a terminal, never paste them into tickets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2, field_mask_pb2

ROOT = Path(__file__).resolve().parents[2]
DEAD_LETTER_SUFFIX = "-dead-letter"
# Pub/Sub's own attributes on a dead letter, and the ones our functions add
# (focus.adapters.messaging.DEAD_LETTER_*): dropped on replay (the message starts afresh).
DEAD_LETTER_ATTRIBUTE_PREFIX = "CloudPubSubDeadLetter"
FOCUS_ATTRIBUTE_PREFIX = "focusDeadLetter"
KIND_ATTRIBUTE = "focusDeadLetterKind"
REASON_ATTRIBUTE = "focusDeadLetterReason"
ERROR_ATTRIBUTE = "focusDeadLetterError"
FUNCTION_ATTRIBUTE = "focusDeadLetterFunction"
TASK_KIND = "task"
# Where the task-queue functions run (focus.adapters.environment.REGION).
REGION = "europe-west1"
# Keep in step with locals.pubsub_delivery in infra/terraform/locals.tf (tests check).
MAX_DELIVERY_ATTEMPTS = 10
MINIMUM_BACKOFF_SECONDS = 10
MAXIMUM_BACKOFF_SECONDS = 600
PULL_BATCH = 100
# A synchronous pull waits for messages until its deadline: an empty subscription costs this long.
PULL_TIMEOUT_S = 3.0
PUBLISH_TIMEOUT_S = 30.0
SHOWN_DATA_CHARS = 2000


def default_project() -> str:
    for var in ("GCLOUD_PROJECT", "GOOGLE_CLOUD_PROJECT"):
        if os.environ.get(var):
            return os.environ[var]
    return str(json.loads((ROOT / ".firebaserc").read_text())["projects"]["default"])


class DeadLetters:
    def __init__(self, project: str, topic: str) -> None:
        self.project = project
        self.topic = topic
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.topic_path = self.publisher.topic_path(project, topic)
        self.dead_letter_topic = self.publisher.topic_path(project, topic + DEAD_LETTER_SUFFIX)
        self.subscription = self.subscriber.subscription_path(project, topic + DEAD_LETTER_SUFFIX)

    def pull(self, limit: int) -> Iterator[Any]:
        """Up to ``limit`` received messages; each stays leased until acked or released."""
        pulled = 0
        while pulled < limit:
            try:
                response = self.subscriber.pull(
                    request={
                        "subscription": self.subscription,
                        "max_messages": min(PULL_BATCH, limit - pulled),
                    },
                    timeout=PULL_TIMEOUT_S,
                    retry=None,
                )
            except exceptions.DeadlineExceeded:
                return
            if not response.received_messages:
                return
            pulled += len(response.received_messages)
            yield from response.received_messages

    def release(self, ack_ids: list[str]) -> None:
        """Put messages back at once (a zero ack deadline), so the next look sees them again."""
        if ack_ids:
            self.subscriber.modify_ack_deadline(
                request={
                    "subscription": self.subscription,
                    "ack_ids": ack_ids,
                    "ack_deadline_seconds": 0,
                }
            )

    def acknowledge(self, ack_id: str) -> None:
        self.subscriber.acknowledge(
            request={"subscription": self.subscription, "ack_ids": [ack_id]}
        )

    def republish(self, message: Any, data: bytes | None = None) -> str:
        """Send the message (or ``data`` in its place) back where it came from: republished to
        the topic, or, for a task's dead letter, enqueued again for the function. What it
        became: the new message id, or the task's name."""
        attributes = {
            key: value
            for key, value in message.attributes.items()
            if not key.startswith((DEAD_LETTER_ATTRIBUTE_PREFIX, FOCUS_ATTRIBUTE_PREFIX))
        }
        payload = message.data if data is None else data
        if message.attributes.get(KIND_ATTRIBUTE) == TASK_KIND:
            return self.requeue(message.message_id, payload, attributes)
        future = self.publisher.publish(self.topic_path, payload, **attributes)
        return str(future.result(timeout=PUBLISH_TIMEOUT_S))

    def requeue(self, message_id: str, payload: bytes, headers: dict[str, str]) -> str:
        """Enqueue the task again, named after the dead letter: replaying one twice (a failure
        between enqueue and acknowledge) enqueues it once. ``headers`` keep its trace."""
        from firebase_admin import exceptions as admin_errors
        from firebase_admin import functions

        name = hashlib.sha256(f"replay\x1f{self.topic}\x1f{message_id}".encode()).hexdigest()
        queue = functions.task_queue(
            f"locations/{REGION}/functions/{self.topic}", app=admin_app(self.project)
        )
        options = functions.TaskOptions(task_id=name, headers=headers)
        try:
            queue.enqueue({"data": json.loads(payload)}, options)
        except (admin_errors.AlreadyExistsError, admin_errors.ConflictError):
            pass  # replayed before: the task exists (the emulator answers a bare 409)
        except ValueError as exc:
            # The Tasks emulator echoes a named task's name in a shape the Admin SDK 7.7 cannot
            # parse, although it queued the task (focus.adapters.messaging.enqueue, same case).
            if not (os.environ.get("CLOUD_TASKS_EMULATOR_HOST") and str(exc) == BAD_NAME):
                raise
        return f"task {name}"


BAD_NAME = "Invalid resource name format."


def admin_app(project: str) -> Any:
    """The Admin SDK app: application default credentials, or none against the emulators."""
    import firebase_admin

    try:
        return firebase_admin.get_app()
    except ValueError:
        pass
    credential: Any = None
    if os.environ.get("CLOUD_TASKS_EMULATOR_HOST"):
        from firebase_admin import credentials
        from google.auth.credentials import AnonymousCredentials

        class EmulatorCredential(credentials.Base):  # type: ignore[misc]
            def get_credential(self) -> AnonymousCredentials:
                return AnonymousCredentials()  # type: ignore[no-untyped-call]

        credential = EmulatorCredential()
    return firebase_admin.initialize_app(credential, {"projectId": project})


def describe(received: Any) -> dict[str, Any]:
    message = received.message
    attributes = dict(message.attributes)
    return {
        "messageId": message.message_id,
        "publishTime": message.publish_time.isoformat() if message.publish_time else None,
        "deliveryAttempts": attributes.get("CloudPubSubDeadLetterSourceDeliveryCount"),
        "sourceSubscription": attributes.get("CloudPubSubDeadLetterSourceSubscription"),
        "kind": attributes.get(KIND_ATTRIBUTE, "pubsub"),
        "reason": attributes.get(REASON_ATTRIBUTE),
        "error": attributes.get(ERROR_ATTRIBUTE),
        "function": attributes.get(FUNCTION_ATTRIBUTE),
        "attributes": attributes,
        "data": message.data.decode(errors="replace")[:SHOWN_DATA_CHARS],
    }


def list_command(letters: DeadLetters, limit: int) -> int:
    received = list(letters.pull(limit))
    try:
        for item in received:
            print(json.dumps(describe(item)))
    finally:
        letters.release([item.ack_id for item in received])
    print(f"{len(received)} dead letter(s) on {letters.subscription}", file=sys.stderr)
    return 0


def replay_command(
    letters: DeadLetters, limit: int, only: set[str], dry_run: bool, data: bytes | None = None
) -> int:
    received = list(letters.pull(limit))
    replayed, kept = 0, []
    try:
        for item in received:
            message_id = item.message.message_id
            if (only and message_id not in only) or dry_run:
                kept.append(item.ack_id)
                if dry_run and (not only or message_id in only):
                    print(json.dumps({"wouldReplay": message_id, "to": letters.topic_path}))
                continue
            # Publish first, acknowledge after: a failure in between replays it twice, which the
            # idempotent workers absorb; the other order could lose it.
            new_id = letters.republish(item.message, data)
            letters.acknowledge(item.ack_id)
            replayed += 1
            print(json.dumps({"replayed": message_id, "as": new_id, "to": letters.topic_path}))
    finally:
        letters.release(kept)
    print(f"replayed {replayed} of {len(received)} dead letter(s)", file=sys.stderr)
    return 0


def attach_command(letters: DeadLetters) -> int:
    """Give every consumer subscription of the topic (the worker's, created by Eventarc at deploy)
    a dead-letter policy and bounded exponential retries."""
    changed = 0
    for name in letters.publisher.list_topic_subscriptions(request={"topic": letters.topic_path}):
        subscription = letters.subscriber.get_subscription(request={"subscription": name})
        policy = subscription.dead_letter_policy
        if policy.dead_letter_topic == letters.dead_letter_topic and (
            policy.max_delivery_attempts == MAX_DELIVERY_ATTEMPTS
        ):
            continue
        letters.subscriber.update_subscription(
            request={
                "subscription": {
                    "name": name,
                    "dead_letter_policy": {
                        "dead_letter_topic": letters.dead_letter_topic,
                        "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
                    },
                    "retry_policy": {
                        "minimum_backoff": duration_pb2.Duration(seconds=MINIMUM_BACKOFF_SECONDS),
                        "maximum_backoff": duration_pb2.Duration(seconds=MAXIMUM_BACKOFF_SECONDS),
                    },
                },
                "update_mask": field_mask_pb2.FieldMask(
                    paths=["dead_letter_policy", "retry_policy"]
                ),
            }
        )
        changed += 1
        print(json.dumps({"attached": name, "deadLetterTopic": letters.dead_letter_topic}))
    print(f"{changed} subscription(s) of {letters.topic_path} updated", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default=None, help="default: GCLOUD_PROJECT or .firebaserc")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "replay", "attach"):
        command = commands.add_parser(name)
        command.add_argument("topic", help="the original topic, e.g. session-completed")
        if name != "attach":
            command.add_argument("--max", type=int, default=1000, help="at most this many")
    replay = commands.choices["replay"]
    replay.add_argument("--message-id", action="append", default=[], help="only these (repeat)")
    replay.add_argument("--dry-run", action="store_true", help="show, change nothing")
    replay.add_argument(
        "--data",
        default=None,
        help="JSON to replay instead of the payload of the one message named by --message-id",
    )
    args = parser.parse_args(argv)
    if args.topic.endswith(DEAD_LETTER_SUFFIX):
        parser.error(f"name the original topic, not {args.topic}")
    letters = DeadLetters(args.project or default_project(), args.topic)
    if args.command == "list":
        return list_command(letters, args.max)
    if args.command == "replay":
        data = None
        if args.data is not None:
            if len(args.message_id) != 1:
                parser.error("--data replaces one message's payload: name it with --message-id")
            try:
                data = json.dumps(json.loads(args.data)).encode()
            except ValueError as exc:
                parser.error(f"--data is not JSON: {exc}")
        return replay_command(letters, args.max, set(args.message_id), args.dry_run, data)
    return attach_command(letters)


if __name__ == "__main__":
    sys.exit(main())

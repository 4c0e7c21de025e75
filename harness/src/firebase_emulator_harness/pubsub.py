"""Publishing to the Pub/Sub emulator over its REST API, and the CloudEvents its messages become."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeAlias, TypedDict

from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.http import TIMEOUT_S, session
from firebase_emulator_harness.values import JsonInput, JsonObject, json_object, to_json

MessageData: TypeAlias = "bytes | str | Mapping[str, JsonInput] | Sequence[JsonInput]"
"""A message body: bytes as they are, text as UTF-8, anything else as JSON."""


class PubSubMessage(TypedDict):
    messageId: str
    message_id: str
    publishTime: str
    publish_time: str
    attributes: dict[str, str]
    data: str  # base64


class MessagePublishedData(TypedDict):
    message: PubSubMessage
    subscription: str


class MessagePublishedEvent(TypedDict):
    """A ``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent (structured JSON)."""

    specversion: str
    id: str
    time: str
    type: str
    source: str
    data: MessagePublishedData


def _payload(data: MessageData) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    return json.dumps(to_json(data)).encode()


class PubSubEmulator:
    def __init__(self, base_url: str, project: str) -> None:
        self.base_url = base_url
        self.project = project

    def _topic(self, topic: str) -> str:
        return f"{self.base_url}/v1/projects/{self.project}/topics/{topic}"

    def ensure_topic(self, topic: str) -> None:
        response = session().put(self._topic(topic), json={}, timeout=TIMEOUT_S)
        if response.status_code not in (200, 409):
            raise EmulatorError(
                f"create topic {topic}: {response.text}", status=response.status_code
            )

    def message_event(
        self,
        topic: str,
        data: MessageData,
        *,
        attributes: Mapping[str, str] | None = None,
        message_id: str | None = None,
        published: datetime | None = None,
    ) -> MessagePublishedEvent:
        """The CloudEvent (structured JSON) a function subscribed to ``topic`` receives for one
        published message, shaped as the Emulator Suite delivers it
        (``google.cloud.pubsub.topic.v1.messagePublished``), without publishing anything.

        Hand it to ``FunctionsEmulator.deliver_event`` to deliver the same message more than once
        (a redelivery after a failure, a duplicate). ``message_id`` defaults to a fresh one."""
        payload = _payload(data)
        message_id = message_id or str(uuid.uuid4().int % 10**16)
        when = (published or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
        when = when.replace("+00:00", "Z")
        message: PubSubMessage = {
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": when,
            "publish_time": when,
            "attributes": dict(attributes or {}),
            "data": base64.b64encode(payload).decode(),
        }
        return {
            "specversion": "1.0",
            "id": message_id,
            "time": when,
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": f"//pubsub.googleapis.com/projects/{self.project}/topics/{topic}",
            "data": {
                "message": message,
                "subscription": f"projects/{self.project}/subscriptions/emulator-{topic}",
            },
        }

    def publish(self, topic: str, data: MessageData, **attributes: str) -> str:
        """Publish one message (mappings and sequences are sent as JSON); the message id."""
        message: JsonObject = {"data": base64.b64encode(_payload(data)).decode()}
        if attributes:
            message["attributes"] = to_json(attributes)
        response = session().post(
            f"{self._topic(topic)}:publish", json={"messages": [message]}, timeout=TIMEOUT_S
        )
        if response.status_code != 200:
            raise EmulatorError(f"publish to {topic}: {response.text}", status=response.status_code)
        message_ids = json_object(response.json(), f"publish to {topic}")["messageIds"]
        if not isinstance(message_ids, list) or not message_ids:
            raise EmulatorError(f"publish to {topic}: no message id in {response.text}")
        return str(message_ids[0])

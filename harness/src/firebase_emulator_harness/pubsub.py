"""Publishing to the Pub/Sub emulator over its REST API, and the CloudEvents its messages become."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.http import TIMEOUT_S, session


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
        data: bytes | str | dict[str, Any] | list[Any],
        *,
        attributes: dict[str, str] | None = None,
        message_id: str | None = None,
        published: datetime | None = None,
    ) -> dict[str, Any]:
        """The CloudEvent (structured JSON) a function subscribed to ``topic`` receives for one
        published message, shaped as the Emulator Suite delivers it
        (``google.cloud.pubsub.topic.v1.messagePublished``), without publishing anything.

        Hand it to ``FunctionsEmulator.deliver_event`` to deliver the same message more than once
        (a redelivery after a failure, a duplicate). ``message_id`` defaults to a fresh one."""
        if isinstance(data, (dict, list)):
            data = json.dumps(data)
        payload = data.encode() if isinstance(data, str) else data
        message_id = message_id or str(uuid.uuid4().int % 10**16)
        when = (published or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
        when = when.replace("+00:00", "Z")
        message = {
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": when,
            "publish_time": when,
            "attributes": attributes or {},
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

    def publish(
        self, topic: str, data: bytes | str | dict[str, Any] | list[Any], **attributes: str
    ) -> str:
        """Publish one message (dicts/lists are sent as JSON); the message id."""
        if isinstance(data, (dict, list)):
            data = json.dumps(data)
        payload = data.encode() if isinstance(data, str) else data
        message: dict[str, Any] = {"data": base64.b64encode(payload).decode()}
        if attributes:
            message["attributes"] = attributes
        response = session().post(
            f"{self._topic(topic)}:publish", json={"messages": [message]}, timeout=TIMEOUT_S
        )
        if response.status_code != 200:
            raise EmulatorError(f"publish to {topic}: {response.text}", status=response.status_code)
        return str(response.json()["messageIds"][0])

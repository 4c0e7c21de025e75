"""Publishing to the Pub/Sub emulator over its REST API."""

from __future__ import annotations

import base64
import json
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

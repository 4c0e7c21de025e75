"""The running Emulator Suite, discovered through its hub."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import requests

from firebase_emulator_harness.auth import AuthEmulator, User
from firebase_emulator_harness.errors import EmulatorNotRunning
from firebase_emulator_harness.firestore import FirestoreEmulator
from firebase_emulator_harness.functions import FunctionsEmulator
from firebase_emulator_harness.http import session
from firebase_emulator_harness.pubsub import PubSubEmulator
from firebase_emulator_harness.values import JsonInput

DEFAULT_HUB = "127.0.0.1:4400"


class _Listed(TypedDict):
    """One emulator in the hub's ``GET /emulators`` answer."""

    host: NotRequired[str]
    port: NotRequired[int]


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class EmulatorSuite:
    """Handles to every emulator the hub reports. Missing emulators raise when first used."""

    def __init__(self, project: str, region: str = "us-central1", hub: str | None = None) -> None:
        self.project = project
        self.region = region
        self.hub_url = "http://" + (hub or os.environ.get("FIREBASE_EMULATOR_HUB") or DEFAULT_HUB)
        try:
            listing: dict[str, _Listed] = (
                session().get(f"{self.hub_url}/emulators", timeout=5).json()
            )
        except requests.RequestException as exc:
            raise EmulatorNotRunning(
                f"no Emulator Suite hub at {self.hub_url} ({exc.__class__.__name__}). "
                "Start the suite first (firebase emulators:start, or run the tests with "
                "python -m firebase_emulator_harness -- pytest)."
            ) from None
        self.endpoints = {
            name: Endpoint(info.get("host", "127.0.0.1"), int(info["port"]))
            for name, info in listing.items()
            if "port" in info
        }

    def _endpoint(self, name: str) -> str:
        if name not in self.endpoints:
            raise EmulatorNotRunning(
                f"the {name} emulator is not running (running: {sorted(self.endpoints)})"
            )
        return self.endpoints[name].url

    @property
    def auth(self) -> AuthEmulator:
        return AuthEmulator(self._endpoint("auth"), self.project)

    @property
    def firestore(self) -> FirestoreEmulator:
        return FirestoreEmulator(self._endpoint("firestore"), self.project)

    @property
    def functions(self) -> FunctionsEmulator:
        return FunctionsEmulator(
            self._endpoint("functions"), self.hub_url, self.project, self.region
        )

    @property
    def pubsub(self) -> PubSubEmulator:
        return PubSubEmulator(self._endpoint("pubsub"), self.project)

    def as_uid(self, uid: str, claims: Mapping[str, JsonInput] | None = None) -> User:
        """The user ``uid`` (created if new) with a real ID token carrying ``claims``: the
        counterpart of ``authenticatedContext(uid, tokenOptions)``. See ``AuthEmulator.as_uid``."""
        return self.auth.as_uid(uid, claims)

    def reset(self) -> None:
        """Clear Firestore and Auth (whichever of them is running)."""
        if "firestore" in self.endpoints:
            self.firestore.clear()
        if "auth" in self.endpoints:
            self.auth.clear()

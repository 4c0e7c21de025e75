"""Exports always finish: chunks under Firestore's document limit counted in UTF-8 bytes, every
Firestore value type in the bundle, reads in pages, and large accounts built in bounded steps."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import block_doc, envelope

from firebase_emulator_harness import EmulatorSuite, GeoPoint, User, wait_for
from focus.services.privacy import export
from focus.services.privacy.registry import REGISTRY

EMOJI = "😀👩‍👩‍👧‍👦🇪🇺🧘🏽‍♀️"  # 4-byte characters and joiner sequences
MIXED = "ßé€中文"  # 2- and 3-byte characters


def download(
    firebase: EmulatorSuite, user: User, timeout: float = 60
) -> tuple[list[str], dict[str, Any]]:
    """Request an export as the app does, wait until it is ready, and fetch every chunk."""
    export_id = firebase.functions.call("requestExport", envelope(), user=user).unwrap()["data"][
        "exportId"
    ]

    def ready() -> dict[str, Any] | None:
        answer = firebase.functions.call(
            "getExport", envelope({"exportId": export_id}), user=user
        ).unwrap()["data"]
        return answer if answer["state"] == "ready" else None

    # Poll as the app does, well within getExport's per-minute allowance: a slow build polled
    # every 0.1 s was answered RATE_LIMITED before it was ready.
    first = wait_for(ready, timeout=timeout, interval=1.5, message="export ready")
    chunks = [
        firebase.functions.call(
            "getExport", envelope({"exportId": export_id, "chunk": n}), user=user
        ).unwrap()["data"]["data"]
        for n in range(first["chunks"])
    ]
    request = firebase.firestore.as_owner().get(f"users/{user.uid}/exports/{export_id}") or {}
    return chunks, request


def documents(bundle: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {doc["path"]: doc for doc in bundle["data"][path]}


@pytest.fixture
def person(firebase: EmulatorSuite) -> User:
    user = firebase.auth.create_user("export.me@example.com")
    firebase.functions.call("launch", envelope({"timezone": "Europe/Berlin"}), user=user).unwrap()
    return user


def test_an_export_larger_than_a_document_of_emoji_finishes_and_reassembles_exactly(
    firebase: EmulatorSuite, person: User
) -> None:
    owner = firebase.firestore.as_owner()
    written = {}
    for n in range(4):  # each block about 650 kB of UTF-8, about 2.6 MB together
        apps = [f"{n}:{i}:" + EMOJI * 700 + MIXED * 40 for i in range(25)]
        doc = block_doc("timeLimit", selection={"iphone-1": {"apps": apps}})
        owner.set(f"users/{person.uid}/blocks/emoji-{n}", doc)
        written[f"blocks/emoji-{n}"] = apps

    chunks, request = download(firebase, person)

    sizes = [len(chunk.encode("utf-8")) for chunk in chunks]
    assert all(size <= export.CHUNK_BYTES for size in sizes), sizes
    assert export.CHUNK_BYTES < export.DOCUMENT_LIMIT_BYTES - 100_000  # headroom for the rest
    text = "".join(chunks)
    assert sum(sizes) == len(text.encode("utf-8")) == request["bytes"] > 2 * 1024 * 1024
    assert len(chunks) == request["chunks"] >= 3
    assert request["steps"] >= 2  # built in bounded steps, re-enqueued in between
    assert "cursor" not in request
    bundle = json.loads(text)
    blocks = documents(bundle, "users/{uid}/blocks/{blockId}")
    for path, apps in written.items():
        assert blocks[path]["selection"]["iphone-1"]["apps"] == apps  # byte for byte
    assert bundle["format"] == "focus-export/1"
    assert bundle["data"]["users/{uid}"]["settings"]["timezone"] == "Europe/Berlin"


def test_every_firestore_value_type_is_exported(firebase: EmulatorSuite, person: User) -> None:
    owner = firebase.firestore.as_owner()
    moment = datetime(2026, 11, 30, 3, 4, 5, 678901, tzinfo=UTC)
    owner.set(
        f"users/{person.uid}/devices/odd",
        {
            "schemaVersion": 1,
            "platform": "ios",
            "picture": b"\x00\xff\x10binary",
            "home": owner.reference(f"users/{person.uid}/blocks/evenings"),
            "where": GeoPoint(52.52, 13.405),
            "seenAt": moment,
            "ratio": 0.25,
            "count": 3,
            "flag": False,
            "nothing": None,
            "nested": {"list": [b"\x01", GeoPoint(-33.9, 151.2), moment, {"deeper": [1, "two"]}]},
        },
    )

    chunks, _ = download(firebase, person)

    device = documents(json.loads("".join(chunks)), "users/{uid}/devices/{deviceId}")["devices/odd"]
    assert device["picture"] == base64.b64encode(b"\x00\xff\x10binary").decode()
    assert device["home"] == f"users/{person.uid}/blocks/evenings"
    assert device["where"] == {"latitude": 52.52, "longitude": 13.405}
    assert device["seenAt"] == "2026-11-30T03:04:05.678901Z"
    assert (device["ratio"], device["count"], device["flag"], device["nothing"]) == (
        0.25,
        3,
        False,
        None,
    )
    assert device["nested"] == {
        "list": [
            base64.b64encode(b"\x01").decode(),
            {"latitude": -33.9, "longitude": 151.2},
            "2026-11-30T03:04:05.678901Z",
            {"deeper": [1, "two"]},
        ]
    }


def test_an_export_pages_through_many_documents_keeping_each_exactly_once(
    firebase: EmulatorSuite, person: User
) -> None:
    owner = firebase.firestore.as_owner()
    count = export.PAGE_SIZE * 2 + 7  # three pages, the last one partial
    for n in range(count):
        owner.set(f"users/{person.uid}/weeks/w{n:04d}", {"week": f"w{n:04d}", "n": n})
    for purpose, granted in (("analytics", True), ("aiProcessing", True), ("analytics", False)):
        consent = {"purpose": purpose, "granted": granted, "policyVersion": "2026-11"}
        firebase.functions.call("setConsent", envelope(consent), user=person).unwrap()

    chunks, _ = download(firebase, person)

    bundle = json.loads("".join(chunks))
    assert set(bundle["data"]) == {entry.path for entry in REGISTRY if entry.export}
    weeks = bundle["data"]["users/{uid}/weeks/{week}"]
    assert [w["n"] for w in weeks] == list(range(count))
    consents = documents(bundle, "users/{uid}/consents/{purpose}")
    assert {path: c["granted"] for path, c in consents.items()} == {
        "consents/aiProcessing": True,
        "consents/analytics": False,
    }
    history = bundle["data"]["users/{uid}/consents/{purpose}/history/{entry}"]
    assert sorted((h["path"].split("/")[1], h["granted"]) for h in history) == [
        ("aiProcessing", True),
        ("analytics", False),
        ("analytics", True),
    ]

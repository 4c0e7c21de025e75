"""Test Firebase backends against the real Local Emulator Suite, from Python.

The Python counterpart of ``@firebase/rules-unit-testing``: it knows nothing about any product.
It starts and stops the suite (``emulators``), discovers the running emulators through the hub,
clears Firestore and Auth, creates users with real ID tokens (``as_uid``, anonymous or
email/password), calls callable functions over HTTP as the mobile SDKs do, reads and writes
Firestore *as a user* (security rules enforced) or as the owner (rules bypassed), publishes to
Pub/Sub, fires scheduled functions, delivers an event to an event function again (the retries
the emulators never make), disables background triggers, loads rules and fetches the
rule-coverage report. FCM has no emulator: ``FcmServer`` is a local server speaking its HTTP v1
send API, and ``FcmRemote`` steers one running in another process. Google Play has none either:
``PlayServer`` speaks the Android Publisher API's subscription purchase calls, and ``PlayRemote``
steers one running in another process. Vertex AI has none either: ``VertexServer`` speaks Gemini's
``generateContent`` and batch prediction with the answers a test scripts, and ``VertexRemote``
steers one running in another process. Nor has Cloud Storage (usable here): ``StorageServer``
speaks the JSON API subset ``google-cloud-storage`` uses, objects in memory, and
``StorageRemote`` steers one running in another process.

Start with the ``firebase`` pytest fixture (see ``plugin``), or build an ``EmulatorSuite`` yourself.
"""

from firebase_emulator_harness.assertions import assert_allowed, assert_denied
from firebase_emulator_harness.auth import User
from firebase_emulator_harness.cloud_storage import StorageRemote, StorageServer
from firebase_emulator_harness.errors import (
    CallableError,
    EmulatorError,
    EmulatorNotRunning,
    PermissionDenied,
)
from firebase_emulator_harness.fcm import FcmError, FcmServer, ReceivedMessage
from firebase_emulator_harness.fcm_control import FcmRemote
from firebase_emulator_harness.firestore import Firestore, RuleCoverageReport
from firebase_emulator_harness.functions import CallableResult
from firebase_emulator_harness.play import PlayError, PlayRemote, PlayServer
from firebase_emulator_harness.pubsub import MessagePublishedEvent
from firebase_emulator_harness.suite import EmulatorSuite
from firebase_emulator_harness.values import (
    Document,
    DocumentData,
    FirestoreValue,
    GeoPoint,
    JsonInput,
    JsonObject,
    JsonValue,
    Reference,
    StoredValue,
)
from firebase_emulator_harness.vertex import (
    BatchJob,
    BatchState,
    VertexError,
    VertexRemote,
    VertexServer,
)
from firebase_emulator_harness.waiting import wait_for

__all__ = [
    "BatchJob",
    "BatchState",
    "CallableError",
    "CallableResult",
    "Document",
    "DocumentData",
    "EmulatorError",
    "EmulatorNotRunning",
    "EmulatorSuite",
    "FcmError",
    "FcmRemote",
    "FcmServer",
    "Firestore",
    "FirestoreValue",
    "GeoPoint",
    "JsonInput",
    "JsonObject",
    "JsonValue",
    "MessagePublishedEvent",
    "PermissionDenied",
    "PlayError",
    "PlayRemote",
    "PlayServer",
    "ReceivedMessage",
    "Reference",
    "RuleCoverageReport",
    "StorageRemote",
    "StorageServer",
    "StoredValue",
    "User",
    "VertexError",
    "VertexRemote",
    "VertexServer",
    "assert_allowed",
    "assert_denied",
    "wait_for",
]

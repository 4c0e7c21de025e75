"""One way to get Google clients: created on first use, reused for the life of the instance.

The same code works on the emulators and in production: the client libraries switch to the
emulators by themselves when ``*_EMULATOR_HOST`` is set; only the Admin SDK needs anonymous
credentials there (it otherwise insists on application default credentials).

IAM: ``NEEDS`` declares what calling each factory means in production (naming a topic is
publishing to it; a task queue's client is for enqueueing), ``ADMIN_SDK_NEEDS`` what each Admin
SDK call made with ``firebase_app()`` needs. ``focus_tools.permissions`` collects them per
codebase from the code each one runs; tests/test_infra.py requires the Terraform to grant
exactly that. A new Google call gets its declaration here, or the permission test cannot see it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from focus.adapters.environment import REGION, is_emulated, project_id
from focus.adapters.iam import QUEUE, SELF, SERVICE, TOPIC, Need

if TYPE_CHECKING:
    from firebase_admin import App
    from firebase_admin.functions import TaskQueue
    from google.cloud.firestore import Client as FirestoreClient
    from google.cloud.pubsub_v1 import PublisherClient


_FIRESTORE = tuple(
    Need(f"datastore.entities.{verb}", why="read and write documents in transactions")
    for verb in ("get", "list", "create", "update", "delete")
)
NEEDS: dict[str, tuple[Need, ...]] = {
    "firestore": _FIRESTORE,
    "topic_path": (Need("pubsub.topics.publish", TOPIC, argument="topic", why="publish"),),
    "task_queue": (
        Need("cloudtasks.tasks.create", QUEUE, argument="function_name", lanes=True, why="enqueue"),
        # The Admin SDK asks Cloud Tasks to sign each task's OIDC token as the enqueuing
        # account itself (its credential's email): creating such a task needs actAs on it...
        Need("iam.serviceAccounts.actAs", SELF, why="sign the task as this account"),
        # ... and that identity is what calls the task function when the task is dispatched.
        Need("run.routes.invoke", SERVICE, argument="function_name", lanes=True, why="dispatch it"),
    ),
}
_READ_USER = Need("firebaseauth.users.get", why="look the account up")
_WRITE_USER = Need("firebaseauth.users.update", why="disable, revoke refresh tokens")
ADMIN_SDK_NEEDS: dict[str, tuple[Need, ...]] = {
    "firebase_admin.auth.get_user": (_READ_USER,),
    "firebase_admin.auth.get_user_by_email": (_READ_USER,),
    # Checking revocation (and disabled accounts) reads the account; the signature check alone
    # uses Google's public keys and needs nothing.
    "firebase_admin.auth.verify_id_token": (
        Need("firebaseauth.users.get", when_keyword="check_revoked", why="check revocation"),
    ),
    "firebase_admin.auth.update_user": (_WRITE_USER,),
    "firebase_admin.auth.revoke_refresh_tokens": (_WRITE_USER,),
    "firebase_admin.auth.set_custom_user_claims": (_WRITE_USER,),
    "firebase_admin.auth.delete_user": (Need("firebaseauth.users.delete", why="erase"),),
}


@functools.cache
def firebase_app() -> App:
    import firebase_admin

    credential: Any = None
    if is_emulated():
        from firebase_admin import credentials
        from google.oauth2.credentials import Credentials

        class _EmulatorCredential(credentials.Base):  # type: ignore[misc]
            # A fixed bearer that never refreshes: nothing goes to Google for a token. The
            # emulators ignore it (the Admin SDK uses their own "owner" token with them); the
            # local FCM server (docs/notifications.md), which has no emulator switch in the
            # SDK, only needs some bearer to be present, as Google requires one.
            def get_credential(self) -> Credentials:
                return Credentials(token="owner")  # type: ignore[no-untyped-call]

        credential = _EmulatorCredential()
    return firebase_admin.initialize_app(credential, {"projectId": project_id()})


@functools.cache
def firestore() -> FirestoreClient:
    from google.cloud import firestore as gcf

    return gcf.Client(project=project_id())


@functools.cache
def publisher() -> PublisherClient:
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient()


def topic_path(topic: str) -> str:
    return f"projects/{project_id()}/topics/{topic}"


# The Pub/Sub emulator's address, read by the client libraries too (unset in production).
PUBSUB_EMULATOR_SETTING = "PUBSUB_EMULATOR_HOST"


@functools.cache
def pubsub_http() -> Any:
    """An HTTP session for Pub/Sub's REST API, with the runtime's Google credentials (none on the
    emulator): for publishing a few messages per request from codebases that do not load the
    gRPC client (``focus.adapters.messaging.publish_data``)."""
    import os

    import requests

    if os.environ.get(PUBSUB_EMULATOR_SETTING):
        return requests.Session()
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/pubsub"])
    return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]


def pubsub_url(resource: str) -> str:
    """The REST URL of a Pub/Sub resource (``projects/p/topics/t:publish``)."""
    import os

    host = os.environ.get(PUBSUB_EMULATOR_SETTING)
    return f"{f'http://{host}' if host else 'https://pubsub.googleapis.com'}/v1/{resource}"


def task_queue(function_name: str, *, person: str | None = None) -> TaskQueue:
    """The Cloud Tasks queue in front of a task-queue function (names: letters, digits, '-');
    for a task with lanes (``wires.LANES``), the lane of ``person`` (the uid the task is for)."""
    from focus.domain.wires import LANES, Task, lane_of

    if function_name in LANES:
        if person is None:
            raise ValueError(f"{function_name} runs on lanes: say whose task it is")
        function_name = lane_of(Task(function_name), person)
    return _task_queue(function_name)


@functools.cache
def _task_queue(queue: str) -> TaskQueue:
    from firebase_admin import functions

    return functions.task_queue(f"locations/{REGION}/functions/{queue}", app=firebase_app())

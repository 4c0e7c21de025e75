"""One way to get Google clients: created on first use, reused for the life of the instance.

The same code works on the emulators and in production: the client libraries switch to the
emulators by themselves when ``*_EMULATOR_HOST`` is set; only the Admin SDK needs anonymous
credentials there (it otherwise insists on application default credentials).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from focus.platform.environment import REGION, is_emulated, project_id

if TYPE_CHECKING:
    from firebase_admin import App
    from firebase_admin.functions import TaskQueue
    from google.cloud.firestore import Client as FirestoreClient
    from google.cloud.pubsub_v1 import PublisherClient


@functools.cache
def firebase_app() -> App:
    import firebase_admin

    credential: Any = None
    if is_emulated():
        from firebase_admin import credentials
        from google.auth.credentials import AnonymousCredentials

        class _EmulatorCredential(credentials.Base):  # type: ignore[misc]
            def get_credential(self) -> AnonymousCredentials:
                return AnonymousCredentials()  # type: ignore[no-untyped-call]

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


@functools.cache
def task_queue(function_name: str) -> TaskQueue:
    """The Cloud Tasks queue in front of a task-queue function (names: letters, digits, '-')."""
    from firebase_admin import functions

    return functions.task_queue(f"locations/{REGION}/functions/{function_name}", app=firebase_app())

"""Functions: callables over HTTP as the client SDKs call them, scheduled functions, triggers."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from firebase_emulator_harness.auth import User
from firebase_emulator_harness.errors import CallableError, EmulatorError
from firebase_emulator_harness.http import TIMEOUT_S, node_session
from firebase_emulator_harness.pubsub import MessagePublishedEvent
from firebase_emulator_harness.values import JsonInput, JsonObject, JsonValue, to_json


@dataclass(frozen=True)
class CallableResult:
    """What a callable answered: ``result`` on success, or ``error`` ({status, message, details})."""

    http_status: int
    result: JsonValue = None
    error: JsonObject | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str:
        """``OK`` or the error's canonical code (``INVALID_ARGUMENT``, ``UNAUTHENTICATED``, ...)."""
        return "OK" if self.error is None else str(self.error.get("status"))

    def unwrap(self) -> JsonValue:
        """The result; raises ``CallableError`` if the call failed."""
        if self.error is not None:
            raise CallableError(
                self.code,
                str(self.error.get("message")),
                self.error.get("details"),
                status=self.http_status,
            )
        return self.result


# The Functions emulator proxies each request to a worker process. When that connection breaks
# (the worker closes it unanswered: "Request to function failed: Error: socket hang up" in its
# log), it answers 500 with the socket error itself as the body, e.g. {"code": "ECONNRESET"},
# and kills the worker. Nothing of the function answered, so that is never a result: the call is
# sent again, the same request (a mutating callable's idempotency key included, so it applies
# nothing twice), as an app does after a network failure; the emulator starts a fresh worker.
# Under load it also, rarely, hands a callable's request to a worker that serves a background
# function: that worker refuses it as an event it cannot parse (400, an HTML page, "parsing
# CloudEvent failed"), and nothing of the callable ran. A callable always answers JSON, so a 400
# that is not JSON is that misrouting, and the request is sent again in the same way.
LOST_WORKER_ATTEMPTS = 3


def _lost_worker(status: int, body: JsonValue) -> bool:
    """Whether the answer came from the emulator, not the function: a connection lost to its
    worker, or a request handed to another function's worker."""
    lost = status == 500 and isinstance(body, dict) and isinstance(body.get("code"), str)
    return lost or (status == 400 and body is None)


class FunctionsEmulator:
    def __init__(self, base_url: str, hub_url: str, project: str, region: str) -> None:
        self.base_url = base_url
        self.hub_url = hub_url
        self.project = project
        self.region = region

    def call(
        self,
        name: str,
        data: JsonInput = None,
        *,
        user: User | None = None,
        headers: Mapping[str, str] | None = None,
        region: str | None = None,
    ) -> CallableResult:
        """Call the callable ``name`` with ``data``, signed in as ``user`` (a ``User``) or not.

        The request is the callable protocol's: POST ``{"data": ...}`` with the ID token as a
        bearer token; the answer is ``{"result": ...}`` or ``{"error": {...}}``.
        """
        request_headers = {"Content-Type": "application/json", **(headers or {})}
        if user is not None:
            request_headers.update(user.bearer)
        for attempt in range(1, LOST_WORKER_ATTEMPTS + 1):
            response = node_session().post(
                f"{self.base_url}/{self.project}/{region or self.region}/{name}",
                json={"data": to_json(data)},
                headers=request_headers,
                timeout=TIMEOUT_S,
            )
            try:
                body: JsonValue = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(error := body.get("error"), dict):
                return CallableResult(response.status_code, error=error)
            if isinstance(body, dict) and "result" in body:
                return CallableResult(response.status_code, result=body["result"])
            if not (_lost_worker(response.status_code, body) and attempt < LOST_WORKER_ATTEMPTS):
                break
        raise EmulatorError(
            f"callable {name} answered {response.status_code} outside the callable protocol "
            f"(no result, no error): {response.text[:500]}",
            status=response.status_code,
            body=body,
        )

    def dispatch_task(self, name: str, data: JsonInput, *, region: str | None = None) -> int:
        """Deliver one task to the task-queue function ``name`` now, as Cloud Tasks would
        (``{"data": ...}`` POSTed to the function); the HTTP status. Lets a test run a task
        with chosen data, e.g. to stop a multi-step job half-way."""
        response = node_session().post(
            f"{self.base_url}/{self.project}/{region or self.region}/{name}",
            json={"data": to_json(data)},
            timeout=TIMEOUT_S,
        )
        if response.status_code >= 400:
            raise EmulatorError(
                f"task {name}: {response.status_code} {response.text[:500]}",
                status=response.status_code,
            )
        return response.status_code

    def post(
        self,
        name: str,
        *,
        user: User | None = None,
        method: str = "POST",
        region: str | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, JsonValue]:
        """Call the HTTPS function ``name`` as a browser or a webhook sender would (with the
        user's ID token, if any; ``body`` sent byte for byte, as signed payloads need):
        (HTTP status, JSON body or text)."""
        request_headers = {**(headers or {}), **(user.bearer if user is not None else {})}
        response = node_session().request(
            method,
            f"{self.base_url}/{self.project}/{region or self.region}/{name}",
            headers=request_headers,
            data=body,
            timeout=TIMEOUT_S,
        )
        try:
            answer: JsonValue = response.json()
        except ValueError:
            answer = response.text
        return response.status_code, answer

    def _trigger_keys(self) -> list[str]:
        """Every function key the Functions emulator routes (see ``_background_key``).

        firebase-tools (up to 15.34 at least) has no listing of these keys: ``GET /backends``
        lists each function's definition but not its generation, and publishing to the topic
        ``firebase-schedule-<name>`` fires no v2 (Python) scheduled function, because the emulator
        registers it with the "http" signature, which its Pub/Sub bridge refuses ("Unsupported
        trigger signature"). The keys appear only in the emulator's answer to a request for a key it
        does not know (``handleHttpsTrigger``: "Function <key> does not exist, valid functions are:
        <key>, <key>, ..."), which runs nothing. That answer is read here, and any other answer is
        an error, never an empty list."""
        response = node_session().post(
            f"{self.base_url}/functions/projects/{self.project}/triggers/__list__",
            timeout=TIMEOUT_S,
        )
        match = re.fullmatch(
            r"Function __list__ does not exist, valid functions are: (.*)", response.text, re.S
        )
        if response.status_code != 404 or match is None:
            raise EmulatorError(
                "the Functions emulator did not list its functions as expected "
                f"(a firebase-tools change?): {response.status_code} {response.text[:500]}",
                status=response.status_code,
            )
        return [key.strip() for key in match[1].split(",") if key.strip()]

    def run_scheduled(
        self,
        name: str,
        *,
        region: str | None = None,
        job_name: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Fire the scheduled function ``name`` once, as Cloud Scheduler would; the HTTP status.

        The emulator never ticks schedules. They run on the background-trigger route (see
        ``_background_key``). The request carries the headers Cloud Scheduler sends.
        """
        key = self._background_key(name, region, what="scheduled function")
        when = (at or datetime.now(UTC)).astimezone(UTC)
        response = node_session().post(
            f"{self.base_url}/functions/projects/{self.project}/triggers/{key}",
            headers={
                "X-CloudScheduler-JobName": job_name
                or f"firebase-schedule-{name}-{region or self.region}",
                "X-CloudScheduler-ScheduleTime": when.isoformat().replace("+00:00", "Z"),
            },
            timeout=TIMEOUT_S,
        )
        if response.status_code >= 400:
            raise EmulatorError(
                f"scheduled {name}: {response.status_code} {response.text[:500]}",
                status=response.status_code,
            )
        return response.status_code

    def _background_key(self, name: str, region: str | None, *, what: str) -> str:
        """The emulator's key for a background (event or scheduled) function: it serves them on
        ``/functions/projects/<project>/triggers/<region>-<name>-<generation>``, where the
        generation rises with each hot reload; the newest one is live."""
        prefix = f"{region or self.region}-{name}-"
        keys = [
            k for k in self._trigger_keys() if k.startswith(prefix) and k[len(prefix) :].isdigit()
        ]
        if not keys:
            raise EmulatorError(f"no {what} {name!r} is loaded in region {region or self.region}")
        return max(keys, key=lambda k: int(k[len(prefix) :]))

    def deliver_event(
        self,
        name: str,
        event: MessagePublishedEvent | Mapping[str, JsonInput],
        *,
        region: str | None = None,
    ) -> int:
        """Deliver ``event`` to the event-triggered function ``name`` now, directly over the
        function's HTTP endpoint, as the platform does on every (re)delivery; the HTTP status:
        2xx when the handler succeeded, 5xx when it raised (not raised here: a failure is what a
        retry test is after). 204 means background triggers are disabled.

        ``event`` is a CloudEvent in structured JSON (``specversion``, ``id``, ``source``,
        ``type``, ``time``, ``data``), e.g. ``PubSubEmulator.message_event(...)``. The emulators
        never retry a failed event function (a Pub/Sub delivery is acknowledged even when the
        function raised), so a test shows the retry path by delivering the same event again:
        that a handler failing once and then succeeding applies the event exactly once, and that
        a duplicate delivery changes nothing.
        """
        key = self._background_key(name, region, what="event function")
        response = node_session().post(
            f"{self.base_url}/functions/projects/{self.project}/triggers/{key}",
            # A MessagePublishedEvent is a JSON object too (a TypedDict is no Mapping[str, ...]).
            json=to_json(cast("Mapping[str, JsonInput]", event)),
            headers={"Content-Type": "application/cloudevents+json; charset=UTF-8"},
            timeout=TIMEOUT_S,
        )
        return response.status_code

    def recycle_idle_workers(self) -> int:
        """Stop every idle function worker, as a source change would (the emulator reloads each
        codebase's functions; the next invocations start fresh workers), then reap the workers
        the emulator let go of; how many processes were reaped. The emulator starts one worker
        per concurrent invocation of a function and keeps it until it stops, so a long suite
        with bursts of concurrent events can otherwise run a machine out of memory."""
        node_session().put(
            f"{self.hub_url}/functions/enableBackgroundTriggers", timeout=TIMEOUT_S
        ).raise_for_status()
        return reap_orphaned_workers()

    @contextmanager
    def background_triggers_disabled(self) -> Iterator[None]:
        """Within the block, Firestore/Pub/Sub/Auth event triggers do not fire (arrange data quietly)."""
        response = node_session().put(
            f"{self.hub_url}/functions/disableBackgroundTriggers", timeout=TIMEOUT_S
        )
        response.raise_for_status()
        try:
            yield
        finally:
            node_session().put(
                f"{self.hub_url}/functions/enableBackgroundTriggers", timeout=TIMEOUT_S
            ).raise_for_status()


def function_workers() -> dict[int, int]:
    """Python function worker processes on this machine (``functions-framework``): pid ->
    parent pid. Linux (/proc); empty elsewhere."""
    import pathlib

    workers = {}
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            if b"functions-framework" not in (proc / "cmdline").read_bytes():
                continue
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing paren.
        workers[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return workers


def reap_orphaned_workers() -> int:
    """Kill the function workers the emulator has let go of; how many processes.

    When the emulator reloads a codebase (a source change, or re-enabling background triggers)
    it kills each idle worker's process, but the Python process under it lives on, adopted by
    init, holding its memory until the machine runs out. Those orphans (and their children) are
    what this kills; a worker the emulator still runs has a living parent."""
    import os
    import signal

    workers = function_workers()
    doomed = {pid for pid, parent in workers.items() if parent == 1}
    grown = True
    while grown:  # their children too
        more = {pid for pid, parent in workers.items() if parent in doomed} - doomed
        grown = bool(more)
        doomed |= more
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
    return len(doomed)

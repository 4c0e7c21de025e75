"""Start this project's Firebase Emulator Suite, run something against it, stop it with nothing
left behind.

Used by scripts/dev (run until Ctrl-C) and scripts/test (run pytest). Starting, readiness, port
shifting and stopping without leftovers are the harness's (``firebase_emulator_harness.emulators``);
what is this project's is here: the pinned CLI in node_modules, which emulators, where logs go,
the demo seed for dev, and the variable the tests read our functions' logs from. The Java 21+ the
emulators need is put on PATH by scripts/lib/env.sh (``use_java``) before this runs.

Several suites can run side by side (scripts/test while scripts/dev serves the app, or two
checkouts): a run whose default ports are taken runs with every port shifted (by 10000,
11000, ...); dev insists on the default ports. Set ``EMULATOR_PORT_OFFSET`` to choose the shift
yourself. Clients find the suite through the environment this script gives the command it runs
(``FIREBASE_EMULATOR_HUB`` and the ``*_EMULATOR_HOST`` variables).

FCM has no emulator: a local FCM endpoint (``firebase_emulator_harness.FcmServer``) runs in this
process for as long as the emulators do, and ``FOCUS_FCM_ENDPOINT`` names it both to the Firebase
CLI (whose Functions emulator hands its environment to the function workers: what they send
arrives there) and to the command run (tests steer it with ``FcmRemote``: the ``fcm`` fixture).
A test run takes any free port; dev serves it on ``pushes.DEV_PORT`` (9190, plus
``EMULATOR_PORT_OFFSET``), where scripts/pushes looks. Google Play has no emulator either: a local
Play Developer API (``firebase_emulator_harness.PlayServer``) runs the same way, named by
``FOCUS_PLAY_ENDPOINT`` (focus.adapters.google_play; tests put purchases there with ``PlayRemote``,
the ``play`` fixture); dev serves it on ``PLAY_DEV_PORT`` (9191, plus the offset). Vertex AI and
Cloud Storage have none either: a local Cloud Storage (``firebase_emulator_harness.StorageServer``,
named by ``STORAGE_EMULATOR_HOST``, the client library's own setting; focus.adapters.objects) and a
local Vertex AI (``firebase_emulator_harness.VertexServer``, named by ``FOCUS_VERTEX_ENDPOINT``;
focus.adapters.model and model_batch) whose batch jobs read and write their files in that
Cloud Storage run the same way (tests script answers with ``VertexRemote`` and look at files with
``StorageRemote``: the ``vertex`` and ``cloud_storage`` fixtures); dev serves them on
``VERTEX_DEV_PORT`` (9192) and ``STORAGE_DEV_PORT`` (9193), plus the offset.

Usage: suite.py dev | suite.py run -- <command...>
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from pushes import DEV_PORT, ENDPOINT_SETTING  # scripts/lib/pushes.py

from firebase_emulator_harness import FcmServer, PlayServer, StorageServer, VertexServer, emulators

ROOT = Path(__file__).resolve().parents[2]
PROJECT = json.loads((ROOT / ".firebaserc").read_text())["projects"]["default"]
FIREBASE_CLI = ROOT / "node_modules" / ".bin" / "firebase"
ONLY = ("auth", "firestore", "functions", "pubsub", "tasks")
LOG_DIR = ROOT / ".local"
PLAY_ENDPOINT_SETTING = "FOCUS_PLAY_ENDPOINT"  # focus.adapters.google_play.ENDPOINT_SETTING
PLAY_DEV_PORT = 9191  # beside pushes.DEV_PORT, outside the Functions emulator's worker ports
VERTEX_ENDPOINT_SETTING = "FOCUS_VERTEX_ENDPOINT"  # focus.adapters.model.ENDPOINT_SETTING
VERTEX_DEV_PORT = 9192
# google-cloud-storage's own setting (focus.adapters.objects.EMULATOR_SETTING).
STORAGE_ENDPOINT_SETTING = "STORAGE_EMULATOR_HOST"
STORAGE_DEV_PORT = 9193
# Product events (docs/analytics.md) have no function listening, so the Functions emulator does
# not create their topic as it does a Pub/Sub trigger's: it is made here, with the pull
# subscription scripts/analytics-collect drains (made now, so it keeps every event from the start).
ANALYTICS_TOPIC = "product-events"  # focus.domain.wires, infra/terraform/analytics.tf
ANALYTICS_SUBSCRIPTION = "product-events-local"  # scripts/lib/analytics_collect.py


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("dev")
    run = sub.add_parser("run")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()

    emulators.interrupt_on_signals()
    started = time.monotonic()
    suite: emulators.RunningEmulators | None = None
    ports_in_use = False
    port_offset = (
        int(os.environ["EMULATOR_PORT_OFFSET"]) if "EMULATOR_PORT_OFFSET" in os.environ else None
    )
    fcm_port = DEV_PORT + (port_offset or 0) if args.mode == "dev" else 0
    try:
        fcm = FcmServer(port=fcm_port).start()
    except OSError as exc:
        sys.exit(
            f"error: the local FCM endpoint cannot listen on port {fcm_port} ({exc.strerror}).\n"
            "       Another scripts/dev is running? Stop it, or set EMULATOR_PORT_OFFSET."
        )
    play_port = PLAY_DEV_PORT + (port_offset or 0) if args.mode == "dev" else 0
    try:
        play = PlayServer(port=play_port).start()
    except OSError as exc:
        fcm.stop()
        sys.exit(
            f"error: the local Play server cannot listen on port {play_port} ({exc.strerror}).\n"
            "       Another scripts/dev is running? Stop it, or set EMULATOR_PORT_OFFSET."
        )
    storage = StorageServer(port=STORAGE_DEV_PORT + (port_offset or 0) if args.mode == "dev" else 0)
    # Batch jobs read their input and write their predictions in that Cloud Storage.
    vertex = VertexServer(
        port=VERTEX_DEV_PORT + (port_offset or 0) if args.mode == "dev" else 0, storage=storage
    )
    for name, server in (("Cloud Storage", storage), ("Vertex AI", vertex)):
        try:
            server.start()
        except OSError as exc:
            for running in (fcm, play, storage):
                running.stop()  # stopping one that never started does nothing
            sys.exit(
                f"error: the local {name} server cannot listen ({exc.strerror}).\n"
                "       Another scripts/dev is running? Stop it, or set EMULATOR_PORT_OFFSET."
            )
    # Before the emulators start: the CLI hands its own environment to the function workers.
    # Sync pushes coalesce the edits of 10 s here, not production's two minutes, so tests and a
    # developer watching scripts/pushes need not wait (focus.adapters.environment, emulators only).
    fcm_environment = {ENDPOINT_SETTING: fcm.url, "FOCUS_SYNC_COALESCING_SECONDS": "10"}
    # Play purchases are read from (and acknowledged on) the local Play server there.
    fcm_environment[PLAY_ENDPOINT_SETTING] = play.url
    # Gemini (online and batch) and the batch files in Cloud Storage, on the local servers.
    fcm_environment[VERTEX_ENDPOINT_SETTING] = vertex.url
    fcm_environment[STORAGE_ENDPOINT_SETTING] = storage.url
    # The App Store's signed notifications are verified against the root certificates in this
    # folder on the emulators (production: Apple's root, focus.adapters.app_store): tests write
    # the root of a chain they generate here, and sign with it.
    apple_roots = Path(tempfile.mkdtemp(prefix="focus-apple-roots-"))
    fcm_environment["FOCUS_APPLE_ROOTS_DIR"] = str(apple_roots)
    try:
        suite = emulators.start(
            ROOT,
            project=PROJECT,
            only=ONLY,
            firebase=FIREBASE_CLI,
            port_offset=port_offset,
            shift_if_busy=args.mode == "run",
            log_dir=LOG_DIR,
            echo=args.mode == "dev",
            env={**os.environ, **fcm_environment},
        )
        print(
            f"[suite] emulators ready in {time.monotonic() - started:.1f}s (log: {suite.log_path})",
            flush=True,
        )
        create_analytics_topic(suite.environment())
        env = {
            **os.environ,
            **suite.environment(),
            **fcm_environment,
            # Tests read our functions' log lines (requests, spans) from the CLI's output.
            "FOCUS_EMULATOR_LOG": str(suite.log_path),
        }
        if args.mode == "dev":
            from dev_seed import seed_and_describe  # scripts/lib/dev_seed.py

            seed_and_describe(env)
            while True:
                time.sleep(3600)
        command = [c for c in args.command if c != "--"]
        return emulators.run_command(command, env, cwd=ROOT)
    except emulators.PortsInUse as exc:
        ports_in_use = True  # nothing was started
        sys.exit(
            f"error: emulator ports are in use ({', '.join(exc.busy)}).\n"
            "       Another suite is running (scripts/dev?). Stop it, or set EMULATOR_PORT_OFFSET."
        )
    except emulators.EmulatorStartError as exc:
        sys.exit(f"error: {exc}")
    except KeyboardInterrupt:
        return 130
    finally:
        if not ports_in_use:
            print("[suite] stopping emulators ...", flush=True)
            if suite is not None and (left := suite.stop()):
                print(f"[suite] warning: processes {left} would not stop", file=sys.stderr)
            print("[suite] stopped; no emulator process left", flush=True)
        fcm.stop()  # last: function workers may send until the emulators stop
        play.stop()
        vertex.stop()
        storage.stop()
        shutil.rmtree(apple_roots, ignore_errors=True)


def create_analytics_topic(environment: dict[str, str]) -> None:
    """The product-events topic and its local pull subscription on the Pub/Sub emulator (REST:
    no client library to import; an existing one answers 409 and is left as it is)."""
    base = f"http://{environment['PUBSUB_EMULATOR_HOST']}/v1/projects/{PROJECT}"
    for path, body in (
        (f"topics/{ANALYTICS_TOPIC}", {}),
        (
            f"subscriptions/{ANALYTICS_SUBSCRIPTION}",
            {"topic": f"projects/{PROJECT}/topics/{ANALYTICS_TOPIC}", "ackDeadlineSeconds": 60},
        ),
    ):
        request = urllib.request.Request(
            f"{base}/{path}",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        try:
            # The emulator is on this machine: never through an http_proxy from the environment.
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                request, timeout=10
            ).close()
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise


if __name__ == "__main__":
    sys.exit(main())

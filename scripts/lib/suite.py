"""Start the Firebase Emulator Suite, run something against it, stop it with nothing left behind.

Used by scripts/dev (run until Ctrl-C) and scripts/test (run pytest). The Firebase CLI starts
Python function workers that outlive it on SIGINT, so the CLI runs in its own session (process
group) and, once it has had a moment to stop its emulators, the whole group is killed.

Several suites can run side by side (scripts/test while scripts/dev serves the app, or two
checkouts): a suite whose default ports are taken runs with every port shifted by a multiple of
100, from a generated config (``firebase.suite-<offset>.local.json``, ignored by git). Set
``EMULATOR_PORT_OFFSET`` to choose the shift yourself. Clients find the suite through the
environment this script gives the command it runs (``FIREBASE_EMULATOR_HUB`` and the
``*_EMULATOR_HOST`` variables).

Usage: suite.py dev | suite.py run -- <command...>
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / "firebase.json").read_text())
PROJECT = json.loads((ROOT / ".firebaserc").read_text())["projects"]["default"]
READY_MARK = "All emulators ready"
START_TIMEOUT_S = 120
FIRESTORE_WEBSOCKET_PORT = 9150  # the Firestore emulator's extra port (firebase-tools default)
OFFSETS = range(0, 1000, 100)


def emulators(offset: int) -> dict[str, Any]:
    """The ``emulators`` block of firebase.json with every port shifted by ``offset``."""
    shifted: dict[str, Any] = {}
    for name, cfg in CONFIG["emulators"].items():
        if isinstance(cfg, dict) and "port" in cfg:
            cfg = {**cfg, "port": cfg["port"] + offset}
        shifted[name] = cfg
    shifted["firestore"]["websocketPort"] = FIRESTORE_WEBSOCKET_PORT + offset
    return shifted


def _port_busy(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def busy_ports(offset: int) -> list[str]:
    ports = [
        (name, cfg["host"], cfg["port"])
        for name, cfg in emulators(offset).items()
        if isinstance(cfg, dict) and "port" in cfg
    ]
    ports.append(("firestore websocket", "127.0.0.1", FIRESTORE_WEBSOCKET_PORT + offset))
    return [f"{name} {host}:{port}" for name, host, port in ports if _port_busy(host, port)]


def choose_offset(*, shift_if_busy: bool) -> int:
    if "EMULATOR_PORT_OFFSET" in os.environ:
        return int(os.environ["EMULATOR_PORT_OFFSET"])
    for offset in OFFSETS if shift_if_busy else (0,):
        if not busy_ports(offset):
            return offset
    busy = ", ".join(busy_ports(0))
    sys.exit(
        f"error: emulator ports are in use ({busy}).\n"
        "       Another suite is running (scripts/dev?). Stop it, or set EMULATOR_PORT_OFFSET."
    )


def config_file(offset: int) -> Path:
    """The firebase.json to start with: the real one, or a copy with shifted ports beside it
    (the config's folder is the project folder, so the copy must live at the root)."""
    if offset == 0:
        return ROOT / "firebase.json"
    path = ROOT / f"firebase.suite-{offset}.local.json"
    path.write_text(json.dumps({**CONFIG, "emulators": emulators(offset)}, indent=2))
    return path


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Suite:
    """The running emulator suite: one Firebase CLI process group."""

    def __init__(self, *, echo: bool, offset: int) -> None:
        self.echo = echo
        self.offset = offset
        self.config = config_file(offset)
        self.log_path = ROOT / ".local" / f"emulators-{offset}.log"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(ROOT / "node_modules" / ".bin" / "firebase"),
            "emulators:start",
            "--config",
            str(self.config),
            "--project",
            PROJECT,
            "--only",
            "auth,firestore,functions,pubsub,tasks",
        ]
        env = {**os.environ, "CI": "true"}
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: see the module docstring
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        with self.log_path.open("w") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if self.echo:
                    sys.stdout.write(line)
                if READY_MARK in line:
                    break
                if time.monotonic() > deadline:
                    self.stop()
                    sys.exit(
                        f"error: emulators not ready after {START_TIMEOUT_S}s; see {self.log_path}"
                    )
            else:
                code = self.process.wait()
                sys.exit(
                    f"error: the Firebase CLI exited ({code}) before the emulators were ready; see {self.log_path}"
                )
        self._forward_output()

    def _forward_output(self) -> None:
        """Keep draining the CLI's output (to the log, and the terminal for dev) in the background."""
        import threading

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            with self.log_path.open("a") as log:
                for line in self.process.stdout:
                    log.write(line)
                    log.flush()
                    if self.echo:
                        sys.stdout.write(line)
                        sys.stdout.flush()

        threading.Thread(target=pump, daemon=True).start()

    def stop(self) -> None:
        if self.process is None:
            return
        pgid = self.process.pid
        if _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGINT)  # lets the CLI stop the JVM emulators cleanly
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _group_alive(pgid):  # the orphaned function workers, and anything slow to stop
            # Reap the CLI once it exits: an unreaped (zombie) leader keeps the group "alive".
            self.process.poll()
            sig = signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        self.process.wait()
        self.process = None
        if self.offset:
            self.config.unlink(missing_ok=True)


def env_for_clients(offset: int) -> dict[str, str]:
    """What a test process needs to find the suite (the harness reads these)."""
    shifted = emulators(offset)

    def host(name: str) -> str:
        return f"{shifted[name]['host']}:{shifted[name]['port']}"

    return {
        "FIREBASE_EMULATOR_HUB": host("hub"),
        "GCLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": host("firestore"),
        "FIREBASE_AUTH_EMULATOR_HOST": host("auth"),
        "PUBSUB_EMULATOR_HOST": host("pubsub"),
        "CLOUD_TASKS_EMULATOR_HOST": host("tasks"),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("dev")
    run = sub.add_parser("run")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()

    suite = Suite(echo=args.mode == "dev", offset=choose_offset(shift_if_busy=args.mode == "run"))
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        suite.start()
        print(
            f"[suite] emulators ready in {time.monotonic() - started:.1f}s (log: {suite.log_path})",
            flush=True,
        )
        env = {**os.environ, **env_for_clients(suite.offset)}
        if args.mode == "dev":
            from dev_seed import seed_and_describe  # scripts/lib/dev_seed.py

            seed_and_describe(env)
            while True:
                time.sleep(3600)
        command = [c for c in args.command if c != "--"]
        child = subprocess.Popen(command, cwd=ROOT, env=env)
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            return child.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        print("[suite] stopping emulators ...", flush=True)
        suite.stop()
        print("[suite] stopped; no emulator process left", flush=True)


if __name__ == "__main__":
    sys.exit(main())

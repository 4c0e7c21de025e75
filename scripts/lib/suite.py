"""Start the Firebase Emulator Suite, run something against it, stop it with nothing left behind.

Used by scripts/dev (run until Ctrl-C) and scripts/test (run pytest). The Firebase CLI starts
Python function workers that outlive it on SIGINT, so the CLI runs in its own session (process
group) and, once it has had a moment to stop its emulators, the whole group is killed.

Usage: suite.py dev | suite.py run -- <command...>
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / "firebase.json").read_text())
EMULATORS = CONFIG["emulators"]
PROJECT = json.loads((ROOT / ".firebaserc").read_text())["projects"]["default"]
HUB = f"http://{EMULATORS['hub']['host']}:{EMULATORS['hub']['port']}"
READY_MARK = "All emulators ready"
START_TIMEOUT_S = 120
LOG_PATH = ROOT / ".local" / "emulators.log"


def _port_busy(host: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def busy_ports() -> list[str]:
    return [
        f"{name} {cfg['host']}:{cfg['port']}"
        for name, cfg in EMULATORS.items()
        if isinstance(cfg, dict) and "port" in cfg and _port_busy(cfg["host"], cfg["port"])
    ]


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

    def __init__(self, *, echo: bool) -> None:
        self.echo = echo
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        if busy := busy_ports():
            sys.exit(
                "error: emulator ports are in use (" + ", ".join(busy) + ").\n"
                "       Another suite is running (scripts/dev?). Stop it first."
            )
        LOG_PATH.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(ROOT / "node_modules" / ".bin" / "firebase"),
            "emulators:start",
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
        with LOG_PATH.open("w") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if self.echo:
                    sys.stdout.write(line)
                if READY_MARK in line:
                    break
                if time.monotonic() > deadline:
                    self.stop()
                    sys.exit(f"error: emulators not ready after {START_TIMEOUT_S}s; see {LOG_PATH}")
            else:
                code = self.process.wait()
                sys.exit(
                    f"error: the Firebase CLI exited ({code}) before the emulators were ready; see {LOG_PATH}"
                )
        self._forward_output()

    def _forward_output(self) -> None:
        """Keep draining the CLI's output (to the log, and the terminal for dev) in the background."""
        import threading

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            with LOG_PATH.open("a") as log:
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
            sig = signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        self.process.wait()
        self.process = None


def env_for_clients() -> dict[str, str]:
    """What a test process needs to find the suite (the harness reads these)."""

    def host(name: str) -> str:
        return f"{EMULATORS[name]['host']}:{EMULATORS[name]['port']}"

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

    suite = Suite(echo=args.mode == "dev")
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
            f"[suite] emulators ready in {time.monotonic() - started:.1f}s (log: {LOG_PATH})",
            flush=True,
        )
        env = {**os.environ, **env_for_clients()}
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

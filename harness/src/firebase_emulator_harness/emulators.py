"""Start the Emulator Suite, and stop it with nothing left behind.

``start(project_dir, project=...)`` runs ``firebase emulators:start`` for a project folder, waits
until the CLI says "All emulators ready", and returns the ``RunningEmulators``: their ports, the
environment a client needs to find them, the log of the CLI's output. ``stop()`` (or leaving the
``with`` block) stops them::

    with emulators.start("path/to/project", project="demo-test") as running:
        subprocess.run(["pytest"], env={**os.environ, **running.environment()}, check=True)

Nothing is left running: the Firebase CLI starts Python function workers that outlive it on
SIGINT, so it runs in its own session (process group) and, once it has had a moment to stop its
emulators, whatever is left in the group is killed.

Several suites can run side by side (tests while a development suite serves an app, or two
checkouts): ``start`` finds the first port offset (0, 10000, 11000, ...) at which every port of
the config's ``emulators`` block is free, and runs from a copy of the config with every port
shifted (``firebase.suite-<offset>.local.json`` beside it, removed on stop). Give every emulator
an explicit port in firebase.json for this to hold. Starts are serialised across processes
(a lock file), because while loading codebases firebase-tools serves each one's function list on
the first free port from 8081, where two suites starting at once could read each other's.

POSIX only (process groups, a lock file); the leftover-process check reads ``/proc`` on Linux.
The CLI needs what it always needs (Node, Java 21+ for the Firestore and Pub/Sub emulators): this
module finds neither, it runs ``firebase`` (or the path given) with the environment it is given.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from firebase_emulator_harness.errors import EmulatorError
from firebase_emulator_harness.suite import DEFAULT_HUB, EmulatorSuite
from firebase_emulator_harness.values import JsonObject, json_object

READY_MARK = "All emulators ready"
START_TIMEOUT_S = 120.0
# Shifts keep every emulator's port clear of every other's (the defaults are 100 apart) and of
# the 8081-9081 range the Functions emulator picks worker ports from.
PORT_OFFSETS: tuple[int, ...] = (0, *range(10_000, 23_000, 1_000))
FIRESTORE_WEBSOCKET_PORT = 9150  # the Firestore emulator's extra port (firebase-tools default)
STARTUP_LOCK = Path(tempfile.gettempdir()) / "firebase-emulator-suite-start.lock"
# The variables client libraries (Admin SDK, Google Cloud clients, this harness) read.
CLIENT_VARIABLES = {
    "hub": "FIREBASE_EMULATOR_HUB",
    "firestore": "FIRESTORE_EMULATOR_HOST",
    "auth": "FIREBASE_AUTH_EMULATOR_HOST",
    "pubsub": "PUBSUB_EMULATOR_HOST",
    "tasks": "CLOUD_TASKS_EMULATOR_HOST",
    "database": "FIREBASE_DATABASE_EMULATOR_HOST",
    "storage": "FIREBASE_STORAGE_EMULATOR_HOST",
}
# Quiet and offline-safe: no update check or banner, no probing for a metadata server.
CLI_ENVIRONMENT = {"CI": "true"}
CLI_ENVIRONMENT_DEFAULTS = {"METADATA_SERVER_DETECTION": "none", "NO_GCE_CHECK": "True"}


class EmulatorStartError(EmulatorError):
    """The suite did not start (its CLI exited, or was not ready in time)."""


class PortsInUse(EmulatorStartError):
    """Every port offset tried has an emulator port in use (``busy`` lists those at offset 0)."""

    def __init__(self, busy: list[str]) -> None:
        super().__init__(f"emulator ports are in use ({', '.join(busy)})")
        self.busy = busy


def load_config(path: Path) -> JsonObject:
    """A firebase.json."""
    return json_object(json.loads(path.read_text()), str(path))


def default_project(project_dir: Path) -> str | None:
    """The default project of ``project_dir``'s ``.firebaserc``, if it names one."""
    rc = project_dir / ".firebaserc"
    if not rc.exists():
        return None
    projects = json_object(json.loads(rc.read_text()), str(rc)).get("projects")
    default = projects.get("default") if isinstance(projects, dict) else None
    return default if isinstance(default, str) else None


def shifted_emulators(emulators: JsonObject, offset: int) -> JsonObject:
    """An ``emulators`` block of firebase.json with every port shifted by ``offset`` (the
    Firestore emulator's websocket port included)."""
    shifted: JsonObject = {}
    for name, cfg in emulators.items():
        if isinstance(cfg, dict) and isinstance(port := cfg.get("port"), int):
            cfg = {**cfg, "port": port + offset}
        shifted[name] = cfg
    if isinstance(firestore := shifted.get("firestore"), dict):
        websocket = firestore.get("websocketPort", FIRESTORE_WEBSOCKET_PORT)
        if isinstance(websocket, int):
            shifted["firestore"] = {**firestore, "websocketPort": websocket + offset}
    return shifted


def _ports(emulators: JsonObject) -> list[tuple[str, str, int]]:
    """(name, host, port) of every port an ``emulators`` block configures."""
    ports = []
    for name, cfg in emulators.items():
        if isinstance(cfg, dict) and isinstance(port := cfg.get("port"), int):
            ports.append((name, str(cfg.get("host", "127.0.0.1")), port))
    if isinstance(firestore := emulators.get("firestore"), dict):
        websocket = firestore.get("websocketPort", FIRESTORE_WEBSOCKET_PORT)
        if isinstance(websocket, int):
            ports.append(("firestore websocket", "127.0.0.1", websocket))
    return ports


def _port_busy(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def busy_ports(emulators: JsonObject, offset: int) -> list[str]:
    """The ports of ``emulators`` shifted by ``offset`` that something already listens on."""
    return [
        f"{name} {host}:{port}"
        for name, host, port in _ports(shifted_emulators(emulators, offset))
        if _port_busy(host, port)
    ]


def choose_port_offset(emulators: JsonObject, *, shift_if_busy: bool = True) -> int:
    """The first offset of ``PORT_OFFSETS`` (only 0 unless ``shift_if_busy``) at which every
    port is free; ``PortsInUse`` if there is none."""
    candidates: tuple[int, ...] = PORT_OFFSETS if shift_if_busy else (0,)
    for offset in candidates:
        if not busy_ports(emulators, offset):
            return offset
    raise PortsInUse(busy_ports(emulators, 0))


def client_environment(
    emulators: JsonObject, *, project: str, only: Sequence[str] | None = None
) -> dict[str, str]:
    """The variables that point clients at ``emulators`` (already shifted): the hub, and each
    emulator started (all configured ones unless ``only``) that has a well-known variable."""
    env = {"GCLOUD_PROJECT": project}
    for name, variable in CLIENT_VARIABLES.items():
        cfg = emulators.get(name)
        wanted = only is None or name in only or name == "hub"
        if wanted and isinstance(cfg, dict) and "port" in cfg:
            env[variable] = f"{cfg.get('host', '127.0.0.1')}:{cfg['port']}"
    return env


def _group_members(pgid: int) -> list[int]:
    """Processes still running in process group ``pgid``. On Linux, from ``/proc`` (zombies, which
    only wait to be reaped by their parent or by init, do not count); elsewhere ``[pgid]`` while
    the group has any member at all."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    live = []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            live.append(int(stat.parent.name))
    return live


def _detached_children(parent: int, pgid: int) -> list[int]:
    """Live children of ``parent`` outside process group ``pgid``: the CLI starts the Firestore
    and Pub/Sub emulators (JVMs) in sessions of their own, so a group signal never reaches them.
    Linux only (``/proc``); elsewhere none are found and the CLI's own shutdown stops them."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, ppid, group = fields[0], int(fields[1]), int(fields[2])
        if ppid == parent and group != pgid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _stop_detached(pids: list[int]) -> list[int]:
    """SIGTERM, then SIGKILL after 5 s, to the emulators the CLI left behind; those alive."""
    deadline = time.monotonic() + 5
    left = [pid for pid in pids if _alive(pid)]
    while left:
        sig = signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if time.monotonic() > deadline + 5:
            break
        time.sleep(0.2)
        left = [pid for pid in left if _alive(pid)]
    return left


@dataclass
class RunningEmulators:
    """A started Emulator Suite: one Firebase CLI process group."""

    project: str
    offset: int
    config_path: Path  # the firebase.json it runs with (a shifted copy when offset > 0)
    log_path: Path  # everything the CLI printed
    emulators: JsonObject  # the emulators block in force (ports shifted)
    only: Sequence[str] | None
    _process: subprocess.Popen[str] | None = field(repr=False)
    _output: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        """The CLI's process id, which is also its process group's id; None once stopped."""
        return None if self._process is None else self._process.pid

    @property
    def hub(self) -> str:
        """The hub's ``host:port`` (what ``EmulatorSuite(hub=...)`` takes)."""
        return self.environment().get("FIREBASE_EMULATOR_HUB", DEFAULT_HUB)

    def environment(self) -> dict[str, str]:
        """What a client process needs to find these emulators: ``FIREBASE_EMULATOR_HUB``,
        ``GCLOUD_PROJECT`` and the ``*_EMULATOR_HOST`` variables."""
        return client_environment(self.emulators, project=self.project, only=self.only)

    def connect(self, region: str = "us-central1") -> EmulatorSuite:
        """An ``EmulatorSuite`` talking to these emulators."""
        return EmulatorSuite(self.project, region, hub=self.hub)

    def stop(self) -> list[int]:
        """Stop the suite: SIGINT to the CLI (it stops its emulators cleanly), then SIGTERM and at
        last SIGKILL to whatever is left in its process group. Returns the processes that still
        would not stop (normally none). Calling it again does nothing."""
        left = [] if self._process is None else self._stop_group(self._process)
        self._process = None
        if self._output is not None:
            self._output.join(timeout=5)  # the log is complete
        if self.offset:
            self.config_path.unlink(missing_ok=True)
        return left

    @staticmethod
    def _stop_group(process: subprocess.Popen[str]) -> list[int]:
        pgid = process.pid  # the CLI leads its own process group
        # Noted before the CLI goes: when its clean shutdown outlasts our patience (it waits for
        # busy function workers), killing it leaves these running, and they hold the ports.
        detached = _detached_children(pgid, pgid)
        if _group_members(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        deadline = time.monotonic() + 5
        left = _group_members(pgid)
        while left:  # the orphaned function workers, and anything slow
            sig = signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            if time.monotonic() > deadline + 5:
                break
            time.sleep(0.2)
            left = _group_members(pgid)
        process.wait()
        return left + _stop_detached(detached)

    def __enter__(self) -> RunningEmulators:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start(
    project_dir: Path | str,
    *,
    project: str,
    only: Sequence[str] | None = None,
    firebase: Path | str = "firebase",
    config: str = "firebase.json",
    port_offset: int | None = None,
    shift_if_busy: bool = True,
    log_dir: Path | str | None = None,
    echo: bool = False,
    timeout: float = START_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> RunningEmulators:
    """Start the emulators of ``project_dir`` for ``project`` and wait until they are ready.

    ``only``: the emulators to start (``--only``), all configured ones if None. ``firebase``:
    the CLI to run (e.g. the project's ``node_modules/.bin/firebase``). ``port_offset``: run with
    every port shifted by this much; None picks the first free offset (only 0 unless
    ``shift_if_busy``: ``PortsInUse`` then says what holds the ports). ``log_dir``: where
    ``emulators-<offset>.log`` gets the CLI's output (default: the project folder's ``.local``).
    ``echo``: also copy that output to stdout. ``env``: the CLI's environment (default: this
    process's), to which ``CI=true`` is added.

    Raises ``EmulatorStartError`` if the CLI exits or is not ready within ``timeout`` seconds,
    after stopping whatever it had started.
    """
    project_dir = Path(project_dir).resolve()
    base_config = load_config(project_dir / config)
    configured = json_object(base_config.get("emulators") or {}, "emulators")
    logs = Path(log_dir) if log_dir is not None else project_dir / ".local"
    # The offset is chosen under the start-up lock, so two suites starting at once cannot both
    # take the same free ports.
    with STARTUP_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        offset = (
            port_offset
            if port_offset is not None
            else choose_port_offset(configured, shift_if_busy=shift_if_busy)
        )
        emulators = shifted_emulators(configured, offset)
        config_path = project_dir / config
        if offset:
            # The config's folder is the project folder, so the copy must live beside it.
            config_path = project_dir / f"firebase.suite-{offset}.local.json"
            config_path.write_text(json.dumps({**base_config, "emulators": emulators}, indent=2))
        logs.mkdir(parents=True, exist_ok=True)
        command = [
            str(firebase),
            "emulators:start",
            "--config",
            str(config_path),
            "--project",
            project,
        ]
        if only:
            command += ["--only", ",".join(only)]
        environment = {**CLI_ENVIRONMENT_DEFAULTS, **(os.environ if env is None else env)}
        running = RunningEmulators(
            project=project,
            offset=offset,
            config_path=config_path,
            log_path=logs / f"emulators-{offset}.log",
            emulators=emulators,
            only=only,
            _process=None,
        )
        try:
            running._process = subprocess.Popen(
                command,
                cwd=project_dir,
                env={**environment, **CLI_ENVIRONMENT},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # its own process group: see the module docstring
            )
            _wait_until_ready(running, echo=echo, timeout=timeout)
        except BaseException:
            running.stop()
            raise
    return running


def _wait_until_ready(running: RunningEmulators, *, echo: bool, timeout: float) -> None:
    """Copy the CLI's output to the log (and stdout) for as long as it runs; return once it
    printed ``READY_MARK``."""
    process = running._process
    assert process is not None and process.stdout is not None
    ready = threading.Event()
    output = process.stdout

    def pump() -> None:
        with running.log_path.open("w") as log:
            for line in output:
                log.write(line)
                log.flush()
                if echo:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                if READY_MARK in line:
                    ready.set()

    running._output = threading.Thread(target=pump, daemon=True)
    running._output.start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.2):
        if not running._output.is_alive():  # the CLI closed its output: it exited
            raise EmulatorStartError(
                f"the Firebase CLI exited ({process.wait()}) before the emulators were ready; "
                f"see {running.log_path}"
            )
        if time.monotonic() > deadline:
            raise EmulatorStartError(
                f"emulators not ready after {timeout:g}s; see {running.log_path}"
            )


def interrupt_on_signals() -> None:
    """Turn the first SIGINT or SIGTERM into ``KeyboardInterrupt`` (later ones are ignored), so a
    command line around ``start`` reaches its ``finally`` and stops the emulators once, whether
    the user pressed Ctrl-C or CI sent SIGTERM."""
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def run_command(command: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> int:
    """Run ``command`` against running emulators and return its exit code; an interrupt is
    passed on to it (SIGINT) and its own exit awaited, so it can finish its report."""
    child = subprocess.Popen(list(command), cwd=cwd, env=dict(env))
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        return child.wait()

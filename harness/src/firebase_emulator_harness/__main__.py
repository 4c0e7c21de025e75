"""``python -m firebase_emulator_harness [options] [-- command ...]``: start the Emulator Suite of
a project folder, run a command against it (tests, a seed script) and stop it, exiting with the
command's status; without a command, serve until Ctrl-C. Nothing is left running either way.

The command gets ``FIREBASE_EMULATOR_HUB``, ``GCLOUD_PROJECT`` and the ``*_EMULATOR_HOST``
variables, so the ``firebase`` pytest fixture, the Admin SDK and the Google Cloud clients find the
suite even on shifted ports (see ``firebase_emulator_harness.emulators``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from firebase_emulator_harness import emulators


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m firebase_emulator_harness",
        description="Start the Firebase Emulator Suite, run COMMAND against it (or serve until "
        "Ctrl-C without one), stop it with nothing left behind.",
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), help="default: .")
    parser.add_argument("--project", help="project id (default: the one .firebaserc names)")
    parser.add_argument("--only", help="comma-separated emulators to start (default: all)")
    parser.add_argument(
        "--firebase",
        help="the Firebase CLI (default: node_modules/.bin/firebase of the project, or firebase)",
    )
    parser.add_argument("--config", default="firebase.json")
    parser.add_argument(
        "--port-offset", type=int, help="shift every port by this (default: first free offset)"
    )
    parser.add_argument(
        "--no-shift", action="store_true", help="fail, not shift, when the ports are taken"
    )
    parser.add_argument("--log-dir", type=Path, help="default: <project dir>/.local")
    parser.add_argument("--timeout", type=float, default=emulators.START_TIMEOUT_S)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command ...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    project_dir: Path = args.project_dir.resolve()
    project = args.project or emulators.default_project(project_dir)
    if not project:
        sys.exit("error: no --project given and no default project in .firebaserc")
    local_cli = project_dir / "node_modules" / ".bin" / "firebase"
    firebase = args.firebase or (str(local_cli) if local_cli.exists() else "firebase")
    command = [c for c in args.command if c != "--"]

    emulators.interrupt_on_signals()
    started = time.monotonic()
    running: emulators.RunningEmulators | None = None
    try:
        running = emulators.start(
            project_dir,
            project=project,
            only=args.only.split(",") if args.only else None,
            firebase=firebase,
            config=args.config,
            port_offset=args.port_offset,
            shift_if_busy=not args.no_shift,
            log_dir=args.log_dir,
            echo=not command,
            timeout=args.timeout,
        )
        print(
            f"[emulators] ready in {time.monotonic() - started:.1f}s on port offset "
            f"{running.offset} (hub {running.hub}, log: {running.log_path})",
            flush=True,
        )
        if not command:
            while True:
                time.sleep(3600)
        return emulators.run_command(command, {**os.environ, **running.environment()})
    except emulators.EmulatorStartError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if running is not None:
            print("[emulators] stopping ...", flush=True)
            if left := running.stop():
                print(f"[emulators] warning: processes {left} would not stop", file=sys.stderr)
            else:
                print("[emulators] stopped; no emulator process left", flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""List the pushes the local FCM endpoint received: scripts/dev and scripts/test run one beside
the emulators, and everything our code sends there (docs/notifications.md, "Local FCM endpoint").

  pushes.py             every push received since the endpoint started (or a test reset it)
  pushes.py --follow    then keep printing new ones as they arrive, until Ctrl-C

The endpoint is ``FOCUS_FCM_ENDPOINT`` (scripts/test gives it to what it runs), else scripts/dev's:
``http://127.0.0.1:9190``, shifted by ``EMULATOR_PORT_OFFSET`` as the emulators are. One line
per push: when (local time), the token (shortened), the kind (its data's ``kind``), silent or
visible, the title, and what the endpoint answered (accepted, or the error a test injected;
every retry the Admin SDK makes is a line of its own).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from firebase_emulator_harness import EmulatorNotRunning, FcmRemote, ReceivedMessage

ENDPOINT_SETTING = "FOCUS_FCM_ENDPOINT"  # focus.adapters.push.ENDPOINT_SETTING
# scripts/dev's endpoint, shifted by EMULATOR_PORT_OFFSET. Outside 8081-9081, where the
# Functions emulator picks its workers' ports: one of them could hold the port otherwise.
DEV_PORT = 9190
POLL_S = 1.0
COLUMNS = (("time", 8), ("token", 13), ("kind", 18), ("push", 7), ("answer", 22), ("title", 0))
# What FCM means by each status the local endpoint answers (firebase_emulator_harness.fcm).
ANSWERS = {
    200: "accepted",
    400: "400 INVALID_ARGUMENT",
    401: "401 UNAUTHENTICATED",
    403: "403 SENDER_ID_MISMATCH",
    404: "404 UNREGISTERED",
    429: "429 QUOTA_EXCEEDED",
    500: "500 INTERNAL",
    503: "503 UNAVAILABLE",
}


def dev_endpoint() -> str:
    """Where scripts/dev serves the local FCM endpoint."""
    return f"http://127.0.0.1:{DEV_PORT + int(os.environ.get('EMULATOR_PORT_OFFSET') or 0)}"


def endpoint() -> str:
    return os.environ.get(ENDPOINT_SETTING) or dev_endpoint()


def short(token: str | None) -> str:
    """Enough of a token to tell devices apart, not the whole credential."""
    if token is None:
        return "-"
    return token if len(token) <= 12 else f"{token[:6]}…{token[-5:]}"


def line(received: ReceivedMessage) -> str:
    message = received.message
    data = message.get("data")
    notification = message.get("notification")
    kind = data.get("kind") if isinstance(data, dict) else None
    title = notification.get("title") if isinstance(notification, dict) else None
    answer = ANSWERS.get(received.status, str(received.status))
    cells = (
        received.at.astimezone().strftime("%H:%M:%S"),
        short(received.token),
        str(kind or "-"),
        "visible" if isinstance(notification, dict) else "silent",
        f"{answer} (dry run)" if received.validate_only else answer,
        str(title or ""),
    )
    return row(cells)


def row(cells: tuple[str, ...]) -> str:
    return "  ".join(
        cell.ljust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True)
    ).rstrip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--follow", action="store_true", help="keep printing new pushes")
    args = parser.parse_args()
    fcm = FcmRemote(endpoint())
    shown = 0
    last: ReceivedMessage | None = None
    try:
        messages = fcm.received()
        print(f"pushes received by the local FCM endpoint at {fcm.url}:")
        print(row(tuple(name for name, _ in COLUMNS)))
        while True:
            # A test reset the endpoint if the last push shown is no longer where it was.
            if shown and messages[shown - 1 : shown] != [last]:
                print("-- the endpoint was reset --")
                shown = 0
            for received in messages[shown:]:
                print(line(received), flush=True)
            shown = len(messages)
            last = messages[-1] if messages else None
            if not args.follow:
                if not messages:
                    print("(none yet)")
                return 0
            time.sleep(POLL_S)
            messages = fcm.received()
    except EmulatorNotRunning:
        print(
            f"error: no local FCM endpoint answers at {fcm.url}.\n"
            f"       Is scripts/dev running? Otherwise set {ENDPOINT_SETTING} to the endpoint's URL.",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

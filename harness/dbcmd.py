"""``harness db up | down``: a database to poke at.

``up`` starts a throwaway server (local cluster by default), applies the
migrations and overlays and the harness schema, prints the DSN, and waits
until Ctrl-C, SIGTERM or ``harness db down``; then everything it started is
removed. ``down`` finds the running one through a state file in the temp
folder and stops it.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

from .errors import HarnessError

__all__ = ["state_file", "up", "down"]


def state_file() -> Path:
    return Path(tempfile.gettempdir()) / f"harness-db-{os.getuid()}.json"


def up(dsn: str, announce: list[str]) -> int:
    """Write the state file, print ``announce``, wait for a stop signal."""
    path = state_file()
    if path.exists():
        try:
            other = json.loads(path.read_text())
            os.kill(int(other["pid"]), 0)
            raise HarnessError(f"a database is already up (pid {other['pid']}, "
                               f"{other['dsn']}): python -m harness db down first")
        except (ProcessLookupError, ValueError, KeyError, json.JSONDecodeError):
            path.unlink(missing_ok=True)  # left by a process that is gone
    path.write_text(json.dumps({"pid": os.getpid(), "dsn": dsn}))
    try:
        for line in announce:
            print(line, flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("harness db: stopping; the database is removed", flush=True)
    finally:
        path.unlink(missing_ok=True)
    return 0


def down() -> int:
    path = state_file()
    try:
        state = json.loads(path.read_text())
        pid = int(state["pid"])
    except (FileNotFoundError, ValueError, KeyError, json.JSONDecodeError):
        raise HarnessError("no database is up (python -m harness db up starts one)") from None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        raise HarnessError(f"the database's process {pid} is gone; cleared its state") from None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not _alive(pid):
            print(f"harness db: stopped ({state['dsn']})")
            return 0
        time.sleep(0.1)
    raise HarnessError(f"process {pid} did not stop within 30 s")


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True

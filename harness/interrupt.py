"""Ctrl-C and SIGTERM, made reliable.

Python raises KeyboardInterrupt wherever the main thread happens to be, and
where that is a callback (a gc hook, a finalizer) the exception is printed as
"ignored" and lost. The handler therefore also records the request, and every
example checks it before it starts, so a lost interrupt is raised again there.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["install", "check", "requested"]

requested = threading.Event()


def _handler(signum: int, frame: object) -> None:
    requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """Take over SIGINT and SIGTERM (main thread only)."""
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)  # clean up as on Ctrl-C


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt was requested, even one lost."""
    if requested.is_set():
        raise KeyboardInterrupt

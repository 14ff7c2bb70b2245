"""Faults real clients meet, drawn with the workload so they shrink and replay.

* ``terminate``: ``pg_terminate_backend`` of a worker while its call runs;
* ``timeout``: the call runs under a 1 ms ``statement_timeout`` and
  ``lock_timeout`` (SQLSTATE 57014 / 55P03: it certainly did not happen);
* ``cut``: the worker's TCP connection is closed mid-call by a loopback proxy
  the harness owns;
* ``stall``: that proxy holds the connection's bytes for a few milliseconds,
  which widens race windows without an error;
* ``restart``: the local server stops (cleanly) and starts again mid-call:
  every connection drops at once.

A call hit by ``terminate`` or ``cut`` ends ``info``: it may or may not have
committed, and the checkers let it go either way (the audit trail shows what
did). The worker reconnects and goes on.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from hypothesis import strategies as st

__all__ = ["KINDS", "Fault", "faults_for", "Proxy", "EXPECTED_ERRORS"]

KINDS = ("terminate", "timeout", "cut", "stall", "restart")
# What faults make calls end with: a definite failure, not a violation.
EXPECTED_ERRORS = ("57014", "55P03")


@dataclass(frozen=True)
class Fault:
    kind: str
    thread: int
    call: int  # index in the thread's list of calls
    delay_us: int = 0  # after the call is sent

    def to_json(self) -> list[object]:
        return [self.kind, self.thread, self.call, self.delay_us]


def faults_for(kinds: tuple[str, ...], threads: list[int]) -> st.SearchStrategy[tuple[Fault, ...]]:
    """Up to three faults on calls of these threads (``threads[i]`` calls in thread i)."""
    if not kinds:
        return st.just(())
    one = st.integers(0, len(threads) - 1).flatmap(lambda t: st.builds(
        Fault, st.sampled_from(kinds), st.just(t), st.integers(0, threads[t] - 1),
        st.integers(0, 2000)))
    return st.lists(one, max_size=3).map(tuple)


class Proxy:
    """A loopback TCP proxy: forwards every connection to ``upstream`` and can
    cut or stall one, chosen by the client's local port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.peer: dict[socket.socket, socket.socket] = {}
        self.by_port: dict[int, tuple[socket.socket, socket.socket]] = {}
        self.stalled: dict[socket.socket, float] = {}  # client socket -> until
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, name="harness-proxy", daemon=True)
        self.thread.start()

    def __enter__(self) -> "Proxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stopping = True
        self.thread.join(timeout=5)
        with self.lock:
            for s in list(self.peer):
                with contextlib.suppress(OSError):
                    s.close()
            self.peer.clear()
        self.listener.close()
        self.sel.close()

    def cut(self, client_port: int) -> None:
        with self.lock:
            pair = self.by_port.pop(client_port, None)
            if pair:
                for s in pair:
                    self._drop(s)

    def stall(self, client_port: int, seconds: float) -> None:
        with self.lock:
            pair = self.by_port.get(client_port)
            if pair:
                until = time.monotonic() + seconds
                for s in pair:
                    self.stalled[s] = until

    def _drop(self, s: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(s)
        self.peer.pop(s, None)
        self.stalled.pop(s, None)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()

    def _loop(self) -> None:
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.05):
                with self.lock:
                    if key.fileobj is self.listener:
                        self._accept()
                    else:
                        self._pump(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        client, (_, port) = self.listener.accept()
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        for s in (client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sel.register(s, selectors.EVENT_READ, None)
        self.peer[client], self.peer[server] = server, client
        self.by_port[port] = (client, server)

    def _pump(self, s: socket.socket) -> None:
        other = self.peer.get(s)
        if other is None:
            return
        until = self.stalled.get(s, 0.0)
        if until > time.monotonic():
            time.sleep(min(until - time.monotonic(), 0.005))  # hold the bytes a while
            return
        try:
            data = s.recv(65536)
            if not data:
                raise ConnectionResetError
            other.sendall(data)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            for x in (s, other):
                self._drop(x)
            self.by_port = {p: pair for p, pair in self.by_port.items() if s not in pair}


@contextlib.contextmanager
def proxy_for(host: str, port: int) -> Iterator[Proxy]:
    proxy = Proxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()

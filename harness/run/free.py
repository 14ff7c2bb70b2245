"""The free-running executor: one thread and one connection per worker, all
released together by a barrier, each running its calls back to back.

Connections are opened once and kept across examples (opening 16 of them per
example would cost more than the example); threads are made per example and
joined before ``run`` returns, so none outlives it.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from typing import Any, Callable, Sequence

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus

from ..faults import Fault, Proxy

from ..history import Complete, Event, History, Invoke, Outcome
from ..workload import OpCall, Program
from ..workload.ops import OpGen, Step, start
from .libpq import Prepared

__all__ = ["FreeRunner", "classify", "drive"]

def classify(error: psycopg.Error) -> tuple[Outcome, str | None]:
    """``fail`` when the server answered with an error (the transaction rolled
    back); ``info`` when we cannot know (the connection broke mid-call)."""
    sqlstate = error.sqlstate
    # No SQLSTATE: the connection broke. 08xxx: connection errors. 57P0x: the
    # server is shutting down or the backend was terminated mid-call.
    if sqlstate is None or sqlstate.startswith("08") or sqlstate.startswith("57P0"):
        return Outcome.INFO, sqlstate
    return Outcome.FAIL, sqlstate


def drive(execute: Callable[[Step], list[Any]], gen: OpGen) -> tuple[object, tuple[int, ...]]:
    """Run one operation to the end, step after step."""
    try:
        step = next(gen)
        while True:
            step = gen.send(execute(step))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class _Injector:
    """Carries out faults on workers: from its own connection
    (``pg_terminate_backend``) or through the proxy the workers connect by."""

    def __init__(self, dsn: str, proxy: Proxy | None,
                 restart: Callable[[], None] | None = None) -> None:
        self.dsn = dsn
        self.conn = psycopg.connect(dsn, autocommit=True, application_name="harness-faults")
        self.proxy = proxy
        self.restart = restart
        self.lock = threading.Lock()

    def close(self) -> None:
        self.conn.close()
        if self.proxy is not None:
            self.proxy.close()

    def strike(self, fault: Fault, pid: int | None, port: int | None) -> None:
        if fault.kind == "terminate" and pid is not None:
            with self.lock, contextlib.suppress(psycopg.Error):
                if self.conn.closed or self.conn.broken:  # a restart dropped it
                    self.conn = psycopg.connect(self.dsn, autocommit=True)
                self.conn.execute("select pg_terminate_backend(%s)", (pid,))
        elif fault.kind == "restart" and self.restart is not None:
            with self.lock:
                self.restart()
        elif fault.kind == "cut" and self.proxy and port:
            self.proxy.cut(port)
        elif fault.kind == "stall" and self.proxy and port:
            self.proxy.stall(port, 0.005)


class _Worker:
    def __init__(self, index: int, dsn: str, statement_timeout_ms: int,
                 injector: _Injector | None = None) -> None:
        self.index = index
        self.dsn = dsn
        self.injector = injector
        self.port: int | None = None  # our end of the TCP connection (for the proxy)
        self.statement_timeout_ms = statement_timeout_ms
        self.conn: psycopg.Connection | None = None
        self.pid: int | None = None
        self.crash: BaseException | None = None
        self.stopping = False
        self.connect()

    def connect(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = psycopg.connect(
            self.dsn,
            autocommit=True,
            application_name=f"harness-w{self.index}",
            options=f"-c statement_timeout={self.statement_timeout_ms}",
        )
        self.pid = self.conn.info.backend_pid
        self.prepared = Prepared(self.conn)
        if self.injector is not None and self.injector.proxy is not None:
            with socket.fromfd(self.conn.pgconn.socket, socket.AF_INET, socket.SOCK_STREAM) as so:
                self.port = int(so.getsockname()[1])

    def _arm(self, fault: Fault | None) -> threading.Timer | None:
        """Set a fault up for the next call: tight timeouts, or a timer that
        strikes while the call runs."""
        if fault is None or self.injector is None:
            return None
        if fault.kind == "timeout":
            assert self.conn is not None
            with contextlib.suppress(psycopg.Error):  # the fault may fail to arm: no harm
                self.conn.execute("set lock_timeout = 1; set statement_timeout = 1")
            return None
        timer = threading.Timer(fault.delay_us / 1e6, self.injector.strike,
                                (fault, self.pid, self.port))
        timer.daemon = True
        timer.start()
        return timer

    def _disarm(self, fault: Fault | None, timer: threading.Timer | None) -> None:
        if timer is not None:
            timer.cancel()
            timer.join()
        if fault is not None and fault.kind == "timeout":
            # The 1 ms timeout can cancel its own reset: retry, or start afresh,
            # so no later call runs under it.
            for _ in range(3):
                if self.prepared.broken:
                    break
                try:
                    assert self.conn is not None
                    self.conn.execute(f"set statement_timeout = {self.statement_timeout_ms}; "
                                      "set lock_timeout = 0")
                    return
                except psycopg.Error:
                    continue
            self._reconnect()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def cancel(self) -> None:
        self.stopping = True
        conn = self.conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error):
                conn.cancel_safe(timeout=2)

    def run(
        self,
        calls: Sequence[OpCall],
        call_ids: Sequence[int],
        row_ids: Sequence[str],
        barrier: threading.Barrier,
        out: list[Event],
        isolation: str | None = None,
        faults: dict[int, Fault] | None = None,
    ) -> None:
        try:
            barrier.wait()
            self._run(calls, call_ids, row_ids, out, isolation, faults or {})
        except BaseException as e:  # surfaced by FreeRunner.run
            self.crash = e

    def _run(
        self,
        calls: Sequence[OpCall],
        call_ids: Sequence[int],
        row_ids: Sequence[str],
        out: list[Event],
        isolation: str | None,
        faults: dict[int, Fault],
    ) -> None:
        for k, (cid, c) in enumerate(zip(call_ids, calls)):
            if self.stopping:
                return
            if self.conn is None or self.prepared.broken:
                self._reconnect()  # a lost connection ended the last call as info
            assert self.conn is not None
            gen = start(c.op, row_ids[c.purchase], isolation)
            fault = faults.get(k)
            timer = self._arm(fault)
            out.append(Invoke(cid, self.index, c.op, c.purchase, time.monotonic_ns(), self.pid))
            try:
                result, txids = drive(self.prepared.execute, gen)
            except psycopg.Error as e:
                outcome, sqlstate = classify(e)
                if not self.prepared.broken and self.conn.info.transaction_status != TransactionStatus.IDLE:
                    with contextlib.suppress(psycopg.Error):
                        self.conn.execute("rollback")
                msg = _first_line(e.diag.message_primary or str(e))
                out.append(Complete(cid, outcome, time.monotonic_ns(), sqlstate=sqlstate, error=msg))
                continue
            finally:
                self._disarm(fault, timer)
            out.append(Complete(cid, Outcome.OK, time.monotonic_ns(), result=result, txids=txids))
        if any(f.kind in ("terminate", "cut", "restart") for f in faults.values()):
            # A strike that landed just after its call finished killed an idle
            # connection: start the next example on a fresh one.
            self._reconnect()

    def _reconnect(self) -> None:
        for attempt in range(50):  # the server may be coming back
            try:
                self.connect()
                return
            except psycopg.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.1)


class FreeRunner:
    """Runs programs on a pool of worker connections to one database."""

    def __init__(self, dsn: str, statement_timeout_ms: int = 30_000,
                 faults: Sequence[str] = (), restart: Callable[[], None] | None = None) -> None:
        self.dsn = dsn
        self.statement_timeout_ms = statement_timeout_ms
        self.workers: list[_Worker] = []
        self.injector: _Injector | None = None
        if faults:
            proxy = None
            if {"cut", "stall"} & set(faults):
                params = conninfo_to_dict(dsn)
                proxy = Proxy((str(params.get("host", "127.0.0.1")), int(params.get("port", 5432))))
                self.dsn = make_conninfo(dsn, host="127.0.0.1", port=proxy.port)
            self.injector = _Injector(dsn, proxy, restart)

    def __enter__(self) -> "FreeRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for w in self.workers:
            w.close()
        self.workers.clear()
        if self.injector is not None:
            self.injector.close()
            self.injector = None

    def _ensure(self, n: int) -> None:
        while len(self.workers) < n:
            self.workers.append(_Worker(len(self.workers), self.dsn, self.statement_timeout_ms,
                                        self.injector))

    def run(self, program: Program, row_ids: Sequence[str]) -> History:
        n = len(program.threads)
        self._ensure(n)
        ids = itertools.count()
        call_ids = [[next(ids) for _ in t] for t in program.threads]
        barrier = threading.Barrier(n)
        outs: list[list[Event]] = [[] for _ in range(n)]
        threads = [
            threading.Thread(
                target=self.workers[i].run,
                args=(program.threads[i], call_ids[i], row_ids, barrier, outs[i],
                      program.isolation, {f.call: f for f in program.faults if f.thread == i}),
                name=f"harness-w{i}",
                daemon=True,
            )
            for i in range(n)
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                t.join()
        except BaseException:
            # Ctrl-C: stop the workers' statements so their threads end now.
            for w in self.workers[:n]:
                w.cancel()
            deadline = time.monotonic() + 5  # daemon threads: past this, let them go
            for t in threads:
                t.join(timeout=max(deadline - time.monotonic(), 0))
            raise
        for w in self.workers[:n]:
            if w.crash is not None:
                crash, w.crash = w.crash, None
                raise crash
        if any(f.kind == "restart" for f in program.faults):
            for w in self.workers:  # every connection dropped, idle ones too
                w._reconnect()
        events = [e for out in outs for e in out]
        events.sort(key=lambda e: e.at)
        return History(events)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""

"""Prepared statements straight through libpq, for the free-running hot loop.

psycopg's Python layer costs about as much per call as the server's own work
on these one-row statements; the executor needs neither its type adaptation
nor its cursors. Parameters go as text, results come back as text and are
read by column type. Errors are psycopg's own exception classes, with their
SQLSTATE, so everything downstream classifies them the same way.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Sequence

import psycopg
from psycopg import pq
from psycopg.errors import error_from_result

from ..workload import Step

__all__ = ["Prepared"]

_BOOL, _INTS = 16, {20, 21, 23, 26, 28, 5069}  # bool; int8/2/4, oid, xid, xid8
_PLACEHOLDER = re.compile(r"%s")
log = logging.getLogger("harness.sql")


def _load(oid: int) -> Callable[[bytes], Any]:
    if oid == _BOOL:
        return lambda v: v == b"t"
    if oid in _INTS:
        return int
    return lambda v: v.decode()


class Prepared:
    """Runs Steps on one connection as named prepared statements."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.names: dict[str, bytes] = {}

    def _name(self, sql: str) -> bytes:
        name = self.names.get(sql)
        if name is None:
            n = iter(range(1, 1000))
            text = _PLACEHOLDER.sub(lambda _: f"${next(n)}", sql)
            name = f"harness_{len(self.names)}".encode()
            res = self.conn.pgconn.prepare(name, text.encode())
            if res.status != pq.ExecStatus.COMMAND_OK:
                raise error_from_result(res)
            self.names[sql] = name
        return name

    def execute(self, step: Step) -> list[tuple[Any, ...]]:
        pg = self.conn.pgconn
        params: Sequence[bytes | None] = [
            None if p is None else str(p).encode() for p in step.params]
        res = pg.exec_prepared(self._name(step.sql), params)
        status = res.status
        rows: list[tuple[Any, ...]] = []
        if status == pq.ExecStatus.TUPLES_OK:
            loads = [_load(res.ftype(i)) for i in range(res.nfields)]
            rows = [tuple(None if (v := res.get_value(r, i)) is None else loads[i](v)
                          for i in range(res.nfields)) for r in range(res.ntuples)]
        elif status != pq.ExecStatus.COMMAND_OK:
            if pg.status == pq.ConnStatus.BAD:
                self.names.clear()
            error = error_from_result(res)
            self._log(step, f"ERROR {error.sqlstate}: {error.diag.message_primary}")
            raise error
        self._log(step, rows)
        return rows

    def _log(self, step: Step, outcome: object) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("pid %s: %s %s -> %s", self.conn.pgconn.backend_pid,
                      " ".join(step.sql.split()), list(step.params), outcome)

    @property
    def broken(self) -> bool:
        return self.conn.closed or self.conn.pgconn.status == pq.ConnStatus.BAD

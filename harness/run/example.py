"""One example, end to end on the database: fresh rows, the program, then what
the database committed (audit trail and final values).

A fresh example costs rows, not a database: every operation addresses its own
rows by id, and the audit trail is read back for those rows only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable, Sequence

import psycopg

from .. import interrupt
from ..history import AuditRow, History, Pack
from ..pg.instrument import AUDIT_QUERY
from ..pg.pausepoints import Instrumented, install_pause_points
from ..pg.server import connect
from ..target import Target
from ..workload import Program
from .free import FreeRunner
from .schedule import Action, Scheduler, ScheduleRun, StateProbe

__all__ = ["Observation", "Lab"]


@dataclass(frozen=True)
class Observation:
    program: Program
    row_ids: tuple[str, ...]
    history: History
    audit: tuple[AuditRow, ...]
    finals: tuple[int | None, ...]  # the counter of each row after the run
    schedule: tuple[int, ...] | None = None  # None: free-running
    actions: tuple[Action, ...] = ()  # what the scheduler did, step by step


class Lab:
    """A migrated database and a pool of workers, ready to run examples."""

    def __init__(self, dsn: str, target: Target, statement_timeout_ms: int = 30_000,
                 faults: Sequence[str] = (), restart: Callable[[], None] | None = None) -> None:
        self.dsn = dsn
        self.target = target
        self.control = connect(dsn, application_name="harness-control")
        self.runner = FreeRunner(dsn, statement_timeout_ms, faults, restart)
        self.calls_run = 0
        self.last: Observation | None = None
        self.last_run: ScheduleRun | None = None
        self.scheduler: Scheduler | None = None
        self.instrumented: Instrumented | None = None

    def enable_schedule(self, functions: Sequence[str]) -> Instrumented:
        """Put pause points into ``functions`` and start a step scheduler."""
        if self.scheduler is None:
            self.instrumented = install_pause_points(self.control, functions)
            self.scheduler = Scheduler(self.dsn, self.instrumented.points)
        assert self.instrumented is not None
        return self.instrumented

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()
        self.runner.close()
        self.control.close()

    def _query(self, sql: str, params: object) -> psycopg.Cursor:
        """A statement on the control connection, made again once if a server
        restart (an injected fault) dropped it."""
        try:
            return self.control.execute(sql, params, prepare=True)  # type: ignore[arg-type]
        except psycopg.OperationalError:
            self.control.close()
            self.control = connect(self.dsn, application_name="harness-control")
            return self.control.execute(sql, params, prepare=True)  # type: ignore[arg-type]

    def fresh_rows(self, program: Program) -> tuple[str, ...]:
        if self.target.per_row:
            return tuple(self._insert_one(p) for p in program.packs)
        ids = tuple(str(uuid.uuid4()) for _ in program.packs)
        self._query(
            self.target.row_sql,
            {
                "ids": list(ids),
                "totals": [p.total for p in program.packs],
                "useds": [p.used for p in program.packs],
                "expiries": [p.expiry for p in program.packs],
            },
        )
        return ids

    def _insert_one(self, pack: Pack) -> str:
        expires = {"past": "-1 day", "future": "30 days"}.get(pack.expiry)
        row = self._query(
            self.target.row_sql,
            {"total": pack.total, "used": pack.used,
             "expires_at": None if expires is None else _in(expires)}).fetchone()
        if row is None:
            raise RuntimeError(f"the row SQL of {self.target.name} returned no key")
        return str(row[0])

    def observe(self, program: Program, row_ids: Sequence[str]) -> tuple[tuple[AuditRow, ...], tuple[int | None, ...]]:
        index = {rid: i for i, rid in enumerate(row_ids)}
        rows = self._query(AUDIT_QUERY, (list(row_ids),)).fetchall()
        audit = tuple(
            AuditRow(seq=s, purchase=index[str(r)], old=o, new=n, txid=int(t), pid=p)
            for s, r, o, n, t, p in rows
        )
        t = self.target
        finals_q = f"select {t.key}::text, {t.counter} from {t.table} where {t.key} = any(%s::uuid[])"
        found = dict(self._query(finals_q, (list(row_ids),)).fetchall())
        finals = tuple(found.get(rid) for rid in row_ids)
        return audit, finals

    def state_sql(self) -> str:
        """For a StateProbe: the example's rows as JSON, in the order of their ids."""
        t = self.target
        return (f"select array_agg(to_jsonb(t)::text "
                f"order by array_position(%s::text[], t.{t.key}::text)) "
                f"from {t.table} t where t.{t.key} = any(%s::uuid[])")

    def execute(self, program: Program, schedule: Sequence[int] | None = None,
                forced: Sequence[int] | None = None, probe: StateProbe | None = None
                ) -> Observation:
        """Run ``program`` on fresh rows: free-running, or under ``schedule``
        (or ``forced`` and ``probe``, see Scheduler.run)."""
        interrupt.check()
        row_ids = self.fresh_rows(program)
        actions: tuple[Action, ...] = ()
        if schedule is None and forced is None:
            history = self.runner.run(program, row_ids)
        else:
            if self.scheduler is None:
                raise RuntimeError("enable_schedule() first")
            run = self.scheduler.run(program, row_ids, schedule or (), forced, probe)
            history, actions = run.history, tuple(run.actions)
            self.last_run = run
        self.calls_run += program.calls
        audit, finals = self.observe(program, row_ids)
        sched: tuple[int, ...] | None = None if schedule is None else tuple(schedule)
        if forced is not None and self.last_run is not None:
            # As choices among the sessions that could move: what replay takes.
            r = self.last_run
            sched = tuple(movable.index(t) for (movable, _), t in zip(r.decisions, r.taken))
        self.last = Observation(program, row_ids, history, audit, finals, sched, actions)
        return self.last


def _in(interval: str) -> object:
    import datetime as dt

    days = int(interval.split()[0])
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)

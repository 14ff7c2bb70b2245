"""The step scheduler: one interleaving, chosen step by step, the same every run.

In the manner of PostgreSQL's isolationtester: each session sends its next
step without waiting, and a control connection asks the server what every
session is doing -- paused at a pause point (waiting on the advisory lock
``(session, point)`` the controller holds), blocked on a lock another session
holds, or done. Only then is the next step chosen. A schedule is a list of
choices, each an index into the sessions that can move; past its end the
sessions take turns (round robin). Hypothesis draws and shrinks schedules
like any other value, and a saved one replays exactly.

The same operation generators as the free-running executor are driven here,
one step at a time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

import psycopg
from psycopg.pq import TransactionStatus

from ..history import Complete, Event, History, Invoke, Outcome
from ..pg.pausepoints import PausePoint
from ..workload import Program, Step
from ..workload.ops import OpGen, start
from .free import classify

__all__ = ["Scheduler", "Action", "ScheduleRun", "StateProbe"]

_MAX_ACTIONS = 2000
# Pause locks are (key, point) in the two-int advisory form; keys start high
# so a function's own advisory locks are never taken for pauses.
_KEY_BASE = 0x48A50000
log = logging.getLogger("harness.sql")


@dataclass(frozen=True)
class Action:
    """One line of the transcript: what a session did, or what happened to it."""

    session: int
    text: str


@dataclass
class ScheduleRun:
    history: History
    actions: list[Action]
    taken: list[int]  # the session moved at each choice
    deadlocks: int = 0
    # At each choice: the sessions that could move, and those not yet started.
    decisions: list[tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    # With a StateProbe: (choices made, state) at each point where every
    # session was idle past the forced prefix, and the known state the run
    # stopped at, if it did.
    states: list[tuple[int, Hashable]] = field(default_factory=list)
    merged: Hashable | None = None


@dataclass(frozen=True)
class StateProbe:
    """Reads the state of a run whenever no session is inside a call, and stops
    the run where that state was reached before (see exhaustive.py).

    ``sql`` takes the example's row ids twice (as text[], then uuid[]) and
    returns the rows as JSON texts, in id order. A state holds the columns
    that differ from the rows as inserted: what a run changed, and not what
    differs between two runs' fresh rows (keys, timestamps)."""

    sql: str
    known: Callable[[Hashable], bool]


@dataclass
class _Session:
    index: int
    key: int  # advisory lock key1 (_KEY_BASE + the session's number, from 1)
    conn: psycopg.AsyncConnection[Any]
    pid: int
    calls: list[tuple[int, str, int]] = field(default_factory=list)  # (call id, op, purchase)
    next_call: int = 0
    gen: OpGen | None = None
    pending: Step | None = None  # next step of the current operation, not yet sent
    task: asyncio.Task[Any] | None = None
    paused_at: int | None = None
    blocked: bool = False
    known: bool = False  # paused_at / blocked are up to date
    noticed: int | None = None  # the pause point pause() announced
    signal: asyncio.Event = field(default_factory=asyncio.Event)  # step done or paused
    passed: set[int] = field(default_factory=set)  # points released, not yet taken back
    call_id: int = -1

    @property
    def done(self) -> bool:
        return self.gen is None and self.task is None and self.next_call >= len(self.calls)

    @property
    def untouched(self) -> bool:
        return self.next_call == 0 and self.gen is None and self.task is None

    @property
    def can_move(self) -> bool:
        if self.task is not None:
            return self.paused_at is not None  # a pause is ours to release; a lock wait is not
        return not self.done


class Scheduler:
    """Runs programs one interleaving at a time on persistent connections."""

    def __init__(self, dsn: str, points: Sequence[PausePoint] = (),
                 statement_timeout_ms: int = 10_000) -> None:
        self.dsn = dsn
        self.points = {p.id: p for p in points}
        self.statement_timeout_ms = statement_timeout_ms
        self.loop = asyncio.new_event_loop()
        self.control: psycopg.AsyncConnection[Any] | None = None
        self.sessions: list[_Session] = []
        self.held: set[tuple[int, int]] = set()
        self.isolation: str | None = None

    def __enter__(self) -> "Scheduler":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        async def _close() -> None:
            for s in self.sessions:
                if s.task is not None:
                    s.task.cancel()
                await s.conn.close()
            if self.control is not None:
                await self.control.close()
        self.loop.run_until_complete(_close())
        self.sessions.clear()
        self.loop.close()

    # -- connections --------------------------------------------------------

    async def _ensure(self, n: int) -> None:
        if self.control is None:
            self.control = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, application_name="harness-scheduler")
        while len(self.sessions) < n:
            key = _KEY_BASE + len(self.sessions) + 1
            conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, application_name=f"harness-s{len(self.sessions) + 1}",
                options=f"-c statement_timeout={self.statement_timeout_ms} "
                        f"-c harness.session={key}")
            sess = _Session(len(self.sessions), key, conn, conn.info.backend_pid)
            conn.add_notice_handler(_notice_handler(sess))
            self.sessions.append(sess)

    async def _hold_all(self, sessions: Sequence[_Session]) -> None:
        """Take every (session, point) lock the sessions may wait on."""
        assert self.control is not None
        for s in sessions:
            s.passed.clear()
        want = [(s.key, p) for s in sessions for p in self.points]
        todo = [k for k in want if k not in self.held]
        if todo:
            await self.control.execute(
                "select pg_advisory_lock(k1, k2) from unnest(%s::int[], %s::int[]) as t(k1, k2)",
                ([k for k, _ in todo], [p for _, p in todo]))
            self.held.update(todo)

    # -- one run ------------------------------------------------------------

    def run(self, program: Program, row_ids: Sequence[str], schedule: Sequence[int],
            forced: Sequence[int] | None = None, probe: StateProbe | None = None) -> ScheduleRun:
        """Run under ``schedule`` (indices into the sessions that can move), or,
        for systematic search, ``forced``: session numbers to move, in order,
        then the lowest-numbered session that can move; past ``forced``, a
        ``probe`` may end the run early at a state already explored."""
        return self.loop.run_until_complete(self._run(program, row_ids, schedule, forced, probe))

    async def _run(self, program: Program, row_ids: Sequence[str], schedule: Sequence[int],
                   forced: Sequence[int] | None, probe: StateProbe | None) -> ScheduleRun:
        n = len(program.threads)
        self.isolation = program.isolation
        await self._ensure(n)
        sessions = self.sessions[:n]
        await self._hold_all(sessions)
        ids = itertools.count()
        for s, calls in zip(sessions, program.threads):
            s.calls = [(next(ids), c.op, c.purchase) for c in calls]
            s.next_call, s.gen, s.pending, s.task = 0, None, None, None
            s.paused_at, s.blocked, s.known = None, False, False
        events: list[Event] = []
        run = ScheduleRun(History(), [], [])
        choices = iter(schedule)
        inserted = (await self._snapshot(row_ids, probe))[0] if probe is not None else []
        for _ in range(_MAX_ACTIONS):
            if (probe is not None and len(run.taken) >= len(forced or ())
                    and all(s.gen is None and s.task is None for s in sessions)
                    and not all(s.done for s in sessions)):
                key = await self._state(sessions, row_ids, probe, inserted)
                if probe.known(key):
                    run.merged = key
                    break
                run.states.append((len(run.taken), key))
            movable = [s for s in sessions if s.can_move]
            if not movable:
                if all(s.done for s in sessions):
                    break
                # Everyone is waiting on a lock: only the server can break it
                # (deadlock detection, or a timeout).
                await self._settle(sessions, events, run, wait_for_change=True)
                continue
            run.decisions.append((tuple(m.index for m in movable),
                                  tuple(m.index for m in movable if m.untouched)))
            if forced is not None:
                want = forced[len(run.taken)] if len(run.taken) < len(forced) else -1
                s = next((m for m in movable if m.index == want), movable[0])
            else:
                # Past the drawn choices: round robin, which interleaves the most.
                choice = next(choices, len(run.taken))
                s = movable[choice % len(movable)]
            run.taken.append(s.index)
            await self._move(s, row_ids, events, run)
            await self._settle(sessions, events, run)
        run.history = History(sorted(events, key=lambda e: e.at))
        return run

    async def _snapshot(self, row_ids: Sequence[str], probe: StateProbe
                    ) -> tuple[list[dict[str, Any]], dict[int, list[str]]]:
        """The rows as JSON, and the advisory locks each session holds: the
        only locks that outlive a call (pause points take theirs and let go)."""
        assert self.control is not None
        cur = await self.control.execute(
            f"select ({probe.sql}), (select json_object_agg(pid, held)::text from ("
            "select pid, array_agg(concat_ws(':', classid, objid, objsubid, mode) order by "
            "classid, objid, objsubid, mode) as held from pg_locks where locktype = 'advisory' "
            "and granted and pid = any(%s::int[]) group by pid) l)",
            (list(row_ids), list(row_ids), [s.pid for s in self.sessions]), prepare=True)
        row = await cur.fetchone()
        assert row is not None
        rows = [json.loads(r) for r in (row[0] or [])]
        locks = {int(pid): held for pid, held in json.loads(row[1] or "{}").items()}
        return rows, locks

    async def _state(self, sessions: Sequence[_Session], row_ids: Sequence[str],
                     probe: StateProbe, inserted: list[dict[str, Any]]) -> Hashable:
        """What the run changed in the rows, and for each session the calls
        it has still to make and the locks it holds (sessions are
        interchangeable: a multiset)."""
        now, locks = await self._snapshot(row_ids, probe)
        changed = tuple(
            tuple(sorted((k, json.dumps(v)) for k, v in row.items() if base.get(k) != v))
            for row, base in zip(now, inserted))
        each = sorted((tuple((op, purchase) for _, op, purchase in s.calls[s.next_call:]),
                       tuple(locks.get(s.pid, ()))) for s in sessions)
        return (len(now), changed, tuple(each))

    async def _relock(self, s: _Session, unlock: int | None = None) -> None:
        """Release ``unlock`` (letting ``s`` go on), and take back the points ``s``
        passed earlier, for its next visit; one round trip. A point is taken
        back only once its session is seen stopped somewhere else, so it has
        left ``pause()`` and holds no shared lock there."""
        assert self.control is not None
        back = sorted(p for p in s.passed if p != unlock)
        if unlock is None and not back:
            return
        cur = await self.control.execute(
            "select case when %s then pg_advisory_unlock(%s, %s) end, "
            "array(select p from unnest(%s::int[]) p where pg_try_advisory_lock(%s, p))",
            (unlock is not None, s.key, unlock or 0, back, s.key), prepare=True)
        row = await cur.fetchone()
        assert row is not None
        retaken = set(row[1] or ())
        self.held.update((s.key, p) for p in retaken)
        s.passed = {p for p in back if p not in retaken}
        if unlock is not None:
            self.held.discard((s.key, unlock))
            s.passed.add(unlock)

    async def _move(self, s: _Session, row_ids: Sequence[str], events: list[Event],
                    run: ScheduleRun) -> None:
        if s.paused_at is not None:
            point, s.paused_at = s.paused_at, None
            s.known, s.noticed = False, None
            s.signal.clear()
            await self._relock(s, unlock=point)
            run.actions.append(Action(s.index, "resumes"))
            return
        await self._relock(s)
        if s.gen is None:
            cid, op, purchase = s.calls[s.next_call]
            s.next_call += 1
            s.call_id = cid
            s.gen = start(op, row_ids[purchase], self.isolation)
            events.append(Invoke(cid, s.index, op, purchase, time.monotonic_ns(), s.pid))
            run.actions.append(Action(s.index, f"{op}(p{purchase})"))
            s.pending = next(s.gen)
        assert s.pending is not None
        step, s.pending = s.pending, None
        s.known, s.noticed = False, None
        s.signal.clear()
        s.task = asyncio.ensure_future(_execute(s.conn, step))
        s.task.add_done_callback(lambda _: s.signal.set())

    async def _settle(self, sessions: Sequence[_Session], events: list[Event],
                      run: ScheduleRun, wait_for_change: bool = False) -> None:
        """Wait until no session is running: each is idle, paused, blocked or done.

        A session seen paused stays paused until we release it; any other
        session in flight is asked about again after anything finishes, since
        a commit may have woken it from a lock wait.
        """
        assert self.control is not None
        deadline = time.monotonic() + self.statement_timeout_ms / 1000 + 5
        while True:
            finished = False
            for s in sessions:
                if s.task is not None and s.task.done():
                    self._finish_step(s, events, run)
                    finished = True
            if finished:
                for s in sessions:
                    if s.task is not None and s.paused_at is None:
                        s.known = False  # a lock wait may have ended
            for s in sessions:
                if s.task is not None and not s.known and s.noticed is not None:
                    self._paused(s, s.noticed, run)  # pause() told us (RAISE NOTICE)
            unknown = [s for s in sessions if s.task is not None and not s.known]
            if not unknown:
                if not (wait_for_change and not finished):
                    return
                unknown = [s for s in sessions if s.task is not None]
            # Most steps finish, or reach a pause, within a moment: wait for that
            # first, and only then ask the server who is waiting on a lock.
            waiters = [asyncio.ensure_future(s.signal.wait()) for s in unknown]
            done, pending = await asyncio.wait(waiters, timeout=0.002,
                                               return_when=asyncio.FIRST_COMPLETED)
            for w in pending:
                w.cancel()
            if done:
                continue
            cur = await self.control.execute(
                "select pid, locktype = 'advisory' and objsubid = 2 and classid::int = k.key, "
                "objid::int "
                "from pg_locks join unnest(%s::int[], %s::int[]) as k(pid_, key) "
                "on pid = k.pid_ where not granted",
                ([s.pid for s in unknown], [s.key for s in unknown]), prepare=True)
            waits = {pid: (is_pause, obj) for pid, is_pause, obj in await cur.fetchall()}
            for s in unknown:
                if s.task is None or s.task.done() or s.pid not in waits:
                    continue  # finished, or still running: ask again
                is_pause, obj = waits[s.pid]
                s.known = True
                if is_pause:
                    self._paused(s, obj, run)
                elif not s.blocked:
                    s.blocked = True
                    run.actions.append(Action(s.index, "<waiting ...>"))
            if time.monotonic() > deadline:
                raise RuntimeError("scheduler: sessions neither finished nor waited in time")

    def _paused(self, s: _Session, point: int, run: ScheduleRun) -> None:
        s.known, s.paused_at, s.blocked = True, point, False
        pp = self.points.get(point)
        where = pp.short() if pp else f"pause {point}"
        run.actions.append(Action(s.index, f"<paused at {where}>"))

    def _finish_step(self, s: _Session, events: list[Event], run: ScheduleRun) -> None:
        task, s.task = s.task, None
        assert task is not None and s.gen is not None
        was_blocked, s.blocked, s.paused_at = s.blocked, False, None
        prefix = "<... completed> " if was_blocked else ""
        try:
            rows = task.result()
        except psycopg.Error as e:
            outcome, sqlstate = classify(e)
            s.gen = None
            msg = (e.diag.message_primary or str(e)).strip().splitlines()[0]
            events.append(Complete(s.call_id, outcome, time.monotonic_ns(), sqlstate=sqlstate,
                                   error=msg))
            run.actions.append(Action(s.index, f"{prefix}ERROR {sqlstate}: {msg}"))
            if sqlstate == "40P01":
                run.deadlocks += 1
            return
        try:
            s.pending = s.gen.send(rows)
            run.actions.append(Action(s.index, f"{prefix}step done"))
        except StopIteration as stop:
            result, txids = stop.value
            s.gen = None
            events.append(Complete(s.call_id, Outcome.OK, time.monotonic_ns(), result=result,
                                   txids=txids))
            shown = ("true" if result else "false") if isinstance(result, bool) else result
            run.actions.append(Action(s.index, f"{prefix}-> {shown}"))


async def _execute(conn: psycopg.AsyncConnection[Any], step: Step) -> list[Any]:
    if log.isEnabledFor(logging.DEBUG):
        log.debug("pid %s: %s %s", conn.info.backend_pid, " ".join(step.sql.split()),
                  list(step.params))
    try:
        cur = await conn.execute(step.sql, step.params, prepare=True)
    except psycopg.Error:
        # Leave the session ready for its next call: end a failed transaction.
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            try:
                await conn.execute("rollback")
            except psycopg.Error:
                pass
        raise
    return await cur.fetchall() if cur.description is not None else []


def _notice_handler(s: _Session) -> Any:
    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        msg = diag.message_primary or ""
        if msg.startswith("harness:pause "):
            s.noticed = int(msg.split()[1])
            s.signal.set()
    return on_notice

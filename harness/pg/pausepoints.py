"""Pause points inside PL/pgSQL functions, for the step scheduler.

Stepping by statement cannot stop between two statements inside one function,
and that is where check-then-act bugs live. Each function under test is
re-created with a call ``harness.pause(<point>)`` before each of its SQL
statements but the first. Under the scheduler a session has the setting
``harness.session`` and ``pause`` waits there on the advisory lock
``(session, point)``, which the scheduler holds until it lets that session on;
outside the scheduler ``pause`` returns at once.

The functions are parsed with pglast (PostgreSQL's own PL/pgSQL parser), and
the pause goes on its own line before the statement's first line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import psycopg

from ..plpgsql import statements

__all__ = ["PausePoint", "Instrumented", "install_pause_points", "PAUSE_FUNCTION"]

PAUSE_FUNCTION = """
create schema if not exists harness;
create or replace function harness.pause(p_point int) returns void
language plpgsql as $$
declare
    s text := current_setting('harness.session', true);
begin
    if coalesce(s, '') = '' then
        return;  -- not under the scheduler
    end if;
    -- Tell the scheduler at once (a notice reaches the client mid-statement),
    -- then wait until it lets this session go on.
    raise notice 'harness:pause %', p_point;
    perform pg_advisory_lock_shared(s::int, p_point);
    perform pg_advisory_unlock_shared(s::int, p_point);
end $$;
grant execute on function harness.pause(int) to public;
grant usage on schema harness to public;
"""

@dataclass(frozen=True)
class PausePoint:
    id: int
    function: str
    line: int  # line in the function body
    statement: str  # first line of the statement it comes before

    def describe(self) -> str:
        return f"{self.function} line {self.line}: {self.statement}"

    def short(self) -> str:
        """``use_session:7 UPDATE``"""
        word = (self.statement.split() or ["?"])[0].upper()
        return f"{self.function.rpartition('.')[2]}:{self.line} {word}"


@dataclass(frozen=True)
class Instrumented:
    points: tuple[PausePoint, ...]
    notes: tuple[str, ...]  # functions that could not be split, and why

    def by_id(self) -> dict[int, PausePoint]:
        return {p.id: p for p in self.points}


def install_pause_points(conn: psycopg.Connection, functions: Sequence[str]) -> Instrumented:
    """Re-create each function (``schema.name(argtypes)``) with pause points."""
    conn.execute(PAUSE_FUNCTION)
    points: list[PausePoint] = []
    notes: list[str] = []
    for fn in functions:
        row = conn.execute(
            "select l.lanname, p.prosrc, pg_get_functiondef(p.oid) from pg_proc p "
            "join pg_language l on l.oid = p.prolang where p.oid = %s::regprocedure", (fn,)
        ).fetchone()
        assert row is not None
        lang, body, definition = row
        name = fn.split("(")[0]
        if lang != "plpgsql":
            notes.append(f"{name} is LANGUAGE {lang}: it runs as one step; races inside its "
                         "single statement are left to the free-running executor")
            continue
        stmts = statements(definition)
        if len(stmts) < 2:
            notes.append(f"{name} runs one SQL statement: there is nothing to pause between; "
                         "races inside that statement are left to the free-running executor")
            continue
        lines = body.split("\n")
        new_points = []
        for st in stmts[1:]:
            pid = len(points) + len(new_points) + 1
            first = (st.text.strip().splitlines() or [""])[0][:60]
            new_points.append(PausePoint(pid, name, st.line, first))
        for p in sorted(new_points, key=lambda p: p.line, reverse=True):
            lines.insert(p.line - 1, f"PERFORM harness.pause({p.id});")
        new_def = definition.replace(body, "\n".join(lines), 1)
        try:
            with conn.transaction():
                conn.execute(new_def)
        except psycopg.Error as e:
            notes.append(f"{name}: pause points could not be placed ({e.diag.message_primary}); "
                         "it runs as one step")
            continue
        points += new_points
    return Instrumented(tuple(points), tuple(notes))

"""Harness instrumentation, in its own schema ``harness``, installed after the
migrations and never mixed into them.

The audit trigger records every committed change of the counter, with the
writing transaction's id and backend pid. Rows written by a transaction that
rolls back vanish with it, so the audit holds committed states only. Every
UPDATE that sets the counter is recorded, also one that writes the value it
read: two read-then-write calls that both write 2 leave a step 2 -> 2. Writers of
one row queue on its row lock, so ``seq`` orders one row's writes as they
committed: "never negative" is then exact for every committed state, and a
committed step other than +1/-1 is a lost update even when the end looks right.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from ..target import Target

__all__ = ["install", "AUDIT_QUERY", "watch_other_writes", "other_writes"]

_SCHEMA = """
create schema if not exists harness;
-- Unlogged, and no primary key: the trail is scratch data read back once per
-- example, and every write of the counter pays for it.
create unlogged table if not exists harness.audit (
    seq     bigserial,
    row_id  uuid   not null,
    old_val int,
    new_val int,
    txid    bigint not null default txid_current(),
    pid     int    not null default pg_backend_pid(),
    at      timestamptz not null default clock_timestamp()
);
create index if not exists audit_row on harness.audit (row_id, seq);
-- Definer rights: the trigger must record writes made by any role, also by
-- roles that may not touch the harness schema themselves.
create or replace function harness.audit_counter() returns trigger
language plpgsql security definer set search_path = pg_catalog, harness as $$
begin
    if tg_op = 'DELETE' then
        insert into harness.audit (row_id, old_val, new_val)
            values (old.{key}, old.{counter}, null);
    else
        insert into harness.audit (row_id, old_val, new_val)
            values (new.{key}, old.{counter}, new.{counter});
    end if;
    return null;
end $$;
drop trigger if exists zz_harness_audit on {table};
create trigger zz_harness_audit after update of {counter} or delete on {table}
    for each row execute function harness.audit_counter();
"""

AUDIT_QUERY = """
    select seq, row_id, old_val, new_val, txid, pid
    from harness.audit where row_id = any(%s) order by seq
"""


def install(conn: psycopg.Connection, target: Target) -> None:
    schema, _, table = target.table.rpartition(".")
    q = sql.SQL(_SCHEMA).format(
        table=sql.Identifier(schema or "public", table),
        key=sql.Identifier(target.key),
        counter=sql.Identifier(target.counter),
    )
    conn.execute(q)


# Exhaustive search merges runs that reach the same rows with the same calls
# left. That is sound only if the functions keep no state elsewhere: count
# every statement that writes any other table, so a search can tell.
_WATCH = """
create sequence if not exists harness.other_writes;
create or replace function harness.note_write() returns trigger
language plpgsql security definer set search_path = pg_catalog, harness as $$
begin
    perform nextval('harness.other_writes');
    return null;
end $$;
"""


def watch_other_writes(conn: psycopg.Connection, target: Target) -> None:
    """Count writes to every table but the counter's own (and the harness's)."""
    conn.execute(_WATCH)
    tables = [r[0] for r in conn.execute(
        "select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where c.relkind in ('r', 'p') and not c.relispartition "
        "and n.nspname not in ('pg_catalog', 'information_schema', 'harness') "
        "and n.nspname not like 'pg\\_%%' and c.oid <> %s::regclass order by 1",
        (target.table,)).fetchall()]
    for t in tables:
        conn.execute(sql.SQL(
            "create or replace trigger zz_harness_watch after insert or update or delete "
            "or truncate on {} for each statement execute function harness.note_write()"
        ).format(sql.SQL(t)))


def other_writes(conn: psycopg.Connection) -> int:
    """Grows with every statement that wrote a watched table (not transactional)."""
    row = conn.execute("select last_value + is_called::int from harness.other_writes").fetchone()
    assert row is not None
    return int(row[0])

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

__all__ = ["install", "AUDIT_QUERY"]

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

"""The counter under test, as plain data: which table, key and column to watch.

Everything that touches the schema of the system under test reads it from here,
so the same engine can watch another counter (credits, stock, seats).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Operation", "Target", "SESSION_PACK"]


@dataclass(frozen=True)
class Operation:
    """A counter RPC: ``function`` (``schema.name(argtypes)``) takes the row's
    key; ``direction`` +1 or -1; it ``returns`` "boolean" (true: moved) or
    "new_value" (the new value, -1 for a no-op)."""

    name: str
    function: str
    direction: int
    returns: str


@dataclass(frozen=True)
class Target:
    table: str  # schema-qualified
    key: str  # primary-key column (uuid)
    counter: str  # the column the functions move
    # Run once per database: rows the counter's row needs (foreign keys).
    fixtures_sql: str
    # Insert the rows of one example. Batch form (``per_row`` False), arrays
    # one item a row: ids (uuid, made by the harness), totals, useds,
    # expiries ('none'|'future'|'past'). Per-row form: total, used, expires_at
    # (a timestamptz or null), and the statement returns the new row's key.
    row_sql: str
    operations: tuple[Operation, ...] = ()
    per_row: bool = False
    has_expiry: bool = True  # does the increment refuse expired rows?
    nullable: bool = True  # may the counter and its bound be NULL?
    name: str = "session pack"


SESSION_PACK = Target(
    table="public.client_purchases",
    key="id",
    counter="sessions_used",
    fixtures_sql="""
        insert into public.orgs (id, name)
            values ('00000000-0000-4000-8000-000000000001', 'harness org')
            on conflict do nothing;
        insert into public.clients (id, org_id, name)
            values ('00000000-0000-4000-8000-000000000002',
                    '00000000-0000-4000-8000-000000000001', 'harness client')
            on conflict do nothing;
        insert into public.offers (id, org_id, name)
            values ('00000000-0000-4000-8000-000000000003',
                    '00000000-0000-4000-8000-000000000001', 'harness offer')
            on conflict do nothing;
    """,
    row_sql="""
        insert into public.client_purchases
            (id, org_id, client_id, offer_id, amount_paid_cents, payment_status,
             sessions_total, sessions_used, expires_at)
        select t.id, '00000000-0000-4000-8000-000000000001',
               '00000000-0000-4000-8000-000000000002',
               '00000000-0000-4000-8000-000000000003',
               0, 'succeeded', t.total, t.used,
               case t.expiry when 'past' then now() - interval '1 day'
                             when 'future' then now() + interval '30 days' end
        from unnest(%(ids)s::uuid[], %(totals)s::int[], %(useds)s::int[],
                    %(expiries)s::text[]) as t(id, total, used, expiry)
    """,
    operations=(
        Operation("use", "public.use_session(uuid)", +1, "boolean"),
        Operation("release", "public.release_session(uuid)", -1, "new_value"),
    ),
)

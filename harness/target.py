"""The counter under test, as plain data: which table, key and column to watch.

Everything that touches the schema of the system under test reads it from here,
so the same engine can watch another counter (credits, stock, seats).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Target", "SESSION_PACK"]


@dataclass(frozen=True)
class Target:
    table: str  # schema-qualified
    key: str  # primary-key column (uuid)
    counter: str  # the column the functions move
    # Run once per database: rows the counter's row needs (foreign keys).
    fixtures_sql: str
    # Insert the rows of one example. Parameters (arrays, one item a row):
    # ids (uuid, made by the harness), totals, useds, expiries ('none'|'future'|'past').
    row_sql: str


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
)

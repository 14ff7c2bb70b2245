"""Dynamic checks: call the functions as the people of a small world, and see
whether the counter moved.

The world (made as the connection's own role, a superuser): org A with an
owner and a staff member, org B whose owner is the outsider, a client of A
who signs in (``clients.auth_user_id``), and A's purchase of a pack of 5 with
2 used. Then, for each function and each caller: ``SET LOCAL ROLE`` anon /
authenticated / service_role with ``request.jwt.claims`` as PostgREST sets
them, call it on A's purchase, and read the counter again as the superuser.

Who may change a purchase is the app's own rule (its row-level security on
``client_purchases``): members of the purchase's org, owner or staff, update;
a client only reads its own purchases; anon nothing. Server-side code (the
service role, or a connection that is not one of the API roles: migrations,
cron, the harness's stress runs) is trusted. So:

* anon, an outsider or the client moving the counter is a finding
  (SEC101-SEC103). The client too: ``release_session`` on their own pack hands
  them back a session they used, ``use_session`` burns one outside the
  booking flow; the app's policies give them neither.
* an allowed caller who cannot move it is a finding too (SEC201-SEC204): a
  check that locks out the org itself is no fix. A refusal (42501, EXECUTE
  revoked) of a caller who may not change the row is fine.

Every call runs in a savepoint inside a transaction that is rolled back:
nothing of the world or of the calls persists.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

import psycopg
from psycopg import sql

from ..errors import HarnessError, SetupError
from ..target import SESSION_PACK, Target
from .findings import Finding, finding

__all__ = ["Caller", "Call", "Purchase", "World", "call_as", "insert_world",
           "standard_world", "dynamic_findings", "HARDENED_HINT"]

HARDENED_HINT = "migrations/fixes/hardened_functions.sql"
_NS = uuid.UUID("6b1c3f2e-5d0a-4c59-9a57-3c1e0d8b7a10")


def stable_id(name: str) -> str:
    """A uuid named by ``name`` (the same on every run: examples replay exactly)."""
    return str(uuid.uuid5(_NS, name))


@dataclass(frozen=True)
class Caller:
    """Who calls: ``role`` is the role PostgREST would switch to (anon,
    authenticated, service_role), or None for the connection's own role with
    no JWT at all (a trusted server-side connection). ``user`` is auth.uid()."""

    label: str
    role: str | None
    user: str | None = None

    def claims(self) -> str:
        if self.role is None:
            return ""
        return json.dumps({**({"sub": self.user} if self.user else {}), "role": self.role})


@dataclass(frozen=True)
class Purchase:
    id: str
    org: str
    client: str
    total: int | None = 5
    used: int | None = 2
    expires: str = "none"  # none | past | future


@dataclass(frozen=True)
class World:
    """People and purchases; ``may_change`` is the app's rule about them."""

    users: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    members: tuple[tuple[str, str, str], ...] = ()  # (org, user, owner | staff)
    clients: tuple[tuple[str, str, str | None], ...] = ()  # (client, org, auth user)
    purchases: tuple[Purchase, ...] = ()

    def purchase(self, purchase_id: str) -> Purchase:
        return next(p for p in self.purchases if p.id == purchase_id)

    def may_change(self, caller: Caller, purchase_id: str) -> bool:
        """The app's row-level security on client_purchases, for an UPDATE: a
        member (owner or staff) of the purchase's org; server-side code."""
        if caller.role in (None, "service_role"):
            return True
        if caller.role != "authenticated" or caller.user is None:
            return False
        org = self.purchase(purchase_id).org
        return any(m_org == org and user == caller.user for m_org, user, _ in self.members)


@dataclass(frozen=True)
class Call:
    """One call as someone: the counter before and after (read as the
    superuser), what the function returned, or the SQLSTATE it raised."""

    before: int | None
    after: int | None
    result: Any = None
    sqlstate: str | None = None
    message: str = ""

    @property
    def moved(self) -> bool:
        return self.before != self.after

    def outcome(self, op: str) -> str:
        if self.sqlstate is not None:
            return f"{op} was refused ({self.sqlstate}: {self.message})"
        moved = (f"the counter moved {self.before} -> {self.after}" if self.moved
                 else f"the counter stayed at {self.before}")
        return f"{op} returned {_sql_text(self.result)}, {moved}"


def _sql_text(value: Any) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


# -- the world ---------------------------------------------------------------------


def insert_world(conn: psycopg.Connection, world: World) -> None:
    """Insert ``world``'s rows as the connection's own role (RLS does not apply
    to a superuser); the caller's transaction decides whether they stay."""
    cur = conn.cursor()
    try:
        cur.executemany("insert into auth.users (id, email) values (%s, %s)",
                        [(u, f"{u}@example.test") for u in world.users])
        cur.executemany("insert into public.orgs (id, name) values (%s, %s)",
                        [(o, f"org {o[:8]}") for o in world.orgs])
        cur.executemany("insert into public.org_members (org_id, user_id, role) "
                        "values (%s, %s, %s)", list(world.members))
        cur.executemany("insert into public.clients (id, org_id, name, auth_user_id) "
                        "values (%s, %s, %s, %s)",
                        [(c, o, f"client {c[:8]}", u) for c, o, u in world.clients])
        offers = sorted({p.org for p in world.purchases})
        cur.executemany("insert into public.offers (id, org_id, name) values (%s, %s, %s)",
                        [(stable_id(f"offer {o}"), o, "pack") for o in offers])
        cur.executemany(
            """insert into public.client_purchases
                   (id, org_id, client_id, offer_id, amount_paid_cents, payment_status,
                    sessions_total, sessions_used, expires_at)
               values (%s, %s, %s, %s, 5000, 'succeeded', %s, %s,
                       case %s when 'past' then now() - interval '1 day'
                               when 'future' then now() + interval '30 days' end)""",
            [(p.id, p.org, p.client, stable_id(f"offer {p.org}"), p.total, p.used, p.expires)
             for p in world.purchases])
    except psycopg.Error as e:
        raise SetupError(
            "the dynamic security checks cannot create their test rows (they need the "
            "app's auth.users, orgs, org_members, clients, offers and client_purchases): "
            f"{e.diag.message_primary or e}") from None


@dataclass(frozen=True)
class _Standard:
    world: World
    purchase: str
    callers: tuple[tuple[str, Caller, bool], ...]  # (code, caller, may change?)


def standard_world() -> _Standard:
    """Org A (owner, staff, a signed-in client and its purchase: 5 sessions, 2
    used), org B (the outsider owns it), and the callers, each with its code."""
    ids = {k: str(uuid.uuid4()) for k in ("owner", "staff", "outsider", "client_user",
                                          "org_a", "org_b", "client", "purchase")}
    world = World(
        users=(ids["owner"], ids["staff"], ids["outsider"], ids["client_user"]),
        orgs=(ids["org_a"], ids["org_b"]),
        members=((ids["org_a"], ids["owner"], "owner"), (ids["org_a"], ids["staff"], "staff"),
                 (ids["org_b"], ids["outsider"], "owner")),
        clients=((ids["client"], ids["org_a"], ids["client_user"]),),
        purchases=(Purchase(ids["purchase"], ids["org_a"], ids["client"], 5, 2),),
    )
    callers = (
        ("SEC101", Caller("anon (not signed in, only the public API key)", "anon"), False),
        ("SEC102", Caller("a signed-in owner of another org (org B)", "authenticated",
                          ids["outsider"]), False),
        ("SEC103", Caller("the client who bought the pack, signed in", "authenticated",
                          ids["client_user"]), False),
        ("SEC201", Caller("a staff member of the purchase's org", "authenticated",
                          ids["staff"]), True),
        ("SEC202", Caller("the owner of the purchase's org", "authenticated",
                          ids["owner"]), True),
        ("SEC203", Caller("the service role", "service_role"), True),
        ("SEC204", Caller("a server-side connection with no JWT (migrations, cron, the "
                          "harness's stress runs)", None), True),
    )
    for code, caller, may in callers:  # the rule and the codes agree
        assert world.may_change(caller, ids["purchase"]) is may, code
    return _Standard(world, ids["purchase"], callers)


# -- one call -----------------------------------------------------------------------


def _callable(conn: psycopg.Connection, function: str) -> tuple[str, str] | None:
    """(schema, name) of a function taking one uuid, else None."""
    row = conn.execute(
        """select n.nspname, p.proname from pg_proc p
           join pg_namespace n on n.oid = p.pronamespace
           where p.oid = to_regprocedure(%s) and p.pronargs = 1
             and p.proargtypes[0] = 'uuid'::regtype""", (function,)).fetchone()
    return (row[0], row[1]) if row else None


def call_as(conn: psycopg.Connection, function: str, key: str, caller: Caller,
            target: Target = SESSION_PACK) -> Call:
    """Call ``function(key)`` as ``caller``; nothing it does persists.

    Runs in a savepoint of the connection's transaction (or in a transaction
    of its own), rolled back at the end. The counter is read as the
    connection's own role before the call and after it, inside the call's
    savepoint, so the change is seen before it is undone.
    """
    where = _callable(conn, function)
    if where is None:
        raise HarnessError(f"{function}: no such function taking one uuid")
    schema, _, table = target.table.rpartition(".")
    read = sql.SQL("select {} from {} where {} = %s").format(
        sql.Identifier(target.counter), sql.Identifier(schema or "public", table),
        sql.Identifier(target.key))
    call = sql.SQL("select {}(%s::uuid)").format(sql.Identifier(*where))

    def counter() -> int | None:
        row = conn.execute(read, (key,)).fetchone()
        return None if row is None else row[0]

    with conn.transaction(force_rollback=True):
        conn.execute("set local statement_timeout = '10s'")
        before = counter()
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(
                    "select set_config('request.jwt.claims', %s, true), "
                    "set_config('request.jwt.claim.sub', '', true), "
                    "set_config('request.jwt.claim.role', '', true)", (caller.claims(),))
                if caller.role is not None:
                    conn.execute(sql.SQL("set local role {}").format(sql.Identifier(caller.role)))
                row = conn.execute(call, (key,)).fetchone()
                conn.execute("reset role")
                return Call(before, counter(), row[0] if row else None)
        except psycopg.Error as e:
            return Call(before, counter(), None, e.sqlstate,
                        e.diag.message_primary or str(e).strip())


# -- the checks ---------------------------------------------------------------------


def dynamic_findings(conn: psycopg.Connection, target: Target = SESSION_PACK,
                     functions: Sequence[str] | None = None,
                     notes: list[str] | None = None) -> list[Finding]:
    """SEC101-SEC103 and SEC201-SEC204 for each function (default: the
    target's operations) that takes the purchase's id."""
    if target.table != SESSION_PACK.table:
        raise HarnessError(f"the dynamic security checks know the session-pack tables, not "
                           f"{target.table}: run the static checks only")
    ops = {o.function: o.name for o in target.operations}
    functions = list(functions) if functions is not None else list(ops)
    std = standard_world()
    out: list[Finding] = []
    with conn.transaction(force_rollback=True):
        insert_world(conn, std.world)
        for fn in functions:
            if _callable(conn, fn) is None:
                if notes is not None:
                    notes.append(f"{fn}: not called (the dynamic checks call functions "
                                 "taking one uuid, the purchase's id)")
                continue
            canonical = str(conn.execute("select to_regprocedure(%s)::text", (fn,))
                            .fetchone()[0])  # type: ignore[index]
            op = ops.get(fn, canonical.split("(")[0].rpartition(".")[2])
            for code, caller, may in std.callers:
                result = call_as(conn, fn, std.purchase, caller, target)
                if result.moved and not may:
                    out.append(_intruder(code, canonical, caller, result.outcome(op)))
                elif may and not result.moved:
                    out.append(_locked_out(code, canonical, caller, result.outcome(op)))
    return out


def _intruder(code: str, fn: str, caller: Caller, outcome: str) -> Finding:
    whose = ("its own pack, which the app's policies let a client only read, not change"
             if code == "SEC103" else "a purchase of org A")
    check = ("AND public.is_org_member(org_id) in the UPDATE's WHERE clause (auth.uid() "
             "must be an owner or staff of the purchase's org)")
    revoke = f"REVOKE EXECUTE ON FUNCTION {fn} FROM public, anon; " if code == "SEC101" else ""
    return finding(
        code, fn,
        f"{caller.label} called it on {whose}: {outcome}; definer rights bypass the "
        "row-level security that lets only members of the purchase's org update it",
        f"{revoke}check ownership in the function: {check}; see {HARDENED_HINT}")


def _locked_out(code: str, fn: str, caller: Caller, outcome: str) -> Finding:
    fixes = {
        "SEC201": "let members of the purchase's org through: public.is_org_member(org_id)",
        "SEC202": "let members of the purchase's org through: public.is_org_member(org_id)",
        "SEC203": (f"let the service role through (current_setting('role') = 'service_role', "
                   f"the role PostgREST switches to for the service key) and GRANT EXECUTE "
                   f"ON FUNCTION {fn} TO service_role"),
        "SEC204": ("let callers that are not the API roles through: "
                   "current_setting('role') not in ('anon', 'authenticated') -- inside a "
                   "definer function that is still the role the caller switched to"),
    }
    return finding(
        code, fn,
        f"{caller.label} could not change a purchase it may change ({outcome}): the "
        "check refuses the people who need it, and the app's own calls would fail",
        fixes[code])

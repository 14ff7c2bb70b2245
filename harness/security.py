"""Is a counter function safe to expose? Who may call it, on whose data.

On Supabase, functions in ``public`` are executable by ``anon`` and
``authenticated`` unless revoked, and a SECURITY DEFINER function bypasses
row-level security. Two kinds of check:

* static, from the catalog: definer rights without a fixed ``search_path``;
  EXECUTE held by ``anon`` or PUBLIC; a definer function that writes a table
  with RLS and never asks who is calling;
* dynamic: act as ``anon``, as a signed-in outsider (a member of another
  org) and as the client who owns the pack (``SET LOCAL ROLE`` with
  ``request.jwt.claims``), call each function on a purchase they may not
  change, and see whether the counter moved. And act as the org's own staff,
  who must still be able to.

Every check runs in a transaction that is rolled back: nothing persists.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import pglast
import psycopg
from pglast.parser import parse_sql_json

from .plpgsql import statements
from .target import Target

__all__ = ["Finding", "static_findings", "dynamic_findings", "findings_doc"]

_IDENTITY = ("auth.uid", "auth.role", "auth.jwt", "is_org_member", "org_role",
             "current_user", "session_user", "request.jwt")


@dataclass(frozen=True)
class Finding:
    code: str
    function: str
    message: str
    fix: str

    def lines(self) -> list[str]:
        return [f"{self.code} {self.function}: {self.message}", f"  fix: {self.fix}"]


def findings_doc(findings: Sequence[Finding]) -> list[dict[str, str]]:
    return [asdict(f) for f in findings]


# -- static -----------------------------------------------------------------------


def _written_tables(definition: str) -> set[str]:
    """Tables a PL/pgSQL function's statements UPDATE, INSERT into or DELETE from."""
    out: set[str] = set()
    for st in statements(definition):
        try:
            stmts = json.loads(parse_sql_json(st.sql))["stmts"]
        except pglast.parser.ParseError:
            continue
        for s in stmts:
            (kind, body), = s["stmt"].items()
            if kind in ("UpdateStmt", "InsertStmt", "DeleteStmt"):
                rel = body.get("relation", {})
                out.add(f"{rel.get('schemaname', 'public')}.{rel.get('relname')}")
    return out


def static_findings(conn: psycopg.Connection, functions: Sequence[str]) -> list[Finding]:
    out: list[Finding] = []
    for fn in functions:
        row = conn.execute(
            """select p.prosecdef, coalesce(array_to_string(p.proconfig, ','), ''),
                      l.lanname, pg_get_functiondef(p.oid),
                      exists (select from pg_roles where rolname = 'anon')
                          and has_function_privilege('anon', p.oid, 'EXECUTE'),
                      exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                              where a.grantee = 0 and a.privilege_type = 'EXECUTE')
               from pg_proc p join pg_language l on l.oid = p.prolang
               where p.oid = to_regprocedure(%s)""", (fn,)).fetchone()
        if row is None:
            continue
        definer, config, lang, definition, anon, public = row
        if not definer:
            continue
        if "search_path=" not in config:
            out.append(Finding(
                "SEC001", fn,
                "SECURITY DEFINER without a fixed search_path: a caller who can create "
                "objects earlier on its search_path can make it run their code with the "
                "owner's rights",
                f"ALTER FUNCTION {fn} SET search_path = ''; and schema-qualify every name"))
        if anon or public:
            who = "anon (anyone with the public API key)" if anon else "PUBLIC"
            out.append(Finding(
                "SEC002", fn,
                f"executable by {who}, with the owner's rights (Supabase grants EXECUTE "
                "on functions in public to anon and authenticated by default)",
                f"REVOKE EXECUTE ON FUNCTION {fn} FROM public, anon; "
                f"GRANT EXECUTE ON FUNCTION {fn} TO authenticated, service_role;"))
        if lang == "plpgsql":
            body = definition.lower()
            asks = any(name in body for name in _IDENTITY)
            rls = [t for t in sorted(_written_tables(definition)) if conn.execute(
                "select relrowsecurity from pg_class where oid = to_regclass(%s)", (t,)
            ).fetchone() == (True,)]
            if rls and not asks:
                out.append(Finding(
                    "SEC003", fn,
                    f"writes {', '.join(rls)}, which has row-level security, with definer "
                    "rights that bypass it, and never asks who is calling: anyone who may "
                    "execute it changes any row whose id they know",
                    "check ownership inside the function, in the UPDATE's WHERE clause "
                    "(e.g. AND public.is_org_member(org_id)), or make it SECURITY INVOKER "
                    "so the table's policies apply"))
    return out


# -- dynamic ----------------------------------------------------------------------

_PEOPLE = """
insert into auth.users (id, email) values
    (%(owner)s, 'owner@a.test'), (%(staff)s, 'staff@a.test'),
    (%(outsider)s, 'owner@b.test'), (%(client_user)s, 'client@a.test');
insert into public.orgs (id, name) values (%(org_a)s, 'org A'), (%(org_b)s, 'org B');
insert into public.org_members (org_id, user_id, role) values
    (%(org_a)s, %(owner)s, 'owner'), (%(org_a)s, %(staff)s, 'staff'),
    (%(org_b)s, %(outsider)s, 'owner');
insert into public.clients (id, org_id, name, auth_user_id)
    values (%(client)s, %(org_a)s, 'client of A', %(client_user)s);
insert into public.offers (id, org_id, name) values (%(offer)s, %(org_a)s, 'pack of 5');
insert into public.client_purchases (id, org_id, client_id, offer_id, amount_paid_cents,
                                     payment_status, sessions_total, sessions_used)
    values (%(purchase)s, %(org_a)s, %(client)s, %(offer)s, 5000, 'succeeded', 5, 2);
"""

# (code, who, role, user key in ids or None, may change?)
_CALLERS = (
    ("SEC101", "anon (no sign-in, only the public API key)", "anon", None, False),
    ("SEC102", "a signed-in member of org B", "authenticated", "outsider", False),
    ("SEC103", "the client who owns the pack", "authenticated", "client_user", False),
    ("SEC201", "org A's staff", "authenticated", "staff", True),
)


def _moved(conn: psycopg.Connection, fn: str, purchase: str, role: str,
           sub: str | None) -> tuple[bool, str]:
    """Call ``fn`` as ``role`` (with ``sub`` as auth.uid()); did the counter move?"""
    before = conn.execute("select sessions_used from public.client_purchases where id = %s",
                          (purchase,)).fetchone()
    conn.execute("savepoint call")
    outcome = "returned"
    try:
        claims = {"role": role, **({"sub": sub} if sub else {})}
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        conn.execute(f"set local role {role}")
        name = fn.split("(")[0]
        result = conn.execute(f"select {name}(%s::uuid)", (purchase,)).fetchone()
        outcome = f"returned {result[0] if result else None}"
    except psycopg.Error as e:
        outcome = f"was refused ({e.sqlstate})"
        conn.execute("rollback to savepoint call")
    conn.execute("reset role")
    after = conn.execute("select sessions_used from public.client_purchases where id = %s",
                         (purchase,)).fetchone()
    conn.execute("rollback to savepoint call")
    return before != after, outcome


def dynamic_findings(conn: psycopg.Connection, target: Target) -> list[Finding]:
    ids = {k: str(uuid.uuid4()) for k in ("owner", "staff", "outsider", "client_user", "org_a",
                                          "org_b", "client", "offer", "purchase")}
    out: list[Finding] = []
    with conn.transaction(force_rollback=True):
        for statement in _PEOPLE.split(";"):
            if statement.strip():
                conn.execute(statement, ids)
        for op in target.operations:
            for code, who, role, user, may in _CALLERS:
                moved, outcome = _moved(conn, op.function, ids["purchase"], role,
                                        ids[user] if user else None)
                if moved and not may:
                    what = ("its own pack's counter, which the app's policies let clients "
                            "only read" if code == "SEC103" else "the counter of org A's purchase")
                    out.append(Finding(
                        code, op.function,
                        f"{who} changed {what} ({op.name} {outcome}): definer rights "
                        "bypass row-level security",
                        "require a member of the purchase's org (or the service role) "
                        "in the function, and REVOKE EXECUTE from anon; see "
                        "migrations/fixes/hardened_functions.sql"))
                elif may and not moved:
                    out.append(Finding(
                        code, op.function,
                        f"{who} could not {op.name} a purchase of their own org "
                        f"({op.name} {outcome}): the check refuses the people who need it",
                        "allow members of the purchase's org (public.is_org_member(org_id))"))
    return out

"""Static checks: what the catalog says about a function, without calling it.

Only SECURITY DEFINER functions are checked: an invoker function runs with
the caller's rights, and row-level security applies to it as to the caller.
"""

from __future__ import annotations

from typing import Sequence

import psycopg

from .body import Body, asks_who_is_calling, read_body, search_schemas
from .findings import Finding, finding

__all__ = ["static_findings"]

_API_ROLES = ("anon", "authenticated")

_FUNCTION = """
select p.oid, p.prosecdef, p.proconfig, l.lanname, p.prosrc,
       case when p.prokind = 'f' then pg_get_functiondef(p.oid) end,
       pg_get_userbyid(p.proowner),
       p.oid::regprocedure::text
from pg_proc p join pg_language l on l.oid = p.prolang
where p.oid = to_regprocedure(%s)
"""

# Who may EXECUTE: each API role that exists (through any grant: its own,
# PUBLIC's, a role it inherits), and whether the grant is its own.
_EXECUTE = """
with acl as (
    select a.grantee from pg_proc p,
           aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
    where p.oid = %(oid)s and a.privilege_type = 'EXECUTE')
select r.rolname, has_function_privilege(r.oid, %(oid)s, 'EXECUTE'),
       exists (select from acl where acl.grantee = r.oid)
from pg_roles r where r.rolname = any(%(roles)s)
union all
select 'PUBLIC', exists (select from acl where grantee = 0),
       exists (select from acl where grantee = 0)
"""

# May this role (or PUBLIC) create objects in this schema?
_CREATE = """
select case when %(role)s = 'PUBLIC' then exists (
           select from aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
           where a.grantee = 0 and a.privilege_type = 'CREATE')
       else (select has_schema_privilege(r.oid, n.oid, 'CREATE')
             from pg_roles r where r.rolname = %(role)s) end
from pg_namespace n where n.nspname = %(schema)s
"""

# A written table with row-level security that the function's owner bypasses:
# a superuser, a BYPASSRLS role, or the table's owner (unless FORCE ROW LEVEL
# SECURITY) -- then the table's policies do not apply to the function's writes.
_RLS_BYPASSED = """
select c.oid::regclass::text,
       exists (select from pg_attribute a
               where a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped)
from pg_class c, pg_roles o
where c.oid = to_regclass(%(table)s) and o.rolname = %(owner)s
  and c.relrowsecurity
  and (o.rolsuper or o.rolbypassrls
       or (pg_has_role(o.oid, c.relowner, 'USAGE') and not c.relforcerowsecurity))
"""


def static_findings(conn: psycopg.Connection, functions: Sequence[str]) -> list[Finding]:
    """SEC001-SEC004 for each of ``functions`` (regprocedure text, e.g.
    ``public.release_session(uuid)``) that exists and is SECURITY DEFINER."""
    out: list[Finding] = []
    for name in functions:
        row = conn.execute(_FUNCTION, (name,)).fetchone()
        if row is None:
            continue  # not in this database: nothing to say about it
        oid, definer, config, lang, source, definition, owner, fn = row
        if not definer:
            continue
        schemas = search_schemas(conn, config, owner)
        body = read_body(lang, source or "", definition or "")
        asks = body.readable and asks_who_is_calling(conn, body, schemas)
        out += _search_path(conn, fn, config, owner)
        out += _execute(conn, fn, oid, asks or not body.readable)
        if body.readable and not asks:
            out += _rls_writes(conn, fn, body, schemas, owner)
    return out


def _search_path(conn: psycopg.Connection, fn: str, config: list[str] | None,
                 owner: str) -> list[Finding]:
    fix = (f"ALTER FUNCTION {fn} SET search_path = ''; and schema-qualify every table and "
           "function its body names (public.client_purchases, public.is_org_member)")
    if not any(c.startswith("search_path=") for c in config or []):
        return [finding(
            "SEC001", fn,
            "SECURITY DEFINER without SET search_path: it resolves names through the "
            "caller's search_path, so a caller who can put objects earlier on it makes "
            "the function run them with the owner's rights", fix)]
    # A fixed path is only as safe as the schemas on it.
    unsafe = []
    for schema in search_schemas(conn, config, owner):
        if schema in ("pg_catalog", "pg_temp"):
            continue
        who = [r for r in (*_API_ROLES, "PUBLIC")
               if conn.execute(_CREATE, {"role": r, "schema": schema}).fetchone() == (True,)]
        if who:
            unsafe.append(f"{schema} (CREATE: {', '.join(who)})")
    if unsafe:
        return [finding(
            "SEC001", fn,
            f"SECURITY DEFINER whose search_path holds {'; '.join(unsafe)}: those roles "
            "can create objects there that the function then runs with the owner's rights",
            fix)]
    return []


def _execute(conn: psycopg.Connection, fn: str, oid: int, asks: bool) -> list[Finding]:
    rows = conn.execute(_EXECUTE, {"oid": oid, "roles": list(_API_ROLES)}).fetchall()
    may = {role: (effective, own) for role, effective, own in rows}
    public = may["PUBLIC"][0]

    def how(role: str) -> str | None:
        """How ``role`` may EXECUTE (None: it may not). No such role (not a
        Supabase database): PUBLIC's grant stands for it."""
        effective, own = may.get(role, (public, False))
        if not effective:
            return None
        if role not in may:
            return "PUBLIC holds EXECUTE"
        grants = (["a grant to " + role] if own else []) + (["the grant to PUBLIC"] if public else [])
        return " and ".join(grants) or "a role it inherits"

    out = []
    anon = how("anon")
    if anon:
        out.append(finding(
            "SEC002", fn,
            f"anon (anyone with the project's public API key, not signed in) may EXECUTE "
            f"it ({anon}; Supabase grants EXECUTE on functions in public to anon and "
            "authenticated by default), and it runs with the owner's rights",
            f"REVOKE EXECUTE ON FUNCTION {fn} FROM public, anon; "
            f"GRANT EXECUTE ON FUNCTION {fn} TO authenticated, service_role;"))
    signed_in = how("authenticated")
    if signed_in and not asks:
        out.append(finding(
            "SEC004", fn,
            f"any signed-in user may EXECUTE it ({signed_in}), with the owner's rights, and "
            "neither it nor the functions it calls ask who is calling (auth.uid(), "
            "auth.role(), auth.jwt()): a user of any org changes any row whose id they know",
            "check ownership through auth.uid() inside the function, in the write's WHERE "
            "clause (e.g. AND public.is_org_member(org_id)); or, if only server-side code "
            f"calls it, REVOKE EXECUTE ON FUNCTION {fn} FROM public, anon, authenticated;"))
    return out


def _rls_writes(conn: psycopg.Connection, fn: str, body: Body, schemas: list[str],
                owner: str) -> list[Finding]:
    out = []
    for schema, table in sorted(body.writes, key=lambda w: (w[0] or "", w[1])):
        for candidate in ([schema] if schema else schemas):
            qualified = f'"{candidate}"."{table}"'
            if conn.execute("select to_regclass(%s) is not null", (qualified,)).fetchone() \
                    != (True,):
                continue
            row = conn.execute(_RLS_BYPASSED, {"table": qualified, "owner": owner}).fetchone()
            if row is not None:
                name, has_org = row
                check = ("AND public.is_org_member(org_id)" if has_org
                         else "a condition through auth.uid() that the caller owns the row")
                out.append(finding(
                    "SEC003", fn,
                    f"writes {name}, which has row-level security, as {owner}, who bypasses "
                    "it, and never asks who is calling: the table's policies (members of "
                    "the row's org may update) do not protect it",
                    f"add {check} to the WHERE clause of its write to {name}, so the "
                    "ownership check and the change stay one statement; or make it "
                    "SECURITY INVOKER so the table's policies apply"))
            break  # the first schema that has the table is the one it writes
    return out

"""What a function's body does, read with PostgreSQL's own parsers (pglast):
which tables it writes, which functions it calls, and whether it asks who is
calling (auth.uid(), auth.role(), auth.jwt(), the JWT claims, the session's
role), directly or through the functions it calls."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator

import pglast
import psycopg
from pglast.parser import parse_sql_json

__all__ = ["Body", "read_body", "asks_who_is_calling", "search_schemas"]

_WRITES = ("UpdateStmt", "InsertStmt", "DeleteStmt", "MergeStmt")
_DYNAMIC = ("PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors")
# Supabase's identity functions: the caller's JWT, as PostgREST passed it.
_AUTH = {"uid", "role", "jwt", "email"}
# Settings that say who is calling (current_setting(...)).
_IDENTITY_SETTINGS = ("request.jwt", "role")
_SYSTEM = {"pg_catalog", "information_schema"}
_DEPTH = 4  # helpers of helpers of ... (is_org_member -> auth.uid)


@dataclass
class Body:
    """What one function body does, as far as its text says."""

    writes: set[tuple[str | None, str]] = field(default_factory=set)  # (schema, table)
    calls: set[tuple[str | None, str]] = field(default_factory=set)  # (schema, name)
    asks_identity: bool = False  # itself, without looking into what it calls
    dynamic_sql: bool = False  # EXECUTE: its writes cannot be read from the text
    readable: bool = True  # False: a language or text pglast cannot read


def read_body(language: str, source: str, definition: str) -> Body:
    """``source`` is pg_proc.prosrc, ``definition`` pg_get_functiondef()."""
    body = Body()
    if language == "plpgsql":
        try:
            tree = pglast.parse_plpgsql(definition)
        except (pglast.parser.ParseError, ValueError):
            return Body(readable=False)
        for kind, query, mode in _plpgsql_exprs(tree):
            if kind in _DYNAMIC:
                body.dynamic_sql = True
            _scan_sql(_as_statement(query, mode), body)
    elif language == "sql":
        # prosrc is the body; a BEGIN ATOMIC body lives only in the definition.
        if not (source.strip() and _scan_sql(source, body)):
            if not _scan_sql(definition, body):
                return Body(readable=False)
    else:
        body.readable = False
    return body


def _plpgsql_exprs(node: Any, kind: str = "") -> Iterator[tuple[str, str, int]]:
    """(statement kind, query text, parse mode) of every expression in the tree."""
    if isinstance(node, list):
        for item in node:
            yield from _plpgsql_exprs(item, kind)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "PLpgSQL_expr" and isinstance(value, dict):
                yield kind, str(value.get("query", "")), int(value.get("parseMode", 0))
            else:
                yield from _plpgsql_exprs(value, key if key.startswith("PLpgSQL_stmt_") else kind)


def _as_statement(query: str, mode: int) -> str:
    """PL/pgSQL keeps expressions and assignments as fragments; make them statements.
    Modes are PostgreSQL's RawParseMode: 0 a statement, 2 an expression, 3-5 an
    assignment ``target := expression``."""
    if mode == 0:
        return query
    if mode >= 3 and "=" in query:  # the target never holds '=': the first is the operator
        query = query[query.index("=") + 1:]
    return f"SELECT {query}"


def _scan_sql(text: str, body: Body) -> bool:
    """Add what ``text`` writes and calls to ``body``; False when it does not parse."""
    try:
        tree = json.loads(parse_sql_json(text))
    except pglast.parser.ParseError:
        # Unreadable, but a caller check is still worth noticing.
        low = text.lower()
        if any(f"auth.{n}(" in low for n in _AUTH) or "request.jwt" in low:
            body.asks_identity = True
        return False
    _walk(tree, body)
    return True


def _walk(node: Any, body: Body) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, body)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _WRITES and isinstance(value, dict):
            rel = value.get("relation") or {}
            rel = rel.get("RangeVar", rel)
            if rel.get("relname"):
                body.writes.add((rel.get("schemaname"), rel["relname"]))
        elif key == "FuncCall" and isinstance(value, dict):
            name = [n.get("String", {}).get("sval") or n.get("String", {}).get("str")
                    for n in value.get("funcname", [])]
            schema, fname = (None, name[-1]) if len(name) == 1 else (name[-2], name[-1])
            if fname:
                body.calls.add((schema, fname))
                if schema == "auth" and fname in _AUTH:
                    body.asks_identity = True
                if fname == "current_setting" and schema in (None, "pg_catalog"):
                    setting = _first_string(value.get("args") or [])
                    if setting and setting.lower().startswith(_IDENTITY_SETTINGS):
                        body.asks_identity = True
        elif key == "SQLValueFunction" and isinstance(value, dict):
            # session_user: the role that logged in. (current_user, inside a
            # definer function, is the owner: it says nothing about the caller.)
            if value.get("op") == "SVFOP_SESSION_USER":
                body.asks_identity = True
        _walk(value, body)


def _first_string(args: list[Any]) -> str | None:
    if not args or not isinstance(args[0], dict):
        return None
    node = args[0]
    if "TypeCast" in node:
        node = node["TypeCast"].get("arg", {})
    const = node.get("A_Const", {})
    sval = const.get("sval")
    if isinstance(sval, dict):
        return sval.get("sval") or sval.get("str")
    return None


# -- the catalog ------------------------------------------------------------------


def search_schemas(conn: psycopg.Connection, proconfig: list[str] | None,
                   owner: str) -> list[str]:
    """The schemas an unqualified name in the function resolves in, in order:
    its own ``SET search_path``, else the connection's (the database default)."""
    path = next((c.split("=", 1)[1] for c in proconfig or [] if c.startswith("search_path=")),
                None)
    if path is None:
        row = conn.execute("select current_schemas(true)").fetchone()
        return [str(s) for s in (row[0] if row else [])]
    out = ["pg_catalog"]
    for part in path.split(","):
        name = part.strip()
        if name.startswith('"') and name.endswith('"'):
            name = name[1:-1].replace('""', '"')
        if name == "$user":
            name = owner
        if name and name not in out:
            out.append(name)
    return out


def asks_who_is_calling(conn: psycopg.Connection, body: Body, schemas: list[str],
                        _depth: int = 0, _seen: set[int] | None = None) -> bool:
    """Does the body, or a function it calls (its helpers, to a few levels), ask
    who is calling? ``public.is_org_member(org_id)`` does, through auth.uid()."""
    if body.asks_identity:
        return True
    if _depth >= _DEPTH:
        return False
    seen = _seen if _seen is not None else set()
    for schema, name in sorted(body.calls, key=lambda c: (c[0] or "", c[1])):
        candidates = [schema] if schema else [s for s in schemas if s not in _SYSTEM]
        if schema in _SYSTEM or not candidates:
            continue
        if any(s == "auth" and name in _AUTH for s in candidates):
            return True
        rows = conn.execute(
            """select p.oid, l.lanname, p.prosrc, pg_get_functiondef(p.oid),
                      p.proconfig, pg_get_userbyid(p.proowner)
               from pg_proc p
               join pg_namespace n on n.oid = p.pronamespace
               join pg_language l on l.oid = p.prolang
               where p.proname = %s and n.nspname = any(%s) and p.prokind = 'f'""",
            (name, candidates)).fetchall()
        for oid, lang, src, definition, config, owner in rows:
            if oid in seen:
                continue
            seen.add(oid)
            helper = read_body(lang, src or "", definition or "")
            if asks_who_is_calling(conn, helper, search_schemas(conn, config, owner),
                                   _depth + 1, seen):
                return True
    return False

"""A structural truth, read from a function's source: does it read the counter's
table before it writes it (check-then-act), or inside the write (a subquery)?

Parsed with pglast, PostgreSQL's own parser (PL/pgSQL and SQL), not patterns.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pglast
from pglast.parser import parse_sql_json

__all__ = ["statements", "reads_before_write"]

_WRITES = {"UpdateStmt", "InsertStmt", "DeleteStmt"}


def statements(function_sql: str) -> Iterator[tuple[int, str]]:
    """``(line, sql)`` of each SQL statement in a PL/pgSQL function, in body order."""
    tree = pglast.parse_plpgsql(function_sql)
    yield from _walk(tree)


def _walk(node: Any) -> Iterator[tuple[int, str]]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("PLpgSQL_stmt_execsql", "PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_return_query"):
                expr = value.get("sqlstmt") or value.get("query") or {}
                q = expr.get("PLpgSQL_expr", {}).get("query")
                if q:
                    yield value.get("lineno", 0), q
            elif key == "PLpgSQL_expr" and value.get("parseMode") in (2, None):
                # An expression (IF, assignment, RETURN) may hide a subquery.
                q = value.get("query", "")
                if "select" in q.lower():
                    yield 0, f"SELECT {q}"
            else:
                yield from _walk(value)


def _relations(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _relations(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "RangeVar":
                yield value.get("relname", "")
            else:
                yield from _relations(value)


def reads_before_write(function_sql: str, table: str) -> list[str]:
    """Statements that read ``table`` before the function's first write of it,
    or inside that write; empty for a single self-contained UPDATE."""
    table = table.rpartition(".")[2]
    found: list[str] = []
    for line, sql in statements(function_sql):
        try:
            stmts = json.loads(parse_sql_json(sql))["stmts"]
        except pglast.parser.ParseError:
            continue
        for s in stmts:
            (kind, body), = s["stmt"].items()
            if kind in _WRITES and body.get("relation", {}).get("relname") == table:
                inner = {k: v for k, v in body.items() if k != "relation"}
                if table in set(_relations(inner)):
                    found.append(f"line {line}: the write reads {table} in a subquery: {sql.strip()}")
                return found
            if table in set(_relations(body)):
                found.append(f"line {line}: {sql.strip()}")
    return found

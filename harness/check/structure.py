"""A structural truth, read from a function's source: does it read the counter's
table before it writes it (check-then-act), or inside the write (a subquery)?

Parsed with pglast, PostgreSQL's own parser (PL/pgSQL and SQL), not patterns.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pglast
from pglast.parser import parse_sql_json

from ..plpgsql import statements

__all__ = ["reads_before_write"]

_WRITES = {"UpdateStmt", "InsertStmt", "DeleteStmt"}


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
    for st in statements(function_sql):
        line, sql = st.line, st.sql
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

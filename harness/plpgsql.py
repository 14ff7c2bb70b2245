"""The SQL statements inside a PL/pgSQL function, in body order, read with
pglast (PostgreSQL's own PL/pgSQL parser), not with patterns.

Pause points go before them, the structural truth ("no read before the
write") and the security checks read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import pglast

__all__ = ["Statement", "statements"]

# Statement kinds that run SQL; other statements (IF, RETURN, assignment) only
# do when their expression holds a subquery.
_SQL_KINDS = {
    "PLpgSQL_stmt_execsql", "PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_return_query",
    "PLpgSQL_stmt_perform", "PLpgSQL_stmt_open", "PLpgSQL_stmt_fors",
    "PLpgSQL_stmt_dynfors",
}


@dataclass(frozen=True)
class Statement:
    line: int  # in the function body
    kind: str  # PLpgSQL_stmt_*
    text: str  # the SQL, or the expression holding a subquery

    @property
    def sql(self) -> str:
        """Something the SQL parser takes: an expression becomes a SELECT."""
        return self.text if self.kind in _SQL_KINDS else f"SELECT {self.text}"


def statements(function_sql: str) -> list[Statement]:
    """Every statement of a ``CREATE FUNCTION ... LANGUAGE plpgsql`` that runs SQL."""
    return list(_walk(pglast.parse_plpgsql(function_sql)))


def _walk(node: Any) -> Iterator[Statement]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
        return
    if not isinstance(node, dict):
        return
    for kind, body in node.items():
        if kind.startswith("PLpgSQL_stmt_") and isinstance(body, dict):
            query = _first_query(body)
            runs_sql = kind in _SQL_KINDS or (query is not None and "select" in query.lower())
            if runs_sql and query is not None and "lineno" in body:
                yield Statement(body["lineno"], kind, query)
            # Statements nested in IF / LOOP / blocks come after their head.
            for key, value in body.items():
                if key not in ("sqlstmt", "expr", "cond", "query"):
                    yield from _walk(value)
        else:
            yield from _walk(body)


def _first_query(body: dict[str, Any]) -> str | None:
    for key in ("sqlstmt", "expr", "cond", "query"):
        v = body.get(key)
        if isinstance(v, dict) and "PLpgSQL_expr" in v:
            return str(v["PLpgSQL_expr"].get("query", ""))
    return None

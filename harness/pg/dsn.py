"""An existing server, reached by a DSN. The harness only ever creates and drops
its own uniquely named databases there (see janitor.py)."""

from __future__ import annotations

import contextlib
from typing import Iterator

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..errors import SetupError
from .server import ServerInfo, connect, redact

__all__ = ["existing_server"]


@contextlib.contextmanager
def existing_server(dsn: str) -> Iterator[ServerInfo]:
    try:
        with connect(dsn) as conn:
            version = str(conn.execute("show server_version").fetchone()[0]).split()[0]  # type: ignore[index]
            can_create = conn.execute(
                "select rolsuper or rolcreatedb from pg_roles where rolname = current_user"
            ).fetchone()
    except psycopg.ProgrammingError as e:
        raise SetupError(f"invalid DSN {dsn!r}: {e}") from None
    except psycopg.Error as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SetupError(f"cannot connect to {redact(dsn)}: {msg}") from None
    if not (can_create and can_create[0]):
        raise SetupError(
            f"the role of {redact(dsn)} may not create databases: the harness needs "
            "CREATEDB (or superuser) to make its scratch databases"
        )
    # Text comes back as text even from a SQL_ASCII server.
    conninfo = dsn if "client_encoding" in conninfo_to_dict(dsn) else make_conninfo(
        dsn, client_encoding="utf8")
    yield ServerInfo(conninfo=conninfo, backend="dsn", version=version)

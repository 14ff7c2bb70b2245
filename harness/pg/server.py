"""Where a PostgreSQL server comes from, behind one small value: ``ServerInfo``.

"A server exists" is separate from "a clean database exists" (see janitor.py):
backends only produce a reachable server and tear it down again.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Callable, Iterator

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..errors import SetupError

__all__ = ["ServerInfo", "open_server", "connect", "redact"]


@dataclass(frozen=True)
class ServerInfo:
    """A reachable server: a base conninfo (superuser or owner rights) and a name."""

    conninfo: str
    backend: str  # "local" | "dsn" | "docker"
    version: str = ""
    # Stop and start the server again, cleanly (only where the harness owns it).
    restart: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def dsn(self, dbname: str | None = None) -> str:
        return make_conninfo(self.conninfo, dbname=dbname) if dbname else self.conninfo

    @property
    def dbname(self) -> str:
        return conninfo_to_dict(self.conninfo).get("dbname") or "postgres"


def redact(conninfo: str) -> str:
    """The conninfo with any password hidden, for messages."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<unparsable DSN>"
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**params)


def connect(dsn: str, *, autocommit: bool = True, **kwargs: object) -> psycopg.Connection:
    """A connection with the harness's defaults (autocommit, short connect timeout)."""
    kwargs.setdefault("connect_timeout", 10)
    return psycopg.connect(dsn, autocommit=autocommit, **kwargs)  # type: ignore[arg-type]


def server_version(dsn: str) -> str:
    with connect(dsn) as conn:
        # "15.18 (Debian 15.18-0+deb12u1)" -> "15.18"
        return str(conn.execute("show server_version").fetchone()[0]).split()[0]  # type: ignore[index]


@contextlib.contextmanager
def open_server(
    backend: str = "local",
    *,
    dsn: str | None = None,
    pg_bin: str | None = None,
    image: str = "postgres:15",
) -> Iterator[ServerInfo]:
    """Start (or reach) a server for the duration of the block, then remove it.

    ``dsn`` (or ``HARNESS_DSN``) selects an existing server; otherwise ``backend``
    says where a throwaway one comes from.
    """
    dsn = dsn or os.environ.get("HARNESS_DSN") or None
    if dsn:
        from .dsn import existing_server

        with existing_server(dsn) as info:
            yield info
    elif backend == "local":
        from .local import local_cluster

        with local_cluster(pg_bin=pg_bin) as info:
            yield info
    elif backend == "docker":
        from .docker import docker_server

        with docker_server(image=image) as info:
            yield info
    else:
        raise SetupError(f"unknown backend {backend!r}: use local, docker, or --dsn DSN")

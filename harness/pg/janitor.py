"""Clean databases on a server: create, clone from a template, and always drop.

Every database the harness makes is named ``harness_<pid>_<random>`` and is
dropped (``WITH (FORCE)``, ending any backend still on it) when its block ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Iterator

import psycopg
from psycopg import sql

from ..errors import SetupError
from .server import ServerInfo, connect

__all__ = ["scratch_database", "new_name", "drop_database"]


def new_name(kind: str = "db") -> str:
    return f"harness_{kind}_{os.getpid()}_{secrets.token_hex(4)}"


def create_database(info: ServerInfo, name: str, template: str | None = None) -> None:
    stmt = sql.SQL("create database {}").format(sql.Identifier(name))
    if not template:
        # UTF8 whatever the cluster's default (a minimal image may say SQL_ASCII).
        stmt += sql.SQL(" encoding 'UTF8' locale 'C' template template0")
    else:
        # FILE_COPY: for the small databases here, faster than WAL_LOG.
        stmt += sql.SQL(" template {} strategy file_copy").format(sql.Identifier(template))
    try:
        with connect(info.dsn()) as conn:
            conn.execute(stmt)
    except psycopg.errors.SyntaxError:
        # Before PostgreSQL 15 there is no STRATEGY option.
        with connect(info.dsn()) as conn:
            conn.execute(sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(template or "template1")))
    except psycopg.Error as e:
        raise SetupError(f"cannot create database {name}: {e.diag.message_primary or e}") from None


def drop_database(info: ServerInfo, name: str) -> None:
    with connect(info.dsn()) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@contextlib.contextmanager
def scratch_database(
    info: ServerInfo, template: str | None = None, kind: str = "db"
) -> Iterator[str]:
    """A fresh database (a clone of ``template`` if given), dropped afterwards."""
    name = new_name(kind)
    create_database(info, name, template)
    try:
        yield name
    finally:
        with contextlib.suppress(psycopg.Error):
            drop_database(info, name)

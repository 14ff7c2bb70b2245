"""A copy of someone's database to test, never the database itself.

``CREATE DATABASE ... TEMPLATE`` copies it in one statement, but only while
no one else is connected to it. Otherwise (or where it is not allowed) a
schema-only ``pg_dump`` of it is restored into a scratch database.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg import sql

from ..errors import SetupError
from .janitor import create_database, drop_database, new_name
from .local import find_binaries
from .migrations import Failed, Migration, apply, without_meta_commands
from .server import ServerInfo, connect, redact

__all__ = ["Copy", "copy_of"]


@dataclass(frozen=True)
class Copy:
    """A scratch database holding the copy, and how it was made."""

    dbname: str
    how: str
    # Statements of the restored dump that failed (the pg_dump way only).
    failed: list[Failed] = field(default_factory=list)


@contextlib.contextmanager
def copy_of(info: ServerInfo, source: str) -> Iterator[Copy]:
    """A scratch copy of database ``source`` on the server of ``info``,
    dropped when the block ends. ``source`` is only ever read."""
    # CREATE DATABASE ... TEMPLATE fails while anyone is connected to the
    # template -- the harness too, when its DSN names that very database.
    admin = info.dsn() if info.dbname != source else info.dsn(
        "postgres" if source != "postgres" else "template1")
    with connect(admin) as conn:
        if conn.execute("select 1 from pg_database where datname = %s",
                        (source,)).fetchone() is None:
            raise SetupError(f"--clone-db {source}: no such database on that server")
        others = conn.execute(
            "select count(*) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (source,)).fetchone()
    name = new_name("copy")
    try:
        # Skip the attempt when others are connected: the server would wait
        # 5 s for them to leave before refusing.
        n = others[0] if others else 0
        why = (f"{n} other session{' is' if n == 1 else 's are'} connected to it" if n
               else _template_copy(admin, source, name))
        if why is None:
            yield Copy(name, "CREATE DATABASE ... TEMPLATE")
            return
        failed = _dump_copy(info, source, name, why)
        yield Copy(name, f"{why}, so: pg_dump --schema-only, restored", failed)
    finally:
        with contextlib.suppress(psycopg.Error):
            drop_database(info, name)


def _template_copy(admin: str, source: str, name: str) -> str | None:
    """Clone ``source`` as ``name``; None when done, else why it could not."""
    stmt = sql.SQL("create database {} template {}").format(
        sql.Identifier(name), sql.Identifier(source))
    with connect(admin) as conn:
        try:
            try:
                # FILE_COPY: no WAL for every block of a database that may be big.
                conn.execute(stmt + sql.SQL(" strategy file_copy"))
            except psycopg.errors.SyntaxError:  # before PostgreSQL 15
                conn.execute(stmt)
        except psycopg.Error as e:
            return (e.diag.message_primary or str(e).strip()).rstrip(".")
    return None


def _dump_copy(info: ServerInfo, source: str, name: str, why: str) -> list[Failed]:
    """``pg_dump --schema-only`` of ``source`` restored into a new ``name``.
    Owners and grants come along: on the same server their roles exist, and
    they decide what a SECURITY DEFINER function may do, and who may call it."""
    exe = shutil.which("pg_dump") or str(find_binaries().bindir / "pg_dump")
    try:
        out = subprocess.run([exe, "--schema-only", info.dsn(source)], capture_output=True,
                             text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SetupError(f"--clone-db {source}: {why}, and pg_dump could not run: {e}") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SetupError(f"--clone-db {source}: {why}, and pg_dump failed: "
                         f"{last.replace(info.dsn(source), redact(info.dsn(source)))}")
    create_database(info, name)
    with connect(info.dsn(name)) as conn:
        return apply(conn, [Migration(Path(f"pg_dump of {source}"),
                                      without_meta_commands(out.stdout), dump=True)])

"""A copy of someone's database to test, never the database itself.

``CREATE DATABASE ... TEMPLATE`` copies it in one statement, but only while
no one else is connected to it. Otherwise (or where it is not allowed) a
schema-only ``pg_dump`` of it is restored into a scratch database.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg

from ..errors import SetupError
from .janitor import create_database, drop_database, new_name
from .local import find_binaries
from .migrations import Migration, apply, without_meta_commands
from .server import ServerInfo, connect

__all__ = ["copy_of"]


def copy_of(info: ServerInfo, source: str) -> tuple[str, str]:
    """A database usable as a template holding ``source``'s schema, and how it
    was made. When it is ``source`` itself, the clone is direct."""
    with connect(info.dsn()) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (source,)).fetchone() is None:
            raise SetupError(f"--clone-db {source}: no such database on that server")
        busy = conn.execute("select count(*) from pg_stat_activity where datname = %s",
                            (source,)).fetchone()
    if busy == (0,):
        return source, "CREATE DATABASE ... TEMPLATE"
    exe = shutil.which("pg_dump") or str(find_binaries().bindir / "pg_dump")
    try:
        dump = subprocess.run([exe, "--schema-only", "--no-owner", "--no-privileges",
                               info.dsn(source)], capture_output=True, text=True, check=True,
                              timeout=120).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        raise SetupError(f"--clone-db {source}: others are connected to it, so it cannot be "
                         f"a template, and pg_dump failed too: {e}") from None
    name = new_name("copy")
    create_database(info, name)
    try:
        with connect(info.dsn(name)) as conn:
            apply(conn, [Migration(Path(f"pg_dump of {source}"),
                                   without_meta_commands(dump), dump=True)])
    except (SetupError, psycopg.Error):
        drop_database(info, name)
        raise
    return name, "others are connected to it: pg_dump --schema-only, restored"

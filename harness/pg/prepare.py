"""A migrated, instrumented database: migrations, then overlays, then the harness
schema, then the fixture rows the counter's rows need."""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import psycopg

from ..errors import SetupError
from ..target import Target
from . import instrument
from .janitor import scratch_database
from .migrations import Migration, apply
from .server import ServerInfo, connect

__all__ = ["migrated_database", "migrate_into"]


def migrate_into(info: ServerInfo, dbname: str, files: Sequence[Migration], target: Target) -> None:
    with connect(info.dsn(dbname)) as conn:
        apply(conn, files)
        try:
            instrument.install(conn, target)
            conn.execute(target.fixtures_sql)
        except psycopg.Error as e:
            raise SetupError(
                f"the migrations applied, but {target.table}.{target.counter} cannot be "
                f"instrumented or given test rows: {e.diag.message_primary or e}"
            ) from None


@contextlib.contextmanager
def migrated_database(
    info: ServerInfo,
    files: Sequence[Migration],
    target: Target,
    template: str | None = None,
) -> Iterator[str]:
    """A scratch database with ``files`` applied (on top of ``template`` if given)."""
    with scratch_database(info, template=template) as dbname:
        migrate_into(info, dbname, files, target)
        yield dbname

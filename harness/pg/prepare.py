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
from .migrations import Failed, Migration, apply
from .server import ServerInfo, connect

__all__ = ["migrated_database", "migrate_into"]


def migrate_into(info: ServerInfo, dbname: str, files: Sequence[Migration], target: Target,
                 continue_on_error: bool = False) -> list[Failed]:
    """Apply ``files``, then the harness schema; the statements that failed
    (only with ``continue_on_error``: otherwise the first failure raises)."""
    with connect(info.dsn(dbname)) as conn:
        failed = apply(conn, files, continue_on_error)
        missing = [o.function for o in target.operations if conn.execute(
            "select to_regprocedure(%s) is null", (o.function,)).fetchone() == (True,)]
        if missing:
            first = f"; the first of {len(failed)} failed statements: {failed[0]}" if failed else ""
            raise SetupError(f"after the migrations the functions under test do not exist: "
                             f"{', '.join(missing)}{first}")
        try:
            instrument.install(conn, target)
            conn.execute(target.fixtures_sql)
        except psycopg.Error as e:
            raise SetupError(
                f"the migrations applied, but {target.table}.{target.counter} cannot be "
                f"instrumented or given test rows: {e.diag.message_primary or e}"
            ) from None
    return failed


@contextlib.contextmanager
def migrated_database(
    info: ServerInfo,
    files: Sequence[Migration],
    target: Target,
    template: str | None = None,
    continue_on_error: bool = False,
    failed: list[Failed] | None = None,
    database: str | None = None,
) -> Iterator[str]:
    """A scratch database with ``files`` applied (on top of ``template`` if
    given; into ``database``, which the caller made and drops, if given);
    statements that failed are appended to ``failed``."""
    with (contextlib.nullcontext(database) if database
          else scratch_database(info, template=template)) as dbname:
        errors = migrate_into(info, dbname, files, target, continue_on_error)
        if failed is not None:
            failed += errors
        yield dbname

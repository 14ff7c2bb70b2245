"""Ordered SQL: a migrations folder, then overlays, each file in its own transaction.

A folder's ``*.sql`` files apply in file-name order (Supabase's order:
timestamp or number prefixes); subfolders such as ``mutants/`` are not part
of it. Overlays -- a file, or a folder of files -- apply afterwards in the order
given: that is how an engineer swaps in a suspected bug or a candidate fix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
from dataclasses import dataclass

import pglast
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import psycopg

from ..errors import HarnessError, MigrationError

__all__ = ["Migration", "Failed", "collect", "apply", "checksums", "COMPAT",
           "without_meta_commands"]


@dataclass(frozen=True)
class Migration:
    path: Path
    text: str
    # A schema dump re-creates what the compat shim made (schemas, extensions):
    # it applies statement by statement, and "already exists" is no failure.
    dump: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def _read(path: Path) -> Migration:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise HarnessError(f"{path}: not a UTF-8 text file") from None
    return Migration(path, without_meta_commands(text))


def without_meta_commands(text: str) -> str:
    """pg_dump output holds psql meta-commands (\\connect, \\restrict ...) that
    only psql understands; blank them, keeping the line numbers."""
    return "\n".join("" if line.startswith("\\") else line for line in text.split("\n"))


def _sql_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix == ".sql" and p.is_file()),
                  key=lambda p: p.name)


# duplicate schema, object, table, function, database
_ALREADY_EXISTS = {"42P06", "42710", "42P07", "42723", "42P04", "42P16"}

# What Supabase gives every project, for folders that are not this project's.
COMPAT = Path(__file__).resolve().parents[2] / "migrations" / "0000_supabase_compat.sql"


def collect(migrations: Path | None, overlays: Sequence[Path] = (),
            schema: Path | None = None) -> list[Migration]:
    """The files to apply, in order; a clear error for anything missing.

    A folder (or a schema dump) that is not this project's own gets the
    Supabase compat shim first: roles, ``auth`` and ``storage``, extensions.
    """
    files: list[Path] = []
    if schema is not None:
        if not schema.is_file():
            raise HarnessError(f"--schema {schema}: no such file")
        return ([_read(COMPAT), dataclasses.replace(_read(schema), dump=True)]
                + collect(None, overlays))
    elif migrations is not None:
        if not migrations.is_dir():
            raise HarnessError(f"migrations directory not found: {migrations}")
        found = _sql_files(migrations)
        if not found:
            raise HarnessError(f"no .sql files in migrations directory {migrations}")
        if COMPAT.is_file() and not any(p.name == COMPAT.name for p in found):
            files.append(COMPAT)
        files += found
    for overlay in overlays:
        if overlay.is_dir():
            found = _sql_files(overlay)
            if not found:
                raise HarnessError(f"--overlay {overlay}: no .sql files in that directory")
            files += found
        elif overlay.is_file():
            files.append(overlay)
        else:
            raise HarnessError(f"--overlay {overlay}: no such file or directory")
    return [_read(p) for p in files]


def checksums(migrations: Iterable[Migration]) -> dict[str, str]:
    return {str(m.path): m.sha256 for m in migrations}


@dataclass(frozen=True)
class Failed:
    """A statement that failed under --continue-on-error."""

    path: str
    line: int
    message: str
    sqlstate: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def apply(conn: psycopg.Connection, migrations: Iterable[Migration],
          continue_on_error: bool = False) -> list[Failed]:
    """Apply each file as one implicit transaction; stop at the first failure.

    The whole file goes to the server as one simple-protocol query, so it is
    atomic and the error position points into the file. With
    ``continue_on_error`` each statement (split by PostgreSQL's own parser)
    runs on its own instead, and the failures are returned.
    """
    failed: list[Failed] = []
    for m in migrations:
        if not m.text.strip():
            continue
        if continue_on_error or m.dump:
            # A dump's SETs (search_path '', check_function_bodies off ...)
            # would otherwise stay on for the overlays and the harness schema.
            with _session_settings_kept(conn) if m.dump else contextlib.nullcontext():
                failed += [f for f in _apply_each(conn, m)
                           if not (m.dump and f.sqlstate in _ALREADY_EXISTS)]
            continue
        try:
            conn.execute(m.text)
        except psycopg.Error as e:
            line = _line_of(m.text, e) or _locate(conn, m, e)
            raise MigrationError(str(m.path), line, _message(e, stopping=True)) from None
    return failed


def _statements(text: str) -> list[tuple[int, str]]:
    """Each statement of ``text`` with the line it starts on, as PostgreSQL's
    own parser splits them (``$$`` bodies, quotes, comments); the whole text
    as one piece when it does not parse here (the server will say why)."""
    try:
        chunks = list(pglast.split(text, only_slices=True))
    except pglast.parser.ParseError:
        chunks = [slice(0, len(text))]
    return [(text[: c.start].count("\n") + 1, text[c]) for c in chunks]


# BEGIN / COMMIT of a file that manages its own transaction: statement by
# statement, each statement already is one.
_TRANSACTION_CONTROL = re.compile(
    r"(begin|start\s+transaction|commit|end|rollback|abort)\b(?!\s+(to|prepared)\b)"
    r"(\s+(work|transaction))?\s*(;\s*)?$", re.IGNORECASE)


def _runnable(statements: list[tuple[int, str]]) -> list[tuple[int, str]]:
    return [(line, s) for line, s in statements
            if not _TRANSACTION_CONTROL.match(s.strip())]


def _apply_each(conn: psycopg.Connection, m: Migration) -> list[Failed]:
    failed = []
    for line, statement in _runnable(_statements(m.text)):
        try:
            conn.execute(statement)
        except psycopg.Error as e:
            at = _line_of(statement, e)
            failed.append(Failed(str(m.path), line + (at - 1 if at else 0), _message(e),
                                 e.sqlstate))
    return failed


class _RollBack(Exception):
    pass


def _locate(conn: psycopg.Connection, m: Migration, error: psycopg.Error) -> int | None:
    """The line of the statement behind ``error`` when the server gave no
    position (many DDL errors, PL/pgSQL in DO blocks): the file failed as a
    whole, so nothing of it stayed; run it again statement by statement in a
    transaction that is rolled back, and see which statement fails the same way."""
    statements = _runnable(_statements(m.text))
    if len(statements) == 1:
        return statements[0][0]
    found: int | None = None
    with contextlib.suppress(_RollBack, psycopg.Error):
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("rollback")  # the file's own BEGIN, left open by its error
        with conn.transaction():
            for line, statement in statements:
                try:
                    conn.execute(statement)
                except psycopg.Error as e:
                    if e.sqlstate == error.sqlstate:
                        at = _line_of(statement, e)
                        found = line + (at - 1 if at else 0)
                    break
            raise _RollBack
    return found


@contextlib.contextmanager
def _session_settings_kept(conn: psycopg.Connection) -> Iterator[None]:
    """Put back every setting the block changed with SET / set_config."""
    query = "select name, current_setting(name) from pg_settings"
    before = dict(conn.execute(query).fetchall())
    try:
        yield
    finally:
        for name, value in conn.execute(query).fetchall():
            if name in before and before[name] != value:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("select set_config(%s, %s, false)", (name, before[name]))


def _line_of(text: str, error: psycopg.Error) -> int | None:
    pos = error.diag.statement_position
    if not pos:
        return None
    # The server counts characters from 1.
    return text[: int(pos) - 1].count("\n") + 1


def _message(error: psycopg.Error, stopping: bool = False) -> str:
    msg = error.diag.message_primary or str(error).strip().splitlines()[0]
    name = _missing_extension(error.sqlstate, msg)
    if name is not None:
        msg = (f'extension "{name}" is not available on this server, and the Supabase '
               "compat shim cannot supply it")
        return msg + (": install it on the server, leave it out of the migrations, or "
                      "skip it with --continue-on-error" if stopping else "")
    ctx = error.diag.context
    if ctx and "PL/pgSQL" in ctx:
        msg += f" ({ctx.strip().splitlines()[0]})"
    return msg


def _missing_extension(sqlstate: str | None, msg: str) -> str | None:
    """The extension CREATE EXTENSION could not find on the server, if that is
    the error: 0A000 'extension "x" is not available' (newer servers), 58P01
    'could not open extension control file ".../x.control"' (older ones)."""
    if sqlstate == "58P01" and "extension control file" in msg:
        quoted = msg.split('"')[1] if msg.count('"') >= 2 else ""
        return Path(quoted).name.removesuffix(".control") or "?"
    if sqlstate == "0A000" and msg.startswith("extension") and "is not available" in msg:
        return msg.split('"')[1] if msg.count('"') >= 2 else "?"
    return None

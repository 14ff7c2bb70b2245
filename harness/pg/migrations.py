"""Ordered SQL: a migrations folder, then overlays, each file in its own transaction.

A folder's ``*.sql`` files apply in file-name order (Supabase's order:
timestamp or number prefixes); subfolders such as ``mutants/`` are not part
of it. Overlays -- a file, or a folder of files -- apply afterwards in the order
given: that is how an engineer swaps in a suspected bug or a candidate fix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import psycopg

from ..errors import HarnessError, MigrationError

__all__ = ["Migration", "collect", "apply", "checksums"]


@dataclass(frozen=True)
class Migration:
    path: Path
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def _read(path: Path) -> Migration:
    try:
        return Migration(path, path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise HarnessError(f"{path}: not a UTF-8 text file") from None


def _sql_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix == ".sql" and p.is_file()),
                  key=lambda p: p.name)


def collect(migrations: Path | None, overlays: Sequence[Path] = ()) -> list[Migration]:
    """The files to apply, in order; a clear error for anything missing."""
    files: list[Path] = []
    if migrations is not None:
        if not migrations.is_dir():
            raise HarnessError(f"migrations directory not found: {migrations}")
        found = _sql_files(migrations)
        if not found:
            raise HarnessError(f"no .sql files in migrations directory {migrations}")
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


def apply(conn: psycopg.Connection, migrations: Iterable[Migration]) -> None:
    """Apply each file as one implicit transaction; stop at the first failure.

    The whole file goes to the server as one simple-protocol query, so it is
    atomic and the error position points into the file.
    """
    for m in migrations:
        if not m.text.strip():
            continue
        try:
            conn.execute(m.text)
        except psycopg.Error as e:
            raise MigrationError(str(m.path), _line_of(m.text, e), _message(e)) from None


def _line_of(text: str, error: psycopg.Error) -> int | None:
    pos = error.diag.statement_position
    if not pos:
        return None
    # The server counts characters from 1.
    return text[: int(pos) - 1].count("\n") + 1


def _message(error: psycopg.Error) -> str:
    msg = error.diag.message_primary or str(error).strip().splitlines()[0]
    ctx = error.diag.context
    if ctx and "PL/pgSQL" in ctx:
        msg += f" ({ctx.strip().splitlines()[0]})"
    return msg

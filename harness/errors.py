"""Errors a user can cause. The CLI prints ``str(error)`` on one line, exits 2."""

from __future__ import annotations


class HarnessError(Exception):
    """A usage or setup problem: bad flag, missing binaries, broken migration.

    The message is the whole story in one line: what happened, and what to do.
    """


class SetupError(HarnessError):
    """The harness could not get a database ready (server, migrations)."""


class MigrationError(SetupError):
    """A migration file failed to apply: names the file, line and server message."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.pg_message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"migration failed at {where}: {message}")

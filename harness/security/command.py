"""``harness security``: migrate a scratch database, run the static and the
dynamic checks, print each finding with its fix; exit 1 when there are any."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import psycopg

from ..errors import HarnessError, SetupError
from ..pg.migrations import Migration, collect
from ..pg.prepare import migrated_database
from ..pg.server import ServerInfo, connect, open_server
from ..target import SESSION_PACK, Target
from .dynamic import dynamic_findings
from .findings import Finding, count_line, findings_doc
from .static import static_findings

__all__ = ["run_security", "add_arguments", "build_parser", "main"]

EXAMPLES = """\
examples:
  python -m harness security                                # the migrations as they are
  python -m harness security --overlay migrations/fixes/hardened_functions.sql
  python -m harness security --dsn postgresql://postgres@localhost/postgres --json

exit codes: 0 no findings, 1 findings, 2 usage or setup error
"""


def run_security(info: ServerInfo, files: Sequence[Migration], *,
                 target: Target = SESSION_PACK, dynamic: bool = True,
                 notes: list[str] | None = None) -> list[Finding]:
    """Apply ``files`` to a scratch database on ``info`` (dropped afterwards),
    then the static checks and, for the session-pack tables, the dynamic ones.
    Why a dynamic check could not run is appended to ``notes``."""
    functions = [o.function for o in target.operations]
    with migrated_database(info, files, target) as db, connect(info.dsn(db)) as conn:
        try:
            findings = static_findings(conn, functions)
            if dynamic:
                try:
                    findings += dynamic_findings(conn, target, functions, notes)
                except HarnessError as e:
                    if notes is None:
                        raise
                    notes.append(f"dynamic checks skipped: {e}")
        except psycopg.Error as e:
            raise SetupError(f"the security checks failed on the server: "
                             f"{e.diag.message_primary or e}") from None
    return findings


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``security`` subcommand's options, on ``parser`` (a subparser)."""
    parser.add_argument("--migrations", type=Path, default=None, metavar="DIR",
                        help="folder of .sql files applied in name order "
                             "(default: ./migrations)")
    parser.add_argument("--overlay", type=Path, action="append", default=[], metavar="PATH",
                        help="a .sql file or folder applied after the migrations, e.g. a "
                             "candidate fix (repeatable, in order)")
    parser.add_argument("--dsn", default=None,
                        help="an existing server (superuser) to make a scratch database on "
                             "(default: HARNESS_DSN, else a throwaway local cluster)")
    parser.add_argument("--backend", choices=("local", "docker"), default="local",
                        help="where a throwaway server comes from when there is no --dsn")
    parser.add_argument("--static-only", action="store_true",
                        help="only the catalog checks, no calls as anon / other users")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    return parser


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise HarnessError(f"security: {message}")


def build_parser() -> argparse.ArgumentParser:
    return add_arguments(_Parser(
        prog="harness security", description="who may call the functions, on whose data",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter))


def main(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """Run the checks for parsed ``args`` (or a list of arguments); print the
    findings; 1 when there are any, 0 when none. Usage and setup problems
    raise HarnessError (the CLI prints its one line, exit 2)."""
    if args is None or not isinstance(args, argparse.Namespace):
        args = build_parser().parse_args(list(args) if args is not None else sys.argv[1:])
    migrations = args.migrations
    if migrations is None:
        if not Path("migrations").is_dir():
            raise HarnessError("no ./migrations folder here: pass --migrations DIR")
        migrations = Path("migrations")
    files = collect(migrations, list(args.overlay or []))
    notes: list[str] = []
    functions = [o.function for o in SESSION_PACK.operations]
    with open_server(getattr(args, "backend", "local") or "local",
                     dsn=getattr(args, "dsn", None),
                     pg_bin=getattr(args, "pg_bin", None)) as info:
        findings = run_security(info, files, dynamic=not getattr(args, "static_only", False),
                                notes=notes)
    for note in notes:
        print(f"harness: note: {note}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps(findings_doc(findings), indent=2), flush=True)
    else:
        for f in findings:
            for line in f.lines():
                print(line)
        print(count_line(findings, len(functions)), flush=True)
    return 1 if findings else 0

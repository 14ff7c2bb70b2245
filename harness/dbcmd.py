"""``harness db up | down``: a database to poke at.

``up`` starts a throwaway server (local cluster by default), applies the
migrations and overlays and the harness schema, prints the DSN, and waits
until Ctrl-C, SIGTERM or ``harness db down``; then everything it started is
removed. ``down`` finds the running one through a state file (in
$XDG_RUNTIME_DIR, else the temp folder), sends it SIGTERM and waits until it
has cleaned up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

from .errors import HarnessError

__all__ = ["add_arguments", "main", "state_file", "down"]

EXAMPLES = """\
examples:
  python -m harness db up                                   # this project's migrations/
  python -m harness db up --migrations ~/app/supabase/migrations --continue-on-error
  python -m harness db up --overlay migrations/mutants/use_session_app_0010.sql
  python -m harness db down                                 # from another terminal
"""


def add_arguments(subparsers: Any) -> None:
    """``db up`` (with the database flags of ``stress``) and ``db down``."""
    from .cli import _database_options  # the same flags, the same database

    d = subparsers.add_parser(
        "db", help="a database to poke at: up (prints its DSN) and down",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    dsub = d.add_subparsers(dest="db_command", parser_class=type(d), required=True)
    up_ = dsub.add_parser(
        "up", help="start a server with the migrations applied, print its DSN, and wait",
        description="Start a throwaway server (or a scratch database on --dsn) with the\n"
        "migrations, overlays and the harness schema applied; print its DSN and a psql\n"
        "command; keep it until Ctrl-C, SIGTERM or `python -m harness db down`, then\n"
        "remove everything it started.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _database_options(up_)
    dsub.add_parser("down", help="stop the database `db up` started, and remove it")


def main(args: argparse.Namespace) -> int:
    if args.db_command == "down":
        return down()
    from .cli import _lab, _migrations_dir, _target

    target, workload_migrations = _target(args.workload)
    mdir = _migrations_dir(args.migrations, workload_migrations)
    with _claimed() as write_state, _lab(args, mdir, args.overlay, target) as (lab, info, sums):
        lab.runner.close()  # no workers: the database is the user's to poke at
        url = _url(lab.dsn)
        write_state(_url(lab.dsn, hide_password=True))
        print(f"harness db: {len(sums)} migration files on PostgreSQL {info.version} "
              f"({info.backend}), database {conninfo_to_dict(lab.dsn).get('dbname')}", flush=True)
        print(f"dsn:  {url}", flush=True)
        print(f"psql: {_psql()} '{url}'", flush=True)
        print("stop: python -m harness db down (or Ctrl-C)", flush=True)
        _wait_for_stop()
        print("harness db: stopping", flush=True)
    print("harness db: stopped; everything it started is removed", flush=True)
    return 0


def state_file() -> Path:
    """Where ``db down`` finds the running ``db up``: the user's runtime
    folder ($XDG_RUNTIME_DIR), else the temp folder."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(runtime) if runtime and Path(runtime).is_dir() else Path(tempfile.gettempdir())
    return folder / f"harness-db-{os.getuid()}.json"


@contextlib.contextmanager
def _claimed() -> Iterator[Any]:
    """Claim the state file before anything starts (one ``db up`` per user),
    and remove it at the end; yields a function that records the DSN."""
    path = state_file()
    with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
        other = json.loads(path.read_text())
        if _alive(int(other["pid"])):
            raise HarnessError(f"a database is already up (pid {other['pid']}, "
                               f"{other.get('dsn') or 'starting'}): "
                               "python -m harness db down first")
    pid = os.getpid()

    def write(dsn: str | None) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": pid, "dsn": dsn}, f)

    write(None)  # `db down` may stop it while it starts
    try:
        yield write
    finally:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads(path.read_text())["pid"] == pid:
                path.unlink()


def _wait_for_stop() -> None:
    """Until Ctrl-C, SIGTERM (``db down``) or SIGHUP (the terminal closed)."""
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def _url(conninfo: str, hide_password: bool = False) -> str:
    """``postgresql://user[:password]@host:port/dbname``: what apps and psql take."""
    p = conninfo_to_dict(conninfo)
    user = quote(str(p.get("user", "")), safe="")
    if p.get("password"):
        user += ":" + ("***" if hide_password else quote(str(p["password"]), safe=""))
    host = str(p.get("host", "localhost"))
    if host.startswith("/"):  # a socket folder goes in the query string
        rest = f"?host={quote(host, safe='')}"
        host = ""
    else:
        rest = ""
    port = f":{p['port']}" if p.get("port") else ""
    at = f"{user}@" if user else ""
    return f"postgresql://{at}{host}{port}/{quote(str(p.get('dbname', '')), safe='')}{rest}"


def _psql() -> str:
    if shutil.which("psql"):
        return "psql"
    from .pg.local import find_binaries

    with contextlib.suppress(HarnessError):
        exe = find_binaries().bindir / "psql"
        if exe.is_file():
            return str(exe)
    return "psql"


def down() -> int:
    path = state_file()
    try:
        state = json.loads(path.read_text())
        pid = int(state["pid"])
    except (FileNotFoundError, ValueError, KeyError, json.JSONDecodeError):
        raise HarnessError("no database is up (python -m harness db up starts one)") from None
    if not _alive(pid):
        path.unlink(missing_ok=True)
        raise HarnessError(f"no database is up: its process {pid} is gone (cleared its "
                           "state); python -m harness db up starts one")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        raise HarnessError(f"the database's process {pid} is gone; cleared its state") from None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not _alive(pid):
            print(f"harness db: stopped and removed ({state.get('dsn') or 'it was starting'})")
            return 0
        time.sleep(0.1)
    raise HarnessError(f"process {pid} did not stop within 30 s")


def _alive(pid: int) -> bool:
    """A harness process that is running, and not a zombie waiting for its
    parent to reap it (a recycled pid is not ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: the pid was recycled
    try:
        if b"harness" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return False
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True

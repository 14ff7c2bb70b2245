"""An ephemeral cluster from the machine's PostgreSQL binaries.

The cluster lives in a temporary directory, listens on 127.0.0.1 and a free
port, runs with durability off (its data is thrown away), and is removed when
the block ends -- also on Ctrl-C. The postmaster gets its own session, so a
terminal's Ctrl-C reaches only the harness, which then shuts it down; and a
parent-death signal, so a harness killed outright does not leave it running.

PostgreSQL refuses to run as root. As root (CI here), the cluster runs as the
``postgres`` user (or ``HARNESS_PG_USER``).

``initdb`` costs about a second; its output is cached per binary version under
``~/.cache/pg-harness`` and copied for each cluster.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg.conninfo import make_conninfo

from ..errors import SetupError
from .server import ServerInfo, server_version

__all__ = ["local_cluster", "find_binaries", "Binaries"]

_PREFIX = "harness-pg-"
_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
    "max_locks_per_transaction": "256",
    "deadlock_timeout": "100ms",  # the scheduler waits for deadlock detection
}


class Binaries:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.initdb = bindir / "initdb"
        self.postgres = bindir / "postgres"

    def version(self) -> str:
        # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18"
        out = subprocess.run([str(self.postgres), "--version"], capture_output=True, text=True)
        words = out.stdout.split()
        return words[2] if len(words) > 2 else "unknown"


def find_binaries(pg_bin: str | None = None) -> Binaries:
    """``--pg-bin``, then PATH, then ``pg_config --bindir``, then /usr/lib/postgresql/*/bin."""
    looked: list[str] = []

    def ok(d: Path) -> bool:
        return (d / "initdb").is_file() and (d / "postgres").is_file()

    if pg_bin:
        d = Path(pg_bin)
        if ok(d):
            return Binaries(d)
        raise SetupError(f"--pg-bin {pg_bin}: no initdb and postgres there")
    initdb = shutil.which("initdb")
    looked.append("PATH")
    if initdb:
        d = Path(os.path.realpath(initdb)).parent
        if ok(d):
            return Binaries(d)
    pg_config = shutil.which("pg_config")
    looked.append("pg_config --bindir")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        d = Path(out.stdout.strip())
        if out.returncode == 0 and ok(d):
            return Binaries(d)
    looked.append("/usr/lib/postgresql/*/bin")
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if ok(Path(cand)):
            return Binaries(Path(cand))
    raise SetupError(
        "no PostgreSQL server binaries (initdb, postgres) found; looked in "
        + ", ".join(looked)
        + ". Install them (apt-get install postgresql), pass --pg-bin DIR, "
        "or use --dsn DSN / --backend docker"
    )


def _version_key(path: str) -> tuple[int, ...]:
    part = Path(path).parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit())


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("HARNESS_PG_USER", "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise SetupError(
            f"PostgreSQL refuses to run as root and there is no user {name!r} to run it as: "
            "create one (useradd --system postgres), set HARNESS_PG_USER to another "
            "unprivileged user, run the harness as a non-root user, or pass --dsn DSN"
        ) from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child, after the uid change
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG: immediate shutdown


def _chown_tree(root: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for dirpath, dirnames, filenames in os.walk(root):
        os.chown(dirpath, user.pw_uid, user.pw_gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


def _cached_initdb(bins: Binaries, user: pwd.struct_passwd | None) -> Path:
    """A pristine data directory for these binaries, made once per machine."""
    stamp = f"{bins.initdb}:{os.stat(bins.initdb).st_mtime_ns}:{user.pw_uid if user else os.getuid()}"
    key = hashlib.sha256(stamp.encode()).hexdigest()[:12]
    base = Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "pg-harness"))
    cached = base / f"initdb-{bins.version()}-{key}"
    if (cached / "PG_VERSION").is_file():
        return cached
    base.mkdir(parents=True, exist_ok=True)
    # initdb runs in the temp dir: the server's user may not reach $HOME.
    work = Path(tempfile.mkdtemp(prefix=_PREFIX + "initdb-"))
    try:
        (work / "owner.pid").write_text(str(os.getpid()))
        os.chmod(work, 0o755)
        _chown_tree(work, user)
        out = subprocess.run(
            [str(bins.initdb), "-D", str(work / "data"), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--locale=C", "-N"],
            capture_output=True, text=True, user=user.pw_uid if user else None,
            group=user.pw_gid if user else None, cwd="/",
        )
        if out.returncode != 0:
            msg = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise SetupError(f"initdb failed: {msg}")
        staging = Path(tempfile.mkdtemp(prefix=".initdb-", dir=base))
        shutil.copytree(work / "data", staging / "data", symlinks=True)
        try:
            os.rename(staging / "data", cached)  # atomic: a concurrent worker may win
        except OSError:
            pass
        shutil.rmtree(staging, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return cached


def _remove_stale() -> None:
    """Remove clusters left by harness processes that were killed outright."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), _PREFIX + "*")):
        try:
            owner = int(Path(d, "owner.pid").read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError, ValueError, IndexError):
                # A server that outlived its harness (one restarted by a fault
                # has no parent-death signal): stop it first.
                pid = int(Path(d, "data", "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGQUIT)
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError):
            continue


@contextlib.contextmanager
def local_cluster(pg_bin: str | None = None) -> Iterator[ServerInfo]:
    bins = find_binaries(pg_bin)
    user = _run_as()
    _remove_stale()
    root = Path(tempfile.mkdtemp(prefix=_PREFIX))
    proc: subprocess.Popen[bytes] | None = None
    lock = threading.Lock()

    def restart() -> None:
        """A clean stop (unlogged tables survive it) and a start on the same port."""
        nonlocal proc
        with lock:
            assert proc is not None
            proc.send_signal(signal.SIGINT)  # fast shutdown: ends every session
            proc.wait(timeout=30)
            proc, _ = _start(bins, root, data, user, port)
            _wait_ready(proc, conninfo, root / "server.log")

    try:
        (root / "owner.pid").write_text(str(os.getpid()))
        os.chmod(root, 0o755)
        data = root / "data"
        shutil.copytree(_cached_initdb(bins, user), data, symlinks=True)
        os.chmod(data, 0o700)
        _chown_tree(root, user)
        proc, port = _start(bins, root, data, user)
        conninfo = make_conninfo(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                 client_encoding="utf8")
        _wait_ready(proc, conninfo, root / "server.log")
        yield ServerInfo(conninfo=conninfo, backend="local", version=server_version(conninfo),
                         restart=restart)
    finally:
        with lock:
            if proc is not None:
                _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _start(
    bins: Binaries, root: Path, data: Path, user: pwd.struct_passwd | None,
    port: int | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    fixed = port
    for attempt in range(5):
        port = fixed or _free_port()
        args = [str(bins.postgres), "-D", str(data), "-p", str(port), "-k", str(root)]
        for k, v in _SERVER_SETTINGS.items():
            args += ["-c", f"{k}={v}"]
        log = open(root / "server.log", "ab")
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            user=user.pw_uid if user else None, group=user.pw_gid if user else None,
            extra_groups=[] if user else None, start_new_session=True,
            # The parent-death signal follows the thread that forks: only the
            # main thread lives as long as the harness.
            preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread()
            else None, cwd="/",
        )
        log.close()
        # A port taken between our probe and the server's bind makes it exit at once.
        try:
            proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            return proc, port
        if "could not bind" not in (root / "server.log").read_text(errors="replace"):
            break
    raise SetupError(f"postgres did not start: {_log_tail(root / 'server.log')}")


def _wait_ready(proc: subprocess.Popen[bytes], conninfo: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise SetupError(f"postgres exited during start-up: {_log_tail(log)}")
        try:
            psycopg.connect(conninfo, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise SetupError(f"postgres not ready after 30 s: {_log_tail(log)}") from None
            time.sleep(0.01)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # SIGQUIT is an immediate shutdown: nothing here needs to survive.
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _log_tail(log: Path) -> str:
    try:
        lines = [l for l in log.read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return "(no server log)"
    return lines[-1] if lines else "(empty server log)"

"""`harness db up` gives a database to poke at; `db down` removes it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from .test_cli import ROOT, harness, one_line_error, our_clusters


def _up(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``db up`` in the background, once it has printed its four lines."""
    proc = subprocess.Popen([sys.executable, "-m", "harness", "db", "up", *args], cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **env})
    assert proc.stdout is not None
    lines = {}
    for _ in range(4):
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        key, _, value = line.partition(":")
        lines[key] = value.strip()
    return proc, lines


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    """Each test its own state file: `db down` must find only its own `db up`."""
    return {"XDG_RUNTIME_DIR": str(tmp_path)}


def test_up_serves_the_migrations_and_down_removes_everything(state: dict[str, str]) -> None:
    proc, lines = _up(state)
    try:
        dsn = lines["dsn"]
        assert dsn.startswith("postgresql://") and lines["psql"].endswith(f"'{dsn}'")
        with psycopg.connect(dsn) as conn:
            assert conn.execute(
                "select to_regprocedure('public.release_session(uuid)') is not null, "
                "to_regprocedure('public.use_session(uuid)') is not null"
            ).fetchone() == (True, True)
        assert our_clusters(proc.pid)
        assert any(Path(state["XDG_RUNTIME_DIR"]).glob("harness-db-*.json"))
        one_line_error(harness("db", "up", env=state), "a database is already up")
        down = harness("db", "down", env=state)
        assert down.returncode == 0, down.stderr
        assert "stopped and removed" in down.stdout
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert our_clusters(proc.pid) == []
    assert not any(Path(state["XDG_RUNTIME_DIR"]).glob("harness-db-*.json"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_it_and_removes_the_cluster(state: dict[str, str], sig: int,
                                                    tmp_path: Path) -> None:
    overlay = tmp_path / "extra.sql"
    overlay.write_text("create table public.poke (id int);\n")
    proc, lines = _up(state, "--overlay", str(overlay))
    try:
        with psycopg.connect(lines["dsn"]) as conn:
            assert conn.execute("select to_regclass('public.poke') is not null").fetchone() == (True,)
        cluster = our_clusters(proc.pid)
        assert cluster
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "everything it started is removed" in out
    assert not Path(cluster[0]).exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(lines["dsn"], connect_timeout=2)
    p = harness("db", "down", env=state)
    assert p.returncode == 2 and "no database is up" in p.stderr


def test_down_with_nothing_up_is_a_usage_error(state: dict[str, str]) -> None:
    one_line_error(harness("db", "down", env=state), "no database is up")


def test_a_stale_state_file_is_not_a_database(state: dict[str, str]) -> None:
    # Left by a `db up` killed outright: its process is gone.
    gone = subprocess.Popen(["true"])
    gone.wait()
    (Path(state["XDG_RUNTIME_DIR"]) / f"harness-db-{os.getuid()}.json").write_text(
        f'{{"pid": {gone.pid}, "dsn": "postgresql://x@127.0.0.1:1/gone"}}')
    one_line_error(harness("db", "down", env=state), "no database is up")

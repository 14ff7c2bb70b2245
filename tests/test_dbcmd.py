"""`harness db up` gives a database to poke at; `db down` removes it all."""

from __future__ import annotations

import subprocess
import sys

import psycopg

from .test_cli import ROOT, harness, our_clusters


def test_up_serves_the_migrations_and_down_removes_everything() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "harness", "db", "up"], cwd=ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        dsn = next(l for l in lines if l.startswith("dsn:"))[5:].strip()
        with psycopg.connect(dsn) as conn:
            assert conn.execute(
                "select to_regprocedure('public.release_session(uuid)') is not null"
            ).fetchone() == (True,)
        assert our_clusters(proc.pid)
        down = harness("db", "down")
        assert down.returncode == 0, down.stderr
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert our_clusters(proc.pid) == []


def test_down_with_nothing_up_is_a_usage_error() -> None:
    p = harness("db", "down")
    assert p.returncode == 2 and "no database is up" in p.stderr

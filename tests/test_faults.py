"""Faults: the proxy forwards, cuts and stalls; a run with every fault kind on
passes on correct functions (no false violation) and still catches a bug."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from harness.faults import Proxy
from harness.pg.server import open_server

from .test_cli import harness


@pytest.fixture(scope="module")
def server():
    with open_server() as info:
        yield info


def through(proxy: Proxy, dsn: str) -> psycopg.Connection:
    return psycopg.connect(make_conninfo(dsn, host="127.0.0.1", port=proxy.port), autocommit=True)


def local_port(conn: psycopg.Connection) -> int:
    import socket

    with socket.fromfd(conn.pgconn.socket, socket.AF_INET, socket.SOCK_STREAM) as so:
        return int(so.getsockname()[1])


def upstream(dsn: str) -> tuple[str, int]:
    p = conninfo_to_dict(dsn)
    return str(p["host"]), int(p["port"])


def test_proxy_forwards_and_cuts(server) -> None:
    with Proxy(upstream(server.dsn())) as proxy:
        conn = through(proxy, server.dsn())
        assert conn.execute("select 41 + 1").fetchone() == (42,)
        proxy.cut(local_port(conn))
        with pytest.raises(psycopg.OperationalError):
            conn.execute("select 1")
        other = through(proxy, server.dsn())  # the proxy itself goes on
        assert other.execute("select 1").fetchone() == (1,)
        other.close()


def test_proxy_stalls_without_breaking(server) -> None:
    with Proxy(upstream(server.dsn())) as proxy:
        conn = through(proxy, server.dsn())
        proxy.stall(local_port(conn), 0.2)
        started = time.monotonic()
        assert conn.execute("select 1").fetchone() == (1,)
        assert time.monotonic() - started >= 0.15  # held, then delivered
        conn.close()


def test_correct_functions_pass_under_every_fault(tmp_path: Path) -> None:
    p = harness("stress", "--faults", "all", "--time-budget", "15", "--seed", "3",
                "--report-dir", str(tmp_path), "--json")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    faults = json.loads(p.stdout)["faults"]
    assert faults["injected"] > 0 and faults["calls_ending_unknown"] > 0, faults


@pytest.mark.parametrize("mutant", ["use_session_app_0010", "release_read_then_write"])
def test_mutants_are_still_caught_under_faults(tmp_path: Path, mutant: str) -> None:
    p = harness("stress", "--faults", "all", "--time-budget", "30", "--shrink-budget", "5",
                "--overlay", f"migrations/mutants/{mutant}.sql", "--report-dir", str(tmp_path))
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr


def test_faults_need_the_free_running_executor() -> None:
    p = harness("stress", "--faults", "terminate", "--mode", "schedule")
    assert p.returncode == 2 and "--mode free" in p.stderr
